//! Prevalences and vaccination coverage within the targets documented in the crate README.

use std::collections::{BTreeMap, BTreeSet};

use crate::dataset::dataset;

/// Age in whole years at the default end date 2026-11-01.
fn age(birth: &str) -> i64 {
    let (y, m, d): (i64, i64, i64) = (
        birth[0..4].parse().unwrap(),
        birth[5..7].parse().unwrap(),
        birth[8..10].parse().unwrap(),
    );
    2026 - y - i64::from((11, 1) < (m, d))
}

struct People {
    age: BTreeMap<String, i64>,
    sex: BTreeMap<String, String>,
    conditions: BTreeMap<String, BTreeSet<String>>,
    encounters: BTreeMap<String, usize>,
    /// (patient, CVX) → doses.
    doses: BTreeMap<(String, String), usize>,
}

fn people() -> People {
    let data = dataset();
    let mut p = People {
        age: BTreeMap::new(),
        sex: BTreeMap::new(),
        conditions: BTreeMap::new(),
        encounters: BTreeMap::new(),
        doses: BTreeMap::new(),
    };
    for r in data.of("Patient") {
        let key = format!("Patient/{}", r["id"].as_str().unwrap());
        p.age
            .insert(key.clone(), age(r["birthDate"].as_str().unwrap()));
        p.sex.insert(key, r["gender"].as_str().unwrap().to_owned());
    }
    for c in data.of("Condition") {
        p.conditions
            .entry(c["subject"]["reference"].as_str().unwrap().to_owned())
            .or_default()
            .insert(c["code"]["coding"][0]["code"].as_str().unwrap().to_owned());
    }
    for e in data.of("Encounter") {
        *p.encounters
            .entry(e["subject"]["reference"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for i in data.of("Immunization") {
        let key = (
            i["patient"]["reference"].as_str().unwrap().to_owned(),
            i["vaccineCode"]["coding"][0]["code"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        *p.doses.entry(key).or_default() += 1;
    }
    p
}

fn share(people: &People, who: &[&String], code: &str) -> f64 {
    let n = who
        .iter()
        .filter(|k| people.conditions.get(**k).is_some_and(|c| c.contains(code)))
        .count();
    n as f64 / who.len() as f64
}

#[test]
fn chronic_disease_prevalence_among_adults_is_within_targets() {
    let people = people();
    let adults: Vec<&String> = people
        .age
        .iter()
        .filter(|(_, a)| **a >= 20)
        .map(|(k, _)| k)
        .collect();
    assert!(adults.len() > 1_100, "{}", adults.len());
    // Targets (README, from ENSANUT 2022): diagnosed type 2 diabetes 12 %, diagnosed hypertension 20 %,
    // obesity 36 % of measured adults. Tolerances are about 3 binomial SDs for ~1,300 adults.
    let diabetes = share(&people, &adults, "E11.9");
    let hypertension = share(&people, &adults, "I10");
    assert!((0.09..=0.155).contains(&diabetes), "diabetes {diabetes}");
    assert!(
        (0.16..=0.245).contains(&hypertension),
        "hypertension {hypertension}"
    );
    let measured: Vec<&String> = adults
        .iter()
        .copied()
        .filter(|k| people.encounters.get(*k).is_some_and(|n| *n > 0))
        .collect();
    assert!(measured.len() as f64 > 0.9 * adults.len() as f64);
    let obesity = share(&people, &measured, "E66.9");
    assert!((0.31..=0.42).contains(&obesity), "obesity {obesity}");

    // Diabetes rises with age: the 60+ have at least four times the prevalence of the 20–39.
    let young: Vec<&String> = adults
        .iter()
        .copied()
        .filter(|k| people.age[*k] < 40)
        .collect();
    let old: Vec<&String> = adults
        .iter()
        .copied()
        .filter(|k| people.age[*k] >= 60)
        .collect();
    assert!(share(&people, &old, "E11.9") > 4.0 * share(&people, &young, "E11.9"));
    // No diabetes or hypertension diagnosed in children.
    let children: Vec<&String> = people
        .age
        .iter()
        .filter(|(_, a)| **a < 15)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(share(&people, &children, "E11.9"), 0.0);
}

#[test]
fn sex_and_age_specific_diagnoses_respect_their_limits() {
    let people = people();
    for (patient, codes) in &people.conditions {
        let age = people.age[patient];
        let sex = &people.sex[patient];
        for code in codes {
            if code.starts_with("Z34") || code.starts_with("O24") {
                assert_eq!(sex, "female", "{patient} {code}");
                assert!((14..=50).contains(&age), "{patient} {code} age {age}");
            }
        }
    }
    // Acute respiratory infections are the most frequent diagnosis, and children under 5 consult for
    // diarrhoea more than adults do.
    let data = dataset();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in data.of("Condition") {
        *counts
            .entry(c["code"]["coding"][0]["code"].as_str().unwrap())
            .or_default() += 1;
    }
    let top = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(c, _)| *c)
        .unwrap();
    assert!(
        ["J00", "J06.9"].contains(&top),
        "most frequent diagnosis {top}"
    );
    let with = |pred: &dyn Fn(i64) -> bool, code: &str| {
        let who: Vec<&String> = people
            .age
            .iter()
            .filter(|(_, a)| pred(**a))
            .map(|(k, _)| k)
            .collect();
        share(&people, &who, code)
    };
    assert!(with(&|a| a < 5, "A09") > 2.0 * with(&|a| a >= 20, "A09"));
}

#[test]
fn vaccination_coverage_is_realistic_not_total() {
    let people = people();
    let children: Vec<&String> = people
        .age
        .iter()
        .filter(|(_, a)| (1..=4).contains(*a))
        .map(|(k, _)| k)
        .collect();
    assert!(children.len() > 80, "{}", children.len());
    let coverage = |cvx: &str, doses: usize| {
        let n = children
            .iter()
            .filter(|k| {
                people
                    .doses
                    .get(&((**k).clone(), cvx.to_owned()))
                    .is_some_and(|d| *d >= doses)
            })
            .count();
        n as f64 / children.len() as f64
    };
    // Targets (README, ENSANUT 2021–2022 vaccination module): BCG ~94 %, third hexavalent dose ~84 %,
    // first SRP ~88 %; never 100 %.
    let bcg = coverage("19", 1);
    let hexa3 = coverage("146", 3);
    let mmr1 = coverage("03", 1);
    assert!((0.85..0.995).contains(&bcg), "BCG {bcg}");
    assert!((0.72..0.95).contains(&hexa3), "hexavalent x3 {hexa3}");
    assert!((0.75..0.97).contains(&mmr1), "SRP {mmr1}");
    assert!(hexa3 < bcg);
    // Older adults: pneumococcal 23 at 65+ for roughly 40 %.
    let old: Vec<&String> = people
        .age
        .iter()
        .filter(|(_, a)| **a >= 66)
        .map(|(k, _)| k)
        .collect();
    let ppsv = old
        .iter()
        .filter(|k| people.doses.contains_key(&((**k).clone(), "33".to_owned())))
        .count() as f64
        / old.len() as f64;
    assert!((0.2..0.6).contains(&ppsv), "PPSV23 {ppsv}");
}

#[test]
fn vital_signs_follow_the_person() {
    let data = dataset();
    let people = people();
    // Mean capillary glucose of diabetics is well above that of non-diabetics.
    let (mut dm, mut non) = (Vec::new(), Vec::new());
    for o in data.of("Observation") {
        if o["code"]["coding"][0]["code"] != "2339-0" {
            continue;
        }
        let who = o["subject"]["reference"].as_str().unwrap();
        let value = o["valueQuantity"]["value"].as_f64().unwrap();
        if people
            .conditions
            .get(who)
            .is_some_and(|c| c.contains("E11.9"))
        {
            dm.push(value);
        } else {
            non.push(value);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&dm) > mean(&non) + 40.0,
        "diabetic {} vs {}",
        mean(&dm),
        mean(&non)
    );
    // Blood pressure panels have systolic above diastolic; BMI matches weight and height.
    // Per encounter: weight, height, BMI.
    let mut by_encounter: BTreeMap<&str, [Option<f64>; 3]> = BTreeMap::new();
    for o in data.of("Observation") {
        let code = o["code"]["coding"][0]["code"].as_str().unwrap();
        if code == "85354-9" {
            let s = o["component"][0]["valueQuantity"]["value"]
                .as_f64()
                .unwrap();
            let d = o["component"][1]["valueQuantity"]["value"]
                .as_f64()
                .unwrap();
            assert!(s > d, "{s}/{d}");
        }
        let enc = o["encounter"]["reference"].as_str().unwrap();
        let v = o["valueQuantity"]["value"].as_f64();
        let slot = by_encounter.entry(enc).or_default();
        match code {
            "29463-7" => slot[0] = v,
            "8302-2" => slot[1] = v,
            "39156-5" => slot[2] = v,
            _ => {}
        }
    }
    let mut checked = 0;
    for slot in by_encounter.values() {
        if let [Some(w), Some(h), Some(b)] = slot {
            let computed = w / (h / 100.0) / (h / 100.0);
            assert!((computed - b).abs() < 0.11, "BMI {b} vs {computed}");
            assert!((10.0..70.0).contains(b), "{b}");
            checked += 1;
        }
    }
    assert!(checked > 1_000);
}
