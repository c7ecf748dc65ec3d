//! Reads by id that arrive together go to PostgreSQL together.
//!
//! Why: a read by id is one index lookup, cheap next to what carrying it costs: a round trip,
//! a protocol exchange and a wake-up on each side. Under load (many clinicians opening
//! charts at once) each of those was paid per read, and on the hub's measured machine it was
//! most of the time. Here the first read to arrive leads: it takes every read waiting at
//! that moment and sends them as one statement; reads that arrive while it is out wait for
//! the next leader. A read alone is sent at once, so an idle hub answers as fast as before.
//!
//! Freshness is unchanged: a read is sent in a statement that starts after it arrived, so it
//! sees every write acknowledged before it was asked (READ COMMITTED takes the snapshot when
//! the statement starts).

use std::sync::{Arc, Condvar, Mutex, PoisonError};

use store::{Error, StoredResource};

use crate::lock;

/// Statements out at once. Two keep both of a small server's cores busy while one is on the
/// wire; more would only split the same reads into smaller statements.
const LEADERS_MAX: usize = 2;

/// Reads sent in one statement at most: the statement's slots (see [`current_by_ids`]).
pub(crate) const BATCH_MAX: usize = 16;

/// The current version of up to [`BATCH_MAX`] resources in one statement: `$2k+1`/`$2k+2`
/// are the type and id of the read in slot `k` (from 0), and each row found starts with its
/// slot. Unused slots hold `''`, which no resource has.
///
/// Why fixed slots of scalars rather than two arrays: PostgreSQL re-plans a statement whose
/// parameters are arrays on every run (its generic plan guesses a hundred elements, so it
/// always looks worse than a plan for the few actually sent), and planning this join costs
/// several times the lookups (measured with `perf` on the hub: join-selectivity estimation
/// was the top of the profile). Scalars give the same plan whatever the values, kept
/// once per connection (`pool::open`). Each slot is looked up on its own (`LATERAL … LIMIT 1`), so the
/// plan is index lookups whatever it estimates.
pub(crate) fn current_by_ids() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let slots: Vec<String> = (0..BATCH_MAX)
            .map(|k| format!("({k}, ${}::text, ${}::text)", 2 * k + 1, 2 * k + 2))
            .collect();
        format!(
            "SELECT s.slot, x.* FROM (VALUES {}) AS s(slot, t, i) \
             CROSS JOIN LATERAL (SELECT r.resource_type, r.id, r.version_id, r.last_updated, \
             r.last_updated_ms, r.deleted, r.change_seq, r.body \
             FROM resource_locator l JOIN resource r ON r.patient_key = l.patient_key AND r.rkey = l.rkey \
             WHERE l.id = s.i AND l.resource_type = s.t LIMIT 1) x",
            slots.join(", ")
        )
    })
}

type Answer = Result<Option<StoredResource>, Error>;

/// One read's own place to wait: a batch wakes exactly the reads it answered (one shared
/// condition variable woke every waiting read per batch, most only to sleep again: ~8
/// context switches per read, measured with `perf stat`).
#[derive(Default)]
struct Waiter {
    turn: Mutex<Turn>,
    changed: Condvar,
}

#[derive(Default)]
struct Turn {
    /// Chosen to send the next batch (see [`Coalescer::lead`]).
    lead: bool,
    answer: Option<Answer>,
}

impl Waiter {
    fn update(&self, f: impl FnOnce(&mut Turn)) {
        f(&mut lock(&self.turn));
        self.changed.notify_one();
    }
}

struct Entry {
    waiter: Arc<Waiter>,
    resource_type: String,
    id: String,
    /// Already chosen to lead (a read is chosen at most once).
    chosen: bool,
}

#[derive(Default)]
struct State {
    waiting: Vec<Entry>,
    /// Reads leading or chosen to lead, at most [`LEADERS_MAX`].
    leaders: usize,
}

#[derive(Default)]
pub(crate) struct Coalescer {
    state: Mutex<State>,
}

type SendBatch<'a> = dyn Fn(&[(String, String)]) -> Result<Vec<Option<StoredResource>>, Error> + 'a;

impl Coalescer {
    /// The current version of `resource_type/id`; `send` runs one batch of `(type, id)`
    /// lookups and returns, for each, its answer in the same order.
    pub(crate) fn read(
        &self,
        resource_type: &str,
        id: &str,
        send: impl Fn(&[(String, String)]) -> Result<Vec<Option<StoredResource>>, Error>,
    ) -> Answer {
        let me = Arc::new(Waiter::default());
        let mut lead = {
            let mut state = lock(&self.state);
            let free = state.leaders < LEADERS_MAX;
            if free {
                state.leaders += 1;
            }
            state.waiting.push(Entry {
                waiter: me.clone(),
                resource_type: resource_type.to_string(),
                id: id.to_string(),
                chosen: free,
            });
            free
        };
        loop {
            if lead {
                self.lead(&send);
            }
            let mut turn = lock(&me.turn);
            loop {
                if std::mem::take(&mut turn.lead) {
                    lead = true;
                    break;
                }
                if let Some(answer) = turn.answer.take() {
                    return answer;
                }
                turn = me
                    .changed
                    .wait(turn)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    /// Sends one batch of the waiting reads (possibly none: another leader may have taken
    /// them) and answers them; then passes the lead to the first waiting read not yet chosen,
    /// or gives it up.
    fn lead(&self, send: &SendBatch<'_>) {
        let batch: Vec<Entry> = {
            let mut state = lock(&self.state);
            let take = state.waiting.len().min(BATCH_MAX);
            state.waiting.drain(..take).collect()
        };
        if !batch.is_empty() {
            let keys: Vec<(String, String)> = batch
                .iter()
                .map(|entry| (entry.resource_type.clone(), entry.id.clone()))
                .collect();
            // A panic in the leader must not leave its batch unanswered (or the count of
            // leaders high), or every later read would wait forever.
            let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| send(&keys)))
                .unwrap_or_else(|_| Err(Error::Other("read batch panicked".into())));
            match sent {
                Ok(found) => {
                    let mut found = found.into_iter();
                    for entry in &batch {
                        let stored = found.next().flatten();
                        entry.waiter.update(|turn| turn.answer = Some(Ok(stored)));
                    }
                }
                Err(err) => {
                    for entry in &batch {
                        entry
                            .waiter
                            .update(|turn| turn.answer = Some(Err(duplicate(&err))));
                    }
                }
            }
        }
        let mut state = lock(&self.state);
        match state.waiting.iter_mut().find(|entry| !entry.chosen) {
            Some(next) => {
                next.chosen = true;
                next.waiter.update(|turn| turn.lead = true);
            }
            None => state.leaders -= 1,
        }
    }
}

/// The same error for each read of a failed batch.
fn duplicate(err: &Error) -> Error {
    match err {
        Error::Conflict(text) => Error::Conflict(text.clone()),
        Error::Invalid(text) => Error::Invalid(text.clone()),
        Error::Busy => Error::Busy,
        Error::Aborted(inner) => Error::Other(inner.to_string()),
        Error::Other(text) => Error::Other(text.clone()),
    }
}
