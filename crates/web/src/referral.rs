//! A referral's state, read from the Task that carries it (issue 17): pure, shared by the
//! inbox/outbox (`pages/referrals.rs`) and the patient's chart (`chart.rs`), so both say the
//! same thing about one referral.

use serde_json::Value;

/// A referral's state as both facilities see it: the message key, and whether it is overdue
/// (not attended yet, past the date it was to be attended by).
pub fn referral_state(task: &Value, now_ms: i64) -> (&'static str, bool) {
    let status = task["status"].as_str().unwrap_or_default();
    let booked = task["businessStatus"]["text"].as_str() == Some("agendada");
    let key = match status {
        "accepted" if booked => "referrals.state.booked",
        "accepted" => "referrals.state.accepted",
        "rejected" => "referrals.state.rejected",
        "in-progress" => "referrals.state.attended",
        "completed" => "referrals.state.completed",
        "cancelled" | "failed" | "entered-in-error" => "referrals.state.cancelled",
        _ => "referrals.state.requested",
    };
    let waiting = matches!(
        status,
        "draft" | "requested" | "received" | "ready" | "accepted" | "on-hold"
    );
    let overdue = waiting
        && task["restriction"]["period"]["end"]
            .as_str()
            .and_then(ehr::parse_instant_ms)
            .is_some_and(|due| due < now_ms);
    (key, overdue)
}

/// The last part of a state's key (`booked` of `referrals.state.booked`), for pages and tests
/// to match on.
pub fn state_slug(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    fn task(status: &str, business: Option<&str>, due: &str) -> Value {
        let mut task = serde_json::json!({
            "resourceType": "Task",
            "status": status,
            "restriction": {"period": {"end": due}}
        });
        if let Some(text) = business {
            task["businessStatus"] = serde_json::json!({"text": text});
        }
        task
    }

    #[test]
    fn the_state_follows_the_task_and_only_unattended_referrals_go_overdue() {
        let due = "2026-12-01T10:00:00-06:00";
        let due_ms = ehr::parse_instant_ms(due).unwrap();
        let (before, after) = (due_ms - DAY_MS, due_ms + DAY_MS);
        assert_eq!(
            referral_state(&task("requested", None, due), before),
            ("referrals.state.requested", false)
        );
        assert_eq!(
            referral_state(&task("requested", None, due), after),
            ("referrals.state.requested", true)
        );
        assert_eq!(
            referral_state(&task("accepted", None, due), after),
            ("referrals.state.accepted", true)
        );
        assert_eq!(
            referral_state(&task("accepted", Some("agendada"), due), before),
            ("referrals.state.booked", false)
        );
        assert_eq!(
            referral_state(&task("in-progress", None, due), after),
            ("referrals.state.attended", false)
        );
        assert_eq!(
            referral_state(&task("completed", None, due), after),
            ("referrals.state.completed", false)
        );
        assert_eq!(
            referral_state(&task("rejected", None, due), after),
            ("referrals.state.rejected", false)
        );
    }
}
