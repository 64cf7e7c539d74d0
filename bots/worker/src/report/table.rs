//! The summary table printed after a backtest.

use std::fmt::Write;

use super::{ReportView, iso8601, stat_text};

/// Statistics the summary already shows in its own rows.
const SHOWN_ABOVE: [&str; 6] = [
    "start",
    "end",
    "bars",
    "curve_points",
    "initial_equity",
    "final_equity",
];

/// The summary as text.
pub fn render(r: &ReportView) -> String {
    let mut s = String::new();
    let line = "-".repeat(58);
    let _ = writeln!(s, "{line}");
    let _ = writeln!(s, " Backtest  {}  {}  {}", r.bot, r.strategy, r.symbol);
    let _ = writeln!(s, "{line}");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(s, " {k:<28} {v:>27}");
    };
    row("Data", r.data_source.clone());
    if let Some((a, b)) = r.span {
        row("Start", iso8601(a));
        row("End", iso8601(b));
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
        "Orders / fills",
        format!("{} / {}", r.counts.orders, r.counts.fills),
    );
    row(
        "Rejected / refused / dropped",
        format!(
            "{} / {} / {}",
            r.counts.rejected, r.counts.refused, r.counts.dropped
        ),
    );
    row("Stop-loss closes", r.counts.stop_losses.to_string());
    row("Closed trades", r.trades.len().to_string());
    for (k, v) in r
        .statistics
        .iter()
        .filter(|(k, _)| !SHOWN_ABOVE.contains(&k.as_str()))
    {
        row(k, stat_text(k, *v));
    }
    if let Some(h) = &r.halt {
        row("HALTED", h.clone());
    }
    let _ = writeln!(s, "{line}");
    s
}
