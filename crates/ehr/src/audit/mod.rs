//! The audit trail of every access (NOM-024): the entry each interaction leaves, filled in the
//! same way whatever door the request came through.
//!
//! Writes append their entry inside their own store transaction (see `write`); reads,
//! refusals and failures go to the [`sink::AuditSink`].

pub(crate) mod sink;

use auth::audit::{AuditAction, AuditEntry, Outcome};
use auth::policy::DenyReason;
use store::StoredResource;

use crate::{Ehr, Requester};

impl Ehr {
    /// An audit entry for this requester, filled with what every entry carries.
    pub(crate) fn audit_entry(
        &self,
        who: &Requester,
        action: AuditAction,
        outcome: Outcome,
    ) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at_ms: self.now_ms(),
            node: self.access().node.clone(),
            user: who.principal.user.clone(),
            user_display: who.display_name.clone(),
            role: Some(who.principal.role),
            clues: who.principal.clues.clone(),
            facility_name: who.facility_name.clone(),
            action,
            resource_type: None,
            resource_id: None,
            patient_id: None,
            outcome,
            break_glass: false,
            source_ip: who.source_ip.clone(),
            details: String::new(),
        }
    }

    /// The audit entry of a committed write, to append inside its transaction.
    pub(crate) fn write_audit(
        &self,
        who: &Requester,
        action: AuditAction,
        stored: &StoredResource,
        patient: Option<&str>,
    ) -> AuditEntry {
        let mut entry = self.audit_entry(who, action, Outcome::Success);
        entry.resource_type = Some(stored.resource_type.clone());
        entry.resource_id = Some(stored.id.clone());
        entry.patient_id = patient
            .map(str::to_string)
            .or_else(|| (stored.resource_type == "Patient").then(|| stored.id.clone()));
        entry.details = format!("version {}", stored.version_id);
        entry
    }

    /// Records an entry off the request path (reads, refusals, failures).
    pub(crate) fn audit_later(&self, entry: AuditEntry) {
        self.access().sink.send(entry);
    }

    /// Records one read-like access of a list of resources: one entry per patient touched
    /// (so each patient's access log shows it), or one entry when none was.
    pub(crate) fn audit_access(
        &self,
        who: &Requester,
        action: AuditAction,
        resource_type: &str,
        resource_id: Option<&str>,
        patients: &[(String, bool)],
        details: &str,
    ) {
        let base = || {
            let mut entry = self.audit_entry(who, action, Outcome::Success);
            entry.resource_type = Some(resource_type.to_string());
            entry.resource_id = resource_id.map(str::to_string);
            entry.details = details.to_string();
            entry
        };
        if patients.is_empty() {
            self.audit_later(base());
        }
        for (patient, glass) in patients {
            let mut entry = base();
            entry.patient_id = Some(patient.clone());
            entry.break_glass = *glass;
            self.audit_later(entry);
        }
    }

    /// Records a refusal.
    pub(crate) fn audit_denied(
        &self,
        who: &Requester,
        action: AuditAction,
        resource_type: &str,
        resource_id: Option<&str>,
        patient_id: Option<&str>,
        reason: DenyReason,
    ) {
        let mut entry = self.audit_entry(who, action, Outcome::Denied);
        entry.resource_type = Some(resource_type.to_string());
        entry.resource_id = resource_id.map(str::to_string);
        entry.patient_id = patient_id.map(str::to_string);
        entry.details = reason.message_en().to_string();
        self.audit_later(entry);
    }

    /// Flushes pending read audit entries (tests, shutdown).
    pub fn flush_audit(&self) {
        self.access().sink.flush();
    }

    /// Stops the audit sink after flushing it (shutdown).
    pub fn close_audit(&self) {
        self.access().sink.close();
    }
}
