//! FHIR R4 search: which parameters exist, what to index when a resource is written, and what
//! a search URL means.
//!
//! Key decision: this crate decides all R4 search semantics and knows no SQL. At write time
//! [`extract`] turns a resource into normalised index rows (folded strings, UTC millisecond
//! ranges for dates, implicit-precision ranges for numbers, split references). At read time
//! [`parse`] turns the URL parameters into a [`SearchQuery`] whose clauses are plain column
//! comparisons over those rows, so the SQLite and PostgreSQL stores only render SQL and can
//! never disagree on what `ge2020` or `:missing` means.
//!
//! The parameters come from the official R4 definitions, compiled by
//! `cargo run -p xtask -- search-defs` into `data/r4-search-params.json` (see its README for
//! coverage); nothing is written per resource type by hand. No I/O, no clock: `parse` takes
//! `now_ms` for the `ap` prefix.

mod datetime;
mod decimal;
mod extract;
mod normalize;
mod parse;
mod program;
mod query;
mod registry;
mod restriction;

pub use datetime::{DATE_MAX_MS, DATE_MIN_MS, date_range};
pub use decimal::decimal_range;
pub use extract::{IndexEntry, IndexValue, ParamId, extract, patient_compartment};
pub use normalize::normalize_string;
pub use parse::{CHAIN_DEPTH_MAX, VALUES_PER_PARAM_MAX, parse};
pub use query::{
    Chain, Clause, Cmp, Col, Filter, Handling, Has, Include, Op, Predicate, SearchQuery, SortBy,
    SortKey, Summary, Total, Value,
};
pub use registry::{
    ParamKind, Prefix, Registry, RegistryError, SearchParam, StoredAs, UnsupportedParam, registry,
};
pub use restriction::{RestrictionError, matches_restriction};
