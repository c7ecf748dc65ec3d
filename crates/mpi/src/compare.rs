//! Fellegi–Sunter comparison of two person records, with an explanation a reviewer can read.
//!
//! Each field is compared into an agreement level (agree, a kind of partial agreement, disagree, missing);
//! each level has a weight `log2(m/u)` where `m` is the probability of that level when the records are the
//! same person and `u` when they are not (the table is in the crate docs). The score is the sum of weights;
//! grades come from thresholds plus a few hard rules for the situations where the independence assumption of
//! Fellegi–Sunter fails badly (twins, parent and child with the same name, two different valid CURPs).

use serde::{Deserialize, Serialize};

use crate::curp::{self, CurpQuality};
use crate::date::{BirthDate, DateRelation};
use crate::normalize::{self, NameKind, NormName};
use crate::record::{PersonRecord, Sex};

/// Score at or above which a pair is `Certain` (when the hard rules also allow it). A registration that
/// agrees on all three names, the exact birth date, sex and birth state scores about 39 without phone or
/// address; one typo or a dropped second surname still leaves it above 30.
pub const CERTAIN_SCORE_MIN: f64 = 30.0;
/// Score at or above which a pair is `Probable`. Siblings sharing both surnames, phone and states but not
/// given name nor birth date score about 17; a duplicate with two or three clerk errors still scores above 22.
pub const PROBABLE_SCORE_MIN: f64 = 22.0;
/// Score at or above which a pair is `Possible` (worth a human look).
pub const POSSIBLE_SCORE_MIN: f64 = 18.0;
/// With identical valid CURPs, a non-CURP score below this means the rest of the registration describes
/// someone else (a CURP copied onto the wrong patient): the pair goes to review instead of being `Certain`.
pub const CURP_CONTRADICTION_SCORE_MAX: f64 = -10.0;
/// Cost of explaining a pair by swapped surnames (P(swap | same person) ≈ 3 %, but unrelated people with
/// crossed surnames — cousins — are common, so the swapped alignment must earn its agreement).
pub const SURNAME_SWAP_PENALTY: f64 = 3.0;
/// Cost of explaining a pair by the given name written in the surname field (rarer than a surname swap).
pub const GIVEN_SURNAME_SWAP_PENALTY: f64 = 4.0;

/// A compared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Curp,
    GivenNames,
    FirstSurname,
    SecondSurname,
    BirthDate,
    Sex,
    BirthState,
    AddressState,
    Phone,
}

impl Field {
    /// All fields in the order they are reported.
    pub const ALL: [Field; 9] = [
        Field::Curp,
        Field::GivenNames,
        Field::FirstSurname,
        Field::SecondSurname,
        Field::BirthDate,
        Field::Sex,
        Field::BirthState,
        Field::AddressState,
        Field::Phone,
    ];

    pub fn label_es(self) -> &'static str {
        match self {
            Field::Curp => "CURP",
            Field::GivenNames => "Nombre(s)",
            Field::FirstSurname => "Primer apellido",
            Field::SecondSurname => "Segundo apellido",
            Field::BirthDate => "Fecha de nacimiento",
            Field::Sex => "Sexo",
            Field::BirthState => "Entidad de nacimiento",
            Field::AddressState => "Entidad de residencia",
            Field::Phone => "Teléfono",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Field::Curp => "CURP",
            Field::GivenNames => "Given names",
            Field::FirstSurname => "First surname",
            Field::SecondSurname => "Second surname",
            Field::BirthDate => "Birth date",
            Field::Sex => "Sex",
            Field::BirthState => "Birth state",
            Field::AddressState => "Address state",
            Field::Phone => "Phone",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Coarse outcome of a field comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Agree,
    Partial,
    Disagree,
    /// At least one record has no usable value; weight 0.
    Missing,
}

/// Match grade, ordered from weakest to strongest (`NoMatch < Possible < Probable < Certain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchGrade {
    NoMatch,
    Possible,
    Probable,
    Certain,
}

impl MatchGrade {
    /// Code of the FHIR `match-grade` extension (`certainly-not` for `NoMatch`).
    pub fn fhir_code(self) -> &'static str {
        match self {
            MatchGrade::Certain => "certain",
            MatchGrade::Probable => "probable",
            MatchGrade::Possible => "possible",
            MatchGrade::NoMatch => "certainly-not",
        }
    }

    pub fn label_es(self) -> &'static str {
        match self {
            MatchGrade::Certain => "Coincidencia segura",
            MatchGrade::Probable => "Coincidencia probable",
            MatchGrade::Possible => "Coincidencia posible (revisar)",
            MatchGrade::NoMatch => "No coincide",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            MatchGrade::Certain => "Certain match",
            MatchGrade::Probable => "Probable match",
            MatchGrade::Possible => "Possible match (review)",
            MatchGrade::NoMatch => "No match",
        }
    }
}

/// One field's contribution to the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldComparison {
    pub field: Field,
    pub outcome: Outcome,
    /// Log-likelihood ratio in bits (0 when missing).
    pub weight: f64,
    pub explanation_es: String,
    pub explanation_en: String,
}

/// A decision that is not visible in a single field: overrides, caps and alignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchNote {
    /// Identical valid CURPs make the pair certain.
    IdenticalCurp,
    /// Identical valid CURPs, but everything else disagrees: review.
    IdenticalCurpContradicted,
    /// Two different valid CURPs: never linked automatically.
    DifferentValidCurps,
    /// The CURPs differ by one keying error.
    CurpKeyingError,
    /// Surnames were matched in swapped order.
    SurnamesSwapped,
    /// The given name was matched against the surname field.
    GivenAndSurnameSwapped,
    /// Same surnames, different given names: twins or siblings are likely; review.
    PossibleSiblings,
    /// Birth dates are too different for an automatic link.
    BirthDateDisagrees,
    /// Scores like a certain match, but without an exact birth date and given name it stays probable.
    CertainNeedsExactDateAndName,
}

impl MatchNote {
    pub fn message_es(self) -> &'static str {
        match self {
            MatchNote::IdenticalCurp => "La CURP válida es idéntica en ambos registros.",
            MatchNote::IdenticalCurpContradicted => {
                "La CURP es idéntica pero el resto de los datos describe a otra persona; revisar si la CURP se capturó en el expediente equivocado."
            }
            MatchNote::DifferentValidCurps => {
                "Ambos registros tienen CURP válidas y distintas; no se vinculan automáticamente."
            }
            MatchNote::CurpKeyingError => {
                "Las CURP difieren en un solo carácter; probablemente es un error de captura."
            }
            MatchNote::SurnamesSwapped => "Los apellidos coinciden en orden invertido.",
            MatchNote::GivenAndSurnameSwapped => {
                "El nombre coincide con el apellido del otro registro (campos intercambiados)."
            }
            MatchNote::PossibleSiblings => {
                "Mismos apellidos con nombres distintos: pueden ser gemelos o hermanos; requiere revisión."
            }
            MatchNote::BirthDateDisagrees => {
                "Las fechas de nacimiento son distintas (p. ej., padre e hijo homónimos); requiere revisión."
            }
            MatchNote::CertainNeedsExactDateAndName => {
                "Para una coincidencia segura sin CURP se requieren fecha de nacimiento exacta y nombre coincidente."
            }
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            MatchNote::IdenticalCurp => "The valid CURP is identical in both records.",
            MatchNote::IdenticalCurpContradicted => {
                "The CURP is identical but the rest of the data describes someone else; check whether the CURP was entered on the wrong record."
            }
            MatchNote::DifferentValidCurps => {
                "Both records have different valid CURPs; they are never linked automatically."
            }
            MatchNote::CurpKeyingError => {
                "The CURPs differ in one character; probably a keying error."
            }
            MatchNote::SurnamesSwapped => "The surnames agree in swapped order.",
            MatchNote::GivenAndSurnameSwapped => {
                "The given name agrees with the other record's surname (fields swapped)."
            }
            MatchNote::PossibleSiblings => {
                "Same surnames with different given names: possibly twins or siblings; needs review."
            }
            MatchNote::BirthDateDisagrees => {
                "The birth dates differ (e.g. father and son with the same name); needs review."
            }
            MatchNote::CertainNeedsExactDateAndName => {
                "Without a CURP, a certain match needs an exact birth date and agreeing given names."
            }
        }
    }
}

/// The result of comparing two records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchResult {
    /// Sum of field weights (bits of log-likelihood ratio), alignment penalties included.
    pub score: f64,
    pub grade: MatchGrade,
    /// One entry per [`Field`], in [`Field::ALL`] order.
    pub fields: Vec<FieldComparison>,
    pub notes: Vec<MatchNote>,
}

/// A record normalised once so it can be compared many times (the index keeps these).
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRecord {
    curp: Option<(String, CurpQuality)>,
    pub(crate) given: Option<NormName>,
    pub(crate) first_surname: Option<NormName>,
    pub(crate) second_surname: Option<NormName>,
    pub(crate) birth_date: Option<BirthDate>,
    sex: Option<Sex>,
    birth_state: Option<String>,
    address_state: Option<String>,
    pub(crate) phone: Option<String>,
}

impl PreparedRecord {
    pub fn new(record: &PersonRecord) -> PreparedRecord {
        let curp = record
            .curp
            .as_deref()
            .map(|c| c.trim().to_uppercase())
            .filter(|c| c != crate::record::GENERIC_CURP)
            .map(|c| {
                let quality = curp::quality(&c);
                (c, quality)
            })
            .filter(|(_, quality)| *quality != CurpQuality::Malformed);
        // Both surnames typed into the first-surname field: split them so they line up with records that
        // were registered properly.
        let (first_raw, second_raw) = match record.second_surname.as_deref().map(str::trim) {
            Some(second) if !second.is_empty() => {
                (record.first_surname.clone(), Some(second.to_owned()))
            }
            _ => normalize::split_surnames(&record.first_surname),
        };
        let birth_state = record
            .birth_state
            .as_deref()
            .map(normalize::state_code)
            .filter(|s| !s.is_empty())
            .or_else(|| {
                curp.as_ref()
                    .and_then(|(c, _)| c.get(11..13))
                    .map(str::to_owned)
            });
        PreparedRecord {
            given: NormName::new(&record.given_names, NameKind::Given),
            first_surname: NormName::new(&first_raw, NameKind::Surname),
            second_surname: second_raw.and_then(|s| NormName::new(&s, NameKind::Surname)),
            birth_date: record.birth_date.as_deref().and_then(BirthDate::parse),
            sex: record.sex.filter(|s| *s != Sex::Unknown),
            birth_state,
            address_state: record
                .address_state
                .as_deref()
                .map(normalize::state_code)
                .filter(|s| !s.is_empty()),
            phone: record.phone.as_deref().and_then(normalize::phone_digits),
            curp,
        }
    }

    /// The CURP when it is shaped like one (valid check digit or not).
    pub fn curp(&self) -> Option<&str> {
        self.curp.as_ref().map(|(c, _)| c.as_str())
    }

    /// True when the CURP passes shape and check digit.
    pub fn has_valid_curp(&self) -> bool {
        matches!(self.curp, Some((_, CurpQuality::Valid)))
    }
}

/// Agreement level of one field, finer than [`Outcome`]; each level has its own m/u pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Missing,
    Agree,
    /// Names: same Spanish phonetic key.
    Phonetic,
    /// Names: one edit apart; phone: one digit; CURP: one keying error.
    Typo,
    /// Names: one name is a subset of the other ("MARIA GUADALUPE" / "GUADALUPE").
    Compound,
    /// Given names: a known nickname ("LUPITA" / "GUADALUPE").
    Nickname,
    /// Birth date: transposed day/month, one digit, year ± 1.
    Near(DateRelation),
    Disagree,
}

impl Level {
    fn outcome(self) -> Outcome {
        match self {
            Level::Missing => Outcome::Missing,
            Level::Agree => Outcome::Agree,
            Level::Disagree => Outcome::Disagree,
            Level::Phonetic | Level::Typo | Level::Compound | Level::Nickname | Level::Near(_) => {
                Outcome::Partial
            }
        }
    }

    fn is_name_agreement(self) -> bool {
        matches!(
            self,
            Level::Agree | Level::Phonetic | Level::Typo | Level::Compound
        )
    }
}

/// `(m, u)` for a field and level; `None` means weight 0. Documented in the crate docs' table.
fn m_u(field: Field, level: Level) -> Option<(f64, f64)> {
    use Level::{Agree, Compound, Missing, Near, Nickname, Phonetic, Typo};
    let pair = match (field, level) {
        (_, Missing) => return None,
        (Field::Curp, Agree) => (0.96, 1e-7),
        (Field::Curp, Typo) => (0.03, 1e-5),
        (Field::Curp, _) => (0.01, 1.0 - 1.01e-5),
        (Field::GivenNames, Agree) => (0.86, 0.01),
        (Field::GivenNames, Phonetic) => (0.03, 0.002),
        (Field::GivenNames, Typo) => (0.05, 0.005),
        (Field::GivenNames, Compound) => (0.03, 0.01),
        (Field::GivenNames, Nickname) => (0.01, 0.001),
        (Field::GivenNames, _) => (0.02, 0.972),
        (Field::FirstSurname, Agree) => (0.88, 0.007),
        (Field::SecondSurname, Agree) => (0.86, 0.007),
        (Field::FirstSurname | Field::SecondSurname, Phonetic) => (0.03, 0.002),
        (Field::FirstSurname | Field::SecondSurname, Typo) => (0.05, 0.006),
        (Field::FirstSurname | Field::SecondSurname, Compound | Nickname) => (0.02, 0.002),
        (Field::FirstSurname, _) => (0.02, 0.983),
        (Field::SecondSurname, _) => (0.04, 0.983),
        (Field::BirthDate, Agree) => (0.92, 4e-5),
        (Field::BirthDate, Near(_)) => (0.06, 0.002),
        (Field::BirthDate, _) => (0.02, 0.99796),
        (Field::Sex, Agree) => (0.98, 0.5),
        (Field::Sex, _) => (0.02, 0.5),
        (Field::BirthState, Agree) => (0.96, 0.07),
        (Field::BirthState, _) => (0.04, 0.93),
        (Field::AddressState, Agree) => (0.88, 0.07),
        (Field::AddressState, _) => (0.12, 0.93),
        (Field::Phone, Agree) => (0.55, 0.01),
        (Field::Phone, Typo) => (0.02, 0.001),
        (Field::Phone, _) => (0.43, 0.989),
    };
    Some(pair)
}

/// Number of distinct [`Level`] slots in the weight cache (`Near` relations share one weight).
const LEVEL_SLOTS: usize = 8;

impl Level {
    fn slot(self) -> usize {
        match self {
            Level::Missing => 0,
            Level::Agree => 1,
            Level::Phonetic => 2,
            Level::Typo => 3,
            Level::Compound => 4,
            Level::Nickname => 5,
            Level::Near(_) => 6,
            Level::Disagree => 7,
        }
    }
}

/// `log2(m/u)` for every field and level, computed once (the scan needs ~10 weights per comparison).
static WEIGHTS: std::sync::LazyLock<[[f64; LEVEL_SLOTS]; 9]> = std::sync::LazyLock::new(|| {
    let levels = [
        Level::Missing,
        Level::Agree,
        Level::Phonetic,
        Level::Typo,
        Level::Compound,
        Level::Nickname,
        Level::Near(DateRelation::OneDigit),
        Level::Disagree,
    ];
    let mut table = [[0.0; LEVEL_SLOTS]; 9];
    for field in Field::ALL {
        for level in levels {
            table[field.index()][level.slot()] =
                m_u(field, level).map_or(0.0, |(m, u)| (m / u).log2());
        }
    }
    table
});

fn weight(field: Field, level: Level) -> f64 {
    WEIGHTS[field.index()][level.slot()]
}

/// The `(m, u)` pairs behind every weight, for documentation and audits: `(field, level name, m, u)`.
pub fn weight_table() -> Vec<(Field, &'static str, f64, f64)> {
    let levels: [(&str, Level); 7] = [
        ("agree", Level::Agree),
        ("phonetic", Level::Phonetic),
        ("typo", Level::Typo),
        ("compound", Level::Compound),
        ("nickname", Level::Nickname),
        ("near", Level::Near(DateRelation::OneDigit)),
        ("disagree", Level::Disagree),
    ];
    let mut out = Vec::new();
    for field in Field::ALL {
        for (name, level) in levels {
            let applies = match (field, level) {
                (_, Level::Agree | Level::Disagree) => true,
                (Field::GivenNames, Level::Near(_)) => false,
                (Field::GivenNames, _) => true,
                (
                    Field::FirstSurname | Field::SecondSurname,
                    Level::Phonetic | Level::Typo | Level::Compound,
                ) => true,
                (Field::BirthDate, Level::Near(_)) => true,
                (Field::Curp | Field::Phone, Level::Typo) => true,
                _ => false,
            };
            if let (true, Some((m, u))) = (applies, m_u(field, level)) {
                out.push((field, name, m, u));
            }
        }
    }
    out
}

/// Minimum length (characters) for a one-edit difference to count as a typo: below it, one edit makes a
/// different short name (ANA/AMA/EVA).
const TYPO_LEN_MIN: usize = 4;
/// Minimum length for a two-edit difference to count as a typo (long compound names).
const TWO_TYPO_LEN_MIN: usize = 8;
/// Jaro–Winkler similarity a two-edit pair must also reach to count as a typo.
const TWO_TYPO_JARO_WINKLER_MIN: f64 = 0.92;

fn ordered<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b { (a, b) } else { (b, a) }
}

/// True when `a` can be turned into `b` with at most `budget` edits (substitution, insertion, deletion or
/// swap of adjacent characters). Allocation-free: the scan calls this millions of times, and with a budget of
/// at most two the recursion explores at most 4² branches of linear scans.
fn within_edits(a: &[u8], b: &[u8], budget: u8) -> bool {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[common..], &b[common..]);
    if a.is_empty() || b.is_empty() {
        return a.len().max(b.len()) <= usize::from(budget);
    }
    if budget == 0 || a.len().abs_diff(b.len()) > usize::from(budget) {
        return false;
    }
    let rest = budget - 1;
    within_edits(&a[1..], &b[1..], rest)
        || within_edits(&a[1..], b, rest)
        || within_edits(a, &b[1..], rest)
        || (a.len() > 1
            && b.len() > 1
            && a[0] == b[1]
            && a[1] == b[0]
            && within_edits(&a[2..], &b[2..], rest))
}

/// True when two name strings are one keying error apart (or two, for long names that stay very similar).
fn is_typo(a: &str, b: &str) -> bool {
    let (a, b) = ordered(a, b);
    // Folded names are ASCII, where bytes are characters; anything else takes the general path.
    let (len_a, len_b) = if a.is_ascii() && b.is_ascii() {
        (a.len(), b.len())
    } else {
        (a.chars().count(), b.chars().count())
    };
    let len_min = len_a.min(len_b);
    if len_a.abs_diff(len_b) > 2 || len_min < TYPO_LEN_MIN {
        return false;
    }
    let distance = if a.is_ascii() && b.is_ascii() {
        if within_edits(a.as_bytes(), b.as_bytes(), 1) {
            1
        } else if len_min >= TWO_TYPO_LEN_MIN && within_edits(a.as_bytes(), b.as_bytes(), 2) {
            2
        } else {
            3
        }
    } else {
        strsim::osa_distance(a, b)
    };
    match distance {
        0 | 1 => true,
        2 => len_min >= TWO_TYPO_LEN_MIN && strsim::jaro_winkler(a, b) >= TWO_TYPO_JARO_WINKLER_MIN,
        _ => false,
    }
}

fn tokens_equivalent(a: &str, a_phonetic: &str, b: &str, b_phonetic: &str) -> bool {
    a == b || a_phonetic == b_phonetic || is_typo(a, b)
}

/// Every token of the shorter name has an equivalent in the longer one, and the names differ in token
/// count or order ("MARIA GUADALUPE" / "GUADALUPE", "GUADALUPE MARIA" / "MARIA GUADALUPE").
fn is_compound_subset(a: &NormName, b: &NormName) -> bool {
    let (short, long) = if a.tokens.len() <= b.tokens.len() {
        (a, b)
    } else {
        (b, a)
    };
    if short.tokens.is_empty()
        || (short.tokens.len() == long.tokens.len() && short.tokens.len() < 2)
    {
        return false;
    }
    let covered = |x: &NormName, y: &NormName| {
        x.tokens
            .iter()
            .zip(&x.token_phonetics)
            .all(|(token, phonetic)| {
                y.tokens
                    .iter()
                    .zip(&y.token_phonetics)
                    .any(|(other, other_phonetic)| {
                        tokens_equivalent(token, phonetic, other, other_phonetic)
                    })
            })
    };
    // With equal token counts both directions must hold, so the relation stays symmetric.
    covered(short, long) && (short.tokens.len() != long.tokens.len() || covered(long, short))
}

fn is_nickname_of(a: &NormName, b: &NormName) -> bool {
    let one_way = |x: &NormName, y: &NormName| {
        x.nickname_of
            .iter()
            .any(|full| y.tokens.iter().any(|t| t == full))
    };
    one_way(a, b) || one_way(b, a)
}

fn compare_names(a: Option<&NormName>, b: Option<&NormName>, nicknames: bool) -> Level {
    let (Some(a), Some(b)) = (a, b) else {
        return Level::Missing;
    };
    if a.compact == b.compact || a.compact_full == b.compact_full {
        Level::Agree
    } else if !a.phonetic.is_empty() && a.phonetic == b.phonetic {
        Level::Phonetic
    } else if is_typo(&a.compact, &b.compact) {
        Level::Typo
    } else if is_compound_subset(a, b) {
        Level::Compound
    } else if nicknames && is_nickname_of(a, b) {
        Level::Nickname
    } else {
        Level::Disagree
    }
}

/// How the name fields of the two records were lined up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alignment {
    Direct,
    SurnamesSwapped,
    GivenSurnameSwapped,
}

struct NameLevels {
    given: Level,
    first_surname: Level,
    second_surname: Level,
    alignment: Alignment,
    score: f64,
}

/// Orders two records by their names so that cross-field comparisons (which put one record's field in the
/// other's slot) are made in the same orientation whichever record comes first: this keeps scores symmetric.
fn canonical_order<'a>(
    a: &'a PreparedRecord,
    b: &'a PreparedRecord,
) -> (&'a PreparedRecord, &'a PreparedRecord) {
    let key = |r: &'a PreparedRecord| {
        [&r.given, &r.first_surname, &r.second_surname]
            .map(|n| n.as_ref().map(|n| n.compact.as_str()))
    };
    if key(a) <= key(b) { (a, b) } else { (b, a) }
}

fn name_levels(a: &PreparedRecord, b: &PreparedRecord) -> NameLevels {
    let score = |given: Level, first: Level, second: Level, penalty: f64| {
        weight(Field::GivenNames, given)
            + weight(Field::FirstSurname, first)
            + weight(Field::SecondSurname, second)
            - penalty
    };
    let given = compare_names(a.given.as_ref(), b.given.as_ref(), true);
    let first = compare_names(a.first_surname.as_ref(), b.first_surname.as_ref(), false);
    let second = compare_names(a.second_surname.as_ref(), b.second_surname.as_ref(), false);
    let mut best = NameLevels {
        given,
        first_surname: first,
        second_surname: second,
        alignment: Alignment::Direct,
        score: score(given, first, second, 0.0),
    };
    let (x, y) = canonical_order(a, b);
    if first != Level::Agree || second != Level::Agree {
        let cross_first = compare_names(x.first_surname.as_ref(), y.second_surname.as_ref(), false);
        let cross_second =
            compare_names(x.second_surname.as_ref(), y.first_surname.as_ref(), false);
        // A swap is only a swap if at least one surname agrees across; otherwise it is just two missing
        // fields dressed up as an explanation.
        if cross_first.is_name_agreement() || cross_second.is_name_agreement() {
            let swapped = score(given, cross_first, cross_second, SURNAME_SWAP_PENALTY);
            if swapped > best.score {
                best = NameLevels {
                    given,
                    first_surname: cross_first,
                    second_surname: cross_second,
                    alignment: Alignment::SurnamesSwapped,
                    score: swapped,
                };
            }
        }
    }
    if given != Level::Agree || first != Level::Agree {
        let cross_given = compare_names(x.given.as_ref(), y.first_surname.as_ref(), false);
        let cross_first = compare_names(x.first_surname.as_ref(), y.given.as_ref(), false);
        if cross_given.is_name_agreement() && cross_first.is_name_agreement() {
            let swapped = score(cross_given, cross_first, second, GIVEN_SURNAME_SWAP_PENALTY);
            if swapped > best.score {
                best = NameLevels {
                    given: cross_given,
                    first_surname: cross_first,
                    second_surname: second,
                    alignment: Alignment::GivenSurnameSwapped,
                    score: swapped,
                };
            }
        }
    }
    best
}

fn compare_equal<T: PartialEq>(a: Option<&T>, b: Option<&T>) -> Level {
    match (a, b) {
        (Some(a), Some(b)) if a == b => Level::Agree,
        (Some(_), Some(_)) => Level::Disagree,
        _ => Level::Missing,
    }
}

fn compare_phone(a: Option<&String>, b: Option<&String>) -> Level {
    match (a, b) {
        (Some(a), Some(b)) if a == b => Level::Agree,
        (Some(a), Some(b)) if curp::one_keying_error_apart(a, b) => Level::Typo,
        (Some(_), Some(_)) => Level::Disagree,
        _ => Level::Missing,
    }
}

fn compare_dates(a: Option<BirthDate>, b: Option<BirthDate>) -> Level {
    match (a, b) {
        (Some(a), Some(b)) => match a.relation(b) {
            DateRelation::Exact => Level::Agree,
            DateRelation::Different => Level::Disagree,
            near => Level::Near(near),
        },
        _ => Level::Missing,
    }
}

/// Everything the scorer decided, before any text is produced (the scan evaluates millions of pairs and only
/// turns the interesting ones into a [`MatchResult`]).
pub(crate) struct Evaluation {
    levels: [Level; 9],
    weights: [f64; 9],
    alignment: Alignment,
    pub(crate) score: f64,
    pub(crate) grade: MatchGrade,
    notes: Vec<MatchNote>,
}

pub(crate) fn evaluate_pair(a: &PreparedRecord, b: &PreparedRecord) -> Evaluation {
    let mut levels = [Level::Missing; 9];
    let mut curp_qualities = None;
    if let (Some((ca, qa)), Some((cb, qb))) = (&a.curp, &b.curp) {
        curp_qualities = Some((*qa, *qb));
        levels[Field::Curp.index()] = if ca == cb {
            Level::Agree
        } else if curp::one_keying_error_apart(ca, cb) {
            Level::Typo
        } else {
            Level::Disagree
        };
    }
    let names = name_levels(a, b);
    levels[Field::GivenNames.index()] = names.given;
    levels[Field::FirstSurname.index()] = names.first_surname;
    levels[Field::SecondSurname.index()] = names.second_surname;
    levels[Field::BirthDate.index()] = compare_dates(a.birth_date, b.birth_date);
    levels[Field::Sex.index()] = compare_equal(a.sex.as_ref(), b.sex.as_ref());
    levels[Field::BirthState.index()] =
        compare_equal(a.birth_state.as_ref(), b.birth_state.as_ref());
    levels[Field::AddressState.index()] =
        compare_equal(a.address_state.as_ref(), b.address_state.as_ref());
    levels[Field::Phone.index()] = compare_phone(a.phone.as_ref(), b.phone.as_ref());

    let mut weights = [0.0; 9];
    for field in Field::ALL {
        weights[field.index()] = weight(field, levels[field.index()]);
    }
    let penalty = match names.alignment {
        Alignment::Direct => 0.0,
        Alignment::SurnamesSwapped => SURNAME_SWAP_PENALTY,
        Alignment::GivenSurnameSwapped => GIVEN_SURNAME_SWAP_PENALTY,
    };
    let non_curp_score: f64 = weights[1..].iter().sum::<f64>() - penalty;
    let score = weights[0] + non_curp_score;

    let mut notes = Vec::new();
    match names.alignment {
        Alignment::Direct => {}
        Alignment::SurnamesSwapped => notes.push(MatchNote::SurnamesSwapped),
        Alignment::GivenSurnameSwapped => notes.push(MatchNote::GivenAndSurnameSwapped),
    }
    let grade = decide_grade(&levels, curp_qualities, score, non_curp_score, &mut notes);
    Evaluation {
        levels,
        weights,
        alignment: names.alignment,
        score,
        grade,
        notes,
    }
}

fn decide_grade(
    levels: &[Level; 9],
    curp_qualities: Option<(CurpQuality, CurpQuality)>,
    score: f64,
    non_curp_score: f64,
    notes: &mut Vec<MatchNote>,
) -> MatchGrade {
    let level = |field: Field| levels[field.index()];
    let both_curps_valid = curp_qualities == Some((CurpQuality::Valid, CurpQuality::Valid));
    if level(Field::Curp) == Level::Agree && both_curps_valid {
        if non_curp_score < CURP_CONTRADICTION_SCORE_MAX {
            notes.push(MatchNote::IdenticalCurpContradicted);
            return MatchGrade::Possible;
        }
        notes.push(MatchNote::IdenticalCurp);
        return MatchGrade::Certain;
    }
    if level(Field::Curp) == Level::Typo {
        notes.push(MatchNote::CurpKeyingError);
    }

    let mut grade = if score >= CERTAIN_SCORE_MIN {
        MatchGrade::Certain
    } else if score >= PROBABLE_SCORE_MIN {
        MatchGrade::Probable
    } else if score >= POSSIBLE_SCORE_MIN {
        MatchGrade::Possible
    } else {
        MatchGrade::NoMatch
    };
    if grade == MatchGrade::Certain {
        // Without an identical CURP, "certain" needs the two strongest personal facts to agree outright:
        // names that merely resemble each other (JOEL/NOEL, MARIA/MARIA JOSE) can be twins.
        let date_ok = level(Field::BirthDate) == Level::Agree
            || matches!(level(Field::Curp), Level::Agree | Level::Typo);
        let given_ok = matches!(level(Field::GivenNames), Level::Agree | Level::Phonetic);
        if !(date_ok && given_ok) {
            notes.push(MatchNote::CertainNeedsExactDateAndName);
            grade = MatchGrade::Probable;
        }
    }

    let mut cap = |note: MatchNote, grade: &mut MatchGrade| {
        if *grade > MatchGrade::Possible {
            notes.push(note);
            *grade = MatchGrade::Possible;
        }
    };
    if level(Field::Curp) == Level::Disagree && both_curps_valid {
        cap(MatchNote::DifferentValidCurps, &mut grade);
    }
    if level(Field::BirthDate) == Level::Disagree {
        cap(MatchNote::BirthDateDisagrees, &mut grade);
    }
    let given = level(Field::GivenNames);
    if given == Level::Disagree || (given != Level::Agree && level(Field::Sex) == Level::Disagree) {
        cap(MatchNote::PossibleSiblings, &mut grade);
    }
    grade
}

fn name_text(name: Option<&NormName>) -> String {
    name.map_or_else(|| "—".to_owned(), |n| n.tokens.join(" "))
}

fn opt_text<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| v.to_string())
}

fn date_text(date: Option<BirthDate>) -> String {
    date.map_or_else(
        || "—".to_owned(),
        |d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
    )
}

fn sex_text(sex: Option<Sex>) -> String {
    sex.map_or_else(|| "—".to_owned(), |s| s.fhir_code().to_owned())
}

impl Evaluation {
    /// Builds the reviewer-facing result (values shown are the normalised ones that were compared).
    pub(crate) fn into_result(self, a: &PreparedRecord, b: &PreparedRecord) -> MatchResult {
        let (a_given, a_first, a_second) = (
            a.given.as_ref(),
            a.first_surname.as_ref(),
            a.second_surname.as_ref(),
        );
        let (b_given, b_first, b_second) = match self.alignment {
            Alignment::Direct => (
                b.given.as_ref(),
                b.first_surname.as_ref(),
                b.second_surname.as_ref(),
            ),
            Alignment::SurnamesSwapped => (
                b.given.as_ref(),
                b.second_surname.as_ref(),
                b.first_surname.as_ref(),
            ),
            Alignment::GivenSurnameSwapped => (
                b.first_surname.as_ref(),
                b.given.as_ref(),
                b.second_surname.as_ref(),
            ),
        };
        let fields = Field::ALL
            .iter()
            .map(|&field| {
                let level = self.levels[field.index()];
                let (va, vb) = match field {
                    Field::Curp => (opt_text(a.curp()), opt_text(b.curp())),
                    Field::GivenNames => (name_text(a_given), name_text(b_given)),
                    Field::FirstSurname => (name_text(a_first), name_text(b_first)),
                    Field::SecondSurname => (name_text(a_second), name_text(b_second)),
                    Field::BirthDate => (date_text(a.birth_date), date_text(b.birth_date)),
                    Field::Sex => (sex_text(a.sex), sex_text(b.sex)),
                    Field::BirthState => (
                        opt_text(a.birth_state.as_deref()),
                        opt_text(b.birth_state.as_deref()),
                    ),
                    Field::AddressState => (
                        opt_text(a.address_state.as_deref()),
                        opt_text(b.address_state.as_deref()),
                    ),
                    Field::Phone => (opt_text(a.phone.as_deref()), opt_text(b.phone.as_deref())),
                };
                let (es, en) = level_texts(level);
                FieldComparison {
                    field,
                    outcome: level.outcome(),
                    weight: self.weights[field.index()],
                    explanation_es: format!("{}: {es} ({va} / {vb})", field.label_es()),
                    explanation_en: format!("{}: {en} ({va} / {vb})", field.label_en()),
                }
            })
            .collect();
        MatchResult {
            score: self.score,
            grade: self.grade,
            fields,
            notes: self.notes,
        }
    }
}

fn level_texts(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::Missing => (
            "falta en al menos un registro",
            "missing in at least one record",
        ),
        Level::Agree => ("coincide", "agrees"),
        Level::Phonetic => ("se pronuncia igual", "sounds the same"),
        Level::Typo => (
            "difiere por un error de captura",
            "differs by one keying error",
        ),
        Level::Compound => (
            "un nombre compuesto contiene al otro",
            "one compound name contains the other",
        ),
        Level::Nickname => (
            "es un hipocorístico (apodo) del otro",
            "is a nickname of the other",
        ),
        Level::Near(DateRelation::TransposedDayMonth) => {
            ("día y mes invertidos", "day and month transposed")
        }
        Level::Near(DateRelation::YearOffByOne) => ("el año difiere en uno", "year off by one"),
        Level::Near(DateRelation::AdjacentDigitsSwapped) => (
            "dos dígitos contiguos invertidos",
            "two adjacent digits swapped",
        ),
        Level::Near(_) => ("difiere en un dígito", "one digit differs"),
        Level::Disagree => ("no coincide", "disagrees"),
    }
}

/// Compares two registrations.
pub fn compare(a: &PersonRecord, b: &PersonRecord) -> MatchResult {
    compare_prepared(&PreparedRecord::new(a), &PreparedRecord::new(b))
}

/// Compares two already prepared registrations (use when one record is compared many times).
pub fn compare_prepared(a: &PreparedRecord, b: &PreparedRecord) -> MatchResult {
    evaluate_pair(a, b).into_result(a, b)
}

/// Compares `query` with every candidate and returns `(candidate index, result)` sorted by score (best first,
/// ties by index), without `NoMatch` results, at most `count` of them.
///
/// With `only_certain` (FHIR `$match` `onlyCertainMatches`), the single `Certain` match is returned, or
/// nothing when there are none or several: the spec forbids returning anything ambiguous in that mode.
pub fn match_candidates(
    query: &PersonRecord,
    candidates: &[PersonRecord],
    only_certain: bool,
    count: usize,
) -> Vec<(usize, MatchResult)> {
    let query = PreparedRecord::new(query);
    let prepared: Vec<PreparedRecord> = candidates.iter().map(PreparedRecord::new).collect();
    match_prepared_candidates(&query, prepared.iter().enumerate(), only_certain, count)
}

/// [`match_candidates`] over prepared records identified by the caller's indices.
pub fn match_prepared_candidates<'a>(
    query: &PreparedRecord,
    candidates: impl IntoIterator<Item = (usize, &'a PreparedRecord)>,
    only_certain: bool,
    count: usize,
) -> Vec<(usize, MatchResult)> {
    let mut hits: Vec<(usize, &PreparedRecord, Evaluation)> = candidates
        .into_iter()
        .map(|(idx, candidate)| (idx, candidate, evaluate_pair(query, candidate)))
        .filter(|(_, _, evaluation)| evaluation.grade > MatchGrade::NoMatch)
        .filter(|(_, _, evaluation)| !only_certain || evaluation.grade == MatchGrade::Certain)
        .collect();
    if only_certain && hits.len() != 1 {
        return Vec::new();
    }
    hits.sort_by(|x, y| y.2.score.total_cmp(&x.2.score).then(x.0.cmp(&y.0)));
    hits.truncate(count);
    hits.into_iter()
        .map(|(idx, candidate, evaluation)| (idx, evaluation.into_result(query, candidate)))
        .collect()
}

#[cfg(test)]
mod tests;
