"""FHIR Bulk Data $export (Bulk Data Access IG v2) as an outside client drives it: kick-off with
`Prefer: respond-async`, poll the status URL honouring `Retry-After`, read the manifest, fetch
each NDJSON file with the same bearer token, and check every line is an R4 resource of the
file's type and the counts match a search."""

import json
import time

import requests

from conftest import new_tag
from fhir_models import validate
from samples import TAG_SYSTEM, patient

POLL_WAIT_CAP_S = 1.0
POLL_DEADLINE_S = 60


def tagged(resource, tag):
    return dict(resource, meta={"tag": [{"system": TAG_SYSTEM, "code": tag}]})


def kick_off(fhir, path, headers=None):
    sent = {"Accept": "application/fhir+json", "Prefer": "respond-async"}
    sent.update(headers or {})
    return fhir.session.get(fhir.url(path), headers=sent, timeout=60)


def wait_for_manifest(fhir, status_url):
    deadline = time.monotonic() + POLL_DEADLINE_S
    while time.monotonic() < deadline:
        answer = fhir.session.get(status_url, timeout=60)
        if answer.status_code == 200:
            assert answer.headers["Content-Type"].startswith("application/json")
            return answer.json()
        assert answer.status_code == 202, answer.text
        assert "X-Progress" in answer.headers
        time.sleep(min(float(answer.headers.get("Retry-After", "1")), POLL_WAIT_CAP_S))
    raise AssertionError("the export did not complete in time")


def test_system_export_with_type_and_since(fhir):
    tag = new_tag()
    created = fhir.create(patient(tag, family="Exportación", given=("Bulk",)))
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": f"Patient/{created['id']}"},
        "valueQuantity": {"value": 70.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
    }
    fhir.create(tagged(obs, tag))

    answer = kick_off(fhir, "$export?_type=Patient,Observation&_outputFormat=application/fhir%2Bndjson")
    assert answer.status_code == 202, answer.text
    manifest = wait_for_manifest(fhir, answer.headers["Content-Location"])
    assert manifest["requiresAccessToken"] is True
    assert manifest["transactionTime"]
    assert "$export" in manifest["request"]
    types = sorted(item["type"] for item in manifest["output"])
    assert types == ["Observation", "Patient"]
    for item in manifest["output"]:
        # The files need the token too.
        assert requests.get(item["url"], timeout=60).status_code == 401
        got = fhir.session.get(item["url"], headers={"Accept": "application/fhir+ndjson"}, timeout=60)
        assert got.status_code == 200
        assert got.headers["Content-Type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in got.text.splitlines()]
        for resource in lines:
            assert resource["resourceType"] == item["type"]
            validate(resource)
        assert len(lines) == item["count"]
        assert sorted(r["id"] for r in lines) == fhir.ids(item["type"])

    # `_since` the transactionTime: nothing older comes back.
    since = manifest["transactionTime"]
    later = kick_off(fhir, f"$export?_type=Patient&_since={requests.utils.quote(since)}")
    assert later.status_code == 202, later.text
    nothing = wait_for_manifest(fhir, later.headers["Content-Location"])
    assert nothing["output"] == []

    # Cancelled: 202, then the status URL is gone.
    status_url = later.headers["Content-Location"]
    assert fhir.session.delete(status_url, timeout=60).status_code == 202
    assert fhir.session.get(status_url, timeout=60).status_code == 404


def test_kick_off_refusals_are_operation_outcomes(fhir):
    no_prefer = fhir.get("$export")
    no_prefer.expect(400)
    assert no_prefer.resource_type == "OperationOutcome"
    bad_format = kick_off(fhir, "$export?_outputFormat=application/json")
    assert bad_format.status_code == 400
    outcome = bad_format.json()
    validate(outcome)
    assert outcome["resourceType"] == "OperationOutcome"
