//! De-identification of a resource for the public Bulk Data export (`$export?publico=1`,
//! issue 16): the direct identifiers of people are dropped, what public health counts is
//! kept. Pure: one resource in, one out.
//!
//! What goes, and why:
//! - on people (Patient, Practitioner, PractitionerRole, RelatedPerson, Person): names,
//!   telecoms, photos, contacts, address lines, text and postal code (a postal code can be a
//!   few streets), `birthDate` cut to its year and a date of death to its month (an exact
//!   date of death with the municipality, sex and birth year names a person in a small
//!   town);
//! - on every resource: business `identifier`s (CURP, folio, cédula, or any other: each names
//!   someone in another system), narrative (`text` with a `div`, at any depth: a note's
//!   sections are narrative), free text at any depth (`note`, `comment`, `patientInstruction`,
//!   `presentedForm`, `description`, `conclusion`, `summary`, a `text` string such as a
//!   CodeableConcept's or a dosage's, `valueString` and `valueMarkdown` also in extensions:
//!   whatever a person typed may name someone; codes carry what public health counts; an
//!   `attachment` keeps its media type only), and the `display` of references (it carries the
//!   name of the patient or the clinician);
//! - identifiers *inside* references are dropped when they are personal (a CURP or a folio);
//!   a facility's CLUES stays, since where a record was made is what a state's figures need.
//!
//! Kept: resource ids and references (a pseudonymous link between the files; an id is not a
//! name), codes, dates other than birth, state and municipality of addresses, Organizations'
//! and Locations' identifiers (facilities are not people).

use fhir::Json;
use mexico::systems;

/// Resource types that describe a person.
const PERSON_TYPES: [&str; 5] = [
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "RelatedPerson",
    "Person",
];

/// Members dropped from a person resource (top level).
const PERSON_MEMBERS: [&str; 4] = ["name", "telecom", "photo", "contact"];

/// Free-text members dropped at any depth.
const FREE_TEXT: [&str; 10] = [
    "note",
    "comment",
    "patientInstruction",
    "presentedForm",
    "photo",
    "description",
    "conclusion",
    "summary",
    "valueString",
    "valueMarkdown",
];

/// Identifier systems that name a person, dropped even inside references.
const PERSONAL_SYSTEMS: [&str; 3] = [systems::CURP, systems::FOLIO, systems::CEDULA];

/// The de-identified copy of a resource.
pub fn deidentify(resource: &Json) -> Json {
    let mut out = resource.clone();
    let resource_type = resource
        .get("resourceType")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let facility = matches!(resource_type.as_str(), "Organization" | "Location");
    if let Some(object) = out.as_object_mut() {
        if !facility {
            object.remove("identifier");
        }
        if PERSON_TYPES.contains(&resource_type.as_str()) {
            for member in PERSON_MEMBERS {
                object.remove(member);
            }
            if let Some(birth) = object.get("birthDate").and_then(Json::as_str) {
                let year: String = birth.chars().take(4).collect();
                object.insert("birthDate", Json::str(year));
            }
            if let Some(death) = object.get("deceasedDateTime").and_then(Json::as_str) {
                let month: String = death.chars().take(7).collect();
                object.insert("deceasedDateTime", Json::str(month));
            }
            if let Some(addresses) = object.get_mut("address") {
                for address in array_items_mut(addresses) {
                    if let Some(a) = address.as_object_mut() {
                        a.remove("line");
                        a.remove("text");
                        a.remove("postalCode");
                    }
                }
            }
        }
    }
    scrub(&mut out);
    out
}

fn array_items_mut(value: &mut Json) -> Vec<&mut Json> {
    match value {
        Json::Array(items) => items.iter_mut().collect(),
        other => vec![other],
    }
}

/// Drops free text, narrative, reference displays and personal identifiers at every depth.
fn scrub(value: &mut Json) {
    match value {
        Json::Array(items) => items.iter_mut().for_each(scrub),
        Json::Object(object) => {
            object.retain(|key, member| {
                // `text` is narrative (an object with a `div`) or typed text (a string): both go.
                let text =
                    key == "text" && (member.get("div").is_some() || member.as_str().is_some());
                !(FREE_TEXT.contains(&key) || text)
            });
            // An attachment (a scanned note, a report's PDF) keeps only its media type: its
            // content and where to fetch it are the document itself.
            if let Some(attachment) = object.get_mut("attachment") {
                for item in array_items_mut(attachment) {
                    if let Some(a) = item.as_object_mut() {
                        a.retain(|key, _| key == "contentType");
                    }
                }
            }
            let is_reference = object.contains_key("reference")
                || (object.contains_key("identifier") && object.contains_key("type"));
            if is_reference || object.contains_key("identifier") {
                let personal = object
                    .get("identifier")
                    .and_then(|i| i.get("system"))
                    .and_then(Json::as_str)
                    .is_some_and(|s| PERSONAL_SYSTEMS.contains(&s));
                if personal {
                    object.remove("identifier");
                }
            }
            if is_reference || object.contains_key("identifier") {
                object.remove("display");
            }
            for (_, member) in object.iter_mut() {
                scrub(member);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Json {
        fhir::json::parse_str(text).expect("test JSON")
    }

    #[test]
    fn a_patient_keeps_sex_birth_year_and_state_only() {
        let patient = parse(&format!(
            r#"{{"resourceType":"Patient","id":"p1",
               "identifier":[{{"system":"{}","value":"HELG840307MJCRPD06"}}],
               "text":{{"status":"generated","div":"<div>María Guadalupe</div>"}},
               "name":[{{"family":"Hernández","given":["María"]}}],
               "telecom":[{{"system":"phone","value":"3312345678"}}],
               "gender":"female","birthDate":"1984-03-07",
               "address":[{{"line":["Calle 5 de Mayo 12"],"city":"Zapopan","state":"JC","postalCode":"45100"}}],
               "contact":[{{"name":{{"text":"Pedro"}}}}],
               "managingOrganization":{{"reference":"Organization/o1","display":"Centro de Salud"}}}}"#,
            systems::CURP
        ));
        let out = deidentify(&patient).to_json_string();
        for gone in [
            "HELG840307MJCRPD06",
            "María",
            "Hernández",
            "3312345678",
            "5 de Mayo",
            "45100",
            "Pedro",
            "1984-03-07",
            "Centro de Salud",
        ] {
            assert!(!out.contains(gone), "{gone} kept: {out}");
        }
        for kept in [
            r#""id":"p1""#,
            r#""gender":"female""#,
            r#""birthDate":"1984""#,
            r#""city":"Zapopan""#,
            r#""state":"JC""#,
            r#""reference":"Organization/o1""#,
        ] {
            assert!(out.contains(kept), "{kept} lost: {out}");
        }
    }

    #[test]
    fn clinical_records_lose_free_text_and_names_but_keep_codes_and_facilities() {
        let note = parse(&format!(
            r#"{{"resourceType":"Composition","status":"final",
               "subject":{{"reference":"Patient/p1","display":"María Hernández"}},
               "author":[{{"reference":"Practitioner/d1","display":"Dra. Ana López"}}],
               "custodian":{{"identifier":{{"system":"{clues}","value":"JCSSA001234"}},"display":"CS Jalisco"}},
               "section":[{{"title":"Padecimiento actual","code":{{"coding":[{{"code":"10164-2","display":"History"}}]}},
                            "text":{{"status":"generated","div":"<div>Refiere dolor desde ayer</div>"}}}}]}}"#,
            clues = systems::CLUES
        ));
        let out = deidentify(&note).to_json_string();
        for gone in ["María", "Ana López", "Refiere dolor", "CS Jalisco"] {
            assert!(!out.contains(gone), "{gone} kept: {out}");
        }
        for kept in [
            "JCSSA001234",
            "10164-2",
            r#""display":"History""#,
            "Patient/p1",
        ] {
            assert!(out.contains(kept), "{kept} lost: {out}");
        }
        let observation = parse(&format!(
            r#"{{"resourceType":"Observation","status":"final",
               "identifier":[{{"system":"urn:lab","value":"L-998"}}],
               "subject":{{"identifier":{{"system":"{curp}","value":"HELG840307MJCRPD06"}}}},
               "note":[{{"text":"Paciente en ayunas, hermana de Juan"}}],
               "valueQuantity":{{"value":6.5,"unit":"%"}}}}"#,
            curp = systems::CURP
        ));
        let out = deidentify(&observation).to_json_string();
        for gone in ["L-998", "HELG840307MJCRPD06", "hermana"] {
            assert!(!out.contains(gone), "{gone} kept: {out}");
        }
        assert!(out.contains(r#""value":6.5"#), "{out}");
    }

    /// What a clinician types can name someone anywhere: a diagnosis's text, a result's string
    /// value, a task's description, an extension's string. It all goes; the codes stay. A date
    /// of death keeps its month.
    #[test]
    fn typed_text_goes_at_any_depth_and_a_death_keeps_its_month() {
        let condition = parse(
            r#"{"resourceType":"Condition",
               "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"T74.1"}],
                       "text":"Maltrato físico por su esposo Rogelio"},
               "extension":[{"url":"urn:x","valueString":"vive con Rogelio en la calle Hidalgo"}],
               "evidence":[{"detail":[{"reference":"Observation/o1"}]}]}"#,
        );
        let out = deidentify(&condition).to_json_string();
        assert!(!out.contains("Rogelio"), "{out}");
        assert!(
            out.contains("T74.1") && out.contains("Observation/o1"),
            "{out}"
        );
        let task = parse(
            r#"{"resourceType":"Task","status":"requested","intent":"order",
               "description":"Llamar a la hija, Lupita, al 3312345678",
               "code":{"text":"Seguimiento"}}"#,
        );
        let out = deidentify(&task).to_json_string();
        assert!(
            !out.contains("Lupita") && !out.contains("Seguimiento"),
            "{out}"
        );
        assert!(out.contains(r#""status":"requested""#), "{out}");
        let result = parse(
            r#"{"resourceType":"DiagnosticReport","status":"final",
               "conclusion":"Compatible con la muestra de su hermano",
               "result":[{"reference":"Observation/o2"}]}"#,
        );
        let out = deidentify(&result).to_json_string();
        assert!(
            !out.contains("hermano") && out.contains("Observation/o2"),
            "{out}"
        );
        let died = parse(
            r#"{"resourceType":"Patient","gender":"male","birthDate":"1950-01-02",
               "deceasedDateTime":"2026-11-23T04:10:00-06:00"}"#,
        );
        let out = deidentify(&died).to_json_string();
        assert!(out.contains(r#""deceasedDateTime":"2026-11""#), "{out}");
        assert!(!out.contains("23T04"), "{out}");
    }
}
