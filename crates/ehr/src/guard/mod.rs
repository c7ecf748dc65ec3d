//! The two guards every path to the record goes through: [`Ehr::check_read`] for each stored
//! version anyone is shown, and [`Ehr::check_write`] for each version anyone writes.
//!
//! Every door calls them — REST interactions, transaction and batch entries, conditional
//! operations, `$merge`, imports, web forms, sync — and nothing else decides access: the
//! guards gather the facts `auth::policy::decide` needs about a target (its patient, labels,
//! categories, the care relationship of the requester's facility with that patient
//! ([`care`]), the patient's consents) and ask it.
//!
//! Key decisions:
//! - A write is decided on the target's *current* content and on its *new* content, inside the
//!   write transaction (so what was decided is what is replaced), by the same code whatever
//!   door it came through.
//! - A refusal that depends on the target instance answers as "not found" for a read and as
//!   absence in a search, history, include or `$everything`, so that it never confirms that a
//!   record exists. Type-level refusals (a receptionist reading an Observation) answer 403.
//! - No ordinary write creates or moves a care relationship of the writer's own facility: a
//!   facility starts caring for a patient by an explicit *inicio de atención*, and a
//!   registration moves by a *cambio de unidad*; each is its own operation, audited and listed
//!   for review ([`Authority::CareEvent`]).

pub(crate) mod care;
pub(crate) mod facts;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use auth::audit::AuditAction;
use auth::policy::{Action, Basis, CareEvent, Decision, DenyReason};
use auth::role::Role;
use auth::scope::Interaction;
use fhir::{Issue, IssueCode, Json};
use store::{SharedStore, StoredResource};

use crate::audit::sink::AuditSink;
use crate::lookup::{Lookup, StoreLookup};
use crate::{Ehr, Error, Requester};

pub(crate) use facts::TargetFacts;

/// The shared access-control state of one node.
pub(crate) struct AccessState {
    pub node: String,
    pub sink: AuditSink,
    caches: Mutex<care::Caches>,
    /// Bumped by every committed write of a type that can create or end a care fact, so that
    /// cached negative answers are dropped.
    pub generation: AtomicU64,
    /// Bumped by every account change, revocation and break-glass grant made through this
    /// node, so callers caching who a token stands for can drop their copy at once.
    security_generation: AtomicU64,
}

impl AccessState {
    pub(crate) fn new(
        store: SharedStore,
        node: String,
        audit_backlog: prometheus_client::metrics::gauge::Gauge,
    ) -> AccessState {
        AccessState {
            node,
            sink: AuditSink::start(store, audit_backlog),
            caches: Mutex::new(care::Caches::default()),
            generation: AtomicU64::new(1),
            security_generation: AtomicU64::new(1),
        }
    }

    pub(crate) fn note_security_change(&self) {
        self.security_generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Called after a committed write of `resource_type`.
    pub(crate) fn note_write(&self, resource_type: &str) {
        if care::CARE_FACT_TYPES.contains(&resource_type) {
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// On what authority a write is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Authority {
    /// The requester's own rights: decided on current and new content.
    Requester,
    /// An explicit care event, made by its operation (`$iniciar-atencion`, `$cambio-unidad`).
    CareEvent(CareEvent),
    /// A write the record makes as the consequence of a write or operation already decided
    /// (a duplicate-review `Task`, a merge's `Provenance` and links): audited under the
    /// requester, not decided again.
    Derived,
}

/// One write to decide.
pub(crate) struct WriteDecision<'a> {
    /// `Create`, `Update` or `Delete`.
    pub interaction: Interaction,
    pub resource_type: &'a str,
    pub id: Option<&'a str>,
    /// The target's current version, when it exists and is not deleted.
    pub current: Option<&'a StoredResource>,
    /// The new content (`None` for a delete).
    pub new: Option<&'a Json>,
    pub authority: Authority,
}

/// The answer when access is refused: 403 for type-level refusals, "not found" when the refusal
/// depends on the target (so that it does not confirm existence).
pub(crate) fn refusal(reason: DenyReason, resource_type: &str, id: Option<&str>) -> Error {
    if reason.depends_on_target() && reason != DenyReason::NoCareRelationship {
        return match id {
            Some(id) => Error::not_found(resource_type, id),
            None => forbidden(reason),
        };
    }
    forbidden(reason)
}

pub(crate) fn forbidden(reason: DenyReason) -> Error {
    let (es, en) = (reason.message_es(), reason.message_en());
    let mut issue = Issue::error(
        IssueCode::Forbidden,
        format!("Acceso denegado: {es}"),
        format!("Access denied: {en}"),
    );
    if reason == DenyReason::NoCareRelationship {
        issue = Issue::error(
            IssueCode::Forbidden,
            format!(
                "Acceso denegado: {es}. Para atender aquí a un paciente de otra unidad registre el inicio de atención (POST /fhir/Patient/{{id}}/$iniciar-atencion con un motivo); en una urgencia puede solicitar acceso de emergencia (POST /fhir/Patient/{{id}}/$acceso-emergencia)."
            ),
            format!(
                "Access denied: {en}. To care here for a patient of another facility, record the start of care (POST /fhir/Patient/{{id}}/$iniciar-atencion with a reason); in an emergency you may request break-glass access (POST /fhir/Patient/{{id}}/$acceso-emergencia)."
            ),
        );
    }
    Error::Forbidden(issue)
}

/// Whether a requester may open a patient's clinical record (the question a screen asks
/// before showing a chart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordAccess {
    Allowed,
    /// No care relationship: a clinician may open it by break-glass, with a reason.
    BreakGlassRequired,
    Denied,
}

/// The outcome of checking one target.
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    pub basis: Basis,
    pub patient_id: Option<String>,
}

pub(crate) fn audit_action(interaction: Interaction) -> AuditAction {
    match interaction {
        Interaction::Create => AuditAction::Create,
        Interaction::Read => AuditAction::Read,
        Interaction::Update => AuditAction::Update,
        Interaction::Delete => AuditAction::Delete,
        Interaction::Search => AuditAction::Search,
    }
}

impl Ehr {
    pub(crate) fn access(&self) -> &AccessState {
        &self.access
    }

    /// Changes whenever an account, a revocation or a break-glass grant changes through this
    /// node (see `rest`'s requester cache).
    pub fn security_generation(&self) -> u64 {
        self.access.security_generation.load(Ordering::Relaxed)
    }

    /// May `who` read clinical content of this patient's record? Each resource is still
    /// decided when read (labels and consents vary by resource).
    pub fn record_access(&self, who: &Requester, patient_id: &str) -> Result<RecordAccess, Error> {
        Ok(match self.record_refusal(who, patient_id)? {
            None => RecordAccess::Allowed,
            Some(DenyReason::NoCareRelationship) if who.role().is_clinician() => {
                RecordAccess::BreakGlassRequired
            }
            Some(_) => RecordAccess::Denied,
        })
    }

    /// Why `who` may not read clinical content of this patient's record (`None`: they may).
    pub(crate) fn record_refusal(
        &self,
        who: &Requester,
        patient_id: &str,
    ) -> Result<Option<DenyReason>, Error> {
        let facts = TargetFacts {
            patient_id: Some(patient_id.to_string()),
            ..TargetFacts::default()
        };
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        Ok(
            match self.decide_on(
                who,
                Interaction::Read,
                "Encounter",
                &facts,
                None,
                &mut lookup,
            )? {
                Decision::Permit(_) => None,
                Decision::Deny(reason) => Some(reason),
            },
        )
    }

    /// The refusals that depend only on who asks and the type (not on any instance): they are
    /// answered 403 before the store is read, so the answer is the same whether the target
    /// exists or not.
    pub(crate) fn check_type_level(
        &self,
        who: &Requester,
        interaction: Interaction,
        resource_type: &str,
    ) -> Result<(), Error> {
        self.check_type_level_for(who, interaction, resource_type, None)
    }

    fn check_type_level_for(
        &self,
        who: &Requester,
        interaction: Interaction,
        resource_type: &str,
        care_event: Option<CareEvent>,
    ) -> Result<(), Error> {
        let action = Action {
            care_event,
            ..Action::new(interaction, resource_type, self.now_ms())
        };
        match auth::policy::decide(&who.principal, &action) {
            Decision::Deny(reason) if !reason.depends_on_target() => {
                self.audit_denied(
                    who,
                    audit_action(interaction),
                    resource_type,
                    None,
                    None,
                    reason,
                );
                Err(forbidden(reason))
            }
            _ => Ok(()),
        }
    }

    /// Decides an interaction on a target whose facts are known.
    pub(crate) fn decide_on(
        &self,
        who: &Requester,
        interaction: Interaction,
        resource_type: &str,
        facts: &TargetFacts,
        care_event: Option<CareEvent>,
        lookup: &mut dyn Lookup,
    ) -> Result<Decision, Error> {
        let decision = self.decide_for_patient(
            who,
            interaction,
            resource_type,
            facts,
            facts.patient_id.as_deref(),
            care_event,
            lookup,
        )?;
        if !decision.is_permit() {
            return Ok(decision);
        }
        for other in &facts.other_patients {
            let also = self.decide_for_patient(
                who,
                interaction,
                resource_type,
                facts,
                Some(other),
                care_event,
                lookup,
            )?;
            if !also.is_permit() {
                return Ok(also);
            }
        }
        Ok(decision)
    }

    /// One decision with `patient` as the target's patient.
    #[allow(clippy::too_many_arguments)]
    fn decide_for_patient(
        &self,
        who: &Requester,
        interaction: Interaction,
        resource_type: &str,
        facts: &TargetFacts,
        patient: Option<&str>,
        care_event: Option<CareEvent>,
        lookup: &mut dyn Lookup,
    ) -> Result<Decision, Error> {
        let now_ms = self.now_ms();
        let principal = &who.principal;
        let needs_relationship = matches!(
            principal.role,
            Role::Physician | Role::Nurse | Role::Receptionist
        );
        let (relationship, consents) = match (patient, needs_relationship) {
            (Some(patient), true) => (
                self.care_relationship(principal.clues.as_deref(), patient, lookup)?,
                self.consents_of(patient, lookup)?,
            ),
            _ => (auth::policy::CareRelationship::NONE, Default::default()),
        };
        let action = Action {
            interaction,
            resource_type,
            patient_compartment_of_target: patient,
            security_labels: &facts.labels,
            categories: &facts.categories,
            care_relationship: relationship,
            consents: &consents,
            now_ms,
            care_event,
        };
        Ok(auth::policy::decide(principal, &action))
    }

    /// The read guard: may `who` be shown this stored version? `Err` is the reason to treat it
    /// as absent. Decided on committed data.
    pub(crate) fn check_read(
        &self,
        who: &Requester,
        stored: &StoredResource,
    ) -> Result<Result<Checked, DenyReason>, Error> {
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        self.check_read_in(who, Interaction::Read, stored, &mut lookup)
    }

    /// The read guard on a given view of the record (a write job's transaction, when a write
    /// must show or act on what the requester may see).
    pub(crate) fn check_read_in(
        &self,
        who: &Requester,
        interaction: Interaction,
        stored: &StoredResource,
        lookup: &mut dyn Lookup,
    ) -> Result<Result<Checked, DenyReason>, Error> {
        // A subscription is its owner's (`auth::policy::subscription_access`): to anyone else
        // it is absent.
        if stored.resource_type == auth::policy::SUBSCRIPTION_TYPE
            && !crate::notify::may_access(who, stored)
        {
            return Ok(Err(DenyReason::NotOwnRecord));
        }
        if who.role() == Role::System {
            // Fast path: system principals are bounded by their scopes, not by the record.
            let facts = TargetFacts::default();
            return match self.decide_on(
                who,
                interaction,
                &stored.resource_type,
                &facts,
                None,
                lookup,
            )? {
                Decision::Permit(_)
                    if !self.within_scope_restrictions(who, interaction, stored, None) =>
                {
                    Ok(Err(DenyReason::OutsideScopeRestriction))
                }
                Decision::Permit(basis) => Ok(Ok(Checked {
                    basis,
                    patient_id: None,
                })),
                Decision::Deny(reason) => Ok(Err(reason)),
            };
        }
        let facts = if interaction == Interaction::Read {
            TargetFacts::for_read(stored)
        } else {
            TargetFacts::of_stored(stored)
        };
        Ok(
            match self.decide_on(
                who,
                interaction,
                &stored.resource_type,
                &facts,
                None,
                lookup,
            )? {
                Decision::Permit(_)
                    if !self.within_scope_restrictions(
                        who,
                        interaction,
                        stored,
                        facts.patient_id.as_deref(),
                    ) =>
                {
                    Err(DenyReason::OutsideScopeRestriction)
                }
                Decision::Permit(basis) => Ok(Checked {
                    basis,
                    patient_id: facts.patient_id,
                }),
                Decision::Deny(reason) => Err(reason),
            },
        )
    }

    /// SMART v2 query restrictions (`patient/Observation.rs?category=laboratory`): a permitted
    /// read is shown only when the resource matches a restriction of the scopes that permitted
    /// it. Checked here, on the resource itself, so every door that reads through this guard
    /// honours it. A restriction the server cannot evaluate shows nothing.
    fn within_scope_restrictions(
        &self,
        who: &Requester,
        interaction: Interaction,
        stored: &StoredResource,
        patient: Option<&str>,
    ) -> bool {
        let action = Action {
            patient_compartment_of_target: patient,
            ..Action::new(interaction, &stored.resource_type, self.now_ms())
        };
        let Some(queries) = auth::policy::scope_restrictions(&who.principal, &action) else {
            return true;
        };
        let Ok(resource) = fhir::json::parse_str(&stored.body) else {
            return false;
        };
        queries
            .iter()
            .any(|query| search::matches_restriction(&resource, query).unwrap_or(false))
    }

    /// The write guard: may `who` replace the target's current content (if any) by the new
    /// content (if any)? Both are decided, so nobody moves, overwrites or deletes a record they
    /// may not touch, and nobody writes content about a patient they may not write about.
    /// Returns the patient the write concerns. Refusals are audited.
    pub(crate) fn check_write(
        &self,
        who: &Requester,
        write: &WriteDecision<'_>,
        lookup: &mut dyn Lookup,
    ) -> Result<Checked, Error> {
        match self.decide_write(who, write, lookup)? {
            Ok(checked) => Ok(checked),
            Err(refused) => {
                self.audit_denied(
                    who,
                    audit_action(write.interaction),
                    write.resource_type,
                    write.id,
                    refused.patient_id.as_deref(),
                    refused.reason,
                );
                Err(refused.error)
            }
        }
    }

    /// The write guard's decision, without auditing it (a caller that tries several
    /// capacities, like a clinic node deciding as each of its staff roles, audits the outcome
    /// once). `Err` is an internal failure; `Ok(Err(_))` a refusal.
    pub(crate) fn decide_write(
        &self,
        who: &Requester,
        write: &WriteDecision<'_>,
        lookup: &mut dyn Lookup,
    ) -> Result<Result<Checked, WriteRefused>, Error> {
        let new_facts = write.new.map(TargetFacts::of_json);
        let current_facts = write.current.map(TargetFacts::of_stored);
        let patient_id = new_facts
            .as_ref()
            .and_then(|f| f.patient_id.clone())
            .or_else(|| current_facts.as_ref().and_then(|f| f.patient_id.clone()));
        if write.authority == Authority::Derived {
            return Ok(Ok(Checked {
                basis: Basis::Role,
                patient_id,
            }));
        }
        let care_event = match write.authority {
            Authority::CareEvent(event) => Some(event),
            _ => None,
        };
        let refused = |reason: DenyReason, error: Error, patient: Option<&String>| WriteRefused {
            reason,
            error,
            patient_id: patient.cloned(),
        };
        // Type-level refusals first: they answer the same whether the target exists or not.
        let type_level = Action {
            care_event,
            ..Action::new(write.interaction, write.resource_type, self.now_ms())
        };
        if let Decision::Deny(reason) = auth::policy::decide(&who.principal, &type_level)
            && !reason.depends_on_target()
        {
            return Ok(Err(refused(reason, forbidden(reason), None)));
        }
        let mut basis = Basis::Role;
        if let Some(facts) = &new_facts {
            match self.decide_on(
                who,
                write.interaction,
                write.resource_type,
                facts,
                care_event,
                lookup,
            )? {
                Decision::Permit(found) => basis = found,
                // The new content is the requester's own: refusing it confirms nothing.
                Decision::Deny(reason) => {
                    return Ok(Err(refused(
                        reason,
                        forbidden(reason),
                        facts.patient_id.as_ref(),
                    )));
                }
            }
        }
        if let Some(current) = write.current
            && write.resource_type == auth::policy::SUBSCRIPTION_TYPE
            && !crate::notify::may_access(who, current)
        {
            let reason = DenyReason::NotOwnRecord;
            return Ok(Err(refused(
                reason,
                refusal(reason, write.resource_type, write.id),
                None,
            )));
        }
        if let Some(facts) = &current_facts {
            let interaction = if write.new.is_some() {
                Interaction::Update
            } else {
                Interaction::Delete
            };
            if let Decision::Deny(reason) = self.decide_on(
                who,
                interaction,
                write.resource_type,
                facts,
                care_event,
                lookup,
            )? {
                // Refusing on the current content must not confirm that it exists.
                return Ok(Err(refused(
                    reason,
                    refusal(reason, write.resource_type, write.id),
                    None,
                )));
            }
        }
        if write.resource_type == "Patient"
            && who.role() != Role::System
            && let Err(error) = self.check_registration(who, write, care_event, lookup)?
        {
            return Ok(Err(refused(
                DenyReason::RoleNotPermitted,
                error,
                patient_id.as_ref(),
            )));
        }
        Ok(Ok(Checked { basis, patient_id }))
    }

    /// Registration is a care fact: a person registered (created) by staff is registered at
    /// their own facility or nowhere, and a registration moves only by a *cambio de unidad* to
    /// the requester's own facility.
    fn check_registration(
        &self,
        who: &Requester,
        write: &WriteDecision<'_>,
        care_event: Option<CareEvent>,
        lookup: &mut dyn Lookup,
    ) -> Result<Result<(), Error>, Error> {
        let Some(new) = write.new else {
            return Ok(Ok(()));
        };
        let current_json = write
            .current
            .and_then(|c| fhir::json::parse_str(&c.body).ok());
        let before = current_json
            .as_ref()
            .and_then(|j| j.get("managingOrganization"));
        let after = new.get("managingOrganization");
        let moving = write.current.is_some() && before != after;
        let mut own_facility = |reference: &Json| -> Result<bool, Error> {
            match who.principal.clues.as_deref() {
                Some(clues) => Ok(self.facility(clues, lookup)?.is_referenced_by(reference)),
                None => Ok(false),
            }
        };
        if moving {
            if care_event != Some(CareEvent::MoveRegistration) {
                return Ok(Err(Error::Forbidden(Issue::error(
                    IssueCode::BusinessRule,
                    "La unidad de adscripción (managingOrganization) no se cambia con una actualización: use la operación de cambio de unidad (POST /fhir/Patient/{id}/$cambio-unidad con un motivo), que queda registrada para revisión.",
                    "The registering facility (managingOrganization) is not changed by an update: use the change-of-facility operation (POST /fhir/Patient/{id}/$cambio-unidad with a reason), which is recorded for review.",
                )
                .at("Patient.managingOrganization"))));
            }
            // The event moves the registration and nothing else: other changes are ordinary
            // updates, made once the facility cares for the patient.
            let only_the_registration = current_json.as_ref().is_some_and(|current| {
                same_except(current, new, &["meta", "managingOrganization"])
            });
            if !only_the_registration {
                return Ok(Err(Error::Unprocessable(vec![
                    Issue::error(
                        IssueCode::BusinessRule,
                        "El cambio de unidad cambia solo la unidad de adscripción; los demás cambios se registran después, como una actualización.",
                        "A change of facility changes only the registering facility; other changes are recorded afterwards, as an update.",
                    )
                    .at("Patient"),
                ])));
            }
            let to_own = match after {
                Some(reference) => own_facility(reference)?,
                None => false,
            };
            if !to_own {
                return Ok(Err(Error::Unprocessable(vec![
                    Issue::error(
                        IssueCode::BusinessRule,
                        "El cambio de unidad registra al paciente en el establecimiento de quien lo hace.",
                        "A change of facility registers the patient at the requester's own facility.",
                    )
                    .at("Patient.managingOrganization"),
                ])));
            }
        } else if write.current.is_none()
            && who.role().requires_clues()
            && let Some(reference) = after
            && !own_facility(reference)?
        {
            return Ok(Err(Error::Unprocessable(vec![
                Issue::error(
                    IssueCode::BusinessRule,
                    "Solo puede registrar pacientes en su propio establecimiento (managingOrganization).",
                    "You may only register patients at your own facility (managingOrganization).",
                )
                .at("Patient.managingOrganization"),
            ])));
        }
        Ok(Ok(()))
    }
}

/// Whether two versions of a resource are equal apart from the listed top-level elements.
fn same_except(a: &Json, b: &Json, ignored: &[&str]) -> bool {
    let strip = |json: &Json| -> Json {
        let mut copy = json.clone();
        if let Some(object) = copy.as_object_mut() {
            for key in ignored {
                object.remove(key);
            }
        }
        copy
    };
    strip(a).same_value(&strip(b))
}

/// A write the guard refused: why (for the audit trail), and the answer to give.
#[derive(Debug)]
pub(crate) struct WriteRefused {
    pub reason: DenyReason,
    pub error: Error,
    pub patient_id: Option<String>,
}
