//! What a clinic's clock may claim in a push (pure): the hub refuses stamps and `lastUpdated`
//! beyond its own time plus an allowance, and stamps that contradict the clock rule.
//!
//! Why refuse rather than clamp: the stamp is a version's identity on every node (`rule.rs`).
//! A clamped copy would be another version than the one the clinic holds: the clinic would
//! receive the hub's copy back as a conflict, and its next edit (whose parent is the original
//! stamp) would conflict again. A refused version stays in the clinic's own record and
//! history and is listed in its `/sync/status` with the reason, so the operator fixes the
//! clock. Why refuse at all: the greatest stamp wins every conflict, so a stamp of `i64::MAX`
//! (or a `lastUpdated` in the year 9999) would win every future conflict and freeze the record,
//! and it would push every later stamp on the hub (`max(now, last + 1)`) to the end of time.

use fhir::{Issue, IssueCode};

use crate::hlc;
use crate::wire::WireVersion;

/// How far ahead of the hub's clock a pushed version may be stamped: 12 hours. Mexico's time
/// zones span UTC−5 to UTC−8, and the usual clinic PC error is a clock set to local time but
/// read as UTC (or the reverse) or stale time-zone rules: hours, never days. A stamp 12 hours
/// ahead can win concurrent edits for at most those 12 hours; causal edits still stamp above it
/// (`hlc::next`). Clocks behind are harmless and not bounded (a clinic back after a month
/// offline stamps in the past).
pub const STAMP_AHEAD_MS_MAX: i64 = 12 * 60 * 60 * 1000;

/// Everything wrong with a version's stamps at hub time `hub_now_ms` (empty when nothing is).
pub fn stamp_problems(version: &WireVersion, hub_now_ms: i64) -> Vec<Issue> {
    let mut problems = Vec::new();
    let limit_ms = hub_now_ms.saturating_add(STAMP_AHEAD_MS_MAX);
    let hours_ahead = |ms: i64| ms.saturating_sub(hub_now_ms) / 3_600_000;
    if version.last_updated_ms < 0 {
        problems.push(Issue::error(
            IssueCode::Value,
            "meta.lastUpdated es anterior a 1970: el reloj de la clínica está mal",
            "meta.lastUpdated is before 1970: the clinic's clock is wrong",
        ));
    } else if version.last_updated_ms > limit_ms {
        let hours = hours_ahead(version.last_updated_ms);
        problems.push(Issue::error(
            IssueCode::Value,
            format!(
                "meta.lastUpdated está {hours} h adelante del reloj del nodo central (se admiten {} h): corrija el reloj de la clínica",
                STAMP_AHEAD_MS_MAX / 3_600_000
            ),
            format!(
                "meta.lastUpdated is {hours} h ahead of the hub's clock ({} h allowed): correct the clinic's clock",
                STAMP_AHEAD_MS_MAX / 3_600_000
            ),
        ));
    }
    if version.hlc <= 0 {
        problems.push(Issue::error(
            IssueCode::Value,
            "la marca de sincronización no es positiva",
            "the sync stamp is not positive",
        ));
    } else if version.hlc > hlc::last_of_ms(limit_ms) {
        let hours = hours_ahead(hlc::physical_ms(version.hlc));
        problems.push(Issue::error(
            IssueCode::Value,
            format!(
                "la marca de sincronización está {hours} h adelante del reloj del nodo central (se admiten {} h): corrija el reloj de la clínica",
                STAMP_AHEAD_MS_MAX / 3_600_000
            ),
            format!(
                "the sync stamp is {hours} h ahead of the hub's clock ({} h allowed): correct the clinic's clock",
                STAMP_AHEAD_MS_MAX / 3_600_000
            ),
        ));
    } else if hlc::physical_ms(version.hlc) < version.last_updated_ms {
        // The clock rule stamps at least the version's own time.
        problems.push(Issue::error(
            IssueCode::Value,
            "la marca de sincronización es anterior a meta.lastUpdated",
            "the sync stamp is earlier than meta.lastUpdated",
        ));
    }
    if let Some(parent_hlc) = version.parent_hlc
        && parent_hlc >= version.hlc
    {
        // A version is made after the one it replaces was seen, so it stamps higher.
        problems.push(Issue::error(
            IssueCode::Value,
            "la marca de sincronización no es posterior a la de la versión que reemplaza",
            "the sync stamp is not after the stamp of the version it replaces",
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_795_000_000_000;

    fn version(hlc: i64, last_updated_ms: i64, parent_hlc: Option<i64>) -> WireVersion {
        WireVersion {
            resource_type: "Patient".into(),
            id: "p1".into(),
            hlc,
            origin: "DFSSA000001".into(),
            parent_hlc,
            parent_origin: parent_hlc.map(|_| "DFSSA000001".into()),
            last_updated_ms,
            body: None,
        }
    }

    #[test]
    fn honest_stamps_pass_including_clocks_behind_and_hours_ahead() {
        for at_ms in [
            NOW_MS,
            NOW_MS - 30 * 86_400_000,
            NOW_MS + STAMP_AHEAD_MS_MAX - 1,
        ] {
            let stamp = hlc::next(0, at_ms);
            assert!(stamp_problems(&version(stamp, at_ms, None), NOW_MS).is_empty());
            let child = hlc::next(stamp, at_ms);
            assert!(stamp_problems(&version(child, at_ms, Some(stamp)), NOW_MS).is_empty());
        }
    }

    #[test]
    fn far_future_and_contradictory_stamps_are_refused() {
        let year_9999_ms = 253_402_300_799_000;
        let cases = [
            version(i64::MAX, year_9999_ms, None),
            version(i64::MAX, NOW_MS, None),
            version(hlc::of_ms(NOW_MS), year_9999_ms, None),
            version(hlc::of_ms(NOW_MS + STAMP_AHEAD_MS_MAX + 1), NOW_MS, None),
            version(0, NOW_MS, None),
            version(hlc::of_ms(NOW_MS), -1, None),
            version(hlc::of_ms(NOW_MS - 1_000), NOW_MS, None),
            version(hlc::of_ms(NOW_MS), NOW_MS, Some(hlc::of_ms(NOW_MS))),
            version(hlc::of_ms(NOW_MS), NOW_MS, Some(i64::MAX)),
        ];
        for case in &cases {
            let problems = stamp_problems(case, NOW_MS);
            assert!(
                problems.iter().any(Issue::is_error),
                "h={} u={} ph={:?}",
                case.hlc,
                case.last_updated_ms,
                case.parent_hlc
            );
        }
        // The reason says how far ahead, in hours, in both languages.
        let problems = stamp_problems(&cases[2], NOW_MS);
        assert!(problems[0].message_es.contains("corrija el reloj"));
        assert!(problems[0].message_en.contains("h ahead"));
        // Nothing overflows at the end of time, whoever's clock is there.
        let extreme = version(i64::MAX, i64::MAX, Some(i64::MIN));
        assert!(
            stamp_problems(&extreme, i64::MAX)
                .iter()
                .any(Issue::is_error)
        );
        assert!(
            stamp_problems(&extreme, i64::MIN)
                .iter()
                .any(Issue::is_error)
        );
    }
}
