//! Subscription delivery (issue 17): the worker that sends what `ehr::notify` prepares, over
//! the rest-hook channel (an HTTP POST of the notification Bundle) and the websocket channel
//! (to the sockets bound to the subscription), and reports each outcome back so that `ehr`
//! retries with backoff or sets the subscription to `error`.
//!
//! The worker is one task per node, woken by a committed write of a subscribed type (or every
//! half second, for retries that came due). Sending happens here, never on the write path:
//! a write's response does not wait for any delivery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ehr::notify::{Channel, Outgoing};
use tokio::sync::mpsc;

/// How long one rest-hook POST may take before it counts as failed.
const HOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest sleep between steps when nothing wakes the worker (retries coming due).
const POLL: Duration = Duration::from_millis(500);
/// How often appointment reminders are looked for (`ehr::reminders`; one indexed search).
const REMINDER_SCAN: Duration = Duration::from_secs(5);

/// The websockets bound to subscriptions on this node (in memory: a socket lives as long as
/// its connection).
#[derive(Default)]
pub(crate) struct Sockets {
    bound: Mutex<Bound>,
}

/// Open sockets by subscription id.
type Bound = HashMap<String, Vec<mpsc::UnboundedSender<String>>>;

impl Sockets {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Vec<mpsc::UnboundedSender<String>>>> {
        self.bound
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn bind(&self, subscription_id: &str) -> mpsc::UnboundedReceiver<String> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lock()
            .entry(subscription_id.to_string())
            .or_default()
            .push(sender);
        receiver
    }

    /// Sends `text` to every open socket bound to the subscription; `false` if none took it.
    fn send(&self, subscription_id: &str, text: &str) -> bool {
        let mut bound = self.lock();
        let Some(senders) = bound.get_mut(subscription_id) else {
            return false;
        };
        senders.retain(|sender| sender.send(text.to_string()).is_ok());
        let any = !senders.is_empty();
        if !any {
            bound.remove(subscription_id);
        }
        any
    }
}

/// Starts the delivery worker on the current runtime (a no-op outside one).
pub(crate) fn start(ehr: ehr::Ehr, sockets: Arc<Sockets>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let client = match reqwest::Client::builder()
        .timeout(HOOK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "subscriptions: no HTTP client; notifications are not delivered");
            return;
        }
    };
    ehr.notifications_enable();
    runtime.spawn(run(ehr, client, sockets));
}

async fn run(ehr: ehr::Ehr, client: reqwest::Client, sockets: Arc<Sockets>) {
    let mut last_scan: Option<tokio::time::Instant> = None;
    loop {
        if last_scan.is_none_or(|at| at.elapsed() >= REMINDER_SCAN) {
            last_scan = Some(tokio::time::Instant::now());
            let scan = ehr.clone();
            let found = tokio::task::spawn_blocking(move || {
                scan.reminders_step(ehr::reminders::LEAD_HOURS_DEFAULT)
            })
            .await;
            if let Ok(Err(err)) = found {
                tracing::warn!(error = %err, "reminders: scan failed");
            }
        }
        let step = ehr.clone();
        let outgoing = match tokio::task::spawn_blocking(move || step.notifications_step()).await {
            Ok(Ok(outgoing)) => outgoing,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "subscriptions: step failed");
                Vec::new()
            }
            Err(err) => {
                tracing::error!(error = %err, "subscriptions: step panicked");
                Vec::new()
            }
        };
        let busy = !outgoing.is_empty();
        let mut sends = tokio::task::JoinSet::new();
        for sent in outgoing {
            let (ehr, client, sockets) = (ehr.clone(), client.clone(), sockets.clone());
            sends.spawn(async move {
                let outcome = send(&client, &sockets, &sent).await;
                if let Err(failure) = &outcome {
                    tracing::info!(subscription = %sent.subscription_id, %failure, "subscription delivery failed");
                }
                let report = tokio::task::spawn_blocking(move || {
                    ehr.notification_outcome(&sent, outcome)
                })
                .await;
                if let Ok(Err(err)) = report {
                    tracing::warn!(error = %err, "subscriptions: cannot record a delivery's outcome");
                }
            });
        }
        while sends.join_next().await.is_some() {}
        if !busy {
            ehr.notifications_wait(POLL).await;
        }
    }
}

async fn send(client: &reqwest::Client, sockets: &Sockets, sent: &Outgoing) -> Result<(), String> {
    match &sent.channel {
        Channel::WebSocket => {
            if sockets.send(&sent.subscription_id, &sent.body) {
                Ok(())
            } else {
                Err("no hay websocket abierto para la suscripción / no websocket bound".into())
            }
        }
        Channel::RestHook { endpoint, headers } => {
            let mut request = client
                .post(endpoint)
                .header("Content-Type", "application/fhir+json")
                .body(sent.body.clone());
            for (name, value) in headers {
                request = request.header(name.as_str(), value.as_str());
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
                Err(err) => Err(err.to_string()),
            }
        }
    }
}

/// # `GET /fhir/$subscription-websocket` (upgrade)
///
/// The websocket channel. Authenticated like every `/fhir` request (bearer token on the
/// upgrade request). The client sends `bind {subscription-id}` for a websocket-channel
/// subscription it owns; the server answers `bound {id}` (or `error {id}`) and from then on
/// sends each notification Bundle of that subscription as one text message.
pub(crate) async fn websocket(
    state: crate::State,
    crate::auth::Auth(who): crate::auth::Auth,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> axum::response::Response {
    let state = state.0;
    upgrade.on_upgrade(move |socket| serve_socket(state, who, socket))
}

async fn serve_socket(
    state: Arc<crate::AppState>,
    who: Arc<ehr::Requester>,
    mut socket: axum::extract::ws::WebSocket,
) {
    use axum::extract::ws::Message;
    let (merged_tx, mut merged) = mpsc::unbounded_channel::<String>();
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                let Some(id) = text.trim().strip_prefix("bind ").map(str::trim).map(str::to_string) else {
                    continue;
                };
                let (ehr, asker, wanted) = (state.ehr.clone(), who.clone(), id.clone());
                let allowed = tokio::task::spawn_blocking(move || {
                    ehr.subscription_for_websocket(&asker, &wanted)
                })
                .await
                .is_ok_and(|found| matches!(found, Ok(true)));
                let reply = if allowed {
                    let mut receiver = state.sockets.bind(&id);
                    let forward = merged_tx.clone();
                    // Ends as soon as the socket's loop does (its receiver dropped), so the
                    // binding goes with it and a later event is retried, not lost.
                    tokio::spawn(async move {
                        loop {
                            tokio::select! {
                                () = forward.closed() => break,
                                next = receiver.recv() => {
                                    let Some(text) = next else { break };
                                    if forward.send(text).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    });
                    format!("bound {id}")
                } else {
                    // Absent and not the requester's look alike.
                    format!("error {id}")
                };
                if socket.send(Message::Text(reply.into())).await.is_err() {
                    return;
                }
            }
            Some(text) = merged.recv() => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
