//! Integration tests of the `mpi` crate: matching quality on synthetic households, properties of `compare`,
//! FHIR extraction end to end, and (ignored by default) the scale measurement.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod properties;
mod quality;
mod scale;
