//! Sync driven in one process: a hub and clinic stores, a fake clock with skew per node, and a
//! seeded schedule of writes, pushes, pulls and fetches with lost, repeated and stale messages
//! (TigerBeetle's simulator, scaled down). Any failing seed replays exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hlc;
mod simulate;
