//! De-identified aggregates for epidemiologists (`GET /fhir/$estadisticas?medida=…`): counts
//! of current records per diagnosis, vaccine, sex or state, with small cells suppressed.
//!
//! Why this shape: the role matrix gives epidemiologists no record access at all; what they
//! need (how many diabetics, where, of which sex) is counts. Counts below
//! [`SMALL_CELL_MIN`] are reported as "<5" because a rare diagnosis in a small municipality
//! can identify a person.

use auth::audit::{AuditAction, Outcome};
use auth::policy::{Decision, Operation};
use fhir::{Issue, IssueCode, Json};

use crate::{Ehr, Error, Requester};

/// Cells with fewer records than this are suppressed.
pub const SMALL_CELL_MIN: u64 = 5;

/// Rows returned at most per measure (the most frequent first).
const ROWS_MAX: usize = 200;

/// The measures offered: name, (resource type, parameter), what a row counts, value filter.
const MEASURES: [(&str, &str, &str, &str, Option<&str>); 4] = [
    (
        "diagnosticos",
        "Condition",
        "code",
        "condiciones por código CIE-10",
        Some(mexico::systems::CIE10),
    ),
    (
        "vacunas",
        "Immunization",
        "vaccine-code",
        "vacunas aplicadas por código",
        None,
    ),
    ("sexo", "Patient", "gender", "pacientes por sexo", None),
    (
        "entidad",
        "Patient",
        "address-state",
        "pacientes por entidad federativa",
        None,
    ),
];

impl Ehr {
    /// Counts for one measure as a `Parameters` resource.
    pub fn aggregates(&self, who: &Requester, measure: &str) -> Result<Json, Error> {
        if let Decision::Deny(reason) =
            auth::policy::decide_operation(&who.principal, Operation::ReadAggregates)
        {
            self.audit_denied(
                who,
                AuditAction::Operation,
                "Parameters",
                None,
                None,
                reason,
            );
            return Err(crate::guard::forbidden(reason));
        }
        // The counts come from the whole node's index (no facility per value): an account
        // confined to one state is sent to the reports, which are filtered by state.
        if let Some(state) = crate::reports::account_state(&who.principal) {
            let mut entry = self.audit_entry(who, AuditAction::Operation, Outcome::Denied);
            entry.details = format!("$estadisticas medida={measure}: confined to state {state}")
                .chars()
                .take(200)
                .collect();
            self.audit_later(entry);
            return Err(Error::Forbidden(Issue::error(
                IssueCode::Forbidden,
                format!(
                    "Acceso denegado: su cuenta ve solo la entidad {state} y $estadisticas cuenta todo el nodo; use los reportes (/reports/…, /ui/vigilancia)."
                ),
                format!(
                    "Access denied: your account sees state {state} only and $estadisticas counts the whole node; use the reports (/reports/…, /ui/vigilancia)."
                ),
            )));
        }
        let Some((name, resource_type, param, label, system)) =
            MEASURES.iter().find(|(name, ..)| *name == measure).copied()
        else {
            let names: Vec<&str> = MEASURES.iter().map(|m| m.0).collect();
            return Err(Error::BadRequest(vec![Issue::error(
                IssueCode::Invalid,
                format!(
                    "Medida desconocida «{measure}»; use una de: {}",
                    names.join(", ")
                ),
                format!(
                    "Unknown measure '{measure}'; use one of: {}",
                    names.join(", ")
                ),
            )]));
        };
        let counts = self.store().value_counts(resource_type, param)?;
        let mut rows = Vec::new();
        for (value, count) in counts {
            let shown = match system {
                Some(system) => match value.strip_prefix(&format!("{system}|")) {
                    Some(code) => code.to_string(),
                    None => continue,
                },
                None => value.rsplit('|').next().unwrap_or(&value).to_string(),
            };
            if shown.is_empty() {
                continue;
            }
            let cell = if count < SMALL_CELL_MIN {
                ("valueString", Json::str(format!("<{SMALL_CELL_MIN}")))
            } else {
                (
                    "valueInteger",
                    Json::int(i64::try_from(count).unwrap_or(i64::MAX)),
                )
            };
            rows.push(Json::object([("name", Json::str(shown)), cell]));
            if rows.len() >= ROWS_MAX {
                break;
            }
        }
        let mut entry = self.audit_entry(who, AuditAction::Operation, Outcome::Success);
        entry.resource_type = Some(resource_type.to_string());
        entry.details = format!("$estadisticas medida={name}");
        self.audit_later(entry);
        Ok(Json::object([
            ("resourceType", Json::str("Parameters")),
            (
                "parameter",
                Json::Array(
                    std::iter::once(Json::object([
                        ("name", Json::str("medida")),
                        ("valueString", Json::str(format!("{name}: {label}"))),
                    ]))
                    .chain(rows)
                    .collect(),
                ),
            ),
        ]))
    }
}
