//! Integrity of the formulary, ingredient, interaction and dose tables.

use std::collections::HashSet;

use super::*;
use crate::classes::{DrugClass, INGREDIENTS, ingredient, ingredients_in_text};
use crate::dose::DOSE_LIMITS;
use crate::interactions::{INTERACTIONS, Selector};

/// The keys `crates/synth/README.md` lists as in common use, and its three unverified ones.
const GENERATOR_KEYS: &[&str] = &[
    "5165", "1042", "1050", "4158", "2520", "2501", "0574", "2111", "2301", "5106", "0657", "0655",
    "4484", "4483", "0429", "0477", "1007", "1703", "1711", "0104", "0106", "2128", "2127", "3407",
    "5186", "1903", "1344", "3623", "0402",
];
const GENERATOR_UNVERIFIED: &[&str] = &["5941", "5302", "1972"];

#[test]
fn keys_are_unique_well_formed_and_complete() {
    let mut seen = HashSet::new();
    for m in FORMULARY {
        assert!(seen.insert(m.key), "{} twice", m.key);
        let parts: Vec<&str> = m.key.split('.').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [3, 3, 4, 2],
            "{}",
            m.key
        );
        assert!(
            m.key.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "{}",
            m.key
        );
        assert!(!m.generic.is_empty() && !m.form.is_empty() && !m.strength.is_empty());
        assert!(m.units_per_package > 0, "{}", m.key);
        assert!(!m.ingredient_ids.is_empty(), "{}", m.key);
        assert_eq!(
            m.ingredients().len(),
            m.ingredient_ids.len(),
            "{}: unknown ingredient",
            m.key
        );
        let atc = m.atc();
        assert!(
            (atc.len() == 7 || atc.len() == 5)
                && atc.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
            "{}: ATC {atc}",
            m.key
        );
        if let Some(mg) = m.mg_per_dose_unit {
            assert!(mg > 0.0, "{}", m.key);
        }
        assert_eq!(medicine(m.key), Some(m));
    }
    assert!(FORMULARY.len() >= 90, "{}", FORMULARY.len());
    for short in GENERATOR_KEYS {
        let m = medicine(short).unwrap_or_else(|| panic!("{short} missing"));
        assert_eq!(m.key_status, KeyStatus::GeneratorCommonUse, "{short}");
    }
    for short in GENERATOR_UNVERIFIED {
        assert_eq!(
            medicine(short).map(|m| m.key_status),
            Some(KeyStatus::Unverified),
            "{short}"
        );
    }
    assert_eq!(
        FORMULARY
            .iter()
            .filter(|m| m.key_status == KeyStatus::GeneratorCommonUse)
            .count(),
        GENERATOR_KEYS.len()
    );
}

#[test]
fn ingredients_are_unique_and_names_do_not_collide() {
    let mut ids = HashSet::new();
    let mut names: Vec<(String, &str)> = Vec::new();
    for i in INGREDIENTS {
        assert!(ids.insert(i.id), "{} twice", i.id);
        assert_eq!(crate::text::fold(i.id), i.id, "ids are folded lowercase");
        for name in std::iter::once(i.name_es)
            .chain([i.name_en])
            .chain(i.aliases.iter().copied())
        {
            names.push((crate::text::fold(name), i.id));
        }
    }
    for (name, id) in &names {
        for (other, other_id) in &names {
            assert!(
                name != other || id == other_id,
                "{name} names {id} and {other_id}"
            );
        }
        // Every name finds its own ingredient in text.
        assert!(
            ingredients_in_text(name).iter().any(|i| i.id == *id),
            "{name}"
        );
    }
    assert!(ingredient("paracetamol").is_some());
    assert_eq!(
        ingredients_in_text("Trimetoprima/Sulfametoxazol 80/400")
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        ["sulfametoxazol", "trimetoprima"]
    );
    assert!(ingredients_in_text("niega alergias").is_empty());
}

#[test]
fn every_class_has_names_and_allergy_terms_are_distinct() {
    let mut terms = HashSet::new();
    for class in DrugClass::ALL {
        assert!(!class.name_es().is_empty() && !class.name_en().is_empty());
        for term in class.allergy_terms() {
            assert!(terms.insert(crate::text::fold(term)), "{term} twice");
        }
    }
}

#[test]
fn interaction_and_dose_rows_name_known_things_and_have_sources() {
    let mut codes = HashSet::new();
    for row in INTERACTIONS {
        assert!(codes.insert(row.code), "{} twice", row.code);
        assert!(row.code.starts_with("DDI-"));
        assert!(!row.a.is_empty() && !row.b.is_empty(), "{}", row.code);
        for selector in row.a.iter().chain(row.b) {
            match selector {
                Selector::Ingredient(id) => assert!(ingredient(id).is_some(), "{}: {id}", row.code),
                Selector::Class(class) => assert!(
                    INGREDIENTS.iter().any(|i| i.classes.contains(class)),
                    "{}: no ingredient of {class:?}",
                    row.code
                ),
            }
        }
        assert!(row.source.len() > 20, "{}", row.code);
        assert!(!row.message_es.is_empty() && !row.message_en.is_empty());
    }
    assert!(INTERACTIONS.len() >= 30, "{}", INTERACTIONS.len());
    let mut limited = HashSet::new();
    for limit in DOSE_LIMITS {
        assert!(
            limited.insert(limit.ingredient),
            "{} twice",
            limit.ingredient
        );
        assert!(
            ingredient(limit.ingredient).is_some(),
            "{}",
            limit.ingredient
        );
        assert!(limit.adult_mg_per_day_max.is_some() || limit.child_mg_per_kg_day_max.is_some());
        assert!(!limit.source.is_empty());
    }
}

#[test]
fn search_and_display() {
    let amox: Vec<&str> = search_formulary("amox").iter().map(|m| m.key).collect();
    assert!(
        amox.contains(&"010.000.2128.00") && amox.contains(&"010.000.2127.00"),
        "{amox:?}"
    );
    assert_eq!(search_formulary("acetaminofen")[0].generic, "Paracetamol");
    assert_eq!(search_formulary("0104").len(), 1);
    assert!(search_formulary("").is_empty());
    assert_eq!(
        medicine("0104").map(|m| m.display()).as_deref(),
        Some("Paracetamol. Tableta 500 mg. Envase con 10 tabletas")
    );
    assert_eq!(
        medicine("010.000.1903.00").map(|m| m.atc()),
        Some("J01EE01")
    );
    assert_eq!(Route::Oral.snomed().0, "26643006");
}
