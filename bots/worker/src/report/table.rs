//! The summary printed after a backtest, and the comparison printed after several.

use std::fmt::Write;

use tradewind_core::statistics::StatValue;

use super::{ReportView, money_text, signed_percent, summary_rows};

/// The summary as text: the same rows, in the same words, as the HTML page's summary.
pub fn render(r: &ReportView) -> String {
    let rows = summary_rows(r);
    let kw = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let vw = rows
        .iter()
        .map(|(_, v)| v.chars().count())
        .max()
        .unwrap_or(0);
    let line = "-".repeat(kw + vw + 3);
    let mut s = String::new();
    let _ = writeln!(s, "{line}");
    let _ = writeln!(s, " Backtest of {}", r.bot);
    let _ = writeln!(s, "{line}");
    for (k, v) in rows {
        let _ = writeln!(s, " {k:<kw$}  {v:>vw$}");
    }
    let _ = writeln!(s, "{line}");
    s
}

/// One line per backtest, best total return first (ties keep the given order), with the
/// headline figures; money rounded to cents.
pub fn compare(views: &[&ReportView]) -> String {
    let float = |r: &ReportView, name: &str| {
        r.statistics
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| match v {
                StatValue::Float(Some(x)) if x.is_finite() => Some(*x),
                _ => None,
            })
    };
    let mut order: Vec<&ReportView> = views.to_vec();
    order.sort_by(|a, b| {
        let (x, y) = (float(a, "total_return"), float(b, "total_return"));
        y.unwrap_or(f64::MIN).total_cmp(&x.unwrap_or(f64::MIN))
    });
    let header = [
        "Bot",
        "Strategy",
        "Final equity",
        "Return",
        "Buy and hold",
        "Max drawdown",
        "Sharpe",
        "Trades",
        "Win rate",
    ];
    let dash = || "–".to_owned();
    let rows: Vec<[String; 9]> = order
        .iter()
        .map(|r| {
            [
                r.bot.clone(),
                r.strategy.clone(),
                format!("{} {}", money_text(r.final_equity), r.currency),
                float(r, "total_return")
                    .map(signed_percent)
                    .unwrap_or_else(dash),
                super::buy_and_hold_return(r)
                    .map(signed_percent)
                    .unwrap_or_else(dash),
                float(r, "max_drawdown")
                    .map(|x| format!("{:.2} %", x * 100.0))
                    .unwrap_or_else(dash),
                float(r, "sharpe")
                    .map(|x| format!("{x:.2}"))
                    .unwrap_or_else(dash),
                r.trades.len().to_string(),
                float(r, "win_rate")
                    .map(|x| format!("{:.0} %", x * 100.0))
                    .unwrap_or_else(dash),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let cell = |s: &mut String, i: usize, text: &str| {
        if i > 0 {
            s.push_str("  ");
        }
        let w = widths[i];
        // Names left, figures right.
        if i < 2 {
            let _ = write!(s, "{text:<w$}");
        } else {
            let _ = write!(s, "{text:>w$}");
        }
    };
    let mut line = String::new();
    for (i, h) in header.iter().enumerate() {
        cell(&mut line, i, h);
    }
    let _ = writeln!(s, "{}", line.trim_end());
    let total: usize = widths.iter().map(|w| w + 2).sum::<usize>() - 2;
    let _ = writeln!(s, "{}", "-".repeat(total));
    for row in &rows {
        line.clear();
        for (i, text) in row.iter().enumerate() {
            cell(&mut line, i, text);
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
    s
}
