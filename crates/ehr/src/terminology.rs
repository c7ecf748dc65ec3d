//! Terminology operations over the catalogues the node ships: CIE-10 (Spanish titles, the
//! DGIS sex/age rules, synonyms) as the code system `http://hl7.org/fhir/sid/icd-10`.
//!
//! `CodeSystem/$lookup`, `CodeSystem/$validate-code`, `ValueSet/$validate-code`,
//! `ValueSet/$expand` (with an accent-insensitive Spanish `filter`, the same ranked search the
//! web UI's typeahead uses) and `ConceptMap/$translate` (CIE-10 to the four-character GIIS form
//! that DGIS files carry).
//!
//! Key decision: the catalogue is compiled into the binary (`mexico::cie10`), so these
//! operations read no store and no patient data; they need a signed-in requester like every
//! `/fhir` request, but leave no audit entry (nothing about a patient is read). The value set
//! of all CIE-10 codes is the implicit one, `http://hl7.org/fhir/sid/icd-10?fhir_vs`, as FHIR
//! names a code system's complete value set.

use fhir::{Issue, IssueCode, Json};
use mexico::cie10;
use mexico::systems;

use crate::Error;

/// The value set of every CIE-10 code (FHIR's implicit value set of the code system).
pub const CIE10_ALL: &str = "http://hl7.org/fhir/sid/icd-10?fhir_vs";
/// The four-character form of GIIS/DGIS files (`E119`, `I10X`).
pub const GIIS_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/sid/cie10-giis";
/// Most codes one `$expand` returns.
pub const EXPAND_MAX: usize = 1_000;

/// A code system, value set or target this node does not hold: 404, as for a resource it
/// does not have.
fn not_supported(es: String, en: String) -> Error {
    Error::NotFound(Issue::error(IssueCode::NotSupported, es, en))
}

fn check_system(system: Option<&str>) -> Result<(), Error> {
    match system {
        Some(systems::CIE10) => Ok(()),
        Some(other) => Err(not_supported(
            format!(
                "Este nodo solo tiene la terminología CIE-10 ({}); no conoce «{other}»",
                systems::CIE10
            ),
            format!(
                "This node only holds the CIE-10 terminology ({}); it does not know '{other}'",
                systems::CIE10
            ),
        )),
        None => Err(Error::bad_request(
            IssueCode::Required,
            "Falta el parámetro system",
            "The system parameter is missing",
        )),
    }
}

fn check_value_set(url: Option<&str>) -> Result<(), Error> {
    match url {
        Some(CIE10_ALL) => Ok(()),
        Some(other) => Err(not_supported(
            format!("Este nodo solo expande el conjunto de valores {CIE10_ALL}; no «{other}»"),
            format!("This node only expands the value set {CIE10_ALL}; not '{other}'"),
        )),
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

/// The catalogue entry of a code written dotted (`E11.9`) or in the GIIS form (`E119`).
fn entry(code: &str) -> Option<&'static cie10::Cie10Entry> {
    let normalized = cie10::normalize_cie10(code).ok()?;
    cie10::lookup_cie10(&normalized)
}

/// The answer of `$validate-code` and `$translate` for a code the catalogue lacks: `result`
/// false, with a message (not an error: the question had an answer).
fn unknown_code(code: &str) -> Json {
    parameters(vec![
        parameter("result", "valueBoolean", Json::Bool(false)),
        parameter(
            "message",
            "valueString",
            Json::str(format!("«{code}» no es un código de la CIE-10")),
        ),
    ])
}

/// # `CodeSystem/$lookup?system=…&code=…`
pub fn lookup(system: Option<&str>, code: Option<&str>) -> Result<Json, Error> {
    check_system(system)?;
    let code = required(code, "code")?;
    let Some(found) = entry(code) else {
        return Err(Error::NotFound(Issue::error(
            IssueCode::NotFound,
            format!("«{code}» no es un código de la CIE-10"),
            format!("'{code}' is not a CIE-10 code"),
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
    Ok(parameters(vec![
        parameter("name", "valueString", Json::str("CIE-10")),
        parameter(
            "version",
            "valueString",
            Json::str("OMS 2019, títulos en español"),
        ),
        parameter("display", "valueString", Json::str(found.description)),
        property("code", Json::str(found.code), "valueCode"),
        // A category with subcategories is not reported as such (GIIS wants `E11.9`, not `E11`).
        property("notSelectable", Json::Bool(!found.leaf), "valueBoolean"),
        property("giis", Json::str(cie10_giis(found.code)), "valueString"),
    ]))
}

fn cie10_giis(code: &str) -> String {
    cie10::validate_cie10(code)
        .map(|valid| valid.dgis())
        .unwrap_or_else(|_| code.replace('.', ""))
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
    check_system(system)?;
    let code = required(code, "code")?;
    let Some(found) = entry(code) else {
        return Ok(unknown_code(code));
    };
    let mut list = vec![
        parameter("result", "valueBoolean", Json::Bool(true)),
        parameter("display", "valueString", Json::str(found.description)),
    ];
    if let Some(given) = display
        && mexico::search_fold(given) != mexico::search_fold(found.description)
    {
        list[0] = parameter("result", "valueBoolean", Json::Bool(false));
        list.push(parameter(
            "message",
            "valueString",
            Json::str(format!(
                "El texto «{given}» no es el título de {} («{}»)",
                found.code, found.description
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
    check_value_set(url)?;
    let count = count.unwrap_or(20).min(EXPAND_MAX);
    let offset = offset.unwrap_or(0);
    let Some(filter) = filter.filter(|f| !f.trim().is_empty()) else {
        return Err(Error::Forbidden(Issue::error(
            IssueCode::TooCostly,
            "La CIE-10 tiene más de 14,000 códigos: indique filter para expandirla",
            "CIE-10 has over 14,000 codes: give a filter to expand it",
        )));
    };
    let hits = cie10::search(filter, offset.saturating_add(count).min(EXPAND_MAX));
    let contains: Vec<Json> = hits
        .iter()
        .skip(offset)
        .take(count)
        .map(|hit| {
            Json::object([
                ("system", Json::str(systems::CIE10)),
                ("code", Json::str(hit.entry.code)),
                ("display", Json::str(hit.entry.description)),
            ])
        })
        .collect();
    Ok(Json::object([
        ("resourceType", Json::str("ValueSet")),
        ("url", Json::str(CIE10_ALL)),
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
                (
                    "parameter",
                    Json::Array(vec![parameter("filter", "valueString", Json::str(filter))]),
                ),
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
    check_system(system)?;
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
    let Some(found) = entry(code) else {
        return Ok(unknown_code(code));
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
                            ("code", Json::str(cie10_giis(found.code))),
                            ("display", Json::str(found.description)),
                        ]),
                    ),
                ]),
            ),
        ]),
    ]))
}
