//! The summary table printed after a backtest.

use std::fmt::Write;

use super::{ReportView, iso8601};

fn fmt_stat(name: &str, v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(x) if !x.is_finite() => "-".to_owned(),
        // Fractions are shown as percentages, everything else as is.
        Some(x) if is_fraction(name) => format!("{:.2} %", x * 100.0),
        Some(x) if name.ends_with("duration_days") || name.ends_with("_days") => {
            format!("{x:.1} d")
        }
        Some(x) => format!("{x:.4}"),
    }
}

/// Statistics that are fractions of a whole and read best as percentages.
pub fn is_fraction(name: &str) -> bool {
    matches!(
        name,
        "total_return"
            | "cagr"
            | "volatility"
            | "max_drawdown"
            | "win_rate"
            | "exposure"
            | "best_trade"
            | "worst_trade"
            | "avg_trade"
    )
}

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
        "Rejected / risk-refused",
        format!("{} / {}", r.counts.rejected, r.counts.refused),
    );
    row("Closed trades", r.trades.len().to_string());
    for (k, v) in &r.statistics {
        row(k, fmt_stat(k, *v));
    }
    if let Some(h) = &r.halt {
        row("HALTED", h.clone());
    }
    let _ = writeln!(s, "{line}");
    s
}
