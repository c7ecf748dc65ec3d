//! Access control and audit around every use case: who is asking ([`Requester`]), the facts
//! `auth::policy::decide` needs about a target (its patient, labels, categories, the care
//! relationship between the requester's facility and that patient, the patient's consents), and
//! the audit entry each interaction leaves.
//!
//! Key decisions:
//! - Decisions are made here, in `ehr`, so the REST API, the web UI and the CLI go through the
//!   same rules; `auth` stays pure (facts in, decision out).
//! - A refusal that depends on the target instance answers as "not found" for a read and as
//!   absence in a search, history, include or `$everything`, so that it never confirms that a
//!   record exists. Type-level refusals (a receptionist reading an Observation) answer 403.
//! - Writes append their audit entry in the same store transaction as the change. Reads cannot
//!   wait for a disk flush without multiplying their cost, so their entries go to the
//!   [`AuditSink`], a thread that sleeps through a 25 ms window and then appends everything
//!   that arrived in one transaction. Waking it for each read cost more than the read itself
//!   (measured: 3.8–6.3 µs of CPU added per read with a wake-up each, 1.5–2.1 µs with the
//!   window). A crash can lose the last 25 ms of read entries; never a write's entry.
//! - Care relationships and consents are looked up in the store and cached briefly: positive
//!   relationships for minutes, everything else until a write of a resource that could change
//!   it (Patient, Encounter, Appointment, Consent, Organization, Location) bumps a generation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use auth::audit::{AuditAction, AuditEntry, Outcome};
use auth::consent::Consent;
use auth::label::Coding;
use auth::policy::{Action, Basis, CareRelationship, Decision, DenyReason};
use auth::role::{Principal, Role};
use auth::scope::Interaction;
use fhir::{Issue, IssueCode, Json};
use store::{SharedStore, StoredResource};

use crate::{Ehr, Error};

/// Who is asking, as every use case needs to know it.
#[derive(Clone, Debug)]
pub struct Requester {
    pub principal: Principal,
    /// The person's name as patients see it in their access log.
    pub display_name: String,
    /// The facility's name, when known.
    pub facility_name: Option<String>,
    /// Client address, for the audit trail.
    pub source_ip: Option<String>,
}

impl Requester {
    /// A trusted local tool (the CLI's import, demo and MPI scan), acting with `system/*`
    /// scopes. Its actions are audited under `name` like anyone else's.
    pub fn local_system(name: &str) -> Requester {
        Requester {
            principal: Principal {
                user: name.to_string(),
                role: Role::System,
                clues: None,
                practitioner_id: None,
                patient_id: None,
                scopes: auth::scope::Scopes::parse("system/*.cruds").unwrap_or_default(),
                token_id: String::new(),
                break_glass: Vec::new(),
            },
            display_name: name.to_string(),
            facility_name: None,
            source_ip: None,
        }
    }

    pub fn role(&self) -> Role {
        self.principal.role
    }
}

/// What access control needs to know about one stored resource.
#[derive(Clone, Debug, Default)]
pub(crate) struct TargetFacts {
    pub patient_id: Option<String>,
    pub labels: Vec<Coding>,
    pub categories: Vec<Coding>,
}

impl TargetFacts {
    pub(crate) fn of_json(resource: &Json) -> TargetFacts {
        let codings = |list: Option<&Json>| -> Vec<Coding> {
            list.and_then(Json::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|c| {
                            let code = c.get("code").and_then(Json::as_str)?;
                            let system = c.get("system").and_then(Json::as_str).unwrap_or("");
                            Some(Coding::new(system, code))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let labels = codings(resource.get("meta").and_then(|m| m.get("security")));
        let categories = match resource.get("category") {
            Some(list) if list.as_array().is_some() => list
                .as_array()
                .unwrap_or_default()
                .iter()
                .flat_map(|concept| codings(concept.get("coding")))
                .collect(),
            Some(concept) => codings(concept.get("coding")),
            None => Vec::new(),
        };
        let patient_id = search::patient_compartment(resource).into_iter().next();
        TargetFacts {
            patient_id,
            labels,
            categories,
        }
    }

    pub(crate) fn of_stored(stored: &StoredResource) -> TargetFacts {
        if stored.deleted || stored.body.is_empty() {
            return TargetFacts::default();
        }
        match fhir::json::parse_str(&stored.body) {
            Ok(json) => TargetFacts::of_json(&json),
            Err(_) => TargetFacts::default(),
        }
    }

    /// The facts a read decision needs (patient and labels; categories only matter for
    /// writes), without parsing the body when its text settles them. Reads are the hot path:
    /// parsing a whole Observation to find its subject cost more than the read itself.
    ///
    /// Stored bodies are our own compact serialisation, so every literal reference to a
    /// patient appears as `"reference":"Patient/{id}"`. The text settles the facts when it
    /// has no `"security"` key (no labels) and every occurrence of `Patient/` is such a
    /// reference, all to one patient: that patient is then the compartment, or a stricter
    /// stand-in for it (a patient referenced outside the compartment parameters is treated as
    /// the owner, which can only refuse more). Anything else takes the full parse.
    pub(crate) fn for_read(stored: &StoredResource) -> TargetFacts {
        match TargetFacts::from_text(stored) {
            Some(facts) => facts,
            None => TargetFacts::of_stored(stored),
        }
    }

    fn from_text(stored: &StoredResource) -> Option<TargetFacts> {
        const REFERENCE: &str = "\"reference\":\"Patient/";
        let body = stored.body.as_str();
        if stored.deleted || body.is_empty() || body.contains("\"security\"") {
            return None;
        }
        if stored.resource_type == "Patient" {
            // A Patient that names other patients (links) is left to the full parse.
            return (!body.contains("Patient/")).then(|| TargetFacts {
                patient_id: Some(stored.id.clone()),
                ..TargetFacts::default()
            });
        }
        // One pass over the mentions of `Patient/`: each must be a literal reference.
        let mut patient: Option<&str> = None;
        for (at, _) in body.match_indices("Patient/") {
            let is_reference = body
                .get(..at + "Patient/".len())
                .is_some_and(|head| head.ends_with(REFERENCE));
            if !is_reference {
                return None;
            }
            let rest = body.get(at + "Patient/".len()..)?;
            let id = rest.split(['"', '/']).next()?;
            if id.is_empty() {
                return None;
            }
            match patient {
                None => patient = Some(id),
                Some(seen) if seen == id => {}
                Some(_) => return None,
            }
        }
        Some(TargetFacts {
            patient_id: patient.map(str::to_string),
            ..TargetFacts::default()
        })
    }
}

/// How long a found care relationship is trusted without looking again.
const RELATIONSHIP_TTL_MS: i64 = 10 * 60 * 1000;

/// Entries kept per cache before it is cleared (bounded memory on a long-running node).
const CACHE_ENTRIES_MAX: usize = 100_000;

/// A facility's Organization ids and Location ids.
#[derive(Debug, Default)]
struct FacilityIds {
    organizations: Vec<String>,
    locations: Vec<String>,
}

#[derive(Default)]
struct Caches {
    /// (CLUES, patient) → relationship, when found, and the generation it was computed at.
    /// CLUES → patient → (relationship, generation, when): nested so that a lookup borrows
    /// its keys instead of allocating them (this runs on every read).
    relationships: HashMap<String, HashMap<String, (CareRelationship, u64, i64)>>,
    /// patient → consents, and the generation.
    consents: HashMap<String, (Arc<Vec<Consent>>, u64)>,
    /// CLUES → (Organization ids, Location ids), and the generation.
    facilities: HashMap<String, (Arc<FacilityIds>, u64)>,
}

/// The shared access-control state of one node.
pub(crate) struct AccessState {
    pub node: String,
    pub sink: AuditSink,
    caches: Mutex<Caches>,
    generation: AtomicU64,
    /// Bumped by every account change, revocation and break-glass grant made through this
    /// node, so callers caching who a token stands for can drop their copy at once.
    security_generation: AtomicU64,
}

impl AccessState {
    pub(crate) fn new(store: SharedStore, node: String) -> AccessState {
        AccessState {
            node,
            sink: AuditSink::start(store),
            caches: Mutex::new(Caches::default()),
            generation: AtomicU64::new(1),
            security_generation: AtomicU64::new(1),
        }
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn note_security_change(&self) {
        self.security_generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Called after a committed write of `resource_type`.
    pub(crate) fn note_write(&self, resource_type: &str) {
        if matches!(
            resource_type,
            "Patient" | "Encounter" | "Appointment" | "Consent" | "Organization" | "Location"
        ) {
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Appends read audit entries off the request path, in batches.
pub(crate) struct AuditSink {
    sender: Mutex<Option<mpsc::Sender<SinkMessage>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

enum SinkMessage {
    Entry(Box<AuditEntry>),
    Flush(mpsc::SyncSender<()>),
}

/// Entries appended in one transaction at most.
const SINK_BATCH_MAX: usize = 20_000;

/// How long the sink gathers read entries before writing them: the most a crash can lose of
/// the trail of reads (writes' entries are in their own transactions).
const SINK_WINDOW: Duration = Duration::from_millis(25);

impl AuditSink {
    fn start(store: SharedStore) -> AuditSink {
        let (sender, receiver) = mpsc::channel::<SinkMessage>();
        let thread = std::thread::Builder::new()
            .name("audit-sink".into())
            .spawn(move || sink_loop(store, receiver))
            .ok();
        AuditSink {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(thread),
        }
    }

    pub(crate) fn send(&self, entry: AuditEntry) {
        let guard = self
            .sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_ref() {
            Some(sender) => {
                if sender.send(SinkMessage::Entry(Box::new(entry))).is_err() {
                    tracing::error!("the audit sink has stopped; an audit entry was not recorded");
                }
            }
            None => tracing::error!("the audit sink is closed; an audit entry was not recorded"),
        }
    }

    /// Waits until every entry sent before this call is durable.
    pub(crate) fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        {
            let guard = self
                .sender
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(sender) = guard.as_ref() else { return };
            if sender.send(SinkMessage::Flush(done)).is_err() {
                return;
            }
        }
        let _ = wait.recv_timeout(Duration::from_secs(60));
    }

    /// Flushes and stops the thread (shutdown).
    pub(crate) fn close(&self) {
        self.flush();
        self.sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = handle.join();
        }
    }
}

fn sink_loop(store: SharedStore, receiver: mpsc::Receiver<SinkMessage>) {
    // Whether the last batch left entries queued: then the sink writes on without waiting, or
    // reads arriving faster than one batch per window would pile up in memory.
    let mut behind = false;
    while let Ok(first) = receiver.recv() {
        let mut entries = Vec::new();
        let mut flushes = Vec::new();
        // Entries arriving within a short window are written together: one transaction, one
        // WAL sync and one wake-up of this thread for many reads, instead of one per read.
        // The thread sleeps through the window rather than waking for each entry (a timed
        // receive would wake it per entry, which is the cost being avoided); a flush that
        // arrives first skips the wait.
        match first {
            SinkMessage::Entry(entry) => {
                entries.push(*entry);
                if !behind {
                    std::thread::sleep(SINK_WINDOW);
                }
            }
            SinkMessage::Flush(done) => flushes.push(done),
        }
        behind = true;
        while entries.len() < SINK_BATCH_MAX {
            match receiver.try_recv() {
                Ok(SinkMessage::Entry(entry)) => entries.push(*entry),
                Ok(SinkMessage::Flush(done)) => flushes.push(done),
                Err(_) => {
                    behind = false;
                    break;
                }
            }
        }
        if !entries.is_empty() {
            let entries = coalesce_reads(entries);
            let count = entries.len();
            let written = store.write(Box::new(move |tx| tx.append_audit_batch(entries)));
            if let Err(err) = written {
                tracing::error!(error = %err, count, "audit entries could not be recorded");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Resources listed at most in one coalesced read entry.
const COALESCED_READS_MAX: usize = 100;

/// Folds the successful reads of one patient's record by one user, arriving together (in one
/// sink batch, i.e. within milliseconds), into one entry that lists every resource read. Reads
/// that name no patient (directories, and system accounts, which are not attributed) fold per
/// user the same way.
/// Every read stays recorded — which resources, by whom, when — in a fraction of the rows:
/// one chart opened is one access event, as a patient reading their log expects, and the
/// trail's cost per read stays small.
fn coalesce_reads(entries: Vec<AuditEntry>) -> Vec<AuditEntry> {
    let mut out: Vec<AuditEntry> = Vec::with_capacity(entries.len());
    // (user, patient, break-glass, address) → (index in `out`, resources listed).
    type ReadKey = (String, Option<String>, bool, Option<String>);
    let mut open: HashMap<ReadKey, (usize, usize)> = HashMap::new();
    for entry in entries {
        let foldable = matches!(entry.action, AuditAction::Read | AuditAction::Vread)
            && entry.outcome == Outcome::Success
            && entry.details.is_empty();
        if !foldable {
            out.push(entry);
            continue;
        }
        let key = (
            entry.user.clone(),
            entry.patient_id.clone(),
            entry.break_glass,
            entry.source_ip.clone(),
        );
        let target = entry
            .resource_type
            .as_deref()
            .zip(entry.resource_id.as_deref())
            .map(|(t, id)| format!("{t}/{id}"))
            .unwrap_or_default();
        match open.get_mut(&key) {
            Some((idx, listed))
                if *listed < COALESCED_READS_MAX
                    && out
                        .get(*idx)
                        .is_some_and(|e| e.role == entry.role && e.clues == entry.clues) =>
            {
                if let Some(first) = out.get_mut(*idx) {
                    first.details.push_str(", ");
                    first.details.push_str(&target);
                    *listed += 1;
                }
            }
            _ => {
                let mut first = entry;
                first.details = format!("lecturas: {target}");
                open.insert(key, (out.len(), 1));
                out.push(first);
            }
        }
    }
    out
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
                "Acceso denegado: {es}. En una urgencia puede solicitar acceso de emergencia (POST /fhir/Patient/{{id}}/$acceso-emergencia con un motivo)."
            ),
            format!(
                "Access denied: {en}. In an emergency you may request break-glass access (POST /fhir/Patient/{{id}}/$acceso-emergencia with a reason)."
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
        let facts = TargetFacts {
            patient_id: Some(patient_id.to_string()),
            ..TargetFacts::default()
        };
        Ok(
            match self.decide_on(who, Interaction::Read, "Encounter", &facts)? {
                Decision::Permit(_) => RecordAccess::Allowed,
                Decision::Deny(DenyReason::NoCareRelationship) if who.role().is_clinician() => {
                    RecordAccess::BreakGlassRequired
                }
                Decision::Deny(_) => RecordAccess::Denied,
            },
        )
    }

    /// Flushes pending read audit entries (tests, shutdown).
    pub fn flush_audit(&self) {
        self.access.sink.flush();
    }

    /// Stops the audit sink after flushing it (shutdown).
    pub fn close_audit(&self) {
        self.access.sink.close();
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
        let action = Action::new(interaction, resource_type, self.now_ms());
        match auth::policy::decide(&who.principal, &action) {
            Decision::Deny(reason) if !reason.depends_on_target() => {
                let action_code = match interaction {
                    Interaction::Search => AuditAction::Search,
                    Interaction::Read => AuditAction::Read,
                    Interaction::Create => AuditAction::Create,
                    Interaction::Update => AuditAction::Update,
                    Interaction::Delete => AuditAction::Delete,
                };
                self.audit_denied(who, action_code, resource_type, None, None, reason);
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
    ) -> Result<Decision, Error> {
        let now_ms = self.now_ms();
        let principal = &who.principal;
        let needs_relationship = matches!(
            principal.role,
            Role::Physician | Role::Nurse | Role::Receptionist
        );
        let (relationship, consents) = match (&facts.patient_id, needs_relationship) {
            (Some(patient), true) => (
                self.care_relationship(principal.clues.as_deref(), patient)?,
                self.consents_of(patient)?,
            ),
            _ => (CareRelationship::NONE, Arc::new(Vec::new())),
        };
        let action = Action {
            interaction,
            resource_type,
            patient_compartment_of_target: facts.patient_id.as_deref(),
            security_labels: &facts.labels,
            categories: &facts.categories,
            care_relationship: relationship,
            consents: &consents,
            now_ms,
        };
        Ok(auth::policy::decide(principal, &action))
    }

    /// Checks a stored resource for reading; `Ok(None)` when it must be treated as absent.
    pub(crate) fn may_read(
        &self,
        who: &Requester,
        interaction: Interaction,
        stored: &StoredResource,
    ) -> Result<Result<Checked, DenyReason>, Error> {
        if who.role() == Role::System {
            // Fast path: system principals are bounded by their scopes, not by the record.
            let facts = TargetFacts::default();
            return match self.decide_on(who, interaction, &stored.resource_type, &facts)? {
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
            match self.decide_on(who, interaction, &stored.resource_type, &facts)? {
                Decision::Permit(basis) => Ok(Checked {
                    basis,
                    patient_id: facts.patient_id,
                }),
                Decision::Deny(reason) => Err(reason),
            },
        )
    }

    /// Keeps the resources the requester may read, in order; returns how many were dropped.
    pub(crate) fn filter_readable(
        &self,
        who: &Requester,
        resources: &mut Vec<StoredResource>,
        seen_patients: &mut Vec<(String, bool)>,
    ) -> Result<usize, Error> {
        let before = resources.len();
        let mut kept = Vec::with_capacity(resources.len());
        for stored in resources.drain(..) {
            if let Ok(checked) = self.may_read(who, Interaction::Read, &stored)? {
                if let Some(patient) = checked.patient_id {
                    let glass = checked.basis == Basis::BreakGlass;
                    if !seen_patients.iter().any(|(p, _)| *p == patient) {
                        seen_patients.push((patient, glass));
                    }
                }
                kept.push(stored);
            }
        }
        *resources = kept;
        Ok(before - resources.len())
    }

    /// Organization and Location ids of the facility with this CLUES.
    fn facility_ids(&self, clues: &str) -> Result<Arc<FacilityIds>, Error> {
        let generation = self.access.generation.load(Ordering::Relaxed);
        if let Some((ids, at)) = self.access.caches().facilities.get(clues)
            && *at == generation
        {
            return Ok(ids.clone());
        }
        let orgs = self.ids_matching(
            "Organization",
            &[("identifier", format!("{}|{clues}", mexico::systems::CLUES))],
        )?;
        let locations = if orgs.is_empty() {
            Vec::new()
        } else {
            self.ids_matching(
                "Location",
                &[(
                    "organization",
                    orgs.iter()
                        .map(|id| format!("Organization/{id}"))
                        .collect::<Vec<_>>()
                        .join(","),
                )],
            )?
        };
        let ids = Arc::new(FacilityIds {
            organizations: orgs,
            locations,
        });
        let mut caches = self.access.caches();
        if caches.facilities.len() > CACHE_ENTRIES_MAX {
            caches.facilities.clear();
        }
        caches
            .facilities
            .insert(clues.to_string(), (ids.clone(), generation));
        Ok(ids)
    }

    fn ids_matching(
        &self,
        resource_type: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<String>, Error> {
        let mut params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        params.push(("_count".into(), "50".into()));
        params.push(("_elements".into(), "id".into()));
        let (query, _) = search::parse(
            resource_type,
            &params,
            search::Handling::Lenient,
            self.now_ms(),
        )
        .map_err(Error::BadRequest)?;
        Ok(self
            .store()
            .search(&query)?
            .matches
            .into_iter()
            .map(|r| r.id)
            .collect())
    }

    /// Whether the facility `clues` has a care relationship with the patient.
    pub(crate) fn care_relationship(
        &self,
        clues: Option<&str>,
        patient_id: &str,
    ) -> Result<CareRelationship, Error> {
        let Some(clues) = clues else {
            return Ok(CareRelationship::NONE);
        };
        let now = self.now_ms();
        let generation = self.access.generation.load(Ordering::Relaxed);
        if let Some((found, at, when)) = self
            .access
            .caches()
            .relationships
            .get(clues)
            .and_then(|patients| patients.get(patient_id))
        {
            let fresh_positive = found.exists() && now - when < RELATIONSHIP_TTL_MS;
            if fresh_positive || *at == generation {
                return Ok(*found);
            }
        }
        let facility = self.facility_ids(clues)?;
        let (orgs, locations) = (&facility.organizations, &facility.locations);
        let mut found = CareRelationship::NONE;
        if !orgs.is_empty() {
            if let Some(patient) = self.store().read("Patient", patient_id)?
                && !patient.deleted
                && let Ok(json) = fhir::json::parse_str(&patient.body)
            {
                let managing = json
                    .get("managingOrganization")
                    .and_then(|r| r.get("reference"))
                    .and_then(Json::as_str)
                    .and_then(|r| r.strip_prefix("Organization/"));
                found.registered_here = managing.is_some_and(|id| orgs.iter().any(|o| o == id));
            }
            if !found.registered_here {
                let providers = orgs
                    .iter()
                    .map(|id| format!("Organization/{id}"))
                    .collect::<Vec<_>>()
                    .join(",");
                found.encounter_here = !self
                    .ids_matching(
                        "Encounter",
                        &[
                            ("patient", format!("Patient/{patient_id}")),
                            ("service-provider", providers),
                        ],
                    )?
                    .is_empty();
            }
            if !found.exists() && !locations.is_empty() {
                let places = locations
                    .iter()
                    .map(|id| format!("Location/{id}"))
                    .collect::<Vec<_>>()
                    .join(",");
                found.appointment_here = !self
                    .ids_matching(
                        "Appointment",
                        &[
                            ("patient", format!("Patient/{patient_id}")),
                            ("location", places),
                        ],
                    )?
                    .is_empty();
            }
        }
        let mut caches = self.access.caches();
        if caches.relationships.len() > CACHE_ENTRIES_MAX {
            caches.relationships.clear();
        }
        caches
            .relationships
            .entry(clues.to_string())
            .or_default()
            .insert(patient_id.to_string(), (found, generation, now));
        Ok(found)
    }

    /// The patient's active privacy consents.
    fn consents_of(&self, patient_id: &str) -> Result<Arc<Vec<Consent>>, Error> {
        let generation = self.access.generation.load(Ordering::Relaxed);
        if let Some((consents, at)) = self.access.caches().consents.get(patient_id)
            && *at == generation
        {
            return Ok(consents.clone());
        }
        let mut params = vec![
            ("patient".to_string(), format!("Patient/{patient_id}")),
            ("_count".to_string(), "100".to_string()),
        ];
        params.push(("status".into(), "active".into()));
        let (query, _) =
            search::parse("Consent", &params, search::Handling::Lenient, self.now_ms())
                .map_err(Error::BadRequest)?;
        let mut consents = Vec::new();
        for stored in self.store().search(&query)?.matches {
            let Ok(mut consent) = Consent::parse(&stored.body) else {
                continue;
            };
            consent.resolve_organizations(&|org_id| self.clues_of_organization(org_id));
            consents.push(consent);
        }
        let consents = Arc::new(consents);
        let mut caches = self.access.caches();
        if caches.consents.len() > CACHE_ENTRIES_MAX {
            caches.consents.clear();
        }
        caches
            .consents
            .insert(patient_id.to_string(), (consents.clone(), generation));
        Ok(consents)
    }

    fn clues_of_organization(&self, org_id: &str) -> Option<String> {
        let stored = self.store().read("Organization", org_id).ok()??;
        let json = fhir::json::parse_str(&stored.body).ok()?;
        json.get("identifier")?
            .as_array()?
            .iter()
            .find(|i| i.get("system").and_then(Json::as_str) == Some(mexico::systems::CLUES))
            .and_then(|i| i.get("value").and_then(Json::as_str))
            .map(str::to_string)
    }

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
            node: self.access.node.clone(),
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

    /// Records an entry off the request path (reads, refusals, failures).
    pub(crate) fn audit_later(&self, entry: AuditEntry) {
        self.access.sink.send(entry);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(resource_type: &str, id: &str, body: &str) -> StoredResource {
        StoredResource {
            resource_type: resource_type.into(),
            id: id.into(),
            version_id: 1,
            last_updated: String::new(),
            last_updated_ms: 0,
            deleted: false,
            change_seq: 1,
            body: body.into(),
        }
    }

    fn read_entry(user: &str, patient: &str, id: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at_ms: 1,
            node: "n".into(),
            user: user.into(),
            user_display: String::new(),
            role: Some(Role::Physician),
            clues: Some("DFSSA001234".into()),
            facility_name: None,
            action: AuditAction::Read,
            resource_type: Some("Observation".into()),
            resource_id: Some(id.into()),
            patient_id: Some(patient.into()),
            outcome: Outcome::Success,
            break_glass: false,
            source_ip: None,
            details: String::new(),
        }
    }

    /// Reads of one patient by one user fold into one entry listing every resource; other
    /// users, patients and non-read actions stay apart, and nothing read is dropped.
    #[test]
    fn reads_arriving_together_fold_per_user_and_patient() {
        let mut search = read_entry("a", "p1", "x");
        search.action = AuditAction::Search;
        let entries = vec![
            read_entry("a", "p1", "o1"),
            read_entry("a", "p1", "o2"),
            read_entry("b", "p1", "o3"),
            search,
            read_entry("a", "p2", "o4"),
            read_entry("a", "p1", "o5"),
        ];
        let folded = coalesce_reads(entries);
        assert_eq!(folded.len(), 4);
        assert_eq!(
            folded[0].details,
            "lecturas: Observation/o1, Observation/o2, Observation/o5"
        );
        assert_eq!(folded[1].details, "lecturas: Observation/o3");
        assert_eq!(folded[2].action, AuditAction::Search);
        assert_eq!(folded[3].patient_id.as_deref(), Some("p2"));
        let listed: usize = folded
            .iter()
            .map(|e| e.details.matches("Observation/").count())
            .sum();
        assert_eq!(listed, 5);
    }

    /// Reads that name no patient fold per user too (a system account's reads, directories).
    #[test]
    fn reads_without_a_patient_fold_per_user() {
        let unattributed = |user: &str, id: &str| {
            let mut entry = read_entry(user, "-", id);
            entry.patient_id = None;
            entry
        };
        let folded = coalesce_reads(vec![
            unattributed("sistema", "o1"),
            unattributed("sistema", "o2"),
            unattributed("otro", "o3"),
            read_entry("sistema", "p1", "o4"),
        ]);
        assert_eq!(folded.len(), 3);
        assert_eq!(
            folded[0].details,
            "lecturas: Observation/o1, Observation/o2"
        );
        assert_eq!(folded[1].details, "lecturas: Observation/o3");
        assert_eq!(folded[2].patient_id.as_deref(), Some("p1"));
    }

    /// The text shortcut agrees with the full parse wherever it answers, and declines
    /// (falls back) where the text cannot settle the facts.
    #[test]
    fn read_facts_from_text_match_the_parse_or_decline() {
        let cases = [
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}"#,
                Some(Some("p1")),
            ),
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1/_history/2"}}"#,
                Some(Some("p1")),
            ),
            (
                "Practitioner",
                r#"{"resourceType":"Practitioner","id":"d1"}"#,
                Some(None),
            ),
            (
                "Patient",
                r#"{"resourceType":"Patient","id":"p9"}"#,
                Some(Some("p9")),
            ),
            // Labels, two patients, absolute URLs and free text naming a patient: full parse.
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","meta":{"security":[{"code":"PSY"}]},"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}"#,
                None,
            ),
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"focus":[{"reference":"Patient/p2"}]}"#,
                None,
            ),
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"http://a/fhir/Patient/p1"}}"#,
                None,
            ),
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"ver Patient/p2"},"subject":{"reference":"Patient/p1"}}"#,
                None,
            ),
            (
                "Patient",
                r#"{"resourceType":"Patient","id":"p9","link":[{"other":{"reference":"Patient/p8"},"type":"seealso"}]}"#,
                None,
            ),
        ];
        for (rtype, body, expected) in cases {
            let resource = stored(rtype, "x", body);
            let resource = StoredResource {
                id: fhir::json::parse_str(body)
                    .unwrap()
                    .get("id")
                    .and_then(Json::as_str)
                    .unwrap()
                    .into(),
                ..resource
            };
            let fast = TargetFacts::from_text(&resource);
            assert_eq!(
                fast.as_ref().map(|f| f.patient_id.as_deref()),
                expected,
                "{body}"
            );
            if let Some(fast) = fast {
                let full = TargetFacts::of_stored(&resource);
                assert_eq!(fast.patient_id, full.patient_id, "{body}");
                assert_eq!(full.labels, Vec::new());
            }
        }
    }
}
