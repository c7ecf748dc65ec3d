//! Lab and vital-sign trends as small inline SVG line charts.
//!
//! Why hand-written SVG: a chart is a polyline and two labels; inline SVG needs no script, no
//! font and no request, prints well, and costs a few hundred bytes — the page budget is 60 KB
//! on a 256 kbit/s link. The chart is decorative for screen readers (`aria-hidden`); the page
//! shows the latest value and a table of values next to it.

use std::fmt::Write;

/// Drawing size in SVG user units (scaled by CSS to the column width).
pub const WIDTH: f64 = 300.0;
pub const HEIGHT: f64 = 90.0;
const PAD: f64 = 6.0;

/// The SVG markup for `points` (day, value), oldest first. Values are plain numbers, so the
/// output needs no escaping.
pub fn line_chart(points: &[(i64, f64)]) -> String {
    let mut out = String::with_capacity(200 + points.len() * 24);
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
        let x = |day: i64| {
            if max_day == min_day {
                WIDTH / 2.0
            } else {
                PAD + (day - min_day) as f64 / (max_day - min_day) as f64 * (WIDTH - 2.0 * PAD)
            }
        };
        let y = |v: f64| PAD + (max_v - v) / (max_v - min_v) * (HEIGHT - 2.0 * PAD);
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
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_value_is_drawn_at_the_top_and_the_latest_at_the_right() {
        let svg = line_chart(&[(0, 100.0), (10, 200.0), (20, 150.0)]);
        assert!(
            svg.contains(r#"points="6.0,84.0 150.0,6.0 294.0,45.0""#),
            "{svg}"
        );
        assert_eq!(svg.matches("<circle").count(), 3);
    }

    #[test]
    fn one_point_or_none_still_makes_valid_markup() {
        assert!(line_chart(&[(5, 7.0)]).contains(r#"cx="150.0""#));
        assert_eq!(
            line_chart(&[]),
            r#"<svg class="trend" viewBox="0 0 300 90" aria-hidden="true" focusable="false"></svg>"#
        );
    }
}
