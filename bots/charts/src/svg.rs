//! Inline SVG charts on a shared time axis: lines, an underwater area, trade markers,
//! dated x ticks, rounded y ticks and a legend. Plain text out, no scripts; numbers are
//! written with fixed precision so identical input gives identical bytes.

use std::fmt::Write;

use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::{civil_from_days, days_from_civil};

use crate::lttb::{Point, lttb};
use crate::{civil, escape};

/// Drawing size (the page scales it to its width).
pub const W: f64 = 960.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 30.0;
/// Lines never draw more points than this; longer series are reduced by
/// largest-triangle-three-buckets (keeping both ends and the visual shape) so a
/// million-bar backtest still gives a small page.
pub const MAX_POINTS: usize = 2_000;

const NS: i64 = 1_000_000_000;
const DAY: i64 = 86_400;

/// One chart: a time range across, a value range up.
pub struct Chart {
    t0: UnixNanos,
    t1: UnixNanos,
    lo: f64,
    hi: f64,
    h: f64,
    body: String,
    legend: Vec<(String, &'static str)>,
}

impl Chart {
    /// A chart of height `h` over `[t0, t1]` and values `[lo, hi]` (widened a little so
    /// lines do not touch the frame, and made non-empty).
    pub fn new(h: f64, (t0, t1): (UnixNanos, UnixNanos), (lo, hi): (f64, f64)) -> Self {
        let (lo, hi) = if hi > lo {
            let pad = (hi - lo) * 0.04;
            (lo - pad, hi + pad)
        } else {
            (lo - 1.0, hi + 1.0)
        };
        Self {
            t0,
            t1: t1.max(t0 + 1),
            lo,
            hi,
            h,
            body: String::new(),
            legend: Vec::new(),
        }
    }

    fn x(&self, t: UnixNanos) -> f64 {
        LEFT + (W - LEFT - RIGHT) * (t - self.t0) as f64 / (self.t1 - self.t0) as f64
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (self.h - TOP - BOTTOM) * (self.hi - v) / (self.hi - self.lo)
    }

    /// A line through `(time, value)` points.
    pub fn line(&mut self, pts: &[(UnixNanos, f64)], class: &'static str, name: &str) {
        let path = self.path(pts);
        let _ = write!(
            self.body,
            r#"<polyline class="{class}" fill="none" points="{path}"/>"#
        );
        self.legend.push((name.to_owned(), class));
    }

    /// The area between zero and the points (a drawdown drawn below the axis).
    pub fn area_from_zero(&mut self, pts: &[(UnixNanos, f64)], class: &'static str) {
        let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
            return;
        };
        let path = self.path(pts);
        let _ = write!(
            self.body,
            r#"<polygon class="{class}" points="{:.1},{:.1} {path} {:.1},{:.1}"/>"#,
            self.x(first.0),
            self.y(0.0),
            self.x(last.0),
            self.y(0.0),
        );
    }

    /// Trade markers: an upward triangle under a buy's price, a downward one over a sell's.
    pub fn markers(&mut self, marks: &[(UnixNanos, f64, bool)]) {
        let mut buys = String::new();
        let mut sells = String::new();
        for (t, v, buy) in marks {
            let (x, y) = (self.x(*t), self.y(*v));
            if *buy {
                let _ = write!(buys, "M{x:.1} {:.1}l-5 9h10z", y + 2.0);
            } else {
                let _ = write!(sells, "M{x:.1} {:.1}l-5 -9h10z", y - 2.0);
            }
        }
        let _ = write!(
            self.body,
            r#"<path class="buy" d="{buys}"/><path class="sell" d="{sells}"/>"#
        );
        self.legend.push(("buy".to_owned(), "buy"));
        self.legend.push(("sell".to_owned(), "sell"));
    }

    fn path(&self, pts: &[(UnixNanos, f64)]) -> String {
        let mut path = String::new();
        for (k, (t, v)) in decimate(pts).iter().enumerate() {
            let sep = if k == 0 { "" } else { " " };
            let _ = write!(path, "{sep}{:.1},{:.1}", self.x(*t), self.y(*v));
        }
        path
    }

    /// The finished `<svg>`: grid, y ticks formatted by `fmt`, dated x ticks, the drawing
    /// and its legend. `label` names the chart for screen readers and tests.
    pub fn finish(self, label: &str, fmt: &dyn Fn(f64, f64) -> String) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg viewBox="0 0 {W} {h}" role="img" aria-label="{l}" data-chart="{l}">"#,
            h = self.h,
            l = escape(label)
        );
        let (x_left, x_right) = (LEFT, W - RIGHT);
        let (y_top, y_bottom) = (TOP, self.h - BOTTOM);
        s.push_str(r#"<g class="grid">"#);
        let step = nice_step(self.hi - self.lo, 5);
        let mut v = (self.lo / step).ceil() * step;
        let mut ylabels = String::new();
        while v <= self.hi {
            let y = self.y(v);
            let _ = write!(
                s,
                r#"<line x1="{x_left}" y1="{y:.1}" x2="{x_right}" y2="{y:.1}"/>"#
            );
            let _ = write!(
                ylabels,
                r#"<text class="ytick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                x_left - 6.0,
                y + 4.0,
                escape(&fmt(v, step))
            );
            v += step;
        }
        let ticks = time_ticks(self.t0, self.t1);
        let mut xlabels = String::new();
        for (t, text) in &ticks {
            let x = self.x(*t);
            let _ = write!(
                s,
                r#"<line x1="{x:.1}" y1="{y_top}" x2="{x:.1}" y2="{y_bottom}"/>"#
            );
            let _ = write!(
                xlabels,
                r#"<text class="xtick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                y_bottom + 18.0,
                escape(text)
            );
        }
        s.push_str("</g>");
        let _ = write!(
            s,
            r#"<rect class="frame" x="{x_left}" y="{y_top}" width="{:.1}" height="{:.1}"/>"#,
            x_right - x_left,
            y_bottom - y_top
        );
        s.push_str(&self.body);
        s.push_str(&ylabels);
        s.push_str(&xlabels);
        let mut x = x_left + 4.0;
        for (name, class) in &self.legend {
            let _ = write!(
                s,
                r#"<rect class="{class} key" x="{x:.1}" y="8" width="12" height="10"/><text class="legend" x="{:.1}" y="17">{}</text>"#,
                x + 16.0,
                escape(name)
            );
            x += 24.0 + 7.5 * name.chars().count() as f64;
        }
        s.push_str("</svg>");
        s
    }
}

/// At most [`MAX_POINTS`] points chosen by [`lttb`], always keeping the first and last.
fn decimate(pts: &[(UnixNanos, f64)]) -> Vec<(UnixNanos, f64)> {
    if pts.len() <= MAX_POINTS {
        return pts.to_vec();
    }
    let indexed: Vec<Point<f64>> = pts
        .iter()
        .zip(0u64..)
        .map(|(&(ts, value), index)| Point { index, ts, value })
        .collect();
    lttb(&indexed, MAX_POINTS, |v| v)
        .into_iter()
        .map(|p| (p.ts, p.value))
        .collect()
}

/// A round step (1, 2 or 5 times a power of ten) giving about `n` intervals over `span`.
pub fn nice_step(span: f64, n: u32) -> f64 {
    let raw = (span / f64::from(n)).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Dated ticks for `[t0, t1]`: about 4–8 of them, on round times (UTC). Labels are dates
/// (`2026-08-17`), months (`2026-08`) or, below a day, date and time (`08-17 06:00`).
pub fn time_ticks(t0: UnixNanos, t1: UnixNanos) -> Vec<(UnixNanos, String)> {
    let span = (t1 - t0).max(1) / NS;
    const STEPS: [i64; 14] = [
        60,
        300,
        900,
        1_800,
        3_600,
        3 * 3_600,
        6 * 3_600,
        12 * 3_600,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        30 * DAY,
        91 * DAY,
    ];
    let Some(&step) = STEPS.iter().find(|s| span / **s <= 8) else {
        return month_ticks(t0, t1, 12);
    };
    if step >= 30 * DAY {
        return month_ticks(t0, t1, if step == 30 * DAY { 1 } else { 3 });
    }
    // Weeks start on Monday: 1970-01-05 was one.
    let offset = if step % (7 * DAY) == 0 { 4 * DAY } else { 0 };
    let first = -(-(t0 / NS - offset)).div_euclid(step) * step + offset;
    let mut out = Vec::new();
    let mut t = first;
    while t * NS <= t1 {
        let (date, hh, mm) = civil(t * NS);
        let text = if step >= DAY {
            date
        } else {
            format!("{} {hh:02}:{mm:02}", &date[5..])
        };
        out.push((t * NS, text));
        t += step;
    }
    out
}

/// Ticks on the first of every `every`-th month inside `[t0, t1]`, labelled `2026-08`.
fn month_ticks(t0: UnixNanos, t1: UnixNanos, every: u32) -> Vec<(UnixNanos, String)> {
    let (mut y, mut m, _) = civil_from_days((t0 / NS).div_euclid(DAY));
    let mut out = Vec::new();
    loop {
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
        if (m - 1) % every != 0 {
            continue;
        }
        let t = days_from_civil(y, m, 1) * DAY * NS;
        if t > t1 {
            return out;
        }
        out.push((t, format!("{y:04}-{m:02}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON_2026_08_17: i64 = 20_682 * DAY * NS;

    #[test]
    fn two_weeks_get_daily_ticks_on_midnights() {
        let ticks = time_ticks(MON_2026_08_17, MON_2026_08_17 + 14 * DAY * NS - 60 * NS);
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2026-08-17",
                "2026-08-19",
                "2026-08-21",
                "2026-08-23",
                "2026-08-25",
                "2026-08-27",
                "2026-08-29"
            ]
        );
    }

    #[test]
    fn hours_get_date_and_time_and_years_get_months() {
        let ticks = time_ticks(MON_2026_08_17, MON_2026_08_17 + 6 * 3_600 * NS);
        assert_eq!(ticks[0].1, "08-17 00:00");
        let ticks = time_ticks(MON_2026_08_17, MON_2026_08_17 + 400 * DAY * NS);
        assert!(ticks.len() >= 4 && ticks.len() <= 8, "{ticks:?}");
        assert_eq!(ticks[0].1, "2026-10");
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(18_000.0, 5), 5_000.0);
        assert_eq!(nice_step(0.07, 5), 0.02);
    }

    #[test]
    fn long_series_are_decimated_but_keep_the_last_point() {
        let pts: Vec<(UnixNanos, f64)> = (0..100_000).map(|i| (i, i as f64)).collect();
        let d = decimate(&pts);
        assert!(d.len() <= MAX_POINTS, "{}", d.len());
        assert_eq!(d.last(), pts.last());
    }
}
