"""An integrator's everyday client: `fhirpy` (a widely used Python FHIR client) creates,
reads, patches and searches through its own API, against a real node."""

import base64
import json

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


def fhirpath_operation(kind, path, *parts):
    return {
        "name": "operation",
        "part": [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}, *parts],
    }


def test_fhirpy_sends_a_fhirpath_patch(client):
    """fhirpy has no FHIRPath Patch helper; its `execute` sends the Parameters as JSON, which
    the node reads as a FHIRPath Patch (a merge patch cannot make a resource a Parameters)."""
    tag = new_tag()
    patient = client.resource(
        "Patient",
        meta={"tag": [{"system": TAG_SYSTEM, "code": tag}]},
        name=[{"family": "Ortega", "given": ["Raúl"]}],
        telecom=[{"system": "phone", "value": "5550001111"}, {"system": "email", "value": "raul@example.mx"}],
        gender="male",
    )
    patient.save()
    patch = {
        "resourceType": "Parameters",
        "parameter": [
            fhirpath_operation(
                "replace",
                "Patient.telecom.where(system = 'phone').value",
                {"name": "value", "valueString": "5552223333"},
            ),
            fhirpath_operation("delete", "Patient.telecom.where(system = 'email')"),
            fhirpath_operation(
                "add", "Patient", {"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "1975-05-06"}
            ),
        ],
    }
    patched = client.execute(f"Patient/{patient.id}", method="patch", data=patch)
    assert patched["meta"]["versionId"] == "2"
    stored = client.reference("Patient", patient.id).to_resource()
    assert stored["telecom"] == [{"system": "phone", "value": "5552223333"}]
    assert stored["birthDate"] == "1975-05-06"
    assert stored["name"][0]["family"] == "Ortega"

    # A path outside the supported FHIRPath subset is refused whole, with an OperationOutcome.
    unsupported = {
        "resourceType": "Parameters",
        "parameter": [
            fhirpath_operation("replace", "Patient.gender", {"name": "value", "valueCode": "female"}),
            fhirpath_operation("delete", "Patient.name.select(given)"),
        ],
    }
    with pytest.raises(fhirpy.base.exceptions.OperationOutcome):
        client.execute(f"Patient/{patient.id}", method="patch", data=unsupported)
    assert client.reference("Patient", patient.id).to_resource()["gender"] == "male"


def test_fhirpy_sends_patches_in_a_transaction(client):
    tag = new_tag()
    ids = []
    for given in ("Elena", "Mario"):
        patient = client.resource(
            "Patient",
            meta={"tag": [{"system": TAG_SYSTEM, "code": tag}]},
            name=[{"family": "Núñez", "given": [given]}],
            gender="female" if given == "Elena" else "male",
        )
        patient.save()
        ids.append(patient.id)
    json_patch = json.dumps([{"op": "add", "path": "/active", "value": True}]).encode()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/json-patch+json",
                    "data": base64.b64encode(json_patch).decode(),
                },
                "request": {"method": "PATCH", "url": f"Patient/{ids[0]}"},
            },
            {
                "resource": {
                    "resourceType": "Parameters",
                    "parameter": [
                        fhirpath_operation(
                            "replace", "Patient.name.first().family", {"name": "value", "valueString": "Núñez Díaz"}
                        )
                    ],
                },
                "request": {"method": "PATCH", "url": f"Patient/{ids[1]}", "ifMatch": 'W/"1"'},
            },
        ],
    }
    response = client.execute("", method="post", data=bundle)
    assert response["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["200 OK", "200 OK"]
    assert client.reference("Patient", ids[0]).to_resource()["active"] is True
    assert client.reference("Patient", ids[1]).to_resource()["name"][0]["family"] == "Núñez Díaz"

    # The same transaction again: the second entry's ifMatch is now stale, so nothing of it
    # is written, the first entry included.
    with pytest.raises(fhirpy.base.exceptions.MultipleResourcesFound):  # fhirpy's name for 412
        client.execute("", method="post", data=bundle)
    assert client.reference("Patient", ids[0]).to_resource()["meta"]["versionId"] == "2"
