//! Reports 5 and 6 of issue 16, counted from records already read (pure): how often the
//! repeated-laboratory warning fired and how often the test was ordered anyway, and the data
//! quality of each facility (validated CURP, duplicates awaiting review, notes short of the
//! NOM-004 minimum, encounters without a diagnosis).
//!
//! The repeated-lab warning is data, not a UI log: the consultation screen records each
//! warning it shows as a `DetectedIssue` identified in [`systems::REPEATED_LAB_WARNING`] (one
//! per patient, test, clinician and day, so a form sent back three times is one warning),
//! `preliminary` while only shown and `final` once the clinician orders the test anyway; the
//! facility is the identifier's `assigner`. So the figures sync to the hub with the record.

use std::collections::{BTreeMap, HashMap, HashSet};

use fhir::Json;
use mexico::systems;
use time::Date;

use super::calc::{Facilities, reference_id, referenced_id};
use super::dates::local_date;
use super::demand::Month;

/// One row of `repeated-tests.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepeatedTestsRow {
    pub clues: String,
    pub month: Month,
    /// Warnings shown (one per patient, test, clinician and day).
    pub warnings: u64,
    /// Of those, the tests ordered anyway.
    pub ordered_anyway: u64,
}

/// The repeated-lab warning's identifier, when a DetectedIssue is one.
fn repeat_warning_identifier(issue: &Json) -> Option<&Json> {
    issue
        .get("identifier")?
        .as_array()?
        .iter()
        .find(|i| i.get("system").and_then(Json::as_str) == Some(systems::REPEATED_LAB_WARNING))
}

/// What repeated tests keep of one patient: (facility, Mexico City day, ordered anyway) of
/// each repeated-lab warning about them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Warnings(pub Vec<(String, Date, bool)>);

/// Each patient's repeated-lab warnings, by patient id (`DetectedIssue.patient`). A warning
/// entered in error or cancelled is not counted; one naming no known facility, no day or no
/// patient neither.
pub fn warning_facts(issues: &[Json], facilities: &Facilities) -> HashMap<String, Warnings> {
    let mut out: HashMap<String, Warnings> = HashMap::new();
    for issue in issues {
        let Some(identifier) = repeat_warning_identifier(issue) else {
            continue;
        };
        let status = issue.get("status").and_then(Json::as_str).unwrap_or("");
        if matches!(status, "entered-in-error" | "cancelled") {
            continue;
        }
        let Some(patient) = reference_id(issue, "patient", "Patient") else {
            continue;
        };
        let Some(day) = issue
            .get("identifiedDateTime")
            .and_then(Json::as_str)
            .and_then(local_date)
        else {
            continue;
        };
        let Some(clues) = identifier
            .get("assigner")
            .and_then(|a| facilities.clues_of(a))
        else {
            continue;
        };
        let ordered_anyway = matches!(status, "final" | "amended" | "corrected");
        out.entry(patient.to_string())
            .or_default()
            .0
            .push((clues, day, ordered_anyway));
    }
    out
}

/// Warnings and tests ordered anyway per facility and Mexico City month, for warnings dated
/// `from..=to`.
pub fn repeated_tests<'a>(
    warnings: impl Iterator<Item = &'a Warnings>,
    from: Date,
    to: Date,
) -> Vec<RepeatedTestsRow> {
    let mut counts: BTreeMap<(&str, Month), (u64, u64)> = BTreeMap::new();
    for (clues, day, ordered_anyway) in warnings.flat_map(|w| w.0.iter()) {
        if *day < from || *day > to {
            continue;
        }
        let counted = counts
            .entry((clues.as_str(), (day.year(), u8::from(day.month()))))
            .or_default();
        counted.0 += 1;
        counted.1 += u64::from(*ordered_anyway);
    }
    counts
        .into_iter()
        .map(
            |((clues, month), (warnings, ordered_anyway))| RepeatedTestsRow {
                clues: clues.to_string(),
                month,
                warnings,
                ordered_anyway,
            },
        )
        .collect()
}

/// One row of `data-quality.csv`: one facility.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QualityRow {
    pub clues: String,
    /// Patients registered at the facility (`managingOrganization`).
    pub patients: u64,
    /// Of those, with a current CURP identifier that passes validation (format and check
    /// digit). The write path refuses malformed CURPs, so on a node this is mostly "has a
    /// CURP" (not the placeholder, not pending); records received from elsewhere are checked
    /// again here.
    pub valid_curp: u64,
    /// Open duplicate-review Tasks about a patient registered there.
    pub duplicates_pending: u64,
    /// Signed progress notes of the facility (`custodian`, else their Encounter's provider).
    pub notes: u64,
    /// Of those, short of the NOM-004 minimum ([`nom004_missing`]).
    pub notes_incomplete: u64,
    /// Finished encounters at the facility.
    pub encounters: u64,
    /// Of those, without a diagnosis (no `Encounter.diagnosis`, no Condition recorded in it).
    pub encounters_without_diagnosis: u64,
}

/// LOINC type of the progress note (*nota de evolución*).
pub const LOINC_PROGRESS_NOTE: &str = "11506-3";

/// What NOM-004-SSA3-2012 §6.2 asks of a *nota de evolución*, as sections of the note: (what,
/// LOINC section code, title prefix for sections written without a code). Besides these, the
/// note must carry its date and its author (§5.10: name and signature of who wrote it).
pub const NOM004_SECTIONS: [(&str, Option<&str>, &str); 5] = [
    ("evolución", Some("10164-2"), "Padecimiento actual"),
    ("signos vitales", Some("8716-3"), "Signos vitales"),
    ("diagnósticos", Some("51848-0"), "Análisis"),
    ("pronóstico", None, "Pronóstico"),
    ("tratamiento e indicaciones", Some("18776-5"), "Plan"),
];

/// The NOM-004 minimum elements a progress note lacks (empty when complete). A section counts
/// when it has entries or narrative other than the form's placeholder for "nothing written".
pub fn nom004_missing(note: &Json) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if note.get("date").and_then(Json::as_str).is_none() {
        missing.push("fecha");
    }
    if note
        .get("author")
        .and_then(Json::as_array)
        .is_none_or(|a| a.is_empty())
    {
        missing.push("autor");
    }
    let sections = note.get("section").and_then(Json::as_array).unwrap_or(&[]);
    for (what, code, title) in NOM004_SECTIONS {
        let found = sections.iter().any(|s| {
            let coded = code.is_some_and(|code| {
                s.get("code")
                    .and_then(|c| c.get("coding"))
                    .and_then(Json::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .any(|c| c.get("code").and_then(Json::as_str) == Some(code))
            });
            let titled = s
                .get("title")
                .and_then(Json::as_str)
                .is_some_and(|t| t.starts_with(title));
            (coded || titled) && section_has_content(s)
        });
        if !found {
            missing.push(what);
        }
    }
    missing
}

/// Entries, or narrative with some text besides dashes and spaces (the consultation writes
/// `—` for a field left empty).
fn section_has_content(section: &Json) -> bool {
    if section
        .get("entry")
        .and_then(Json::as_array)
        .is_some_and(|e| !e.is_empty())
    {
        return true;
    }
    let div = section
        .get("text")
        .and_then(|t| t.get("div"))
        .and_then(Json::as_str)
        .unwrap_or("");
    let mut inside_tag = false;
    div.chars().any(|c| match c {
        '<' => {
            inside_tag = true;
            false
        }
        '>' => {
            inside_tag = false;
            false
        }
        _ => !inside_tag && !c.is_whitespace() && c != '—' && c != '-',
    })
}

fn id_of(resource: &Json) -> Option<&str> {
    resource.get("id").and_then(Json::as_str)
}

/// Whether a Composition is a progress note (addenda, which append to a note, are not).
fn is_progress_note(composition: &Json) -> bool {
    let typed = composition
        .get("type")
        .and_then(|t| t.get("coding"))
        .and_then(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .any(|c| {
            c.get("system").and_then(Json::as_str) == Some(systems::LOINC)
                && c.get("code").and_then(Json::as_str) == Some(LOINC_PROGRESS_NOTE)
        });
    let addendum = composition
        .get("relatesTo")
        .and_then(Json::as_array)
        .is_some_and(|r| !r.is_empty());
    let signed = matches!(
        composition.get("status").and_then(Json::as_str),
        Some("final" | "amended")
    );
    typed && signed && !addendum
}

/// Whether a Condition was entered in error or refuted (never a diagnosis).
fn is_void_condition(condition: &Json) -> bool {
    condition
        .get("verificationStatus")
        .and_then(|v| v.get("coding"))
        .and_then(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .any(|c| {
            matches!(
                c.get("code").and_then(Json::as_str),
                Some("entered-in-error" | "refuted")
            )
        })
}

/// What the data-quality report reads of patients' records (the open duplicate reviews are
/// read at each view: few, and not a patient's own resources).
pub struct QualityInputs<'a> {
    pub patients: &'a [Json],
    pub compositions: &'a [Json],
    /// The Encounters of the patients read, and any other their notes name.
    pub encounters: &'a [Json],
    pub conditions: &'a [Json],
}

/// What data quality keeps of one patient.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QualityFacts {
    /// Where they are registered, and whether their CURP validates.
    pub registration: Option<(String, bool)>,
    /// (facility, short of NOM-004) of each signed progress note about them.
    pub notes: Vec<(String, bool)>,
    /// (facility, without a diagnosis) of each finished Encounter of theirs.
    pub encounters: Vec<(String, bool)>,
}

/// Each patient's data-quality facts, by patient id. A note or Encounter of no patient is not
/// counted; an Encounter's diagnosis is its own `diagnosis`, or a Condition of the same
/// patient recorded in it.
pub fn quality_facts(
    inputs: &QualityInputs<'_>,
    facilities: &Facilities,
) -> HashMap<String, QualityFacts> {
    let mut out: HashMap<String, QualityFacts> = HashMap::new();
    for patient in inputs.patients {
        let Some(id) = id_of(patient) else { continue };
        let Some(clues) = patient
            .get("managingOrganization")
            .and_then(|r| facilities.clues_of(r))
        else {
            continue;
        };
        let valid = patient
            .get("identifier")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .filter(|i| i.get("system").and_then(Json::as_str) == Some(systems::CURP))
            // An `old` CURP is history (a registry correction issued a new one).
            .filter(|i| i.get("use").and_then(Json::as_str) != Some("old"))
            .filter_map(|i| i.get("value").and_then(Json::as_str))
            .any(|v| mexico::curp::validate(v).is_ok());
        out.entry(id.to_string()).or_default().registration = Some((clues, valid));
    }
    let mut encounter_clues: HashMap<&str, String> = HashMap::new();
    for encounter in inputs.encounters {
        if let (Some(id), Some(clues)) = (
            id_of(encounter),
            encounter
                .get("serviceProvider")
                .and_then(|r| facilities.clues_of(r)),
        ) {
            encounter_clues.insert(id, clues);
        }
    }
    let diagnosed: HashSet<(&str, &str)> = inputs
        .conditions
        .iter()
        .filter(|c| !is_void_condition(c))
        .filter_map(|c| {
            let text = c.get("encounter")?.get("reference")?.as_str()?;
            Some((subject(c)?, referenced_id(text, "Encounter")?))
        })
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    for encounter in inputs.encounters {
        if encounter.get("status").and_then(Json::as_str) != Some("finished") {
            continue;
        }
        let (Some(id), Some(patient)) = (id_of(encounter), subject(encounter)) else {
            continue;
        };
        let Some(clues) = encounter_clues.get(id) else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        let with_diagnosis = encounter
            .get("diagnosis")
            .and_then(Json::as_array)
            .is_some_and(|d| !d.is_empty())
            || diagnosed.contains(&(patient, id));
        out.entry(patient.to_string())
            .or_default()
            .encounters
            .push((clues.clone(), !with_diagnosis));
    }
    for note in inputs.compositions.iter().filter(|c| is_progress_note(c)) {
        let Some(patient) = subject(note) else {
            continue;
        };
        let clues = note
            .get("custodian")
            .and_then(|r| facilities.clues_of(r))
            .or_else(|| {
                let text = note.get("encounter")?.get("reference")?.as_str()?;
                encounter_clues
                    .get(referenced_id(text, "Encounter")?)
                    .cloned()
            });
        let Some(clues) = clues else { continue };
        let incomplete = !nom004_missing(note).is_empty();
        out.entry(patient.to_string())
            .or_default()
            .notes
            .push((clues, incomplete));
    }
    out
}

/// Data quality per facility, every facility with a registered patient, a note or an
/// encounter, from the patients' facts and the open duplicate-review Tasks.
pub fn data_quality(
    facts: &HashMap<String, QualityFacts>,
    review_tasks: &[Json],
) -> Vec<QualityRow> {
    let mut rows: BTreeMap<&str, QualityRow> = BTreeMap::new();
    for held in facts.values() {
        if let Some((clues, valid)) = &held.registration {
            let r = entry(&mut rows, clues);
            r.patients += 1;
            r.valid_curp += u64::from(*valid);
        }
        for (clues, incomplete) in &held.notes {
            let r = entry(&mut rows, clues);
            r.notes += 1;
            r.notes_incomplete += u64::from(*incomplete);
        }
        for (clues, undiagnosed) in &held.encounters {
            let r = entry(&mut rows, clues);
            r.encounters += 1;
            r.encounters_without_diagnosis += u64::from(*undiagnosed);
        }
    }
    for task in review_tasks {
        let clues = task
            .get("focus")
            .and_then(|f| f.get("reference"))
            .and_then(Json::as_str)
            .and_then(|r| referenced_id(r, "Patient"))
            .and_then(|id| facts.get(id))
            .and_then(|held| held.registration.as_ref());
        if let Some((clues, _)) = clues {
            entry(&mut rows, clues).duplicates_pending += 1;
        }
    }
    rows.into_values().collect()
}

/// The patient a resource's `subject` names.
fn subject(resource: &Json) -> Option<&str> {
    reference_id(resource, "subject", "Patient")
}

/// The row of a facility, created empty on first use.
fn entry<'a, 'r>(
    rows: &'r mut BTreeMap<&'a str, QualityRow>,
    clues: &'a str,
) -> &'r mut QualityRow {
    rows.entry(clues).or_insert_with(|| QualityRow {
        clues: clues.to_string(),
        ..QualityRow::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Json {
        fhir::json::parse_str(text).expect("test JSON")
    }

    fn facilities() -> Facilities {
        let org = parse(&format!(
            r#"{{"resourceType":"Organization","id":"o1","identifier":[{{"system":"{}","value":"JCSSA001234"}}]}}"#,
            systems::CLUES
        ));
        Facilities::new(&[org], &[])
    }

    fn warning(status: &str, when: &str) -> Json {
        parse(&format!(
            r#"{{"resourceType":"DetectedIssue","status":"{status}","identifiedDateTime":"{when}",
               "patient":{{"reference":"Patient/p1"}},
               "identifier":[{{"system":"{}","value":"k","assigner":{{"reference":"Organization/o1"}}}}]}}"#,
            systems::REPEATED_LAB_WARNING
        ))
    }

    #[test]
    fn warnings_are_counted_per_facility_and_local_month_and_overrides_apart() {
        let issues = [
            warning("preliminary", "2026-03-10T10:00:00-06:00"),
            warning("final", "2026-03-11T10:00:00-06:00"),
            // 03:00 UTC on 1 April is still 31 March in Mexico City.
            warning("final", "2026-04-01T03:00:00Z"),
            warning("entered-in-error", "2026-03-12T10:00:00-06:00"),
            warning("final", "2026-04-02T10:00:00-06:00"),
            // Before the period.
            warning("final", "2026-02-28T10:00:00-06:00"),
        ];
        let day = |t: &str| super::super::dates::parse_day(t).expect("day");
        let facts = warning_facts(&issues, &facilities());
        let rows = repeated_tests(facts.values(), day("2026-03-01"), day("2026-04-30"));
        assert_eq!(
            rows,
            vec![
                RepeatedTestsRow {
                    clues: "JCSSA001234".into(),
                    month: (2026, 3),
                    warnings: 3,
                    ordered_anyway: 2
                },
                RepeatedTestsRow {
                    clues: "JCSSA001234".into(),
                    month: (2026, 4),
                    warnings: 1,
                    ordered_anyway: 1
                },
            ]
        );
    }

    #[test]
    fn a_note_without_prognosis_or_with_an_empty_history_is_short_of_nom004() {
        let complete = r#"{"resourceType":"Composition","status":"final","date":"2026-03-10","author":[{"reference":"Practitioner/p"}],
            "section":[
              {"title":"Signos vitales","code":{"coding":[{"code":"8716-3"}]},"entry":[{"reference":"Observation/o"}]},
              {"title":"Padecimiento actual y evolución (S)","code":{"coding":[{"code":"10164-2"}]},"text":{"div":"<div><p>Sed</p></div>"}},
              {"title":"Análisis y diagnósticos (A)","code":{"coding":[{"code":"51848-0"}]},"entry":[{"reference":"Condition/c"}]},
              {"title":"Plan (P)","code":{"coding":[{"code":"18776-5"}]},"text":{"div":"<div><p>Dieta</p></div>"}},
              {"title":"Pronóstico","text":{"div":"<div><p>Bueno</p></div>"}}]}"#;
        assert!(nom004_missing(&parse(complete)).is_empty());
        let empty_history = complete.replace("<p>Sed</p>", "<p>—</p>");
        assert_eq!(nom004_missing(&parse(&empty_history)), ["evolución"]);
        let no_prognosis = complete.replace("Pronóstico", "Otro");
        assert_eq!(nom004_missing(&parse(&no_prognosis)), ["pronóstico"]);
        let unsigned = complete.replace(r#""author":[{"reference":"Practitioner/p"}],"#, "");
        assert_eq!(nom004_missing(&parse(&unsigned)), ["autor"]);
    }
}
