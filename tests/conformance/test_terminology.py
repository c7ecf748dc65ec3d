"""Terminology operations on the catalogues the node ships (CIE-10, and the LOINC and CNIS
subsets its forms use), as a third-party client calls them: $lookup, $validate-code, $expand
(Spanish, accent-insensitive), $translate."""

from conftest import new_tag  # noqa: F401  (the shared fixtures live in conftest)

CIE10 = "http://hl7.org/fhir/sid/icd-10"
ALL = CIE10 + "?fhir_vs"
LOINC = "http://loinc.org"
CNIS = "https://expediente.salud.gob.mx/fhir/sid/cnis"


def param(parameters, name):
    for p in parameters["parameter"]:
        if p["name"] == name:
            return next(v for k, v in p.items() if k.startswith("value") or k == "part")
    return None


def test_lookup_gives_the_spanish_title_and_the_giis_form(fhir):
    found = fhir.get("CodeSystem/$lookup", params={"system": CIE10, "code": "E11.9"}).expect(200).body
    assert found["resourceType"] == "Parameters"
    assert "diabetes" in param(found, "display").lower()
    # The GIIS file form of a dotted code, and a category is not selectable.
    assert any(
        part["name"] == "property" and {"name": "value", "valueString": "E119"} in part["part"]
        for part in found["parameter"]
    ), found
    category = fhir.get("CodeSystem/$lookup", params={"system": CIE10, "code": "E11"}).expect(200).body
    assert any(
        part["name"] == "property" and {"name": "value", "valueBoolean": True} in part["part"]
        for part in category["parameter"]
    ), category
    fhir.get("CodeSystem/$lookup", params={"system": CIE10, "code": "ZZ9.9"}).expect(404)
    fhir.get("CodeSystem/$lookup", params={"system": "http://loinc.org", "code": "1-8"}).expect(404)
    fhir.get("CodeSystem/$lookup", params={"code": "E11.9"}).expect(400)


def test_validate_code_checks_the_code_and_its_display(fhir):
    ok = fhir.get("ValueSet/$validate-code", params={"url": ALL, "system": CIE10, "code": "I10"}).expect(200).body
    assert param(ok, "result") is True
    wrong = fhir.get("CodeSystem/$validate-code", params={"url": CIE10, "code": "X99.99"}).expect(200).body
    assert param(wrong, "result") is False
    display = param(ok, "display")
    # Accents and case do not matter; another title does.
    same = fhir.post("CodeSystem/$validate-code", {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": CIE10}, {"name": "code", "valueCode": "I10"},
        {"name": "display", "valueString": display.upper()}]}).expect(200).body
    assert param(same, "result") is True
    other = fhir.get("CodeSystem/$validate-code", params={"url": CIE10, "code": "I10", "display": "Gripe"}).expect(200).body
    assert param(other, "result") is False and "Gripe" in param(other, "message")


def test_expand_filters_in_spanish_without_accents_and_pages(fhir):
    expanded = fhir.get("ValueSet/$expand", params={"url": ALL, "filter": "presion alta", "count": 5}).expect(200).body
    codes = [c["code"] for c in expanded["expansion"]["contains"]]
    assert codes and codes[0] == "I10", codes
    page = fhir.get("ValueSet/$expand", params={"url": ALL, "filter": "diabetes", "count": 3, "offset": 3}).expect(200).body
    first = fhir.get("ValueSet/$expand", params={"url": ALL, "filter": "diabetes", "count": 6}).expect(200).body
    assert [c["code"] for c in page["expansion"]["contains"]] == [c["code"] for c in first["expansion"]["contains"]][3:6]
    # The whole catalogue is not expanded without a filter.
    fhir.get("ValueSet/$expand", params={"url": ALL}).expect(403)
    fhir.get("ValueSet/$expand", params={"url": ALL, "filter": "x", "count": "muchos"}).expect(400)


def test_translate_to_the_giis_form(fhir):
    translated = fhir.get("ConceptMap/$translate", params={"system": CIE10, "code": "I10"}).expect(200).body
    assert param(translated, "result") is True
    match = next(p for p in translated["parameter"] if p["name"] == "match")
    concept = next(p["valueCoding"] for p in match["part"] if p["name"] == "concept")
    assert concept["code"] == "I10X"


def test_the_capability_statement_declares_them(fhir):
    statement = fhir.get("metadata").expect(200).body
    declared = {
        (r["type"], o["name"])
        for r in statement["rest"][0]["resource"]
        for o in r.get("operation", [])
    }
    for pair in [("CodeSystem", "lookup"), ("CodeSystem", "validate-code"), ("ValueSet", "expand"),
                 ("ValueSet", "validate-code"), ("ConceptMap", "translate")]:
        assert pair in declared, pair


def properties(parameters):
    return {
        next(p["valueCode"] for p in part["part"] if p["name"] == "code"):
        next(v for p in part["part"] if p["name"] == "value" for k, v in p.items() if k.startswith("value"))
        for part in parameters["parameter"] if part["name"] == "property"
    }


def test_the_loinc_studies_the_ui_orders_are_a_code_system(fhir):
    hba1c = fhir.get("CodeSystem/$lookup", params={"system": LOINC, "code": "4548-4"}).expect(200).body
    assert "HbA1c" in param(hba1c, "display"), hba1c
    assert properties(hba1c)["kind"] == "Laboratorio"
    fhir.get("CodeSystem/$lookup", params={"system": LOINC, "code": "1-8"}).expect(404)
    # A short list: the whole value set expands without a filter.
    every = fhir.get("ValueSet/$expand", params={"url": LOINC + "?fhir_vs", "count": 100}).expect(200).body
    codes = [c["code"] for c in every["expansion"]["contains"]]
    assert "4548-4" in codes and "36643-5" in codes and len(codes) >= 10, codes
    assert all(c["system"] == LOINC for c in every["expansion"]["contains"])
    chest = fhir.get("ValueSet/$expand", params={"url": LOINC + "?fhir_vs", "filter": "radiografia TORAX"}).expect(200).body
    assert [c["code"] for c in chest["expansion"]["contains"]] == ["36643-5"], chest
    ok = fhir.get("CodeSystem/$validate-code", params={"system": LOINC, "code": "2339-0", "display": "glucosa"}).expect(200).body
    assert param(ok, "result") is True
    # Only CIE-10 has a map.
    fhir.get("ConceptMap/$translate", params={"system": LOINC, "code": "2339-0"}).expect(404)


def test_the_cnis_formulary_subset_is_a_code_system_that_says_which_keys_are_unverified(fhir):
    found = fhir.get("ValueSet/$expand", params={"url": CNIS + "?fhir_vs", "filter": "paracetamol"}).expect(200).body
    contains = found["expansion"]["contains"]
    assert contains and all("aracetamol" in c["display"] for c in contains), contains
    key = contains[0]["code"]
    looked = fhir.get("CodeSystem/$lookup", params={"system": CNIS, "code": key}).expect(200).body
    assert param(looked, "display") == contains[0]["display"]
    props = properties(looked)
    assert props["generic"].lower().startswith("paracetamol") and isinstance(props["verified"], bool), props
    # The four-digit shorthand the prescribing form accepts finds the same key.
    short = fhir.get("CodeSystem/$lookup", params={"system": CNIS, "code": key[8:12]}).expect(200).body
    assert properties(short)["code"] == key
    unknown = fhir.get("CodeSystem/$validate-code", params={"system": CNIS, "code": "999.999.9999.99"}).expect(200).body
    assert param(unknown, "result") is False and "CNIS" in param(unknown, "message")
    fhir.get("ValueSet/$expand", params={"url": "http://otro.example/vs"}).expect(404)
