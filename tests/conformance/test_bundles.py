"""Transaction (all-or-nothing, R4 processing order, urn:uuid rewriting, conditional entries)
and batch (independent entries) Bundles posted to the base URL."""

import uuid

from conftest import new_tag
from samples import CURP_SYSTEM, TAG_SYSTEM, make_curp, patient, with_demographics


def urn():
    return f"urn:uuid:{uuid.uuid4()}"


def entry(resource, method="POST", url=None, full_url=None, **request):
    item = {"request": dict(method=method, url=url or resource["resourceType"], **request)}
    if resource is not None:
        item["resource"] = resource
    if full_url:
        item["fullUrl"] = full_url
    return item


def tagged(resource, tag):
    return dict(resource, meta={"tag": [{"system": TAG_SYSTEM, "code": tag}]})


def observation(tag, subject_ref, value=72.5):
    return tagged(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": subject_ref},
            "valueQuantity": {"value": value, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
        },
        tag,
    )


def location_id(response_entry):
    """`Patient/123/_history/1` or an absolute URL -> ('Patient', '123')."""
    location = response_entry["response"]["location"]
    parts = location.split("/_history/")[0].rstrip("/").split("/")
    return parts[-2], parts[-1]


def test_transaction_rewrites_urn_uuid_references(fhir):
    tag = new_tag()
    patient_urn, encounter_urn = urn(), urn()
    encounter = tagged(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": patient_urn},
        },
        tag,
    )
    obs = observation(tag, patient_urn)
    obs["encounter"] = {"reference": encounter_urn}
    obs["hasMember"] = [{"reference": patient_urn}]  # nonsense clinically, but every reference is rewritten
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(obs, full_url=urn()),
            entry(encounter, full_url=encounter_urn),
            entry(patient(tag), full_url=patient_urn),
        ],
    }
    response = fhir.post("", bundle).expect(200)
    assert response.body["type"] == "transaction-response"
    results = response.body["entry"]
    assert len(results) == 3, "one response entry per request entry, in the same order"
    for item in results:
        assert item["response"]["status"].startswith("201")
        assert item["response"].get("etag") == 'W/"1"'
    (obs_type, obs_id), (enc_type, enc_id), (pat_type, pat_id) = map(location_id, results)
    assert (obs_type, enc_type, pat_type) == ("Observation", "Encounter", "Patient")
    stored = fhir.get(f"Observation/{obs_id}").expect(200).body
    assert stored["subject"]["reference"] == f"Patient/{pat_id}"
    assert stored["encounter"]["reference"] == f"Encounter/{enc_id}"
    assert stored["hasMember"][0]["reference"] == f"Patient/{pat_id}"
    assert fhir.get(f"Encounter/{enc_id}").body["subject"]["reference"] == f"Patient/{pat_id}"


def test_transaction_processing_order_and_conditional_entries(fhir):
    """DELETE, then POST, then PUT, then GET, whatever the order in the Bundle."""
    tag = new_tag()
    doomed = fhir.create(patient(tag))
    existing = fhir.create(patient(tag, family="Existente"))
    existing_curp = existing["identifier"][0]["value"]
    # R4: identities resolved by the DELETE/POST/PUT steps must not overlap, so the matching
    # conditional create targets yet another patient.
    kept = fhir.create(patient(tag, family="Conservado"))
    kept_curp = kept["identifier"][0]["value"]
    new_patient = patient(tag, family="Nuevo")
    new_curp = new_patient["identifier"][0]["value"] = make_curp()
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            # GET first in the Bundle, processed last: it sees the new patient.
            entry(None, "GET", f"Patient?identifier={CURP_SYSTEM}|{new_curp}"),
            entry(patient(tag, family="Actualizado"), "PUT", f"Patient?identifier={CURP_SYSTEM}|{existing_curp}"),
            entry(new_patient, "POST", ifNoneExist=f"identifier={CURP_SYSTEM}|{new_curp}"),
            # Conditional create that matches: no new resource.
            entry(patient(tag), "POST", ifNoneExist=f"identifier={CURP_SYSTEM}|{kept_curp}"),
            entry(None, "DELETE", f"Patient/{doomed['id']}"),
        ],
    }
    response = fhir.post("", bundle).expect(200)
    results = response.body["entry"]
    statuses = [r["response"]["status"].split()[0] for r in results]
    assert statuses[0] == "200"
    found = results[0]["resource"]
    assert found["resourceType"] == "Bundle" and found["type"] == "searchset"
    assert [r["resource"]["name"][0]["family"] for r in found["entry"]] == ["Nuevo"]
    assert statuses[1] == "200", "conditional update of the existing match"
    assert statuses[2] == "201"
    assert statuses[3] == "200", "If-None-Exist match -> 200, nothing created"
    assert statuses[4] in ("200", "204")
    fhir.get(f"Patient/{doomed['id']}").expect(410)
    assert fhir.get(f"Patient/{existing['id']}").body["name"][0]["family"] == "Actualizado"
    families = sorted(r["name"][0]["family"] for r in fhir.search_all("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"}))
    assert families == ["Actualizado", "Conservado", "Nuevo"]


def test_failing_transaction_writes_nothing(fhir):
    tag = new_tag()
    survivor = fhir.create(patient(tag))
    patient_urn = urn()
    bad_obs = observation(tag, patient_urn)
    bad_obs["status"] = "not-a-status"  # required binding
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(patient(tag), full_url=patient_urn),
            entry(observation(tag, patient_urn), full_url=urn()),
            entry(dict(survivor, gender="male"), "PUT", f"Patient/{survivor['id']}"),
            entry(None, "DELETE", f"Patient/{survivor['id']}"),
            entry(bad_obs, full_url=urn()),
        ],
    }
    response = fhir.post("", bundle)
    assert response.status in (400, 422), repr(response)
    assert response.resource_type == "OperationOutcome"
    assert fhir.ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"}) == [survivor["id"]]
    assert fhir.ids("Observation", {"_tag": f"{TAG_SYSTEM}|{tag}"}) == []
    after = fhir.get(f"Patient/{survivor['id']}").expect(200).body
    assert after == survivor, "neither the PUT nor the DELETE may have happened"
    history = fhir.get(f"Patient/{survivor['id']}/_history").expect(200).body
    assert len(history["entry"]) == 1


def test_transaction_failing_on_a_stale_if_match_writes_nothing(fhir):
    tag = new_tag()
    target = fhir.create(patient(tag))
    fhir.put(f"Patient/{target['id']}", with_demographics(target, gender="other")).expect(200)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(patient(tag, family="NoDebeExistir")),
            entry(with_demographics(target, gender="male"), "PUT", f"Patient/{target['id']}", ifMatch='W/"1"'),
        ],
    }
    response = fhir.post("", bundle)
    assert response.status in (409, 412), repr(response)
    assert fhir.ids("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"}) == [target["id"]]
    assert fhir.get(f"Patient/{target['id']}").body["gender"] == "other"


def test_batch_entries_are_independent(fhir):
    tag = new_tag()
    bad = patient(tag)
    bad["birthDate"] = "1980-02-30"
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            entry(patient(tag, family="Bueno")),
            entry(bad),
            entry(None, "GET", "Patient/definitely-not-there"),
            entry(None, "GET", f"Patient?_tag={TAG_SYSTEM}|{tag}"),
        ],
    }
    response = fhir.post("", bundle).expect(200)
    assert response.body["type"] == "batch-response"
    results = response.body["entry"]
    statuses = [r["response"]["status"].split()[0] for r in results]
    assert statuses[0] == "201"
    assert statuses[1] in ("400", "422")
    assert results[1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert statuses[2] == "404"
    assert statuses[3] == "200"
    assert [r["name"][0]["family"] for r in fhir.search_all("Patient", {"_tag": f"{TAG_SYSTEM}|{tag}"})] == ["Bueno"]


def test_bundle_posted_with_wrong_type_or_to_a_type_endpoint(fhir):
    collection = {"resourceType": "Bundle", "type": "collection", "entry": []}
    response = fhir.post("", collection)
    assert response.status in (400, 422), repr(response)
    # A Bundle POSTed to /Bundle is a create of a Bundle resource, not a transaction.
    stored = fhir.post("Bundle", {"resourceType": "Bundle", "type": "collection"}).expect(201)
    assert stored.body["type"] == "collection"


def test_transaction_resolves_conditional_references(fhir):
    """R4 conditional references (`Patient?identifier=…`) in a transaction become literal ones."""
    tag = new_tag()
    target = fhir.create(patient(tag))
    curp = target["identifier"][0]["value"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [entry(observation(tag, f"Patient?identifier={CURP_SYSTEM}|{curp}"), full_url=urn())],
    }
    response = fhir.post("", bundle).expect(200)
    _, obs_id = location_id(response.body["entry"][0])
    assert fhir.get(f"Observation/{obs_id}").body["subject"]["reference"] == f"Patient/{target['id']}"

    # A condition matching nothing fails the whole transaction.
    bundle["entry"] = [entry(observation(tag, f"Patient?identifier={CURP_SYSTEM}|NOBODY{tag}"), full_url=urn())]
    response = fhir.post("", bundle)
    assert response.status in (400, 404, 412, 422), repr(response)
    assert len(fhir.ids("Observation", {"_tag": f"{TAG_SYSTEM}|{tag}"})) == 1
