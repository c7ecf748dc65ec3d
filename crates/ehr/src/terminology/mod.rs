//! Terminology operations over the catalogues the node ships ([`catalogue`]): CIE-10 (Spanish
//! titles, the DGIS sex/age rules, synonyms) as the code system `http://hl7.org/fhir/sid/icd-10`,
//! the LOINC studies a health centre orders (`http://loinc.org`, a subset) and the CNIS
//! formulary subset the prescribing form uses, each with its implicit value set
//! (`{system}?fhir_vs`).
//!
//! `CodeSystem/$lookup`, `CodeSystem/$validate-code`, `ValueSet/$validate-code`,
//! `ValueSet/$expand` (with an accent-insensitive Spanish `filter`, the same ranked search the
//! web UI's typeahead uses) and `ConceptMap/$translate` (CIE-10 to the four-character GIIS form
//! that DGIS files carry).
//!
//! Key decision: the catalogues are compiled into the binary, so these
//! operations read no store and no patient data; they need a signed-in requester like every
//! `/fhir` request, but leave no audit entry (nothing about a patient is read). The value set
//! of all CIE-10 codes is the implicit one, `http://hl7.org/fhir/sid/icd-10?fhir_vs`, as FHIR
//! names a code system's complete value set.

mod catalogue;

use fhir::{Issue, IssueCode, Json};
use mexico::systems;

use crate::Error;
use catalogue::{Catalogue, cie10_giis};

/// The four-character form of GIIS/DGIS files (`E119`, `I10X`).
pub const GIIS_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/sid/cie10-giis";
/// Most codes one `$expand` returns.
pub const EXPAND_MAX: usize = 1_000;

/// A code system, value set or target this node does not hold: 404, as for a resource it
/// does not have.
fn not_supported(es: String, en: String) -> Error {
    Error::NotFound(Issue::error(IssueCode::NotSupported, es, en))
}

/// The catalogues' systems, for messages.
fn known_systems() -> String {
    Catalogue::ALL
        .iter()
        .map(|c| c.system())
        .collect::<Vec<_>>()
        .join(", ")
}

fn catalogue_of_system(system: Option<&str>) -> Result<Catalogue, Error> {
    match system {
        Some(system) => Catalogue::of_system(system).ok_or_else(|| {
            not_supported(
                format!(
                    "Este nodo tiene las terminologías {}; no conoce «{system}»",
                    known_systems()
                ),
                format!(
                    "This node holds the terminologies {}; it does not know '{system}'",
                    known_systems()
                ),
            )
        }),
        None => Err(Error::bad_request(
            IssueCode::Required,
            "Falta el parámetro system",
            "The system parameter is missing",
        )),
    }
}

fn catalogue_of_value_set(url: Option<&str>) -> Result<Catalogue, Error> {
    let known = || {
        Catalogue::ALL
            .iter()
            .map(|c| c.value_set())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match url {
        Some(url) => Catalogue::of_value_set(url).ok_or_else(|| {
            not_supported(
                format!(
                    "Este nodo expande los conjuntos de valores {}; no «{url}»",
                    known()
                ),
                format!("This node expands the value sets {}; not '{url}'", known()),
            )
        }),
        None => Err(Error::bad_request(
            IssueCode::Required,
            "Falta el parámetro url (el conjunto de valores)",
            "The url parameter (the value set) is missing",
        )),
    }
}

fn required<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, Error> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        Error::bad_request(
            IssueCode::Required,
            format!("Falta el parámetro {name}"),
            format!("The {name} parameter is missing"),
        )
    })
}

fn parameter(name: &str, value_kind: &str, value: Json) -> Json {
    Json::object([("name", Json::str(name)), (value_kind, value)])
}

fn parameters(list: Vec<Json>) -> Json {
    Json::object([
        ("resourceType", Json::str("Parameters")),
        ("parameter", Json::Array(list)),
    ])
}

/// The answer of `$validate-code` and `$translate` for a code the catalogue lacks: `result`
/// false, with a message (not an error: the question had an answer).
fn unknown_code(catalogue: Catalogue, code: &str) -> Json {
    parameters(vec![
        parameter("result", "valueBoolean", Json::Bool(false)),
        parameter(
            "message",
            "valueString",
            Json::str(format!("«{code}» no es un código de {}", catalogue.name())),
        ),
    ])
}

/// # `CodeSystem/$lookup?system=…&code=…`
pub fn lookup(system: Option<&str>, code: Option<&str>) -> Result<Json, Error> {
    let catalogue = catalogue_of_system(system)?;
    let code = required(code, "code")?;
    let Some(found) = catalogue.concept(code) else {
        return Err(Error::NotFound(Issue::error(
            IssueCode::NotFound,
            format!("«{code}» no es un código de {}", catalogue.name()),
            format!("'{code}' is not a code of {}", catalogue.system()),
        )));
    };
    let property = |code: &str, value: Json, kind: &str| {
        Json::object([
            ("name", Json::str("property")),
            (
                "part",
                Json::Array(vec![
                    parameter("code", "valueCode", Json::str(code)),
                    parameter("value", kind, value),
                ]),
            ),
        ])
    };
    let mut list = vec![
        parameter("name", "valueString", Json::str(catalogue.name())),
        parameter("version", "valueString", Json::str(catalogue.version())),
        parameter("display", "valueString", Json::str(&found.display)),
        property("code", Json::str(&found.code), "valueCode"),
    ];
    for (code, value, kind) in found.properties {
        list.push(property(code, value, kind));
    }
    Ok(parameters(list))
}

/// # `CodeSystem/$validate-code` and `ValueSet/$validate-code`
///
/// `result` is false (never an error) for a code that is not in the catalogue, and for a
/// `display` that is not the code's title, with a message saying why.
pub fn validate_code(
    system: Option<&str>,
    code: Option<&str>,
    display: Option<&str>,
) -> Result<Json, Error> {
    let catalogue = catalogue_of_system(system)?;
    let code = required(code, "code")?;
    let Some(found) = catalogue.concept(code) else {
        return Ok(unknown_code(catalogue, code));
    };
    let mut list = vec![
        parameter("result", "valueBoolean", Json::Bool(true)),
        parameter("display", "valueString", Json::str(&found.display)),
    ];
    if let Some(given) = display
        && mexico::search_fold(given) != mexico::search_fold(&found.display)
    {
        list[0] = parameter("result", "valueBoolean", Json::Bool(false));
        list.push(parameter(
            "message",
            "valueString",
            Json::str(format!(
                "El texto «{given}» no es el título de {} («{}»)",
                found.code, found.display
            )),
        ));
    }
    Ok(parameters(list))
}

/// # `ValueSet/$expand?url=…&filter=…&count=…&offset=…`
pub fn expand(
    url: Option<&str>,
    filter: Option<&str>,
    count: Option<usize>,
    offset: Option<usize>,
    now_text: &str,
) -> Result<Json, Error> {
    let catalogue = catalogue_of_value_set(url)?;
    let count = count.unwrap_or(20).min(EXPAND_MAX);
    let offset = offset.unwrap_or(0);
    let filter = filter.filter(|f| !f.trim().is_empty());
    if filter.is_none() && !catalogue.expands_whole() {
        return Err(Error::Forbidden(Issue::error(
            IssueCode::TooCostly,
            "La CIE-10 tiene más de 14,000 códigos: indique filter para expandirla",
            "CIE-10 has over 14,000 codes: give a filter to expand it",
        )));
    }
    let hits = catalogue.search(filter, offset.saturating_add(count).min(EXPAND_MAX));
    let contains: Vec<Json> = hits
        .iter()
        .skip(offset)
        .take(count)
        .map(|(code, display)| {
            Json::object([
                ("system", Json::str(catalogue.system())),
                ("code", Json::str(code)),
                ("display", Json::str(display)),
            ])
        })
        .collect();
    let filter_parameter = filter
        .map(|filter| vec![parameter("filter", "valueString", Json::str(filter))])
        .unwrap_or_default();
    Ok(Json::object([
        ("resourceType", Json::str("ValueSet")),
        ("url", Json::str(catalogue.value_set())),
        ("status", Json::str("active")),
        (
            "expansion",
            Json::object([
                (
                    "identifier",
                    Json::str(format!("urn:uuid:{}", crate::meta::new_id())),
                ),
                ("timestamp", Json::str(now_text)),
                ("offset", Json::int(offset as i64)),
                ("parameter", Json::Array(filter_parameter)),
                ("contains", Json::Array(contains)),
            ]),
        ),
    ]))
}

/// # `ConceptMap/$translate?system=…&code=…&target=…` (CIE-10 → GIIS four-character form)
pub fn translate(
    system: Option<&str>,
    code: Option<&str>,
    target: Option<&str>,
) -> Result<Json, Error> {
    let catalogue = catalogue_of_system(system)?;
    if catalogue != Catalogue::Cie10 {
        return Err(not_supported(
            format!(
                "Solo se traduce de CIE-10 ({}) a la forma GIIS",
                systems::CIE10
            ),
            format!(
                "Only CIE-10 ({}) is translated, to the GIIS form",
                systems::CIE10
            ),
        ));
    }
    let code = required(code, "code")?;
    match target {
        Some(GIIS_SYSTEM) | None => {}
        Some(other) => {
            return Err(not_supported(
                format!(
                    "Solo se traduce de CIE-10 a la forma GIIS ({GIIS_SYSTEM}); no a «{other}»"
                ),
                format!(
                    "Only CIE-10 to the GIIS form ({GIIS_SYSTEM}) is translated; not to '{other}'"
                ),
            ));
        }
    }
    let Some(found) = catalogue.concept(code) else {
        return Ok(unknown_code(catalogue, code));
    };
    Ok(parameters(vec![
        parameter("result", "valueBoolean", Json::Bool(true)),
        Json::object([
            ("name", Json::str("match")),
            (
                "part",
                Json::Array(vec![
                    parameter("equivalence", "valueCode", Json::str("equivalent")),
                    parameter(
                        "concept",
                        "valueCoding",
                        Json::object([
                            ("system", Json::str(GIIS_SYSTEM)),
                            ("code", Json::str(cie10_giis(&found.code))),
                            ("display", Json::str(&found.display)),
                        ]),
                    ),
                ]),
            ),
        ]),
    ]))
}
