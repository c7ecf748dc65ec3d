"""Real third-party data: every Synthea transaction Bundle in shared/fixtures loads over HTTP,
and every bulk-export NDJSON file there imports with `expediente import`; what is read back
is valid R4 (fhir.resources) and equals what was sent, apart from server-assigned ids, `meta`
and the references the server had to resolve (urn:uuid and conditional references)."""

import gzip
import json
import re
from collections import Counter, defaultdict

import pytest

from conftest import SYNTHEA, FhirClient, run_import
from samples import has_current_curp, with_folio_and_pending_flag

BUNDLES = sorted((SYNTHEA / "bundles").glob("*.json"))
NDJSON_FILES = sorted((SYNTHEA / "ndjson").rglob("*.ndjson.gz"))
# Resources read back per NDJSON file (evenly spread); keeps the suite fast.
SAMPLE_PER_FILE = 40


def test_fixtures_are_present():
    assert len(BUNDLES) == 26, f"expected the 26 Synthea bundles under {SYNTHEA}"
    assert len(NDJSON_FILES) == 13, f"expected 13 NDJSON files under {SYNTHEA / 'ndjson'}"


def map_references(value, mapping):
    """A copy of `value` with every `reference` rewritten through `mapping` (when it is a key)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item in mapping:
                out[key] = mapping[item]
            else:
                out[key] = map_references(item, mapping)
        return out
    if isinstance(value, list):
        return [map_references(item, mapping) for item in value]
    return value


def references(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def first_difference(want, got, path=""):
    """The first path where two JSON values differ, with both values, for readable reports."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(set(want) | set(got)):
            if key not in got:
                return f"{path}.{key}: missing (sent {json.dumps(want[key])[:150]})"
            if key not in want:
                return f"{path}.{key}: added {json.dumps(got[key])[:150]}"
            diff = first_difference(want[key], got[key], f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{path}: {len(want)} items sent, {len(got)} stored"
        for n, (a, b) in enumerate(zip(want, got)):
            diff = first_difference(a, b, f"{path}[{n}]")
            if diff:
                return diff
        return None
    if want != got or type(want) is not type(got):
        return f"{path}: sent {json.dumps(want)[:150]} got {json.dumps(got)[:150]}"
    return None


def strip_meta(resource):
    return {k: v for k, v in resource.items() if k not in ("meta", "id")}


def read_many(fhir, resource_type, ids):
    """Reads resources by id in few requests (`_id=a,b,c`), validated as a searchset."""
    found = {}
    ids = sorted(ids)
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        for resource in fhir.search_all(resource_type, {"_id": ",".join(chunk), "_count": 100}):
            found[resource["id"]] = resource
    return found


@pytest.fixture(scope="module")
def synthea_loaded(start_node_module):
    """A fresh node with every Synthea Bundle POSTed as a transaction."""
    node = start_node_module()
    fhir = FhirClient(node.base)
    loaded = []
    for path in BUNDLES:
        bundle = json.loads(path.read_text())
        response = fhir.post("", bundle)
        loaded.append((path.name, bundle, response))
    return fhir, loaded


def test_every_synthea_bundle_loads_as_a_transaction(synthea_loaded):
    _, loaded = synthea_loaded
    failures = []
    for name, bundle, response in loaded:
        if response.status != 200 or response.body.get("type") != "transaction-response":
            failures.append(f"{name}: {response.status} {str(response.body)[:400]}")
            continue
        statuses = [e["response"]["status"] for e in response.body["entry"]]
        if len(statuses) != len(bundle["entry"]) or any(not s.startswith("201") for s in statuses):
            failures.append(f"{name}: statuses {Counter(statuses)} for {len(bundle['entry'])} entries")
    assert not failures, "\n".join(failures)


def test_synthea_resources_read_back_equal_with_rewritten_references(synthea_loaded):
    fhir, loaded = synthea_loaded
    expected = defaultdict(dict)  # type -> new id -> expected resource (sans meta/id)
    for name, bundle, response in loaded:
        assert response.status == 200, name
        # urn:uuids are local to a Bundle (the patient bundles reuse their practitioners' ones).
        mapping = {}
        for sent, result in zip(bundle["entry"], response.body["entry"]):
            location = result["response"]["location"]
            match = re.search(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})/_history/\d+$", location)
            assert match, f"{name}: bad location {location}"
            resource_type, new_id = match.groups()
            assert resource_type == sent["resource"]["resourceType"]
            mapping[sent["fullUrl"]] = f"{resource_type}/{new_id}"
        for sent, result in zip(bundle["entry"], response.body["entry"]):
            resource_type, new_id = result["response"]["location"].split("/_history/")[0].split("/")[-2:]
            expected[resource_type][new_id] = strip_meta(map_references(sent["resource"], mapping))
    mismatches = []
    total = 0
    for resource_type, by_id in expected.items():
        stored = read_many(fhir, resource_type, by_id)
        assert set(stored) == set(by_id), f"{resource_type}: {len(by_id) - len(stored)} not readable"
        for new_id, sent in by_id.items():
            total += 1
            got = stored[new_id]
            if resource_type == "Patient" and not has_current_curp(sent):
                # Synthea patients are US data without CURP; created by POST they get a folio
                # and the "CURP pendiente" flag (Mexican profile), and nothing else changes.
                sent = with_folio_and_pending_flag(sent, got)
            diff = first_difference(sent, strip_meta(got), resource_type)
            if diff:
                mismatches.append(f"{resource_type}/{new_id}: {diff}")
            leftover = [r for r in references(got) if r.startswith("urn:uuid:")]
            if leftover:
                mismatches.append(f"{resource_type}/{new_id}: unresolved {leftover}")
    assert total == sum(len(b["entry"]) for _, b, _ in loaded)
    assert not mismatches, f"{len(mismatches)} differ, e.g.\n" + "\n".join(mismatches[:10])


def test_synthea_patient_everything_and_searches(synthea_loaded):
    fhir, loaded = synthea_loaded
    # The smallest patient bundle: its patient's $everything holds its whole compartment.
    name, bundle, response = min(
        ((n, b, r) for n, b, r in loaded if any(e["resource"]["resourceType"] == "Patient" for e in b["entry"])),
        key=lambda item: len(item[1]["entry"]),
    )
    created = {}
    for sent, result in zip(bundle["entry"], response.body["entry"]):
        resource_type, new_id = result["response"]["location"].split("/_history/")[0].split("/")[-2:]
        created[(resource_type, new_id)] = sent["resource"]
    (patient_id,) = [i for (t, i) in created if t == "Patient"]
    compartment = {(t, i) for (t, i) in created if t not in ("Organization", "Practitioner")}

    seen = set()
    page = fhir.get(f"Patient/{patient_id}/$everything", params={"_count": 50}).expect(200)
    while True:
        seen |= {(r["resourceType"], r["id"]) for r in page.entries()}
        if not page.link("next"):
            break
        page = fhir.get(page.link("next")).expect(200)
    assert compartment <= seen, f"{name}: $everything misses {sorted(compartment - seen)[:5]}"
    others = {(t, i) for (t, i) in seen if t in ("Patient",)} - {("Patient", patient_id)}
    assert not others, f"$everything leaked other patients {others}"

    # Search counts agree with what the Bundle holds.
    per_type = Counter(t for (t, _) in compartment if t != "Patient")
    for resource_type, count in per_type.items():
        body = fhir.search(resource_type, {"patient": patient_id, "_summary": "count"}).body
        assert body["total"] == count, f"{resource_type}?patient= total {body['total']} != {count}"
    patient = created[("Patient", patient_id)]
    identifier = patient["identifier"][0]
    chained = fhir.search(
        "Encounter",
        {"subject:Patient.identifier": f"{identifier['system']}|{identifier['value']}", "_summary": "count"},
    ).body
    assert chained["total"] == per_type["Encounter"]
    family = patient["name"][0]["family"]
    assert patient_id in {r["id"] for r in fhir.search_all("Patient", {"family": family.lower()})}


# --- NDJSON import ------------------------------------------------------------------------------


def read_ndjson(path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def imported(workdir, start_node_module):
    data_dir = workdir / "imported"
    result = run_import(data_dir, NDJSON_FILES)
    node = start_node_module(data_dir=data_dir)
    return result, FhirClient(node.base)


def parse_summary(stdout):
    """The import's per-type table: type -> (loaded, unchanged, rejected)."""
    table = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"\s*([A-Z][A-Za-z]+)\s+(\d+)\s+(\d+)\s+(\d+)\s*", line)
        if match:
            table[match.group(1)] = tuple(int(g) for g in match.groups()[1:])
    return table


def test_every_ndjson_file_imports_with_nothing_rejected(imported):
    result, _ = imported
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    table = parse_summary(result.stdout)
    lines = Counter()
    for path in NDJSON_FILES:
        for resource in read_ndjson(path):
            lines[resource["resourceType"]] += 1
    assert set(table) == set(lines), f"summary types {sorted(table)} vs files {sorted(lines)}"
    for resource_type, count in lines.items():
        loaded, unchanged, rejected = table[resource_type]
        assert rejected == 0, f"{resource_type}: {rejected} rejected\n{result.stdout[:3000]}"
        assert loaded + unchanged == count, f"{resource_type}: {loaded}+{unchanged} != {count}"
    assert re.search(r"total: \d+ cargados, 0 rechazados", result.stdout), result.stdout[-500:]


def test_imported_counts_match_distinct_ids(imported):
    _, fhir = imported
    ids = defaultdict(set)
    for path in NDJSON_FILES:
        for resource in read_ndjson(path):
            ids[resource["resourceType"]].add(resource["id"])
    for resource_type, wanted in ids.items():
        body = fhir.search(resource_type, {"_summary": "count"}).body
        assert body["total"] == len(wanted), f"{resource_type}: {body['total']} stored, {len(wanted)} distinct ids"


def test_imported_resources_read_back_equal_and_conditional_references_resolve(imported):
    _, fhir = imported
    problems = []
    checked = 0
    resolved_targets = {}
    for path in NDJSON_FILES:
        resources = read_ndjson(path)
        step = max(1, len(resources) // SAMPLE_PER_FILE)
        sample = resources[::step][:SAMPLE_PER_FILE]
        by_type = defaultdict(list)
        for resource in sample:
            by_type[resource["resourceType"]].append(resource)
        for resource_type, sent_list in by_type.items():
            stored = read_many(fhir, resource_type, [r["id"] for r in sent_list])
            for sent in sent_list:
                checked += 1
                got = stored.get(sent["id"])
                if got is None:
                    problems.append(f"{resource_type}/{sent['id']} ({path.name}) not found")
                    continue
                conditional = {r for r in references(sent) if "?" in r}
                mapping = {}
                for reference in conditional:
                    # Whatever the server wrote instead, it must be a literal reference to the
                    # one resource the condition selects.
                    mapping[reference] = resolved_targets.setdefault(reference, resolve_condition(fhir, reference))
                want = strip_meta(map_references(sent, mapping))
                diff = first_difference(want, strip_meta(got), resource_type)
                if diff:
                    problems.append(f"{resource_type}/{sent['id']} ({path.name}): {diff}")
                assert got["meta"]["versionId"] and got["meta"]["lastUpdated"]
                if sent.get("meta", {}).get("profile"):
                    assert got["meta"].get("profile") == sent["meta"]["profile"], "meta.profile kept"
    assert checked >= 13 * 10
    assert any(resolved_targets), "the sample should include conditional references"
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:10])


def resolve_condition(fhir, reference):
    """`Practitioner?identifier=sys|val` -> `Practitioner/<id>` of its single match."""
    resource_type, _, query = reference.partition("?")
    name, _, value = query.partition("=")
    matches = fhir.search_all(resource_type, {name: value})
    assert len(matches) == 1, f"{reference} matches {len(matches)} resources"
    return f"{resource_type}/{matches[0]['id']}"


def test_synthea_bundles_also_import_from_files(workdir):
    result = run_import(workdir / "bundles-imported", BUNDLES)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    table = parse_summary(result.stdout)
    assert sum(r for (_, _, r) in table.values()) == 0, result.stdout[:3000]
    expected = sum(len(json.loads(p.read_text())["entry"]) for p in BUNDLES)
    assert sum(l + u for (l, u, _) in table.values()) == expected
