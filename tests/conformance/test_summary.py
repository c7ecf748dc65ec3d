"""The International Patient Summary (`Patient/{id}/$summary`) read as an outside client would:
the document Bundle validates with the `fhir.resources` R4 models (every resource inside it
too), and it follows the IPS document rules a receiving system relies on."""

from conftest import new_tag
from samples import patient

LOINC = "http://loinc.org"
# IPS sections: medications, allergies and problems are required; immunizations and results
# are recommended.
REQUIRED = {"10160-0", "48765-2", "11450-4"}


def test_summary_is_a_valid_ips_document(fhir):
    created = fhir.post("Patient", patient(new_tag(), family="Lozano")).expect(201).body
    ref = {"reference": f"Patient/{created['id']}"}
    fhir.post("Condition", {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10", "display": "Hipertensión esencial"}]},
        "subject": ref,
    }).expect(201)
    fhir.post("MedicationRequest", {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"text": "Losartán 50 mg"}, "subject": ref,
    }).expect(201)

    # FhirClient validates every body it receives with the R4 models.
    document = fhir.get(f"Patient/{created['id']}/$summary").expect(200).body
    assert document["type"] == "document"
    assert document["identifier"]["system"] == "urn:ietf:rfc:3986"
    assert "timestamp" in document
    entries = document["entry"]
    composition = entries[0]["resource"]
    assert composition["resourceType"] == "Composition", "a document starts with its Composition"
    assert composition["status"] == "final"
    assert {"system": LOINC, "code": "60591-5"}.items() <= composition["type"]["coding"][0].items()
    assert composition["subject"]["reference"] == f"Patient/{created['id']}"
    assert composition["author"] and composition["title"]

    codes = {}
    for section in composition["section"]:
        coding = section["code"]["coding"][0]
        assert coding["system"] == LOINC
        codes[coding["code"]] = section
        assert section["text"]["status"] == "generated"
        assert section["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        # IPS: a section has entries or says why it has none.
        assert ("entry" in section) != ("emptyReason" in section), section
    assert REQUIRED <= set(codes), set(codes)

    # Every reference in the document resolves to one of its entries.
    full_urls = [e["fullUrl"] for e in entries]
    assert len(full_urls) == len(set(full_urls))
    for section in composition["section"]:
        for item in section.get("entry", []):
            assert any(url.endswith("/" + item["reference"]) for url in full_urls), item
    assert any(url.endswith(f"/Patient/{created['id']}") for url in full_urls)
    problems = [e["reference"] for e in codes["11450-4"]["entry"]]
    medications = [e["reference"] for e in codes["10160-0"]["entry"]]
    assert len(problems) == 1 and problems[0].startswith("Condition/")
    assert len(medications) == 1 and medications[0].startswith("MedicationRequest/")
    assert codes["48765-2"]["emptyReason"]["coding"][0]["code"] == "unavailable"
