//! Lab and vital-sign trends as inline SVG line charts with axes and values.
//!
//! Why hand-written SVG: a chart is a polyline, a few ticks and labels; inline SVG needs no
//! script, no font and no request, prints well, and costs a few hundred bytes — the page budget
//! is 60 KB on a 256 kbit/s link. The value axis is labelled at its ends and middle, the time
//! axis at its first and last dates, and the latest value is written next to its point, so the
//! chart can be read on its own (issue 13: trends had no axes or values). Screen readers get
//! the same numbers from the caption and the tables next to it.

use std::fmt::Write;

/// Drawing size in SVG user units (scaled by CSS to the column width, aspect kept).
pub const WIDTH: f64 = 320.0;
pub const HEIGHT: f64 = 130.0;
/// Room for the value labels (left), the date labels (bottom) and the last value (right).
const LEFT: f64 = 34.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 18.0;
/// Label size in user units: about 14 px on a tablet's half-width column.
const FONT: f64 = 9.0;

/// A value as a label: no trailing `.0`, one decimal otherwise.
fn label(value: f64) -> String {
    if (value - value.round()).abs() < 0.05 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The SVG markup for `points` (day number, value), oldest first. Values and dates are plain
/// numbers, so the output needs no escaping.
pub fn line_chart(points: &[(i64, f64)]) -> String {
    let mut out = String::with_capacity(600 + points.len() * 24);
    let _ = write!(
        out,
        r#"<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" aria-hidden="true" focusable="false">"#
    );
    let finite: Vec<(i64, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
    if let (Some(first), Some(last)) = (finite.first(), finite.last()) {
        let (min_day, max_day) = (first.0, last.0);
        let (mut min_v, mut max_v) = finite.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
        if (max_v - min_v).abs() < f64::EPSILON {
            min_v -= 1.0;
            max_v += 1.0;
        }
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let x = |day: i64| {
            if max_day == min_day {
                LEFT + plot_w / 2.0
            } else {
                LEFT + (day - min_day) as f64 / (max_day - min_day) as f64 * plot_w
            }
        };
        let y = |v: f64| TOP + (max_v - v) / (max_v - min_v) * plot_h;
        // Axes and three value ticks with their gridlines.
        let _ = write!(
            out,
            r##"<path d="M{LEFT} {TOP}V{:.1}H{:.1}" fill="none" stroke="#767676" stroke-width="1"/>"##,
            TOP + plot_h,
            LEFT + plot_w
        );
        for value in [max_v, (max_v + min_v) / 2.0, min_v] {
            let _ = write!(
                out,
                r##"<path d="M{LEFT} {:.1}h{plot_w}" stroke="#d0d0d0" stroke-width=".6"/><text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="end" fill="#444">{}</text>"##,
                y(value),
                LEFT - 3.0,
                y(value) + FONT / 3.0,
                label(value)
            );
        }
        // Dates of the first and last points.
        let _ = write!(
            out,
            r##"<text x="{LEFT}" y="{:.1}" font-size="{FONT}" fill="#444">{}</text>"##,
            HEIGHT - 4.0,
            crate::dates::display(min_day)
        );
        if max_day != min_day {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="end" fill="#444">{}</text>"##,
                LEFT + plot_w,
                HEIGHT - 4.0,
                crate::dates::display(max_day)
            );
        }
        out.push_str(r#"<polyline fill="none" stroke="currentColor" stroke-width="2" points=""#);
        for (i, (day, value)) in finite.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{:.1},{:.1}", x(*day), y(*value));
        }
        out.push_str(r#""/>"#);
        for (day, value) in &finite {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="currentColor"/>"#,
                x(*day),
                y(*value)
            );
        }
        // The latest value, next to its point.
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" font-size="{FONT}" font-weight="700" fill="currentColor">{}</text>"#,
            x(last.0) + 4.0,
            y(last.1) + FONT / 3.0,
            label(last.1)
        );
    }
    out.push_str("</svg>");
    out
}

/// Weekly counts as bars (oldest first, labelled by epidemiological week number) with the
/// endemic channel as a dashed line where it exists: the surveillance chart. The highest value
/// is written on the axis, each bar's count above it, so the chart reads without a legend.
pub fn week_bars(weeks: &[u8], counts: &[u64], channel: &[Option<f64>]) -> String {
    let labels: Vec<String> = weeks.iter().map(u8::to_string).collect();
    bars(&labels, counts, channel, counts.len())
}

/// Monthly quantities as bars (oldest first, labelled by month number), those from
/// `forecast_from` on drawn hatched-light as a forecast: the medicine-demand chart.
pub fn month_bars(months: &[u8], quantities: &[u64], forecast_from: usize) -> String {
    let labels: Vec<String> = months.iter().map(u8::to_string).collect();
    bars(&labels, quantities, &[], forecast_from)
}

/// Bars with their labels and counts, an optional dashed reference line per bar, and the bars
/// from `forecast_from` on drawn lighter with class `forecast`.
fn bars(
    labels: &[String],
    counts: &[u64],
    channel: &[Option<f64>],
    forecast_from: usize,
) -> String {
    let mut out = String::with_capacity(800 + counts.len() * 160);
    let _ = write!(
        out,
        r#"<svg class="bars" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-caption">"#
    );
    let n = counts.len().min(labels.len());
    if n == 0 {
        out.push_str("</svg>");
        return out;
    }
    let top = counts
        .iter()
        .map(|c| *c as f64)
        .chain(channel.iter().flatten().copied())
        .fold(1.0_f64, f64::max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let y = |v: f64| TOP + (top - v) / top * plot_h;
    let _ = write!(
        out,
        r#"<path d="M{LEFT} {TOP} V{bottom} H{right}" stroke="currentColor" fill="none" stroke-width="0.6"/><text x="{lx:.1}" y="{ty:.1}" font-size="{FONT}" text-anchor="end" fill="currentColor">{top_label}</text><text x="{lx:.1}" y="{bottom:.1}" font-size="{FONT}" text-anchor="end" fill="currentColor">0</text>"#,
        bottom = TOP + plot_h,
        right = WIDTH - RIGHT,
        lx = LEFT - 3.0,
        ty = TOP + FONT / 2.0,
        top_label = label(top),
    );
    // Labels of two digits need ~1.4 font sizes: with narrower bars, every k-th is labelled,
    // counting back from the last.
    let every = (FONT * 1.4 / slot).ceil().max(1.0) as usize;
    for (i, (label, count)) in labels.iter().zip(counts).take(n).enumerate() {
        let label = if (n - 1 - i).is_multiple_of(every) {
            label.as_str()
        } else {
            ""
        };
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let h = *count as f64 / top * plot_h;
        let (class, opacity) = if i >= forecast_from {
            ("bar forecast", "0.25")
        } else {
            ("bar", "0.55")
        };
        let _ = write!(
            out,
            r#"<rect class="{class}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="currentColor" opacity="{opacity}" stroke="currentColor" stroke-width="0.4"/><text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" fill="currentColor">{label}</text>"#,
            TOP + plot_h - h,
            slot * 0.7,
            x + slot * 0.35,
            HEIGHT - 4.0,
        );
        if *count > 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" font-size="{FONT}" text-anchor="middle" font-weight="700" fill="currentColor">{count}</text>"#,
                x + slot * 0.35,
                TOP + plot_h - h - 2.0,
            );
        }
    }
    // The channel: one dashed segment per week that has one.
    let mut path = String::new();
    for (i, value) in channel.iter().take(n).enumerate() {
        if let Some(v) = value {
            let x0 = LEFT + slot * i as f64;
            let _ = write!(path, "M{x0:.1} {:.1} h{slot:.1} ", y(*v));
        }
    }
    if !path.is_empty() {
        let _ = write!(
            out,
            r#"<path class="channel" d="{}" stroke="currentColor" stroke-dasharray="3 2" stroke-width="1.2" fill="none"/>"#,
            path.trim_end()
        );
    }
    out.push_str("</svg>");
    out
}

/// Two stacked shares as one horizontal bar (0–100 %): the lighter part measured, the darker
/// part at target, with the controlled percentage written at its end. For a table cell.
pub fn share_bar(measured_pct: f64, controlled_pct: f64) -> String {
    let clamp = |v: f64| {
        if v.is_finite() {
            v.clamp(0.0, 100.0)
        } else {
            0.0
        }
    };
    let (measured, controlled) = (clamp(measured_pct), clamp(controlled_pct));
    format!(
        r#"<svg class="share" viewBox="0 0 130 14" aria-hidden="true" focusable="false"><rect x="0" y="2" width="100" height="10" fill="none" stroke="currentColor" stroke-width="0.5"/><rect class="measured" x="0" y="2" width="{measured:.1}" height="10" fill="currentColor" opacity="0.3"/><rect class="controlled" x="0" y="2" width="{controlled:.1}" height="10" fill="currentColor" opacity="0.8"/><text x="103" y="11" font-size="10" fill="currentColor">{controlled:.0}%</text></svg>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_value_is_drawn_at_the_top_and_the_latest_at_the_right() {
        let svg = line_chart(&[(0, 100.0), (10, 200.0), (20, 150.0)]);
        assert!(
            svg.contains(r#"points="34.0,112.0 162.0,8.0 290.0,60.0""#),
            "{svg}"
        );
        assert_eq!(svg.matches("<circle").count(), 3);
    }

    #[test]
    fn the_axes_carry_values_dates_and_the_latest_value() {
        let svg = line_chart(&[(20_000, 100.0), (20_030, 200.0), (20_060, 150.0)]);
        for text in [">200<", ">150<", ">100<", ">04/10/2024<", ">03/12/2024<"] {
            assert!(svg.contains(text), "{text} in {svg}");
        }
        // Value ticks (max, middle, min) and the latest value: 150 appears twice.
        assert_eq!(svg.matches(">150<").count(), 2);
    }

    #[test]
    fn weekly_bars_carry_counts_weeks_and_the_channel() {
        let svg = week_bars(&[3, 4, 5], &[1, 0, 4], &[None, Some(2.0), Some(2.5)]);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 3);
        for text in [">3<", ">4<", ">5<", ">1<"] {
            assert!(svg.contains(text), "{text} in {svg}");
        }
        assert_eq!(svg.matches("class=\"channel\"").count(), 1);
        assert!(!svg.contains("forecast"), "{svg}");
        // Two weeks have a channel: two segments.
        let channel = svg.split("class=\"channel\" d=\"").nth(1).unwrap();
        assert_eq!(channel.split('"').next().unwrap().matches('M').count(), 2);
    }

    #[test]
    fn share_bars_are_clamped_and_labelled() {
        let svg = share_bar(80.0, 45.0);
        assert!(
            svg.contains(r#"class="measured" x="0" y="2" width="80.0""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="controlled" x="0" y="2" width="45.0""#),
            "{svg}"
        );
        assert!(svg.contains(">45%<"));
        assert!(share_bar(150.0, f64::NAN).contains(r#"width="100.0""#));
    }

    #[test]
    fn one_point_or_none_still_makes_valid_markup() {
        assert!(line_chart(&[(5, 7.0)]).contains(r#"cx="162.0""#));
        assert_eq!(
            line_chart(&[]),
            r#"<svg class="trend" viewBox="0 0 320 130" aria-hidden="true" focusable="false"></svg>"#
        );
    }

    #[test]
    fn month_bars_draw_the_forecast_apart() {
        let svg = month_bars(&[1, 2, 3, 4], &[20, 30, 40, 50], 3);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 3, "{svg}");
        assert_eq!(svg.matches(r#"class="bar forecast""#).count(), 1, "{svg}");
        for text in [">20<", ">50<", ">4<"] {
            assert!(svg.contains(text), "{text} in {svg}");
        }
    }
}
