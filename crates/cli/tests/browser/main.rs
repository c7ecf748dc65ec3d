//! End-to-end tests of the clinician's web UI in a real headless Chromium (issue 7).
//!
//! Each test starts the real `expediente` binary over a copy of a demo data directory (with
//! the demo accounts enabled) and drives Chromium through the system `chromedriver`. They are
//! a separate test binary so `cargo test -p cli --test it` stays browser-free; they never skip:
//! without `chromium` and `chromium-driver` (Debian packages) they fail and say so.
//! Every test saves a screenshot under `target/browser-screenshots/` as an artifact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod a11y;
mod census;
mod chronic;
mod coverage;
mod demand;
mod flows;
mod forms;
mod history;
mod hub;
mod note;
mod prescribing;
mod record;
mod referrals;
mod roles;
mod security;
mod surveillance;
mod waits;
mod weight;
