//! Medicine demand per CNIS key and facility per month, from prescriptions, with a forecast of
//! the next three months. Pure.
//!
//! Demand is the quantity prescribed to dispense (`dispenseRequest.quantity`, in units of the
//! CNIS presentation), counted in the month (Mexico City) the prescription was authored, at the
//! facility of its Encounter. Prescriptions cancelled, entered in error or drafts do not count.
//!
//! The forecast rule (stated with the figures): a straight line fitted by least squares to the
//! monthly quantities held (from the first month with a prescription of that key at that
//! facility, at most the last 24 months, to the last month; months without prescriptions in
//! between count 0)
//! gives the trend; when at least 24 months are held, each calendar month's seasonal index is
//! its quantity over the mean of its 12-month block, averaged over the last two years (scaled
//! to mean 1), the trend is fitted to the quantities divided by their index, and the forecast
//! is the trend times the index; without 24 months the index is 1. Forecasts below 0 are 0; figures are rounded up
//! to whole units (what to send).

use std::collections::{BTreeMap, HashMap};

use fhir::Json;

use super::calc::{EncounterFacts, reference_id, referenced_id};
use super::dates::local_date;

/// Months of history the forecast uses at most.
pub const HISTORY_MONTHS: usize = 24;
/// Months forecast.
pub const FORECAST_MONTHS: usize = 3;

/// A month as (year, month 1–12).
pub type Month = (i32, u8);

fn next_month((y, m): Month) -> Month {
    if m == 12 { (y + 1, 1) } else { (y, m + 1) }
}

fn previous_month((y, m): Month) -> Month {
    if m == 1 { (y - 1, 12) } else { (y, m - 1) }
}

/// One facility and CNIS key: its monthly quantities and forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct DemandRow {
    pub clues: String,
    pub cnis: String,
    /// The medicine as written on the prescriptions (the first in alphabetical order).
    pub display: String,
    /// (month, prescriptions, units) for each month held, oldest first, ending at the last
    /// complete month.
    pub history: Vec<(Month, u64, f64)>,
    /// (month, units) for the next [`FORECAST_MONTHS`] months.
    pub forecast: Vec<(Month, u64)>,
}

/// (facility, CNIS key) → month → (prescriptions, units).
type Cells<'a> = BTreeMap<(&'a str, &'a str), HashMap<Month, (u64, f64)>>;

/// One prescription as demand counts it.
#[derive(Clone, Debug, PartialEq)]
pub struct Prescribed {
    pub clues: String,
    pub cnis: String,
    /// The medicine as written on the prescription.
    pub display: String,
    /// The Mexico City month it was authored.
    pub month: Month,
    /// Units to dispense.
    pub units: f64,
}

/// What demand keeps of one patient: their prescriptions that count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prescriptions(pub Vec<Prescribed>);

/// Each patient's counted prescriptions, by patient id (`subject`): not cancelled, entered in
/// error or draft; coded in the CNIS; authored on a known day; in an Encounter of a known
/// facility.
pub fn prescribed(
    requests: &[Json],
    encounters: &HashMap<String, EncounterFacts>,
) -> HashMap<String, Prescriptions> {
    let mut out: HashMap<String, Prescriptions> = HashMap::new();
    for request in requests {
        let status = request.get("status").and_then(Json::as_str);
        if matches!(status, Some("cancelled" | "entered-in-error" | "draft")) {
            continue;
        }
        let Some(patient) = reference_id(request, "subject", "Patient") else {
            continue;
        };
        let Some(coding) = request
            .get("medicationCodeableConcept")
            .and_then(|c| c.get("coding"))
            .and_then(Json::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("system").and_then(Json::as_str) == Some(mexico::systems::CNIS))
            })
        else {
            continue;
        };
        let Some(cnis) = coding.get("code").and_then(Json::as_str) else {
            continue;
        };
        let Some(date) = request
            .get("authoredOn")
            .and_then(Json::as_str)
            .and_then(local_date)
        else {
            continue;
        };
        let Some(clues) = request
            .get("encounter")
            .and_then(|e| e.get("reference"))
            .and_then(Json::as_str)
            .and_then(|r| referenced_id(r, "Encounter"))
            .and_then(|id| encounters.get(id))
            .and_then(EncounterFacts::clues)
        else {
            continue;
        };
        let units = request
            .get("dispenseRequest")
            .and_then(|d| d.get("quantity"))
            .and_then(|q| q.get("value"))
            .and_then(Json::as_number_text)
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(0.0);
        out.entry(patient.to_string())
            .or_default()
            .0
            .push(Prescribed {
                clues: clues.to_string(),
                cnis: cnis.to_string(),
                display: coding
                    .get("display")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
                month: (date.year(), u8::from(date.month())),
                units,
            });
    }
    out
}

/// Monthly demand and forecast for the [`HISTORY_MONTHS`] months ending with `last` (a
/// complete month), from the prescriptions counted. A key's display is the first in
/// alphabetical order of those written (so the same data always gives the same page).
pub fn demand_rows<'a>(
    prescriptions: impl Iterator<Item = &'a Prescribed>,
    last: Month,
) -> Vec<DemandRow> {
    let mut months = vec![last];
    while months.len() < HISTORY_MONTHS {
        let earlier = previous_month(*months.last().unwrap_or(&last));
        months.push(earlier);
    }
    months.reverse();
    let first = months[0];
    // (clues, cnis) → month → (prescriptions, units); and the display.
    let mut cells: Cells<'_> = BTreeMap::new();
    let mut names: HashMap<&str, &str> = HashMap::new();
    for p in prescriptions {
        if p.month < first || p.month > last {
            continue;
        }
        let name = names.entry(p.cnis.as_str()).or_insert(p.display.as_str());
        if !p.display.is_empty() && (name.is_empty() || p.display.as_str() < *name) {
            *name = p.display.as_str();
        }
        let cell = cells
            .entry((p.clues.as_str(), p.cnis.as_str()))
            .or_default()
            .entry(p.month)
            .or_default();
        cell.0 += 1;
        cell.1 += p.units;
    }
    cells
        .into_iter()
        .map(|((clues, cnis), by_month)| {
            let history: Vec<(Month, u64, f64)> = months
                .iter()
                .map(|m| {
                    let (n, units) = by_month.get(m).copied().unwrap_or((0, 0.0));
                    (*m, n, units)
                })
                .collect();
            // The months held start at the first prescription of the key there: months
            // before it say nothing about its demand (it was not used yet).
            let series: Vec<(Month, f64)> = history
                .iter()
                .skip_while(|(_, n, _)| *n == 0)
                .map(|(m, _, u)| (*m, *u))
                .collect();
            DemandRow {
                display: names.get(cnis).map(|n| n.to_string()).unwrap_or_default(),
                clues: clues.to_string(),
                cnis: cnis.to_string(),
                forecast: forecast(&series),
                history,
            }
        })
        .collect()
}

/// The next [`FORECAST_MONTHS`] months of a monthly series (oldest first) by the module's rule.
pub fn forecast(series: &[(Month, f64)]) -> Vec<(Month, u64)> {
    let n = series.len();
    let Some(&(last, _)) = series.last() else {
        return Vec::new();
    };
    // Seasonal index per calendar month, from the last 24 months: each month's quantity over
    // the mean of its 12-month block, averaged over the two blocks, then scaled to mean 1.
    let mut index: HashMap<u8, f64> = HashMap::new();
    if n >= 24 {
        let recent = &series[n - 24..];
        let mut ratios: HashMap<u8, Vec<f64>> = HashMap::new();
        for block in recent.chunks(12) {
            let mean = block.iter().map(|s| s.1).sum::<f64>() / 12.0;
            if mean > 0.0 {
                for ((_, month), value) in block {
                    ratios.entry(*month).or_default().push(value / mean);
                }
            }
        }
        for (month, r) in ratios {
            index.insert(month, r.iter().sum::<f64>() / r.len() as f64);
        }
        let total: f64 = index.values().sum();
        if total > 0.0 && index.len() == 12 {
            for v in index.values_mut() {
                *v *= 12.0 / total;
            }
        } else {
            index.clear();
        }
    }
    let season = |month: u8| {
        index
            .get(&month)
            .copied()
            .filter(|v| *v > 0.0)
            .unwrap_or(1.0)
    };
    // The trend: least squares over the deseasonalised series, x = 0..n.
    let ys: Vec<f64> = series.iter().map(|((_, m), v)| v / season(*m)).collect();
    let mean_x = (n as f64 - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / n as f64;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxx += dx * dx;
        sxy += dx * (y - mean_y);
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let mut out = Vec::new();
    let mut month = last;
    for step in 1..=FORECAST_MONTHS {
        month = next_month(month);
        let trend = mean_y + slope * ((n - 1 + step) as f64 - mean_x);
        let value = (trend * season(month.1)).max(0.0);
        // Rounded up, after dropping floating-point dust (100.000000001 is 100).
        let units = ((value * 1e6).round() / 1e6).ceil();
        out.push((month, units as u64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn months_from(start: Month, values: &[f64]) -> Vec<(Month, f64)> {
        let mut m = start;
        values
            .iter()
            .map(|v| {
                let out = (m, *v);
                m = next_month(m);
                out
            })
            .collect()
    }

    #[test]
    fn a_steady_trend_continues() {
        // 10, 12, 14, … over 12 months: the line goes on by 2 a month.
        let values: Vec<f64> = (0..12).map(|i| 10.0 + 2.0 * i as f64).collect();
        let series = months_from((2025, 1), &values);
        assert_eq!(
            forecast(&series),
            vec![((2026, 1), 34), ((2026, 2), 36), ((2026, 3), 38)]
        );
    }

    #[test]
    fn two_years_bring_the_season() {
        // Flat at 100, except every December at 200: the index of December is about 1.9.
        let values: Vec<f64> = (0..24)
            .map(|i| if i % 12 == 11 { 200.0 } else { 100.0 })
            .collect();
        let series = months_from((2024, 1), &values);
        // The next months are January to March, ordinary months: about the level.
        let next = forecast(&series);
        assert_eq!(next[0].0, (2026, 1));
        assert!((95..=105).contains(&next[0].1), "{next:?}");
        // A series ending in November forecasts a high December.
        let series: Vec<(Month, f64)> = months_from((2023, 12), &values)
            .into_iter()
            .map(|(m, _)| (m, if m.1 == 12 { 200.0 } else { 100.0 }))
            .collect();
        let next = forecast(&series);
        assert_eq!(next[0].0, (2025, 12));
        assert!(next[0].1 > 170, "{next:?}");
    }

    #[test]
    fn demand_is_never_negative() {
        let values: Vec<f64> = (0..6).map(|i| 50.0 - 10.0 * i as f64).collect();
        let next = forecast(&months_from((2026, 1), &values));
        assert!(next.iter().all(|(_, v)| *v == 0), "{next:?}");
    }
}
