//! Integration tests of the `search` crate: registry, extraction on Synthea fixtures, value
//! ranges, R4 prefix semantics (through a small in-memory predicate evaluator) and parsing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod eval;
mod extract;
mod fixtures;
mod parse;
mod ranges;
mod registry;
mod semantics;
