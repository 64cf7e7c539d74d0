//! `report.json`: the backtest as data. Money is written as decimal strings, never as
//! JSON numbers; statistics (ratios) are numbers, `null` where undefined.

use serde_json::{Map, Value, json};

use tradewind_core::statistics::StatValue;

use super::{ReportView, buy_and_hold_return, iso8601};

/// At most this many equity-curve points go into report.json (evenly decimated, last
/// point kept); statistics are always computed from the full curve.
pub const MAX_CURVE_POINTS: usize = 10_000;

fn stat_value(v: StatValue) -> Value {
    match v {
        StatValue::Float(x) => stat(x),
        StatValue::Count(n) => json!(n),
        StatValue::Money(m) => m.map(|m| json!(m.to_string())).unwrap_or(Value::Null),
        StatValue::Time(t) => t.map(|t| json!(iso8601(t))).unwrap_or(Value::Null),
        // Durations in seconds (integer nanoseconds / 1e9).
        StatValue::Duration(d) => d.map(|d| json!(d as f64 / 1e9)).unwrap_or(Value::Null),
    }
}

fn stat(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!(x),
        _ => Value::Null,
    }
}

/// The report as a JSON value with sorted keys (deterministic output).
pub fn render(r: &ReportView) -> Value {
    let trades: Vec<Value> = r
        .trades
        .iter()
        .map(|t| {
            json!({
                "side": format!("{:?}", t.side),
                "entryTime": iso8601(t.entry_ts),
                "entryPrice": t.entry_price.to_string(),
                "exitTime": iso8601(t.exit_ts),
                "exitPrice": t.exit_price.to_string(),
                "quantity": t.quantity.to_string(),
                "grossPnl": t.gross_pnl.to_string(),
                "fees": t.fees.to_string(),
                "pnl": t.pnl.to_string(),
                "returnFraction": stat(Some(t.return_fraction)),
            })
        })
        .collect();
    let n = r.equity_curve.len();
    let step = n.div_ceil(MAX_CURVE_POINTS).max(1);
    let mut curve: Vec<Value> = r
        .equity_curve
        .iter()
        .step_by(step)
        .map(|p| json!([iso8601(p.ts), p.equity.to_string()]))
        .collect();
    if n > 0 && !(n - 1).is_multiple_of(step) {
        let p = &r.equity_curve[n - 1];
        curve.push(json!([iso8601(p.ts), p.equity.to_string()]));
    }
    let mut stats = Map::new();
    for (k, v) in &r.statistics {
        stats.insert(k.clone(), stat_value(*v));
    }
    json!({
        "bot": r.bot,
        "strategy": r.strategy,
        "symbol": r.symbol,
        "currency": r.currency,
        "data": r.data_source,
        "bars": r.bars,
        "start": r.span.map(|(s, _)| iso8601(s)),
        "end": r.span.map(|(_, e)| iso8601(e)),
        "initialEquity": r.initial_equity.to_string(),
        "finalEquity": r.final_equity.to_string(),
        "realizedPnl": r.realized_pnl.to_string(),
        "unrealizedPnl": r.unrealized_pnl.to_string(),
        "venueFees": r.fees.to_string(),
        "venueFeeSchedule": r.venue_fee_schedule,
        "buyAndHoldReturn": stat(buy_and_hold_return(r)),
        "orders": r.counts.orders,
        "fills": r.counts.fills,
        "rejectedOrders": r.counts.rejected,
        "refusedOrders": r.counts.refused,
        "droppedOrders": r.counts.dropped,
        "stopLossCloses": r.counts.stop_losses,
        "equityCurveEvery": step,
        "halt": r.halt,
        "statistics": stats,
        "trades": trades,
        "equityCurve": curve,
        "notes": r.notes,
    })
}

/// The report as pretty JSON text with a trailing newline.
pub fn to_string(r: &ReportView) -> String {
    let mut s = serde_json::to_string_pretty(&render(r)).expect("JSON values always serialise");
    s.push('\n');
    s
}
