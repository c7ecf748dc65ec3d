//! Notifications (issue 17): R4 criteria-based `Subscription`s, matched after commit and
//! delivered off the write path.
//!
//! Key decisions:
//! - **R4 criteria-based**, not the backport's topics: `Subscription.criteria` is a search URL
//!   (`Appointment?status=booked`), `channel.type` is `rest-hook` or `websocket`. Topics would
//!   need SubscriptionTopic resources (R4B/R5) or canonical topic URLs nobody here publishes;
//!   a criteria string is what the clinics' integrations can write today. The notification
//!   body borrows the backport's R4 shape (a `history` Bundle whose first entry is a
//!   `Parameters` status), so a consumer sees which subscription and event it is.
//! - **The write never waits.** The write path only notes `(type, id, version)` of each version
//!   of a subscribed type, in memory, and hands it over after commit. The delivery worker
//!   (`rest`) persists those as queue rows (`store::notify`), then claims due rows, evaluates
//!   the criteria restricted to the written id, and delivers. A crash can lose the few
//!   milliseconds of events not yet persisted (like the read audit sink); a queued delivery
//!   survives a restart.
//! - **Only what the owner may read.** A subscription records its owner (the account that
//!   created it, [`OWNER_EXTENSION`], set by the server). Each delivery runs the resource through
//!   the read guard as that account, now: a refusal drops the delivery silently (not even the
//!   id leaves), a permit is audited as the owner's read.
//! - **Retries** back off exponentially (1 s doubling, at most 5 min). After
//!   [`ATTEMPTS_MAX`] failed attempts of one delivery the subscription goes to `error` (its
//!   `error` says why and how many) and its queue is dropped; the owner sets it back to
//!   `requested` to resume.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use auth::audit::AuditAction;
use fhir::{Issue, IssueCode, Json};
use search::Handling;
use store::StoredResource;
use store::notify::{Delivery, NewDelivery};

use crate::guard::Authority;
use crate::write::Target;
use crate::{Ehr, Error, Requester};

/// Server-set extension naming the account a subscription belongs to.
pub const OWNER_EXTENSION: &str =
    "https://expediente.salud.gob.mx/fhir/StructureDefinition/subscription-owner";
/// The backport IG's payload content (`id-only`, `full-resource`), read on `channel._payload`.
pub const PAYLOAD_CONTENT_EXTENSION: &str =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content";
/// Failed attempts of one delivery before its subscription goes to `error`.
pub const ATTEMPTS_MAX: u32 = 5;
/// First retry delay; each further failure doubles it.
pub const RETRY_BASE_MS: i64 = 1_000;
/// Longest retry delay.
pub const RETRY_MAX_MS: i64 = 300_000;
/// A claimed delivery is not handed out again for this long (it is in flight).
const LEASE_MS: i64 = 60_000;
/// Deliveries claimed per step.
const CLAIM_MAX: usize = 64;
/// Subscriptions read when the registry is rebuilt, at most.
const SUBSCRIPTIONS_MAX: usize = 10_000;

/// One written version of a subscribed type, waiting to be queued.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub resource_type: String,
    pub id: String,
    pub version_id: u64,
    pub at_ms: i64,
}

/// The node's notification state: the active subscriptions by type, the events not yet
/// queued, and the worker's wake-up.
#[derive(Default)]
pub(crate) struct Notifier {
    /// Set by the delivery worker when it starts; until then the write path notes nothing.
    enabled: AtomicBool,
    /// Active subscription ids by criteria type; `None` = stale (a Subscription was written).
    registry: RwLock<Option<HashMap<String, Vec<String>>>>,
    /// Moves on at every Subscription write: a registry built from a read that started before
    /// the write is not kept (it could miss the new subscription).
    generation: AtomicU64,
    pending: Mutex<Vec<Event>>,
    signal: tokio::sync::Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Notifier {
    /// Whether a written version of `resource_type` may concern a subscription (cheap: the
    /// write path asks it for every version).
    pub(crate) fn wants(&self, resource_type: &str) -> bool {
        if !self.enabled.load(Ordering::Relaxed) {
            return false;
        }
        let registry = self
            .registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match registry.as_ref() {
            None => true,
            Some(by_type) => by_type.contains_key(resource_type),
        }
    }

    /// After a commit: hands the job's events to the worker.
    pub(crate) fn publish(&self, events: Vec<Event>, subscriptions_written: bool) {
        if subscriptions_written {
            let mut registry = self
                .registry
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.generation.fetch_add(1, Ordering::SeqCst);
            *registry = None;
        }
        if events.is_empty() {
            return;
        }
        lock(&self.pending).extend(events);
        self.signal.notify_one();
    }
}

/// Where and how a prepared notification goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Channel {
    /// POST to `endpoint` with these extra headers (`channel.header`, "Name: value").
    RestHook {
        endpoint: String,
        headers: Vec<(String, String)>,
    },
    /// To the websockets bound to the subscription (`/fhir/$subscription-websocket`).
    WebSocket,
}

/// A notification ready to send.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub seq: i64,
    pub subscription_id: String,
    pub channel: Channel,
    /// The notification Bundle (JSON).
    pub body: String,
    pub attempts: u32,
    /// When the write that caused it committed (latency measurements).
    pub queued_ms: i64,
}

/// The criteria of a subscription: `Type?query`.
fn split_criteria(criteria: &str) -> (&str, &str) {
    match criteria.split_once('?') {
        Some((t, q)) => (t.trim_start_matches('/'), q),
        None => (criteria.trim_start_matches('/'), ""),
    }
}

/// The owner recorded on a subscription.
pub(crate) fn owner_of(subscription: &Json) -> Option<String> {
    subscription
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Json::as_str) == Some(OWNER_EXTENSION))?
        .get("valueString")?
        .as_str()
        .map(str::to_string)
}

/// Whether `who` may see or touch this stored subscription (its owner, or an administrator).
pub(crate) fn may_access(who: &Requester, stored: &StoredResource) -> bool {
    if stored.deleted {
        return true;
    }
    let owner = fhir::json::parse_str(&stored.body)
        .ok()
        .and_then(|s| owner_of(&s));
    auth::policy::subscription_access(&who.principal, owner.as_deref())
}

fn unprocessable(path: &str, es: String, en: String) -> Issue {
    Issue::error(IssueCode::BusinessRule, es, en).at(path)
}

/// The pure checks of a Subscription before its job: what it asks can be delivered.
pub(crate) fn check(subscription: &Json, now_ms: i64) -> Vec<Issue> {
    let mut issues = Vec::new();
    match subscription.get("criteria").and_then(Json::as_str) {
        None => issues.push(unprocessable(
            "Subscription.criteria",
            "Falta criteria: una búsqueda como «Appointment?status=booked»".into(),
            "criteria is missing: a search such as 'Appointment?status=booked'".into(),
        )),
        Some(criteria) => {
            let (resource_type, query) = split_criteria(criteria);
            if !fhir::defs::is_resource_type(resource_type) || resource_type == "AuditEvent" {
                issues.push(unprocessable(
                    "Subscription.criteria",
                    format!("criteria debe empezar con un tipo de recurso notificable, no «{resource_type}»"),
                    format!("criteria must start with a resource type that can be notified, not '{resource_type}'"),
                ));
            } else {
                let params = crate::parse_query_string(query);
                if let Err(found) = search::parse(resource_type, &params, Handling::Strict, now_ms)
                {
                    for issue in found {
                        issues.push(issue.at("Subscription.criteria"));
                    }
                }
            }
        }
    }
    let channel = subscription.get("channel");
    match channel.and_then(|c| c.get("type")).and_then(Json::as_str) {
        Some("rest-hook") => {
            let endpoint = channel
                .and_then(|c| c.get("endpoint"))
                .and_then(Json::as_str)
                .unwrap_or("");
            if !endpoint_allowed(endpoint) {
                issues.push(unprocessable(
                    "Subscription.channel.endpoint",
                    format!("El endpoint «{endpoint}» debe ser https, o http solo hacia este equipo (127.0.0.1, localhost)"),
                    format!("The endpoint '{endpoint}' must be https, or http only to this machine (127.0.0.1, localhost)"),
                ));
            }
        }
        Some("websocket") => {}
        other => issues.push(
            Issue::error(
                IssueCode::NotSupported,
                format!(
                    "Canal no soportado: «{}»; use rest-hook o websocket",
                    other.unwrap_or("")
                ),
                format!(
                    "Unsupported channel: '{}'; use rest-hook or websocket",
                    other.unwrap_or("")
                ),
            )
            .at("Subscription.channel.type"),
        ),
    }
    if let Some(payload) = channel
        .and_then(|c| c.get("payload"))
        .and_then(Json::as_str)
        && !matches!(payload, "application/fhir+json" | "application/json")
    {
        issues.push(
            Issue::error(
                IssueCode::NotSupported,
                format!("payload «{payload}» no soportado: use application/fhir+json"),
                format!("payload '{payload}' is not supported: use application/fhir+json"),
            )
            .at("Subscription.channel.payload"),
        );
    }
    issues
}

/// `https://…`, or `http://` to a loopback host only (a hook on the same machine).
fn endpoint_allowed(endpoint: &str) -> bool {
    if let Some(rest) = endpoint.strip_prefix("https://") {
        return !rest.is_empty();
    }
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// In the write job, before the guard: the server's fields of a Subscription. The owner is
/// the creator (kept on updates, whoever makes them), and a `requested` subscription that
/// passed [`check`] becomes `active`.
pub(crate) fn on_put(who: &Requester, current: Option<&StoredResource>, resource: &mut Json) {
    let owner = current
        .filter(|c| !c.deleted)
        .and_then(|c| fhir::json::parse_str(&c.body).ok())
        .and_then(|c| owner_of(&c))
        .unwrap_or_else(|| who.principal.user.clone());
    let Some(object) = resource.as_object_mut() else {
        return;
    };
    let mut extensions: Vec<Json> = object
        .get("extension")
        .and_then(Json::as_array)
        .map(|list| {
            list.iter()
                .filter(|e| e.get("url").and_then(Json::as_str) != Some(OWNER_EXTENSION))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    extensions.push(Json::object([
        ("url", Json::str(OWNER_EXTENSION)),
        ("valueString", Json::str(owner)),
    ]));
    object.insert("extension", Json::Array(extensions));
    if object.get("status").and_then(Json::as_str) == Some("requested") {
        object.insert("status", Json::str("active"));
        object.remove("error");
    }
}

impl Ehr {
    /// Versions sync applied below the write path (received from another node): what a
    /// local write does after its commit, done for them — the access caches learn of the
    /// types written, and versions of subscribed types go to the delivery worker, so a
    /// subscription hears of a booking or a referral made at another node as of a local one.
    /// `versions`: (type, id, version id here) of each version that became current; the
    /// worker evaluates the criteria and the owner's read guard on them as on any other.
    pub fn replicated_applied(&self, versions: &[(String, String, u64)]) {
        if versions.is_empty() {
            return;
        }
        let now_ms = self.now_ms();
        let mut types: Vec<&str> = versions.iter().map(|(t, _, _)| t.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        for resource_type in &types {
            self.access().note_write(resource_type);
        }
        let events = versions
            .iter()
            .filter(|(resource_type, _, _)| self.notifier.wants(resource_type))
            .map(|(resource_type, id, version_id)| Event {
                resource_type: resource_type.clone(),
                id: id.clone(),
                version_id: *version_id,
                at_ms: now_ms,
            })
            .collect();
        self.notifier
            .publish(events, types.contains(&"Subscription"));
    }

    /// Starts noting writes for subscriptions (the delivery worker calls it once).
    pub fn notifications_enable(&self) {
        self.notifier.enabled.store(true, Ordering::Relaxed);
    }

    /// Waits until a write of a subscribed type committed, or `timeout` passed.
    pub async fn notifications_wait(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.notifier.signal.notified()).await;
    }

    /// One step of the delivery worker (blocking: run it off the async workers): queues the
    /// events noted since the last step, then claims the due deliveries and prepares each
    /// (criteria, read guard as the owner, Bundle). Deliveries that no longer apply (the
    /// subscription is off or gone, the resource does not match or the owner may not read it)
    /// are removed here and not returned.
    pub fn notifications_step(&self) -> Result<Vec<Outgoing>, Error> {
        let Some(queue) = self.store().notifications() else {
            return Ok(Vec::new());
        };
        let now_ms = self.now_ms();
        let events = std::mem::take(&mut *lock(&self.notifier.pending));
        if !events.is_empty() {
            let registry = self.subscription_registry()?;
            let mut rows = Vec::new();
            for event in events {
                for subscription_id in registry.get(&event.resource_type).into_iter().flatten() {
                    rows.push(NewDelivery {
                        subscription_id: subscription_id.clone(),
                        resource_type: event.resource_type.clone(),
                        resource_id: event.id.clone(),
                        version_id: event.version_id,
                        queued_ms: event.at_ms,
                    });
                }
            }
            queue.enqueue(&rows)?;
        }
        let due = queue.claim_due(now_ms, now_ms + LEASE_MS, CLAIM_MAX)?;
        let mut outgoing = Vec::with_capacity(due.len());
        for delivery in due {
            match self.prepare(&delivery)? {
                Some(ready) => outgoing.push(ready),
                None => queue.finish(delivery.seq)?,
            }
        }
        Ok(outgoing)
    }

    /// The outcome of sending one notification: done, or retried later with backoff; after
    /// [`ATTEMPTS_MAX`] failures the subscription goes to `error`.
    pub fn notification_outcome(
        &self,
        sent: &Outgoing,
        outcome: Result<(), String>,
    ) -> Result<(), Error> {
        let Some(queue) = self.store().notifications() else {
            return Ok(());
        };
        let failure = match outcome {
            Ok(()) => return queue.finish(sent.seq).map_err(Error::from),
            Err(failure) => failure,
        };
        let attempts = sent.attempts.saturating_add(1);
        if attempts < ATTEMPTS_MAX {
            let exponent = attempts.saturating_sub(1).min(20);
            let delay = (RETRY_BASE_MS << exponent).min(RETRY_MAX_MS);
            return queue
                .retry_later(sent.seq, attempts, self.now_ms() + delay, &failure)
                .map_err(Error::from);
        }
        tracing::warn!(subscription = %sent.subscription_id, %failure, "subscription delivery failed; subscription set to error");
        self.subscription_failed(&sent.subscription_id, attempts, &failure)?;
        queue.drop_subscription(&sent.subscription_id)?;
        Ok(())
    }

    /// Whether `who` owns the active websocket-channel subscription `id` (the websocket binds to it).
    pub fn subscription_for_websocket(&self, who: &Requester, id: &str) -> Result<bool, Error> {
        let Some(stored) = self.store().read("Subscription", id)? else {
            return Ok(false);
        };
        if stored.deleted || !may_access(who, &stored) {
            return Ok(false);
        }
        let Ok(subscription) = fhir::json::parse_str(&stored.body) else {
            return Ok(false);
        };
        Ok(subscription
            .get("channel")
            .and_then(|c| c.get("type"))
            .and_then(Json::as_str)
            == Some("websocket"))
    }

    /// Deliveries waiting in the queue (operators, tests).
    pub fn notifications_queued(&self) -> Result<Vec<Delivery>, Error> {
        match self.store().notifications() {
            Some(queue) => Ok(queue.queued(1_000)?),
            None => Ok(Vec::new()),
        }
    }

    /// Whether an active subscription's criteria are on `resource_type`.
    pub(crate) fn subscriptions_watch(&self, resource_type: &str) -> Result<bool, Error> {
        Ok(self.subscription_registry()?.contains_key(resource_type))
    }

    fn subscription_registry(&self) -> Result<HashMap<String, Vec<String>>, Error> {
        if let Some(current) = self
            .notifier
            .registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            return Ok(current.clone());
        }
        let generation = self.notifier.generation.load(Ordering::SeqCst);
        let params = vec![
            ("status".to_string(), "active".to_string()),
            ("_count".to_string(), store::PAGE_SIZE_MAX.to_string()),
        ];
        let (mut query, _) =
            search::parse("Subscription", &params, Handling::Strict, self.now_ms())
                .map_err(Error::BadRequest)?;
        let mut by_type: HashMap<String, Vec<String>> = HashMap::new();
        let mut seen = 0;
        loop {
            let page = self.store().search(&query)?;
            for stored in &page.matches {
                let Ok(subscription) = fhir::json::parse_str(&stored.body) else {
                    continue;
                };
                if let Some(criteria) = subscription.get("criteria").and_then(Json::as_str) {
                    let (resource_type, _) = split_criteria(criteria);
                    by_type
                        .entry(resource_type.to_string())
                        .or_default()
                        .push(stored.id.clone());
                }
            }
            seen += page.matches.len();
            match page.positions.last() {
                Some(last) if page.more && seen < SUBSCRIPTIONS_MAX => {
                    query.cursor = Some(format!("n{last}"));
                }
                _ => break,
            }
        }
        let mut registry = self
            .notifier
            .registry
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Kept only if no Subscription was written since the read began; otherwise the next
        // step reads again.
        if self.notifier.generation.load(Ordering::SeqCst) == generation {
            *registry = Some(by_type.clone());
        }
        Ok(by_type)
    }

    fn prepare(&self, delivery: &Delivery) -> Result<Option<Outgoing>, Error> {
        let Some(stored) = self
            .store()
            .read("Subscription", &delivery.subscription_id)?
        else {
            return Ok(None);
        };
        if stored.deleted {
            return Ok(None);
        }
        let Ok(subscription) = fhir::json::parse_str(&stored.body) else {
            return Ok(None);
        };
        if subscription.get("status").and_then(Json::as_str) != Some("active") {
            return Ok(None);
        }
        let Some(owner) = owner_of(&subscription) else {
            return Ok(None);
        };
        let Some(account) = self.store().account(&owner)? else {
            return Ok(None);
        };
        if account.disabled {
            return Ok(None);
        }
        let who = crate::accounts::requester_for_account(&account, None);
        let criteria = subscription
            .get("criteria")
            .and_then(Json::as_str)
            .unwrap_or("");
        let (resource_type, query) = split_criteria(criteria);
        if resource_type != delivery.resource_type {
            return Ok(None);
        }
        let mut params = crate::parse_query_string(query);
        params.retain(|(name, _)| name != "_id");
        params.push(("_id".to_string(), delivery.resource_id.clone()));
        let Ok((query, _)) = search::parse(resource_type, &params, Handling::Strict, self.now_ms())
        else {
            return Ok(None);
        };
        let page = self.store().search(&query)?;
        let Some(found) = page
            .matches
            .into_iter()
            .find(|m| m.id == delivery.resource_id)
        else {
            return Ok(None);
        };
        // Decided now, as the owner is now: a hidden match is dropped without a trace
        // outside this node (not even its id).
        let checked = match self.check_read(&who, &found)? {
            Ok(checked) => checked,
            Err(_) => return Ok(None),
        };
        let patients: Vec<(String, bool)> =
            checked.patient_id.map(|p| (p, false)).into_iter().collect();
        self.audit_access(
            &who,
            AuditAction::Read,
            &found.resource_type,
            Some(&found.id),
            &patients,
            &format!("notificación Subscription/{}", stored.id),
        );
        let channel = subscription.get("channel");
        let full = channel.and_then(|c| c.get("payload")).is_some()
            && payload_content(&subscription).as_deref() != Some("id-only");
        let channel = match channel.and_then(|c| c.get("type")).and_then(Json::as_str) {
            Some("websocket") => Channel::WebSocket,
            _ => Channel::RestHook {
                endpoint: channel
                    .and_then(|c| c.get("endpoint"))
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                headers: channel
                    .and_then(|c| c.get("header"))
                    .and_then(Json::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(Json::as_str)
                            .filter_map(|h| h.split_once(':'))
                            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        };
        let body = notification_bundle(&stored.id, delivery, &found, full, self.now_ms());
        Ok(Some(Outgoing {
            seq: delivery.seq,
            subscription_id: stored.id.clone(),
            channel,
            body: body.to_json_string(),
            attempts: delivery.attempts,
            queued_ms: delivery.queued_ms,
        }))
    }

    /// The subscription goes to `error` (a derived write of the node's own, audited).
    fn subscription_failed(&self, id: &str, attempts: u32, failure: &str) -> Result<(), Error> {
        let system = Requester::local_system("notificaciones");
        let id = id.to_string();
        let failure = failure.chars().take(200).collect::<String>();
        self.write(&system, move |writer| {
            let Some(current) = writer.tx().read("Subscription", &id)? else {
                return Ok(());
            };
            if current.deleted {
                return Ok(());
            }
            let Ok(mut subscription) = fhir::json::parse_str(&current.body) else {
                return Ok(());
            };
            let Some(object) = subscription.as_object_mut() else {
                return Ok(());
            };
            if object.get("status").and_then(Json::as_str) != Some("active") {
                return Ok(());
            }
            object.insert("status", Json::str("error"));
            object.insert(
                "error",
                Json::str(format!(
                    "{attempts} intentos de entrega fallidos; el último: {failure} / {attempts} failed delivery attempts; the last: {failure}"
                )),
            );
            writer.put(
                "Subscription",
                Target::Id(id.clone()),
                subscription,
                None,
                Authority::Derived,
            )?;
            Ok(())
        })
    }
}

fn payload_content(subscription: &Json) -> Option<String> {
    subscription
        .get("channel")?
        .get("_payload")?
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Json::as_str) == Some(PAYLOAD_CONTENT_EXTENSION))?
        .get("valueCode")?
        .as_str()
        .map(str::to_string)
}

/// The notification: a `history` Bundle whose first entry is the backport's R4 status
/// `Parameters` (subscription, status, type, the event and its focus), then the resource's
/// entry, with its content when the payload is full.
fn notification_bundle(
    subscription_id: &str,
    delivery: &Delivery,
    found: &StoredResource,
    full: bool,
    now_ms: i64,
) -> Json {
    let reference = format!("{}/{}", found.resource_type, found.id);
    let status = Json::object([
        ("resourceType", Json::str("Parameters")),
        (
            "parameter",
            Json::Array(vec![
                Json::object([
                    ("name", Json::str("subscription")),
                    (
                        "valueReference",
                        Json::object([(
                            "reference",
                            Json::str(format!("Subscription/{subscription_id}")),
                        )]),
                    ),
                ]),
                Json::object([
                    ("name", Json::str("status")),
                    ("valueCode", Json::str("active")),
                ]),
                Json::object([
                    ("name", Json::str("type")),
                    ("valueCode", Json::str("event-notification")),
                ]),
                Json::object([
                    ("name", Json::str("notification-event")),
                    (
                        "part",
                        Json::Array(vec![
                            Json::object([
                                ("name", Json::str("event-number")),
                                ("valueString", Json::str(delivery.seq.to_string())),
                            ]),
                            Json::object([
                                ("name", Json::str("focus")),
                                (
                                    "valueReference",
                                    Json::object([("reference", Json::str(reference.clone()))]),
                                ),
                            ]),
                        ]),
                    ),
                ]),
            ]),
        ),
    ]);
    let method = if found.version_id == 1 { "POST" } else { "PUT" };
    let url = if found.version_id == 1 {
        found.resource_type.clone()
    } else {
        reference.clone()
    };
    let mut entry = vec![
        ("fullUrl", Json::str(reference.clone())),
        (
            "request",
            Json::object([("method", Json::str(method)), ("url", Json::str(url))]),
        ),
        (
            "response",
            Json::object([
                (
                    "status",
                    Json::str(if found.version_id == 1 { "201" } else { "200" }),
                ),
                (
                    "location",
                    Json::str(format!("{reference}/_history/{}", found.version_id)),
                ),
            ]),
        ),
    ];
    if full && let Ok(resource) = fhir::json::parse_str(&found.body) {
        entry.insert(1, ("resource", resource));
    }
    Json::object([
        ("resourceType", Json::str("Bundle")),
        ("type", Json::str("history")),
        ("timestamp", Json::str(crate::meta::format_instant(now_ms))),
        (
            "entry",
            Json::Array(vec![
                Json::object([("resource", status)]),
                Json::object(entry),
            ]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        assert!(endpoint_allowed("https://avisos.example.mx/hook"));
        assert!(endpoint_allowed("http://127.0.0.1:9000/hook"));
        assert!(endpoint_allowed("http://localhost/hook"));
        assert!(endpoint_allowed("http://[::1]:8080/"));
        assert!(!endpoint_allowed("http://avisos.example.mx/hook"));
        assert!(!endpoint_allowed("http://127.0.0.1.evil.mx/hook"));
        assert!(!endpoint_allowed("ftp://127.0.0.1/"));
        assert!(!endpoint_allowed(""));
    }

    #[test]
    fn criteria_must_parse_and_channels_must_be_known() {
        let good = fhir::json::parse_str(
            r#"{"resourceType":"Subscription","status":"requested","reason":"r","criteria":"Appointment?status=booked","channel":{"type":"rest-hook","endpoint":"https://x.mx/h","payload":"application/fhir+json"}}"#,
        )
        .unwrap();
        assert!(check(&good, 0).is_empty());
        let bad = fhir::json::parse_str(
            r#"{"resourceType":"Subscription","status":"requested","reason":"r","criteria":"Appointment?nonsense=1","channel":{"type":"email","endpoint":"mailto:a@b"}}"#,
        )
        .unwrap();
        let issues = check(&bad, 0);
        assert!(issues.len() >= 2, "{issues:?}");
    }
}
