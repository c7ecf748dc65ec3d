"""Small valid R4 resources of the types clinicians live in, for exercising interactions.

Each builder takes a unique `tag` (so tests sharing a node only see their own data) and, where
the type needs one, a patient reference. Every sample is checked against the fhir.resources
models before use (test_samples_are_valid_r4), so a server rejection is the server's fault.
"""

import random
import uuid

TAG_SYSTEM = "https://expediente.example/conformance-tag"
CURP_SYSTEM = "urn:oid:2.16.840.1.113883.4.629"  # RENAPO CURP (see shared/domain/mexico.md)
# What the server adds to a Patient created without CURP under a server-assigned id (POST):
# a node-local folio identifier and the "CURP pendiente" flag (crates/mexico/src/systems.rs).
FOLIO_SYSTEM = "https://expediente.salud.gob.mx/fhir/sid/folio"
CURP_PENDING_URL = "https://expediente.salud.gob.mx/fhir/StructureDefinition/curp-pendiente"


_CURP_SYMBOLS = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
_CURP_STATES = {"Jalisco": "JC", "CDMX": "DF", "Oaxaca": "OC", "Nuevo León": "NL"}
_curp_random = random.Random()


def make_curp(birth="1980-05-17", gender="female", state="Jalisco"):
    """A CURP that is valid by RENAPO's rules (structure, date, sex, state, check digit) and
    agrees with the birth date and sex, with random letters so every call is unique. The
    server checks CURPs on every Patient write; it does not check them against names beyond a
    warning, so generic test patients can carry one."""
    year, month, day = birth[:10].split("-")
    first = _curp_random.choice("BCDFGHLMNPRSTVZ") + _curp_random.choice("AEIOU")
    first += _curp_random.choice("BCDFGHLMNPRSTVZ") + _curp_random.choice("BCDFGHLMNPRSTVZ")
    sex = {"female": "M", "male": "H"}.get(gender, "X")
    consonants = "".join(_curp_random.choice("BCDFGHLMNPRSTVZ") for _ in range(3))
    homoclave = _curp_random.choice("0123456789" if int(year) < 2000 else "ABCDEFGHJKLMNPQRSTUVWXYZ")
    prefix = (first + year[2:] + month + day + sex + _CURP_STATES.get(state, "JC") + consonants + homoclave)
    total = sum(_CURP_SYMBOLS.index(c) * (18 - i) for i, c in enumerate(prefix))
    return prefix + str((10 - total % 10) % 10)


def with_demographics(resource, **changes):
    """A copy of a Patient with `birthDate`/`gender` (and any other members) changed and, when
    the birth date or sex changes, its CURP reissued to agree, as RENAPO does after a
    civil-registry correction: the server rejects (422) a CURP that contradicts either."""
    changed = dict(resource, **changes)
    if "birthDate" in changes or "gender" in changes:
        state = next((a["state"] for a in changed.get("address", []) if "state" in a), "Jalisco")
        curp = make_curp(changed["birthDate"], changed.get("gender", "unknown"), state)
        changed["identifier"] = [
            dict(i, value=curp) if i.get("system") == CURP_SYSTEM and i.get("use") != "old" else i
            for i in changed.get("identifier", [])
        ]
    return changed


def has_current_curp(resource):
    return any(
        i.get("system") == CURP_SYSTEM and i.get("use") != "old" and i.get("value") != "XXXX999999XXXXXX99"
        for i in resource.get("identifier", [])
    )


def with_folio_and_pending_flag(sent, stored):
    """What the server stores for a Patient `sent` without CURP and created by POST: `sent` plus
    one folio identifier (use `usual`, a UUID value the server picks, taken from `stored` once
    checked) after the client's identifiers and the "CURP pendiente" flag after its extensions.
    Everything else must come back exactly as sent."""
    folios = [i for i in stored.get("identifier", []) if i.get("system") == FOLIO_SYSTEM]
    assert len(folios) == 1, f"expected one folio identifier: {stored.get('identifier')}"
    assert set(folios[0]) == {"use", "system", "value"} and folios[0]["use"] == "usual", folios[0]
    assert uuid.UUID(folios[0]["value"]), folios[0]
    expected = dict(sent)
    expected["identifier"] = list(sent.get("identifier", [])) + folios
    expected["extension"] = list(sent.get("extension", [])) + [{"url": CURP_PENDING_URL, "valueBoolean": True}]
    return expected


def meta_tag(tag):
    return {"tag": [{"system": TAG_SYSTEM, "code": tag}]}


def patient(tag, family="Gómez", given=("Ana",), gender="female", birth="1980-05-17", curp=None, state="Jalisco"):
    resource = {
        "resourceType": "Patient",
        "meta": meta_tag(tag),
        "identifier": [{"system": CURP_SYSTEM, "value": curp or make_curp(birth, gender, state)}],
        "name": [{"family": family, "given": list(given)}],
        "gender": gender,
        "birthDate": birth,
        "address": [{"state": state, "country": "MX"}],
    }
    return resource


def sample_resources(tag, patient_ref):
    """One minimal-but-realistic resource of each clinician type (keyed by type)."""
    subject = {"reference": patient_ref}
    coding = {"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertensive disorder"}
    return {
        "Patient": patient(tag),
        "Practitioner": {
            "resourceType": "Practitioner",
            "meta": meta_tag(tag),
            "identifier": [{"system": "https://expediente.example/cedula", "value": f"CED-{tag}"}],
            "name": [{"family": "Hernández", "given": ["Luis"]}],
        },
        "PractitionerRole": {"resourceType": "PractitionerRole", "meta": meta_tag(tag), "active": True},
        "Organization": {
            "resourceType": "Organization",
            "meta": meta_tag(tag),
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.631", "value": f"JCSSA{tag[:6]}"}],
            "name": f"Centro de Salud {tag}",
        },
        "Location": {
            "resourceType": "Location",
            "meta": meta_tag(tag),
            "name": f"Consultorio {tag}",
            "address": {"state": "Jalisco"},
        },
        "Encounter": {
            "resourceType": "Encounter",
            "meta": meta_tag(tag),
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": subject,
            "period": {"start": "2024-03-01T09:00:00-06:00", "end": "2024-03-01T09:30:00-06:00"},
        },
        "EpisodeOfCare": {
            "resourceType": "EpisodeOfCare",
            "meta": meta_tag(tag),
            "status": "active",
            "patient": subject,
        },
        "Condition": {
            "resourceType": "Condition",
            "meta": meta_tag(tag),
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "code": {"coding": [coding], "text": "Hipertensión arterial"},
            "subject": subject,
            "onsetDateTime": "2020-02-03",
        },
        "Observation": {
            "resourceType": "Observation",
            "meta": meta_tag(tag),
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
            "subject": subject,
            "effectiveDateTime": "2024-03-01T09:10:00-06:00",
            "valueQuantity": {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
        },
        "DiagnosticReport": {
            "resourceType": "DiagnosticReport",
            "meta": meta_tag(tag),
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
            "subject": subject,
        },
        "ServiceRequest": {
            "resourceType": "ServiceRequest",
            "meta": meta_tag(tag),
            "status": "active",
            "intent": "order",
            "subject": subject,
        },
        "MedicationRequest": {
            "resourceType": "MedicationRequest",
            "meta": meta_tag(tag),
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Losartán 50 mg"},
            "subject": subject,
            "authoredOn": "2024-03-01",
        },
        "MedicationStatement": {
            "resourceType": "MedicationStatement",
            "meta": meta_tag(tag),
            "status": "active",
            "medicationCodeableConcept": {"text": "Metformina 850 mg"},
            "subject": subject,
        },
        "AllergyIntolerance": {
            "resourceType": "AllergyIntolerance",
            "meta": meta_tag(tag),
            "criticality": "high",
            "code": {"text": "Penicilina"},
            "patient": subject,
        },
        "Immunization": {
            "resourceType": "Immunization",
            "meta": meta_tag(tag),
            "status": "completed",
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
            "patient": subject,
            "occurrenceDateTime": "2023-10-15",
        },
        "Procedure": {
            "resourceType": "Procedure",
            "meta": meta_tag(tag),
            "status": "completed",
            "subject": subject,
        },
        "CarePlan": {
            "resourceType": "CarePlan",
            "meta": meta_tag(tag),
            "status": "active",
            "intent": "plan",
            "subject": subject,
        },
        "DocumentReference": {
            "resourceType": "DocumentReference",
            "meta": meta_tag(tag),
            "status": "current",
            "subject": subject,
            "content": [{"attachment": {"contentType": "text/plain", "data": "SG9sYQ=="}}],
        },
        "Composition": {
            "resourceType": "Composition",
            "meta": meta_tag(tag),
            "status": "final",
            "type": {"text": "Nota de evolución"},
            "subject": subject,
            "date": "2024-03-01T09:30:00-06:00",
            "author": [{"display": "Dr. Luis Hernández"}],
            "title": "Nota de evolución",
        },
        "Consent": {
            "resourceType": "Consent",
            "meta": meta_tag(tag),
            "status": "active",
            "scope": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": subject,
            "policyRule": {"text": "NOM-004-SSA3-2012"},
        },
        "Provenance": {
            "resourceType": "Provenance",
            "meta": meta_tag(tag),
            "target": [subject],
            "recorded": "2024-03-01T09:30:00.000-06:00",
            "agent": [{"who": {"display": "Sistema"}}],
        },
        "Appointment": {
            "resourceType": "Appointment",
            "meta": meta_tag(tag),
            "status": "booked",
            "start": "2024-04-01T10:00:00-06:00",
            "end": "2024-04-01T10:20:00-06:00",
            "participant": [{"actor": subject, "status": "accepted"}],
        },
    }
