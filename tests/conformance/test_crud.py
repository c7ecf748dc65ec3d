"""Instance interactions as the R4 RESTful API page specifies them: create, read, vread,
update (If-Match, update-as-create, conditional), delete (410 afterwards, conditional),
and lossless storage of what the client sent."""

import json
import re
from email.utils import parsedate_to_datetime
from datetime import datetime

from conftest import FHIR_JSON, new_tag
from samples import CURP_SYSTEM, TAG_SYSTEM, patient, with_demographics


def without_meta(resource):
    return {k: v for k, v in resource.items() if k not in ("meta", "id")}


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_create_returns_201_location_etag_and_meta(fhir):
    sent = patient(new_tag(), family="Pérez", given=("María", "José"))
    sent["id"] = "client-chosen-id-is-ignored"
    response = fhir.post("Patient", sent).expect(201)
    body = response.body
    assert body["resourceType"] == "Patient"
    rid = body["id"]
    assert rid != "client-chosen-id-is-ignored", "R4 create: the server SHALL ignore a client id"
    assert re.fullmatch(r"[A-Za-z0-9\-\.]{1,64}", rid)
    assert body["meta"]["versionId"] == "1"
    last_updated = instant(body["meta"]["lastUpdated"])
    assert response.headers["Location"] == f"{fhir.base}/Patient/{rid}/_history/1"
    assert response.headers["ETag"] == 'W/"1"'
    assert parsedate_to_datetime(response.headers["Last-Modified"]).timestamp() == int(last_updated.timestamp())
    sent.pop("id")
    assert without_meta(body) == without_meta(sent)
    assert body["meta"]["tag"] == sent["meta"]["tag"], "client meta.tag kept"


def test_create_prefer_return_minimal_and_operation_outcome(fhir):
    minimal = fhir.post("Patient", patient(new_tag()), headers={"Prefer": "return=minimal"}).expect(201)
    assert minimal.body is None, "Prefer: return=minimal -> no body"
    assert "/Patient/" in minimal.headers["Location"]
    outcome = fhir.post("Patient", patient(new_tag()), headers={"Prefer": "return=OperationOutcome"}).expect(201)
    assert outcome.resource_type == "OperationOutcome"


def test_read_and_vread(fhir):
    created = fhir.create(patient(new_tag()))
    rid = created["id"]
    read = fhir.get(f"Patient/{rid}").expect(200)
    assert read.body == created
    assert read.headers["ETag"] == 'W/"1"'
    assert "Last-Modified" in read.headers
    assert read.headers["Content-Type"].startswith(FHIR_JSON)

    changed = with_demographics(created, gender="other")
    fhir.put(f"Patient/{rid}", changed).expect(200)
    v1 = fhir.get(f"Patient/{rid}/_history/1").expect(200)
    v2 = fhir.get(f"Patient/{rid}/_history/2").expect(200)
    assert v1.body["gender"] == "female" and v1.body["meta"]["versionId"] == "1"
    assert v2.body["gender"] == "other" and v2.body["meta"]["versionId"] == "2"
    assert v1.headers["ETag"] == 'W/"1"' and v2.headers["ETag"] == 'W/"2"'
    fhir.get(f"Patient/{rid}/_history/3").expect(404)
    fhir.get("Patient/no-such-patient-id").expect(404)


def test_update_with_if_match(fhir):
    created = fhir.create(patient(new_tag()))
    rid = created["id"]
    first = with_demographics(created, birthDate="1981-01-01")
    ok = fhir.put(f"Patient/{rid}", first, headers={"If-Match": 'W/"1"'}).expect(200)
    assert ok.body["meta"]["versionId"] == "2"
    assert ok.headers["ETag"] == 'W/"2"'
    assert instant(ok.body["meta"]["lastUpdated"]) >= instant(created["meta"]["lastUpdated"])
    assert ok.body["birthDate"] == "1981-01-01"

    stale = fhir.put(f"Patient/{rid}", with_demographics(created, birthDate="1999-09-09"), headers={"If-Match": 'W/"1"'})
    stale.expect(412)
    assert stale.body["issue"][0]["severity"] in ("error", "fatal")
    current = fhir.get(f"Patient/{rid}").expect(200).body
    assert current["birthDate"] == "1981-01-01" and current["meta"]["versionId"] == "2", "412 must not write"

    # Without If-Match an update is allowed (no version-aware updates required).
    fhir.put(f"Patient/{rid}", with_demographics(current, birthDate="1982-02-02")).expect(200)


def test_update_as_create_with_client_id(fhir):
    rid = "mx-" + new_tag()
    sent = dict(patient(new_tag()), id=rid)
    response = fhir.put(f"Patient/{rid}", sent).expect(201)
    assert response.body["id"] == rid and response.body["meta"]["versionId"] == "1"
    assert response.headers["Location"] == f"{fhir.base}/Patient/{rid}/_history/1"
    assert response.headers["ETag"] == 'W/"1"'
    assert fhir.get(f"Patient/{rid}").expect(200).body["id"] == rid


def test_conditional_create_if_none_exist(fhir):
    tag = new_tag()
    sent = patient(tag)
    curp = sent["identifier"][0]["value"]
    query = f"identifier={CURP_SYSTEM}|{curp}"
    first = fhir.post("Patient", sent, headers={"If-None-Exist": query}).expect(201)
    again = fhir.post("Patient", sent, headers={"If-None-Exist": query})
    assert again.status == 200, f"one match -> 200 and no new resource: {again!r}"
    assert fhir.ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"}) == [first.body["id"]]

    # Two matches -> 412 Precondition Failed.
    fhir.create(patient(tag))
    both = fhir.post("Patient", patient(tag), headers={"If-None-Exist": f"_tag={TAG_SYSTEM}|{tag}"})
    both.expect(412)
    assert len(fhir.ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"})) == 2


def test_conditional_update(fhir):
    tag = new_tag()
    sent = patient(tag)
    curp = sent["identifier"][0]["value"]
    url = f"Patient?identifier={CURP_SYSTEM}|{curp}"
    created = fhir.put(url, sent).expect(201).body
    updated = fhir.put(url, with_demographics(sent, gender="male")).expect(200).body
    assert updated["id"] == created["id"] and updated["meta"]["versionId"] == "2"
    assert updated["gender"] == "male"


def test_delete_then_gone_and_history_kept(fhir):
    created = fhir.create(patient(new_tag()))
    rid = created["id"]
    deleted = fhir.delete(f"Patient/{rid}")
    assert deleted.status in (200, 204), repr(deleted)
    gone = fhir.get(f"Patient/{rid}").expect(410)
    assert gone.body["issue"][0]["code"] in ("deleted", "not-found")
    # Deletes are logical: the old version stays readable.
    assert fhir.get(f"Patient/{rid}/_history/1").expect(200).body["id"] == rid
    history = fhir.get(f"Patient/{rid}/_history").expect(200).body
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert "resource" not in history["entry"][0]
    # Deleting again is idempotent (200/204), and a deleted resource is not found by search.
    assert fhir.delete(f"Patient/{rid}").status in (200, 204)
    assert fhir.search("Patient", {"_id": rid}).entries() == []
    # Update after delete brings it back as a new version.
    revived = fhir.put(f"Patient/{rid}", dict(created)).expect(201).body
    assert int(revived["meta"]["versionId"]) == 3
    assert fhir.get(f"Patient/{rid}").status == 200


def test_conditional_delete(fhir):
    tag = new_tag()
    created = fhir.create(patient(tag))
    response = fhir.delete("Patient", params={"_tag": f"{TAG_SYSTEM}|{tag}"})
    assert response.status in (200, 204), repr(response)
    fhir.get(f"Patient/{created['id']}").expect(410)


def test_lossless_decimals_and_primitive_extensions(fhir):
    tag = new_tag()
    observation_text = (
        '{"resourceType":"Observation","status":"final","meta":{"tag":[{"system":"%s","code":"%s"}]},'
        '"code":{"text":"Peso"},"valueQuantity":{"value":72.50,"unit":"kg",'
        '"system":"http://unitsofmeasure.org","code":"kg"}}' % (TAG_SYSTEM, tag)
    )
    response = fhir.session.post(
        f"{fhir.base}/Observation", data=observation_text.encode(), headers={"Content-Type": FHIR_JSON}
    )
    assert response.status_code == 201, response.text
    rid = response.json()["id"]
    read = fhir.session.get(f"{fhir.base}/Observation/{rid}")
    assert '"value":72.50' in read.text.replace(" ", ""), f"72.50 must stay 72.50: {read.text}"

    sent = patient(tag)
    sent["_birthDate"] = {
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1980-05-17T08:15:00-06:00"}
        ]
    }
    sent["name"][0]["_given"] = [{"extension": [{"url": "http://example.org/x", "valueString": "a"}]}]
    created = fhir.create(sent)
    stored = fhir.get(f"Patient/{created['id']}").expect(200).body
    assert stored["_birthDate"] == sent["_birthDate"]
    assert stored["name"][0]["_given"] == sent["name"][0]["_given"]
    assert json.dumps(without_meta(stored), sort_keys=True) == json.dumps(without_meta(sent), sort_keys=True)


def test_contained_resources_round_trip(fhir):
    tag = new_tag()
    sent = {
        "resourceType": "MedicationRequest",
        "meta": {"tag": [{"system": TAG_SYSTEM, "code": tag}]},
        "contained": [{"resourceType": "Medication", "id": "med1", "code": {"text": "Paracetamol 500 mg"}}],
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "#med1"},
        "subject": {"reference": "Patient/x"},
    }
    created = fhir.create(sent)
    assert without_meta(fhir.get(f"MedicationRequest/{created['id']}").body) == without_meta(sent)


def test_conditional_update_and_delete_with_several_matches_are_412(fhir):
    tag = new_tag()
    first, second = fhir.create(patient(tag)), fhir.create(patient(tag))
    query = f"_tag={TAG_SYSTEM}|{tag}"
    fhir.put(f"Patient?{query}", patient(tag)).expect(412)
    response = fhir.delete(f"Patient?{query}")
    assert response.status == 412, f"conditionalDelete is 'single': several matches -> 412: {response!r}"
    for created in (first, second):
        assert fhir.get(f"Patient/{created['id']}").expect(200).body == created
