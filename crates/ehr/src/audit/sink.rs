//! The audit sink: read entries appended off the request path, in batches.
//!
//! Writes append their audit entry in the same store transaction as the change. Reads cannot
//! wait for a disk flush without multiplying their cost, so their entries go to the
//! [`AuditSink`], a thread that sleeps through a 25 ms window and then appends everything
//! that arrived in one transaction. Waking it for each read cost more than the read itself
//! (measured: 3.8–6.3 µs of CPU added per read with a wake-up each, 1.5–2.1 µs with the
//! window). A crash can lose the last 25 ms of read entries; never a write's entry.

use std::collections::HashMap;
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use auth::audit::{AuditAction, AuditEntry, Outcome};
use prometheus_client::metrics::gauge::Gauge;
use store::SharedStore;

/// Appends read audit entries off the request path, in batches.
pub(crate) struct AuditSink {
    sender: Mutex<Option<mpsc::Sender<SinkMessage>>>,
    /// Entries sent and not yet written (the operator's `/metrics`).
    backlog: Gauge,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

enum SinkMessage {
    Entry(Box<AuditEntry>),
    Flush(mpsc::SyncSender<()>),
}

/// Entries appended in one transaction at most.
const SINK_BATCH_MAX: usize = 20_000;

/// How long the sink gathers read entries before writing them: the most a crash can lose of
/// the trail of reads (writes' entries are in their own transactions).
const SINK_WINDOW: Duration = Duration::from_millis(25);

impl AuditSink {
    pub(crate) fn start(store: SharedStore, backlog: Gauge) -> AuditSink {
        let (sender, receiver) = mpsc::channel::<SinkMessage>();
        let sink_backlog = backlog.clone();
        let thread = std::thread::Builder::new()
            .name("audit-sink".into())
            .spawn(move || sink_loop(store, receiver, sink_backlog))
            .ok();
        AuditSink {
            sender: Mutex::new(Some(sender)),
            backlog,
            thread: Mutex::new(thread),
        }
    }

    pub(crate) fn send(&self, entry: AuditEntry) {
        let guard = self
            .sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_ref() {
            Some(sender) => {
                self.backlog.inc();
                if sender.send(SinkMessage::Entry(Box::new(entry))).is_err() {
                    self.backlog.dec();
                    tracing::error!("the audit sink has stopped; an audit entry was not recorded");
                }
            }
            None => tracing::error!("the audit sink is closed; an audit entry was not recorded"),
        }
    }

    /// Waits until every entry sent before this call is durable.
    pub(crate) fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        {
            let guard = self
                .sender
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(sender) = guard.as_ref() else { return };
            if sender.send(SinkMessage::Flush(done)).is_err() {
                return;
            }
        }
        let _ = wait.recv_timeout(Duration::from_secs(60));
    }

    /// Flushes and stops the thread (shutdown).
    pub(crate) fn close(&self) {
        self.flush();
        self.sender
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(handle) = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            let _ = handle.join();
        }
    }
}

fn sink_loop(store: SharedStore, receiver: mpsc::Receiver<SinkMessage>, backlog: Gauge) {
    // Whether the last batch left entries queued: then the sink writes on without waiting, or
    // reads arriving faster than one batch per window would pile up in memory.
    let mut behind = false;
    while let Ok(first) = receiver.recv() {
        let mut entries = Vec::new();
        let mut flushes = Vec::new();
        // Entries arriving within a short window are written together: one transaction, one
        // WAL sync and one wake-up of this thread for many reads, instead of one per read.
        // The thread sleeps through the window rather than waking for each entry (a timed
        // receive would wake it per entry, which is the cost being avoided); a flush that
        // arrives first skips the wait.
        match first {
            SinkMessage::Entry(entry) => {
                entries.push(*entry);
                if !behind {
                    std::thread::sleep(SINK_WINDOW);
                }
            }
            SinkMessage::Flush(done) => flushes.push(done),
        }
        behind = true;
        while entries.len() < SINK_BATCH_MAX {
            match receiver.try_recv() {
                Ok(SinkMessage::Entry(entry)) => entries.push(*entry),
                Ok(SinkMessage::Flush(done)) => flushes.push(done),
                Err(_) => {
                    behind = false;
                    break;
                }
            }
        }
        if !entries.is_empty() {
            let received = i64::try_from(entries.len()).unwrap_or(i64::MAX);
            let entries = coalesce_reads(entries);
            let count = entries.len();
            write_batch(store.as_ref(), entries, count);
            backlog.dec_by(received);
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Attempts at one batch before its entries are given up (logged), and the pause after the
/// first failure (doubling, up to [`RETRY_PAUSE_MAX`]): about a minute in all, what a database
/// restart or failover takes, during which the records being read are not served anyway.
const WRITE_ATTEMPTS: u32 = 30;
const RETRY_PAUSE_FIRST: Duration = Duration::from_millis(50);
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(2);

/// Writes one batch, again after a failure: an access must leave its entry (NOM-024) even when
/// the database restarted under the write. A write whose COMMIT got no answer may have
/// landed, so a retry can record the same reads twice; twice is kept rather than never.
fn write_batch(store: &dyn store::Store, entries: Vec<AuditEntry>, count: usize) {
    let mut pause = RETRY_PAUSE_FIRST;
    for attempt in 1..=WRITE_ATTEMPTS {
        // The job may run again after a retry: it appends a copy each time it runs.
        let batch = entries.clone();
        let written = store.write(Box::new(move |tx| tx.append_audit_batch(batch.clone())));
        match written {
            Ok(()) => return,
            Err(err) if attempt == WRITE_ATTEMPTS => {
                tracing::error!(error = %err, count, attempt, "audit entries could not be recorded");
            }
            Err(err) => {
                tracing::warn!(error = %err, count, attempt, "audit entries not recorded yet; retrying");
                std::thread::sleep(pause);
                pause = (pause * 2).min(RETRY_PAUSE_MAX);
            }
        }
    }
}

/// Resources listed at most in one coalesced read entry.
const COALESCED_READS_MAX: usize = 100;

/// Folds the successful reads of one patient's record by one user, arriving together (in one
/// sink batch, i.e. within milliseconds), into one entry that lists every resource read. Reads
/// that name no patient (directories, and system accounts, which are not attributed) fold per
/// user the same way.
/// Every read stays recorded — which resources, by whom, when — in a fraction of the rows:
/// one chart opened is one access event, as a patient reading their log expects, and the
/// trail's cost per read stays small.
fn coalesce_reads(entries: Vec<AuditEntry>) -> Vec<AuditEntry> {
    let mut out: Vec<AuditEntry> = Vec::with_capacity(entries.len());
    // (user, patient, break-glass, address) → (index in `out`, resources listed).
    type ReadKey = (String, Option<String>, bool, Option<String>);
    let mut open: HashMap<ReadKey, (usize, usize)> = HashMap::new();
    for entry in entries {
        let foldable = matches!(entry.action, AuditAction::Read | AuditAction::Vread)
            && entry.outcome == Outcome::Success
            && entry.details.is_empty();
        if !foldable {
            out.push(entry);
            continue;
        }
        let key = (
            entry.user.clone(),
            entry.patient_id.clone(),
            entry.break_glass,
            entry.source_ip.clone(),
        );
        let target = entry
            .resource_type
            .as_deref()
            .zip(entry.resource_id.as_deref())
            .map(|(t, id)| format!("{t}/{id}"))
            .unwrap_or_default();
        match open.get_mut(&key) {
            Some((idx, listed))
                if *listed < COALESCED_READS_MAX
                    && out
                        .get(*idx)
                        .is_some_and(|e| e.role == entry.role && e.clues == entry.clues) =>
            {
                if let Some(first) = out.get_mut(*idx) {
                    first.details.push_str(", ");
                    first.details.push_str(&target);
                    *listed += 1;
                }
            }
            _ => {
                let mut first = entry;
                first.details = format!("lecturas: {target}");
                open.insert(key, (out.len(), 1));
                out.push(first);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth::role::Role;

    fn read_entry(user: &str, patient: &str, id: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at_ms: 1,
            node: "n".into(),
            user: user.into(),
            user_display: String::new(),
            role: Some(Role::Physician),
            clues: Some("DFSSA001234".into()),
            facility_name: None,
            action: AuditAction::Read,
            resource_type: Some("Observation".into()),
            resource_id: Some(id.into()),
            patient_id: Some(patient.into()),
            outcome: Outcome::Success,
            break_glass: false,
            source_ip: None,
            details: String::new(),
        }
    }

    /// Reads of one patient by one user fold into one entry listing every resource; other
    /// users, patients and non-read actions stay apart, and nothing read is dropped.
    #[test]
    fn reads_arriving_together_fold_per_user_and_patient() {
        let mut search = read_entry("a", "p1", "x");
        search.action = AuditAction::Search;
        let entries = vec![
            read_entry("a", "p1", "o1"),
            read_entry("a", "p1", "o2"),
            read_entry("b", "p1", "o3"),
            search,
            read_entry("a", "p2", "o4"),
            read_entry("a", "p1", "o5"),
        ];
        let folded = coalesce_reads(entries);
        assert_eq!(folded.len(), 4);
        assert_eq!(
            folded[0].details,
            "lecturas: Observation/o1, Observation/o2, Observation/o5"
        );
        assert_eq!(folded[1].details, "lecturas: Observation/o3");
        assert_eq!(folded[2].action, AuditAction::Search);
        assert_eq!(folded[3].patient_id.as_deref(), Some("p2"));
        let listed: usize = folded
            .iter()
            .map(|e| e.details.matches("Observation/").count())
            .sum();
        assert_eq!(listed, 5);
    }

    /// Reads that name no patient fold per user too (a system account's reads, directories).
    #[test]
    fn reads_without_a_patient_fold_per_user() {
        let unattributed = |user: &str, id: &str| {
            let mut entry = read_entry(user, "-", id);
            entry.patient_id = None;
            entry
        };
        let folded = coalesce_reads(vec![
            unattributed("sistema", "o1"),
            unattributed("sistema", "o2"),
            unattributed("otro", "o3"),
            read_entry("sistema", "p1", "o4"),
        ]);
        assert_eq!(folded.len(), 3);
        assert_eq!(
            folded[0].details,
            "lecturas: Observation/o1, Observation/o2"
        );
        assert_eq!(folded[1].details, "lecturas: Observation/o3");
        assert_eq!(folded[2].patient_id.as_deref(), Some("p1"));
    }
}
