//! The subscription delivery queue: what `ehr`'s notifications need from a store, kept apart
//! from the clinical `Store` trait (like `sync`).
//!
//! Key decision: a delivery is a narrow row (subscription, resource, version, attempts, when
//! next), not a resource: it is written once per matching write and deleted once delivered,
//! and it must survive a restart, so it lives in the database beside the record, on every
//! engine. Rows are claimed with a lease (their next attempt moved past the lease) so that a
//! worker never hands the same delivery out twice while it is in flight; a worker that dies
//! mid-delivery leaves the row to be claimed again when the lease ends (at-least-once).

use crate::Error;

/// A delivery to queue: `resource_type/resource_id` at `version_id` changed, and
/// `subscription_id` may want to hear of it (the criteria are evaluated when it is delivered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    pub subscription_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub version_id: u64,
    /// When the write committed (epoch ms): the first attempt is due then.
    pub queued_ms: i64,
}

/// A queued delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The queue's own key (increasing in queue order).
    pub seq: i64,
    pub subscription_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub version_id: u64,
    pub queued_ms: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When it may be attempted (next), epoch ms.
    pub next_attempt_ms: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The queue's operations. Each one is its own short transaction.
pub trait NotifyStore: Send + Sync {
    fn enqueue(&self, deliveries: &[NewDelivery]) -> Result<(), Error>;
    /// The deliveries due at `now_ms` (oldest first, at most `limit`), each leased until
    /// `lease_until_ms` (its next attempt is moved there in the same transaction).
    fn claim_due(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, Error>;
    /// Removes a delivery (done, or dropped).
    fn finish(&self, seq: i64) -> Result<(), Error>;
    /// Records a failed attempt: `attempts` failures so far, next attempt at `next_attempt_ms`.
    fn retry_later(
        &self,
        seq: i64,
        attempts: u32,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), Error>;
    /// Removes every queued delivery of a subscription (it was switched off or failed).
    fn drop_subscription(&self, subscription_id: &str) -> Result<u64, Error>;
    /// Every queued delivery, oldest first, at most `limit` (operators, tests).
    fn queued(&self, limit: usize) -> Result<Vec<Delivery>, Error>;
}
