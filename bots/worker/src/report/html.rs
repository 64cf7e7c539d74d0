//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no network)
//! with the summary, equity and drawdown charts, statistics and the trade list.

use std::fmt::Write;

use super::{ReportView, drawdowns, iso8601, stat_text};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const W: f64 = 900.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;
/// Charts never draw more points than this; longer series are decimated evenly
/// (keeping the last point) so a million-bar backtest still gives a small page.
const MAX_POINTS: usize = 2_000;

/// A polyline chart of `ys` (evenly spaced), with min/max labels.
fn svg_line(title: &str, ys: &[f64], colour: &str, fill_down: bool) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><figcaption>{}</figcaption><svg viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        escape(title),
        escape(title)
    );
    if ys.is_empty() {
        s.push_str("</svg></figure>");
        return s;
    }
    let step = ys.len().div_ceil(MAX_POINTS).max(1);
    let mut pts: Vec<(usize, f64)> = ys.iter().copied().enumerate().step_by(step).collect();
    if pts.last().map(|p| p.0) != Some(ys.len() - 1) {
        pts.push((ys.len() - 1, ys[ys.len() - 1]));
    }
    let (lo, hi) = pts.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let n = (ys.len() - 1).max(1) as f64;
    let x = |i: usize| PAD + (W - 2.0 * PAD) * i as f64 / n;
    let y = |v: f64| {
        if fill_down {
            PAD / 2.0 + (H - PAD) * (v - lo) / span
        } else {
            H - PAD / 2.0 - (H - PAD) * (v - lo) / span
        }
    };
    let mut path = String::new();
    for (k, (i, v)) in pts.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1}",
            if k == 0 { "" } else { " " },
            x(*i),
            y(*v)
        );
    }
    let _ = write!(
        s,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>"#
    );
    let fmt = |v: f64| {
        if fill_down && v > 0.0 {
            format!("-{:.2} %", v * 100.0)
        } else if fill_down {
            "0.00 %".to_owned()
        } else {
            format!("{v:.2}")
        }
    };
    let _ = write!(
        s,
        r#"<text x="4" y="{:.1}" class="lbl">{}</text><text x="4" y="{:.1}" class="lbl">{}</text>"#,
        y(hi) + 4.0,
        fmt(hi),
        y(lo) + 4.0,
        fmt(lo)
    );
    s.push_str("</svg></figure>");
    s
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}\
svg{width:100%;max-width:900px;background:#fafafa;border:1px solid #ddd}\
.lbl{font-size:11px;fill:#555}.neg{color:#b00}.pos{color:#070}figure{margin:1em 0}";

/// The report as a complete HTML document.
pub fn render(r: &ReportView) -> String {
    let mut s = String::new();
    let title = format!(
        "Tradewind backtest: {} ({} on {})",
        r.bot, r.strategy, r.symbol
    );
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
        escape(&title),
    );
    let _ = write!(s, "<h1>{}</h1>", escape(&title));
    s.push_str("<table><tbody>");
    let mut row = |k: &str, v: String| {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td></tr>", escape(k), escape(&v));
    };
    row("Data", r.data_source.clone());
    if let Some((a, b)) = r.span {
        row("Period", format!("{} – {}", iso8601(a), iso8601(b)));
    }
    row("Bars", r.bars.to_string());
    row(
        &format!("Initial equity ({})", r.currency),
        r.initial_equity.to_string(),
    );
    row(
        &format!("Final equity ({})", r.currency),
        r.final_equity.to_string(),
    );
    row("Realized PnL", r.realized_pnl.to_string());
    row("Unrealized PnL", r.unrealized_pnl.to_string());
    row("Fees", r.fees.to_string());
    row(
        "Orders / fills / rejected / refused / dropped / stop-losses",
        format!(
            "{} / {} / {} / {} / {} / {}",
            r.counts.orders,
            r.counts.fills,
            r.counts.rejected,
            r.counts.refused,
            r.counts.dropped,
            r.counts.stop_losses
        ),
    );
    if let Some(h) = &r.halt {
        row("Halted", h.clone());
    }
    s.push_str("</tbody></table>");

    let equity: Vec<f64> = r.equity_curve.iter().map(|p| p.equity.as_f64()).collect();
    s.push_str(&svg_line("Equity", &equity, "#1f5fbf", false));
    s.push_str(&svg_line(
        "Drawdown",
        &drawdowns(&r.equity_curve),
        "#b03030",
        true,
    ));

    s.push_str("<h2>Statistics</h2><table><tbody>");
    for (k, v) in &r.statistics {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(k),
            escape(&stat_text(k, *v))
        );
    }
    s.push_str("</tbody></table>");

    let _ = write!(
        s,
        "<h2>Trades ({})</h2><table><thead><tr><th>#</th><th>Side</th><th>Entry</th><th>Entry price</th><th>Exit</th><th>Exit price</th><th>Quantity</th><th>Fees</th><th>PnL</th><th>Return</th></tr></thead><tbody>",
        r.trades.len()
    );
    for (i, t) in r.trades.iter().enumerate() {
        let class = if t.pnl.is_negative() { "neg" } else { "pos" };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td class=\"{class}\">{:.2} %</td></tr>",
            i + 1,
            t.side,
            iso8601(t.entry_ts),
            t.entry_price,
            iso8601(t.exit_ts),
            t.exit_price,
            t.quantity,
            t.fees,
            t.pnl,
            t.return_fraction * 100.0
        );
    }
    s.push_str("</tbody></table>");
    if !r.notes.is_empty() {
        s.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = write!(s, "<li>{}</li>", escape(n));
        }
        s.push_str("</ul>");
    }
    s.push_str("<p class=\"lbl\">Generated by tradewind-bot backtest.</p></body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn charts_decimate_long_series_but_keep_the_last_point() {
        let ys: Vec<f64> = (0..100_000).map(f64::from).collect();
        let svg = svg_line("Equity", &ys, "#000", false);
        let points = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let n = points.split(' ').count();
        assert!(n <= MAX_POINTS + 1, "{n}");
        assert!(points.ends_with(&format!("{:.1},{:.1}", W - PAD, PAD / 2.0)));
    }
}
