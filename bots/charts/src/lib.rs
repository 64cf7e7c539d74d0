//! Inline SVG charts on a shared time axis, plain text out with no scripts, and the
//! escaping and dates they need: one definition for the backtest report and the
//! platform's dashboard.

pub mod lttb;
pub mod svg;

use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::civil_from_days;

/// The charts' style rules (a page includes them in its `<style>`).
pub const CSS: &str = "svg{width:100%;height:auto;background:#fff;display:block}figure{margin:.4em 0}\
.grid line{stroke:#e6e6e6;stroke-width:1}.frame{fill:none;stroke:#bbb}\
.xtick,.ytick,.legend{font-size:12px;fill:#333}\
.price{stroke:#444;stroke-width:1.2}.equity{stroke:#1f5fbf;stroke-width:1.6}.hold{stroke:#999;stroke-width:1.4;stroke-dasharray:5 3}\
.under{fill:#d9534f;fill-opacity:.35;stroke:#b03030;stroke-width:1}\
.buy{fill:#138a36}.sell{fill:#c0392b}.key.price,.key.equity,.key.hold{stroke:none}.key.price{fill:#444}.key.equity{fill:#1f5fbf}.key.hold{fill:#999}";

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

/// The date (`2026-08-17`), hour and minute of a time (UTC).
pub fn civil(ts: UnixNanos) -> (String, i64, i64) {
    let secs = ts.div_euclid(1_000_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    (format!("{y:04}-{m:02}-{d:02}"), rem / 3600, rem % 3600 / 60)
}
