//! An independent implementation of the RENAPO CURP rules, written from `shared/domain/mexico.md` (§A1)
//! and not from the `mexico` crate, so that a shared mistake is unlikely; and the test that recomputes
//! every generated CURP from the Patient's own name, birth date, gender and birth-state fields.

use crate::dataset::dataset;

const PARTICLES: [&str; 19] = [
    "DE", "DEL", "LA", "LOS", "LAS", "Y", "MC", "MAC", "VAN", "VON", "DA", "DAS", "DI", "DIE",
    "DD", "DER", "EL", "LE", "LES",
];

const INCONVENIENT: [&str; 81] = [
    "BACA", "BAKA", "BUEI", "BUEY", "CACA", "CACO", "CAGA", "CAGO", "CAKA", "CAKO", "COGE", "COGI",
    "COJA", "COJE", "COJI", "COJO", "COLA", "CULO", "FALO", "FETO", "GETA", "GUEI", "GUEY", "JETA",
    "JOTO", "KACA", "KACO", "KAGA", "KAGO", "KAKA", "KAKO", "KOGE", "KOGI", "KOJA", "KOJE", "KOJI",
    "KOJO", "KOLA", "KULO", "LILO", "LOCA", "LOCO", "LOKA", "LOKO", "MAME", "MAMO", "MEAR", "MEAS",
    "MEON", "MIAR", "MION", "MOCO", "MOKO", "MULA", "MULO", "NACA", "NACO", "PEDA", "PEDO", "PENE",
    "PIPI", "PITO", "POPO", "PUTA", "PUTO", "QULO", "RATA", "ROBA", "ROBE", "ROBO", "RUIN", "SENO",
    "TETA", "VACA", "VAGA", "VAGO", "VAKA", "VUEI", "VUEY", "WUEI", "WUEY",
];

const DICTIONARY: &str = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ";

/// Uppercase words without accents; Ñ is kept (it becomes X only where a letter is taken).
fn words(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphabetic())
                .map(|c| match c.to_uppercase().next().unwrap() {
                    'Á' | 'À' | 'Ä' => 'A',
                    'É' | 'È' | 'Ë' => 'E',
                    'Í' | 'Ì' | 'Ï' => 'I',
                    'Ó' | 'Ò' | 'Ö' => 'O',
                    'Ú' | 'Ù' | 'Ü' => 'U',
                    other => other,
                })
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn without_particles(ws: Vec<String>) -> Vec<String> {
    let kept: Vec<String> = ws
        .iter()
        .filter(|w| !PARTICLES.contains(&w.as_str()))
        .cloned()
        .collect();
    if kept.is_empty() { ws } else { kept }
}

fn surname_key(s: &str) -> Vec<char> {
    without_particles(words(s)).concat().chars().collect()
}

fn given_key(s: &str) -> Vec<char> {
    let ws = without_particles(words(s));
    let pick = if ws.len() > 1 && ["MARIA", "MA", "JOSE", "J"].contains(&ws[0].as_str()) {
        &ws[1]
    } else {
        &ws[0]
    };
    pick.chars().collect()
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'A' | 'E' | 'I' | 'O' | 'U')
}

fn letter(c: Option<char>) -> char {
    match c {
        Some('Ñ') | None => 'X',
        Some(c) => c,
    }
}

/// The first 16 characters of the CURP of a person.
pub fn prefix(
    given: &str,
    first: &str,
    second: Option<&str>,
    ymd: (i32, u32, u32),
    sex: char,
    state: &str,
) -> String {
    let f = surname_key(first);
    let s = second.map(surname_key).unwrap_or_default();
    let g = given_key(given);
    let p1 = letter(f.first().copied());
    let mut p2 = f
        .iter()
        .skip(1)
        .copied()
        .find(|&c| is_vowel(c))
        .unwrap_or('X');
    let p3 = letter(s.first().copied());
    let p4 = letter(g.first().copied());
    if INCONVENIENT.contains(&[p1, p2, p3, p4].iter().collect::<String>().as_str()) {
        p2 = 'X';
    }
    let consonant = |k: &[char]| letter(k.iter().skip(1).copied().find(|&c| !is_vowel(c)));
    format!(
        "{p1}{p2}{p3}{p4}{:02}{:02}{:02}{sex}{state}{}{}{}",
        ymd.0 % 100,
        ymd.1,
        ymd.2,
        consonant(&f),
        consonant(&s),
        consonant(&g)
    )
}

/// Weighted sum with weights 18..2 over the 37-symbol dictionary; digit = (10 − S mod 10) mod 10.
pub fn check_digit(first17: &str) -> char {
    let sum: usize = first17
        .chars()
        .enumerate()
        .map(|(i, c)| DICTIONARY.chars().position(|d| d == c).unwrap() * (18 - i))
        .sum();
    char::from_digit(((10 - sum % 10) % 10) as u32, 10).unwrap()
}

#[test]
fn reference_implementation_matches_hand_verified_examples() {
    // From shared/domain/mexico.md §A1.
    assert_eq!(check_digit("HEGG560427MVZRRL0"), '4');
    assert_eq!(check_digit("BOXW310820HNERXN0"), '9');
    assert_eq!(check_digit("RALS050314MJCMNFA"), '3');
    assert_eq!(
        prefix("Ricardo", "Alamán", Some("Pérez"), (1963, 3, 21), 'H', "DF"),
        "AAPR630321HDFLRC"
    );
    assert_eq!(
        prefix(
            "María de los Ángeles",
            "de la Cruz",
            Some("Muñoz"),
            (2001, 1, 2),
            'M',
            "JC"
        ),
        "CUMA010102MJCRXN"
    );
    assert_eq!(
        prefix("José", "Núñez", None, (1990, 5, 5), 'H', "NL"),
        "NUXJ900505HNLXXS"
    );
}

fn ext<'a>(value: &'a serde_json::Value, url: &str) -> Option<&'a serde_json::Value> {
    value["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == url)
}

#[test]
fn every_curp_recomputes_from_the_patients_own_fields() {
    let data = dataset();
    let mut checked = 0;
    let mut post_2000 = 0;
    let mut with_x_sex = 0;
    for patient in data.of("Patient").iter().chain(data.of("Practitioner")) {
        let Some(curp) = patient["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["system"] == mexico::systems::CURP)
            .map(|i| i["value"].as_str().unwrap())
        else {
            continue;
        };
        let name = &patient["name"][0];
        let given: Vec<&str> = name["given"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap())
            .collect();
        let family_ext = &name["_family"];
        let first = ext(
            family_ext,
            "http://hl7.org/fhir/StructureDefinition/humanname-fathers-family",
        )
        .unwrap()["valueString"]
            .as_str()
            .unwrap();
        let second = ext(
            family_ext,
            "http://hl7.org/fhir/StructureDefinition/humanname-mothers-family",
        )
        .map(|e| e["valueString"].as_str().unwrap());
        // `family` must be the two surnames joined by a space.
        let family = name["family"].as_str().unwrap();
        assert_eq!(
            family,
            second.map_or(first.to_owned(), |s| format!("{first} {s}"))
        );
        let birth = patient["birthDate"].as_str().unwrap();
        let ymd = (
            birth[0..4].parse().unwrap(),
            birth[5..7].parse().unwrap(),
            birth[8..10].parse().unwrap(),
        );
        let sex = match patient["gender"].as_str().unwrap() {
            "male" => 'H',
            "female" => 'M',
            "other" => 'X',
            g => panic!("unexpected gender {g}"),
        };
        // Practitioners carry no birth-state extension; their CURP's state is checked to be a real code.
        let state = match ext(patient, mexico::systems::EXT_BIRTH_STATE) {
            Some(e) => e["valueString"].as_str().unwrap().to_owned(),
            None => curp[11..13].to_owned(),
        };
        assert!(
            mexico::states::by_curp_code(&state).is_some(),
            "{curp}: state {state}"
        );
        let expected = prefix(&given.join(" "), first, second, ymd, sex, &state);
        assert_eq!(
            &curp[..16],
            expected,
            "{curp} for {given:?} {first} {second:?} {birth} {sex} {state}"
        );
        let differentiator = curp.chars().nth(16).unwrap();
        if ymd.0 < 2000 {
            assert!(differentiator.is_ascii_digit(), "{curp}");
        } else {
            assert!(differentiator.is_ascii_uppercase(), "{curp}");
            post_2000 += 1;
        }
        assert_eq!(
            curp.chars().nth(17).unwrap(),
            check_digit(&curp[..17]),
            "{curp}"
        );
        assert!(mexico::curp::validate(curp).is_ok(), "{curp}");
        with_x_sex += usize::from(sex == 'X');
        checked += 1;
    }
    assert!(checked > 1_500, "only {checked} CURPs checked");
    assert!(post_2000 > 300, "{post_2000}");
    let _ = with_x_sex;
}

#[test]
fn curps_are_unique_and_the_no_curp_share_holds() {
    let data = dataset();
    let mut curps = std::collections::BTreeSet::new();
    let mut without = 0u64;
    for patient in data.of("Patient") {
        let curp = patient["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["system"] == mexico::systems::CURP);
        let pending =
            ext(patient, mexico::systems::EXT_CURP_PENDING).map(|e| e["valueBoolean"] == true);
        match curp {
            Some(c) => {
                assert!(
                    curps.insert(c["value"].as_str().unwrap().to_owned()),
                    "duplicate {c}"
                );
                assert!(pending.is_none());
            }
            None => {
                assert_eq!(
                    pending,
                    Some(true),
                    "a patient without CURP must carry curp-pendiente"
                );
                without += 1;
            }
        }
        // Every patient has a folio from the home clinic: "<CLUES>-<number>".
        let folio = patient["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["system"] == mexico::systems::FOLIO)
            .unwrap();
        let value = folio["value"].as_str().unwrap();
        assert_eq!(value.len(), 11 + 1 + 8, "{value}");
    }
    assert_eq!(without, data.summary.patients_without_curp);
    // Default share 5 %: binomial SD on 2,000 is 0.5 %.
    let share = without as f64 / data.of("Patient").len() as f64;
    assert!((0.03..0.07).contains(&share), "{share}");
}
