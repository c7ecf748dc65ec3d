//! The national vaccination schedule (Programa de Vacunación Universal, 2023–2024 scheme with
//! the hexavalent vaccine) as data, and the one rule that says whether a scheduled dose was
//! given: shared by the clinician's chart and nominal census (`web`) and the coverage report
//! (`ehr::reports`). Vaccines are matched by CVX code, as the record stores them. Pure; days
//! are day numbers since 1970-01-01 (`calendar`).

/// A dose is "due" from this many days before its age, and "overdue" this many days after.
pub const DUE_WINDOW_DAYS: i64 = 30;

/// One dose of the schedule.
#[derive(Clone, Copy, Debug)]
pub struct ScheduledDose {
    pub cvx: &'static str,
    pub vaccine_es: &'static str,
    pub vaccine_en: &'static str,
    /// 1-based dose number within the series.
    pub dose: u32,
    pub age_months: i64,
}

const fn dose(
    cvx: &'static str,
    vaccine_es: &'static str,
    vaccine_en: &'static str,
    dose: u32,
    age_months: i64,
) -> ScheduledDose {
    ScheduledDose {
        cvx,
        vaccine_es,
        vaccine_en,
        dose,
        age_months,
    }
}

/// The childhood schedule (Cartilla Nacional de Salud, niñas y niños de 0 a 9 años).
pub static CHILD_SCHEDULE: &[ScheduledDose] = &[
    dose("19", "BCG", "BCG (tuberculosis)", 1, 0),
    dose("08", "Hepatitis B", "Hepatitis B", 1, 0),
    dose("146", "Hexavalente", "Hexavalent (DTaP-IPV-Hib-HepB)", 1, 2),
    dose("146", "Hexavalente", "Hexavalent (DTaP-IPV-Hib-HepB)", 2, 4),
    dose("146", "Hexavalente", "Hexavalent (DTaP-IPV-Hib-HepB)", 3, 6),
    dose(
        "146",
        "Hexavalente",
        "Hexavalent (DTaP-IPV-Hib-HepB)",
        4,
        18,
    ),
    dose("116", "Rotavirus", "Rotavirus", 1, 2),
    dose("116", "Rotavirus", "Rotavirus", 2, 4),
    dose("116", "Rotavirus", "Rotavirus", 3, 6),
    dose(
        "133",
        "Neumocócica conjugada",
        "Pneumococcal conjugate",
        1,
        2,
    ),
    dose(
        "133",
        "Neumocócica conjugada",
        "Pneumococcal conjugate",
        2,
        4,
    ),
    dose(
        "133",
        "Neumocócica conjugada",
        "Pneumococcal conjugate",
        3,
        12,
    ),
    dose("03", "SRP (sarampión, rubéola, parotiditis)", "MMR", 1, 12),
    dose("03", "SRP (sarampión, rubéola, parotiditis)", "MMR", 2, 18),
    dose("01", "DPT", "DTP", 1, 48),
];

/// An immunization as recorded: CVX code, dose number (if recorded) and day given.
#[derive(Clone, Debug)]
pub struct Given {
    pub cvx: String,
    pub dose: Option<u32>,
    pub day: Option<i64>,
}

/// The recorded dose that stands for `scheduled`, if any: the one recorded with its number,
/// else the n-th of that vaccine by date (older records often lack numbers).
pub fn applied<'a>(scheduled: &ScheduledDose, given: &'a [Given]) -> Option<&'a Given> {
    let mut same: Vec<&Given> = given.iter().filter(|g| g.cvx == scheduled.cvx).collect();
    if let Some(numbered) = same.iter().find(|g| g.dose == Some(scheduled.dose)) {
        return Some(numbered);
    }
    same.sort_by_key(|g| g.day);
    same.get(scheduled.dose as usize - 1).copied()
}

/// The day a dose is due: `age_months` calendar months after birth (clamped to the month's
/// end, so a child born on 31 January is due on 28 or 29 February).
pub fn due_day(birth: i64, age_months: i64) -> i64 {
    let (y, m, d) = calendar::civil_from_days(birth);
    let total = y * 12 + i64::from(m) - 1 + age_months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let last = calendar::days_in_month(ny, nm);
    calendar::days_from_civil(ny, nm, d.min(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numbered_dose_wins_and_unnumbered_ones_count_by_date() {
        let hexa = |n: u32| {
            *CHILD_SCHEDULE
                .iter()
                .find(|d| d.cvx == "146" && d.dose == n)
                .expect("in the schedule")
        };
        let given = vec![
            Given {
                cvx: "146".into(),
                dose: None,
                day: Some(130),
            },
            Given {
                cvx: "146".into(),
                dose: None,
                day: Some(60),
            },
            Given {
                cvx: "146".into(),
                dose: Some(3),
                day: Some(190),
            },
        ];
        assert_eq!(applied(&hexa(1), &given).and_then(|g| g.day), Some(60));
        assert_eq!(applied(&hexa(2), &given).and_then(|g| g.day), Some(130));
        assert_eq!(applied(&hexa(3), &given).and_then(|g| g.day), Some(190));
        assert!(applied(&hexa(4), &given).is_none());
        let jan31 = calendar::days_from_civil(2024, 1, 31);
        assert_eq!(due_day(jan31, 1), calendar::days_from_civil(2024, 2, 29));
        assert_eq!(due_day(jan31, 12), calendar::days_from_civil(2025, 1, 31));
    }
}
