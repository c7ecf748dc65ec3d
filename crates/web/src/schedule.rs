//! The national vaccination schedule (Programa de Vacunación Universal, 2023–2024 scheme with the
//! hexavalent vaccine) and the status of each dose for one patient: applied, due, overdue.
//!
//! Why a table here: the chart must say what is missing, not only what was given, and the rule
//! is simple and fixed by the Secretaría de Salud: each dose has an age. Vaccines are matched by
//! CVX code, as the record stores them. Pure: today's day number comes in.

use crate::dates;

pub use mexico::vaccines::{CHILD_SCHEDULE, DUE_WINDOW_DAYS, Given, ScheduledDose};

/// Children are checked against the childhood schedule up to this age in months (the
/// Cartilla de 0 a 9 años plus school doses).
pub const CHILD_SCHEDULE_AGE_MONTHS_MAX: i64 = 16 * 12;

/// Adults from this age should have the seasonal influenza vaccine every season.
pub const INFLUENZA_ADULT_AGE_YEARS_MIN: i64 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoseStatus {
    Applied,
    Due,
    Overdue,
    /// Not yet due (shown so the family knows what comes next).
    Upcoming,
}

impl DoseStatus {
    /// Key of the status label in the message table.
    pub fn message_key(self) -> &'static str {
        match self {
            DoseStatus::Applied => "vac.applied",
            DoseStatus::Due => "vac.due",
            DoseStatus::Overdue => "vac.overdue",
            DoseStatus::Upcoming => "vac.upcoming",
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            DoseStatus::Applied => "ok",
            DoseStatus::Due => "warn",
            DoseStatus::Overdue => "bad",
            DoseStatus::Upcoming => "muted",
        }
    }
}

/// One row of the chart's immunization table.
#[derive(Clone, Debug)]
pub struct DoseRow {
    pub vaccine_es: &'static str,
    pub vaccine_en: &'static str,
    pub dose: u32,
    pub status: DoseStatus,
    /// Day applied, or day due.
    pub day: Option<i64>,
}

/// Compares a patient's immunizations with the schedule for their age.
pub fn evaluate(birth: i64, today: i64, given: &[Given]) -> Vec<DoseRow> {
    let mut rows = Vec::new();
    let age_months = dates::age_months(birth, today);
    if age_months <= CHILD_SCHEDULE_AGE_MONTHS_MAX {
        for scheduled in CHILD_SCHEDULE {
            let applied = mexico::vaccines::applied(scheduled, given);
            let due_day = dates::add_months(birth, scheduled.age_months);
            let (status, day) = match applied {
                Some(g) => (DoseStatus::Applied, g.day),
                None if today > due_day + DUE_WINDOW_DAYS => (DoseStatus::Overdue, Some(due_day)),
                None if today >= due_day - DUE_WINDOW_DAYS => (DoseStatus::Due, Some(due_day)),
                None => (DoseStatus::Upcoming, Some(due_day)),
            };
            rows.push(DoseRow {
                vaccine_es: scheduled.vaccine_es,
                vaccine_en: scheduled.vaccine_en,
                dose: scheduled.dose,
                status,
                day,
            });
        }
    }
    if age_months >= INFLUENZA_ADULT_AGE_YEARS_MIN * 12 {
        // The season starts in October; a dose given since the last 1 October counts.
        let (year, month, _) = dates::civil_from_days(today);
        let season_year = if month >= 10 { year } else { year - 1 };
        let season_start = dates::days_from_civil(season_year, 10, 1);
        let this_season = given
            .iter()
            .filter(|g| g.cvx == "141" || g.cvx == "140" || g.cvx == "150" || g.cvx == "88")
            .filter_map(|g| g.day)
            .filter(|d| *d >= season_start)
            .max();
        rows.push(DoseRow {
            vaccine_es: "Influenza estacional",
            vaccine_en: "Seasonal influenza",
            dose: 1,
            status: if this_season.is_some() {
                DoseStatus::Applied
            } else {
                DoseStatus::Due
            },
            day: this_season.or(Some(season_start)),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::days_from_civil;

    fn given(cvx: &str, dose: Option<u32>, day: i64) -> Given {
        Given {
            cvx: cvx.to_string(),
            dose,
            day: Some(day),
        }
    }

    #[test]
    fn a_six_month_old_missing_the_third_hexavalent_is_due_and_mmr_upcoming() {
        let birth = days_from_civil(2026, 4, 1);
        // Six months and 19 days: the third dose (due at six months) is within its window.
        let today = days_from_civil(2026, 10, 20);
        let rows = evaluate(
            birth,
            today,
            &[
                given("19", Some(1), birth),
                given("146", Some(1), birth + 61),
                given("146", None, birth + 125),
            ],
        );
        let status = |cvx_es: &str, n: u32| {
            rows.iter()
                .find(|r| r.vaccine_es == cvx_es && r.dose == n)
                .map(|r| r.status)
        };
        assert_eq!(status("BCG", 1), Some(DoseStatus::Applied));
        assert_eq!(status("Hepatitis B", 1), Some(DoseStatus::Overdue));
        assert_eq!(status("Hexavalente", 1), Some(DoseStatus::Applied));
        // The unnumbered dose given at four months is the second by date.
        assert_eq!(status("Hexavalente", 2), Some(DoseStatus::Applied));
        assert_eq!(status("Hexavalente", 3), Some(DoseStatus::Due));
        assert_eq!(
            status("SRP (sarampión, rubéola, parotiditis)", 1),
            Some(DoseStatus::Upcoming)
        );
    }

    #[test]
    fn older_adults_need_influenza_each_season() {
        let birth = days_from_civil(1950, 5, 5);
        let today = days_from_civil(2026, 11, 20);
        let rows = evaluate(
            birth,
            today,
            &[given("141", Some(1), days_from_civil(2025, 11, 1))],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, DoseStatus::Due);
        let rows = evaluate(
            birth,
            today,
            &[given("141", Some(1), days_from_civil(2026, 10, 20))],
        );
        assert_eq!(rows[0].status, DoseStatus::Applied);
    }
}
