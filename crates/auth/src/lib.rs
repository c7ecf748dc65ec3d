//! Access control for the record: who is asking ([`role::Principal`]), what their token allows
//! ([`scope`]), what their role allows ([`policy`]), what the patient allows ([`consent`]), the
//! emergency exception ([`break_glass`]), how they proved who they are ([`password`], [`token`],
//! the opaque web-session secrets of [`secret`], SMART App Launch's PKCE, refresh tokens and
//! backend-service assertions in [`smart`]), how guessing is slowed down ([`throttle`]),
//! and the tamper-evident trail of what they did ([`audit`]).
//!
//! # Key design decision: facts in, decision out
//! Every decision function is pure. The caller (the `ehr`/`rest` layers) computes the facts from the
//! store — the target's patient compartment, its security labels and category, whether the patient
//! is registered or has an encounter or appointment at the requester's facility, the patient's
//! Consents — and passes them in with the time. This crate therefore never reads the database or the
//! clock, the same rules apply identically to read, search results, `_include`, `$everything`,
//! history and export (each returned resource is one [`policy::decide`] call with
//! [`scope::Interaction::Read`]), and every rule is tested with plain values. The only I/O is
//! [`token::KeyStore::load_or_create`] (the signing key file); the only randomness is key generation,
//! [`password::new_salt`] and [`secret::random_secret`].
//!
//! # The role matrix
//! Letters are SMART v2 permissions: **c**reate, **r**ead, **u**pdate, **d**elete, **s**earch.
//! Categories group the R4 resource types ([`category`] has the full table and why each doubtful
//! type is where it is). The table is [`policy::MATRIX`]; a test checks that this copy matches.
//!
//! | role | demographic | scheduling | directory | clinical | privacy | audit | financial | knowledge | conformance | terminology | exchange |
//! |---|---|---|---|---|---|---|---|---|---|---|---|
//! | physician | crus | crus | rs | crus | crus | – | – | rs | rs | rs | – |
//! | nurse | rs | crus | rs | rs | rs | – | – | rs | rs | rs | – |
//! | receptionist | crus | crus | rs | – | – | – | – | – | rs | rs | – |
//! | epidemiologist | – | – | – | – | – | – | – | – | – | – | – |
//! | auditor | – | – | – | – | – | rs | – | – | – | – | – |
//! | steward | rus | – | rs | – | – | – | – | – | rs | rs | – |
//! | admin | – | – | cruds | – | – | – | – | cruds | cruds | cruds | cruds |
//! | patient | rs | crus | rs | rs | crus | rs | rs | rs | rs | rs | – |
//! | system | cruds | cruds | cruds | cruds | cruds | rs | cruds | cruds | cruds | cruds | cruds |
//!
//! On top of the table:
//! * **Nurses** additionally create and update `Immunization` and `Observation`s whose `category`
//!   includes `vital-signs`; no other clinical writes.
//! * **Nobody deletes patient data** through the API: corrections are new versions (NOM-004 keeps
//!   the record five years; NOM-024 requires inalterability). `AuditEvent` is never written through
//!   the API, not even by integrations: the server writes it.
//! * **Patients** see only their own compartment (including their own `AuditEvent`s, "who viewed
//!   my record"), and may create and update their own `Consent`s.
//! * **Physicians, nurses and receptionists** need a *care relationship* (the patient is
//!   registered, seen, booked, referred or taken into care at their CLUES; `ehr` computes it) for
//!   every patient-data category, except reading, searching and creating demographics (needed to
//!   find and register people; `V`-labelled ones excepted). No ordinary write creates a
//!   relationship for the writer's own facility: an explicit *inicio de atención* does
//!   ([`policy::CareEvent`]), and moving a registration is a *cambio de unidad*; both are audited
//!   and listed for review. Without a relationship, physicians and nurses may read under
//!   break-glass.
//! * **Identity stewards** read and correct demographics nationally and merge registrations
//!   of one person ([`policy::Operation::MergePatients`]); no clinical content.
//! * **Epidemiologists** have no direct record access; they use the de-identified aggregates
//!   endpoint ([`policy::Operation::ReadAggregates`]).
//! * **System** principals are bounded by this row and decided by their `system/` scopes; care
//!   relationship and consent do not apply to them (node sync must carry the whole record).
//! * Consent restricts staff reads and searches further ([`consent`]); break-glass overrides it.
//!
//! # Integration (for the `ehr`/`rest` layers)
//! 1. Authenticate: `Authorization: Bearer` → [`token::KeyStore::verify`] (revocation via a
//!    callback on the revoked-tokens table) → [`token::Claims::to_principal`] → check the account is
//!    enabled → add the user's active grants to [`role::Principal::break_glass`].
//! 2. Before each interaction: [`policy::decide`] with the target's facts; for searches, with no
//!    target patient, then again per result as a read (including `_include`/`_revinclude`,
//!    `$everything`, history entries and export lines). Totals and paging links must be computed
//!    after filtering.
//! 3. Record: an [`audit::AuditEntry`] per interaction, sealed with [`audit::Chain::append`] in the
//!    same transaction; `AuditEvent` reads serve [`audit::to_audit_event_json`].

pub mod audit;
pub mod break_glass;
pub mod category;
pub mod consent;
pub mod instant;
pub mod label;
pub mod password;
pub mod policy;
pub mod role;
pub mod scope;
pub mod secret;
pub mod smart;
pub mod systems;
pub mod throttle;
pub mod token;
