//! Mexican identifiers and catalogs: CURP, CLUES, cédula profesional, CIE-10, states, and the FHIR
//! system URIs for them.
//!
//! The API validates with it, the synthetic population generator derives valid CURPs with it, the patient
//! matcher compares names with CURPs through it, and the UI uses its per-position messages and its
//! CIE-10 search. The facts behind every rule are in `shared/domain/mexico.md`; each module cites the
//! section it implements.
//!
//! # Design
//!
//! * **Pure.** No I/O, no clock, no randomness: a future birth date is the caller's check, and the
//!   generator passes its own random numbers in ([`curp::derive`]'s homonym index,
//!   [`states::pick_by_population`]'s point). Nothing here panics on any input.
//! * **Parse at the edge, then trust the type.** Each identifier has a newtype ([`curp::Curp`],
//!   [`clues::Clues`], [`cedula::Cedula`], [`cie10::Cie10Code`]) that can only be built by validation;
//!   serde deserialisation validates too. Accessors on a valid value cannot fail.
//! * **Strict validation, explicit normalisation.** `validate*` functions accept exactly the canonical
//!   form (uppercase, no surrounding spaces). Forgiveness lives in separate `normalize*` functions
//!   (trim + uppercase; CIE-10 also converts DGIS `E119`/`I10X` to the dotted FHIR form), so the caller
//!   decides when typed input may be corrected.
//! * **Errors say where and why, in two languages.** Error enums carry the 1-based position and the
//!   expected character class; every error has `message_es()` (es-MX, for clinicians and receptionists)
//!   and `message_en()` (= `Display`, for logs). [`curp::validate_all`] reports every problem at once and
//!   treats a correct prefix as merely incomplete, so it can run on each keystroke.
//! * **Derivation is not assignment.** NOM-024 forbids the record from assigning CURPs. The RENAPO rules
//!   are implemented ([`curp::derive`]) only to produce test populations, to show "the CURP these data
//!   imply" as a hint, and to *warn* when names disagree with a CURP ([`curp::name_agreement`]).
//! * **Catalogs are small and honest about their sources.** [`states`] is complete (INEGI census 2020).
//!   [`clues::INSTITUTIONS`] marks which codes were seen in DGIS data and which are assumptions.
//!   [`cie10::CATALOG`] is a primary-care subset for search; DGIS's catalogs remain the authority and must
//!   be loaded (and versioned) by the system for acceptance decisions.
//!
//! # What the CURP check digit cannot catch
//!
//! A weighted sum mod 10 over 37 symbols cannot detect every single-character substitution: position 9
//! has weight 10, and even weights or weight 5 hide value differences of 5 or 2. Combined with the
//! per-position rules, the exact set of substitutions that still give a valid CURP is listed in the
//! [`curp`] module docs (e.g. H ↔ M in the sex position, E ↔ X in position 2, the tens of the day), and
//! the integration tests assert that set exhaustively. Matching and deduplication must therefore never
//! treat "valid CURP" as "correctly typed CURP".

pub mod cedula;
pub mod cie10;
pub mod clues;
pub mod curp;
pub mod naming;
pub mod states;
pub mod surveillance;
pub mod systems;
pub mod vaccines;

mod text;

pub use text::search_fold;
