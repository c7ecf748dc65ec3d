//! Grammars for values drawn from large external code systems (BCP-47 language tags, MIME
//! types) and for `Reference.reference`, written by hand.
//!
//! Why grammars instead of lists: the R4 bindings to languages and MIME types are to *all*
//! BCP-47 tags and *all* BCP-13 media types. No list we could ship is complete (`es-MX`,
//! `es-419`, `application/fhir+json; fhirVersion=4.0`…), and rejecting valid real-world data
//! for want of a terminology server is worse than accepting a well-formed tag we cannot verify.

use super::primitive::{is_bare_oid, is_bare_uuid, is_id};

/// RFC 5646 language tag (`es`, `es-MX`, `zh-Hant-TW`, `sgn-BE-FR`, `x-private`), compared
/// case-insensitively; subtags are checked for shape, not looked up in the IANA registry.
pub fn is_language_tag(tag: &str) -> bool {
    if GRANDFATHERED.iter().any(|g| g.eq_ignore_ascii_case(tag)) {
        return true;
    }
    let subtags: Vec<&str> = tag.split('-').collect();
    if subtags
        .iter()
        .any(|s| s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return false;
    }
    let n = subtags.len();
    let mut idx = 0;
    let alpha = |s: &str| s.bytes().all(|b| b.is_ascii_alphabetic());
    let digit = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !subtags[0].eq_ignore_ascii_case("x") {
        // language: 2*3ALPHA [-extlang] / 4ALPHA / 5*8ALPHA
        let language = subtags[0];
        if !(alpha(language) && language.len() >= 2) {
            return false;
        }
        idx = 1;
        if language.len() <= 3 {
            let mut n_extlang = 0;
            while idx < n && n_extlang < 3 && subtags[idx].len() == 3 && alpha(subtags[idx]) {
                idx += 1;
                n_extlang += 1;
            }
        }
        // script: 4ALPHA
        if idx < n && subtags[idx].len() == 4 && alpha(subtags[idx]) {
            idx += 1;
        }
        // region: 2ALPHA / 3DIGIT
        if idx < n
            && ((subtags[idx].len() == 2 && alpha(subtags[idx]))
                || (subtags[idx].len() == 3 && digit(subtags[idx])))
        {
            idx += 1;
        }
        // variants: 5*8alphanum / DIGIT 3alphanum
        while idx < n
            && (subtags[idx].len() >= 5
                || (subtags[idx].len() == 4 && subtags[idx].as_bytes()[0].is_ascii_digit()))
        {
            idx += 1;
        }
        // extensions: singleton 1*("-" 2*8alphanum)
        while idx < n && subtags[idx].len() == 1 && !subtags[idx].eq_ignore_ascii_case("x") {
            idx += 1;
            let start = idx;
            while idx < n && subtags[idx].len() >= 2 {
                idx += 1;
            }
            if idx == start {
                return false;
            }
        }
        if idx == n {
            return true;
        }
    }
    // privateuse: "x" 1*("-" 1*8alphanum)
    subtags[idx].eq_ignore_ascii_case("x") && idx + 1 < n
}

/// The tags RFC 5646 keeps for compatibility, which the grammar above does not produce.
const GRANDFATHERED: &[&str] = &[
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// RFC 6838/2045 media type: `type/subtype *(; attribute=value)`, e.g.
/// `text/plain; charset=UTF-8`, `application/fhir+json`. Also the FHIR format shorthands
/// `xml`, `json` and `ttl`, which R4 allows where a MIME type is bound (CapabilityStatement.format
/// says so, and TestScript uses them).
///
/// Parameter values are accepted when they hold no control characters or `;`, even unquoted
/// with spaces (`variant=DICOM WADO-RS`, from the official R4 examples): strict RFC 2045 would
/// reject data that every consumer understands.
pub fn is_mime_type(text: &str) -> bool {
    if matches!(text, "xml" | "json" | "ttl") {
        return true;
    }
    let mut parts = text.split(';');
    let Some(essence) = parts.next() else {
        return false;
    };
    let Some((kind, subtype)) = essence.trim_end().split_once('/') else {
        return false;
    };
    if !is_restricted_name(kind) || !is_restricted_name(subtype) {
        return false;
    }
    parts.all(|parameter| {
        let Some((attribute, value)) = parameter.split_once('=') else {
            return false;
        };
        let value = value.trim();
        is_token(attribute.trim()) && !value.is_empty() && !value.chars().any(char::is_control)
    })
}

/// RFC 6838 `restricted-name`: 1–127 characters, alphanumeric first.
fn is_restricted_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=127).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                )
        })
}

/// RFC 2045 `token`: printable ASCII except space and tspecials.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// Why a `Reference.reference` is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferenceProblem {
    /// Not one of the reference forms R4 allows.
    Malformed,
    /// `Type/id` or `Type?query` with a type that is not an R4 resource type.
    UnknownType(String),
}

/// Checks a literal reference: `Type/id`, `Type/id/_history/vid`, an absolute URL, `#local`
/// (or `#` for the container), `urn:uuid:…`, `urn:oid:…`, or a conditional `Type?query`
/// (resolved by the server inside transactions and imports).
pub fn check_reference(
    text: &str,
    is_resource_type: impl Fn(&str) -> bool,
) -> Result<(), ReferenceProblem> {
    if let Some(local) = text.strip_prefix('#') {
        return if local.is_empty() || is_id(local) {
            Ok(())
        } else {
            Err(ReferenceProblem::Malformed)
        };
    }
    if let Some(uuid) = text.strip_prefix("urn:uuid:") {
        // References are strings, not `uuid`s: accept uppercase hex as RFC 4122 readers must.
        return ok_if(is_bare_uuid(uuid, true));
    }
    if let Some(oid) = text.strip_prefix("urn:oid:") {
        return ok_if(is_bare_oid(oid));
    }
    if let Some((scheme, rest)) = text.split_once(':')
        && is_scheme(scheme)
    {
        let no_space = !text.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20);
        let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
        let has_host = rest
            .strip_prefix("//")
            .is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
        return ok_if(no_space && (!web || has_host));
    }
    if let Some((resource_type, query)) = text.split_once('?') {
        if !is_resource_type(resource_type) {
            return Err(unknown_or_malformed(resource_type));
        }
        return ok_if(!query.is_empty() && !query.bytes().any(|b| b < 0x20));
    }
    let mut segments = text.split('/');
    let resource_type = segments.next().unwrap_or_default();
    let id = segments.next();
    let history = (segments.next(), segments.next(), segments.next());
    let shape_ok = id.is_some_and(is_id)
        && match history {
            (None, None, None) => true,
            (Some("_history"), Some(version), None) => is_id(version),
            _ => false,
        };
    if !is_resource_type(resource_type) {
        return Err(unknown_or_malformed(resource_type));
    }
    ok_if(shape_ok)
}

fn unknown_or_malformed(resource_type: &str) -> ReferenceProblem {
    let looks_like_type = resource_type.len() <= 64
        && resource_type
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_uppercase)
        && resource_type.bytes().all(|b| b.is_ascii_alphanumeric());
    if looks_like_type {
        ReferenceProblem::UnknownType(resource_type.to_string())
    } else {
        ReferenceProblem::Malformed
    }
}

fn ok_if(ok: bool) -> Result<(), ReferenceProblem> {
    if ok {
        Ok(())
    } else {
        Err(ReferenceProblem::Malformed)
    }
}

/// RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn is_scheme(scheme: &str) -> bool {
    let bytes = scheme.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}
