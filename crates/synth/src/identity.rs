//! People's names and CURPs: drawing a realistic name, and deriving a CURP that is unique in the generated
//! population.
//!
//! Uniqueness: two people with the same initials, birth date, sex and birth state share the first 16
//! characters of their CURP, and RENAPO tells them apart with position 17 (the homonym differentiator).
//! In a 10-million population such clashes are common, so the generator must remember which CURPs it
//! has issued. Remembering them exactly would cost memory proportional to N; a Bloom filter of bounded
//! size costs at most [`REGISTRY_BYTES_MAX`] and is still exact where it matters: it never forgets an
//! issued CURP (no false negatives), and a false positive only makes a person take the next
//! differentiator, as a real homonym would.

use crate::data::names::{self, GivenName};
use crate::rng::{Rng, Weighted};

/// Upper bound of the CURP registry's memory: 64 MiB keeps 10 million CURPs at ~54 bits each, which puts
/// the false-positive rate near 1e-7 (k = 7); beyond that N the rate grows but uniqueness still holds.
pub(crate) const REGISTRY_BYTES_MAX: u64 = 64 << 20;
/// Bits per expected CURP when the population is small (the filter is sized from N up to the cap).
const REGISTRY_BITS_PER_ENTRY: u64 = 48;
/// Hash functions per entry.
const REGISTRY_HASHES: u64 = 7;

/// The set of CURPs issued so far (see the module docs).
pub(crate) struct CurpRegistry {
    bits: Vec<u64>,
    n_bits: u64,
}

impl CurpRegistry {
    pub(crate) fn with_capacity(expected: u64) -> CurpRegistry {
        let wanted = expected
            .saturating_mul(REGISTRY_BITS_PER_ENTRY)
            .max(1 << 16);
        let n_bits = wanted
            .min(REGISTRY_BYTES_MAX * 8)
            .next_power_of_two()
            .min(REGISTRY_BYTES_MAX * 8);
        CurpRegistry {
            bits: vec![0; (n_bits / 64) as usize],
            n_bits,
        }
    }

    fn hashes(key: &str) -> (u64, u64) {
        // FNV-1a, then a 64-bit finaliser (splitmix64) for the second hash: stable across platforms.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (h, (z ^ (z >> 31)) | 1)
    }

    fn positions(&self, key: &str) -> impl Iterator<Item = u64> + use<> {
        let (h1, h2) = Self::hashes(key);
        let mask = self.n_bits - 1;
        (0..REGISTRY_HASHES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) & mask)
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.positions(key)
            .all(|p| self.bits[(p / 64) as usize] & (1 << (p % 64)) != 0)
    }

    pub(crate) fn insert(&mut self, key: &str) {
        for p in self.positions(key) {
            self.bits[(p / 64) as usize] |= 1 << (p % 64);
        }
    }
}

/// The CURP sex of a person (and FHIR `gender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sex {
    Male,
    Female,
    /// CURP sex `X`; FHIR gender `other`.
    NonBinary,
}

impl Sex {
    pub(crate) fn fhir_gender(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::NonBinary => "other",
        }
    }
    fn curp(self) -> mexico::curp::CurpSex {
        match self {
            Sex::Male => mexico::curp::CurpSex::Hombre,
            Sex::Female => mexico::curp::CurpSex::Mujer,
            Sex::NonBinary => mexico::curp::CurpSex::NoBinario,
        }
    }
}

/// Name tables turned into sampling tables, once.
pub(crate) struct NameTables {
    male: [Weighted; 3],
    female: [Weighted; 3],
    /// One table per state (CURP code order of `mexico::states::STATES`), for regional surnames.
    surnames: Vec<Weighted>,
}

impl NameTables {
    pub(crate) fn new() -> NameTables {
        let given =
            |table: &[GivenName], era: usize| Weighted::new(table.iter().map(|(_, w)| w[era]));
        let surnames = mexico::states::STATES
            .iter()
            .map(|state| {
                Weighted::new(names::SURNAMES.iter().map(|&(_, w, states, factor)| {
                    if states.contains(&state.curp_code) {
                        w * factor
                    } else {
                        w
                    }
                }))
            })
            .collect();
        NameTables {
            male: [
                given(names::MALE, 0),
                given(names::MALE, 1),
                given(names::MALE, 2),
            ],
            female: [
                given(names::FEMALE, 0),
                given(names::FEMALE, 1),
                given(names::FEMALE, 2),
            ],
            surnames,
        }
    }

    /// A given name (possibly compound) for someone of this sex born in this year.
    pub(crate) fn given(&self, rng: &mut Rng, sex: Sex, birth_year: i32) -> &'static str {
        let era = names::era(birth_year);
        let male = match sex {
            Sex::Male => true,
            Sex::Female => false,
            Sex::NonBinary => rng.chance(0.5),
        };
        if male {
            names::MALE[self.male[era].sample(rng)].0
        } else {
            names::FEMALE[self.female[era].sample(rng)].0
        }
    }

    /// A surname as it is frequent in the state with index `state_idx` (into `mexico::states::STATES`).
    pub(crate) fn surname(&self, rng: &mut Rng, state_idx: usize) -> &'static str {
        let table = &self.surnames[state_idx.min(self.surnames.len() - 1)];
        names::SURNAMES[table.sample(rng)].0
    }
}

/// Everything a CURP is derived from, as the generator stores it.
pub(crate) struct PersonName {
    pub(crate) given: &'static str,
    pub(crate) first_surname: &'static str,
    pub(crate) second_surname: Option<&'static str>,
}

impl PersonName {
    pub(crate) fn draw(
        tables: &NameTables,
        rng: &mut Rng,
        sex: Sex,
        birth_year: i32,
        state_idx: usize,
    ) -> PersonName {
        let given = tables.given(rng, sex, birth_year);
        let first_surname = tables.surname(rng, state_idx);
        let second_surname = if rng.chance(names::SINGLE_SURNAME_SHARE) {
            None
        } else {
            Some(tables.surname(rng, state_idx))
        };
        PersonName {
            given,
            first_surname,
            second_surname,
        }
    }

    /// `family` as written in Mexico: both surnames separated by a space.
    pub(crate) fn family(&self) -> String {
        match self.second_surname {
            Some(second) => format!("{} {}", self.first_surname, second),
            None => self.first_surname.to_owned(),
        }
    }

    /// The full name as it is said: given names, then surnames.
    pub(crate) fn text(&self) -> String {
        format!("{} {}", self.given, self.family())
    }

    /// The given names split into words for FHIR `given` ("María de los Ángeles" stays one name,
    /// "José Luis" becomes two), following how RENAPO records particles inside given names.
    pub(crate) fn given_parts(&self) -> Vec<&'static str> {
        if self.given.contains(" de ") || self.given.contains(" del ") {
            vec![self.given]
        } else {
            self.given.split(' ').collect()
        }
    }
}

/// Derives a CURP unique within `registry` and records it. `None` when the mexico crate refuses the data
/// (it never does for our tables) or all ten/twenty-six differentiators are taken.
pub(crate) fn issue_curp(
    registry: &mut CurpRegistry,
    rng: &mut Rng,
    name: &PersonName,
    birth: (i32, u32, u32),
    sex: Sex,
    birth_state: &str,
) -> Option<String> {
    let person = mexico::curp::CurpPerson {
        given_names: name.given,
        first_surname: name.first_surname,
        second_surname: name.second_surname,
        birth_date: birth,
        sex: sex.curp(),
        birth_state,
    };
    // RENAPO mostly issues 0 (before 2000) or A (from 2000) for a first holder; a few start higher.
    let start = if rng.chance(0.03) { 1 } else { 0 };
    let slots = if birth.0 < 2000 { 10 } else { 26 };
    for n in start..slots {
        let curp = mexico::curp::derive(&person, n).ok()?;
        let key = curp.as_str();
        if !registry.contains(key) {
            registry.insert(key);
            return Some(key.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{CurpRegistry, NameTables, PersonName, Sex, issue_curp};
    use crate::rng::Rng;

    #[test]
    fn registry_never_forgets() {
        let mut registry = CurpRegistry::with_capacity(1000);
        let keys: Vec<String> = (0..5000).map(|i| format!("KEY{i:06}")).collect();
        for k in &keys {
            registry.insert(k);
        }
        assert!(keys.iter().all(|k| registry.contains(k)));
        let false_positives = (0..5000)
            .filter(|i| registry.contains(&format!("OTHER{i}")))
            .count();
        assert!(false_positives < 250, "{false_positives}");
    }

    #[test]
    fn homonyms_get_distinct_differentiators() {
        let tables = NameTables::new();
        let mut rng = Rng::new(3, 0);
        let mut registry = CurpRegistry::with_capacity(10);
        let name = PersonName {
            given: "Juan",
            first_surname: "Hernández",
            second_surname: Some("López"),
        };
        let a = issue_curp(
            &mut registry,
            &mut rng,
            &name,
            (1980, 5, 1),
            Sex::Male,
            "JC",
        )
        .unwrap();
        let b = issue_curp(
            &mut registry,
            &mut rng,
            &name,
            (1980, 5, 1),
            Sex::Male,
            "JC",
        )
        .unwrap();
        assert_eq!(a[..16], b[..16]);
        assert_ne!(a, b);
        assert!(mexico::curp::validate(&b).is_ok());
        let given = tables.given(&mut rng, Sex::Female, 2015);
        assert!(!given.is_empty());
    }
}
