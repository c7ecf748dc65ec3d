//! What the record layer tells the operator's metrics (`/metrics`): how long store writes
//! take and how many read audit entries wait to be written. The HTTP layer registers these
//! with its own (`rest::observe`); nothing here names a patient or a resource.

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// The record layer's live figures. Cheap to update (atomics); cloned handles share them.
#[derive(Debug, Clone)]
pub struct EhrMetrics {
    /// Seconds from handing a write job to the store until it is committed (or failed):
    /// queueing behind other writes, the job itself and the durable commit.
    pub store_write_seconds: Histogram,
    /// Read audit entries handed to the audit sink and not yet written (a growing figure
    /// means the trail is falling behind the reads).
    pub audit_backlog: Gauge,
}

impl Default for EhrMetrics {
    fn default() -> Self {
        EhrMetrics {
            // 0.25 ms to ~4 s: a clinic's commit is a few ms; a hub's under load, more.
            store_write_seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
            audit_backlog: Gauge::default(),
        }
    }
}
