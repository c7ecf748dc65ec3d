//! The Mexican profile on top of R4: rules checked on every write of a resource, after R4
//! structural validation (create, update, transaction entries and import all pass here).
//!
//! Two layers, because some rules need only the resource and others need the store:
//!
//! * [`check`] — pure rules on the resource itself: CURP format on Patient and Practitioner
//!   (every problem by position, in Spanish and English), CURP vs `birthDate`/`gender`
//!   (rejections: one of the two is wrong and the record cannot tell which), CURP vs names and
//!   birth state (warnings: transliteration and particles make names fuzzy, and RENAPO's registry
//!   may differ from its own rules), cédula profesional, CLUES on Organization/Location.
//!   Errors become 422.
//! * [`check_in_tx`] — rules that need the store, run inside the write transaction so they are
//!   atomic with the write: two active patients may not share a CURP (409 naming the existing
//!   one), the CURP placeholder becomes the "CURP pendiente" flag, a patient created without
//!   CURP gets a node-local folio, old CURPs and folios survive updates, and every create or
//!   demographic change is matched against the index: probable duplicates become review
//!   `Task`s (see [`crate::identity`]).
//!
//! Decisions worth knowing:
//! * Only identifiers whose `use` is not `old` are "the" CURP; `old` CURPs are history (a civil
//!   registry correction issues a new CURP) and are neither validated nor unique.
//! * `XXXX999999XXXXXX99` never identifies anyone: on a Patient it is removed and replaced by the
//!   `curp-pendiente` extension (with a warning); on a Practitioner it is rejected.
//! * The folio is given only when the server assigns the id (`POST`), never on `PUT` nor on an
//!   import that keeps the sender's id (an import or a sync carries its own identifiers, and
//!   re-importing must stay idempotent).

use fhir::{Issue, IssueCode, Json};
use mexico::systems;

use crate::Error;
use crate::lookup::{Lookup, TxLookup, internal_query};
use crate::write::Writer;

/// Rules that need only the resource itself. Errors make the write fail with 422; warnings
/// are returned to the client.
pub(crate) fn check(resource_type: &str, resource: &Json) -> Vec<Issue> {
    match resource_type {
        "Patient" => check_person(resource, "Patient"),
        "Practitioner" => {
            let mut issues = check_person(resource, "Practitioner");
            issues.extend(check_cedulas(resource));
            issues
        }
        "Organization" | "Location" => check_clues(resource, resource_type),
        _ => Vec::new(),
    }
}

/// Rules that need the store, run inside the write transaction. `id` is the id the resource
/// will have; `previous` is its current content when it exists; `server_assigned` is true when
/// the server chose the id (a `POST`). May change the resource (folio, flags, kept
/// identifiers) before it is stored.
pub(crate) fn check_in_tx(
    writer: &mut Writer<'_>,
    resource_type: &str,
    resource: &mut Json,
    id: &str,
    previous: Option<&Json>,
    server_assigned: bool,
) -> Result<Vec<Issue>, Error> {
    if resource_type != "Patient" {
        return Ok(Vec::new());
    }
    let mut warnings = Vec::new();
    replace_placeholder(resource);
    if let Some(previous) = previous {
        keep_history(previous, resource);
    }
    // The server assigned the id (POST): an import or a sync keeps the sender's id and its
    // identifiers, so that loading the same file twice changes nothing.
    let curp = active_curp(resource).map(|(_, value)| value.to_string());
    match &curp {
        Some(_) => remove_extension(resource, systems::EXT_CURP_PENDING),
        None if server_assigned => give_folio(resource),
        None => {}
    }
    if let Some(curp) = &curp
        && is_active(resource)
    {
        check_unique_curp(writer, resource, id, curp)?;
    }
    if is_active(resource) {
        warnings.extend(crate::write::duplicates::review_duplicates(
            writer, id, resource, previous,
        )?);
    }
    Ok(warnings)
}

// ---------------------------------------------------------------------------------------------
// Pure rules
// ---------------------------------------------------------------------------------------------

fn identifiers(resource: &Json) -> &[Json] {
    resource.get("identifier").map_or(&[], Json::as_list)
}

fn str_member<'a>(value: &'a Json, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Json::as_str)
}

fn is_old(identifier: &Json) -> bool {
    str_member(identifier, "use") == Some("old")
}

/// `active` absent counts as active (R4: "assumed to be active unless stated otherwise").
pub(crate) fn is_active(resource: &Json) -> bool {
    resource
        .get("active")
        .and_then(Json::as_bool)
        .unwrap_or(true)
}

/// The current CURP of a Patient or Practitioner (first non-`old` CURP identifier that is
/// not the placeholder), with its index in `identifier`.
pub(crate) fn active_curp(resource: &Json) -> Option<(usize, &str)> {
    identifiers(resource)
        .iter()
        .enumerate()
        .filter(|(_, identifier)| str_member(identifier, "system") == Some(systems::CURP))
        .filter(|(_, identifier)| !is_old(identifier))
        .filter_map(|(idx, identifier)| str_member(identifier, "value").map(|v| (idx, v)))
        .find(|(_, value)| *value != mexico::curp::PLACEHOLDER)
}

/// CURP format on every current CURP identifier, agreement with birth date and sex (errors) and
/// with names and birth state (warnings).
fn check_person(resource: &Json, resource_type: &str) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut valid: Option<(usize, mexico::curp::Curp)> = None;
    for (idx, identifier) in identifiers(resource).iter().enumerate() {
        if str_member(identifier, "system") != Some(systems::CURP) || is_old(identifier) {
            continue;
        }
        let Some(value) = str_member(identifier, "value") else {
            continue;
        };
        let at = format!("{resource_type}.identifier[{idx}].value");
        if value == mexico::curp::PLACEHOLDER {
            if resource_type == "Patient" {
                issues.push(
                    Issue::warning(
                        IssueCode::Value,
                        "XXXX999999XXXXXX99 es la CURP genérica y no identifica a nadie: se registra \
                         al paciente sin CURP y marcado como «CURP pendiente».",
                        "XXXX999999XXXXXX99 is the generic CURP and identifies nobody: the patient is \
                         recorded without CURP and flagged 'CURP pending'.",
                    )
                    .at(at),
                );
            } else {
                let error = mexico::curp::CurpError::Placeholder;
                issues.push(
                    Issue::error(IssueCode::Value, error.message_es(), error.message_en()).at(at),
                );
            }
            continue;
        }
        let errors = mexico::curp::validate_all(value);
        if !errors.is_empty() {
            for error in errors {
                issues.push(
                    Issue::error(
                        IssueCode::Value,
                        format!("CURP {value}: {}", error.message_es()),
                        format!("CURP {value}: {}", error.message_en()),
                    )
                    .at(at.clone()),
                );
            }
            continue;
        }
        match (&valid, mexico::curp::validate(value)) {
            (None, Ok(curp)) => valid = Some((idx, curp)),
            (Some((_, first)), Ok(curp)) if *first != curp => issues.push(
                Issue::error(
                    IssueCode::BusinessRule,
                    format!(
                        "Hay dos CURP vigentes distintas ({first} y {curp}); una persona tiene una sola \
                         CURP. Marque la anterior con use = \"old\"."
                    ),
                    format!(
                        "There are two different current CURPs ({first} and {curp}); a person has one \
                         CURP. Mark the previous one with use = \"old\"."
                    ),
                )
                .at(at),
            ),
            _ => {}
        }
    }
    if let Some((idx, curp)) = &valid {
        issues.extend(curp_agreement(resource, resource_type, *idx, curp));
    }
    if resource_type == "Patient" {
        issues.extend(check_birth_state_code(resource));
    }
    issues
}

/// Birth date and sex must agree with the CURP; names and birth state should.
fn curp_agreement(
    resource: &Json,
    resource_type: &str,
    idx: usize,
    curp: &mexico::curp::Curp,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    let (year, month, day) = curp.birth_date();
    if let Some(birth_date) = str_member(resource, "birthDate") {
        let parts: Vec<Option<u32>> = birth_date
            .get(..10.min(birth_date.len()))
            .unwrap_or("")
            .split('-')
            .map(|p| p.parse::<u32>().ok())
            .collect();
        let expected = [Some(year as u32), Some(month), Some(day)];
        let disagrees = parts
            .iter()
            .zip(expected)
            .any(|(found, expected)| *found != expected);
        if disagrees {
            let curp_date = format!("{year:04}-{month:02}-{day:02}");
            issues.push(
                Issue::error(
                    IssueCode::BusinessRule,
                    format!(
                        "La fecha de nacimiento {birth_date} no coincide con la de la CURP {curp} \
                         (posiciones 5-10 y 17: {curp_date}); corrija la que esté mal."
                    ),
                    format!(
                        "Birth date {birth_date} disagrees with CURP {curp} (positions 5-10 and 17: \
                         {curp_date}); correct whichever is wrong."
                    ),
                )
                .at(format!("{resource_type}.birthDate")),
            );
        }
    }
    if let Some(gender) = str_member(resource, "gender") {
        let expected = match curp.sex() {
            mexico::curp::CurpSex::Hombre => "male",
            mexico::curp::CurpSex::Mujer => "female",
            mexico::curp::CurpSex::NoBinario => "other",
        };
        if gender != "unknown" && gender != expected {
            let letter = curp.sex().as_char();
            issues.push(
                Issue::error(
                    IssueCode::BusinessRule,
                    format!(
                        "El sexo registrado ({gender}) no coincide con la posición 11 de la CURP {curp} \
                         ({letter}, que corresponde a «{expected}»); corrija el que esté mal."
                    ),
                    format!(
                        "The recorded gender ({gender}) disagrees with position 11 of CURP {curp} \
                         ({letter}, meaning '{expected}'); correct whichever is wrong."
                    ),
                )
                .at(format!("{resource_type}.gender")),
            );
        }
    }
    issues.extend(name_agreement(resource, resource_type, idx, curp));
    if resource_type == "Patient"
        && let Some((ext_idx, state)) = birth_state(resource)
        && mexico::states::by_curp_code(state).is_some()
        && state != curp.birth_state()
    {
        issues.push(
            Issue::warning(
                IssueCode::BusinessRule,
                format!(
                    "La entidad de nacimiento registrada ({state}) no coincide con la de la CURP \
                     {curp} (posiciones 12-13: {}).",
                    curp.birth_state()
                ),
                format!(
                    "The recorded birth state ({state}) disagrees with CURP {curp} (positions \
                     12-13: {}).",
                    curp.birth_state()
                ),
            )
            .at(format!("Patient.extension[{ext_idx}]")),
        );
    }
    issues
}

/// Warns when positions 1–4 and 14–16 disagree with what the recorded names give.
fn name_agreement(
    resource: &Json,
    resource_type: &str,
    curp_idx: usize,
    curp: &mexico::curp::Curp,
) -> Option<Issue> {
    let value = crate::matching::to_value(resource);
    let record = mpi::PersonRecord::from_patient_json("", &value);
    if record.first_surname.trim().is_empty() || record.given_names.trim().is_empty() {
        return None;
    }
    let disagreements = mexico::curp::name_agreement(
        curp,
        &record.given_names,
        &record.first_surname,
        record.second_surname.as_deref(),
    );
    if disagreements.is_empty() {
        return None;
    }
    let es: Vec<String> = disagreements.iter().map(|d| d.message_es()).collect();
    let en: Vec<String> = disagreements.iter().map(|d| d.message_en()).collect();
    let at = match picked_name_index(resource) {
        Some(idx) => format!("{resource_type}.name[{idx}]"),
        None => format!("{resource_type}.identifier[{curp_idx}].value"),
    };
    Some(
        Issue::warning(
            IssueCode::BusinessRule,
            format!(
                "La CURP {curp} no corresponde al nombre capturado (se guarda de todos modos; \
                 verifique ortografía y apellidos): {}",
                es.join(" ")
            ),
            format!(
                "CURP {curp} does not correspond to the recorded name (saved anyway; check spelling \
                 and surnames): {}",
                en.join("; ")
            ),
        )
        .at(at),
    )
}

/// The name the matcher reads (official, else usual, else the first not `old`).
fn picked_name_index(resource: &Json) -> Option<usize> {
    let names = resource.get("name").map_or(&[][..], Json::as_list);
    let by_use = |wanted: &str| {
        names
            .iter()
            .position(|n| str_member(n, "use") == Some(wanted))
    };
    by_use("official")
        .or_else(|| by_use("usual"))
        .or_else(|| names.iter().position(|n| !is_old(n)))
        .or(if names.is_empty() { None } else { Some(0) })
}

/// The `entidad-nacimiento` extension's code and its index.
fn birth_state(resource: &Json) -> Option<(usize, &str)> {
    resource
        .get("extension")
        .map_or(&[][..], Json::as_list)
        .iter()
        .enumerate()
        .filter(|(_, ext)| str_member(ext, "url") == Some(systems::EXT_BIRTH_STATE))
        .find_map(|(idx, ext)| {
            str_member(ext, "valueString")
                .or_else(|| str_member(ext, "valueCode"))
                .map(|v| (idx, v))
        })
}

fn check_birth_state_code(resource: &Json) -> Option<Issue> {
    let (idx, state) = birth_state(resource)?;
    if mexico::states::by_curp_code(state).is_some() {
        return None;
    }
    Some(
        Issue::error(
            IssueCode::CodeInvalid,
            format!(
                "«{state}» no es una clave de entidad de nacimiento de RENAPO (por ejemplo DF, JC, o NE \
                 para nacidos en el extranjero)."
            ),
            format!(
                "'{state}' is not a RENAPO birth-state code (e.g. DF, JC, or NE for born abroad)."
            ),
        )
        .at(format!("Patient.extension[{idx}]")),
    )
}

fn check_cedulas(resource: &Json) -> Vec<Issue> {
    identifiers(resource)
        .iter()
        .enumerate()
        .filter(|(_, identifier)| str_member(identifier, "system") == Some(systems::CEDULA))
        .filter(|(_, identifier)| !is_old(identifier))
        .filter_map(|(idx, identifier)| {
            let value = str_member(identifier, "value")?;
            let error = mexico::cedula::validate_cedula(value).err()?;
            Some(
                Issue::error(
                    IssueCode::Value,
                    format!("Cédula profesional {value}: {}", error.message_es()),
                    format!("Professional licence {value}: {}", error.message_en()),
                )
                .at(format!("Practitioner.identifier[{idx}].value")),
            )
        })
        .collect()
}

/// CLUES format. An unknown institution code is only a warning: the institution catalog is
/// partial (see `mexico::clues::INSTITUTIONS`), while a wrong shape or state is certainly wrong.
fn check_clues(resource: &Json, resource_type: &str) -> Vec<Issue> {
    identifiers(resource)
        .iter()
        .enumerate()
        .filter(|(_, identifier)| str_member(identifier, "system") == Some(systems::CLUES))
        .filter(|(_, identifier)| !is_old(identifier))
        .filter_map(|(idx, identifier)| {
            let value = str_member(identifier, "value")?;
            let error = mexico::clues::validate_clues(value).err()?;
            let es = format!("CLUES {value}: {}", error.message_es());
            let en = format!("CLUES {value}: {}", error.message_en());
            let issue = match error {
                mexico::clues::CluesError::UnknownInstitution { .. } => {
                    Issue::warning(IssueCode::CodeInvalid, es, en)
                }
                _ => Issue::error(IssueCode::Value, es, en),
            };
            Some(issue.at(format!("{resource_type}.identifier[{idx}].value")))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rules that change the resource or need the store
// ---------------------------------------------------------------------------------------------

fn object_mut(resource: &mut Json) -> Option<&mut fhir::Object> {
    resource.as_object_mut()
}

/// Members that R4's JSON order puts before `identifier` (and `extension` itself first among them).
const HEADER_MEMBERS: [&str; 9] = [
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
];

/// Adds a member where R4 orders it: after the header members up to `after` (inclusive).
fn insert_in_order(object: &mut fhir::Object, key: &str, value: Json, after: &str) {
    let limit = HEADER_MEMBERS
        .iter()
        .position(|m| *m == after)
        .map_or(HEADER_MEMBERS.len(), |p| p + 1);
    let index = object
        .keys()
        .position(|k| !HEADER_MEMBERS[..limit].contains(&k))
        .unwrap_or(object.len());
    object.insert_at(index, key, value);
}

/// The identifier array, created if absent (an `identifier` that is not an array is left alone:
/// structural validation has already rejected it).
fn identifiers_mut(resource: &mut Json) -> Option<&mut Vec<Json>> {
    let object = object_mut(resource)?;
    if !object.contains_key("identifier") {
        insert_in_order(
            object,
            "identifier",
            Json::Array(Vec::new()),
            "modifierExtension",
        );
    }
    match object.get_mut("identifier") {
        Some(Json::Array(items)) => Some(items),
        _ => None,
    }
}

fn has_extension(resource: &Json, url: &str) -> bool {
    resource
        .get("extension")
        .map_or(&[][..], Json::as_list)
        .iter()
        .any(|ext| str_member(ext, "url") == Some(url))
}

fn remove_extension(resource: &mut Json, url: &str) {
    let Some(object) = object_mut(resource) else {
        return;
    };
    let now_empty = match object.get_mut("extension") {
        Some(Json::Array(items)) => {
            items.retain(|ext| str_member(ext, "url") != Some(url));
            items.is_empty()
        }
        _ => false,
    };
    if now_empty {
        object.remove("extension");
    }
}

fn add_pending_flag(resource: &mut Json) {
    if has_extension(resource, systems::EXT_CURP_PENDING) {
        return;
    }
    let Some(object) = object_mut(resource) else {
        return;
    };
    let flag = Json::object([
        ("url", Json::str(systems::EXT_CURP_PENDING)),
        ("valueBoolean", Json::Bool(true)),
    ]);
    match object.get_mut("extension") {
        Some(Json::Array(items)) => items.push(flag),
        _ => insert_in_order(object, "extension", Json::Array(vec![flag]), "contained"),
    }
}

/// The placeholder CURP is dropped and the patient flagged "CURP pendiente" instead (`check`
/// has already produced the warning that says so).
fn replace_placeholder(resource: &mut Json) {
    let had = identifiers(resource).iter().any(|identifier| {
        str_member(identifier, "system") == Some(systems::CURP)
            && str_member(identifier, "value") == Some(mexico::curp::PLACEHOLDER)
    });
    if !had {
        return;
    }
    if let Some(items) = identifiers_mut(resource) {
        items.retain(|identifier| {
            !(str_member(identifier, "system") == Some(systems::CURP)
                && str_member(identifier, "value") == Some(mexico::curp::PLACEHOLDER))
        });
        if items.is_empty()
            && let Some(object) = object_mut(resource)
        {
            object.remove("identifier");
        }
    }
    add_pending_flag(resource);
}

/// A server-assigned create without CURP: a node-local folio and the "CURP pendiente" flag.
fn give_folio(resource: &mut Json) {
    let has_folio = identifiers(resource)
        .iter()
        .any(|identifier| str_member(identifier, "system") == Some(systems::FOLIO));
    if !has_folio {
        let folio = Json::object([
            ("use", Json::str("usual")),
            ("system", Json::str(systems::FOLIO)),
            ("value", Json::str(crate::meta::new_id())),
        ]);
        if let Some(items) = identifiers_mut(resource) {
            items.push(folio);
        }
    }
    add_pending_flag(resource);
}

/// On update: the previous current CURP, when replaced or removed, stays as an `old`
/// identifier; previous `old` CURPs and folios are carried over when the client left them out.
fn keep_history(previous: &Json, resource: &mut Json) {
    let new_curp = active_curp(resource).map(|(_, v)| v.to_string());
    let present = |resource: &Json, system: &str, value: &str| {
        identifiers(resource).iter().any(|identifier| {
            str_member(identifier, "system") == Some(system)
                && str_member(identifier, "value") == Some(value)
        })
    };
    let mut keep: Vec<Json> = Vec::new();
    if let Some((_, old)) = active_curp(previous)
        && new_curp.as_deref() != Some(old)
        && !present(resource, systems::CURP, old)
    {
        keep.push(Json::object([
            ("use", Json::str("old")),
            ("system", Json::str(systems::CURP)),
            ("value", Json::str(old)),
        ]));
    }
    for identifier in identifiers(previous) {
        let system = str_member(identifier, "system");
        let keepable =
            (system == Some(systems::CURP) && is_old(identifier)) || system == Some(systems::FOLIO);
        let Some(value) = str_member(identifier, "value") else {
            continue;
        };
        if keepable && !present(resource, system.unwrap_or(""), value) {
            keep.push(identifier.clone());
        }
    }
    if keep.is_empty() {
        return;
    }
    if let Some(items) = identifiers_mut(resource) {
        items.extend(keep);
    }
}

/// Two active patients may not share a current CURP: 409 naming the existing patient.
fn check_unique_curp(
    writer: &mut Writer<'_>,
    resource: &Json,
    id: &str,
    curp: &str,
) -> Result<(), Error> {
    // Two clinicians registering the same CURP at the same instant on an engine with
    // concurrent writers: the second waits here until the first commits, then sees it.
    writer
        .tx()
        .lock(&format!("curp:{curp}"))
        .map_err(Error::from)?;
    let value = format!(
        "{}|{}",
        systems::CURP,
        crate::matching::escape_search_value(curp)
    );
    let query = internal_query("Patient", &[("identifier".to_string(), value)], 0)?;
    let mut lookup = TxLookup { tx: writer.tx() };
    for stored in lookup.search(&query, CURP_HOLDERS_MAX)? {
        if stored.id == id {
            continue;
        }
        let Ok(other) = fhir::json::parse_str(&stored.body) else {
            continue;
        };
        if !(is_active(&other) && active_curp(&other).is_some_and(|(_, v)| v == curp)) {
            continue;
        }
        let idx = active_curp(resource).map_or(0, |(idx, _)| idx);
        // The existing record is named only to someone who may see it (a very restricted
        // registration stays hidden); either way the CURP is known to the writer already.
        let visible = {
            let (ehr, who) = (writer.ehr().clone(), writer.who().clone());
            let mut lookup = TxLookup { tx: writer.tx() };
            ehr.check_read_in(&who, auth::scope::Interaction::Read, &stored, &mut lookup)?
                .is_ok()
        };
        let (es, en) = if visible {
            (
                format!(
                    "Ya existe Patient/{} activo con la CURP {curp}; dos pacientes activos \
                     no pueden compartir CURP. Use ese expediente (o If-None-Exist) o corrija la CURP.",
                    stored.id
                ),
                format!(
                    "Patient/{} already exists, active, with CURP {curp}; two active patients \
                     cannot share a CURP. Use that record (or If-None-Exist) or correct the CURP.",
                    stored.id
                ),
            )
        } else {
            (
                format!(
                    "Ya hay un paciente activo con la CURP {curp}; dos pacientes activos no pueden \
                     compartir CURP. Verifique la CURP."
                ),
                format!(
                    "An active patient with CURP {curp} already exists; two active patients cannot \
                     share a CURP. Check the CURP."
                ),
            )
        };
        return Err(Error::Conflict(vec![
            Issue::error(IssueCode::Duplicate, es, en)
                .at(format!("Patient.identifier[{idx}].value")),
        ]));
    }
    Ok(())
}

/// Patients read at most when checking that a CURP is unique (normally one holds it).
const CURP_HOLDERS_MAX: usize = 20;

#[cfg(test)]
mod tests;

/// Whether writes of this type run rules inside the transaction (see [`check_in_tx`]);
/// bulk loads prepare other types' versions off the writer thread.
pub(crate) fn has_transaction_rules(resource_type: &str) -> bool {
    resource_type == "Patient"
}
