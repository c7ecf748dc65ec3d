//! The hub's intake of a clinic's push: each version is bounded in time (`bounds.rs`), decided
//! by `ehr`'s guard as that clinic's staff would be (`ehr::ReplicatedReview`), and applied by
//! the conflict rule. Refusals are per version: the batch's valid versions still apply, and
//! each refusal goes back to the clinic with its reason and into the hub's audit trail.
//!
//! Rounds: the guard reads access facts (care relationships) as committed before its review
//! started, so a version that needs a relationship another version of the same batch
//! establishes (the patient's registration, an Encounter at the clinic) waits for the next
//! round. Each round is one transaction; a round that applies nothing ends the waiting, and
//! what still waits is refused. Later versions of a waiting resource wait with it, so each
//! resource's versions apply in the order they were made.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use auth::audit::{AuditAction, AuditEntry};
use fhir::{Issue, IssueCode, Json};
use store::WriteTx;
use store::sync::Stamp;

use crate::Error;
use crate::apply::{self, BatchOutcome};
use crate::bounds;
use crate::hub::write;
use crate::wire::{RefusedVersion, WireVersion};

/// Rounds of one push at most. An honest batch needs two (registrations and Encounters, then
/// what they open), rarely three; the bound keeps a hostile batch from costing the hub one
/// transaction per version. Versions still waiting after it are refused like any other that
/// lacks a care relationship.
const ROUNDS_MAX: usize = 4;

/// Resources named in one folded audit entry at most (the count gives the rest).
const AUDIT_LISTED_MAX: usize = 100;

/// Characters of a refusal reason sent back at most (a body can fail many validation rules).
const REASON_CHARS_MAX: usize = 2_000;

/// What a push did.
#[derive(Debug, Default)]
pub(crate) struct Ingested {
    pub outcome: BatchOutcome,
    pub refused: Vec<RefusedVersion>,
}

/// Decides and applies `versions` pushed by `node`, in rounds (see the module docs).
pub(crate) fn ingest(
    ehr: &ehr::Ehr,
    store: &dyn store::Store,
    node: &str,
    versions: Vec<WireVersion>,
    now_ms: i64,
) -> Result<Ingested, Error> {
    // Parsing and the content rules run here, on the request's thread, not on the store's
    // single writer (they need no store).
    let review = ehr.review_replicated(node);
    let versions: Arc<Vec<Received>> = Arc::new(
        versions
            .into_iter()
            .map(|version| Received::of(version, &review))
            .collect(),
    );
    let mut pending: Vec<usize> = (0..versions.len()).collect();
    let mut total = Ingested::default();
    for round in 0..ROUNDS_MAX {
        if pending.is_empty() {
            break;
        }
        let last = round + 1 == ROUNDS_MAX;
        let (ehr, node, versions) = (ehr.clone(), node.to_string(), versions.clone());
        let waiting = std::mem::take(&mut pending);
        let done = write(store, move |tx| {
            run_round(tx, &ehr, &node, &versions, &waiting, now_ms, last)
        })?;
        total.outcome.merge(done.outcome);
        total.refused.extend(done.refused);
        pending = done.waiting;
    }
    Ok(total)
}

/// A pushed version with its body parsed and its content checked.
struct Received {
    version: WireVersion,
    body: Option<Json>,
    /// Why the body cannot be stored (not JSON, not R4, against the Mexican profile).
    content_problems: Vec<Issue>,
}

impl Received {
    fn of(version: WireVersion, review: &ehr::ReplicatedReview) -> Received {
        let (body, content_problems) = match &version.body {
            None => (None, Vec::new()),
            Some(raw) => match fhir::json::parse_str(raw.get()) {
                Ok(json) => (Some(json), Vec::new()),
                Err(err) => (
                    None,
                    vec![Issue::error(
                        IssueCode::Structure,
                        format!("el cuerpo no es JSON válido: {}", err.message_es()),
                        format!("the body is not valid JSON: {}", err.message_en()),
                    )],
                ),
            },
        };
        let content_problems = if content_problems.is_empty() {
            review
                .check_content(&version.resource_type, &version.id, body.as_ref())
                .err()
                .unwrap_or_default()
        } else {
            content_problems
        };
        Received {
            version,
            body,
            content_problems,
        }
    }
}

/// One round: one transaction.
#[derive(Default)]
struct Round {
    outcome: BatchOutcome,
    refused: Vec<RefusedVersion>,
    /// Indexes of the versions left for the next round, in order.
    waiting: Vec<usize>,
}

fn run_round(
    tx: &mut dyn WriteTx,
    ehr: &ehr::Ehr,
    node: &str,
    versions: &[Received],
    pending: &[usize],
    now_ms: i64,
    last: bool,
) -> Result<Round, Error> {
    apply::catch_up(tx)?;
    let stamps: Vec<(usize, Stamp)> = pending
        .iter()
        .filter_map(|&idx| versions.get(idx).map(|r| (idx, r.version.stamp())))
        .collect();
    let announced: Vec<(&str, &str, &Stamp)> = stamps
        .iter()
        .filter_map(|(idx, stamp)| {
            let version = &versions.get(*idx)?.version;
            Some((version.resource_type.as_str(), version.id.as_str(), stamp))
        })
        .collect();
    apply::sync_tx(tx)?.prepare_versions(&announced)?;
    let review = ehr.review_replicated(node);
    let mut round = Round::default();
    // Resources with a version waiting: their later versions wait too.
    let mut blocked: HashSet<(&str, &str)> = HashSet::new();
    let mut deferred: Vec<(usize, ehr::ReplicatedRefusal)> = Vec::new();
    let mut accepted: Vec<(AuditEntry, Vec<String>)> = Vec::new();
    let mut denied: Vec<AuditEntry> = Vec::new();
    for &idx in pending {
        let Some(received) = versions.get(idx) else {
            continue;
        };
        let version = &received.version;
        let key = (version.resource_type.as_str(), version.id.as_str());
        if blocked.contains(&key) {
            round.waiting.push(idx);
            continue;
        }
        // A version already held changes nothing, whatever it would be decided now.
        if apply::sync_tx(tx)?.stamp_known(&version.resource_type, &version.id, &version.stamp())? {
            round.outcome.duplicates += 1;
            continue;
        }
        let mut problems = bounds::stamp_problems(version, now_ms);
        problems.extend(received.content_problems.iter().cloned());
        let current = tx.read(&version.resource_type, &version.id)?;
        let current_origin = match &current {
            Some(current) => apply::sync_tx(tx)?
                .log_entry(current.change_seq)?
                .map(|entry| entry.stamp.origin),
            None => None,
        };
        let verdict = review.check(
            &ehr::ReplicatedVersion {
                resource_type: &version.resource_type,
                id: &version.id,
                current: current.as_ref(),
                current_origin: current_origin.as_deref(),
                body: received.body.as_ref(),
                problems: &problems,
                content_checked: true,
            },
            tx,
        )?;
        match verdict {
            ehr::ReplicatedVerdict::Accept { audit, patients } => {
                round.outcome.add(apply::apply_version_parsed(
                    tx,
                    version,
                    received.body.as_ref(),
                    now_ms,
                )?);
                accepted.push((audit, patients));
            }
            ehr::ReplicatedVerdict::Refuse(refusal)
                if refusal.awaits_care_relationship && !last =>
            {
                blocked.insert(key);
                round.waiting.push(idx);
                deferred.push((idx, refusal));
            }
            ehr::ReplicatedVerdict::Refuse(refusal) => {
                round.refused.push(refused(version, &refusal.issues));
                denied.push(refusal.audit);
            }
        }
    }
    if accepted.is_empty() {
        // Nothing was applied, so nothing new can open a relationship: waiting is over.
        for (idx, refusal) in deferred {
            round.waiting.retain(|waiting| *waiting != idx);
            if let Some(received) = versions.get(idx) {
                round
                    .refused
                    .push(refused(&received.version, &refusal.issues));
            }
            denied.push(refusal.audit);
        }
    }
    let mut entries = fold(node, accepted);
    entries.extend(denied);
    if !entries.is_empty() {
        tx.append_audit_batch(entries)?;
    }
    // Where positions come after commit, this round's versions cannot be indexed yet; the
    // feed's readers index what is behind before they read (`Hub::index_if_behind`).
    if !apply::sync_tx(tx)?.positions_after_commit() {
        apply::index_feed(tx, now_ms)?;
    }
    Ok(round)
}

/// The refusal as sent back to the clinic.
fn refused(version: &WireVersion, issues: &[Issue]) -> RefusedVersion {
    let join = |pick: fn(&Issue) -> &str| -> String {
        let text = issues
            .iter()
            .filter(|issue| issue.is_error())
            .map(pick)
            .collect::<Vec<_>>()
            .join("; ");
        text.chars().take(REASON_CHARS_MAX).collect()
    };
    RefusedVersion {
        resource_type: version.resource_type.clone(),
        id: version.id.clone(),
        hlc: version.hlc,
        reason_es: join(|issue| issue.message_es.as_str()),
        reason_en: join(|issue| issue.message_en.as_str()),
    }
}

/// The audit entries of what a round applied: one per patient whose record it touched (so the
/// patient's access log shows the clinic), and one for what is in no patient's record. A patient
/// touched by a single version keeps that version's own entry.
fn fold(node: &str, accepted: Vec<(AuditEntry, Vec<String>)>) -> Vec<AuditEntry> {
    let origin = format!("sincronización desde {node}");
    let mut groups: BTreeMap<Option<String>, Vec<AuditEntry>> = BTreeMap::new();
    // Care events (an inicio de atención, a cambio de unidad) stay entries of their own: the
    // auditors review them one by one.
    let mut reviewed = Vec::new();
    for (entry, patients) in accepted {
        if entry.action.needs_review() {
            let mut entry = entry;
            entry.patient_id = patients.first().cloned();
            entry.details = origin.clone();
            reviewed.push(entry);
            continue;
        }
        if patients.is_empty() {
            groups.entry(None).or_default().push(entry);
            continue;
        }
        for patient in patients {
            let mut copy = entry.clone();
            copy.patient_id = Some(patient.clone());
            groups.entry(Some(patient)).or_default().push(copy);
        }
    }
    let folded: Vec<AuditEntry> = groups
        .into_values()
        .filter_map(|entries| {
            let count = entries.len();
            let mut folded = entries.first()?.clone();
            if count == 1 {
                folded.details = origin.clone();
                return Some(folded);
            }
            let listed: Vec<String> = entries
                .iter()
                .take(AUDIT_LISTED_MAX)
                .map(|entry| {
                    format!(
                        "{}/{} ({})",
                        entry.resource_type.as_deref().unwrap_or("?"),
                        entry.resource_id.as_deref().unwrap_or("?"),
                        entry.action.as_str()
                    )
                })
                .collect();
            let more = count.saturating_sub(AUDIT_LISTED_MAX);
            // An update as the patient reads it ("modificó su expediente"); the details list
            // each version and what it did.
            folded.action = AuditAction::Update;
            folded.resource_type = None;
            folded.resource_id = None;
            folded.details = format!("{origin}: {count} versiones: {}", listed.join(", "));
            if more > 0 {
                folded.details.push_str(&format!(" y {more} más"));
            }
            Some(folded)
        })
        .collect();
    reviewed.into_iter().chain(folded).collect()
}
