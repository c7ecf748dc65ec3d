//! Integration tests of the `fhir` crate: R4 validation against real third-party data
//! (Synthea, the official HL7 R4 examples) and a data-driven table of invalid inputs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod invalid;
mod perf;
