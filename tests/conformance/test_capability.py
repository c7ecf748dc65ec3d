"""The CapabilityStatement is true: everything it lists is accepted, and the clinician types
offer the interactions and search parameters the project promised (issue 2)."""

import json

import pytest
from fhir.resources import get_fhir_model_class

from conftest import new_tag
from samples import sample_resources, TAG_SYSTEM

# Issue 2's minimum search parameters per type.
PROMISED_SEARCH = {
    "Patient": "identifier name family given birthdate gender address-state _id _lastUpdated",
    "Encounter": "patient subject date status class service-provider",
    "Condition": "patient code clinical-status onset-date encounter",
    "Observation": "patient code category date value-quantity encounter status",
    "MedicationRequest": "patient status authoredon medication",
    "AllergyIntolerance": "patient code criticality",
    "Immunization": "patient vaccine-code date",
    "DiagnosticReport": "patient code date category",
    "Practitioner": "identifier name",
    "Organization": "identifier name",
    "Location": "identifier name address-state",
}

RESOURCE_INTERACTIONS = {"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"}

# A syntactically valid value for each search parameter type.
SAMPLE_VALUE = {
    "string": "zz",
    "token": "http://example.org/cs|zz",
    "date": "ge2000-01-01",
    "reference": "zz-none",
    "quantity": "gt5",
    "number": "gt5",
    "uri": "http://example.org/zz",
}


@pytest.fixture(scope="module")
def capability(fhir):
    response = fhir.get("metadata").expect(200)
    assert response.resource_type == "CapabilityStatement"
    return response.body


def by_type(capability):
    (rest,) = [r for r in capability["rest"] if r["mode"] == "server"]
    return {r["type"]: r for r in rest["resource"]}


def test_capability_statement_header(capability, node):
    assert capability["fhirVersion"] == "4.0.1"
    assert capability["kind"] == "instance"
    assert capability["status"] == "active"
    assert any(f in ("json", "application/fhir+json") for f in capability["format"])
    assert capability["implementation"]["url"] == node.base
    rest_interactions = {i["code"] for i in capability["rest"][0].get("interaction", [])}
    assert {"transaction", "batch", "history-system"} <= rest_interactions


def test_every_listed_type_is_an_r4_resource_and_reference_params_are_consistent(capability):
    resources = by_type(capability)
    assert len(resources) >= 140, "every R4 resource type should be supported"
    for resource_type, entry in resources.items():
        get_fhir_model_class(resource_type)  # raises for anything not in R4
        params = {p["name"]: p["type"] for p in entry.get("searchParam", [])}
        assert len(params) == len(entry.get("searchParam", [])), f"{resource_type}: duplicate searchParam"
        for include in entry.get("searchInclude", []) + entry.get("searchRevInclude", []):
            source, _, name = include.partition(":")
            if include in entry.get("searchInclude", []):
                assert source == resource_type, include
            assert source in resources, include
            source_params = {p["name"]: p["type"] for p in resources[source]["searchParam"]}
            assert source_params.get(name) == "reference", f"{resource_type}: {include} is not a reference parameter"


def test_promised_types_interactions_and_search_params_are_listed(capability):
    resources = by_type(capability)
    for resource_type, names in PROMISED_SEARCH.items():
        listed = {p["name"] for p in resources[resource_type]["searchParam"]}
        missing = set(names.split()) - listed
        assert not missing, f"{resource_type} lacks search params {missing}"
    for resource_type in sample_resources("x", "Patient/x"):
        codes = {i["code"] for i in resources[resource_type]["interaction"]}
        assert RESOURCE_INTERACTIONS <= codes, f"{resource_type} lacks {RESOURCE_INTERACTIONS - codes}"
    operations = {o["name"] for o in resources["Patient"].get("operation", [])}
    assert "everything" in operations


def test_search_rev_include_lists_what_a_search_of_that_type_accepts(capability):
    """R4: rest.resource.searchRevInclude holds the _revinclude values supported when searching
    THAT type, i.e. reference parameters of other types that point at it."""
    patient_revincludes = set(by_type(capability)["Patient"].get("searchRevInclude", []))
    for wanted in ("Observation:patient", "Encounter:patient", "Condition:patient", "Observation:subject"):
        assert wanted in patient_revincludes, f"Patient searchRevInclude lacks {wanted}: {sorted(patient_revincludes)}"


def test_every_listed_search_parameter_and_include_is_accepted_strictly(fhir, capability):
    """Under `Prefer: handling=strict` an unknown parameter is a 400, so a 200 with every listed
    parameter (and every listed _include/_revinclude) proves the list holds nothing the server
    does not understand."""
    failures = []
    for resource_type, entry in by_type(capability).items():
        groups = [
            [(p["name"], SAMPLE_VALUE[p["type"]]) for p in entry.get("searchParam", [])],
            [("_include", v) for v in entry.get("searchInclude", [])],
            [("_revinclude", v) for v in entry.get("searchRevInclude", [])],
        ]
        response = fhir.get(resource_type, params=sum(groups, []), headers={"Prefer": "handling=strict"})
        if response.status == 200:
            assert response.body["type"] == "searchset"
            continue
        # Find each culprit on its own so the report names them all.
        for group in groups:
            if fhir.get(resource_type, params=group, headers={"Prefer": "handling=strict"}).status == 200:
                continue
            for name, value in group:
                single = fhir.get(resource_type, params=[(name, value)], headers={"Prefer": "handling=strict"})
                if single.status != 200:
                    diagnostics = (single.body or {}).get("issue", [{}])[0].get("diagnostics", "")
                    failures.append(f"{resource_type}?{name}={value} -> {single.status} {diagnostics[-120:]}")
    assert not failures, f"{len(failures)} listed parameters rejected, e.g.:\n" + "\n".join(failures[:25])


def test_each_listed_interaction_works_for_the_clinician_types(fhir, capability):
    resources = by_type(capability)
    tag = new_tag()
    patient = fhir.create(sample_resources(tag, "Patient/x")["Patient"])
    samples = sample_resources(tag, f"Patient/{patient['id']}")
    for resource_type, resource in samples.items():
        codes = {i["code"] for i in resources[resource_type]["interaction"]}
        assert "create" in codes
        created = fhir.post(resource_type, resource).expect(201).body
        rid = created["id"]
        if "read" in codes:
            assert fhir.get(f"{resource_type}/{rid}").expect(200).body["id"] == rid
        if "update" in codes:
            changed = dict(created, meta={"tag": resource["meta"]["tag"]})
            changed["language"] = "es-MX"
            updated = fhir.put(f"{resource_type}/{rid}", changed).expect(200).body
            assert updated["meta"]["versionId"] == "2" and updated["language"] == "es-MX"
        if "vread" in codes:
            assert fhir.get(f"{resource_type}/{rid}/_history/1").expect(200).body["meta"]["versionId"] == "1"
        if "history-instance" in codes:
            history = fhir.get(f"{resource_type}/{rid}/_history").expect(200).body
            assert history["type"] == "history" and len(history["entry"]) == 2
        if "search-type" in codes:
            found = fhir.search(resource_type, {"_id": rid, "_tag": f"{TAG_SYSTEM}|{tag}"}).entries()
            assert [r["id"] for r in found] == [rid], resource_type
        if "history-type" in codes:
            history = fhir.get(f"{resource_type}/_history", params={"_since": created["meta"]["lastUpdated"]}).expect(200)
            assert rid in {e["resource"]["id"] for e in history.body.get("entry", []) if "resource" in e}
        if "patch" in codes:
            before = fhir.get(f"{resource_type}/{rid}").expect(200).body
            patched = fhir.request(
                "PATCH",
                f"{resource_type}/{rid}",
                data=json.dumps([{"op": "replace", "path": "/language", "value": "es"}]).encode(),
                headers={"Content-Type": "application/json-patch+json"},
            ).expect(200).body
            assert patched["language"] == "es", resource_type
            assert int(patched["meta"]["versionId"]) == int(before["meta"]["versionId"]) + 1
            # Every declared patch format patches: here FHIRPath Patch (a Parameters resource).
            formats = capability.get("patchFormat", [])
            assert {"application/json-patch+json", "application/fhir+json"} <= set(formats), formats
            fhirpath = {
                "resourceType": "Parameters",
                "parameter": [
                    {
                        "name": "operation",
                        "part": [
                            {"name": "type", "valueCode": "replace"},
                            {"name": "path", "valueString": f"{resource_type}.language"},
                            {"name": "value", "valueCode": "es-MX"},
                        ],
                    }
                ],
            }
            patched = fhir.request(
                "PATCH",
                f"{resource_type}/{rid}",
                data=json.dumps(fhirpath).encode(),
                headers={"Content-Type": "application/fhir+json"},
            ).expect(200).body
            assert patched["language"] == "es-MX", resource_type
        if "delete" in codes:
            assert fhir.delete(f"{resource_type}/{rid}").status in (200, 204)
            fhir.get(f"{resource_type}/{rid}").expect(410)


def test_json_media_types_and_format_parameter(fhir):
    for accept in ("application/fhir+json", "application/json", "*/*"):
        response = fhir.get("metadata", headers={"Accept": accept}).expect(200)
        assert response.resource_type == "CapabilityStatement"
    response = fhir.get("metadata", params={"_format": "json"}).expect(200)
    assert response.resource_type == "CapabilityStatement"


def test_samples_are_valid_r4():
    """The inputs themselves pass fhir.resources, so any server rejection is on the server."""
    from fhir_models import validate

    for resource in sample_resources("t", "Patient/x").values():
        validate(resource)
