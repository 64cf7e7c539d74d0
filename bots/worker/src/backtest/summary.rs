//! The compact result of a backtest run in a Job: [`tradewind_crds::BacktestSummary`] as
//! JSON in the pod's termination message (at most 4 KiB), which the operator copies into
//! the bot's status; on a failure the error in its place.

use tradewind_core::statistics::StatValue;
use tradewind_crds::BacktestSummary;
use tradewind_crds::contract::backtest::MAX_TERMINATION_MESSAGE;

use crate::report::ReportView;

/// A ratio as a decimal string: 6 significant decimals, no trailing zeros.
fn ratio(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// `text` cut to at most `max` bytes at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// The summary of a finished backtest.
pub fn of(view: &ReportView) -> BacktestSummary {
    let stat = |key: &str| {
        view.statistics
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                StatValue::Float(Some(f)) if f.is_finite() => Some(ratio(*f)),
                _ => None,
            })
    };
    let trades = view
        .statistics
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            ("trades", StatValue::Count(n)) => Some(*n),
            _ => None,
        })
        .unwrap_or(0);
    BacktestSummary {
        job: None,
        start: view.span.map(|(a, _)| crate::report::iso8601(a)),
        end: view.span.map(|(_, b)| crate::report::iso8601(b)),
        bars: view.bars as u64,
        trades,
        initial_equity: Some(view.initial_equity.to_string()),
        final_equity: Some(view.final_equity.to_string()),
        total_return: stat("total_return"),
        cagr: stat("cagr"),
        sharpe: stat("sharpe"),
        sortino: stat("sortino"),
        max_drawdown: stat("max_drawdown"),
        win_rate: stat("win_rate"),
        profit_factor: stat("profit_factor"),
        halt: view.halt.as_deref().map(|h| truncate(h, 512).to_owned()),
        report: None,
        sweep: None,
    }
}

/// The summary as the termination message: compact JSON within the 4 KiB Kubernetes keeps.
pub fn message(summary: &BacktestSummary) -> String {
    // Fixed fields and a halt reason cut to 512 bytes stay far below the limit.
    serde_json::to_string(summary).unwrap_or_default()
}

/// An error as the termination message.
pub fn error_message(error: &anyhow::Error) -> String {
    truncate(&format!("error: {error:#}"), MAX_TERMINATION_MESSAGE).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_short_decimals() {
        assert_eq!(ratio(0.125), "0.125");
        assert_eq!(ratio(1.0), "1");
        assert_eq!(ratio(-0.0000001), "0");
        assert_eq!(ratio(-2.5), "-2.5");
        assert_eq!(ratio(1.23456789), "1.234568");
    }

    #[test]
    fn messages_fit_the_termination_log() {
        let long = anyhow::anyhow!("{}", "é".repeat(5000));
        let m = error_message(&long);
        assert!(m.len() <= MAX_TERMINATION_MESSAGE);
        assert!(m.starts_with("error: "));
        let s = BacktestSummary {
            halt: Some(truncate(&"x".repeat(2000), 512).to_owned()),
            final_equity: Some("-123456789012.123456789".into()),
            ..BacktestSummary::default()
        };
        let m = message(&s);
        assert!(m.len() < MAX_TERMINATION_MESSAGE, "{}", m.len());
        let back: BacktestSummary = serde_json::from_str(&m).unwrap();
        assert_eq!(back, s);
    }
}
