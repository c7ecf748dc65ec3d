//! Audit anchors: a clinic signs the head of its audit chain with its node key now and then,
//! keeps the signed head, and ships it to the hub, which keeps every head each clinic sent.
//!
//! Why: the chain (`auth::audit`) is unkeyed SHA-256, so whoever holds the database file can
//! rewrite entries and recompute every hash after them, or cut the tail off; the chain alone
//! still verifies. A head recorded elsewhere pins the chain: the entry at that position must
//! still be there, with that hash.
//!
//! What is detected (see ARCHITECTURE.md, "Sync"):
//! - by `expediente audit verify` on the clinic, against its own signed heads: a trail cut
//!   below the newest anchored position, and any rewrite of an entry at or before an anchored
//!   position (the hash there changes); an anchor not signed by this node's key;
//! - by the hub on receipt and `audit verify --node` on the hub, from the heads alone: a chain
//!   that went backwards (a head at a lower position than one received before) or that forked
//!   (two hashes for one position), and heads not signed by the key that signed the first;
//! - by `audit verify --node CLUES --trail COPY` on the hub, against a copy of the clinic's
//!   data directory: the same as on the clinic, but against heads the clinic's files cannot
//!   change.
//!
//! What is not: entries written after the last anchor that reached the hub (at most one anchor
//! interval, plus any time offline), and an attacker on the clinic PC who also holds its key
//! file and changes the local anchors; only the hub's copy resists that one.

use auth::audit::{ChainError, ChainFault};
use base64::Engine;
use store::sync::{AuditAnchor, SyncStore};
use store::{AuditQuery, Store};

use crate::Error;
use crate::apply;
use crate::hub::write;
use crate::wire::{AnchorResponse, WireAnchor};

/// How often a clinic signs its chain head by default: once a minute while the trail grows.
/// A minute of trail is what the clinic's own checks can miss at worst; signing costs one
/// Ed25519 signature and one row.
pub const ANCHOR_INTERVAL_MS_DEFAULT: u64 = 60_000;

/// Anchors in one request at most (a clinic back after a month offline has ~43,000 minutes of
/// anchors at worst; it ships them over a few rounds).
pub const ANCHORS_PER_REQUEST_MAX: usize = 1_000;

/// State key (clinic): the chain head of the newest anchor it made, as `"{seq} {hash}"`.
pub const STATE_ANCHOR_MADE: &str = "audit_anchor_head";

/// State key (clinic): the storage position of the newest anchor the hub has acknowledged.
pub const STATE_ANCHOR_SHIPPED: &str = "audit_anchor_shipped_position";

/// Anchors of one node read for a verification at most: ten million, nineteen years of one a
/// minute.
const ANCHORS_VERIFIED_MAX: usize = 10_000_000;

/// One problem found by a check, for operators (Spanish and English).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub es: String,
    pub en: String,
}

impl Finding {
    fn new(es: String, en: String) -> Finding {
        Finding { es, en }
    }
}

/// The newest entry of this node's chain: its position and hash.
pub fn chain_head(store: &dyn Store) -> Result<Option<(u64, String)>, Error> {
    let newest = store.audit_search(&AuditQuery {
        count: 1,
        ..AuditQuery::default()
    })?;
    Ok(newest
        .first()
        .map(|sealed| (sealed.entry.seq, sealed.hash.to_hex())))
}

/// The chain head of the newest anchor this node made (`seq`, hash).
pub fn anchored_head(sync_store: &dyn SyncStore) -> Result<Option<(u64, String)>, Error> {
    Ok(sync_store.state(STATE_ANCHOR_MADE)?.and_then(|text| {
        let (seq, hash) = text.split_once(' ')?;
        Some((seq.parse().ok()?, hash.to_string()))
    }))
}

/// Signs this node's chain head when it is not the newest anchor's (it grew; or it went back
/// or changed, which the hub must hear about too), and keeps the anchor.
pub fn make_anchor(
    store: &dyn Store,
    sync_store: &dyn SyncStore,
    keys: &auth::token::KeyStore,
    node_id: &str,
    now_ms: i64,
) -> Result<Option<AuditAnchor>, Error> {
    let Some((seq, hash)) = chain_head(store)? else {
        return Ok(None);
    };
    if anchored_head(sync_store)?.is_some_and(|(at, at_hash)| at == seq && at_hash == hash) {
        return Ok(None);
    }
    let message = auth::audit::anchor_message(node_id, seq, &hash, now_ms);
    let anchor = AuditAnchor {
        position: 0,
        node_id: node_id.to_string(),
        seq,
        hash,
        at_ms: now_ms,
        public_key: keys.public_key_base64url(),
        signature: keys.sign(&message),
        received_ms: now_ms,
    };
    let kept = anchor.clone();
    write(store, move |tx| {
        let sync = apply::sync_tx(tx)?;
        sync.record_anchor(&kept)?;
        sync.set_state(STATE_ANCHOR_MADE, &format!("{} {}", kept.seq, kept.hash))?;
        Ok(())
    })?;
    Ok(Some(anchor))
}

/// This node's anchors the hub has not acknowledged yet, oldest first (a request's worth).
pub fn unshipped(sync_store: &dyn SyncStore, node_id: &str) -> Result<Vec<AuditAnchor>, Error> {
    let shipped = sync_store
        .state(STATE_ANCHOR_SHIPPED)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(sync_store.anchors(node_id, shipped, ANCHORS_PER_REQUEST_MAX)?)
}

/// Records that the hub holds this node's anchors up to storage position `position`.
pub fn shipped(store: &dyn Store, position: u64) -> Result<(), Error> {
    write(store, move |tx| {
        let sync = apply::sync_tx(tx)?;
        let before: u64 = sync
            .state(STATE_ANCHOR_SHIPPED)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        sync.set_state(STATE_ANCHOR_SHIPPED, &before.max(position).to_string())?;
        Ok(())
    })
}

pub fn to_wire(anchor: &AuditAnchor) -> WireAnchor {
    WireAnchor {
        node: anchor.node_id.clone(),
        seq: anchor.seq,
        hash: anchor.hash.clone(),
        at_ms: anchor.at_ms,
        key: anchor.public_key.clone(),
        sig: anchor.signature.clone(),
    }
}

/// Whether the anchor's signature is its key's.
pub fn signature_valid(anchor: &AuditAnchor) -> bool {
    let message =
        auth::audit::anchor_message(&anchor.node_id, anchor.seq, &anchor.hash, anchor.at_ms);
    auth::token::verify_signature(&anchor.public_key, &message, &anchor.signature)
}

/// The hub receives `node`'s anchors: each must be that node's, well formed and signed by the
/// key it carries; they are stored as sent (even one that shows the chain went backwards:
/// it is evidence, and `audit verify --node` reports it).
pub fn receive(
    store: &dyn Store,
    node: &str,
    anchors: Vec<WireAnchor>,
    now_ms: i64,
) -> Result<AnchorResponse, Error> {
    if anchors.len() > ANCHORS_PER_REQUEST_MAX {
        return Err(Error::BadRequest(format!(
            "más de {ANCHORS_PER_REQUEST_MAX} anclas / more than {ANCHORS_PER_REQUEST_MAX} anchors"
        )));
    }
    let mut records = Vec::with_capacity(anchors.len());
    for wire in anchors {
        if wire.node != node {
            return Err(Error::Forbidden(format!(
                "ancla de {} / anchor of {}",
                wire.node, wire.node
            )));
        }
        let anchor = AuditAnchor {
            position: 0,
            node_id: wire.node,
            seq: wire.seq,
            hash: wire.hash,
            at_ms: wire.at_ms,
            public_key: wire.key,
            signature: wire.sig,
            received_ms: now_ms,
        };
        let well_formed = anchor.seq > 0
            && auth::audit::ChainHash::from_hex(&anchor.hash).is_some()
            && base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&anchor.public_key)
                .is_ok_and(|key| key.len() == 32);
        if !well_formed || !signature_valid(&anchor) {
            return Err(Error::BadRequest(format!(
                "ancla {} mal formada o con firma inválida / anchor {} malformed or badly signed",
                anchor.seq, anchor.seq
            )));
        }
        records.push(anchor);
    }
    let stored = write(store, move |tx| {
        let sync = apply::sync_tx(tx)?;
        let mut stored = 0u64;
        for anchor in &records {
            if sync.record_anchor(anchor)? {
                stored += 1;
            }
        }
        Ok(stored)
    })?;
    Ok(AnchorResponse { stored })
}

/// Every anchor of `node_id` this store holds, in the order it stored them.
pub fn all_anchors(sync_store: &dyn SyncStore, node_id: &str) -> Result<Vec<AuditAnchor>, Error> {
    Ok(sync_store.anchors(node_id, 0, ANCHORS_VERIFIED_MAX)?)
}

/// What the anchors alone show (hub): heads that go backwards, two hashes for one position,
/// bad signatures, and a key other than the first anchor's.
pub fn check_sequence(anchors: &[AuditAnchor]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let first_key = anchors.first().map(|a| a.public_key.as_str());
    let mut highest: Option<&AuditAnchor> = None;
    let mut by_seq: std::collections::HashMap<u64, &str> = std::collections::HashMap::new();
    for anchor in anchors {
        let node = &anchor.node_id;
        if !signature_valid(anchor) {
            findings.push(Finding::new(
                format!(
                    "el ancla {} de {node} no tiene una firma válida",
                    anchor.seq
                ),
                format!("{node}'s anchor {} is not validly signed", anchor.seq),
            ));
        }
        if Some(anchor.public_key.as_str()) != first_key {
            findings.push(Finding::new(
                format!(
                    "el ancla {} de {node} está firmada con otra llave que la primera (¿nodo reinstalado o suplantado?)",
                    anchor.seq
                ),
                format!(
                    "{node}'s anchor {} is signed by another key than the first (node reinstalled, or impersonated?)",
                    anchor.seq
                ),
            ));
        }
        match by_seq.insert(anchor.seq, anchor.hash.as_str()) {
            Some(other) if other != anchor.hash => findings.push(Finding::new(
                format!(
                    "la bitácora de {node} fue reescrita: dos huellas distintas para la entrada {}",
                    anchor.seq
                ),
                format!(
                    "{node}'s audit trail was rewritten: two different hashes for entry {}",
                    anchor.seq
                ),
            )),
            _ => {}
        }
        if let Some(top) = highest
            && anchor.seq < top.seq
        {
            findings.push(Finding::new(
                format!(
                    "la bitácora de {node} retrocedió: llegó la entrada {} después de la {} (truncada o restaurada de un respaldo)",
                    anchor.seq, top.seq
                ),
                format!(
                    "{node}'s audit trail went backwards: entry {} arrived after entry {} (truncated, or restored from a backup)",
                    anchor.seq, top.seq
                ),
            ));
        }
        if highest.is_none_or(|top| anchor.seq > top.seq) {
            highest = Some(anchor);
        }
    }
    findings
}

/// Checks a trail (`store`'s audit chain, already verified on its own) against anchors of it:
/// the chain must reach every anchored position and hold the anchored hash there; each anchor
/// must be signed, by `key` when given (the node's own public key).
pub fn check_trail(
    store: &dyn Store,
    anchors: &[AuditAnchor],
    key: Option<&str>,
) -> Result<Vec<Finding>, Error> {
    let mut findings = Vec::new();
    let head_seq = chain_head(store)?.map_or(0, |(seq, _)| seq);
    for anchor in anchors {
        let signed = signature_valid(anchor) && key.is_none_or(|k| k == anchor.public_key);
        if !signed {
            findings.push(Finding::new(
                format!(
                    "el ancla {} no está firmada con la llave de este nodo",
                    anchor.seq
                ),
                format!("anchor {} is not signed by this node's key", anchor.seq),
            ));
        }
    }
    // Truncation: the newest anchored position is past the end of the chain.
    if let Some(top) = anchors.iter().max_by_key(|a| a.seq)
        && top.seq > head_seq
    {
        let error = ChainError {
            first_bad_seq: head_seq.saturating_add(1),
            reason: ChainFault::Truncated {
                expected_last: top.seq,
            },
        };
        findings.push(Finding::new(
            format!(
                "{} (el ancla firmada el {} llega hasta la entrada {})",
                error.message_es(),
                ehr::format_instant(top.at_ms),
                top.seq
            ),
            format!(
                "the audit trail was truncated: entries {} to {} are missing (the anchor signed at {} reaches entry {})",
                head_seq.saturating_add(1),
                top.seq,
                ehr::format_instant(top.at_ms),
                top.seq
            ),
        ));
    }
    // Rewriting: the entry at an anchored position has another hash now.
    let mut rewritten: Option<u64> = None;
    for anchor in anchors.iter().filter(|a| a.seq <= head_seq) {
        let at = store.audit_scan(anchor.seq.saturating_sub(1), 1)?;
        let stored = at
            .first()
            .filter(|sealed| sealed.entry.seq == anchor.seq)
            .map(|sealed| sealed.hash.to_hex());
        if stored.as_deref() != Some(anchor.hash.as_str()) {
            rewritten = Some(rewritten.map_or(anchor.seq, |seen| seen.min(anchor.seq)));
        }
    }
    if let Some(seq) = rewritten {
        findings.push(Finding::new(
            format!(
                "la bitácora fue reescrita: la entrada {seq} no tiene la huella firmada en su ancla"
            ),
            format!("the audit trail was rewritten: entry {seq} does not have its anchored hash"),
        ));
    }
    Ok(findings)
}
