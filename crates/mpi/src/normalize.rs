//! Normalisation of names, states and phone numbers before they are compared.
//!
//! Clerks write the same name many ways: with or without accents, "MA." for MARÍA, "HDZ" for HERNÁNDEZ,
//! "DE LA CRUZ" or "CRUZ", both surnames in one field. Everything here maps those spellings to one
//! comparable form so that the scorer only has to deal with genuine differences (typos, other names).
//! Folding uses NFKD and strips combining marks, so Ñ becomes N and `ª` becomes A — the same fold the CURP
//! itself applies to names (Ñ is written X there only in the code letters, not in the name).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::phonetic::spanish_phonetic;

/// Folds a string for comparison: compatibility decomposition, combining marks removed, upper case,
/// every non-alphanumeric character turned into a single space, no leading or trailing space.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_uppercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// Surname particles skipped by RENAPO when building a CURP (`sanjacob/curp` list), plus `Y`/`E`
/// ("Pérez y López"). They carry no identity, and clerks drop or keep them at will.
const PARTICLES: &[&str] = &[
    "DA", "DAS", "DE", "DEL", "DER", "DI", "DIE", "DD", "DU", "DOS", "EL", "LA", "LAS", "LE",
    "LES", "LOS", "MAC", "MC", "VAN", "VON", "Y", "E",
];

/// Prefixes that belong to the following word of a compound surname ("SAN MARTÍN", "SANTA ANA") but,
/// unlike particles, are kept for comparison.
const ATTACHING_PREFIXES: &[&str] = &["SAN", "SANTA", "SANTO"];

/// True when `token` (already folded) is a particle.
pub fn is_particle(token: &str) -> bool {
    PARTICLES.contains(&token)
}

/// Abbreviations of given names seen on Mexican registrations. `MA`/`J` follow the CURP instructivo
/// (MARÍA/MA./MA, JOSÉ/J./J); the others are common handwritten forms.
const GIVEN_ABBREVIATIONS: &[(&str, &str)] = &[
    ("MA", "MARIA"),
    ("MAR", "MARIA"),
    ("J", "JOSE"),
    ("JS", "JOSE"),
    ("GPE", "GUADALUPE"),
    ("GDPE", "GUADALUPE"),
    ("FCO", "FRANCISCO"),
    ("FCA", "FRANCISCA"),
    ("FDO", "FERNANDO"),
    ("ANT", "ANTONIO"),
    ("ANTO", "ANTONIO"),
    ("GMO", "GUILLERMO"),
    ("ALEJ", "ALEJANDRO"),
    ("CONC", "CONCEPCION"),
    ("CONCEP", "CONCEPCION"),
    ("STGO", "SANTIAGO"),
    ("ALFDO", "ALFREDO"),
    ("EDO", "EDUARDO"),
    ("MGTA", "MARGARITA"),
    ("CRISTOB", "CRISTOBAL"),
];

/// Surname abbreviations written on forms and in informal records (the `-EZ` surnames are shortened to
/// consonant skeletons: HDZ, GLZ, MTZ …).
const SURNAME_ABBREVIATIONS: &[(&str, &str)] = &[
    ("HDZ", "HERNANDEZ"),
    ("HRDZ", "HERNANDEZ"),
    ("HERNZ", "HERNANDEZ"),
    ("GLZ", "GONZALEZ"),
    ("GZZ", "GONZALEZ"),
    ("GONZ", "GONZALEZ"),
    ("MTZ", "MARTINEZ"),
    ("MRTZ", "MARTINEZ"),
    ("RDZ", "RODRIGUEZ"),
    ("RGZ", "RODRIGUEZ"),
    ("GTZ", "GUTIERREZ"),
    ("FDZ", "FERNANDEZ"),
    ("FRZ", "FERNANDEZ"),
    ("LPZ", "LOPEZ"),
    ("PRZ", "PEREZ"),
    ("SCHZ", "SANCHEZ"),
    ("SANCH", "SANCHEZ"),
    ("RMZ", "RAMIREZ"),
    ("GMZ", "GOMEZ"),
    ("DGZ", "DOMINGUEZ"),
    ("VZQZ", "VAZQUEZ"),
    ("JMZ", "JIMENEZ"),
];

/// Hypocorisms (apodos) used in place of the registered given name. Agreement through this table is only a
/// partial agreement: "Lupita" is strong evidence of "Guadalupe" but not proof.
const NICKNAMES: &[(&str, &str)] = &[
    ("PEPE", "JOSE"),
    ("CHEPE", "JOSE"),
    ("LUPE", "GUADALUPE"),
    ("LUPITA", "GUADALUPE"),
    ("PACO", "FRANCISCO"),
    ("PANCHO", "FRANCISCO"),
    ("PANCHA", "FRANCISCA"),
    ("PAQUITA", "FRANCISCA"),
    ("CHUCHO", "JESUS"),
    ("CHUY", "JESUS"),
    ("MEMO", "GUILLERMO"),
    ("LALO", "EDUARDO"),
    ("NACHO", "IGNACIO"),
    ("CHELO", "CONSUELO"),
    ("CONCHA", "CONCEPCION"),
    ("CONCHITA", "CONCEPCION"),
    ("CHAYO", "ROSARIO"),
    ("TONO", "ANTONIO"),
    ("TONA", "ANTONIA"),
    ("QUIQUE", "ENRIQUE"),
    ("KIKE", "ENRIQUE"),
    ("LICHA", "ALICIA"),
    ("PATY", "PATRICIA"),
    ("PATI", "PATRICIA"),
    ("LETY", "LETICIA"),
    ("LETI", "LETICIA"),
    ("CHAVA", "SALVADOR"),
    ("CHAVA", "ROSALVA"),
    ("GOYO", "GREGORIO"),
    ("LENCHO", "LORENZO"),
    ("TERE", "TERESA"),
    ("CHABELA", "ISABEL"),
    ("CHENCHO", "CRESCENCIO"),
    ("NENE", "RENE"),
    ("POLO", "LEOPOLDO"),
    ("PITA", "GUADALUPE"),
];

/// Whole-field values that mean "unknown": GIIS writes a missing surname as `XX`; clerks write `N/N`,
/// `DESCONOCIDO`, `SIN NOMBRE`.
const PLACEHOLDERS: &[&str] = &[
    "X",
    "XX",
    "XXX",
    "N N",
    "NN",
    "DESCONOCIDO",
    "DESCONOCIDA",
    "SIN NOMBRE",
    "SIN APELLIDO",
    "NO APLICA",
    "NINGUNO",
    "S N",
    "SN",
];

/// Which name field a value comes from; it decides which abbreviation table applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Given,
    Surname,
}

/// A name field after normalisation, with everything the scorer needs precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormName {
    /// Folded tokens, particles removed, abbreviations expanded ("MA. DE LOS ÁNGELES" → MARIA, ANGELES).
    pub tokens: Vec<String>,
    /// `tokens` concatenated without separators (so "DELACRUZ"-style spacing differences vanish).
    pub compact: String,
    /// All folded tokens including particles, concatenated; equality here is also full agreement.
    pub compact_full: String,
    /// [`spanish_phonetic`] of `compact`.
    pub phonetic: String,
    /// [`spanish_phonetic`] of each token.
    pub token_phonetics: Vec<String>,
    /// Full names that tokens of this name are nicknames of ("LUPITA" → GUADALUPE); usually empty.
    pub nickname_of: Vec<&'static str>,
}

impl NormName {
    /// Normalises one name field; `None` when nothing identifying is left (empty or a placeholder).
    pub fn new(raw: &str, kind: NameKind) -> Option<NormName> {
        let folded = fold(raw);
        if folded.is_empty() || PLACEHOLDERS.contains(&folded.as_str()) {
            return None;
        }
        let all_tokens: Vec<&str> = folded.split(' ').collect();
        let table = match kind {
            NameKind::Given => GIVEN_ABBREVIATIONS,
            NameKind::Surname => SURNAME_ABBREVIATIONS,
        };
        let mut tokens: Vec<String> = all_tokens
            .iter()
            .filter(|t| !is_particle(t))
            .map(|t| expand(t, table).to_owned())
            .collect();
        if tokens.is_empty() {
            // A name made only of particles ("DE LA") is unusual but is still what was registered.
            tokens = all_tokens.iter().map(|t| (*t).to_owned()).collect();
        }
        let compact = tokens.concat();
        let compact_full = all_tokens.concat();
        let phonetic = spanish_phonetic(&compact);
        let token_phonetics = tokens.iter().map(|t| spanish_phonetic(t)).collect();
        let nickname_of = match kind {
            NameKind::Given => tokens.iter().flat_map(|t| nickname_targets(t)).collect(),
            NameKind::Surname => Vec::new(),
        };
        Some(NormName {
            tokens,
            compact,
            compact_full,
            phonetic,
            token_phonetics,
            nickname_of,
        })
    }

    /// The given name RENAPO would use for the CURP: the second one when the first is MARÍA or JOSÉ and
    /// there is a second ("MARIA GUADALUPE" → GUADALUPE), otherwise the first.
    pub fn main_token_index(&self) -> usize {
        match self.tokens.first().map(String::as_str) {
            Some("MARIA" | "JOSE") if self.tokens.len() > 1 => 1,
            _ => 0,
        }
    }
}

fn expand<'a>(token: &'a str, table: &[(&'static str, &'static str)]) -> &'a str {
    table
        .iter()
        .find(|(abbreviation, _)| *abbreviation == token)
        .map_or(token, |(_, full)| full)
}

/// The canonical names a folded token may be a nickname of (empty when it is not a known nickname).
pub fn nickname_targets(token: &str) -> impl Iterator<Item = &'static str> + '_ {
    NICKNAMES
        .iter()
        .filter(move |(nickname, _)| *nickname == token)
        .map(|(_, full)| *full)
}

/// Splits a `family` string that may hold both surnames ("Pérez López", "de la Cruz Ruiz") into first and
/// second surname. Particles and SAN/SANTA attach to the word that follows them, so "DE LA CRUZ" stays one
/// surname; the last group is the second surname when there are at least two groups. A single compound
/// surname such as "Ponce de León" is split as PONCE + DE LEÓN — the scorer compares surnames in both
/// orders and as a whole, so that mistake costs little.
pub fn split_surnames(family: &str) -> (String, Option<String>) {
    let mut groups: Vec<String> = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    for raw in family.split_whitespace() {
        pending.push(raw);
        let folded = fold(raw);
        if !is_particle(&folded) && !ATTACHING_PREFIXES.contains(&folded.as_str()) {
            groups.push(pending.join(" "));
            pending.clear();
        }
    }
    if !pending.is_empty() {
        // Trailing particles ("LÓPEZ DE") belong to the last group.
        match groups.last_mut() {
            Some(last) => {
                last.push(' ');
                last.push_str(&pending.join(" "));
            }
            None => groups.push(pending.join(" ")),
        }
    }
    match groups.len() {
        0 => (String::new(), None),
        1 => (groups.remove(0), None),
        n => {
            let second = groups.remove(n - 1);
            (groups.join(" "), Some(second))
        }
    }
}

/// CURP state code, INEGI number, ISO 3166-2 suffix, and folded names that mean the state.
const STATES: &[(&str, &str, &str, &[&str])] = &[
    ("AS", "01", "AGU", &["AGUASCALIENTES", "AGS"]),
    (
        "BC",
        "02",
        "BCN",
        &["BAJA CALIFORNIA", "BAJA CALIFORNIA NORTE"],
    ),
    ("BS", "03", "BCS", &["BAJA CALIFORNIA SUR"]),
    ("CC", "04", "CAM", &["CAMPECHE"]),
    ("CL", "05", "COA", &["COAHUILA", "COAHUILA DE ZARAGOZA"]),
    ("CM", "06", "COL", &["COLIMA"]),
    ("CS", "07", "CHP", &["CHIAPAS"]),
    ("CH", "08", "CHH", &["CHIHUAHUA"]),
    (
        "DF",
        "09",
        "CMX",
        &[
            "CIUDAD DE MEXICO",
            "DISTRITO FEDERAL",
            "CDMX",
            "MEXICO DF",
            "MEXICO D F",
        ],
    ),
    ("DG", "10", "DUR", &["DURANGO"]),
    ("GT", "11", "GUA", &["GUANAJUATO"]),
    ("GR", "12", "GRO", &["GUERRERO"]),
    ("HG", "13", "HID", &["HIDALGO"]),
    ("JC", "14", "JAL", &["JALISCO"]),
    (
        "MC",
        "15",
        "MEX",
        &[
            "MEXICO",
            "ESTADO DE MEXICO",
            "EDO DE MEXICO",
            "EDO MEX",
            "EDOMEX",
            "EDO MEXICO",
        ],
    ),
    ("MN", "16", "MIC", &["MICHOACAN", "MICHOACAN DE OCAMPO"]),
    ("MS", "17", "MOR", &["MORELOS"]),
    ("NT", "18", "NAY", &["NAYARIT"]),
    ("NL", "19", "NLE", &["NUEVO LEON"]),
    ("OC", "20", "OAX", &["OAXACA"]),
    ("PL", "21", "PUE", &["PUEBLA"]),
    ("QT", "22", "QUE", &["QUERETARO", "QUERETARO DE ARTEAGA"]),
    ("QR", "23", "ROO", &["QUINTANA ROO"]),
    ("SP", "24", "SLP", &["SAN LUIS POTOSI"]),
    ("SL", "25", "SIN", &["SINALOA"]),
    ("SR", "26", "SON", &["SONORA"]),
    ("TC", "27", "TAB", &["TABASCO"]),
    ("TS", "28", "TAM", &["TAMAULIPAS"]),
    ("TL", "29", "TLA", &["TLAXCALA"]),
    (
        "VZ",
        "30",
        "VER",
        &[
            "VERACRUZ",
            "VERACRUZ DE IGNACIO DE LA LLAVE",
            "VERACRUZ LLAVE",
        ],
    ),
    ("YN", "31", "YUC", &["YUCATAN"]),
    ("ZS", "32", "ZAC", &["ZACATECAS"]),
    ("NE", "", "", &["NACIDO EN EL EXTRANJERO", "EXTRANJERO"]),
];

/// The 33 CURP state codes (32 states plus `NE`, born abroad).
pub fn state_codes() -> impl Iterator<Item = &'static str> {
    STATES.iter().map(|(code, ..)| *code)
}

/// Maps a registered state (CURP code, INEGI number, ISO 3166-2 code `MX-JAL`/`JAL`, or a name with any
/// accents/case) to its CURP code. Unknown text is returned folded, so two identical unknown values still
/// agree.
pub fn state_code(raw: &str) -> String {
    let folded = fold(raw);
    let key = folded.strip_prefix("MX ").unwrap_or(&folded);
    let key = key
        .strip_prefix("ESTADO DE ")
        .filter(|k| *k != "MEXICO")
        .unwrap_or(key);
    let number = key.parse::<u8>().ok().map(|n| format!("{n:02}"));
    STATES
        .iter()
        .find(|(code, inegi, iso, names)| {
            *code == key
                || number
                    .as_deref()
                    .is_some_and(|n| !inegi.is_empty() && n == *inegi)
                || (!iso.is_empty() && *iso == key)
                || names.contains(&key)
        })
        .map_or(folded.clone(), |(code, ..)| (*code).to_owned())
}

/// Shortest digit string still treated as a phone number (a local 7-digit number without area code).
const PHONE_DIGITS_MIN: usize = 7;
/// Mexican numbers have 10 digits since 2019; longer strings carry country/trunk prefixes.
const PHONE_DIGITS_NATIONAL: usize = 10;

/// Normalises a phone number to its last 10 digits (dropping +52, 1, 044/045 prefixes). Placeholders
/// (fewer than 7 digits, or one digit repeated such as 0000000000) are `None`: they would make unrelated
/// people agree.
pub fn phone_digits(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < PHONE_DIGITS_MIN {
        return None;
    }
    let national = &digits[digits.len().saturating_sub(PHONE_DIGITS_NATIONAL)..];
    let first = national.as_bytes()[0];
    if national.bytes().all(|b| b == first) || national == "1234567890" {
        return None;
    }
    Some(national.to_owned())
}

#[cfg(test)]
mod tests;
