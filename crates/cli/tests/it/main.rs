//! End-to-end tests of the `expediente` binary through the doors users use: the CLI and HTTP.
//! Each test starts real node processes on loopback with a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod capability;
mod cluster;
mod crud;
mod durability;
mod errors;
mod export;
mod history;
mod identity;
mod import;
mod operations;
mod patch;
mod population;
mod referrals;
mod reports;
mod reports_quality;
mod scheduling;
mod search;
mod security;
mod security_doors;
mod security_sync;
mod security_web;
mod smart;
mod subscriptions;
mod summary;
mod sync;
mod transaction;
