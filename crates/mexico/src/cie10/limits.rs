//! Sex and age limits of CIE-10 codes: a reviewed rule table, not the DGIS catalogue.
//!
//! DGIS's `DIAGNOSTICO_SIS` carries per-code `LSEX`/`LINF`/`LSUP`, but no package reachable from
//! the development machines ships it (see `crates/mexico/data/README.md`). Until it is loaded,
//! limits are derived here from documented rules, each row naming its source:
//!
//! * [`WHO_VOL2`]: the categories WHO's ICD-10 Instruction Manual (Volume 2) lists as limited to
//!   one sex, used by WHO's own consistency checks. Transcribed by hand and reviewed.
//! * [`DGIS_PREGNANCY`]: pregnancy, childbirth and puerperium only for women aged 9 to 59, the DGIS
//!   limit quoted in `shared/domain/mexico.md` §A3. Refused outside it.
//! * [`OURS_PERINATAL`]: chapter XVI (P00–P96) and Z38 describe newborns. WHO's chapter note allows
//!   them later in life when the condition began in the perinatal period, so outside the first
//!   year of life they ask for confirmation instead of being refused. The one-year line is ours.
//!
//! A range `from..=to` holds a code when `from <= code` and the code is `to` or below it, so
//! `D07.0..=D07.3` holds `D07.2` but not the category `D07`, whose other subcategories are male.

use super::{AgeBound, AgeLimit, LimitStrength, SexLimit};

/// Source of the sex rows.
pub const WHO_VOL2: &str =
    "OMS, CIE-10 Volumen 2 (Manual de instrucciones): categorías limitadas a un sexo";
/// Source of the pregnancy age limit.
pub const DGIS_PREGNANCY: &str = "DGIS, catálogo DIAGNOSTICO_SIS: embarazo, parto y puerperio en mujeres de 9 a 59 años (mexico.md §A3)";
/// Source of the perinatal age expectation.
pub const OURS_PERINATAL: &str = "Expediente: afecciones perinatales (cap. XVI, Z38) se esperan en menores de 1 año; la OMS las admite después si se originaron en el periodo perinatal";
/// Source of the rows we add to WHO's lists: codes whose title names the mother's record.
pub const OURS_MATERNAL: &str =
    "Expediente: códigos del registro de la madre (Z37 producto del parto)";

/// Categories limited to women (WHO Volume 2, plus Z37 which is recorded on the mother).
const FEMALE: &[(&str, &str, &str)] = &[
    ("A34", "A34", WHO_VOL2),
    ("B37.3", "B37.3", WHO_VOL2),
    ("C51", "C58", WHO_VOL2),
    ("C79.6", "C79.6", WHO_VOL2),
    ("D06", "D06", WHO_VOL2),
    ("D07.0", "D07.3", WHO_VOL2),
    ("D25", "D28", WHO_VOL2),
    ("D39", "D39", WHO_VOL2),
    ("E28", "E28", WHO_VOL2),
    ("E89.4", "E89.4", WHO_VOL2),
    ("F52.5", "F52.5", WHO_VOL2),
    ("F53", "F53", WHO_VOL2),
    ("I86.3", "I86.3", WHO_VOL2),
    ("L29.2", "L29.2", WHO_VOL2),
    ("L70.5", "L70.5", WHO_VOL2),
    ("M80.0", "M80.1", WHO_VOL2),
    ("M81.0", "M81.1", WHO_VOL2),
    ("M83.0", "M83.0", WHO_VOL2),
    ("N70", "N98", WHO_VOL2),
    ("N99.2", "N99.3", WHO_VOL2),
    ("O00", "O99", WHO_VOL2),
    ("P54.6", "P54.6", WHO_VOL2),
    ("Q50", "Q52", WHO_VOL2),
    ("R87", "R87", WHO_VOL2),
    ("S31.4", "S31.4", WHO_VOL2),
    ("S37.4", "S37.6", WHO_VOL2),
    ("T19.2", "T19.3", WHO_VOL2),
    ("T83.3", "T83.3", WHO_VOL2),
    ("Y76", "Y76", WHO_VOL2),
    ("Z01.4", "Z01.4", WHO_VOL2),
    ("Z12.4", "Z12.4", WHO_VOL2),
    ("Z30.1", "Z30.1", WHO_VOL2),
    ("Z30.3", "Z30.3", WHO_VOL2),
    ("Z30.5", "Z30.5", WHO_VOL2),
    ("Z31.1", "Z31.2", WHO_VOL2),
    ("Z32", "Z36", WHO_VOL2),
    ("Z37", "Z37", OURS_MATERNAL),
    ("Z39", "Z39", WHO_VOL2),
    ("Z43.7", "Z43.7", WHO_VOL2),
    ("Z87.5", "Z87.5", WHO_VOL2),
    ("Z97.5", "Z97.5", WHO_VOL2),
];

/// Categories limited to men (WHO Volume 2).
const MALE: &[(&str, &str, &str)] = &[
    ("B26.0", "B26.0", WHO_VOL2),
    ("C60", "C63", WHO_VOL2),
    ("D07.4", "D07.6", WHO_VOL2),
    ("D17.6", "D17.6", WHO_VOL2),
    ("D29", "D29", WHO_VOL2),
    ("D40", "D40", WHO_VOL2),
    ("E29", "E29", WHO_VOL2),
    ("E89.5", "E89.5", WHO_VOL2),
    ("F52.4", "F52.4", WHO_VOL2),
    ("I86.1", "I86.1", WHO_VOL2),
    ("L29.1", "L29.1", WHO_VOL2),
    ("N40", "N51", WHO_VOL2),
    ("Q53", "Q55", WHO_VOL2),
    ("R86", "R86", WHO_VOL2),
    ("S31.2", "S31.3", WHO_VOL2),
    ("Z12.5", "Z12.5", WHO_VOL2),
];

/// Pregnancy, childbirth and the puerperium, and their supervision.
const PREGNANCY: &[(&str, &str)] = &[("O00", "O99"), ("Z32", "Z37"), ("Z39", "Z39")];

/// Newborn conditions.
const PERINATAL: &[(&str, &str)] = &[("P00", "P96"), ("Z38", "Z38")];

/// Youngest and oldest age (years) of the DGIS pregnancy limit.
const PREGNANCY_AGE_YEARS: (u16, u16) = (9, 59);
/// Last day of life (0-based) at which a perinatal code is expected: the first year.
const PERINATAL_AGE_DAYS_MAX: u16 = 364;

/// Whether `code` (dotted) falls in `from..=to` (see the module docs).
pub(super) fn in_range(code: &str, from: &str, to: &str) -> bool {
    from <= code && (code <= to || code.starts_with(to))
}

/// The sex a code is limited to, and the source of the rule.
pub(super) fn sex_rule(code: &str) -> Option<(SexLimit, &'static str)> {
    let hit = |table: &[(&str, &str, &'static str)]| {
        table
            .iter()
            .find(|(from, to, _)| in_range(code, from, to))
            .map(|row| row.2)
    };
    hit(FEMALE)
        .map(|source| (SexLimit::Mujer, source))
        .or_else(|| hit(MALE).map(|source| (SexLimit::Hombre, source)))
}

pub(super) fn sex_limit(code: &str) -> SexLimit {
    sex_rule(code).map_or(SexLimit::Any, |(sex, _)| sex)
}

pub(super) fn age_limit(code: &str) -> Option<AgeLimit> {
    if PREGNANCY.iter().any(|(from, to)| in_range(code, from, to)) {
        return Some(AgeLimit {
            min: AgeBound::Years(PREGNANCY_AGE_YEARS.0),
            max: AgeBound::Years(PREGNANCY_AGE_YEARS.1),
            strength: LimitStrength::Refuse,
            source: DGIS_PREGNANCY,
        });
    }
    if PERINATAL.iter().any(|(from, to)| in_range(code, from, to)) {
        return Some(AgeLimit {
            min: AgeBound::Days(0),
            max: AgeBound::Days(PERINATAL_AGE_DAYS_MAX),
            strength: LimitStrength::Confirm,
            source: OURS_PERINATAL,
        });
    }
    None
}
