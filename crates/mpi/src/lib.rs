//! Matching engine of the master patient index (MPI): decides whether two patient registrations are the
//! same person.
//!
//! **Key design decision: pure and explainable.** Everything here is a deterministic function of its inputs —
//! no I/O, no clock, randomness only from a caller-provided seeded RNG — so the hub, the clinic nodes and the
//! tests get identical answers, and every decision comes with per-field reasons in Spanish and English for
//! the reviewer. Storage of links, the review queue and merges live elsewhere.
//!
//! Pipeline:
//! 1. [`PersonRecord`] — flat registration, read from an R4 `Patient` by [`PersonRecord::from_patient_json`].
//! 2. [`PreparedRecord`] — normalised once: accents/case folded (Ñ→N), punctuation removed, particles
//!    (DE, DEL, LA, LOS, Y, MC, VAN …) dropped, abbreviations expanded (MA.→MARÍA, J.→JOSÉ, GPE→GUADALUPE,
//!    FCO→FRANCISCO, HDZ→HERNÁNDEZ …), both surnames split out of one field, states mapped to CURP codes,
//!    phones cut to 10 digits; plus the [`spanish_phonetic`] key of every name.
//! 3. [`blocking_keys`] / [`BlockIndex`] — which pairs are compared at all (see [`blocking`] for the keys
//!    and why they reach the recall target).
//! 4. [`compare()`] — Fellegi–Sunter score and [`MatchGrade`].
//!
//! # Weights
//!
//! For each field, `m` = P(level | same person), `u` = P(level | different people); weight = log2(m/u)
//! bits. A missing value (in either record) weighs 0: a second surname that was not captured is not
//! evidence against. The `u` values are population frequencies (how often two random Mexicans agree by
//! chance); the `m` values are the reliability of hand-keyed registration (see [`ErrorRates`]). Both are
//! priors to be re-estimated by EM on the hub's review decisions.
//!
//! | field | level | m | u | weight | justification |
//! |---|---|---|---|---:|---|
//! | CURP | agree (identical) | 0.96 | 1e-7 | +23.19 | RENAPO issues one CURP per person; duplicates issued in error are rare |
//! | CURP | one keying error | 0.03 | 1e-5 | +11.55 | copying 18 characters by hand; two people's CURPs one character apart need the same initials *and* date |
//! | CURP | disagree | 0.01 | ≈1 | −6.64 | CURP changed (gender identity, corrections) or a relative's CURP captured |
//! | Given names | agree | 0.86 | 0.01 | +6.43 | given-name frequencies: the commonest (MARÍA GUADALUPE, JOSÉ LUIS, JUAN) are ~1–2 % |
//! | Given names | phonetic | 0.03 | 0.002 | +3.91 | spelling variants (Ximena/Jimena) |
//! | Given names | typo | 0.05 | 0.005 | +3.32 | one edit, names of 4+ letters |
//! | Given names | compound | 0.03 | 0.01 | +1.58 | "MARÍA GUADALUPE"/"GUADALUPE": weak, sisters share first names |
//! | Given names | nickname | 0.01 | 0.001 | +3.32 | LUPITA/GUADALUPE, PEPE/JOSÉ |
//! | Given names | disagree | 0.02 | 0.972 | −5.60 | |
//! | First surname | agree | 0.88 | 0.007 | +6.97 | Σ p² of Mexican surname frequencies (Hernández ≈ 4 %, García ≈ 3 % …) ≈ 0.007 |
//! | First surname | phonetic | 0.03 | 0.002 | +3.91 | Vásquez/Vazquez, Ibáñez/Ivanez |
//! | First surname | typo | 0.05 | 0.006 | +3.06 | includes Hernández/Fernández: a one-letter typo is indistinguishable from a different surname |
//! | First surname | compound | 0.02 | 0.002 | +3.32 | "PONCE" / "PONCE DE LEÓN" |
//! | First surname | disagree | 0.02 | 0.983 | −5.62 | |
//! | Second surname | agree | 0.86 | 0.007 | +6.94 | as first surname, slightly less reliable |
//! | Second surname | phonetic / typo / compound | as first surname | | | |
//! | Second surname | disagree | 0.04 | 0.983 | −4.62 | more often mis-keyed or replaced (e.g. by the stepfather's surname) |
//! | Birth date | agree | 0.92 | 4e-5 | +14.49 | ≈ 1 / (365 × 70 birth years) |
//! | Birth date | near | 0.06 | 0.002 | +4.91 | day/month transposed, one digit, adjacent digits swapped, year ± 1 |
//! | Birth date | disagree | 0.02 | 0.998 | −5.64 | |
//! | Sex | agree | 0.98 | 0.5 | +0.97 | |
//! | Sex | disagree | 0.02 | 0.5 | −4.64 | keying error |
//! | Birth state | agree | 0.96 | 0.07 | +3.78 | Σ p² of state populations ≈ 0.07 (Estado de México 13 %, CDMX 7 % …) |
//! | Birth state | disagree | 0.04 | 0.93 | −4.54 | |
//! | Address state | agree | 0.88 | 0.07 | +3.65 | people move (≈ 12 % between registrations) |
//! | Address state | disagree | 0.12 | 0.93 | −2.95 | |
//! | Phone | agree | 0.55 | 0.01 | +5.78 | numbers change; `u` is high because households share one phone |
//! | Phone | one digit | 0.02 | 0.001 | +4.32 | |
//! | Phone | disagree | 0.43 | 0.989 | −1.20 | |
//!
//! Names are also compared in swapped alignments (surnames inverted: −3 bits; given name in the surname
//! field: −4 bits) and the best alignment is kept.
//!
//! # Grades
//!
//! * **Certain**: identical valid CURPs (unless everything else contradicts, score < −10 without the CURP);
//!   or score ≥ 30 with an exact birth date (or a CURP one keying error apart) *and* given names agreeing
//!   exactly or phonetically.
//! * **Probable**: score ≥ 22. **Possible**: score ≥ 18. **NoMatch** below.
//! * Caps at **Possible** (the Fellegi–Sunter independence assumption fails for relatives): two different
//!   valid CURPs; birth dates that disagree (father and son with the same name); given names that disagree,
//!   or do not fully agree while the sex differs (twins, siblings).
//!
//! A perfect registration without CURP or phone scores ≈ 43; a duplicate with a surname typo and a dropped
//! second surname ≈ 32; siblings sharing surnames, phone and state ≈ 17; father and son with the same full
//! name ≈ 29 (capped). Known limit: without CURP, two homonyms born the same day in the same state (JUAN HERNÁNDEZ
//! LÓPEZ exists ~1,700 times nationally) are indistinguishable and will score as certain — the CURP's
//! homoclave exists for exactly this reason.

pub mod blocking;
pub mod compare;
pub mod corrupt;
pub mod curp;
pub mod date;
mod error;
pub mod evaluate;
pub mod normalize;
pub mod phonetic;
pub mod record;
pub mod synthetic;

pub use blocking::{
    BLOCK_SIZE_MAX, BlockIndex, BlockStats, BlockingKey, BlockingKeyKind, blocking_keys,
};
pub use compare::{
    Field, FieldComparison, MatchGrade, MatchNote, MatchResult, Outcome, PreparedRecord, compare,
    compare_prepared, match_candidates,
};
pub use corrupt::{ErrorKind, ErrorRates, corrupt};
pub use error::Error;
pub use evaluate::{Report, TruePair, evaluate};
pub use phonetic::spanish_phonetic;
pub use record::{PersonRecord, Sex};
