//! `report.json`: the backtest as data. Money is written as decimal strings, never as
//! JSON numbers; statistics (ratios) are numbers, `null` where undefined.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use tradewind_core::statistics::StatValue;

use super::{ReportView, buy_and_hold_return, iso8601, net_of_both};

/// At most this many equity-curve points go into report.json (chosen by
/// largest-triangle-three-buckets, first and last kept); statistics are always computed
/// from every point.
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

/// A ratio as JSON: `null` unless finite.
pub fn stat(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!(x),
        _ => Value::Null,
    }
}

/// The report as a JSON value with sorted keys (deterministic output), its `trades`
/// array empty: [`write`] streams the trades in.
pub fn render(r: &ReportView) -> Value {
    let curve: Vec<Value> = r
        .equity_curve
        .iter()
        .map(|p| json!([iso8601(p.ts), p.equity.to_string()]))
        .collect();
    let mut stats = Map::new();
    for (k, v) in &r.statistics {
        stats.insert(k.clone(), stat_value(*v));
    }
    let mut report = json!({
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
        "equityCurvePoints": r.curve_points,
        "halt": r.halt,
        "statistics": stats,
        "trades": [],
        "equityCurve": curve,
        "notes": r.notes,
    });
    // Only with a plan: a bot without one reports exactly as before.
    if let (Some(c), Some(map)) = (&r.commission, report.as_object_mut()) {
        let net = net_of_both(r, c);
        let periods: Vec<Value> = c
            .periods
            .iter()
            .map(|p| {
                json!({
                    "start": iso8601(p.start),
                    "end": iso8601(p.end),
                    "partial": p.partial,
                    "fills": p.fills,
                    "volume": p.volume.to_string(),
                    "tradingFees": p.trading_fees.to_string(),
                    "performanceFee": p.performance_fee.to_string(),
                    "value": p.value.to_string(),
                    "highWaterMark": p.high_water_mark.to_string(),
                })
            })
            .collect();
        map.insert(
            "commission".into(),
            json!({
                "plan": c.plan,
                "period": c.period,
                "performanceBasis": c.performance_basis,
                "grossPnl": net.gross.to_string(),
                "venueFees": r.fees.to_string(),
                "pnlAfterVenueFees": net.after_venue.to_string(),
                "tradingFees": c.trading_fees.to_string(),
                "performanceFees": c.performance_fees.to_string(),
                "total": c.total().to_string(),
                "netPnl": net.net.to_string(),
                "netReturn": stat(net.net_return),
                "periods": periods,
            }),
        );
    }
    report
}

/// The empty trade list as pretty-printing writes it, at the top level.
const EMPTY_TRADES: &str = "\n  \"trades\": [],";

/// Writes the report as pretty JSON with a trailing newline, every trade streamed from
/// the [`TradeLog`](super::TradeLog).
pub fn write(r: &ReportView, out: &mut impl Write) -> io::Result<()> {
    let text = serde_json::to_string_pretty(&render(r)).map_err(io::Error::other)?;
    let at = text
        .find(EMPTY_TRADES)
        .ok_or_else(|| io::Error::other("report.json has no trade list"))?;
    out.write_all(&text.as_bytes()[..at])?;
    if r.trades.is_empty() {
        out.write_all(EMPTY_TRADES.as_bytes())?;
    } else {
        out.write_all(b"\n  \"trades\": [\n")?;
        r.trades.copy_json_to(out)?;
        out.write_all(b"\n  ],")?;
    }
    out.write_all(&text.as_bytes()[at + EMPTY_TRADES.len()..])?;
    out.write_all(b"\n")
}
