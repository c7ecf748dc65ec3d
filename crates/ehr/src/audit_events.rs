//! The audit trail as FHIR: `AuditEvent` reads and searches served from the hash-chained
//! `audit_log` rows (auditors see all; a patient sees the entries about their own record), and
//! the plain-language access log a patient reads ("who viewed my record").
//!
//! Why not store AuditEvent resources: see `store::security`. Supported search parameters are
//! the ones auditors need: `patient`, `agent` (the account name, or `Practitioner/{id}` is not
//! tracked), `date` (with `ge`/`gt`/`le`/`lt`/`eq` at any precision), `action`, `_count`.

use auth::audit::{AuditEntry, SealedEntry};
use auth::role::Role;
use auth::scope::Interaction;
use fhir::{Issue, IssueCode, Json};
use store::{AuditQuery, StoredResource};

use crate::read::Page;
use crate::read::cursor::{CursorKind, query_scope};

use crate::{Ehr, Error, Requester};

const COUNT_DEFAULT: usize = 50;
const COUNT_MAX: usize = 1_000;

/// What a patient sees of an entry about their record: who, when, what, from where, and the
/// reason of an emergency access — but not the text of a search, which may name other people
/// (`identifier=<someone else's CURP>,<theirs>`).
fn for_patient(sealed: &SealedEntry) -> SealedEntry {
    let mut shown = sealed.clone();
    if !shown.entry.action.needs_review() {
        shown.entry.details.clear();
    }
    shown
}

fn stored_event(sealed: &SealedEntry) -> StoredResource {
    let text = auth::audit::to_audit_event_json(&sealed.entry);
    let id = sealed.entry.seq.to_string();
    // The plain-language line a patient reads ("who viewed my record") as the narrative.
    let line =
        auth::audit::patient_view_line(&sealed.entry, auth::audit::MEXICO_CITY_UTC_OFFSET_MINUTES);
    let narrative = Json::object([
        ("status", Json::str("generated")),
        (
            "div",
            Json::str(format!(
                "<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>",
                escape_html(&line)
            )),
        ),
    ])
    .to_json_string();
    let body = match text.strip_prefix('{') {
        Some(rest) => format!(
            "{{\"resourceType\":\"AuditEvent\",\"id\":\"{id}\",\"text\":{narrative},{}",
            strip_type(rest)
        ),
        None => text,
    };
    StoredResource {
        resource_type: "AuditEvent".into(),
        id,
        version_id: 1,
        last_updated: crate::format_instant(sealed.entry.at_ms),
        last_updated_ms: sealed.entry.at_ms,
        deleted: false,
        change_seq: 0,
        body,
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Drops a leading `"resourceType":"AuditEvent",` (it is written again first, with the id).
fn strip_type(rest: &str) -> &str {
    rest.strip_prefix("\"resourceType\":\"AuditEvent\",")
        .unwrap_or(rest)
}

fn bad(es: String, en: String) -> Error {
    Error::BadRequest(vec![Issue::error(IssueCode::Invalid, es, en)])
}

/// `date=ge2026-11-01` → bounds on `at_ms`.
fn date_bounds(value: &str, query: &mut AuditQuery) -> Result<(), Error> {
    let (prefix, text) = match value.get(..2) {
        Some(p @ ("ge" | "gt" | "le" | "lt" | "eq")) => (p, &value[2..]),
        _ => ("eq", value),
    };
    let Some(low) = crate::parse_instant_ms(text) else {
        return Err(bad(
            format!("Fecha no válida en date: «{value}»"),
            format!("Invalid date in date: '{value}'"),
        ));
    };
    // The value's precision sets the range: a day, a minute, a second or a millisecond.
    let width = match text.len() {
        4 => 366 * 86_400_000,
        7 => 31 * 86_400_000,
        10 => 86_400_000,
        _ if text.contains('.') => 1,
        _ => 1_000,
    };
    let high = low.saturating_add(width);
    let tighten_low =
        |q: &mut AuditQuery, v: i64| q.from_ms = Some(q.from_ms.map_or(v, |f| f.max(v)));
    let tighten_high = |q: &mut AuditQuery, v: i64| q.to_ms = Some(q.to_ms.map_or(v, |t| t.min(v)));
    match prefix {
        "ge" => tighten_low(query, low),
        "gt" => tighten_low(query, high),
        "le" => tighten_high(query, high),
        "lt" => tighten_high(query, low),
        _ => {
            tighten_low(query, low);
            tighten_high(query, high);
        }
    }
    Ok(())
}

impl Ehr {
    /// Who may read the trail, and which part: `Some(patient)` restricts to that patient.
    fn audit_scope(
        &self,
        who: &Requester,
        interaction: Interaction,
    ) -> Result<Option<String>, Error> {
        self.check_type_level(who, interaction, "AuditEvent")?;
        match who.role() {
            Role::Auditor | Role::System => Ok(None),
            Role::Patient => match &who.principal.patient_id {
                Some(patient) => Ok(Some(patient.clone())),
                None => Err(crate::guard::forbidden(
                    auth::policy::DenyReason::NoPatientLinked,
                )),
            },
            _ => Err(crate::guard::forbidden(
                auth::policy::DenyReason::RoleNotPermitted,
            )),
        }
    }

    /// `GET /AuditEvent?patient=&agent=&date=&action=&_count=`
    pub(crate) fn search_audit_events(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Page, Error> {
        let own = self.audit_scope(who, Interaction::Search)?;
        let scope = query_scope("AuditEvent", params);
        let mut query = AuditQuery {
            count: COUNT_DEFAULT,
            ..AuditQuery::default()
        };
        for (key, value) in params {
            match key.as_str() {
                "patient" | "entity" => {
                    let id = value.strip_prefix("Patient/").unwrap_or(value);
                    query.patient_id = Some(id.to_string());
                }
                "agent" | "user" => query.username = Some(value.clone()),
                "date" => date_bounds(value, &mut query)?,
                "action" | "subtype" => query.action = Some(value.clone()),
                "_count" => {
                    let count: usize = value.parse().map_err(|_| {
                        bad(
                            format!("_count no válido: «{value}»"),
                            format!("Invalid _count: '{value}'"),
                        )
                    })?;
                    query.count = count.clamp(1, COUNT_MAX);
                }
                "_cursor" => {
                    query.before_seq = Some(
                        self.open_cursor(CursorKind::AuditEvents, who, &scope, value)?
                            .parse()
                            .map_err(|_| Error::Internal("sealed audit position".into()))?,
                    );
                }
                // A hint (R4 §3.1.1.5.6): the trail's pages never carry a total, which
                // `none` asks for and the others may get.
                "_total" if matches!(value.as_str(), "none" | "estimate" | "accurate") => {}
                "_format" | "_pretty" => {}
                other => {
                    return Err(bad(
                        format!("Parámetro de búsqueda no admitido en AuditEvent: {other}"),
                        format!("Unsupported AuditEvent search parameter: {other}"),
                    ));
                }
            }
        }
        if let Some(own) = &own {
            // A patient's view is their own record's entries, whatever they asked.
            if query.patient_id.as_deref().is_some_and(|p| p != own) {
                return Ok(Page::default());
            }
            query.patient_id = Some(own.clone());
        }
        let mut fetch = query.clone();
        fetch.count = query.count + 1;
        let mut rows = self.store().audit_search(&fetch)?;
        let next = if rows.len() > query.count {
            rows.truncate(query.count);
            rows.last()
                .map(|r| {
                    self.seal_cursor(
                        CursorKind::AuditEvents,
                        who,
                        &scope,
                        &r.entry.seq.to_string(),
                    )
                })
                .transpose()?
        } else {
            None
        };
        Ok(Page {
            matches: rows
                .iter()
                .map(|row| match &own {
                    Some(_) => stored_event(&for_patient(row)),
                    None => stored_event(row),
                })
                .collect(),
            next,
            ..Page::default()
        })
    }

    /// `GET /AuditEvent/{seq}`
    pub(crate) fn read_audit_event(
        &self,
        who: &Requester,
        id: &str,
    ) -> Result<StoredResource, Error> {
        let own = self.audit_scope(who, Interaction::Read)?;
        let Ok(seq) = id.parse::<u64>() else {
            return Err(Error::not_found("AuditEvent", id));
        };
        let row = self
            .store()
            .audit_scan(seq.saturating_sub(1), 1)?
            .into_iter()
            .find(|r| r.entry.seq == seq);
        match row {
            Some(row) if own.is_none() => Ok(stored_event(&row)),
            Some(row) if row.entry.patient_id == own => Ok(stored_event(&for_patient(&row))),
            _ => Err(Error::not_found("AuditEvent", id)),
        }
    }

    /// "Who viewed my record": the patient's access log, newest first, as entries (the web UI
    /// renders them with `auth::audit::patient_view_line`). Patients see their own, auditors
    /// any patient's, and a clinician the log of a record they may open (to show it to the
    /// patient in front of them).
    pub fn access_log(
        &self,
        who: &Requester,
        patient_id: &str,
        count: usize,
    ) -> Result<Vec<AuditEntry>, Error> {
        let clinician_with_access = who.role().is_clinician()
            && self.record_access(who, patient_id)? == crate::RecordAccess::Allowed;
        if !clinician_with_access {
            let own = self.audit_scope(who, Interaction::Search)?;
            if own.as_deref().is_some_and(|p| p != patient_id) {
                return Err(Error::not_found("Patient", patient_id));
            }
        }
        let query = AuditQuery {
            patient_id: Some(patient_id.to_string()),
            count: count.clamp(1, COUNT_MAX),
            ..AuditQuery::default()
        };
        Ok(self
            .store()
            .audit_search(&query)?
            .into_iter()
            .map(|r| {
                if who.role() == Role::Patient {
                    for_patient(&r).entry
                } else {
                    r.entry
                }
            })
            .collect())
    }

    /// Checks every chain of the trail (`expediente audit verify`): `Ok(entries)` or the first
    /// bad entry's error.
    pub fn verify_audit_chain(&self) -> Result<Result<u64, auth::audit::ChainError>, Error> {
        let store = self.store();
        let lanes = store.audit_lanes()?;
        Ok(auth::audit::verify_lanes(&lanes, |lane, after| {
            store.audit_scan_lane(lane, after, 10_000)
        })?)
    }
}
