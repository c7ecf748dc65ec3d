//! The R4 primitive types' value rules (the regexes of the R4 specification, section 2.24,
//! written out by hand: no regex engine, no allocation, one pass over the text).

use crate::defs::Primitive;
use crate::json::Json;

/// R4: "strings SHALL NOT exceed 1 MB in size" (string, markdown and the types derived from
/// them). base64Binary and xhtml are not limited by the rule; the HTTP body limit bounds them.
pub const STRING_BYTES_MAX: usize = 1024 * 1024;

/// Why a primitive value is not valid, in both languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrimitiveError {
    /// The JSON kind is wrong (a string where a boolean belongs).
    Kind {
        expected_es: &'static str,
        expected_en: &'static str,
    },
    /// The text does not follow the type's grammar.
    Format {
        rule_es: &'static str,
        rule_en: &'static str,
    },
}

const fn format(rule_es: &'static str, rule_en: &'static str) -> PrimitiveError {
    PrimitiveError::Format { rule_es, rule_en }
}

const EMPTY: PrimitiveError = format(
    "no se admiten cadenas vacías",
    "empty strings are not allowed",
);

/// Checks a JSON value against a primitive type.
pub fn check_primitive(primitive: Primitive, value: &Json) -> Result<(), PrimitiveError> {
    match primitive {
        Primitive::Boolean => match value {
            Json::Bool(_) => Ok(()),
            _ => Err(PrimitiveError::Kind {
                expected_es: "un booleano (true o false, sin comillas)",
                expected_en: "a boolean (true or false, unquoted)",
            }),
        },
        Primitive::Integer
        | Primitive::Decimal
        | Primitive::UnsignedInt
        | Primitive::PositiveInt => match value {
            Json::Number(text) => check_number(primitive, text),
            _ => Err(PrimitiveError::Kind {
                expected_es: "un número JSON (sin comillas)",
                expected_en: "a JSON number (unquoted)",
            }),
        },
        _ => match value {
            Json::String(text) => check_text(primitive, text),
            _ => Err(PrimitiveError::Kind {
                expected_es: "una cadena JSON",
                expected_en: "a JSON string",
            }),
        },
    }
}

/// Checks the text of a string-valued primitive (everything except boolean and the numbers).
pub fn check_text(primitive: Primitive, text: &str) -> Result<(), PrimitiveError> {
    if text.is_empty() {
        return Err(EMPTY);
    }
    let ok = match primitive {
        Primitive::String | Primitive::Markdown => return check_string(text),
        Primitive::Code => is_code(text),
        Primitive::Id => is_id(text),
        Primitive::Uri | Primitive::Url | Primitive::Canonical => !text.bytes().any(is_space),
        Primitive::Oid => is_oid(text),
        Primitive::Uuid => is_uuid(text),
        Primitive::Base64Binary => is_base64(text),
        Primitive::Date => is_date(text),
        Primitive::DateTime => is_date_time(text),
        Primitive::Instant => is_instant(text),
        Primitive::Time => is_time(text),
        Primitive::Xhtml => text.trim_start().starts_with("<div"),
        Primitive::Boolean
        | Primitive::Integer
        | Primitive::Decimal
        | Primitive::UnsignedInt
        | Primitive::PositiveInt => false,
    };
    if !ok {
        return Err(rule(primitive));
    }
    if text.len() > STRING_BYTES_MAX
        && !matches!(primitive, Primitive::Base64Binary | Primitive::Xhtml)
    {
        return Err(TOO_LONG);
    }
    Ok(())
}

const TOO_LONG: PrimitiveError = format("supera el máximo de 1 MB", "exceeds the 1 MB maximum");

/// The rule text shown when a value of `primitive` is malformed.
fn rule(primitive: Primitive) -> PrimitiveError {
    match primitive {
        Primitive::Code => format(
            "un código no puede empezar ni terminar con espacios ni tener espacios dobles",
            "a code must not start or end with whitespace nor contain double whitespace",
        ),
        Primitive::Id => format(
            "de 1 a 64 caracteres entre A-Z, a-z, 0-9, '-' y '.'",
            "1 to 64 characters among A-Z, a-z, 0-9, '-' and '.'",
        ),
        Primitive::Uri | Primitive::Url | Primitive::Canonical => {
            format("no puede contener espacios", "must not contain whitespace")
        }
        Primitive::Oid => format(
            "debe tener la forma urn:oid:1.2.3",
            "must look like urn:oid:1.2.3",
        ),
        Primitive::Uuid => format(
            "debe tener la forma urn:uuid: seguido de un UUID en minúsculas",
            "must be urn:uuid: followed by a lowercase UUID",
        ),
        Primitive::Base64Binary => format("no es base64 válido", "is not valid base64"),
        Primitive::Date => format(
            "debe ser AAAA, AAAA-MM o AAAA-MM-DD con una fecha existente",
            "must be YYYY, YYYY-MM or YYYY-MM-DD with a real date",
        ),
        Primitive::DateTime => format(
            "debe ser AAAA, AAAA-MM, AAAA-MM-DD o AAAA-MM-DDThh:mm:ss con zona horaria (Z o ±hh:mm)",
            "must be YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone (Z or ±hh:mm)",
        ),
        Primitive::Instant => format(
            "debe ser AAAA-MM-DDThh:mm:ss(.s) con zona horaria (Z o ±hh:mm)",
            "must be YYYY-MM-DDThh:mm:ss(.s) with a time zone (Z or ±hh:mm)",
        ),
        Primitive::Time => format(
            "debe ser hh:mm:ss(.s) sin zona horaria",
            "must be hh:mm:ss(.s) without a time zone",
        ),
        Primitive::Xhtml => format(
            "debe ser un elemento <div> de XHTML",
            "must be an XHTML <div> element",
        ),
        Primitive::Integer => format(
            "debe ser un entero de 32 bits sin parte decimal ni exponente",
            "must be a 32-bit integer without fraction or exponent",
        ),
        Primitive::UnsignedInt => format(
            "debe ser un entero de 0 a 2147483647",
            "must be an integer from 0 to 2147483647",
        ),
        Primitive::PositiveInt => format(
            "debe ser un entero de 1 a 2147483647",
            "must be an integer from 1 to 2147483647",
        ),
        Primitive::Decimal => format("no es un número decimal", "is not a decimal number"),
        Primitive::Boolean | Primitive::String | Primitive::Markdown => {
            format("no es válido", "is not valid")
        }
    }
}

/// R4: strings must not contain characters below U+0020 other than tab, CR and LF.
fn check_string(text: &str) -> Result<(), PrimitiveError> {
    if text
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'))
    {
        return Err(format(
            "contiene caracteres de control (solo se admiten tabulador y saltos de línea)",
            "contains control characters (only tab, CR and LF are allowed)",
        ));
    }
    if text.len() > STRING_BYTES_MAX {
        return Err(TOO_LONG);
    }
    Ok(())
}

/// A JSON number's text (already valid JSON) against a numeric primitive.
fn check_number(primitive: Primitive, text: &str) -> Result<(), PrimitiveError> {
    if primitive == Primitive::Decimal {
        // The R4 decimal grammar is exactly JSON's number grammar; precision is kept as sent.
        // A magnitude beyond IEEE double range (`1e999999`) is refused: no receiving system
        // could compute with it, and most JSON readers would turn it into infinity.
        return match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(()),
            _ => Err(format(
                "excede el intervalo de un número de doble precisión",
                "is beyond the range of a double-precision number",
            )),
        };
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let well_formed = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    let value: Option<i64> = if well_formed && digits.len() <= 10 {
        digits
            .parse::<i64>()
            .ok()
            .map(|v| if negative { -v } else { v })
    } else {
        None
    };
    let ok = match (primitive, value) {
        (Primitive::Integer, Some(v)) => i32::try_from(v).is_ok(),
        (Primitive::UnsignedInt, Some(v)) => !negative && (0..=i64::from(i32::MAX)).contains(&v),
        (Primitive::PositiveInt, Some(v)) => !negative && (1..=i64::from(i32::MAX)).contains(&v),
        _ => false,
    };
    if ok { Ok(()) } else { Err(rule(primitive)) }
}

/// `\s` as the R4 regexes (XML Schema / Java) mean it.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

/// `[^\s]+(\s[^\s]+)*`
pub fn is_code(text: &str) -> bool {
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) if !is_space(*first) && !is_space(*last) => {}
        _ => return false,
    }
    !bytes.windows(2).any(|w| is_space(w[0]) && is_space(w[1]))
}

/// `[A-Za-z0-9\-\.]{1,64}`
pub fn is_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `urn:oid:[0-2](\.(0|[1-9][0-9]*))+`
pub fn is_oid(text: &str) -> bool {
    text.strip_prefix("urn:oid:").is_some_and(is_bare_oid)
}

/// `[0-2](\.(0|[1-9][0-9]*))+` (an OID without its `urn:oid:` prefix).
pub fn is_bare_oid(text: &str) -> bool {
    let mut arcs = text.split('.');
    let first_ok = matches!(arcs.next(), Some("0" | "1" | "2"));
    let mut n_rest = 0;
    for arc in arcs {
        let ok = !arc.is_empty()
            && arc.bytes().all(|b| b.is_ascii_digit())
            && (arc == "0" || !arc.starts_with('0'));
        if !ok {
            return false;
        }
        n_rest += 1;
    }
    first_ok && n_rest > 0
}

/// `urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
pub fn is_uuid(text: &str) -> bool {
    text.strip_prefix("urn:uuid:")
        .is_some_and(|uuid| is_bare_uuid(uuid, false))
}

/// The 8-4-4-4-12 hex shape; uppercase hex only when `any_case`.
pub fn is_bare_uuid(text: &str, any_case: bool) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(idx, b)| match idx {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => {
                b.is_ascii_digit()
                    || matches!(b, b'a'..=b'f')
                    || (any_case && matches!(b, b'A'..=b'F'))
            }
        })
}

/// `(\s*([0-9a-zA-Z\+/=]){4}\s*)+` with padding only at the end.
pub fn is_base64(text: &str) -> bool {
    let mut n_chars = 0usize;
    let mut n_padding = 0usize;
    for byte in text.bytes() {
        if is_space(byte) {
            continue;
        }
        if byte == b'=' {
            n_padding += 1;
        } else if byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/' {
            if n_padding > 0 {
                return false;
            }
        } else {
            return false;
        }
        n_chars += 1;
    }
    n_chars > 0 && n_chars.is_multiple_of(4) && n_padding <= 2
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (a real calendar date; year 0000 excluded).
pub fn is_date(text: &str) -> bool {
    partial_date(text.as_bytes()) == Some(text.len())
}

/// A date, or a full date with `Thh:mm:ss(.s)` and a required time zone.
pub fn is_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    match partial_date(bytes) {
        Some(end) if end == bytes.len() => true,
        Some(10) => bytes.get(10) == Some(&b'T') && bytes.get(11..).is_some_and(time_with_zone),
        _ => false,
    }
}

/// `(year, month, day)`.
pub type CivilDate = (i64, u32, u32);
/// `(hour, minute, second)`.
pub type ClockTime = (u32, u32, u32);

/// A local wall-clock time: `YYYY-MM-DDThh:mm:ss(.s)` with no time zone, which R4 forbids in
/// a `dateTime` but many senders produce (Python's `isoformat()`). Returns the date and the
/// time of day, for a lenient reader to place in its zone.
pub fn local_date_time(text: &str) -> Option<(CivilDate, ClockTime)> {
    let bytes = text.as_bytes();
    if partial_date(bytes) != Some(10) || bytes.get(10) != Some(&b'T') {
        return None;
    }
    let time = bytes.get(11..)?;
    if clock(time) != Some(time.len()) {
        return None;
    }
    let number = |at: usize, n: usize| digits(bytes, at, n);
    Some((
        (i64::from(number(0, 4)?), number(5, 2)?, number(8, 2)?),
        (number(11, 2)?, number(14, 2)?, number(17, 2)?),
    ))
}

/// `YYYY-MM-DDThh:mm:ss(.s)` with a time zone: an exact moment.
pub fn is_instant(text: &str) -> bool {
    let bytes = text.as_bytes();
    partial_date(bytes) == Some(10)
        && bytes.get(10) == Some(&b'T')
        && bytes.get(11..).is_some_and(time_with_zone)
}

/// `hh:mm:ss(.s)`, no time zone.
pub fn is_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    clock(bytes) == Some(bytes.len())
}

fn digits(bytes: &[u8], at: usize, n: usize) -> Option<u32> {
    let slice = bytes.get(at..at + n)?;
    slice.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Length of the leading `YYYY(-MM(-DD)?)?`, if valid.
fn partial_date(bytes: &[u8]) -> Option<usize> {
    let year = digits(bytes, 0, 4)?;
    if year == 0 {
        return None;
    }
    if bytes.get(4) != Some(&b'-') {
        return Some(4);
    }
    let month = digits(bytes, 5, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    if bytes.get(7) != Some(&b'-') {
        return Some(7);
    }
    let day = digits(bytes, 8, 2)?;
    (1..=days_in_month(year, month))
        .contains(&day)
        .then_some(10)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    calendar::days_in_month(i64::from(year), month)
}

/// Length of the leading `hh:mm:ss(.s+)?`, if valid (seconds may be 60 for leap seconds).
fn clock(bytes: &[u8]) -> Option<usize> {
    let hour = digits(bytes, 0, 2)?;
    let minute = (bytes.get(2) == Some(&b':')).then(|| digits(bytes, 3, 2))??;
    let second = (bytes.get(5) == Some(&b':')).then(|| digits(bytes, 6, 2))??;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut end = 8;
    if bytes.get(8) == Some(&b'.') {
        let n_fraction = bytes
            .get(9..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n_fraction == 0 {
            return None;
        }
        end = 9 + n_fraction;
    }
    Some(end)
}

/// `hh:mm:ss(.s)` followed by `Z` or `(+|-)hh:mm` (hours 00–13, or 14:00), and nothing else.
fn time_with_zone(bytes: &[u8]) -> bool {
    let Some(end) = clock(bytes) else {
        return false;
    };
    let zone = &bytes[end..];
    match zone {
        [b'Z'] => true,
        [b'+' | b'-', _, _, b':', _, _] => {
            let (Some(hours), Some(minutes)) = (digits(zone, 1, 2), digits(zone, 4, 2)) else {
                return false;
            };
            (hours <= 13 && minutes <= 59) || (hours == 14 && minutes == 0)
        }
        _ => false,
    }
}
