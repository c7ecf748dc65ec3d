//! FHIR Bulk Data `$export` (Bulk Data Access IG v2) as a use case: deciding a kick-off,
//! and streaming each type's resources, one NDJSON line at a time, through the read guard.
//!
//! Key decision: an export is a search by the same principal, resource by resource. Every
//! line passes `check_read` (so a physician's export holds what their searches would show,
//! a system token's what its scopes allow), break-glass grants never apply (an emergency
//! read of one patient is not a licence to copy records in bulk), and each page of lines
//! leaves one `export` audit entry per patient it touched, so the export shows in every
//! patient's access log. Nothing is held beyond one store page: the caller writes each line
//! where it wants it (the REST layer, to files under the node's data directory).
//!
//! The job itself (files, status, manifest, restart) is the REST layer's: this module knows
//! no files and no HTTP.

use std::collections::{BTreeSet, HashSet};

use auth::audit::{AuditAction, Outcome};
use auth::policy::{Action, Decision, Operation};
use auth::scope::Interaction;
use fhir::{Issue, IssueCode, Json};

use crate::guard::TargetFacts;
use crate::lookup::internal_query;
use crate::{Ehr, Error, Requester};

/// The output formats a client may ask for; all mean newline-delimited FHIR JSON.
pub const OUTPUT_FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];

/// Most types one export names (bounds the work and the manifest).
const TYPES_MAX: usize = 200;

/// Most patients of a Group an export follows.
const GROUP_MEMBERS_MAX: usize = 1_000_000;

/// What the export covers (the three kick-off endpoints).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportLevel {
    /// `GET /$export`: every resource the requester may read.
    System,
    /// `GET /Patient/$export`: the Patient compartment of every patient.
    Patient,
    /// `GET /Group/{id}/$export`: the compartments of the Group's member patients.
    Group(String),
}

impl ExportLevel {
    /// How the kick-off was addressed (audit, manifest).
    pub fn path(&self) -> String {
        match self {
            ExportLevel::System => "$export".to_string(),
            ExportLevel::Patient => "Patient/$export".to_string(),
            ExportLevel::Group(id) => format!("Group/{id}/$export"),
        }
    }
}

/// A decided kick-off: what each of its files will hold.
#[derive(Clone, Debug)]
pub struct ExportPlan {
    pub level: ExportLevel,
    /// The types to export, in order (one file each).
    pub types: Vec<String>,
    /// `_since`: only resources changed after this instant (ms).
    pub since_ms: Option<i64>,
    /// The manifest's `transactionTime` (ms): nothing changed after it is exported, so that a
    /// client's next `_since` export picks it up instead.
    pub transaction_ms: i64,
    /// The Group's member patients (Group level).
    pub members: Vec<String>,
    /// The public variant (`publico=1`): every line de-identified ([`crate::deidentify`]).
    pub deidentified: bool,
}

impl Ehr {
    /// Decides a kick-off and reads its parameters (`_outputFormat`, `_type`, `_since`; any
    /// other is refused rather than silently ignored). Audited, refused or not.
    pub fn export_plan(
        &self,
        who: &Requester,
        level: ExportLevel,
        params: &[(String, String)],
    ) -> Result<ExportPlan, Error> {
        let who = &export_requester(who);
        let details = format!("{} {}", level.path(), shown(params));
        if let Decision::Deny(reason) =
            auth::policy::decide_operation(&who.principal, Operation::BulkExport)
        {
            self.audit_export(who, Outcome::Denied, &details);
            return Err(crate::guard::forbidden(reason));
        }
        let plan = self.read_plan(who, level, params);
        let outcome = match &plan {
            Ok(_) => Outcome::Success,
            Err(Error::BadRequest(_) | Error::Forbidden(_) | Error::NotFound(_)) => Outcome::Denied,
            Err(_) => Outcome::Error,
        };
        let details = match &plan {
            Ok(plan) => format!("{details}: inicio, tipos {}", plan.types.join(",")),
            Err(_) => details,
        };
        self.audit_export(who, outcome, &details);
        plan
    }

    fn read_plan(
        &self,
        who: &Requester,
        level: ExportLevel,
        params: &[(String, String)],
    ) -> Result<ExportPlan, Error> {
        let known = [
            "_outputFormat",
            "_type",
            "_since",
            crate::reports::PUBLIC_PARAM,
        ];
        let unknown: Vec<String> = params
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, _)| k.chars().take(40).collect())
            .collect();
        if !unknown.is_empty() {
            return Err(bad(
                format!(
                    "Parámetros de $export no admitidos: {}; se admiten _outputFormat, _type, _since y publico.",
                    unknown.join(", ")
                ),
                format!(
                    "Unsupported $export parameters: {}; supported are _outputFormat, _type, _since and publico.",
                    unknown.join(", ")
                ),
            ));
        }
        for (_, format) in params.iter().filter(|(k, _)| k == "_outputFormat") {
            if !OUTPUT_FORMATS.contains(&format.as_str()) {
                let format: String = format.chars().take(60).collect();
                return Err(bad(
                    format!(
                        "Formato de salida no admitido: «{format}»; use application/fhir+ndjson."
                    ),
                    format!("Unsupported output format: '{format}'; use application/fhir+ndjson."),
                ));
            }
        }
        let mut since_ms = None;
        for (_, since) in params.iter().filter(|(k, _)| k == "_since") {
            if since_ms.is_some() {
                return Err(bad(
                    "El parámetro «_since» aparece más de una vez.".to_string(),
                    "Parameter '_since' is given more than once.".to_string(),
                ));
            }
            let parsed = crate::parse_instant_ms(since.trim()).ok_or_else(|| {
                let since: String = since.chars().take(60).collect();
                bad(
                    format!(
                        "«_since» debe ser un instante FHIR con zona horaria (p. ej. 2026-01-01T00:00:00Z); se recibió «{since}»."
                    ),
                    format!(
                        "'_since' must be a FHIR instant with a time zone (e.g. 2026-01-01T00:00:00Z); got '{since}'."
                    ),
                )
            })?;
            since_ms = Some(parsed);
        }
        let compartment_only = level != ExportLevel::System;
        let asked: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == "_type")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if asked.len() > TYPES_MAX {
            return Err(bad(
                format!("«_type» nombra más de {TYPES_MAX} tipos."),
                format!("'_type' names more than {TYPES_MAX} types."),
            ));
        }
        let mut types = Vec::new();
        if asked.is_empty() {
            // Every type held that the requester may search at all (a type refused outright
            // would only make an empty file).
            for (resource_type, count) in self.store().counts()? {
                if count == 0
                    || (compartment_only && !in_patient_compartment(&resource_type))
                    || !self.may_search(who, &resource_type)
                {
                    continue;
                }
                types.push(resource_type);
            }
            types.sort();
        } else {
            for resource_type in asked {
                if !fhir::defs::is_resource_type(&resource_type) {
                    let shown: String = resource_type.chars().take(60).collect();
                    return Err(bad(
                        format!("«_type»: «{shown}» no es un tipo de recurso de FHIR R4."),
                        format!("'_type': '{shown}' is not a FHIR R4 resource type."),
                    ));
                }
                if compartment_only && !in_patient_compartment(&resource_type) {
                    return Err(bad(
                        format!(
                            "«_type»: {resource_type} no pertenece al compartimento del paciente; expórtelo con GET /$export."
                        ),
                        format!(
                            "'_type': {resource_type} is not in the Patient compartment; export it with GET /$export."
                        ),
                    ));
                }
                self.check_type_level(who, Interaction::Search, &resource_type)?;
                types.push(resource_type);
            }
        }
        let deidentified =
            crate::reports::publication(params)? == crate::reports::Publication::Public;
        let members = match &level {
            ExportLevel::Group(id) => self.group_members(who, id)?,
            _ => Vec::new(),
        };
        Ok(ExportPlan {
            level,
            types,
            since_ms,
            transaction_ms: self.now_ms(),
            members,
            deidentified,
        })
    }

    /// Whether the role and scopes allow searching a type at all (no audit: a question).
    fn may_search(&self, who: &Requester, resource_type: &str) -> bool {
        let action = Action::new(Interaction::Search, resource_type, self.now_ms());
        match auth::policy::decide(&who.principal, &action) {
            Decision::Deny(reason) => reason.depends_on_target(),
            Decision::Permit(_) => true,
        }
    }

    /// The member patients of a Group, read as the requester (the Group itself through the
    /// read guard and audited like any read).
    fn group_members(&self, who: &Requester, id: &str) -> Result<Vec<String>, Error> {
        let stored = self.read(who, "Group", id)?;
        let group = fhir::json::parse_str(&stored.body)
            .map_err(|e| Error::Internal(format!("stored Group/{id} does not parse: {e}")))?;
        let mut members = BTreeSet::new();
        for member in group
            .get("member")
            .and_then(Json::as_array)
            .unwrap_or_default()
        {
            let reference = member
                .get("entity")
                .and_then(|e| e.get("reference"))
                .and_then(Json::as_str)
                .unwrap_or("");
            if let Some(patient) = reference.strip_prefix("Patient/")
                && !patient.is_empty()
                && !patient.contains('/')
            {
                members.insert(patient.to_string());
            }
        }
        if members.len() > GROUP_MEMBERS_MAX {
            return Err(bad(
                format!("El grupo tiene más de {GROUP_MEMBERS_MAX} pacientes."),
                format!("The group has more than {GROUP_MEMBERS_MAX} patients."),
            ));
        }
        Ok(members.into_iter().collect())
    }

    /// Streams one type of a plan: every current resource of `resource_type` in the plan's
    /// scope that `who` may read, changed after `_since` and not after `transactionTime`,
    /// each handed to `line` as its stored JSON text (one NDJSON line, without the newline).
    /// Returns how many were written. `line` may stop the export by returning an error (a
    /// cancelled job). `job` names the export in the audit trail.
    pub fn export_type(
        &self,
        who: &Requester,
        plan: &ExportPlan,
        resource_type: &str,
        job: &str,
        line: &mut dyn FnMut(&str) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let who = &export_requester(who);
        if let Decision::Deny(reason) =
            auth::policy::decide_operation(&who.principal, Operation::BulkExport)
        {
            return Err(crate::guard::forbidden(reason));
        }
        let mut params = vec![(
            "_lastUpdated".to_string(),
            format!("le{}", crate::format_instant(plan.transaction_ms)),
        )];
        if let Some(since) = plan.since_ms {
            params.push((
                "_lastUpdated".to_string(),
                format!("gt{}", crate::format_instant(since)),
            ));
        }
        let mut query = internal_query(resource_type, &params, self.now_ms())?;
        query.count = Some(u32::try_from(store::PAGE_SIZE_MAX).unwrap_or(1_000));
        query.total = Some(search::Total::None);
        let members: HashSet<&str> = plan.members.iter().map(String::as_str).collect();
        let details = format!("{} {job} {resource_type}", plan.level.path());
        let mut written = 0u64;
        loop {
            let page = self.store().search(&query)?;
            let mut patients: Vec<(String, bool)> = Vec::new();
            for stored in &page.matches {
                if stored.deleted {
                    continue;
                }
                let facts = TargetFacts::for_read(stored);
                let in_scope = match &plan.level {
                    ExportLevel::System => true,
                    ExportLevel::Patient => facts.patient_id.is_some(),
                    ExportLevel::Group(_) => facts
                        .patient_id
                        .iter()
                        .chain(&facts.other_patients)
                        .any(|p| members.contains(p.as_str())),
                };
                if !in_scope {
                    continue;
                }
                if self.check_read(who, stored)?.is_err() {
                    continue;
                }
                if plan.deidentified {
                    let resource = fhir::json::parse_str(&stored.body).map_err(|e| {
                        Error::Internal(format!(
                            "stored {resource_type}/{} does not parse: {e}",
                            stored.id
                        ))
                    })?;
                    line(&crate::deidentify::deidentify(&resource).to_json_string())?;
                } else {
                    line(&stored.body)?;
                }
                written += 1;
                if let Some(patient) = facts.patient_id
                    && !patients.iter().any(|(p, _)| *p == patient)
                {
                    patients.push((patient, false));
                }
            }
            if !patients.is_empty() {
                self.audit_access(
                    who,
                    AuditAction::Export,
                    resource_type,
                    None,
                    &patients,
                    &details,
                );
            }
            match page.positions.last() {
                Some(last) if page.more => query.cursor = Some(format!("n{last}")),
                _ => break,
            }
        }
        Ok(written)
    }

    /// The deletions of one type for a `_since` export (Bulk Data IG v2, the manifest's
    /// `deleted`): every resource whose latest version up to `transactionTime` is a delete
    /// made after `_since`, each handed to `line` as a transaction Bundle with one `DELETE`
    /// entry. A deletion is listed only when the requester could read the resource's last
    /// version before it and it was in the plan's scope, so the list betrays nothing the
    /// export itself would not have shown. Returns how many were written; none without
    /// `_since`.
    pub fn export_deleted(
        &self,
        who: &Requester,
        plan: &ExportPlan,
        resource_type: &str,
        job: &str,
        line: &mut dyn FnMut(&str) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let Some(since_ms) = plan.since_ms else {
            return Ok(0);
        };
        let who = &export_requester(who);
        if let Decision::Deny(reason) =
            auth::policy::decide_operation(&who.principal, Operation::BulkExport)
        {
            return Err(crate::guard::forbidden(reason));
        }
        let members: HashSet<&str> = plan.members.iter().map(String::as_str).collect();
        let details = format!("{} {job} {resource_type} deleted", plan.level.path());
        let mut decided: HashSet<String> = HashSet::new();
        let mut before_seq = None;
        let mut written = 0u64;
        loop {
            let page = self.store().history(&store::HistoryRequest {
                scope: store::HistoryScope::Type(resource_type.to_string()),
                since_ms: Some(since_ms),
                before_seq,
                count: store::PAGE_SIZE_MAX,
            })?;
            let mut patients: Vec<(String, bool)> = Vec::new();
            for version in &page {
                // Newest first: the first version of a resource at or before transactionTime
                // says whether it was deleted then.
                if version.last_updated_ms > plan.transaction_ms
                    || version.last_updated_ms <= since_ms
                    || !decided.insert(version.id.clone())
                    || !version.deleted
                    || version.version_id < 2
                {
                    continue;
                }
                let Some(before) =
                    self.store()
                        .vread(resource_type, &version.id, version.version_id - 1)?
                else {
                    continue;
                };
                let facts = TargetFacts::for_read(&before);
                let in_scope = match &plan.level {
                    ExportLevel::System => true,
                    ExportLevel::Patient => facts.patient_id.is_some(),
                    ExportLevel::Group(_) => facts
                        .patient_id
                        .iter()
                        .chain(&facts.other_patients)
                        .any(|p| members.contains(p.as_str())),
                };
                if !in_scope || before.deleted || self.check_read(who, &before)?.is_err() {
                    continue;
                }
                let bundle = Json::object([
                    ("resourceType", Json::str("Bundle")),
                    ("type", Json::str("transaction")),
                    (
                        "entry",
                        Json::Array(vec![Json::object([(
                            "request",
                            Json::object([
                                ("method", Json::str("DELETE")),
                                ("url", Json::str(format!("{resource_type}/{}", version.id))),
                            ]),
                        )])]),
                    ),
                ]);
                line(&bundle.to_json_string())?;
                written += 1;
                if let Some(patient) = facts.patient_id
                    && !patients.iter().any(|(p, _)| *p == patient)
                {
                    patients.push((patient, false));
                }
            }
            if !patients.is_empty() {
                self.audit_access(
                    who,
                    AuditAction::Export,
                    resource_type,
                    None,
                    &patients,
                    &details,
                );
            }
            match page.last() {
                Some(last) if page.len() >= store::PAGE_SIZE_MAX => {
                    before_seq = Some(last.change_seq);
                }
                _ => break,
            }
        }
        Ok(written)
    }

    /// Records a step of an export's life: how it ended (completed with its counts,
    /// cancelled, failed) or a file downloaded.
    pub fn export_finished(&self, who: &Requester, success: bool, details: &str) {
        let outcome = if success {
            Outcome::Success
        } else {
            Outcome::Error
        };
        self.audit_export(who, outcome, details);
    }

    /// The requester a job runs as after a restart: the account as it is now (a disabled or
    /// removed account, or one whose role changed, does not resume), with the scopes its
    /// token granted at kick-off.
    pub fn export_resume_requester(
        &self,
        user: &str,
        role: &str,
        scopes: &str,
    ) -> Result<Requester, Error> {
        let gone = || {
            Error::Forbidden(Issue::error(
                IssueCode::Forbidden,
                format!("La cuenta «{user}» ya no puede exportar."),
                format!("Account '{user}' may no longer export."),
            ))
        };
        let account = self
            .accounts()?
            .into_iter()
            .find(|a| a.username == user)
            .ok_or_else(gone)?;
        if account.disabled || account.role != role {
            return Err(gone());
        }
        let mut who = crate::requester_for_account(&account, None);
        who.principal.scopes = auth::scope::Scopes::parse(scopes).map_err(|_| gone())?;
        Ok(who)
    }

    fn audit_export(&self, who: &Requester, outcome: Outcome, details: &str) {
        let mut entry = self.audit_entry(who, AuditAction::Export, outcome);
        entry.details = details.to_string();
        self.audit_later(entry);
    }
}

/// The requester as an export acts: without break-glass grants.
fn export_requester(who: &Requester) -> Requester {
    let mut who = who.clone();
    who.principal.break_glass.clear();
    who
}

/// Whether resources of a type can be in a patient's compartment (R4 CompartmentDefinition
/// `patient`, and the Patient itself).
pub fn in_patient_compartment(resource_type: &str) -> bool {
    resource_type == "Patient"
        || search::registry()
            .compartment_params(resource_type)
            .next()
            .is_some()
}

/// The parameters as written into the audit trail (bounded: it is the requester's text).
fn shown(params: &[(String, String)]) -> String {
    params
        .iter()
        .take(8)
        .map(|(k, v)| {
            let k: String = k.chars().take(20).collect();
            let v: String = v.chars().take(80).collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn bad(es: String, en: String) -> Error {
    Error::BadRequest(vec![Issue::error(IssueCode::Invalid, es, en)])
}
