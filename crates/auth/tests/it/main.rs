//! Integration tests of the `auth` crate: the key files on disk, AuditEvents checked by the R4
//! validator of the `fhir` crate, and one request's path from token to decision to audit entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_event;
mod flow;
mod key_store;
