"""Search as the R4 search page defines it, one parameter type and modifier at a time, on a small
hand-made data set whose expected answers follow from the spec (every query is ANDed with the
data set's own `_tag`, so other tests' data on the shared node never leaks in)."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from conftest import new_tag
from samples import CURP_SYSTEM, TAG_SYSTEM, make_curp

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
CIE10 = "http://hl7.org/fhir/sid/icd-10"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PROFILE = "http://expediente.example/StructureDefinition/paciente-mx"
SUBSETTED = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED")


class Data:
    """Ids of the seeded resources, by short name."""

    def __init__(self, fhir, tag):
        self.fhir = fhir
        self.tag = tag
        self.ids = {}

    @property
    def tag_param(self):
        return f"{TAG_SYSTEM}|{self.tag}"

    def add(self, name, resource, client_id=None):
        """Creates the resource (POST), or with `client_id` by update-as-create (PUT)."""
        resource = dict(resource, meta=dict(resource.get("meta", {}), tag=[{"system": TAG_SYSTEM, "code": self.tag}]))
        if client_id is None:
            created = self.fhir.create(resource)
        else:
            resource["id"] = client_id
            created = self.fhir.put(f"{resource['resourceType']}/{client_id}", resource).expect(201).body
        self.ids[name] = created["id"]
        self.ids[created["id"]] = name
        return created

    def ref(self, name, resource_type="Patient"):
        return {"reference": f"{resource_type}/{self.ids[name]}"}

    def find(self, resource_type, params, **kwargs):
        """Names of the matches of a search scoped to this data set (all pages)."""
        params = list(params.items()) if isinstance(params, dict) else list(params)
        params.append(("_tag", self.tag_param))
        found = self.fhir.search_all(resource_type, params, **kwargs)
        names = [self.ids[r["id"]] for r in found]
        assert len(names) == len(set(names)), f"duplicates in {resource_type}?{params}: {names}"
        return set(names)


@pytest.fixture(scope="module")
def data(fhir):
    d = Data(fhir, new_tag())
    d.p1_curp = make_curp("1980-05-17", "female", "Jalisco")
    d.p2_curp = make_curp("1975-12-31", "male", "Nuevo León")
    d.add("dr", {"resourceType": "Practitioner", "name": [{"family": "Hernández", "given": ["Luis"]}]})
    d.add(
        "p1",
        {
            "resourceType": "Patient",
            "meta": {"profile": [PROFILE]},
            "identifier": [{"system": CURP_SYSTEM, "value": d.p1_curp}],
            "name": [{"family": "Gómez", "given": ["Ana", "Lucía"]}],
            "gender": "female",
            "birthDate": "1980-05-17",
            "address": [{"state": "Jalisco"}],
            "generalPractitioner": [d.ref("dr", "Practitioner")],
        },
    )
    d.add(
        "p2",
        {
            "resourceType": "Patient",
            "identifier": [{"system": CURP_SYSTEM, "value": d.p2_curp}],
            "name": [{"family": "Gomezcaña", "given": ["Bruno"]}],
            "gender": "male",
            "birthDate": "1975-12-31",
            "address": [{"state": "Nuevo León"}],
        },
    )
    d.add(
        "p3",
        {
            "resourceType": "Patient",
            "identifier": [{"value": f"LOCAL-{d.tag}"}],
            "name": [{"family": "Martínez Gómez", "given": ["Carla"]}],
            "gender": "female",
            "birthDate": "1980",
        },
    )
    # p4 has no identifier at all. A POST of a patient without CURP gets a server-assigned folio
    # (Mexican profile), an update-as-create keeps the client's identifiers as sent.
    d.add(
        "p4",
        {"resourceType": "Patient", "name": [{"family": "Zúñiga", "given": ["Ana"]}], "gender": "unknown", "birthDate": "2001-07-04"},
        client_id=f"p4-{d.tag}",
    )

    def obs(name, code, category, when, value, unit, patient="p1"):
        resource = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": d.ref(patient),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }
        resource.update(when)
        d.add(name, resource)

    obs("weight1", "29463-7", "vital-signs", {"effectiveDateTime": "2024-03-01T09:10:00-06:00"}, 72.5, "kg")
    obs("weight2", "29463-7", "vital-signs", {"effectiveDateTime": "2023-01-10"}, 80, "kg")
    obs("hr", "8867-4", "vital-signs", {"effectiveDateTime": "2024-03-02T10:00:00Z"}, 110, "/min")
    obs(
        "glucose",
        "15074-8",
        "laboratory",
        {"effectivePeriod": {"start": "2024-02-01T08:00:00Z", "end": "2024-02-03T08:00:00Z"}},
        5.5,
        "mmol/L",
    )
    obs("p2weight", "29463-7", "vital-signs", {"effectiveDateTime": "2024-03-01"}, 95, "kg", patient="p2")
    d.add(
        "htn",
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "code": {"coding": [{"system": SNOMED, "code": "38341003", "display": "Hypertensive disorder"}], "text": "Hipertensión arterial"},
            "subject": d.ref("p1"),
            "onsetDateTime": "2020-02-03",
        },
    )
    d.add(
        "dm2",
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"}]},
            "code": {"coding": [{"system": CIE10, "code": "E11", "display": "Diabetes mellitus tipo 2"}]},
            "subject": d.ref("p2"),
            "onsetDateTime": "2015",
        },
    )
    for name, probability in (("risk-low", 0.35), ("risk-high", 0.8)):
        d.add(
            name,
            {
                "resourceType": "RiskAssessment",
                "status": "final",
                "subject": d.ref("p1"),
                "prediction": [{"probabilityDecimal": probability}],
            },
        )
    return d


# --- string ---------------------------------------------------------------------------------


def test_string_default_is_case_and_accent_insensitive_prefix(data):
    assert data.find("Patient", {"family": "gomez"}) == {"p1", "p2"}
    assert data.find("Patient", {"family": "GÓMEZ"}) == {"p1", "p2"}
    assert data.find("Patient", {"family": "zuniga"}) == {"p4"}
    assert data.find("Patient", {"given": "bru"}) == {"p2"}
    assert data.find("Patient", {"name": "lucia"}) == {"p1"}
    assert data.find("Patient", {"name": "ana"}) == {"p1", "p4"}
    assert data.find("Patient", {"address-state": "jalisco"}) == {"p1"}
    assert data.find("Patient", {"address-state": "nuevo leon"}) == {"p2"}


def test_string_exact_and_contains(data):
    assert data.find("Patient", {"family:exact": "Gómez"}) == {"p1"}
    assert data.find("Patient", {"family:exact": "gómez"}) == set(), ":exact is case-sensitive"
    assert data.find("Patient", {"family:exact": "Gomez"}) == set(), ":exact is accent-sensitive"
    assert data.find("Patient", {"family:contains": "gomez"}) == {"p1", "p2", "p3"}
    assert data.find("Patient", {"family:contains": "ÑIG"}) == {"p4"}


# --- token ----------------------------------------------------------------------------------


def test_token_code_system_and_or(data):
    assert data.find("Patient", {"gender": "female"}) == {"p1", "p3"}
    assert data.find("Patient", {"gender": "male,female"}) == {"p1", "p2", "p3"}
    assert data.find("Observation", {"code": f"{LOINC}|29463-7"}) == {"weight1", "weight2", "p2weight"}
    assert data.find("Observation", {"code": "8867-4"}) == {"hr"}
    assert data.find("Observation", {"code": f"{SNOMED}|29463-7"}) == set()
    assert data.find("Observation", {"category": f"{OBS_CATEGORY}|laboratory"}) == {"glucose"}
    assert data.find("Condition", {"clinical-status": "active"}) == {"htn"}
    assert data.find("Condition", {"code": f"{CIE10}|E11"}) == {"dm2"}


def test_token_identifier_system_forms(data):
    p1_curp = data.p1_curp
    assert data.find("Patient", {"identifier": f"{CURP_SYSTEM}|{p1_curp}"}) == {"p1"}
    assert data.find("Patient", {"identifier": p1_curp}) == {"p1"}
    assert data.find("Patient", {"identifier": f"{CURP_SYSTEM}|"}) == {"p1", "p2"}
    assert data.find("Patient", {"identifier": f"|LOCAL-{data.tag}"}) == {"p3"}, "|code = code with no system"
    assert data.find("Patient", {"identifier": f"|{p1_curp}"}) == set()


def test_token_not_text_and_missing(data):
    # :not also matches resources that have no value at all.
    assert data.find("Patient", {"gender:not": "female"}) == {"p2", "p4"}
    assert data.find("Observation", {"category:not": "vital-signs"}) == {"glucose"}
    assert data.find("Condition", {"code:text": "hipertensión"}) == {"htn"}
    assert data.find("Condition", {"code:text": "diabetes"}) == {"dm2"}, ":text also searches coding.display"
    assert data.find("Patient", {"identifier:missing": "true"}) == {"p4"}
    assert data.find("Patient", {"identifier:missing": "false"}) == {"p1", "p2", "p3"}


def test_missing_on_string_date_and_reference(data):
    assert data.find("Patient", {"address-state:missing": "true"}) == {"p3", "p4"}
    assert data.find("Patient", {"address-state:missing": "false"}) == {"p1", "p2"}
    assert data.find("Patient", {"general-practitioner:missing": "false"}) == {"p1"}
    assert data.find("Patient", {"birthdate:missing": "true"}) == set()


# --- date -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1980-05-17", {"p1"}),
        ("1980", {"p1", "p3"}),
        ("eq1980-05", {"p1"}),
        ("ne1980", {"p2", "p4"}),
        ("lt1980", {"p2"}),
        ("lt1980-05-17", {"p2", "p3"}),
        ("le1980-05-17", {"p1", "p2", "p3"}),
        ("gt1980", {"p4"}),
        ("gt1980-05-17", {"p3", "p4"}),
        ("ge1980", {"p1", "p3", "p4"}),
        ("sa1980-05-17", {"p4"}),
        ("eb1980", {"p2"}),
        ("eb1980-05-17", {"p2"}),
    ],
)
def test_date_prefixes_use_r4_range_semantics(data, value, expected):
    assert data.find("Patient", {"birthdate": value}) == expected


def test_date_ap_and_repeated_and(data):
    approx = data.find("Patient", {"birthdate": "ap1980-05-20"})
    assert {"p1", "p3"} <= approx and "p4" not in approx
    assert data.find("Patient", [("birthdate", "ge1975"), ("birthdate", "lt1980")]) == {"p2"}


def test_date_on_datetimes_periods_and_timezones(data):
    assert data.find("Observation", {"date": "2024-03-01"}) == {"weight1", "p2weight"}
    # 09:10-06:00 is 15:10Z.
    # 09:10-06:00 is 15:10Z; the date 2024-03-01 is a whole day, so it overlaps both sides.
    assert data.find("Observation", {"date": "gt2024-03-01T15:00:00Z", "code": "29463-7"}) == {"weight1", "p2weight"}
    assert data.find("Observation", {"date": "lt2024-03-01T15:00:00Z", "code": "29463-7"}) == {"weight2", "p2weight"}
    assert data.find("Observation", {"date": "lt2024-03-01T15:20:00Z", "code": "29463-7"}) == {"weight1", "weight2", "p2weight"}
    # eq: the search range must contain the whole Period; gt: the Period overlaps the range above.
    assert data.find("Observation", {"date": "eq2024-02"}) == {"glucose"}
    assert data.find("Observation", {"date": "2024-02-02"}) == set()
    assert data.find("Observation", {"date": "gt2024-02-02"}) == {"glucose", "weight1", "hr", "p2weight"}
    assert data.find("Observation", {"date": "sa2024-02-02"}) == {"weight1", "hr", "p2weight"}
    assert data.find("Condition", {"onset-date": "lt2016"}) == {"dm2"}


def test_last_updated_and_id(data, fhir):
    p1 = fhir.get(f"Patient/{data.ids['p1']}").body
    assert "p1" in data.find("Patient", {"_lastUpdated": f"ge{p1['meta']['lastUpdated']}"})
    assert "p1" not in data.find("Patient", {"_lastUpdated": f"gt{p1['meta']['lastUpdated']}"})
    assert data.find("Patient", {"_lastUpdated": "lt2000-01-01"}) == set()
    assert data.find("Patient", {"_id": f"{data.ids['p1']},{data.ids['p4']}"}) == {"p1", "p4"}


# --- reference ------------------------------------------------------------------------------


def test_reference_forms(data):
    p1 = data.ids["p1"]
    mine = {"weight1", "weight2", "hr", "glucose"}
    assert data.find("Observation", {"subject": f"Patient/{p1}"}) == mine
    assert data.find("Observation", {"subject": p1}) == mine
    assert data.find("Observation", {"subject:Patient": p1}) == mine
    assert data.find("Observation", {"patient": p1}) == mine
    assert data.find("Observation", {"patient": f"Patient/{p1}"}) == mine
    assert data.find("Condition", {"patient": data.ids["p2"]}) == {"dm2"}


def test_reference_by_absolute_url_of_this_server(data):
    """R4 3.1.1.4.6: a reference parameter given as an absolute URL on this server's base matches
    the same resources as the relative `Type/id`."""
    p1 = data.ids["p1"]
    mine = {"weight1", "weight2", "hr", "glucose"}
    assert data.find("Observation", {"subject": f"{data.fhir.base}/Patient/{p1}"}) == mine


def test_chained_search_by_curp(data):
    p1_curp = data.p1_curp
    mine = {"weight1", "weight2", "hr", "glucose"}
    assert data.find("Observation", {"subject:Patient.identifier": f"{CURP_SYSTEM}|{p1_curp}"}) == mine
    assert data.find("Observation", {"patient.identifier": p1_curp}) == mine
    assert data.find("Condition", {"subject:Patient.family": "gomezcaña"}) == {"dm2"}
    assert data.find("Observation", {"subject:Patient.identifier": f"{CURP_SYSTEM}|NOPE"}) == set()


def test_reverse_chain_has(data):
    assert data.find("Patient", {"_has:Observation:patient:code": f"{LOINC}|8867-4"}) == {"p1"}
    assert data.find("Patient", {"_has:Observation:patient:code": "29463-7"}) == {"p1", "p2"}
    assert data.find("Patient", {"_has:Condition:subject:clinical-status": "resolved"}) == {"p2"}


# --- quantity and number --------------------------------------------------------------------


def test_quantity(data):
    assert data.find("Observation", {"value-quantity": "72.5"}) == {"weight1"}
    assert data.find("Observation", {"value-quantity": f"72.5|{UCUM}|kg"}) == {"weight1"}
    assert data.find("Observation", {"value-quantity": "72.5||kg"}) == {"weight1"}
    assert data.find("Observation", {"value-quantity": f"72.5|{UCUM}|g"}) == set()
    assert data.find("Observation", {"value-quantity": "gt75"}) == {"weight2", "hr", "p2weight"}
    assert data.find("Observation", {"value-quantity": f"gt75|{UCUM}|kg"}) == {"weight2", "p2weight"}
    assert data.find("Observation", {"value-quantity": f"le80|{UCUM}|kg"}) == {"weight1", "weight2"}
    assert data.find("Observation", {"value-quantity": "ne80||kg"}) == {"weight1", "p2weight"}
    # ap: "about 10%" (servers may choose the exact tolerance): 72.5 is in, 95 and 110 are out.
    approx = data.find("Observation", {"value-quantity": "ap72"})
    assert "weight1" in approx and not approx & {"p2weight", "hr", "glucose"}
    assert data.find("Observation", {"value-quantity": "lt6"}) == {"glucose"}


def test_number(data):
    assert data.find("RiskAssessment", {"probability": "0.35"}) == {"risk-low"}
    assert data.find("RiskAssessment", {"probability": "gt0.5"}) == {"risk-high"}
    assert data.find("RiskAssessment", {"probability": "lt0.5"}) == {"risk-low"}
    assert data.find("RiskAssessment", {"probability": "ge0.35"}) == {"risk-low", "risk-high"}
    assert data.find("RiskAssessment", {"probability": "ne0.35"}) == {"risk-high"}


# Significant figures set the implicit range of an un-prefixed number or quantity (R4 3.1.1.4.2):
# 80.0 is [79.95, 80.05), 8e1 is [75, 85), 0.80 is [0.795, 0.805), 0.4 is [0.35, 0.45).
@pytest.mark.parametrize(
    "resource_type, param, value, expected",
    [
        ("Observation", "value-quantity", "80", {"weight2"}),
        ("Observation", "value-quantity", "80.0", {"weight2"}),
        ("Observation", "value-quantity", "80.00|http://unitsofmeasure.org|kg", {"weight2"}),
        ("Observation", "value-quantity", "8e1", {"weight2"}),
        ("Observation", "value-quantity", "72.50", {"weight1"}),
        ("RiskAssessment", "probability", "0.8", {"risk-high"}),
        ("RiskAssessment", "probability", "0.80", {"risk-high"}),
        ("RiskAssessment", "probability", "0.4", {"risk-low"}),
        ("RiskAssessment", "probability", "1", {"risk-high"}),
    ],
)
def test_number_and_quantity_precision(data, resource_type, param, value, expected):
    assert data.find(resource_type, {param: value}) == expected


# The comparison prefixes compare with the search value itself, not with its precision range
# (R4 3.1.1.4.2: "lt100: values that are less than exactly 100", likewise le, gt, ge), so `lt6`
# finds 5.5 although un-prefixed `6` means [5.5, 6.5).
@pytest.mark.parametrize(
    "resource_type, param, value, expected",
    [
        ("Observation", "value-quantity", "lt6", {"glucose"}),
        ("Observation", "value-quantity", "gt5", {"glucose", "weight1", "weight2", "hr", "p2weight"}),
        ("Observation", "value-quantity", "le72", {"glucose"}),
        ("Observation", "value-quantity", "ge73", {"weight2", "hr", "p2weight"}),
        ("RiskAssessment", "probability", "lt0.4", {"risk-low"}),
        ("RiskAssessment", "probability", "gt0.3", {"risk-low", "risk-high"}),
        ("RiskAssessment", "probability", "le0.3", set()),
        ("RiskAssessment", "probability", "ge0.4", {"risk-high"}),
    ],
)
def test_number_and_quantity_comparisons_use_the_exact_value(data, resource_type, param, value, expected):
    assert data.find(resource_type, {param: value}) == expected


# --- uri ------------------------------------------------------------------------------------


def test_uri(data):
    assert data.find("Patient", {"_profile": PROFILE}) == {"p1"}
    assert data.find("Patient", {"_profile": PROFILE.rsplit("/", 1)[0]}) == set(), "uri matches exactly"
    assert data.find("Patient", {"_profile:below": PROFILE.rsplit("/", 1)[0]}) == {"p1"}


# --- result shaping -------------------------------------------------------------------------


def test_include_revinclude_and_iterate(data, fhir):
    tagged = ("_tag", data.tag_param)
    body = fhir.search(
        "Observation", [("code", "29463-7"), ("patient", data.ids["p1"]), ("_include", "Observation:patient"), tagged]
    ).body
    modes = [(data.ids[e["resource"]["id"]], e["search"]["mode"]) for e in body["entry"]]
    assert sorted(modes) == [("p1", "include"), ("weight1", "match"), ("weight2", "match")]
    assert body.get("total", 2) == 2, "total counts matches only"

    body = fhir.search("Patient", [("_id", data.ids["p1"]), ("_revinclude", "Observation:patient"), tagged]).body
    modes = sorted((data.ids[e["resource"]["id"]], e["search"]["mode"]) for e in body["entry"])
    assert modes == sorted(
        [("p1", "match")] + [(n, "include") for n in ("weight1", "weight2", "hr", "glucose")]
    )

    body = fhir.search(
        "Observation",
        [
            ("code", "8867-4"),
            ("_include", "Observation:patient"),
            ("_include:iterate", "Patient:general-practitioner"),
            tagged,
        ],
    ).body
    assert sorted(data.ids[e["resource"]["id"]] for e in body["entry"]) == ["dr", "hr", "p1"]


def test_sort_single_descending_and_multiple_keys(data, fhir):
    def order(params):
        found = fhir.search_all("Patient", list(params) + [("_tag", data.tag_param)])
        return [data.ids[r["id"]] for r in found]

    # p1 (1980-05-17) and p3 ("1980") overlap, so only the ends are fixed by birthdate alone.
    by_birth = order([("_sort", "birthdate")])
    assert by_birth[0] == "p2" and by_birth[-1] == "p4" and len(by_birth) == 4
    by_birth_desc = order([("_sort", "-birthdate")])
    assert by_birth_desc[0] == "p4" and by_birth_desc[-1] == "p2"
    assert order([("_sort", "gender,family")]) == ["p1", "p3", "p2", "p4"]
    assert order([("_sort", "-gender,family")]) == ["p4", "p2", "p1", "p3"]
    assert order([("_sort", "gender,-family")]) == ["p3", "p1", "p2", "p4"]


def test_sort_by_last_updated(data, fhir):
    found = fhir.search_all("Patient", [("_sort", "_lastUpdated"), ("_tag", data.tag_param)])
    assert [data.ids[r["id"]] for r in found] == ["p1", "p2", "p3", "p4"], "created in this order"
    found = fhir.search_all("Patient", [("_sort", "-_lastUpdated"), ("_tag", data.tag_param)])
    assert [data.ids[r["id"]] for r in found] == ["p4", "p3", "p2", "p1"]


def test_elements_and_summary_on_read(data, fhir):
    p1 = data.ids["p1"]
    body = fhir.get(f"Patient/{p1}", params={"_elements": "gender"}).expect(200).body
    assert body["gender"] == "female" and "name" not in body and "birthDate" not in body
    assert SUBSETTED in {(t.get("system"), t.get("code")) for t in body["meta"].get("tag", [])}
    body = fhir.get(f"Patient/{p1}", params={"_summary": "true"}).expect(200).body
    assert "generalPractitioner" not in body and body["birthDate"] == "1980-05-17"
    body = fhir.get(f"Patient/{p1}", params={"_summary": "false"}).expect(200).body
    assert "generalPractitioner" in body


def test_summary_count_and_total(data, fhir):
    body = fhir.search("Patient", {"_tag": data.tag_param, "_summary": "count"}).body
    assert body["total"] == 4
    assert not body.get("entry"), "_summary=count returns no resources"
    body = fhir.search("Patient", {"_tag": data.tag_param, "_total": "accurate", "_count": 1}).body
    assert body["total"] == 4 and len(body["entry"]) == 1


def test_elements_and_summary_mark_subsetted(data, fhir):
    body = fhir.search("Patient", {"_tag": data.tag_param, "_elements": "name,gender"}).body
    assert len(body["entry"]) == 4
    for resource in (e["resource"] for e in body["entry"]):
        assert set(resource) <= {"resourceType", "id", "meta", "name", "gender"}, sorted(resource)
        assert "name" in resource and "birthDate" not in resource
        tags = {(t.get("system"), t.get("code")) for t in resource["meta"].get("tag", [])}
        assert SUBSETTED in tags, "a subsetted resource is tagged SUBSETTED"
    body = fhir.search("Patient", {"_id": data.ids["p1"], "_tag": data.tag_param, "_summary": "true"}).body
    (p1,) = [e["resource"] for e in body["entry"]]
    assert p1["birthDate"] == "1980-05-17" and p1["name"] and p1["identifier"], "summary elements kept"
    assert "generalPractitioner" not in p1, "Patient.generalPractitioner is not a summary element"
    assert SUBSETTED in {(t.get("system"), t.get("code")) for t in p1["meta"].get("tag", [])}


def test_post_search_equals_get(data, fhir):
    params = {"family": "gomez", "_tag": data.tag_param, "_sort": "birthdate"}
    get_ids = [r["id"] for r in fhir.search("Patient", params).entries()]
    posted = fhir.post("Patient/_search", data=params, headers={"Content-Type": "application/x-www-form-urlencoded"})
    posted.expect(200)
    assert posted.body["type"] == "searchset"
    assert [r["id"] for r in posted.entries()] == get_ids == [data.ids["p2"], data.ids["p1"]]
    # Parameters may be split between the URL and the body.
    mixed = fhir.post(
        "Patient/_search?family=gomez",
        data={"_tag": data.tag_param, "gender": "male"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).expect(200)
    assert [r["id"] for r in mixed.entries()] == [data.ids["p2"]]


def test_unknown_parameter_lenient_and_strict(data, fhir):
    lenient = fhir.search("Patient", {"_tag": data.tag_param, "no-such-param": "x"}).body
    matches = [e for e in lenient["entry"] if e["search"]["mode"] == "match"]
    outcomes = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert len(matches) == 4, "unknown parameter ignored"
    assert outcomes and outcomes[0]["resource"]["resourceType"] == "OperationOutcome"
    fhir.get("Patient", params={"no-such-param": "x"}, headers={"Prefer": "handling=strict"}).expect(400)


# --- paging ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paged(fhir):
    d = Data(fhir, new_tag())
    for n, given in enumerate("BCDEFGH"):
        d.add(given, {"resourceType": "Patient", "name": [{"family": "Paginado", "given": [given]}], "birthDate": f"199{n}-01-01"})
    return d


def page_names(data, response):
    return [data.ids.get(e["resource"]["id"], "?") for e in response.body.get("entry", []) if e["search"]["mode"] == "match"]


def test_count_next_previous_links(paged, fhir):
    first = fhir.search("Patient", {"_tag": paged.tag_param, "_sort": "given", "_count": 3})
    assert first.body.get("total", 7) == 7
    assert page_names(paged, first) == ["B", "C", "D"]
    assert first.link("self") and not first.link("previous")
    second = fhir.get(first.link("next")).expect(200)
    assert page_names(paged, second) == ["E", "F", "G"]
    third = fhir.get(second.link("next")).expect(200)
    assert page_names(paged, third) == ["H"] and not third.link("next")
    back = fhir.get(third.link("previous")).expect(200)
    assert page_names(paged, back) == ["E", "F", "G"]
    back = fhir.get(back.link("previous")).expect(200)
    assert page_names(paged, back) == ["B", "C", "D"]
    if first.link("last"):
        assert page_names(paged, fhir.get(first.link("last")).expect(200)) == ["H"]
    # The links point at this server's base.
    assert first.link("next").startswith(fhir.base)


def test_paging_stays_correct_while_other_writes_happen(paged, fhir):
    first = fhir.search("Patient", {"_tag": paged.tag_param, "_sort": "given", "_count": 3})
    assert page_names(paged, first) == ["B", "C", "D"]
    # Writes between pages: a new match that sorts first, a changed match, a deleted match.
    paged.add("A", {"resourceType": "Patient", "name": [{"family": "Paginado", "given": ["A"]}]})
    c = fhir.get(f"Patient/{paged.ids['C']}").body
    fhir.put(f"Patient/{c['id']}", dict(c, gender="female")).expect(200)
    seen = page_names(paged, first)
    response = first
    while response.link("next"):
        response = fhir.get(response.link("next")).expect(200)
        seen += page_names(paged, response)
    assert len(seen) == len(set(seen)), f"a match was served twice: {seen}"
    assert set("BCDEFGH") <= set(seen), f"a match was skipped: {seen}"
    fhir.delete(f"Patient/{paged.ids['A']}")


def test_paging_links_keep_the_query(paged, fhir):
    first = fhir.search("Patient", {"_tag": paged.tag_param, "_count": 2, "birthdate": "ge1993"})
    nxt = first.link("next")
    query = dict(parse_qsl(urlsplit(nxt).query))
    assert urlsplit(nxt).path.startswith(urlsplit(fhir.base).path)
    names = page_names(paged, first)
    response = first
    while response.link("next"):
        response = fhir.get(response.link("next")).expect(200)
        names += page_names(paged, response)
    assert sorted(names) == ["E", "F", "G", "H"], query


# --- $everything ----------------------------------------------------------------------------


def test_patient_everything(data, fhir):
    p1 = data.ids["p1"]
    response = fhir.get(f"Patient/{p1}/$everything").expect(200)
    assert response.body["type"] == "searchset"
    names = {data.ids.get(r["id"], r["id"]) for r in response.entries()}
    compartment = {"p1", "weight1", "weight2", "hr", "glucose", "htn", "risk-low", "risk-high"}
    assert compartment <= names, f"missing {compartment - names}"
    assert not names & {"p2", "p3", "p4", "dm2", "p2weight"}, "another patient's data leaked"


def test_patient_everything_type_count_and_since(data, fhir):
    p1 = data.ids["p1"]
    typed = fhir.get(f"Patient/{p1}/$everything", params={"_type": "Observation"}).expect(200)
    assert {r["resourceType"] for r in typed.entries()} <= {"Observation", "Patient"}
    assert {"weight1", "weight2", "hr", "glucose"} <= {data.ids.get(r["id"]) for r in typed.entries()}

    response = fhir.get(f"Patient/{p1}/$everything", params={"_count": 3}).expect(200)
    assert len(response.body["entry"]) <= 3 and response.link("next")
    names = []
    while True:
        names += [data.ids.get(e["resource"]["id"], e["resource"]["id"]) for e in response.body.get("entry", [])]
        if not response.link("next"):
            break
        response = fhir.get(response.link("next")).expect(200)
    assert len(names) == len(set(names)), f"paging repeated: {names}"
    assert {"p1", "weight1", "weight2", "hr", "glucose", "htn", "risk-low", "risk-high"} <= set(names)

    htn = fhir.get(f"Condition/{data.ids['htn']}").body
    fhir.put(f"Condition/{htn['id']}", dict(htn, onsetDateTime="2020-02-04")).expect(200)
    since = fhir.get(f"Condition/{htn['id']}").body["meta"]["lastUpdated"]
    recent = fhir.get(f"Patient/{p1}/$everything", params={"_since": since}).expect(200)
    recent_names = {data.ids.get(r["id"]) for r in recent.entries()}
    assert "htn" in recent_names and not recent_names & {"weight1", "glucose", "risk-low"}


def test_patient_everything_unknown_patient(fhir):
    fhir.get("Patient/nobody-here/$everything").expect(404)
