//! Clinical safety data and pure checks for prescribing, vital signs and lab results.
//!
//! The web UI builds on this crate: the prescribing form calls [`checks::check_prescription`]
//! with the patient's `AllergyIntolerance` and `MedicationRequest` resources and shows every
//! [`checks::Finding`]; the vital-signs form calls [`vitals::check_vital`] and
//! [`vitals::check_blood_pressure`] on each value and [`vitals::bmi`]; the history shows
//! [`labs::read_observation`]'s flags. The crate's README documents the API and the sources.
//!
//! # Design
//!
//! * **Pure.** No I/O, no clock, no randomness; all data is compiled in. The caller passes the
//!   patient's age and weight.
//! * **Every rule has a source.** Each finding carries the source of its rule (a regulator's
//!   product information, a guideline or study, or "Expediente" when the rule is ours) and a
//!   stable code, so an override reason can be recorded against it.
//! * **Honest data.** The formulary marks which CNIS keys are unverified; the interaction table
//!   is a reviewed list of the pairs that matter most in primary care, not a full database, and
//!   the UI must not present the absence of a finding as proof of safety.
//! * **Lenient readers, strict checks.** FHIR input is read leniently (an old record without a
//!   status still counts), and the proposed prescription is validated strictly
//!   ([`checks::CheckError`]).

pub mod checks;
pub mod classes;
pub mod dose;
pub mod fhir_input;
pub mod formulary;
pub mod interactions;
pub mod labs;
pub mod studies;
pub mod vitals;

mod text;
