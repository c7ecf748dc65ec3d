//! Unit tests for the state table: the code list of mexico.md §A1, INEGI numbering and census totals.

use super::*;

/// The CURP code list exactly as printed in mexico.md §A1 (position 12–13 row).
const MEXICO_MD_CODES: &str = "AS BC BS CC CL CM CS CH DF DG GT GR HG JC MC MN MS NT NL OC PL QT QR SP SL SR TC TS TL VZ YN ZS NE";

#[test]
fn codes_match_the_domain_document() {
    let ours: Vec<&str> = STATES.iter().map(|s| s.curp_code).collect();
    let doc: Vec<&str> = MEXICO_MD_CODES.split(' ').collect();
    assert_eq!(ours, doc);
}

#[test]
fn inegi_codes_are_01_to_32_in_order() {
    let inegi: Vec<&str> = federal_entities().filter_map(|s| s.inegi_code).collect();
    let expected: Vec<String> = (1..=32).map(|n| format!("{n:02}")).collect();
    assert_eq!(inegi, expected);
    assert_eq!(federal_entities().count(), 32);
}

#[test]
fn census_total_matches_inegi() {
    let entities: u64 = federal_entities()
        .map(|s| u64::from(s.population_2020))
        .sum();
    assert_eq!(entities, 126_014_024);
    assert_eq!(POPULATION_2020_TOTAL, entities + 1_212_252);
}

#[test]
fn lookups() {
    assert_eq!(by_curp_code("DF").map(|s| s.name), Some("Ciudad de México"));
    assert_eq!(by_curp_code("JC").and_then(|s| s.inegi_code), Some("14"));
    assert_eq!(by_inegi_code("15").map(|s| s.curp_code), Some("MC"));
    assert_eq!(
        by_curp_code(BORN_ABROAD).map(State::is_federal_entity),
        Some(false)
    );
    assert_eq!(by_curp_code("jc"), None, "lookups are exact");
    assert_eq!(by_curp_code("CX"), None, "CDMX keeps DF");
    assert_eq!(by_inegi_code("33"), None);
    assert_eq!(by_inegi_code("00"), None);
}

#[test]
fn pick_by_population_follows_cumulative_weights() {
    // Aguascalientes owns the first 1,425,607 points, Baja California the next 3,769,020.
    assert_eq!(pick_by_population(0).curp_code, "AS");
    assert_eq!(pick_by_population(1_425_606).curp_code, "AS");
    assert_eq!(pick_by_population(1_425_607).curp_code, "BC");
    assert_eq!(pick_by_population(1_425_607 + 3_769_020).curp_code, "BS");
    assert_eq!(
        pick_by_population(POPULATION_2020_TOTAL - 1).curp_code,
        "NE"
    );
    assert_eq!(
        pick_by_population(POPULATION_2020_TOTAL).curp_code,
        "AS",
        "wraps around"
    );
    assert_eq!(
        pick_by_population(u64::MAX).curp_code,
        pick_by_population(u64::MAX % POPULATION_2020_TOTAL).curp_code
    );
}

#[test]
fn pick_by_population_shares_are_proportional() {
    // Walk the point space evenly; the State of Mexico (largest entity)
    // must get about 13 % and Colima (smallest) about 0.6 %.
    let n = 100_000u64;
    let stride = POPULATION_2020_TOTAL / n;
    let mut mexico = 0u64;
    let mut colima = 0u64;
    for i in 0..n {
        match pick_by_population(i * stride).curp_code {
            "MC" => mexico += 1,
            "CM" => colima += 1,
            _ => {}
        }
    }
    let expected_mexico = 16_992_418 * n / POPULATION_2020_TOTAL;
    let expected_colima = 731_391 * n / POPULATION_2020_TOTAL;
    assert!(
        mexico.abs_diff(expected_mexico) <= 2,
        "{mexico} vs {expected_mexico}"
    );
    assert!(
        colima.abs_diff(expected_colima) <= 2,
        "{colima} vs {expected_colima}"
    );
}
