//! Quality report of a matching run against known duplicates.
//!
//! Precision and recall are given per cumulative grade (`certain`; `certain + probable`; `… + possible`),
//! because each grade drives a different action: certain pairs may be linked automatically, probable ones
//! are suggested, possible ones go to a review queue. Recall is also broken down by the kind of clerk error,
//! which shows which rule or blocking key needs work.

use std::collections::HashMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::compare::MatchGrade;
use crate::corrupt::ErrorKind;

/// A known duplicate pair (record indices) and the errors that separate the two registrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruePair {
    pub a: usize,
    pub b: usize,
    pub errors: Vec<ErrorKind>,
}

/// Confusion counts for "grade at least `min_grade`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeStats {
    pub min_grade: MatchGrade,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl GradeStats {
    /// TP / (TP + FP); 1.0 when nothing was predicted (no false claims were made).
    pub fn precision(&self) -> f64 {
        let predicted = self.true_positives + self.false_positives;
        if predicted == 0 {
            1.0
        } else {
            self.true_positives as f64 / predicted as f64
        }
    }

    /// TP / (TP + FN); 1.0 when there was nothing to find.
    pub fn recall(&self) -> f64 {
        let actual = self.true_positives + self.false_negatives;
        if actual == 0 {
            1.0
        } else {
            self.true_positives as f64 / actual as f64
        }
    }

    fn label(&self) -> &'static str {
        match self.min_grade {
            MatchGrade::Certain => "certain",
            MatchGrade::Probable => "certain + probable",
            MatchGrade::Possible => "certain + probable + possible",
            MatchGrade::NoMatch => "any",
        }
    }
}

/// Recall for the duplicates affected by one error kind (`None` = duplicates with no error at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorKindStats {
    pub kind: Option<ErrorKind>,
    pub pairs: usize,
    pub found_certain: usize,
    pub found_probable_or_better: usize,
    pub found_possible_or_better: usize,
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub true_pairs: usize,
    pub predicted_pairs: usize,
    /// For `Certain`, `Probable`, `Possible` (cumulative, strongest first).
    pub grades: Vec<GradeStats>,
    /// One row per error kind that occurs, in [`ErrorKind::ALL`] order, plus a `None` row first.
    pub error_kinds: Vec<ErrorKindStats>,
}

impl Report {
    /// Statistics for "grade at least `min_grade`".
    pub fn grade(&self, min_grade: MatchGrade) -> Option<&GradeStats> {
        self.grades.iter().find(|g| g.min_grade == min_grade)
    }

    /// The report as two Markdown tables.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the results are ignored on purpose.
        let _ = writeln!(
            out,
            "True pairs: {}; predicted pairs (possible or better): {}\n",
            self.true_pairs, self.predicted_pairs
        );
        let _ = writeln!(out, "| grade | TP | FP | FN | precision | recall |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for g in &self.grades {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.4} | {:.4} |",
                g.label(),
                g.true_positives,
                g.false_positives,
                g.false_negatives,
                g.precision(),
                g.recall()
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| error kind | pairs | recall certain | recall ≥ probable | recall ≥ possible |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for e in &self.error_kinds {
            let _ = writeln!(
                out,
                "| {} | {} | {:.3} | {:.3} | {:.3} |",
                e.kind.map_or("(no error)", ErrorKind::label),
                e.pairs,
                ratio(e.found_certain, e.pairs),
                ratio(e.found_probable_or_better, e.pairs),
                ratio(e.found_possible_or_better, e.pairs)
            );
        }
        out
    }
}

fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// Scores predicted pairs `(i, j, grade)` against the known duplicates. Pairs graded `NoMatch` are
/// ignored; a pair predicted twice counts once with its best grade.
pub fn evaluate(truth: &[TruePair], predicted: &[(usize, usize, MatchGrade)]) -> Report {
    let mut best: HashMap<(usize, usize), MatchGrade> = HashMap::new();
    for &(a, b, grade) in predicted {
        if grade > MatchGrade::NoMatch && a != b {
            let entry = best.entry(key(a, b)).or_insert(grade);
            *entry = (*entry).max(grade);
        }
    }
    let truth_keys: HashMap<(usize, usize), &TruePair> =
        truth.iter().map(|t| (key(t.a, t.b), t)).collect();
    let grade_of = |t: &TruePair| {
        best.get(&key(t.a, t.b))
            .copied()
            .unwrap_or(MatchGrade::NoMatch)
    };

    let grades = [
        MatchGrade::Certain,
        MatchGrade::Probable,
        MatchGrade::Possible,
    ]
    .into_iter()
    .map(|min_grade| {
        let predicted_at_level = best.iter().filter(|(_, g)| **g >= min_grade);
        let (mut true_positives, mut false_positives) = (0, 0);
        for (pair, _) in predicted_at_level {
            if truth_keys.contains_key(pair) {
                true_positives += 1;
            } else {
                false_positives += 1;
            }
        }
        GradeStats {
            min_grade,
            true_positives,
            false_positives,
            false_negatives: truth_keys.len() - true_positives,
        }
    })
    .collect();

    let kinds = std::iter::once(None).chain(ErrorKind::ALL.into_iter().map(Some));
    let error_kinds = kinds
        .filter_map(|kind| {
            let affected: Vec<&TruePair> = truth_keys
                .values()
                .copied()
                .filter(|t| match kind {
                    None => t.errors.is_empty(),
                    Some(kind) => t.errors.contains(&kind),
                })
                .collect();
            if affected.is_empty() {
                return None;
            }
            let count = |min: MatchGrade| affected.iter().filter(|t| grade_of(t) >= min).count();
            Some(ErrorKindStats {
                kind,
                pairs: affected.len(),
                found_certain: count(MatchGrade::Certain),
                found_probable_or_better: count(MatchGrade::Probable),
                found_possible_or_better: count(MatchGrade::Possible),
            })
        })
        .collect();

    Report {
        true_pairs: truth_keys.len(),
        predicted_pairs: best.len(),
        grades,
        error_kinds,
    }
}

#[cfg(test)]
mod tests;
