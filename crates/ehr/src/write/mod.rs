//! The write path: one layer below the use cases, and the only code that writes a resource
//! version.
//!
//! Every use case that writes — REST interactions, transaction and batch entries, conditional
//! operations, `$merge`/`$unmerge`, the care operations, imports, web forms — opens one store
//! job with [`Ehr::write`] and writes through the [`Writer`] it is given. One version is
//! written in one visible order ([`Writer::put`], [`Writer::delete`]):
//!
//! 1. the target's current version, read inside the transaction;
//! 2. the `If-Match` precondition;
//! 3. conditional references resolved, to resources the requester may see ([`refs`]);
//! 4. the write guard, on the current and the new content (`crate::guard`);
//! 5. record integrity: a signed note is inalterable (NOM-004);
//! 6. the Mexican profile's rules that need the store ([`profile`]: unique CURP, folio,
//!    duplicate review Tasks through [`duplicates`]); booking ([`booking`]: the slots an
//!    Appointment takes become busy, the ones it lets go free, a busy slot refuses it);
//! 7. version number and `meta`;
//! 8. the store;
//! 9. the audit entry, in the same transaction.
//!
//! Use cases sit above this module and never beside it: nothing here imports a use case, and
//! the guard and the profile never call back up (a test in `tests/tidy.rs` keeps it so).
//!
//! A job may be run more than once by engines with concurrent writers (`store::WriteJob`), so
//! a job clones what it writes instead of consuming it.

pub(crate) mod booking;
pub use booking::{
    DOUBLE_BOOKING_TAG_CODE, DOUBLE_BOOKING_TAG_SYSTEM, DOUBLE_BOOKING_TASK_CODE, held_slots,
    is_double_booked,
};
pub(crate) mod check;
pub(crate) mod duplicates;
pub(crate) mod profile;
pub(crate) mod refs;

use auth::audit::{AuditAction, Outcome};
use auth::policy::Basis;
use auth::scope::Interaction;
use fhir::{Issue, IssueCode, Json};
use store::{NewVersion, PreparedVersion, StoredResource, WriteTx};

use crate::error::abort;
use crate::guard::{Authority, WriteDecision};
use crate::lookup::{Lookup, TxLookup};
use crate::meta::{format_instant, new_id, stamp};
use crate::{CreateOutcome, Ehr, Error, Requester};

/// Write-time context shared by the writes of one job (one instant for a whole transaction).
#[derive(Clone, Debug)]
pub(crate) struct WriteContext {
    pub now_ms: i64,
    pub now_text: String,
}

impl WriteContext {
    pub(crate) fn at(now_ms: i64) -> WriteContext {
        WriteContext {
            now_ms,
            now_text: format_instant(now_ms),
        }
    }
}

/// Which resource a [`Writer::put`] writes.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// A new resource. The server assigns the id, or a transaction pre-assigned one (so that
    /// its `urn:uuid:` references could be rewritten before anything was written).
    Create(Option<String>),
    /// `PUT` semantics: a new version of this id, or its first (update-as-create, import).
    Id(String),
}

/// The write side of one store job, acting as one requester.
pub(crate) struct Writer<'a> {
    ehr: &'a Ehr,
    tx: &'a mut dyn WriteTx,
    who: &'a Requester,
    context: &'a WriteContext,
    /// Types written, to invalidate the guards' caches once the job commits.
    written: Vec<String>,
    /// Put in the `details` of the audit entries of this job's care events (their reason).
    pub reason: Option<String>,
    /// Versions of subscribed types, handed to the notifier once the job commits.
    events: Vec<crate::notify::Event>,
}

impl Ehr {
    pub(crate) fn write_context(&self) -> WriteContext {
        WriteContext::at(self.now_ms())
    }

    /// Runs `job` as one atomic store write acting as `who`; `ehr::Error`s come out unchanged.
    pub(crate) fn write<R, F>(&self, who: &Requester, mut job: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnMut(&mut Writer<'_>) -> Result<R, Error> + Send + 'static,
    {
        let context = self.write_context();
        let (ehr, who) = (self.clone(), who.clone());
        let started = std::time::Instant::now();
        let result = store::write_with(self.store(), move |tx| {
            let mut writer = Writer {
                ehr: &ehr,
                tx,
                who: &who,
                context: &context,
                written: Vec::new(),
                reason: None,
                events: Vec::new(),
            };
            let value = job(&mut writer).map_err(abort)?;
            Ok((value, writer.written, writer.events))
        });
        self.metrics
            .store_write_seconds
            .observe(started.elapsed().as_secs_f64());
        let (value, written, events) = result.map_err(Error::from)?;
        let subscriptions_written = written.iter().any(|t| t == "Subscription");
        for resource_type in written {
            self.access().note_write(&resource_type);
        }
        // After commit: the worker learns of the versions; the write does not wait for it.
        self.notifier.publish(events, subscriptions_written);
        Ok(value)
    }
}

impl Writer<'_> {
    pub(crate) fn tx(&mut self) -> &mut dyn WriteTx {
        &mut *self.tx
    }

    pub(crate) fn ehr(&self) -> &Ehr {
        self.ehr
    }

    pub(crate) fn who(&self) -> &Requester {
        self.who
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.context.now_ms
    }

    pub(crate) fn now_text(&self) -> String {
        self.context.now_text.clone()
    }

    /// Appends an audit entry to this job's transaction.
    pub(crate) fn append_audit(&mut self, entry: auth::audit::AuditEntry) -> Result<(), Error> {
        self.tx.append_audit(entry).map_err(Error::from)?;
        Ok(())
    }

    /// The current, non-deleted matches of `query` that the requester may see, at most
    /// `limit` — what conditional operations and conditional references act on. A match the
    /// requester may not see is absent, so a condition is never an oracle about hidden records.
    pub(crate) fn visible_matches(
        &mut self,
        query: &search::SearchQuery,
        limit: usize,
    ) -> Result<Vec<StoredResource>, Error> {
        let mut lookup = TxLookup { tx: &mut *self.tx };
        // Read a little further than asked: hidden matches do not count against the limit.
        let found = lookup.search(query, limit.saturating_mul(VISIBLE_OVERREAD_FACTOR))?;
        let mut visible = Vec::with_capacity(limit);
        for stored in found {
            let mut lookup = TxLookup { tx: &mut *self.tx };
            if self
                .ehr
                .check_read_in(self.who, Interaction::Read, &stored, &mut lookup)?
                .is_ok()
            {
                visible.push(stored);
                if visible.len() == limit {
                    break;
                }
            }
        }
        Ok(visible)
    }

    /// Writes a version of a resource (see the module docs for the order of the steps).
    pub(crate) fn put(
        &mut self,
        resource_type: &str,
        target: Target,
        mut resource: Json,
        if_match: Option<u64>,
        authority: Authority,
    ) -> Result<CreateOutcome, Error> {
        let server_assigned = matches!(target, Target::Create(_));
        let (id, current) = match target {
            Target::Create(None) => (new_id(), None),
            Target::Create(Some(id)) => {
                let current = self.tx.current(resource_type, &id).map_err(Error::from)?;
                if current.is_some() {
                    return Err(Error::Internal(format!(
                        "pre-assigned id {resource_type}/{id} already exists"
                    )));
                }
                (id, None)
            }
            Target::Id(id) => {
                let current = self.tx.read(resource_type, &id).map_err(Error::from)?;
                (id, current)
            }
        };
        if let Some(expected) = if_match {
            check_if_match(resource_type, &id, expected, current.as_ref())?;
        }
        let live = current.as_ref().filter(|c| !c.deleted);
        refs::resolve_conditional_references(self, &mut resource)?;
        let interaction = if live.is_some() {
            Interaction::Update
        } else {
            Interaction::Create
        };
        if resource_type == auth::policy::SUBSCRIPTION_TYPE {
            crate::notify::on_put(self.who, live, &mut resource);
        }
        let checked = {
            let decision = WriteDecision {
                interaction,
                resource_type,
                id: Some(&id),
                current: live,
                new: Some(&resource),
                authority,
            };
            let mut lookup = TxLookup { tx: &mut *self.tx };
            self.ehr.check_write(self.who, &decision, &mut lookup)?
        };
        if let Some(live) = live {
            ensure_not_signed(resource_type, live)?;
        }
        let previous = match live {
            Some(live) if profile::has_transaction_rules(resource_type) => {
                fhir::json::parse_str(&live.body).ok()
            }
            _ => None,
        };
        let server_assigned =
            server_assigned && resource.get("id").and_then(Json::as_str) != Some(id.as_str());
        let warnings = profile::check_in_tx(
            self,
            resource_type,
            &mut resource,
            &id,
            previous.as_ref(),
            server_assigned,
        )?;
        if resource_type == "Appointment" {
            let previous = live.and_then(|l| fhir::json::parse_str(&l.body).ok());
            booking::on_put(self, &id, &mut resource, previous.as_ref())?;
        }
        let version_id = current.as_ref().map_or(1, |c| c.version_id + 1);
        let last_updated_ms = self
            .context
            .now_ms
            .max(current.as_ref().map_or(i64::MIN, |c| c.last_updated_ms));
        let last_updated = if last_updated_ms == self.context.now_ms {
            self.context.now_text.clone()
        } else {
            format_instant(last_updated_ms)
        };
        stamp(&mut resource, &id, version_id, &last_updated);
        let stored = self
            .tx
            .put(NewVersion {
                resource_type: resource_type.to_string(),
                id,
                version_id,
                last_updated,
                last_updated_ms,
                resource: Some(resource),
            })
            .map_err(Error::from)?;
        let created = live.is_none();
        let action = match checked.basis {
            Basis::StartsCare => AuditAction::CareStart,
            Basis::RegistrationMove => AuditAction::RegistrationMove,
            _ if created => AuditAction::Create,
            _ => AuditAction::Update,
        };
        self.audit_write(action, &stored, checked.patient_id.as_deref())?;
        Ok(CreateOutcome {
            resource: stored,
            created,
            warnings,
        })
    }

    /// Writes a first version prepared off the writer thread (bulk imports by system
    /// principals): the guard's type-level decision, then a plain insert. Returns `false`
    /// (nothing written) when the resource exists: the caller takes the full path.
    pub(crate) fn put_prepared(&mut self, prepared: PreparedVersion) -> Result<bool, Error> {
        if self.who.role() != auth::role::Role::System {
            return Err(Error::Internal(
                "prepared versions are written for system principals only".into(),
            ));
        }
        self.ehr
            .check_type_level(self.who, Interaction::Create, &prepared.resource_type)?;
        if self
            .tx
            .current(&prepared.resource_type, &prepared.id)
            .map_err(Error::from)?
            .is_some()
        {
            return Ok(false);
        }
        self.note_written(&prepared.resource_type);
        self.tx.put_prepared(prepared).map_err(Error::from)?;
        Ok(true)
    }

    /// Deletes a resource (a delete marker version). `None` when it was already deleted.
    pub(crate) fn delete(
        &mut self,
        resource_type: &str,
        id: &str,
        authority: Authority,
    ) -> Result<Option<StoredResource>, Error> {
        let Some(current) = self.tx.read(resource_type, id).map_err(Error::from)? else {
            return Err(Error::not_found(resource_type, id));
        };
        if current.deleted {
            return Ok(None);
        }
        let checked = {
            let decision = WriteDecision {
                interaction: Interaction::Delete,
                resource_type,
                id: Some(id),
                current: Some(&current),
                new: None,
                authority,
            };
            let mut lookup = TxLookup { tx: &mut *self.tx };
            self.ehr.check_write(self.who, &decision, &mut lookup)?
        };
        ensure_not_signed(resource_type, &current)?;
        if resource_type == "Appointment"
            && let Ok(previous) = fhir::json::parse_str(&current.body)
        {
            booking::on_delete(self, id, &previous)?;
        }
        let last_updated_ms = self.context.now_ms.max(current.last_updated_ms);
        let stored = self
            .tx
            .put(NewVersion {
                resource_type: resource_type.to_string(),
                id: id.to_string(),
                version_id: current.version_id + 1,
                last_updated: format_instant(last_updated_ms),
                last_updated_ms,
                resource: None,
            })
            .map_err(Error::from)?;
        self.audit_write(AuditAction::Delete, &stored, checked.patient_id.as_deref())?;
        Ok(Some(stored))
    }

    fn note_written(&mut self, resource_type: &str) {
        if !self.written.iter().any(|t| t == resource_type) {
            self.written.push(resource_type.to_string());
        }
    }

    fn audit_write(
        &mut self,
        action: AuditAction,
        stored: &StoredResource,
        patient: Option<&str>,
    ) -> Result<(), Error> {
        self.note_written(&stored.resource_type);
        if self.ehr.notifier.wants(&stored.resource_type) {
            self.events.push(crate::notify::Event {
                resource_type: stored.resource_type.clone(),
                id: stored.id.clone(),
                version_id: stored.version_id,
                at_ms: self.context.now_ms,
            });
        }
        let mut entry = self.ehr.write_audit(self.who, action, stored, patient);
        if action.needs_review()
            && let Some(reason) = &self.reason
        {
            entry.details = reason.clone();
        }
        entry.outcome = Outcome::Success;
        self.tx.append_audit(entry).map_err(Error::from)?;
        Ok(())
    }
}

/// Matches read per visible match asked for, at most (hidden ones are skipped).
const VISIBLE_OVERREAD_FACTOR: usize = 8;

fn check_if_match(
    resource_type: &str,
    id: &str,
    expected: u64,
    current: Option<&StoredResource>,
) -> Result<(), Error> {
    let current_version = current.map(|c| c.version_id);
    if current_version == Some(expected) {
        return Ok(());
    }
    let found = current_version.map_or_else(|| "ninguna".to_string(), |v| v.to_string());
    let found_en = current_version.map_or_else(|| "none".to_string(), |v| v.to_string());
    Err(Error::PreconditionFailed(Issue::error(
        IssueCode::Conflict,
        format!(
            "If-Match pide la versión {expected} de {resource_type}/{id}, pero la actual es {found}"
        ),
        format!(
            "If-Match asks for version {expected} of {resource_type}/{id}, but the current one is {found_en}"
        ),
    )))
}

/// A signed clinical note (a `Composition` that is `final` or `amended` and has an attester)
/// cannot be changed or deleted: NOM-004 requires notes to be inalterable once signed, and
/// corrections are addenda (new Compositions that `relatesTo` the note).
fn ensure_not_signed(resource_type: &str, current: &StoredResource) -> Result<(), Error> {
    if resource_type != "Composition" {
        return Ok(());
    }
    let Ok(note) = fhir::json::parse_str(&current.body) else {
        return Ok(());
    };
    let signed = matches!(
        note.get("status").and_then(Json::as_str),
        Some("final" | "amended")
    ) && note
        .get("attester")
        .and_then(Json::as_array)
        .is_some_and(|a| !a.is_empty());
    if signed {
        let id = &current.id;
        return Err(Error::Unprocessable(vec![Issue::error(
            IssueCode::BusinessRule,
            format!(
                "La nota Composition/{id} está firmada y no puede modificarse ni eliminarse (NOM-004); registre un addendum que la referencie"
            ),
            format!(
                "Composition/{id} is a signed note and cannot be changed or deleted (NOM-004); record an addendum referring to it"
            ),
        )]));
    }
    Ok(())
}

impl Ehr {
    /// Runs a job on the tables that are not the record (accounts, revoked tokens,
    /// break-glass grants, the audit trail). Resources are written only through
    /// [`Ehr::write`] and the [`Writer`]. The job may run more than once (`store::WriteJob`).
    pub(crate) fn run_write<R, F>(&self, mut job: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnMut(&mut dyn WriteTx) -> Result<R, Error> + Send + 'static,
    {
        store::write_with(self.store(), move |tx| job(tx).map_err(abort)).map_err(Error::from)
    }
}
