"""An integrator's everyday client: `fhirpy` (a widely used Python FHIR client) creates,
reads, patches and searches through its own API, against a real node."""

import fhirpy
import pytest

from conftest import TOKENS, new_tag
from samples import TAG_SYSTEM


@pytest.fixture(scope="module")
def client(node):
    return fhirpy.SyncFHIRClient(node.base, authorization=f"Bearer {TOKENS[node.base.rstrip('/')]}")


def test_fhirpy_patch_changes_only_the_named_elements(client):
    tag = new_tag()
    patient = client.resource(
        "Patient",
        meta={"tag": [{"system": TAG_SYSTEM, "code": tag}]},
        name=[{"family": "Ramírez Soto", "given": ["Lucía"]}],
        gender="female",
        birthDate="1991-02-03",
    )
    patient.save()
    assert patient.id and patient["meta"]["versionId"] == "1"

    # `patch` sends the named elements as a partial resource (a merge patch).
    patient.patch(telecom=[{"system": "phone", "value": "5550001111"}], active=True)
    stored = client.reference("Patient", patient.id).to_resource()
    assert stored["meta"]["versionId"] == "2"
    assert stored["telecom"] == [{"system": "phone", "value": "5550001111"}]
    assert stored["active"] is True
    assert stored["name"][0]["family"] == "Ramírez Soto", "untouched elements stay"

    found = client.resources("Patient").search(_tag=f"{TAG_SYSTEM}|{tag}").fetch_all()
    assert [p.id for p in found] == [patient.id]

    # A patch the record cannot take (an invalid gender code) is refused with an
    # OperationOutcome and changes nothing.
    with pytest.raises(fhirpy.base.exceptions.OperationOutcome):
        client.patch("Patient", patient.id, gender="feminine")
    assert client.reference("Patient", patient.id).to_resource()["meta"]["versionId"] == "2"
