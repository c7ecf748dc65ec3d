//! Integration tests of the generator: determinism, CURPs recomputed independently, prevalences and
//! vaccination coverage within the documented targets, referential integrity, unique ids, file order.
//!
//! One population of 2,000 patients is generated once per test process (see [`dataset`]) and shared by
//! the tests that only read it; determinism and mode tests generate their own small populations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod curp_ref;
mod dataset;
mod determinism;
mod integrity;
mod realism;
