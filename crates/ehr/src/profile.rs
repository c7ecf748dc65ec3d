//! The Mexican profile on top of R4 (issue 3 fills this in): rules checked on every write of
//! a resource, after R4 structural validation.

use fhir::{Issue, Json};
use store::WriteTx;

use crate::Error;

/// Rules that need only the resource itself (CURP format, CURP vs birthDate/gender, CLUES,
/// cédula…). Errors make the write fail with 422; warnings are returned to the client.
pub(crate) fn check(_resource_type: &str, _resource: &Json) -> Vec<Issue> {
    Vec::new()
}

/// Rules that need the store, run inside the write transaction (e.g. two active patients may
/// not share a CURP). `id` is the id the resource will have.
pub(crate) fn check_in_tx(
    _tx: &mut dyn WriteTx,
    _resource_type: &str,
    _resource: &Json,
    _id: &str,
) -> Result<Vec<Issue>, Error> {
    Ok(Vec::new())
}
