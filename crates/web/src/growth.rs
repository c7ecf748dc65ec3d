//! Growth charts for children: the child's weight (to five years), height and BMI (to 19
//! years) drawn over the WHO percentile curves (P3, P15, P50, P85, P97) for their sex, and the
//! band the latest measurement falls in, as NOM-031 asks the clinician to assess growth.
//!
//! Why the percentile bands and not only a trend: a child's line means little without the
//! reference — a flat weight line is normal at four years and alarming at four months. The
//! tables are the WHO's (see `who.rs`), drawn as inline SVG like every other trend.

mod who;

use std::fmt::Write;

/// Average days per month, for ages in months.
const DAYS_PER_MONTH: f64 = 30.4375;

/// Drawing size in SVG user units; the figure spans the page's width (CSS caps it), so a unit
/// is about a pixel and a half on a landscape tablet.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 340.0;
/// Room for the value ticks (left), the ages (bottom) and the percentile names (right).
const LEFT: f64 = 46.0;
const RIGHT: f64 = 34.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 28.0;
/// Label size in user units (about 15 px on a tablet).
const FONT: f64 = 11.0;

/// What is charted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Weight-for-age, 0–5 years (the WHO recommends BMI-for-age after five).
    Weight,
    /// Length/height-for-age, 0–19 years.
    Height,
    /// BMI-for-age, 0–19 years.
    Bmi,
}

/// The WHO table (one row per completed month from birth) for a measure and a FHIR `gender`
/// (none for other values).
fn table(measure: Measure, gender: &str) -> Option<&'static [[f64; 5]]> {
    match (measure, gender) {
        (Measure::Weight, "male") => Some(&who::WEIGHT_BOYS),
        (Measure::Weight, "female") => Some(&who::WEIGHT_GIRLS),
        (Measure::Height, "male") => Some(&who::HEIGHT_BOYS),
        (Measure::Height, "female") => Some(&who::HEIGHT_GIRLS),
        (Measure::Bmi, "male") => Some(&who::BMI_BOYS),
        (Measure::Bmi, "female") => Some(&who::BMI_GIRLS),
        _ => None,
    }
}

/// The last month a table covers.
fn months_max(rows: &[[f64; 5]]) -> usize {
    rows.len().saturating_sub(1)
}

/// Age in (fractional) months at `day`, for a child born on `birth_day` (days since epoch).
fn age_months(birth_day: i64, day: i64) -> f64 {
    (day - birth_day) as f64 / DAYS_PER_MONTH
}

/// The percentile values at a fractional age, interpolated between completed months.
fn at_age(rows: &[[f64; 5]], months: f64) -> Option<[f64; 5]> {
    let last = months_max(rows);
    if !(0.0..=last as f64).contains(&months) {
        return None;
    }
    let low = months.floor() as usize;
    let high = (low + 1).min(last);
    let frac = months - low as f64;
    let (a, b) = (rows.get(low)?, rows.get(high)?);
    let mut out = [0.0; 5];
    for (i, value) in out.iter_mut().enumerate() {
        *value = a[i] + (b[i] - a[i]) * frac;
    }
    Some(out)
}

/// The band a measurement falls in: "<P3", "P3–P15", …, ">P97".
pub fn band(
    measure: Measure,
    gender: &str,
    birth_day: i64,
    day: i64,
    value: f64,
) -> Option<&'static str> {
    let rows = table(measure, gender)?;
    let p = at_age(rows, age_months(birth_day, day))?;
    const BANDS: [&str; 6] = ["<P3", "P3–P15", "P15–P50", "P50–P85", "P85–P97", ">P97"];
    let idx = p.iter().take_while(|limit| value >= **limit).count();
    BANDS.get(idx).copied()
}

/// The chart, when the child has measurements within the standards' ages and a sex they cover.
///
/// Drawn large (a full-width figure on the chart page) with both axes labelled — age in months
/// or years, the measure in its unit — and the percentile names at the right, so that it can be
/// read on a tablet and on paper (issue 13: a 200-pixel chart with unreadable labels).
pub fn chart(
    measure: Measure,
    gender: &str,
    birth_day: i64,
    points: &[(i64, f64)],
) -> Option<String> {
    let rows = table(measure, gender)?;
    let last = months_max(rows);
    let child: Vec<(f64, f64)> = points
        .iter()
        .map(|(day, value)| (age_months(birth_day, *day), *value))
        .filter(|(months, value)| (0.0..=last as f64).contains(months) && value.is_finite())
        .collect();
    if child.is_empty() {
        return None;
    }
    // Show the ages the measurements cover (at least a year), not the whole table.
    let first_age = child.iter().map(|p| p.0).fold(f64::MAX, f64::min);
    let last_age = child.iter().map(|p| p.0).fold(0.0, f64::max);
    let span = (last_age.ceil() as usize + 2).clamp(12, last);
    let start = (first_age.floor() as usize)
        .saturating_sub(2)
        .min(span.saturating_sub(12));
    let (mut min_v, mut max_v) = (f64::MAX, f64::MIN);
    for row in rows.iter().take(span + 1).skip(start) {
        min_v = min_v.min(row[0]);
        max_v = max_v.max(row[4]);
    }
    for (_, value) in &child {
        min_v = min_v.min(*value);
        max_v = max_v.max(*value);
    }
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |months: f64| LEFT + (months - start as f64) / (span - start).max(1) as f64 * plot_w;
    let y = |v: f64| TOP + (max_v - v) / (max_v - min_v).max(f64::EPSILON) * plot_h;
    let unit = match measure {
        Measure::Weight => "kg",
        Measure::Height => "cm",
        Measure::Bmi => "kg/m²",
    };
    let mut out = String::with_capacity(6_000);
    let _ = write!(
        out,
        r#"<svg class="trend growth" viewBox="0 0 {WIDTH} {HEIGHT}" aria-hidden="true" focusable="false">"#
    );
    // Axes, with the measure's ticks (five, rounded) and the ages.
    let _ = write!(
        out,
        r##"<path d="M{LEFT} {TOP}V{:.1}H{:.1}" fill="none" stroke="#595959" stroke-width="1"/>"##,
        TOP + plot_h,
        LEFT + plot_w
    );
    for i in 0..=4 {
        let value = min_v + (max_v - min_v) * f64::from(i) / 4.0;
        let _ = write!(
            out,
            r##"<path d="M{LEFT} {y:.1}h{plot_w}" stroke="#e0e0e0" stroke-width=".8"/><text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="end" fill="#333">{}</text>"##,
            LEFT - 4.0,
            y(value) + FONT / 3.0,
            tick(value),
            y = y(value),
        );
    }
    let _ = write!(
        out,
        r##"<text x="4" y="{:.1}" font-size="{FONT}" fill="#333">{unit}</text>"##,
        TOP - FONT
    );
    let step = age_step(span - start);
    let mut month = start.div_ceil(step) * step;
    while month <= span {
        let _ = write!(
            out,
            r##"<path d="M{x:.1} {TOP}v{plot_h}" stroke="#eeeeee" stroke-width=".8"/><text x="{x:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" fill="#333">{}</text>"##,
            TOP + plot_h + FONT + 4.0,
            age_label(month),
            x = x(month as f64),
        );
        month += step;
    }
    // The percentile curves, P50 stronger; their names at the right end.
    for (i, name) in ["P3", "P15", "P50", "P85", "P97"].iter().enumerate() {
        let width = if i == 2 { 2.0 } else { 1.0 };
        let _ = write!(
            out,
            r##"<polyline fill="none" stroke="#8a8a8a" stroke-width="{width}" points=""##
        );
        for (month, row) in rows.iter().enumerate().take(span + 1).skip(start) {
            if month > start {
                out.push(' ');
            }
            let _ = write!(out, "{:.1},{:.1}", x(month as f64), y(row[i]));
        }
        out.push_str(r#""/>"#);
        if let Some(row) = rows.get(span) {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" font-size="{FONT}" fill="#333">{name}</text>"##,
                LEFT + plot_w + 4.0,
                y(row[i]) + FONT / 3.0
            );
        }
    }
    out.push_str(r#"<polyline fill="none" stroke="currentColor" stroke-width="2.5" points=""#);
    for (i, (months, value)) in child.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{:.1},{:.1}", x(*months), y(*value));
    }
    out.push_str(r#""/>"#);
    for (months, value) in &child {
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="currentColor"/>"#,
            x(*months),
            y(*value)
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// A value tick: one decimal under 20 (weights of small children), whole numbers above.
fn tick(value: f64) -> String {
    if value < 20.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// Months between age ticks, for a span of months: about six ticks.
fn age_step(span_months: usize) -> usize {
    match span_months {
        0..=18 => 3,
        19..=36 => 6,
        37..=96 => 12,
        _ => 24,
    }
}

/// An age as the axis shows it: `6 m` under two years, `3 a` after.
fn age_label(months: usize) -> String {
    if months < 24 || !months.is_multiple_of(12) {
        format!("{months} m")
    } else {
        format!("{} a", months / 12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BORN: i64 = 20_000;

    #[test]
    fn the_tables_are_the_who_medians_and_grow_with_age() {
        // WHO: boys' median weight 3.3 kg at birth, 18.3 kg at five; girls' length 49.1 cm at
        // birth.
        assert_eq!(who::WEIGHT_BOYS[0][2], 3.3);
        assert_eq!(who::WEIGHT_BOYS[60][2], 18.3);
        assert_eq!(who::HEIGHT_GIRLS[0][2], 49.1);
        let tables: [&[[f64; 5]]; 6] = [
            &who::WEIGHT_BOYS[..],
            &who::WEIGHT_GIRLS[..],
            &who::HEIGHT_BOYS[..],
            &who::HEIGHT_GIRLS[..],
            &who::BMI_BOYS[..],
            &who::BMI_GIRLS[..],
        ];
        for rows in tables {
            for row in rows {
                assert!(
                    row.windows(2).all(|w| w[0] < w[1]),
                    "percentiles ascend: {row:?}"
                );
            }
        }
        for rows in [
            &who::WEIGHT_BOYS[..],
            &who::HEIGHT_GIRLS[..],
            &who::HEIGHT_BOYS[..],
        ] {
            assert!(rows[60][2] > rows[12][2] && rows[12][2] > rows[0][2]);
        }
        assert_eq!(who::HEIGHT_BOYS.len(), 229);
        assert_eq!(who::BMI_GIRLS.len(), 229);
    }

    #[test]
    fn a_measurement_falls_in_its_band() {
        let day = |months: f64| BORN + (months * DAYS_PER_MONTH).round() as i64;
        // A 12-month-old boy: P50 is 9.6 kg, P3 7.8 kg, P97 11.8 kg.
        assert_eq!(
            band(Measure::Weight, "male", BORN, day(12.0), 9.7),
            Some("P50–P85")
        );
        assert_eq!(
            band(Measure::Weight, "male", BORN, day(12.0), 7.0),
            Some("<P3")
        );
        assert_eq!(
            band(Measure::Weight, "male", BORN, day(12.0), 12.5),
            Some(">P97")
        );
        // Outside the standards' ages or sexes there is no band.
        assert_eq!(band(Measure::Weight, "male", BORN, day(70.0), 20.0), None);
        assert_eq!(band(Measure::Weight, "unknown", BORN, day(12.0), 9.7), None);
    }

    #[test]
    fn the_chart_draws_five_curves_and_the_childs_points() {
        let points = [(BORN + 30, 4.5), (BORN + 180, 7.9), (BORN + 365, 9.6)];
        let svg = chart(Measure::Weight, "female", BORN, &points).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(">P97</text>") && svg.contains(">P3</text>"));
        assert!(chart(Measure::Weight, "female", BORN, &[(BORN + 3_000, 20.0)]).is_none());
    }

    #[test]
    fn height_and_bmi_reach_nineteen_years_from_the_2007_reference() {
        let day = |years: f64| BORN + (years * 12.0 * DAYS_PER_MONTH).round() as i64;
        // WHO 2007: a 10-year-old girl's median height 138.6 cm; a 15-year-old boy's median
        // BMI 19.8.
        assert_eq!(
            band(Measure::Height, "female", BORN, day(10.0), 138.0),
            Some("P15–P50")
        );
        assert_eq!(
            band(Measure::Bmi, "male", BORN, day(15.0), 27.0),
            Some(">P97")
        );
        assert_eq!(
            band(Measure::Bmi, "male", BORN, day(15.0), 20.0),
            Some("P50–P85")
        );
        // Weight-for-age stops at five; adults have no reference.
        assert_eq!(band(Measure::Weight, "male", BORN, day(7.0), 25.0), None);
        assert_eq!(band(Measure::Height, "male", BORN, day(30.0), 175.0), None);
        let teen = [(day(12.0), 150.0), (day(13.0), 156.0), (day(14.0), 162.0)];
        let svg = chart(Measure::Height, "male", BORN, &teen).unwrap();
        assert_eq!(svg.matches("<circle").count(), 3);
    }
}
