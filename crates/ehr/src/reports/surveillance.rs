//! The weekly surveillance view: new cases per state and CIE-10 code over recent
//! epidemiological weeks, each week against its endemic channel. Pure.
//!
//! The endemic channel rule (stated on the page): a week's count alerts when it is above the
//! 75th percentile of the counts of the same epidemiological week, same state and same code,
//! in the previous years the record holds (every epidemiological year from that of the
//! earliest new case to the year before; a year without cases that week counts 0). With fewer
//! than [`CHANNEL_YEARS_MIN`] previous years there is no channel and no alert.

use std::collections::{BTreeMap, HashMap};

use time::{Date, Duration};

use super::calc::NewCasesRow;
use super::dates::{epi_week, epi_week_start, epi_weeks_in};

/// Fewest previous years a channel is computed from.
pub const CHANNEL_YEARS_MIN: usize = 2;
/// Rows shown at most (the most relevant first).
pub const ROWS_MAX: usize = 200;

/// One state and code over the weeks shown.
#[derive(Clone, Debug, PartialEq)]
pub struct SurveillanceRow {
    pub state: String,
    pub cie10: String,
    /// New cases per week shown, oldest first.
    pub series: Vec<u64>,
    /// The channel (75th percentile) per week shown, when there are enough previous years.
    pub channel: Vec<Option<f64>>,
    /// Whether the last week shown is above its channel.
    pub alert: bool,
}

impl SurveillanceRow {
    /// Cases in the last week shown.
    pub fn cases(&self) -> u64 {
        self.series.last().copied().unwrap_or(0)
    }

    /// The channel of the last week shown.
    pub fn threshold(&self) -> Option<f64> {
        self.channel.last().copied().flatten()
    }
}

/// The weeks shown and their rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Surveillance {
    /// (epi year, epi week, its Sunday), oldest first; the last is the week asked for.
    pub weeks: Vec<(i32, u8, Date)>,
    /// Previous epidemiological years the channels come from.
    pub years_held: Vec<i32>,
    pub rows: Vec<SurveillanceRow>,
    /// More rows than [`ROWS_MAX`] had cases.
    pub truncated: bool,
}

/// The 75th percentile by linear interpolation between order statistics (R's type 7, the
/// spreadsheet `PERCENTILE`), so a reader can check it by hand.
pub fn percentile_75(values: &[u64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted: Vec<f64> = values.iter().map(|v| *v as f64).collect();
    sorted.sort_by(f64::total_cmp);
    let rank = 0.75 * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    Some(sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64))
}

/// Builds the view of the `count` weeks ending with the week holding `day`, from every new
/// case up to that week's end (`history`, the rows of `calc::new_cases`).
pub fn surveillance(history: &[NewCasesRow], day: Date, count: usize) -> Surveillance {
    let (year, week) = epi_week(day);
    let mut weeks = Vec::new();
    let mut sunday = epi_week_start(year, week).unwrap_or(day);
    for _ in 0..count.max(1) {
        let (y, w) = epi_week(sunday);
        weeks.push((y, w, sunday));
        sunday -= Duration::weeks(1);
    }
    weeks.reverse();
    let first_year = history.iter().map(|r| r.epi_year).min().unwrap_or(year);
    let by_key: HashMap<(&str, &str, i32, u8), u64> = history
        .iter()
        .map(|r| {
            (
                (r.state.as_str(), r.cie10.as_str(), r.epi_year, r.epi_week),
                r.cases,
            )
        })
        .collect();
    // (state, code) with a case in the weeks shown.
    let mut keys: BTreeMap<(&str, &str), ()> = BTreeMap::new();
    for r in history {
        if weeks
            .iter()
            .any(|(y, w, _)| *y == r.epi_year && *w == r.epi_week)
        {
            keys.insert((r.state.as_str(), r.cie10.as_str()), ());
        }
    }
    let mut rows: Vec<SurveillanceRow> = keys
        .into_keys()
        .map(|(state, code)| {
            let series: Vec<u64> = weeks
                .iter()
                .map(|(y, w, _)| by_key.get(&(state, code, *y, *w)).copied().unwrap_or(0))
                .collect();
            let channel: Vec<Option<f64>> = weeks
                .iter()
                .map(|(y, w, _)| {
                    let past: Vec<u64> = (first_year..*y)
                        .filter(|py| *w <= epi_weeks_in(*py))
                        .map(|py| by_key.get(&(state, code, py, *w)).copied().unwrap_or(0))
                        .collect();
                    if past.len() < CHANNEL_YEARS_MIN {
                        None
                    } else {
                        percentile_75(&past)
                    }
                })
                .collect();
            let alert = match (series.last(), channel.last().copied().flatten()) {
                (Some(cases), Some(threshold)) => (*cases as f64) > threshold,
                _ => false,
            };
            SurveillanceRow {
                state: state.to_string(),
                cie10: code.to_string(),
                series,
                channel,
                alert,
            }
        })
        .collect();
    // Alerts and immediately notifiable diseases first, then by this week's cases.
    rows.sort_by(|a, b| {
        let rank = |r: &SurveillanceRow| {
            (
                !r.alert,
                mexico::surveillance::requires_immediate_notification(&r.cie10).is_none(),
                std::cmp::Reverse(r.cases()),
                std::cmp::Reverse(r.series.iter().sum::<u64>()),
            )
        };
        rank(a)
            .cmp(&rank(b))
            .then_with(|| (&a.state, &a.cie10).cmp(&(&b.state, &b.cie10)))
    });
    let truncated = rows.len() > ROWS_MAX;
    rows.truncate(ROWS_MAX);
    Surveillance {
        weeks,
        years_held: (first_year..year).collect(),
        rows,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::dates::parse_day;

    fn row(state: &str, year: i32, week: u8, code: &str, cases: u64) -> NewCasesRow {
        NewCasesRow {
            state: state.into(),
            epi_year: year,
            epi_week: week,
            cie10: code.into(),
            cases,
        }
    }

    #[test]
    fn the_75th_percentile_interpolates() {
        assert_eq!(percentile_75(&[0, 2, 4, 10]), Some(5.5));
        assert_eq!(percentile_75(&[3, 1]), Some(2.5));
        assert_eq!(percentile_75(&[7]), Some(7.0));
        assert_eq!(percentile_75(&[]), None);
    }

    #[test]
    fn a_week_above_its_channel_alerts() {
        // Week 5 of 2023, 2024, 2025 had 1, 3 and 2 dengue cases in JC: P75 of [1, 2, 3] is 2.5.
        let history = vec![
            row("JC", 2023, 5, "A90", 1),
            row("JC", 2024, 5, "A90", 3),
            row("JC", 2025, 5, "A90", 2),
            row("JC", 2026, 5, "A90", 3),
            // DF only this year: its channel is the zeros of the years held.
            row("DF", 2026, 5, "A90", 9),
            // JC E11.9 at 2 this week, channel from zeros: above 0, an alert.
            row("JC", 2026, 5, "E11.9", 2),
            row("JC", 2026, 4, "A00", 1),
        ];
        // 2026-02-04 is in week 5 of 2026 (week 1 starts 2026-01-04).
        let view = surveillance(&history, parse_day("2026-02-04").unwrap(), 3);
        assert_eq!(
            view.weeks.iter().map(|w| (w.0, w.1)).collect::<Vec<_>>(),
            vec![(2026, 3), (2026, 4), (2026, 5)]
        );
        assert_eq!(view.years_held, vec![2023, 2024, 2025]);
        let find = |s: &str, c: &str| {
            view.rows
                .iter()
                .find(|r| r.state == s && r.cie10 == c)
                .unwrap()
        };
        let dengue = find("JC", "A90");
        assert_eq!(dengue.series, vec![0, 0, 3]);
        assert_eq!(dengue.threshold(), Some(2.5));
        assert!(dengue.alert);
        assert!(find("JC", "E11.9").alert);
        // DF has no previous years of its own, but the years held are the record's: zeros.
        assert_eq!(find("DF", "A90").threshold(), Some(0.0));
        // Cholera (immediate notification) last week only: listed, no alert this week.
        let cholera = find("JC", "A00");
        assert_eq!(cholera.series, vec![0, 1, 0]);
        assert!(!cholera.alert);
        // Alerts first.
        assert!(view.rows[0].alert);
    }

    #[test]
    fn without_two_previous_years_there_is_no_channel() {
        let history = vec![row("JC", 2025, 5, "A90", 1), row("JC", 2026, 5, "A90", 3)];
        let view = surveillance(&history, parse_day("2026-02-04").unwrap(), 1);
        assert_eq!(view.rows[0].threshold(), None);
        assert!(!view.rows[0].alert);
    }
}
