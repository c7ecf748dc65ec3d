//! Offline-first sync between clinic nodes and the national hub.
//!
//! Key decisions (the protocol is documented in ARCHITECTURE.md, "Sync"):
//! - A clinic reads and writes only its own store; a background task pushes its versions to
//!   the hub and pulls what it needs. Nothing a clinician does waits on the network.
//! - Every version carries a stamp (hybrid logical clock, node id), given by the store in the
//!   write transaction. The stamp is a version's identity across nodes; `meta.versionId` stays
//!   each node's own number. The current version of a resource is, on every node, the version
//!   with the greatest stamp among those the node holds, so nodes that hold the same versions
//!   agree, whatever order they received them in (`rule.rs`).
//! - Cursors are `change_seq` positions, saved in the same transaction as what they cover, so
//!   sync resumes after any crash; receiving a version twice changes nothing.
//! - The hub serves each clinic a feed: reference data plus every change to the patients the
//!   clinic follows (registered or seen there, or fetched on demand).
//! - The hub trusts no clinic blindly: every pushed version is bounded in time (`bounds.rs`)
//!   and decided by `ehr`'s guard as that clinic's staff would be (`ingest.rs`); refusals are
//!   per version, final, and recorded on the clinic for its operator.
//! - Clinics sign the head of their audit chain with the node key and ship it to the hub
//!   (`anchor.rs`), so a trail cut or rewritten later is detected against the hub's copy.
//!
//! `hlc`, `rule`, `bounds` and `wire` are pure. `apply`, `ingest`, `anchor` and `hub` work on a
//! store; `clinic` and `http` are the edges (HTTP client and server, the clock, randomness for jitter).

pub mod anchor;
pub mod apply;
pub mod bounds;
pub mod clinic;
pub mod credential;
pub mod double_booking;
mod error;
pub mod hlc;
pub mod http;
pub mod hub;
mod ingest;
pub mod referral;
pub mod rule;
pub mod wire;

pub use error::Error;
