"""Each search parameter issue 2 promises for the clinician types finds the resource it should
and filters out what it should not (test_search.py covers the semantics of each parameter type;
this covers that each promised parameter is wired to the right element)."""

import pytest

from conftest import new_tag
from samples import CURP_SYSTEM, TAG_SYSTEM, sample_resources

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


@pytest.fixture(scope="module")
def clinic(fhir):
    """One linked record: organization, location, practitioner, patient, encounter and the
    clinical resources of that encounter. Returns (tag, ids by type, the Patient's CURP)."""
    tag = new_tag()
    ids = {}

    def create(resource):
        created = fhir.create(resource)
        ids[resource["resourceType"]] = created["id"]
        return created

    base = sample_resources(tag, "Patient/placeholder")
    create(base["Organization"])
    location = dict(base["Location"], identifier=[{"system": "https://expediente.example/consultorio", "value": f"C-{tag}"}])
    create(location)
    create(base["Practitioner"])
    patient = create(base["Patient"])
    samples = sample_resources(tag, f"Patient/{patient['id']}")
    encounter = dict(samples["Encounter"], serviceProvider={"reference": f"Organization/{ids['Organization']}"})
    create(encounter)
    enc_ref = {"reference": f"Encounter/{ids['Encounter']}"}
    create(dict(samples["Condition"], encounter=enc_ref))
    observation = dict(
        samples["Observation"],
        encounter=enc_ref,
        category=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
    )
    create(observation)
    medication = create(
        {
            "resourceType": "Medication",
            "meta": {"tag": [{"system": TAG_SYSTEM, "code": tag}]},
            "code": {"text": "Losartán 50 mg"},
        }
    )
    request = {k: v for k, v in samples["MedicationRequest"].items() if k != "medicationCodeableConcept"}
    create(dict(request, medicationReference={"reference": f"Medication/{medication['id']}"}))
    allergy = dict(
        samples["AllergyIntolerance"],
        code={"coding": [{"system": "http://snomed.info/sct", "code": "91936005"}], "text": "Penicilina"},
    )
    create(allergy)
    create(samples["Immunization"])
    report = dict(
        samples["DiagnosticReport"],
        effectiveDateTime="2024-03-02",
        category=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
    )
    create(report)
    return tag, ids, patient["identifier"][0]["value"]


def cases(ids, curp, tag):
    p = ids["Patient"]
    last_updated = "ge2000-01-01"
    return [
        # (type, param, value that matches, value that must not)
        ("Patient", "identifier", f"{CURP_SYSTEM}|{curp}", f"{CURP_SYSTEM}|X{curp}"),
        ("Patient", "name", "gomez", "perez"),
        ("Patient", "family", "góm", "ana"),
        ("Patient", "given", "ana", "gomez"),
        ("Patient", "birthdate", "1980-05-17", "1980-05-18"),
        ("Patient", "gender", "female", "male"),
        ("Patient", "address-state", "jalisco", "sonora"),
        ("Patient", "_id", p, "x" + p),
        ("Patient", "_lastUpdated", last_updated, "lt2000-01-01"),
        ("Encounter", "patient", p, "someone-else"),
        ("Encounter", "subject", f"Patient/{p}", "Patient/someone-else"),
        ("Encounter", "date", "2024-03-01", "2024-03-02"),
        ("Encounter", "status", "finished", "in-progress"),
        ("Encounter", "class", f"{ACT}|AMB", f"{ACT}|IMP"),
        ("Encounter", "service-provider", f"Organization/{ids['Organization']}", "Organization/other"),
        ("Condition", "patient", p, "someone-else"),
        ("Condition", "code", "http://snomed.info/sct|38341003", "http://snomed.info/sct|44054006"),
        ("Condition", "clinical-status", "active", "resolved"),
        ("Condition", "onset-date", "2020-02-03", "2021"),
        ("Condition", "encounter", ids["Encounter"], "other-encounter"),
        ("Observation", "patient", p, "someone-else"),
        ("Observation", "code", "http://loinc.org|29463-7", "http://loinc.org|8302-2"),
        ("Observation", "category", "vital-signs", "laboratory"),
        ("Observation", "date", "ge2024-03-01T09:00:00-06:00", "lt2024-03-01"),
        ("Observation", "value-quantity", "72.5|http://unitsofmeasure.org|kg", "lt70"),
        ("Observation", "encounter", f"Encounter/{ids['Encounter']}", "Encounter/other"),
        ("Observation", "status", "final", "preliminary"),
        ("MedicationRequest", "patient", p, "someone-else"),
        ("MedicationRequest", "status", "active", "stopped"),
        ("MedicationRequest", "authoredon", "2024-03", "2024-04"),
        ("MedicationRequest", "medication", f"Medication/{ids['Medication']}", "Medication/other"),
        ("AllergyIntolerance", "patient", p, "someone-else"),
        ("AllergyIntolerance", "code", "91936005", "300916003"),
        ("AllergyIntolerance", "criticality", "high", "low"),
        ("Immunization", "patient", p, "someone-else"),
        ("Immunization", "vaccine-code", "http://hl7.org/fhir/sid/cvx|140", "http://hl7.org/fhir/sid/cvx|141"),
        ("Immunization", "date", "2023-10-15", "2023-10-16"),
        ("DiagnosticReport", "patient", p, "someone-else"),
        ("DiagnosticReport", "code", "58410-2", "24323-8"),
        ("DiagnosticReport", "date", "2024-03-02", "2024-03-03"),
        ("DiagnosticReport", "category", "http://terminology.hl7.org/CodeSystem/v2-0074|LAB", "RAD"),
        ("Practitioner", "identifier", f"CED-{tag}", f"CED-{tag}x"),
        ("Practitioner", "name", "hernandez", "gomez"),
        ("Organization", "identifier", f"JCSSA{tag[:6]}", "JCSSA000000"),
        ("Organization", "name", "centro de salud", "hospital"),
        ("Location", "identifier", f"C-{tag}", f"D-{tag}"),
        ("Location", "name", "consultorio", "quirofano"),
        ("Location", "address-state", "jalisco", "sonora"),
    ]


def test_each_promised_parameter_finds_its_resource(fhir, clinic):
    tag, ids, curp = clinic
    failures = []
    for resource_type, param, hit, miss in cases(ids, curp, tag):
        for value, expected in ((hit, [ids[resource_type]]), (miss, [])):
            params = {param: value, "_tag": f"{TAG_SYSTEM}|{tag}"}
            response = fhir.get(resource_type, params=params, headers={"Prefer": "handling=strict"})
            if response.status != 200:
                failures.append(f"{resource_type}?{param}={value}: {response.status} {response.body}")
                continue
            got = [r["id"] for r in response.entries()]
            if got != expected:
                failures.append(f"{resource_type}?{param}={value}: expected {len(expected)} match(es), got {len(got)}")
    assert not failures, "\n".join(failures)


def test_chain_by_curp_finds_every_clinical_resource(fhir, clinic):
    """The search clinicians need most: everything recorded for the patient with this CURP."""
    tag, ids, curp = clinic
    for resource_type, param in (
        ("Encounter", "subject"),
        ("Condition", "subject"),
        ("Observation", "subject"),
        ("MedicationRequest", "subject"),
        ("AllergyIntolerance", "patient"),
        ("Immunization", "patient"),
        ("DiagnosticReport", "subject"),
    ):
        found = fhir.search(resource_type, {f"{param}:Patient.identifier": f"{CURP_SYSTEM}|{curp}"}).entries()
        assert [r["id"] for r in found] == [ids[resource_type]], resource_type
