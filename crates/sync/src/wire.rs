//! The node-to-node protocol's messages and their encoding (pure).
//!
//! Every request and response body is JSON compressed with zstd (`Content-Type:
//! application/x-expediente-sync`, `Content-Encoding: zstd`). A version travels with its stamp
//! and parent stamp and its body spliced in as raw JSON (no re-serialisation, no escaping).
//! Short member names keep the envelope small next to the bodies.

use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use store::StoredResource;
use store::sync::{LogEntry, Stamp};

/// The media type of sync bodies.
pub const MEDIA_TYPE: &str = "application/x-expediente-sync";

/// zstd level: 3 is zstd's default, fast enough for a clinic PC and within a few percent of
/// the best ratio on FHIR JSON (repetitive keys and codes).
const ZSTD_LEVEL: i32 = 3;

/// Largest decompressed body accepted: bounds memory against a hostile or corrupt stream.
/// Batches are bounded far below this (see `BATCH_BYTES_MAX`).
pub const DECODED_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Largest batch, in bytes of JSON before compression: 1 MiB compresses to ~150 KiB, about
/// 1.2 s on a 1 Mbit/s rural link, so a dropped link loses little work.
pub const BATCH_BYTES_MAX: usize = 1024 * 1024;

/// Largest batch, in versions: bounds the work of one store transaction on the receiver.
pub const BATCH_ENTRIES_MAX: usize = 1_000;

/// Envelope bytes counted per version besides its body, for batch sizing.
const ENVELOPE_BYTES: usize = 160;

/// One version as shipped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireVersion {
    #[serde(rename = "t")]
    pub resource_type: String,
    #[serde(rename = "i")]
    pub id: String,
    #[serde(rename = "h")]
    pub hlc: i64,
    #[serde(rename = "o")]
    pub origin: String,
    #[serde(rename = "ph", default, skip_serializing_if = "Option::is_none")]
    pub parent_hlc: Option<i64>,
    #[serde(rename = "po", default, skip_serializing_if = "Option::is_none")]
    pub parent_origin: Option<String>,
    /// `meta.lastUpdated` where the version was made, epoch milliseconds.
    #[serde(rename = "u")]
    pub last_updated_ms: i64,
    /// The resource as stored where it was made; absent for a delete.
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<RawValue>>,
}

impl WireVersion {
    /// A stored version with its log row. A body that is not JSON (never written by this
    /// system) is shipped as a delete rather than failing the whole batch.
    pub fn from_stored(entry: &LogEntry, version: &StoredResource) -> WireVersion {
        let body = if version.deleted {
            None
        } else {
            RawValue::from_string(version.body.clone()).ok()
        };
        WireVersion {
            resource_type: entry.resource_type.clone(),
            id: entry.id.clone(),
            hlc: entry.stamp.hlc,
            origin: entry.stamp.origin.clone(),
            parent_hlc: entry.parent.as_ref().map(|p| p.hlc),
            parent_origin: entry.parent.as_ref().map(|p| p.origin.clone()),
            last_updated_ms: version.last_updated_ms,
            body,
        }
    }

    pub fn stamp(&self) -> Stamp {
        Stamp {
            hlc: self.hlc,
            origin: self.origin.clone(),
        }
    }

    pub fn parent(&self) -> Option<Stamp> {
        match (self.parent_hlc, &self.parent_origin) {
            (Some(hlc), Some(origin)) => Some(Stamp {
                hlc,
                origin: origin.clone(),
            }),
            _ => None,
        }
    }

    /// Bytes this version adds to a batch, for sizing.
    pub fn size_bytes(&self) -> usize {
        ENVELOPE_BYTES + self.body.as_ref().map_or(0, |b| b.get().len())
    }
}

/// `POST /sync/push`: versions made at the sending node, oldest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct PushRequest {
    pub versions: Vec<WireVersion>,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PushResponse {
    pub applied: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    /// Versions the hub refused (invalid, not permitted to this clinic, stamped beyond the
    /// allowed clock skew): final; the clinic records them and does not send them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedVersion>,
}

/// A pushed version the hub refused, and why (Spanish and English).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefusedVersion {
    #[serde(rename = "t")]
    pub resource_type: String,
    #[serde(rename = "i")]
    pub id: String,
    #[serde(rename = "h")]
    pub hlc: i64,
    pub reason_es: String,
    pub reason_en: String,
}

/// `POST /sync/anchor`: signed heads of the sending node's audit chain, oldest first.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AnchorRequest {
    pub anchors: Vec<WireAnchor>,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnchorResponse {
    /// Anchors stored (already held ones are not counted).
    pub stored: u64,
}

/// One signed head of a node's audit chain (see `anchor.rs`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireAnchor {
    pub node: String,
    pub seq: u64,
    /// The chain hash at `seq`, lowercase hex.
    pub hash: String,
    /// When the node signed it (its clock), epoch milliseconds.
    pub at_ms: i64,
    /// The node's Ed25519 public key, base64url.
    pub key: String,
    /// Ed25519 signature of `auth::audit::anchor_message`, base64url.
    pub sig: String,
}

/// `POST /sync/pull`: the changes the node should have after `cursor` (a hub `change_seq`).
#[derive(Debug, Serialize, Deserialize)]
pub struct PullRequest {
    pub cursor: i64,
    pub entries_max: usize,
    pub bytes_max: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PullResponse {
    pub versions: Vec<WireVersion>,
    /// Where the next pull starts; saved with the applied versions in one transaction.
    pub next_cursor: i64,
    /// More changes wait after `next_cursor`.
    pub more: bool,
}

/// `POST /sync/fetch`: a patient's national record, found by CURP or id; the node follows
/// the patient from then on.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FetchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FetchResponse {
    pub patients: Vec<String>,
    pub versions: Vec<WireVersion>,
}

/// Errors decoding a body.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is not valid zstd: {0}")]
    Compression(String),
    #[error("the body is larger than {DECODED_BYTES_MAX} bytes once decompressed")]
    TooLarge,
    #[error("the body is not a valid message: {0}")]
    Json(String),
}

/// JSON, then zstd.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    // Serialising plain structs of strings and numbers cannot fail; an empty body would be
    // refused by the receiver as not valid zstd, never misread.
    let json = serde_json::to_vec(message).unwrap_or_default();
    zstd::bulk::compress(&json, ZSTD_LEVEL).unwrap_or_default()
}

/// zstd, then JSON, refusing bodies that decompress beyond [`DECODED_BYTES_MAX`].
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let decoder = zstd::stream::read::Decoder::new(bytes)
        .map_err(|err| DecodeError::Compression(err.to_string()))?;
    let mut json = Vec::new();
    decoder
        .take(DECODED_BYTES_MAX + 1)
        .read_to_end(&mut json)
        .map_err(|err| DecodeError::Compression(err.to_string()))?;
    if json.len() as u64 > DECODED_BYTES_MAX {
        return Err(DecodeError::TooLarge);
    }
    serde_json::from_slice(&json).map_err(|err| DecodeError::Json(err.to_string()))
}

/// How many of `sizes` (in order) fit a batch of `entries_max` and `bytes_max`. The first
/// always fits, so one oversized version still moves.
pub fn batch_len(
    sizes: impl IntoIterator<Item = usize>,
    entries_max: usize,
    bytes_max: usize,
) -> usize {
    let mut taken = 0;
    let mut bytes = 0usize;
    for size in sizes {
        if taken >= entries_max || (taken > 0 && bytes + size > bytes_max) {
            break;
        }
        bytes += size;
        taken += 1;
    }
    taken
}

/// Retry delay after `attempt` consecutive failures: exponential from `base_ms`, capped at
/// `max_ms`, with "equal jitter" (half fixed, half random from `jitter_01` in [0, 1)) so
/// clinics that lost the hub together do not all come back in the same second.
pub fn backoff_ms(attempt: u32, base_ms: u64, max_ms: u64, jitter_01: f64) -> u64 {
    let ceiling = base_ms.saturating_mul(1u64 << attempt.min(30)).min(max_ms);
    let half = ceiling / 2;
    half + (half as f64 * jitter_01.clamp(0.0, 1.0)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_compressed() {
        let body =
            RawValue::from_string(r#"{"resourceType":"Patient","id":"p1"}"#.to_string()).unwrap();
        let request = PushRequest {
            versions: vec![WireVersion {
                resource_type: "Patient".into(),
                id: "p1".into(),
                hlc: 42 << 16,
                origin: "DFSSA000001".into(),
                parent_hlc: None,
                parent_origin: None,
                last_updated_ms: 42,
                body: Some(body),
            }],
        };
        let bytes = encode(&request);
        let back: PushRequest = decode(&bytes).unwrap();
        assert_eq!(back.versions[0].stamp(), request.versions[0].stamp());
        assert_eq!(
            back.versions[0].body.as_ref().unwrap().get(),
            r#"{"resourceType":"Patient","id":"p1"}"#
        );
        assert!(decode::<PushRequest>(b"not zstd").is_err());
    }

    #[test]
    fn batches_respect_both_limits_and_always_move_one() {
        assert_eq!(batch_len([10, 10, 10], 2, 1000), 2);
        assert_eq!(batch_len([10, 10, 10], 10, 25), 2);
        assert_eq!(batch_len([5000, 10], 10, 100), 1);
        assert_eq!(batch_len([], 10, 100), 0);
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        assert_eq!(backoff_ms(0, 500, 60_000, 0.0), 250);
        assert_eq!(backoff_ms(3, 500, 60_000, 0.0), 2_000);
        assert_eq!(backoff_ms(3, 500, 60_000, 0.999), 3_998);
        assert_eq!(backoff_ms(40, 500, 60_000, 0.0), 30_000);
        assert!(backoff_ms(40, 500, 60_000, 0.5) <= 60_000);
    }
}
