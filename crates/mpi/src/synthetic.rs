//! Seeded synthetic population of Mexican households, for quality and scale measurements.
//!
//! Matching quality depends on the hard negatives, so the population is built in households: siblings share
//! both surnames, phone and state; some are twins (same birth date, different given names); some sons carry
//! their father's given name. Surnames follow a skewed distribution (a head of common surnames — Hernández,
//! García, Martínez … — plus a long tail), which is what makes blocking and homonyms realistic. Nothing here
//! is real data.

use std::collections::HashSet;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::corrupt::{ErrorKind, ErrorRates, corrupt, random_phone};
use crate::curp;
use crate::date::{BirthDate, days_in_month};
use crate::evaluate::TruePair;
use crate::normalize::{self, NameKind, NormName};
use crate::record::{PersonRecord, Sex};

/// Common surnames with approximate shares (per 10,000 people); the head of the distribution.
const SURNAMES: &[(&str, u32)] = &[
    ("Hernández", 400),
    ("García", 300),
    ("Martínez", 270),
    ("López", 260),
    ("González", 250),
    ("Rodríguez", 180),
    ("Pérez", 180),
    ("Sánchez", 170),
    ("Ramírez", 160),
    ("Cruz", 130),
    ("Flores", 120),
    ("Gómez", 120),
    ("Morales", 90),
    ("Vázquez", 90),
    ("Reyes", 90),
    ("Jiménez", 80),
    ("Torres", 80),
    ("Díaz", 80),
    ("Gutiérrez", 80),
    ("Ruiz", 70),
    ("Mendoza", 70),
    ("Aguilar", 70),
    ("Ortiz", 60),
    ("Moreno", 60),
    ("Castillo", 60),
    ("Romero", 60),
    ("Álvarez", 50),
    ("Méndez", 50),
    ("Chávez", 50),
    ("Rivera", 50),
    ("Juárez", 50),
    ("Ramos", 50),
    ("Domínguez", 45),
    ("Herrera", 45),
    ("Medina", 45),
    ("Castro", 40),
    ("Vargas", 40),
    ("Guzmán", 40),
    ("Velázquez", 40),
    ("Muñoz", 35),
    ("Rojas", 35),
    ("de la Cruz", 35),
    ("Contreras", 30),
    ("Salazar", 30),
    ("Luna", 30),
    ("Ortega", 30),
    ("Santiago", 30),
    ("Guerrero", 30),
    ("Estrada", 30),
    ("Bautista", 30),
    ("Cortés", 28),
    ("Soto", 28),
    ("Alvarado", 27),
    ("Espinoza", 26),
    ("Lara", 25),
    ("Ávila", 25),
    ("Ríos", 25),
    ("Cervantes", 24),
    ("Silva", 23),
    ("Delgado", 23),
    ("Vega", 23),
    ("Márquez", 22),
    ("Sandoval", 22),
    ("Fernández", 22),
    ("León", 22),
    ("Carrillo", 21),
    ("Mejía", 21),
    ("Solís", 20),
    ("Núñez", 20),
    ("Rosas", 20),
    ("Valdez", 20),
    ("Ibarra", 20),
    ("Campos", 20),
    ("Santos", 19),
    ("Camacho", 19),
    ("Navarro", 19),
    ("Peña", 18),
    ("Maldonado", 18),
    ("Rosales", 18),
    ("Acosta", 17),
    ("Miranda", 17),
    ("Trejo", 17),
    ("Valencia", 16),
    ("Nava", 16),
    ("Pacheco", 16),
    ("Huerta", 16),
    ("Padilla", 15),
    ("Villalobos", 10),
    ("Zúñiga", 10),
    ("Yáñez", 8),
    ("Ibáñez", 5),
    ("Quiñones", 5),
    ("del Ángel", 5),
    ("Ponce de León", 3),
    ("Xolalpa", 2),
];

/// Share (per 10,000) of people whose surname is in the generated long tail.
const TAIL_SHARE: u32 = 5_000;
const TAIL_PREFIXES: &[&str] = &[
    "Arre", "Bece", "Cabre", "Esca", "Galin", "Hino", "Ledes", "Monte", "Olive", "Pala", "Quin",
    "Sepúl", "Tova", "Urbi", "Villa", "Zamu", "Alma", "Barra", "Cisne", "Dáva", "Encar", "Fuen",
    "Gali", "Iturbi", "Laba", "Mira", "Norie", "Orte", "Quiro", "Rente", "Saldí", "Tirado",
    "Uribe", "Valde", "Xico", "Yebra", "Zapa", "Ocho", "Bal", "Cara",
];
const TAIL_SUFFIXES: &[&str] = &[
    "ola", "rra", "do", "josa", "veda", "nza", "ño", "tero", "lar", "món", "cillo", "guer", "zal",
    "ndo", "rete", "dillo", "bal", "chi", "nes", "vides",
];

const FEMALE_NAMES: &[(&str, u32)] = &[
    ("María Guadalupe", 25),
    ("Guadalupe", 15),
    ("María", 20),
    ("Juana", 10),
    ("María de los Ángeles", 5),
    ("María del Carmen", 10),
    ("Rosa María", 6),
    ("Verónica", 8),
    ("Patricia", 10),
    ("Leticia", 7),
    ("Alejandra", 9),
    ("Gabriela", 8),
    ("Adriana", 8),
    ("Claudia", 7),
    ("Elizabeth", 7),
    ("Martha", 7),
    ("Yolanda", 5),
    ("Silvia", 6),
    ("Ana María", 5),
    ("Margarita", 6),
    ("Josefina", 5),
    ("Laura", 6),
    ("Mónica", 5),
    ("Araceli", 4),
    ("Sandra", 5),
    ("Teresa", 4),
    ("Rosa", 5),
    ("Lucía", 4),
    ("Fernanda", 5),
    ("Ximena", 5),
    ("Valeria", 5),
    ("Sofía", 6),
    ("Camila", 5),
    ("Daniela", 6),
    ("Andrea", 5),
    ("Mariana", 5),
    ("Karla", 4),
    ("Itzel", 4),
    ("Xóchitl", 2),
    ("Cecilia", 3),
    ("Concepción", 3),
    ("Esperanza", 3),
    ("Dulce María", 3),
    ("Ana", 4),
    ("Isabel", 3),
    ("Luz María", 3),
    ("Norma", 4),
    ("Alicia", 3),
    ("Irma", 3),
    ("Beatriz", 3),
    ("Elena", 3),
    ("Yesenia", 2),
    ("Brenda", 3),
    ("Paola", 3),
    ("Regina", 3),
    ("Renata", 2),
    ("Jimena", 3),
    ("Natalia", 3),
    ("Estefanía", 2),
    ("Nayeli", 2),
];

const MALE_NAMES: &[(&str, u32)] = &[
    ("José Luis", 20),
    ("Juan", 20),
    ("José", 15),
    ("Miguel Ángel", 15),
    ("Francisco", 12),
    ("Jesús", 12),
    ("Antonio", 10),
    ("Alejandro", 10),
    ("Pedro", 7),
    ("Juan Carlos", 10),
    ("Manuel", 8),
    ("Ricardo", 6),
    ("Fernando", 7),
    ("Roberto", 7),
    ("Jorge", 8),
    ("Carlos", 8),
    ("Luis", 7),
    ("Eduardo", 6),
    ("Javier", 6),
    ("Daniel", 6),
    ("Rafael", 5),
    ("Mario", 5),
    ("Martín", 5),
    ("Raúl", 5),
    ("Sergio", 5),
    ("Arturo", 5),
    ("Guillermo", 4),
    ("Enrique", 4),
    ("Salvador", 4),
    ("Gerardo", 4),
    ("Víctor Manuel", 4),
    ("Juan Manuel", 4),
    ("José Antonio", 5),
    ("Héctor", 4),
    ("Óscar", 4),
    ("Andrés", 3),
    ("Diego", 4),
    ("Santiago", 5),
    ("Mateo", 4),
    ("Sebastián", 4),
    ("Leonardo", 3),
    ("Emiliano", 3),
    ("Ángel", 4),
    ("Ignacio", 3),
    ("Rodrigo", 3),
    ("Gustavo", 3),
    ("Armando", 3),
    ("Alberto", 3),
    ("Joel", 2),
    ("Noel", 1),
    ("Iván", 3),
    ("Hugo", 3),
    ("Israel", 2),
    ("Abraham", 2),
    ("Xavier", 1),
    ("Jaime", 3),
    ("Gilberto", 2),
    ("Rubén", 3),
    ("Ramón", 3),
    ("Cuauhtémoc", 1),
];

/// Relative weights of the 32 states (rough population shares, per mille), in CURP-code order of
/// [`normalize::state_codes`].
const STATE_WEIGHTS: [u32; 32] = [
    11, 30, 6, 8, 25, 6, 44, 30, 73, 15, 49, 28, 25, 66, 135, 38, 16, 10, 46, 33, 52, 19, 15, 22,
    24, 23, 19, 28, 11, 64, 19, 13,
];

fn pick_weighted<'a, R: Rng + ?Sized>(rng: &mut R, items: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for (item, weight) in items {
        if ticket < *weight {
            return item;
        }
        ticket -= weight;
    }
    items.last().map_or("", |(item, _)| item)
}

fn pick_surname<R: Rng + ?Sized>(rng: &mut R) -> String {
    let head: u32 = SURNAMES.iter().map(|(_, w)| w).sum();
    if rng.random_range(0..head + TAIL_SHARE) < head {
        pick_weighted(rng, SURNAMES).to_owned()
    } else {
        let prefix = TAIL_PREFIXES[rng.random_range(0..TAIL_PREFIXES.len())];
        let suffix = TAIL_SUFFIXES[rng.random_range(0..TAIL_SUFFIXES.len())];
        format!("{prefix}{suffix}")
    }
}

fn pick_given<R: Rng + ?Sized>(rng: &mut R, sex: Sex) -> String {
    let names = if sex == Sex::Female {
        FEMALE_NAMES
    } else {
        MALE_NAMES
    };
    let first = pick_weighted(rng, names);
    // A fifth of people get a compound name built from two list entries, which widens the tail.
    if rng.random_bool(0.2) && !first.contains(' ') {
        let second = pick_weighted(rng, names);
        if second != first && !second.contains(' ') {
            return format!("{first} {second}");
        }
    }
    first.to_owned()
}

fn pick_state<R: Rng + ?Sized>(rng: &mut R) -> String {
    let codes: Vec<&str> = normalize::state_codes().filter(|c| *c != "NE").collect();
    let total: u32 = STATE_WEIGHTS.iter().sum();
    let mut ticket = rng.random_range(0..total);
    for (code, weight) in codes.iter().zip(STATE_WEIGHTS) {
        if ticket < weight {
            return (*code).to_owned();
        }
        ticket -= weight;
    }
    "DF".to_owned()
}

fn random_date<R: Rng + ?Sized>(rng: &mut R, year_min: u16, year_max: u16) -> BirthDate {
    let year = rng.random_range(year_min..=year_max.max(year_min));
    let month = rng.random_range(1..=12u8);
    let day = rng.random_range(1..=days_in_month(year, month));
    BirthDate { year, month, day }
}

fn first_letter(word: &str) -> char {
    word.chars()
        .next()
        .filter(char::is_ascii_uppercase)
        .unwrap_or('X')
}

fn first_internal(word: &str, vowel: bool) -> char {
    word.chars()
        .skip(1)
        .find(|c| c.is_ascii_uppercase() && matches!(c, 'A' | 'E' | 'I' | 'O' | 'U') == vowel)
        .unwrap_or('X')
}

/// Builds a check-digit-valid CURP following the RENAPO layout (simplified: no inconvenient-word rule, Ñ
/// folded to N). `taken` guarantees uniqueness through the homoclave.
fn build_curp(
    given: &str,
    first: &str,
    second: Option<&str>,
    date: BirthDate,
    sex: Sex,
    state: &str,
    taken: &mut HashSet<String>,
) -> Option<String> {
    let word = |raw: &str, kind| NormName::new(raw, kind).and_then(|n| n.tokens.first().cloned());
    let first_word = word(first, NameKind::Surname)?;
    let second_word = second
        .and_then(|s| word(s, NameKind::Surname))
        .unwrap_or_else(|| "X".to_owned());
    let given_name = NormName::new(given, NameKind::Given)?;
    let given_word = given_name
        .tokens
        .get(given_name.main_token_index())?
        .clone();
    let sex_char = match sex {
        Sex::Female => 'M',
        Sex::Male => 'H',
        Sex::Other | Sex::Unknown => 'X',
    };
    let stem = format!(
        "{}{}{}{}{:02}{:02}{:02}{sex_char}{state}{}{}{}",
        first_letter(&first_word),
        first_internal(&first_word, true),
        first_letter(&second_word),
        first_letter(&given_word),
        date.year % 100,
        date.month,
        date.day,
        first_internal(&first_word, false),
        first_internal(&second_word, false),
        first_internal(&given_word, false),
    );
    let homoclaves: Vec<char> = if date.year < 2000 {
        ('0'..='9').collect()
    } else {
        ('A'..='Z').collect()
    };
    for homoclave in homoclaves {
        let first17 = format!("{stem}{homoclave}");
        let digit = curp::check_digit(&first17)?;
        let full = format!("{first17}{digit}");
        if taken.insert(full.clone()) {
            return Some(full);
        }
    }
    None
}

struct Person {
    given: String,
    first: String,
    second: Option<String>,
    date: BirthDate,
    sex: Sex,
    birth_state: String,
}

fn random_sex<R: Rng + ?Sized>(rng: &mut R) -> Sex {
    if rng.random_bool(0.5) {
        Sex::Female
    } else {
        Sex::Male
    }
}

/// Probability that a person has no second surname registered (single-parent registration, foreign-born).
const NO_SECOND_SURNAME_RATE: f64 = 0.04;
/// Share of registrations that carry a CURP.
const CURP_PRESENT_RATE: f64 = 0.75;
/// Share of households with a phone on file.
const PHONE_PRESENT_RATE: f64 = 0.8;
/// Share of births that are twins.
const TWIN_RATE: f64 = 0.03;
/// Share of first sons named after their father.
const JUNIOR_RATE: f64 = 0.15;

fn household<R: Rng + ?Sized>(rng: &mut R, state: &str) -> Vec<Person> {
    let local_state = |rng: &mut R| {
        if rng.random_bool(0.8) {
            state.to_owned()
        } else {
            pick_state(rng)
        }
    };
    let adult = |rng: &mut R, sex: Sex| {
        let second = (!rng.random_bool(NO_SECOND_SURNAME_RATE)).then(|| pick_surname(rng));
        Person {
            given: pick_given(rng, sex),
            first: pick_surname(rng),
            second,
            date: random_date(rng, 1940, 2004),
            sex,
            birth_state: local_state(rng),
        }
    };
    let shape = rng.random_range(0..100u8);
    let mut people = Vec::new();
    match shape {
        0..30 => {
            let sex = random_sex(rng);
            people.push(adult(rng, sex));
        }
        30..50 => {
            people.push(adult(rng, Sex::Male));
            people.push(adult(rng, Sex::Female));
        }
        _ => {
            let father = adult(rng, Sex::Male);
            let mother = adult(rng, Sex::Female);
            let single_parent = shape >= 90;
            let oldest_parent_year = father.date.year.max(mother.date.year);
            let n_children = rng.random_range(1..=4usize);
            let mut junior_done = false;
            let mut births = 0;
            while births < n_children {
                let year_min = oldest_parent_year + 18;
                let date = random_date(rng, year_min, (year_min + 22).min(2024));
                let twins = rng.random_bool(TWIN_RATE);
                let mut given_in_birth: Vec<String> = Vec::new();
                for _ in 0..if twins { 2 } else { 1 } {
                    let sex = random_sex(rng);
                    let mut given = pick_given(rng, sex);
                    if sex == Sex::Male
                        && !junior_done
                        && !single_parent
                        && rng.random_bool(JUNIOR_RATE)
                    {
                        given = father.given.clone();
                        junior_done = true;
                    }
                    while given_in_birth.contains(&given) {
                        given = pick_given(rng, sex);
                    }
                    given_in_birth.push(given.clone());
                    let (first, second) = if single_parent {
                        (mother.first.clone(), mother.second.clone())
                    } else {
                        (father.first.clone(), Some(mother.first.clone()))
                    };
                    people.push(Person {
                        given,
                        first,
                        second,
                        date,
                        sex,
                        birth_state: local_state(rng),
                    });
                    births += 1;
                }
            }
            if !single_parent {
                people.push(father);
            }
            people.push(mother);
        }
    }
    people
}

/// Generates `n` people in households (ids `p0`, `p1` …). Deterministic for a given RNG state.
pub fn synthetic_population<R: Rng + ?Sized>(n: usize, rng: &mut R) -> Vec<PersonRecord> {
    let mut records = Vec::with_capacity(n);
    let mut taken = HashSet::new();
    while records.len() < n {
        let state = pick_state(rng);
        let phone = rng
            .random_bool(PHONE_PRESENT_RATE)
            .then(|| random_phone(rng));
        for person in household(rng, &state) {
            if records.len() >= n {
                break;
            }
            let curp = if rng.random_bool(CURP_PRESENT_RATE) {
                build_curp(
                    &person.given,
                    &person.first,
                    person.second.as_deref(),
                    person.date,
                    person.sex,
                    &person.birth_state,
                    &mut taken,
                )
            } else {
                None
            };
            records.push(PersonRecord {
                id: format!("p{}", records.len()),
                curp,
                given_names: person.given,
                first_surname: person.first,
                second_surname: person.second,
                birth_date: Some(format!(
                    "{:04}-{:02}-{:02}",
                    person.date.year, person.date.month, person.date.day
                )),
                sex: Some(person.sex),
                birth_state: Some(person.birth_state),
                address_state: Some(state.clone()),
                phone: phone.clone(),
            });
        }
    }
    records
}

/// A population with known duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabeledSet {
    pub records: Vec<PersonRecord>,
    /// Each true duplicate pair: original index, duplicate index, errors applied to the duplicate.
    pub truth: Vec<TruePair>,
}

/// Appends a corrupted re-registration for a `duplicate_fraction` of `people` (chosen at random).
pub fn with_duplicates<R: Rng + ?Sized>(
    people: Vec<PersonRecord>,
    duplicate_fraction: f64,
    rates: &ErrorRates,
    rng: &mut R,
) -> LabeledSet {
    let fraction = if duplicate_fraction.is_nan() {
        0.0
    } else {
        duplicate_fraction.clamp(0.0, 1.0)
    };
    let mut records = people;
    let n = records.len();
    let mut truth = Vec::new();
    for original in 0..n {
        if !rng.random_bool(fraction) {
            continue;
        }
        let (duplicate, errors): (PersonRecord, Vec<ErrorKind>) =
            corrupt(&records[original], rng, rates);
        truth.push(TruePair {
            a: original,
            b: records.len(),
            errors,
        });
        records.push(duplicate);
    }
    LabeledSet { records, truth }
}
