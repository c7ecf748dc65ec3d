//! FHIR R4 at the level of data: the lossless JSON model, the R4 definitions, structural
//! validation, and the `Issue`s that become OperationOutcomes.
//!
//! Key decision: resources stay JSON (our own lossless tree, see [`json`]) rather than a typed
//! model of all ~150 R4 resource types. The server must store and return what the client sent,
//! byte-faithful in decimals and extensions, and validation is driven by the official R4
//! definitions (generated into data tables) instead of hand-written per-type code.
//! This crate does no I/O and never reads the clock.

pub mod defs;
pub mod issue;
pub mod json;
pub mod patch;
pub mod validate;

pub use issue::{Issue, IssueCode, Lang, Severity, operation_outcome};
pub use json::{Json, Object};
