"""History at the three levels (instance, type, system) with `_since`, `_count` and paging by
the Bundle's `next` links."""

import time

from test_crud import instant

from conftest import new_tag
from samples import patient, with_demographics


def history_entries(fhir, path, params=None, max_pages=100):
    """Every entry of a history, following `next` links; checks each page is a history Bundle."""
    response = fhir.get(path, params=params).expect(200)
    entries = []
    for _ in range(max_pages):
        assert response.body["type"] == "history"
        entries += response.body.get("entry", [])
        nxt = response.link("next")
        if not nxt:
            return entries
        response = fhir.get(nxt).expect(200)
    raise AssertionError("history paging does not end")


def test_instance_history_newest_first_with_requests_and_responses(fhir):
    created = fhir.create(patient(new_tag()))
    rid = created["id"]
    for gender in ("male", "other", "unknown"):
        fhir.put(f"Patient/{rid}", with_demographics(created, gender=gender)).expect(200)
    fhir.delete(f"Patient/{rid}")
    body = fhir.get(f"Patient/{rid}/_history").expect(200).body
    assert body["type"] == "history"
    assert body.get("total", 5) == 5
    entries = body["entry"]
    assert [e["request"]["method"] for e in entries] == ["DELETE", "PUT", "PUT", "PUT", "POST"]
    versions = [e["resource"]["meta"]["versionId"] for e in entries[1:]]
    assert versions == ["4", "3", "2", "1"]
    assert [e["resource"]["gender"] for e in entries[1:]] == ["unknown", "other", "male", "female"]
    for entry in entries:
        assert entry["response"]["status"].split()[0] in ("200", "201", "204")
        if "resource" in entry:
            assert entry["fullUrl"] == f"{fhir.base}/Patient/{rid}"
    assert entries[-1]["response"]["status"].startswith("201")


def test_instance_history_count_and_paging(fhir):
    created = fhir.create(patient(new_tag()))
    rid = created["id"]
    for n in range(6):
        fhir.put(f"Patient/{rid}", with_demographics(created, birthDate=f"198{n}-01-01")).expect(200)
    first = fhir.get(f"Patient/{rid}/_history", params={"_count": 3}).expect(200)
    assert len(first.body["entry"]) == 3
    assert first.link("next"), "more versions than _count -> next link"
    entries = history_entries(fhir, f"Patient/{rid}/_history", {"_count": 3})
    versions = [e["resource"]["meta"]["versionId"] for e in entries]
    assert versions == ["7", "6", "5", "4", "3", "2", "1"]


def test_type_history_since(fhir):
    tag = new_tag()
    # Substance is used by no other test, so its type history is ours alone.
    before = fhir.create({"resourceType": "Substance", "code": {"text": f"before {tag}"}})
    time.sleep(0.05)
    since = fhir.get(f"Substance/{before['id']}").body["meta"]["lastUpdated"]
    time.sleep(0.05)
    after = fhir.create({"resourceType": "Substance", "code": {"text": f"after {tag}"}})
    fhir.put(f"Substance/{after['id']}", dict(after, status="active")).expect(200)
    entries = history_entries(fhir, "Substance/_history", {"_since": since})
    got = [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in entries]
    # _since is inclusive of instants after the given one; `before` was written at `since` exactly.
    assert (after["id"], "2") in got and (after["id"], "1") in got
    assert all(instant(e["resource"]["meta"]["lastUpdated"]) >= instant(since) for e in entries)
    everything = history_entries(fhir, "Substance/_history")
    assert {e["resource"]["id"] for e in everything} >= {before["id"], after["id"]}
    assert all(e["resource"]["resourceType"] == "Substance" for e in everything)


def test_system_history_since_count_and_next_links(fhir):
    tag = new_tag()
    marker = fhir.create(patient(tag))
    since = marker["meta"]["lastUpdated"]
    written = set()
    for n in range(5):
        written.add(("Patient", fhir.create(patient(tag))["id"]))
        written.add(("Basic", fhir.create({"resourceType": "Basic", "code": {"text": f"{tag}-{n}"}})["id"]))
    first = fhir.get("_history", params={"_since": since, "_count": 4}).expect(200)
    assert len(first.body["entry"]) == 4 and first.link("next")
    entries = history_entries(fhir, "_history", {"_since": since, "_count": 4})
    seen = [(e["resource"]["resourceType"], e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in entries]
    assert len(seen) == len(set(seen)), "paging repeated an entry"
    assert written <= {(t, i) for t, i, _ in seen}, "paging lost an entry"
    stamps = [instant(e["resource"]["meta"]["lastUpdated"]) for e in entries]
    assert stamps == sorted(stamps, reverse=True), "history is newest first"


def test_history_of_unknown_resource_is_404(fhir):
    fhir.get("Patient/never-existed-xyz/_history").expect(404)
    fhir.get("NotAType/_history").expect(404)
