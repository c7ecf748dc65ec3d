"""Every failure is an OperationOutcome with the status R4 prescribes (the FhirResponse wrapper
in conftest already fails any >= 400 answer that is not a valid OperationOutcome), with an
issue code, a diagnostic, and an expression pointing at the bad element; never a 500."""

import json

import pytest

from conftest import FHIR_JSON, FhirClient, new_tag
from samples import patient, with_demographics


def issue(response):
    first = response.body["issue"][0]
    assert first["severity"] in ("error", "fatal")
    assert first.get("diagnostics") or first.get("details", {}).get("text"), "a human-readable diagnostic"
    return first


def post_raw(fhir, path, data, content_type=FHIR_JSON, method="POST"):
    return fhir.request(method, path, data=data, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceType": "Patient",',
        b"not json at all",
        b"",
        b"[]",
        b'"Patient"',
        b'{"resourceType": "Patient", "gender": "female", "gender": "male"}',
        b'\xff\xfe{"resourceType": "Patient"}',
        b'{"gender": "female"}',
    ],
    ids=["truncated", "text", "empty", "array", "string", "duplicate-key", "bad-utf8", "no-resourceType"],
)
def test_malformed_body_is_400(fhir, body):
    response = post_raw(fhir, "Patient", body)
    assert response.status == 400, repr(response)
    assert issue(response)["code"] in ("structure", "invalid", "required", "value")


def test_resource_type_not_matching_url_is_400(fhir):
    response = fhir.post("Patient", {"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    assert response.status == 400, repr(response)
    issue(response)


def test_put_id_mismatch_and_missing_id_are_400(fhir):
    rid = "err-" + new_tag()
    response = fhir.put(f"Patient/{rid}", dict(patient(new_tag()), id="another-id"))
    assert response.status == 400, repr(response)
    issue(response)
    response = fhir.put(f"Patient/{rid}", patient(new_tag()))
    assert response.status == 400, f"R4: a PUT body SHALL carry the id of the URL: {response!r}"
    fhir.get(f"Patient/{rid}").expect(404)


def test_invalid_id_in_url_is_400(fhir):
    too_long = "x" * 65
    response = fhir.put(f"Patient/{too_long}", dict(patient(new_tag()), id=too_long))
    assert response.status == 400, repr(response)
    response = fhir.put("Patient/bad_id!", dict(patient(new_tag()), id="bad_id!"))
    assert response.status == 400, repr(response)


@pytest.mark.parametrize(
    "change, expression",
    [
        ({"favouriteColour": "blue"}, "Patient.favouriteColour"),
        ({"gender": "mujer"}, "Patient.gender"),
        ({"birthDate": "17/05/1980"}, "Patient.birthDate"),
        ({"birthDate": "1980-02-30"}, "Patient.birthDate"),
        ({"gender": ["female"]}, "Patient.gender"),
        ({"name": {"family": "Gómez"}}, "Patient.name"),
        ({"active": "yes"}, "Patient.active"),
        ({"deceasedString": "sí"}, "Patient.deceased"),
        ({"deceasedBoolean": False, "deceasedDateTime": "2020-01-01"}, "Patient.deceased"),
        ({"multipleBirthInteger": 1.5}, "Patient.multipleBirth"),
        ({"telecom": [{"system": "pager-ish", "value": "1"}]}, "Patient.telecom[0].system"),
        ({"name": [{"family": ""}]}, "Patient.name[0].family"),
        ({"generalPractitioner": [{"reference": 5}]}, "Patient.generalPractitioner[0].reference"),
        ({"contained": [{"resourceType": "NotAType"}]}, "Patient.contained[0]"),
        ({"meta": {"lastUpdated": "yesterday"}}, "Patient.meta.lastUpdated"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else None,
)
def test_invalid_content_names_the_element(fhir, change, expression):
    sent = dict(patient(new_tag()), **change)
    response = fhir.post("Patient", sent)
    assert response.status in (400, 422), repr(response)
    found = [e for i in response.body["issue"] for e in i.get("expression", [])]
    assert any(e == expression or e.startswith(expression) for e in found), f"expected {expression}: {found}"


def test_unknown_type_and_id_are_404(fhir):
    assert issue(fhir.get("NotAResourceType").expect(404))["code"] in ("not-supported", "not-found")
    fhir.post("NotAResourceType", {"resourceType": "NotAResourceType"}).expect(404)
    fhir.get("NotAResourceType/1").expect(404)
    assert issue(fhir.get("Patient/unknown-id-123").expect(404))["code"] == "not-found"
    fhir.get("Patient/unknown-id-123/_history/1").expect(404)
    fhir.get("no/such/endpoint/at/all").expect(404)


def test_method_not_allowed_is_405(fhir):
    created = fhir.create(patient(new_tag()))
    for method, path in (
        ("DELETE", "metadata"),
        ("PUT", "metadata"),
        ("PATCH", "metadata"),  # PATCH is for resources (see test_fhirpy); not for metadata
        ("POST", f"Patient/{created['id']}/_history/1"),
        ("DELETE", f"Patient/{created['id']}/_history/1"),
    ):
        response = fhir.request(method, path, data=b"{}", headers={"Content-Type": FHIR_JSON})
        assert response.status == 405, repr(response)
        issue(response)


def test_gone_is_410(fhir):
    created = fhir.create(patient(new_tag()))
    fhir.delete(f"Patient/{created['id']}")
    assert issue(fhir.get(f"Patient/{created['id']}").expect(410))["code"] in ("deleted", "not-found")


def test_version_conflict_is_412(fhir):
    created = fhir.create(patient(new_tag()))
    rid = created["id"]
    fhir.put(f"Patient/{rid}", with_demographics(created, gender="male")).expect(200)
    response = fhir.put(f"Patient/{rid}", with_demographics(created, gender="other"), headers={"If-Match": 'W/"1"'})
    response.expect(412)
    assert issue(response)["code"] in ("conflict", "business-rule", "processing")
    response = fhir.put(f"Patient/{rid}", with_demographics(created, gender="other"), headers={"If-Match": "garbage"})
    assert response.status in (400, 412), repr(response)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/fhir+xml", "multipart/form-data"])
def test_unsupported_media_type_is_415(fhir, content_type):
    response = post_raw(fhir, "Patient", json.dumps(patient(new_tag())).encode(), content_type=content_type)
    assert response.status == 415, repr(response)
    issue(response)


def test_xml_is_not_acceptable(fhir):
    # _format overrides Accept; a format the server cannot produce is 406 Not Acceptable.
    response = fhir.get("metadata", params={"_format": "xml"})
    assert response.status == 406, repr(response)
    issue(response)
    response = fhir.get("metadata", headers={"Accept": "application/fhir+xml"})
    assert response.status in (200, 406), repr(response)


def test_json_content_type_variants_accepted(fhir):
    for content_type in ("application/json", "application/fhir+json; charset=utf-8", "application/json; charset=utf-8"):
        # A new patient each time: two active patients may not share a CURP (409).
        body = json.dumps(patient(new_tag())).encode()
        response = post_raw(fhir, "Patient", body, content_type=content_type)
        assert response.status == 201, f"{content_type}: {response!r}"


def test_body_too_large_is_413(start_node):
    limited = FhirClient(start_node("--body-limit-bytes", "2000").base)
    small = patient(new_tag())
    limited.post("Patient", small).expect(201)
    big = dict(patient(new_tag()), text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + "x" * 5000 + "</div>"})
    response = limited.post("Patient", big)
    assert response.status == 413, repr(response)
    issue(response)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": big, "request": {"method": "POST", "url": "Patient"}}]}
    assert limited.post("", bundle).status == 413
    # Still healthy afterwards.
    limited.get("metadata").expect(200)


@pytest.mark.parametrize(
    "query",
    [
        {"_count": "-1"},
        {"_count": "abc"},
        {"birthdate": "not-a-date"},
        {"birthdate": "zz1980"},
        {"_sort": "no-such-param"},
        {"value-quantity": "abc"},
        {"_include": "Nope:nope"},
        {"subject:Patient.identifier": ""},
        {"_elements": ",,,"},
        {"_summary": "maybe"},
    ],
    ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()),
)
def test_bad_search_input_is_a_4xx_or_a_lenient_200_never_500(fhir, query):
    resource_type = "Observation" if "value-quantity" in query or "subject:Patient.identifier" in query else "Patient"
    response = fhir.get(resource_type, params=query)
    assert response.status in (200, 400), repr(response)
    strict = fhir.get(resource_type, params=query, headers={"Prefer": "handling=strict"})
    assert strict.status in (200, 400), repr(strict)


def test_hostile_bodies_never_500(fhir):
    deep = '{"resourceType":"Patient","extension":[' + '{"url":"http://x","extension":[' * 2000 + "]}" * 2000 + "]}"
    cases = [
        deep.encode(),
        b'{"resourceType":"Patient","birthDate":"' + b"9" * 100000 + b'"}',
        b'{"resourceType":"Patient","name":[null]}',
        b'{"resourceType":"Patient","gender":null}',
        b'{"resourceType":"Patient","id":"a","meta":{"versionId":5}}',
    ]
    for body in cases:
        resource_type = "Observation" if body.startswith(b'{"resourceType":"Observation"') else "Patient"
        response = post_raw(fhir, resource_type, body)
        assert 400 <= response.status < 500, repr(response)[:500]
    fhir.get("metadata").expect(200)


def test_decimal_beyond_double_range_is_rejected_or_kept_verbatim(fhir):
    """R4's decimal grammar allows exponents, so 1e999999 may be accepted, but then it must come
    back as written (a double would turn it into infinity, which no FHIR client can parse)."""
    body = b'{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e999999}}'
    response = fhir.session.post(f"{fhir.base}/Observation", data=body, headers={"Content-Type": FHIR_JSON})
    if response.status_code == 201:
        read = fhir.session.get(f"{fhir.base}/Observation/{response.json()['id']}")
        assert '"value":1e999999' in read.text.replace(" ", ""), read.text
    else:
        assert response.status_code in (400, 422), response.text
        assert response.json()["resourceType"] == "OperationOutcome"
