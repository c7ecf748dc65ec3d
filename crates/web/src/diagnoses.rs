//! The diagnoses of a note: several CIE-10 codes, each first-time (*primera vez*) or follow-up
//! (*subsecuente*) as GIIS-B015 reports them, chosen with the server-side typeahead of
//! `mexico::cie10::search` (codes, everyday synonyms, titles), and checked against the
//! patient's sex and age (`Cie10Entry::check`: refuse the impossible, confirm the unusual).
//!
//! Why server-side: the picker must work without JavaScript on any clinic tablet. The chosen
//! diagnoses travel as hidden fields (`dx_1`, `dx_kind_1`, …) from one render to the next; a
//! script only fetches the same choices as the user types (`GET /ui/cie10`).

use mexico::cie10::{BiologicalSex, Cie10Entry, Cie10Hit, Cie10Match, LimitStrength, PatientAge};

/// Diagnoses one note may carry. GIIS-B015 reports three per visit; a note may hold more (the
/// first three are reported).
pub const DIAGNOSES_MAX: usize = 8;

/// Choices shown for one search.
pub const CHOICES_MAX: usize = 15;

/// Longest CIE-10 query accepted (words, not prose).
pub const QUERY_CHARS_MAX: usize = 80;

/// First time this problem is diagnosed, or a follow-up of a known one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DxKind {
    First,
    FollowUp,
}

impl DxKind {
    pub fn parse(text: &str) -> Option<DxKind> {
        match text {
            "first" => Some(DxKind::First),
            "follow-up" => Some(DxKind::FollowUp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DxKind::First => "first",
            DxKind::FollowUp => "follow-up",
        }
    }

    /// As the note writes it.
    pub fn label_es(self) -> &'static str {
        match self {
            DxKind::First => "Primera vez",
            DxKind::FollowUp => "Subsecuente",
        }
    }
}

/// One chosen diagnosis.
#[derive(Clone, Debug, PartialEq)]
pub struct DxRow {
    pub entry: &'static Cie10Entry,
    pub kind: DxKind,
    /// The clinician confirmed a code unusual for this patient (`dx_confirm_N`).
    pub confirmed: bool,
}

/// What the patient's record says the checks need.
#[derive(Clone, Copy, Debug, Default)]
pub struct PatientFacts {
    pub sex: Option<BiologicalSex>,
    pub age: Option<PatientAge>,
}

impl PatientFacts {
    /// From a FHIR `gender` and the patient's age.
    pub fn new(gender: &str, age: Option<PatientAge>) -> PatientFacts {
        let sex = match gender {
            "male" => Some(BiologicalSex::Hombre),
            "female" => Some(BiologicalSex::Mujer),
            _ => None,
        };
        PatientFacts { sex, age }
    }
}

/// A problem with a chosen diagnosis (es, en), and whether confirming it is enough.
#[derive(Clone, Debug, PartialEq)]
pub struct DxProblem {
    /// 1-based row.
    pub n: usize,
    pub es: String,
    pub en: String,
    pub confirmable: bool,
}

/// The diagnoses of the form: the hidden rows, plus the code picked or typed now.
///
/// `known` are the codes of the patient's active problems (a new row of one of them defaults
/// to follow-up). `add` says whether the picked or typed code is to be added (any submit but a
/// search adds it, so a choice is never lost).
pub fn rows_from_pairs(
    pairs: &[(String, String)],
    known: &[String],
    add: bool,
) -> (Vec<DxRow>, Vec<(String, String)>) {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut rows: Vec<DxRow> = Vec::new();
    let mut errors = Vec::new();
    let removed: Option<usize> = get("remove_dx").parse().ok();
    for n in 1..=DIAGNOSES_MAX {
        let code = get(&format!("dx_{n}"));
        if code.is_empty() || removed == Some(n) {
            continue;
        }
        let Some(entry) = mexico::cie10::lookup_cie10(&code) else {
            continue;
        };
        if rows.iter().any(|r| r.entry.code == entry.code) {
            continue;
        }
        rows.push(DxRow {
            entry,
            kind: DxKind::parse(&get(&format!("dx_kind_{n}"))).unwrap_or(DxKind::First),
            confirmed: !get(&format!("dx_confirm_{n}")).is_empty(),
        });
    }
    if add {
        // The picked choice, else the query when it is itself a catalogue code.
        let picked = get("dx_code");
        let query = get("dx_query");
        let candidate = [picked.as_str(), query.as_str()]
            .into_iter()
            .filter(|c| !c.is_empty())
            .find_map(mexico::cie10::lookup_cie10);
        if let Some(entry) = candidate
            && !rows.iter().any(|r| r.entry.code == entry.code)
        {
            if rows.len() >= DIAGNOSES_MAX {
                errors.push((
                    format!("Una nota admite hasta {DIAGNOSES_MAX} diagnósticos."),
                    format!("A note holds up to {DIAGNOSES_MAX} diagnoses."),
                ));
            } else {
                let follow_up = known.iter().any(|k| k == entry.code);
                rows.push(DxRow {
                    entry,
                    kind: if follow_up {
                        DxKind::FollowUp
                    } else {
                        DxKind::First
                    },
                    confirmed: false,
                });
            }
        }
    }
    (rows, errors)
}

/// Checks every row against the patient (sex, age, reportable code).
pub fn check(rows: &[DxRow], patient: PatientFacts) -> Vec<DxProblem> {
    let mut out = Vec::new();
    for (idx, row) in rows.iter().enumerate() {
        for issue in row.entry.check(patient.sex, patient.age) {
            let confirmable = issue.strength == LimitStrength::Confirm;
            if confirmable && row.confirmed {
                continue;
            }
            out.push(DxProblem {
                n: idx + 1,
                es: issue.error.message_es(),
                en: issue.error.message_en(),
                confirmable,
            });
        }
    }
    out
}

/// One choice of the picker.
#[derive(Clone, Debug)]
pub struct Choice {
    pub code: &'static str,
    pub description: &'static str,
    /// The everyday term that found it (`presión alta`), when a synonym did.
    pub synonym: Option<&'static str>,
}

/// The picker's choices for what was typed. When every word together finds nothing (clinicians
/// write "diabetes tipo 2 descontrolada"), the longest word alone is tried.
pub fn choices(query: &str) -> Vec<Choice> {
    let query: String = query.chars().take(QUERY_CHARS_MAX).collect();
    let mut hits: Vec<Cie10Hit> = mexico::cie10::search(&query, CHOICES_MAX);
    if hits.is_empty()
        && let Some(longest) = query.split_whitespace().max_by_key(|w| w.chars().count())
        && longest.chars().count() >= 4
    {
        hits = mexico::cie10::search(longest, CHOICES_MAX);
    }
    hits.into_iter()
        .map(|hit| Choice {
            code: hit.entry.code,
            description: hit.entry.description,
            synonym: match hit.matched {
                Cie10Match::Synonym { term } => Some(term),
                _ => None,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn rows_travel_in_hidden_fields_and_a_pick_is_added_once() {
        let form = pairs(&[
            ("dx_1", "E11.9"),
            ("dx_kind_1", "follow-up"),
            ("dx_2", "I10"),
            ("dx_code", "E78.5"),
        ]);
        let (rows, errors) = rows_from_pairs(&form, &["E78.5".to_string()], true);
        assert!(errors.is_empty());
        let codes: Vec<(&str, DxKind)> = rows.iter().map(|r| (r.entry.code, r.kind)).collect();
        assert_eq!(
            codes,
            vec![
                ("E11.9", DxKind::FollowUp),
                ("I10", DxKind::First),
                // A known problem defaults to follow-up.
                ("E78.5", DxKind::FollowUp),
            ]
        );
        let mut again = form.clone();
        again.push(("dx_3".into(), "E78.5".into()));
        let (rows, _) = rows_from_pairs(&again, &[], true);
        assert_eq!(rows.len(), 3, "no code twice");
        let removed = pairs(&[("dx_1", "E11.9"), ("dx_2", "I10"), ("remove_dx", "1")]);
        let (rows, _) = rows_from_pairs(&removed, &[], false);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].entry.code, "I10");
    }

    #[test]
    fn a_typed_code_is_a_diagnosis_and_everyday_words_find_codes() {
        let (rows, _) = rows_from_pairs(&pairs(&[("dx_query", "i10")]), &[], true);
        assert_eq!(rows[0].entry.code, "I10");
        let found = choices("presión alta");
        assert_eq!(found[0].code, "I10");
        assert_eq!(found[0].synonym, Some("presión alta"));
        assert!(
            choices("lumbalgia")
                .iter()
                .any(|c| c.code.starts_with("M54"))
        );
        assert!(
            choices("control prenatal")
                .iter()
                .any(|c| c.code.starts_with("Z34"))
        );
    }

    #[test]
    fn sex_limits_refuse_and_categories_ask_for_a_subcategory() {
        let (rows, _) = rows_from_pairs(&pairs(&[("dx_1", "O80"), ("dx_2", "E11")]), &[], false);
        let man = PatientFacts::new("male", Some(PatientAge::from_years(40)));
        let problems = check(&rows, man);
        assert!(
            problems.iter().any(|p| p.n == 1 && !p.confirmable),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.n == 2 && p.es.contains("subcategorías"))
        );
    }
}
