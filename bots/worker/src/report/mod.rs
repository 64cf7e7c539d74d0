//! Backtest reports: a summary table for the terminal, `report.json` for machines and a
//! self-contained `report.html` (inline SVG charts, no scripts or external assets) for
//! people. Rendering is deterministic: the same backtest gives byte-identical files.

pub mod html;
pub mod json;
pub mod table;

use tradewind_core::data::UnixNanos;
use tradewind_core::fixed::Money;
use tradewind_core::portfolio::{ClosedTrade, EquityPoint};
use tradewind_core::statistics::StatValue;

/// Everything a report shows, gathered once from the engine's result.
#[derive(Debug, Clone)]
pub struct ReportView {
    /// Bot name.
    pub bot: String,
    /// Strategy resource name and type.
    pub strategy: String,
    /// Symbol traded.
    pub symbol: String,
    /// Quote currency.
    pub currency: String,
    /// Market-data file.
    pub data_source: String,
    /// Bars processed.
    pub bars: usize,
    /// First and last bar time.
    pub span: Option<(UnixNanos, UnixNanos)>,
    /// Starting equity.
    pub initial_equity: Money,
    /// Final equity.
    pub final_equity: Money,
    /// Realized PnL.
    pub realized_pnl: Money,
    /// Unrealized PnL at the end.
    pub unrealized_pnl: Money,
    /// Fees paid.
    pub fees: Money,
    /// Orders submitted, fills, rejections and risk refusals.
    pub counts: Counts,
    /// Why the bot halted, if it did.
    pub halt: Option<String>,
    /// Performance statistics in a fixed order.
    pub statistics: Vec<(String, StatValue)>,
    /// Equity curve.
    pub equity_curve: Vec<EquityPoint>,
    /// Closed round trips.
    pub trades: Vec<ClosedTrade>,
    /// Human-readable notes on refused and rejected orders (first few).
    pub notes: Vec<String>,
}

/// Order-flow counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Orders sent to the exchange.
    pub orders: usize,
    /// Fills received.
    pub fills: usize,
    /// Orders the exchange rejected.
    pub rejected: usize,
    /// Orders risk refused before they reached the exchange.
    pub refused: usize,
    /// Entries dropped for lack of cash or position.
    pub dropped: usize,
    /// Stop-loss closes sent.
    pub stop_losses: usize,
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
            | "avg_trade_return"
            | "best_trade_return"
            | "worst_trade_return"
    )
}

/// A statistic for people: percentages, days, dates; `–` where undefined.
pub fn stat_text(name: &str, value: StatValue) -> String {
    match value {
        StatValue::Float(Some(x)) if x.is_finite() && is_fraction(name) => {
            format!("{:.2} %", x * 100.0)
        }
        StatValue::Float(Some(x)) if x.is_finite() => format!("{x:.4}"),
        StatValue::Count(n) => n.to_string(),
        StatValue::Money(Some(m)) => m.to_string(),
        StatValue::Time(Some(t)) => iso8601(t),
        StatValue::Duration(Some(d)) if d >= 86_400_000_000_000 => {
            format!("{:.2} days", d as f64 / 86_400e9)
        }
        StatValue::Duration(Some(d)) => {
            let s = d / 1_000_000_000;
            format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
        }
        _ => "–".to_owned(),
    }
}

/// `2026-11-25T06:00:00Z` for a UNIX-nanosecond time (UTC).
pub use tradewind_core::data::time::format_iso8601 as iso8601;

/// Drawdown from the running peak at each curve point, as a fraction (0.1 = 10 % below peak).
pub fn drawdowns(curve: &[EquityPoint]) -> Vec<f64> {
    let mut peak = f64::MIN;
    curve
        .iter()
        .map(|p| {
            let e = p.equity.as_f64();
            peak = peak.max(e);
            if peak > 0.0 { (peak - e) / peak } else { 0.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_tracks_the_running_peak() {
        let p = |e: &str| EquityPoint {
            ts: 0,
            equity: Money::parse(e).unwrap(),
        };
        let dd = drawdowns(&[p("100"), p("120"), p("90"), p("130")]);
        assert_eq!(dd, vec![0.0, 0.0, 0.25, 0.0]);
    }
}
