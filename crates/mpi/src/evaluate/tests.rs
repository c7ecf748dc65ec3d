//! Precision/recall arithmetic of the evaluation report.

use super::*;

#[test]
fn counts_precision_and_recall_per_cumulative_grade() {
    let truth = vec![
        TruePair {
            a: 0,
            b: 10,
            errors: vec![],
        },
        TruePair {
            a: 1,
            b: 11,
            errors: vec![ErrorKind::TypoDeletion],
        },
        TruePair {
            a: 2,
            b: 12,
            errors: vec![ErrorKind::TypoDeletion, ErrorKind::MissingCurp],
        },
        TruePair {
            a: 3,
            b: 13,
            errors: vec![ErrorKind::MissingCurp],
        },
    ];
    let predicted = vec![
        (10, 0, MatchGrade::Certain), // reversed order still matches the truth pair
        (1, 11, MatchGrade::Possible),
        (1, 11, MatchGrade::Probable), // best grade wins
        (2, 12, MatchGrade::Possible),
        (5, 6, MatchGrade::Certain),  // false positive
        (7, 8, MatchGrade::Possible), // false positive
        (3, 13, MatchGrade::NoMatch), // ignored
    ];
    let report = evaluate(&truth, &predicted);
    assert_eq!(report.true_pairs, 4);
    assert_eq!(report.predicted_pairs, 5);
    let certain = report.grade(MatchGrade::Certain).unwrap();
    assert_eq!(
        (
            certain.true_positives,
            certain.false_positives,
            certain.false_negatives
        ),
        (1, 1, 3)
    );
    assert_eq!(certain.precision(), 0.5);
    assert_eq!(certain.recall(), 0.25);
    let probable = report.grade(MatchGrade::Probable).unwrap();
    assert_eq!(
        (
            probable.true_positives,
            probable.false_positives,
            probable.false_negatives
        ),
        (2, 1, 2)
    );
    let possible = report.grade(MatchGrade::Possible).unwrap();
    assert_eq!(
        (
            possible.true_positives,
            possible.false_positives,
            possible.false_negatives
        ),
        (3, 2, 1)
    );

    let row = |kind| {
        report
            .error_kinds
            .iter()
            .find(|e| e.kind == kind)
            .copied()
            .unwrap()
    };
    let typo = row(Some(ErrorKind::TypoDeletion));
    assert_eq!(
        (
            typo.pairs,
            typo.found_certain,
            typo.found_probable_or_better,
            typo.found_possible_or_better
        ),
        (2, 0, 1, 2)
    );
    let no_error = row(None);
    assert_eq!((no_error.pairs, no_error.found_certain), (1, 1));
    assert!(
        report
            .error_kinds
            .iter()
            .all(|e| e.kind != Some(ErrorKind::PhoneChanged)),
        "absent kinds have no row"
    );

    let markdown = report.to_markdown();
    assert!(
        markdown.contains("| certain | 1 | 1 | 3 | 0.5000 | 0.2500 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| typo: deletion | 2 | 0.000 | 0.500 | 1.000 |"),
        "{markdown}"
    );
}

#[test]
fn empty_inputs_are_vacuously_perfect() {
    let report = evaluate(&[], &[]);
    let certain = report.grade(MatchGrade::Certain).unwrap();
    assert_eq!((certain.precision(), certain.recall()), (1.0, 1.0));
    assert!(report.error_kinds.is_empty());
}
