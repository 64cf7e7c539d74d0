//! Backtest reports: a summary table for the terminal, `report.json` for machines and a
//! self-contained `report.html` (inline SVG charts, no scripts or external assets) for
//! people. Rendering is deterministic: the same backtest gives byte-identical files.
//!
//! The summary's rows are built once ([`summary_rows`]) and printed by both the terminal
//! table and the HTML page, so the two always say the same thing in the same words.
//! Money is rounded to cents for display only; `report.json` keeps full precision.

pub mod html;
pub mod json;
pub mod series;
use tradewind_charts::svg;
pub mod table;
pub mod trades;

use tradewind_core::data::UnixNanos;
use tradewind_core::data::time::civil_from_days;
use tradewind_core::fixed::{Money, Price, RoundingMode};
use tradewind_core::orders::Fill;
use tradewind_core::portfolio::{ClosedTrade, EquityPoint};
use tradewind_core::statistics::StatValue;

use crate::backtest::commission::CommissionSummary;
use series::{Reducer, Thinned};
pub use trades::TradeLog;

/// Everything a report shows, gathered while the backtest streams (see [`Recorder`]).
/// Its size does not depend on the number of bars: the charted series are reduced,
/// the trade list waits in a file ([`TradeLog`]).
#[derive(Debug)]
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
    /// Venue fees paid (to the exchange, simulated); equity and PnL are net of them.
    pub fees: Money,
    /// The venue fee schedule the simulation charged, for people.
    pub venue_fee_schedule: String,
    /// The platform's commission, when the bot has a CommissionPlan (charged in the
    /// ledger, not in the simulation: equity and PnL above are before it).
    pub commission: Option<CommissionSummary>,
    /// Orders submitted, fills, rejections and risk refusals.
    pub counts: Counts,
    /// Why the bot halted, if it did.
    pub halt: Option<String>,
    /// Performance statistics in a fixed order.
    pub statistics: Vec<(String, StatValue)>,
    /// The equity curve as report.json lists it and the chart draws it: every point up
    /// to [`json::MAX_CURVE_POINTS`], else that many chosen by largest-triangle-three-
    /// buckets (the first and last point always among them).
    pub equity_curve: Vec<EquityPoint>,
    /// Points on the whole equity curve.
    pub curve_points: u64,
    /// Drawdown below the running peak (a fraction) of the whole curve, reduced for the chart.
    pub drawdown: Vec<(UnixNanos, f64)>,
    /// Closed round trips.
    pub trades: TradeLog,
    /// The bars the strategy saw (open time and close price), reduced for the chart.
    pub prices: Vec<(UnixNanos, Price)>,
    /// Close of the first and of the last bar (buy and hold).
    pub closes: Option<(Price, Price)>,
    /// The fills marked on the price chart: every fill up to [`MAX_FILL_MARKS`], else an
    /// even sample.
    pub fills: Vec<FillMark>,
    /// One in how many fills is marked (1: every fill).
    pub fill_stride: u64,
    /// Buy and sell fills in all.
    pub fill_sides: (u64, u64),
    /// Returns per calendar period.
    pub returns: PeriodReturns,
    /// Human-readable notes on refused and rejected orders (first few).
    pub notes: Vec<String>,
}

/// At most this many fills are marked on the price chart.
pub const MAX_FILL_MARKS: usize = 5_000;
/// Buckets the streamed equity curve keeps before the final selection.
const CURVE_BUCKETS: usize = 4_096;
/// Buckets the streamed prices and drawdowns keep (the chart draws at most
/// [`svg::MAX_POINTS`]).
const CHART_BUCKETS: usize = 1_024;

/// Collects what a report shows while the bars stream through the engine, in memory
/// that does not grow with the bars.
#[derive(Debug)]
pub struct Recorder {
    equity: Reducer<Money>,
    drawdown: Reducer<f64>,
    peak: RunningPeak,
    prices: Reducer<Price>,
    closes: Option<(Price, Price)>,
    fills: Thinned<FillMark>,
    sides: (u64, u64),
    returns: PeriodTracker,
    trades: TradeLog,
}

/// What [`Recorder::finish`] hands on to the [`ReportView`].
#[derive(Debug)]
pub struct Recorded {
    /// See [`ReportView::equity_curve`].
    pub equity_curve: Vec<EquityPoint>,
    /// See [`ReportView::curve_points`].
    pub curve_points: u64,
    /// See [`ReportView::drawdown`].
    pub drawdown: Vec<(UnixNanos, f64)>,
    /// See [`ReportView::prices`].
    pub prices: Vec<(UnixNanos, Price)>,
    /// See [`ReportView::closes`].
    pub closes: Option<(Price, Price)>,
    /// See [`ReportView::fills`].
    pub fills: Vec<FillMark>,
    /// See [`ReportView::fill_stride`].
    pub fill_stride: u64,
    /// See [`ReportView::fill_sides`].
    pub fill_sides: (u64, u64),
    /// See [`ReportView::returns`].
    pub returns: PeriodReturns,
    /// See [`ReportView::trades`].
    pub trades: TradeLog,
}

impl Recorder {
    /// An empty recorder; period returns start from `initial_equity`.
    pub fn new(initial_equity: Money) -> Self {
        Self {
            equity: Reducer::new(CURVE_BUCKETS),
            drawdown: Reducer::new(CHART_BUCKETS),
            peak: RunningPeak::default(),
            prices: Reducer::new(CHART_BUCKETS),
            closes: None,
            fills: Thinned::new(MAX_FILL_MARKS),
            sides: (0, 0),
            returns: PeriodTracker::new(initial_equity),
            trades: TradeLog::default(),
        }
    }

    /// A bar's close.
    pub fn price(&mut self, ts: UnixNanos, close: Price) {
        self.prices.push(ts, close);
        self.closes = Some(match self.closes {
            None => (close, close),
            Some((first, _)) => (first, close),
        });
    }

    /// The next point of the equity curve.
    pub fn equity(&mut self, p: EquityPoint) {
        self.equity.push(p.ts, p.equity);
        self.drawdown
            .push(p.ts, self.peak.drawdown(p.equity.as_f64()));
        self.returns.push(p);
    }

    /// A fill.
    pub fn fill(&mut self, f: &Fill) {
        let buy = f.side == tradewind_core::data::Side::Buy;
        if buy {
            self.sides.0 += 1;
        } else {
            self.sides.1 += 1;
        }
        self.fills.push(FillMark {
            ts: f.ts,
            buy,
            price: f.price,
        });
    }

    /// A closed round trip.
    pub fn trade(&mut self, t: &ClosedTrade) -> std::io::Result<()> {
        self.trades.push(t)
    }

    /// The reduced series and the trade list.
    pub fn finish(mut self) -> std::io::Result<Recorded> {
        self.trades.finish()?;
        let pair = |p: series::Point<f64>| (p.ts, p.value);
        Ok(Recorded {
            equity_curve: self
                .equity
                .downsampled(json::MAX_CURVE_POINTS, Money::as_f64)
                .into_iter()
                .map(|p| EquityPoint {
                    ts: p.ts,
                    equity: p.value,
                })
                .collect(),
            curve_points: self.equity.seen(),
            drawdown: self
                .drawdown
                .downsampled(svg::MAX_POINTS, |v| v)
                .into_iter()
                .map(pair)
                .collect(),
            prices: self
                .prices
                .downsampled(svg::MAX_POINTS, Price::as_f64)
                .into_iter()
                .map(|p| (p.ts, p.value))
                .collect(),
            closes: self.closes,
            fill_stride: self.fills.stride(),
            fills: self.fills.into_items(),
            fill_sides: self.sides,
            returns: self.returns.finish(),
            trades: self.trades,
        })
    }
}

/// The running peak of an equity curve (for drawdowns).
#[derive(Clone, Copy, Debug)]
struct RunningPeak(f64);

impl Default for RunningPeak {
    fn default() -> Self {
        Self(f64::MIN)
    }
}

impl RunningPeak {
    /// Drawdown of `equity` below the peak so far, as a fraction (0.1 = 10 % below).
    fn drawdown(&mut self, equity: f64) -> f64 {
        self.0 = self.0.max(equity);
        if self.0 > 0.0 {
            (self.0 - equity) / self.0
        } else {
            0.0
        }
    }
}

/// One fill as the price chart marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillMark {
    /// When.
    pub ts: UnixNanos,
    /// True for a buy, false for a sell.
    pub buy: bool,
    /// Execution price.
    pub price: Price,
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

/// The label people read for a statistic (`report.json` keeps the field names).
pub fn stat_label(name: &str) -> String {
    let label = match name {
        "start" => "Start",
        "end" => "End",
        "duration" => "Duration",
        "bars" => "Bars",
        "curve_points" => "Equity curve points",
        "initial_equity" => "Initial equity",
        "final_equity" => "Final equity",
        "peak_equity" => "Peak equity",
        "total_return" => "Total return",
        "cagr" => "Annual growth (CAGR)",
        "periods_per_year" => "Periods per year",
        "volatility" => "Volatility (annualised)",
        "sharpe" => "Sharpe ratio",
        "sortino" => "Sortino ratio",
        "max_drawdown" => "Max drawdown",
        "max_drawdown_duration" => "Longest drawdown",
        "calmar" => "Calmar ratio",
        "exposure" => "Time in market",
        "trades" => "Closed trades",
        "win_rate" => "Win rate",
        "profit_factor" => "Profit factor",
        "expectancy" => "Average trade PnL",
        "avg_trade_return" => "Average trade return",
        "best_trade_return" => "Best trade return",
        "worst_trade_return" => "Worst trade return",
        "trade_pnl" => "Closed-trade PnL",
        "trade_fees" => "Closed-trade fees",
        other => {
            // A statistic added later still reads as words, never as a field name.
            let words = other.replace('_', " ");
            let mut chars = words.chars();
            return chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
        }
    };
    label.to_owned()
}

/// Money for people: rounded half-to-even to cents, thousands separated: `-1,234.57`.
pub fn money_text(m: Money) -> String {
    let rounded = m.round_dp(2, RoundingMode::HalfEven).unwrap_or(m);
    let text = rounded.to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    // -0.00 after rounding a tiny loss reads as 0.00.
    let sign = if grouped.chars().all(|c| c == '0' || c == ',') && frac == "00" {
        ""
    } else {
        sign
    };
    format!("{sign}{grouped}.{frac}")
}

/// A fraction as a signed percentage with two decimals: `+12.34 %`.
pub fn signed_percent(x: f64) -> String {
    format!("{:+.2} %", x * 100.0)
}

/// A statistic for people: percentages, days, dates, rounded money; `–` where undefined.
pub fn stat_text(name: &str, value: StatValue, currency: &str) -> String {
    match value {
        StatValue::Float(Some(x)) if x.is_finite() && name.ends_with("return") => signed_percent(x),
        StatValue::Float(Some(x)) if x.is_finite() && is_fraction(name) => {
            format!("{:.2} %", x * 100.0)
        }
        StatValue::Float(Some(x)) if x.is_finite() && name == "expectancy" => {
            format!("{x:.2} {currency}")
        }
        StatValue::Float(Some(x)) if x.is_finite() => format!("{x:.2}"),
        StatValue::Count(n) => n.to_string(),
        StatValue::Money(Some(m)) => format!("{} {currency}", money_text(m)),
        StatValue::Time(Some(t)) => date_time_text(t),
        StatValue::Duration(Some(d)) => duration_text(d),
        _ => "–".to_owned(),
    }
}

/// `2026-08-17 06:00 UTC`.
pub fn date_time_text(ts: UnixNanos) -> String {
    let (date, hh, mm) = civil(ts);
    format!("{date} {hh:02}:{mm:02} UTC")
}

/// `2.50 days` from a day on, `05:30:00` below.
pub fn duration_text(d: i64) -> String {
    if d >= 86_400_000_000_000 {
        format!("{:.2} days", d as f64 / 86_400e9)
    } else {
        let s = d / 1_000_000_000;
        format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    }
}

pub use tradewind_charts::civil;

/// `2026-11-25T06:00:00Z` for a UNIX-nanosecond time (UTC).
pub use tradewind_core::data::time::format_iso8601 as iso8601;

/// Statistics the summary shows in rows of its own, or that only machines need.
const NOT_IN_SUMMARY: [&str; 6] = [
    "start",
    "end",
    "bars",
    "curve_points",
    "initial_equity",
    "final_equity",
];

/// The summary, as (label, value) rows: one list for the terminal and the HTML page.
pub fn summary_rows(r: &ReportView) -> Vec<(String, String)> {
    let c = &r.currency;
    let money = |m: Money| format!("{} {c}", money_text(m));
    let mut rows: Vec<(String, String)> = vec![
        ("Strategy".into(), r.strategy.clone()),
        ("Symbol".into(), r.symbol.clone()),
        ("Data".into(), r.data_source.clone()),
    ];
    if let Some((a, b)) = r.span {
        rows.push((
            "Period".into(),
            format!("{} – {}", date_time_text(a), date_time_text(b)),
        ));
    }
    rows.push(("Bars".into(), r.bars.to_string()));
    rows.push(("Initial equity".into(), money(r.initial_equity)));
    rows.push(("Final equity".into(), money(r.final_equity)));
    if let Some(bh) = buy_and_hold_return(r) {
        rows.push(("Buy and hold return".into(), signed_percent(bh)));
    }
    rows.push(("Realized PnL".into(), money(r.realized_pnl)));
    rows.push(("Unrealized PnL".into(), money(r.unrealized_pnl)));
    rows.push(("Venue fees paid".into(), money(r.fees)));
    rows.push(("Venue fee schedule".into(), r.venue_fee_schedule.clone()));
    if let Some(c) = &r.commission {
        let net = net_of_both(r, c);
        rows.push(("Gross PnL (before fees)".into(), money(net.gross)));
        rows.push(("PnL after venue fees".into(), money(net.after_venue)));
        rows.push((
            format!("Platform commission ({}, {})", c.plan, c.period),
            money(c.total()),
        ));
        rows.push((
            "  trading fees (by 30-day volume tier)".into(),
            money(c.trading_fees),
        ));
        let basis = c
            .performance_basis
            .as_deref()
            .unwrap_or("no performance fee");
        rows.push((
            format!("  performance fees ({basis}, over the high-water mark)"),
            money(c.performance_fees),
        ));
        rows.push(("Net PnL (after both)".into(), money(net.net)));
        if let Some(x) = net.net_return {
            rows.push(("Net return (after both)".into(), signed_percent(x)));
        }
    }
    rows.push((
        "Orders / fills".into(),
        format!("{} / {}", r.counts.orders, r.counts.fills),
    ));
    rows.push((
        "Rejected / refused / dropped".into(),
        format!(
            "{} / {} / {}",
            r.counts.rejected, r.counts.refused, r.counts.dropped
        ),
    ));
    rows.push(("Stop-loss closes".into(), r.counts.stop_losses.to_string()));
    for (k, v) in r
        .statistics
        .iter()
        .filter(|(k, _)| !NOT_IN_SUMMARY.contains(&k.as_str()) && k != "periods_per_year")
    {
        rows.push((stat_label(k), stat_text(k, *v, c)));
    }
    if let Some(h) = &r.halt {
        rows.push(("Halted".into(), h.clone()));
    }
    rows
}

/// PnL before fees, after the venue's, and after the platform's commission too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetOfBoth {
    /// Final − initial equity + venue fees: what the strategy made before any fee.
    pub gross: Money,
    /// Final − initial equity (the simulation charges the venue's fee).
    pub after_venue: Money,
    /// After the platform's commission as well.
    pub net: Money,
    /// `net` as a fraction of the initial equity.
    pub net_return: Option<f64>,
}

/// The report's PnL net of the venue's fee and of the platform's commission.
pub fn net_of_both(r: &ReportView, c: &CommissionSummary) -> NetOfBoth {
    let after_venue = r
        .final_equity
        .checked_sub(r.initial_equity)
        .unwrap_or(Money::ZERO);
    let net = after_venue.checked_sub(c.total()).unwrap_or(Money::ZERO);
    let initial = r.initial_equity.as_f64();
    NetOfBoth {
        gross: after_venue.checked_add(r.fees).unwrap_or(Money::ZERO),
        after_venue,
        net,
        net_return: (initial > 0.0).then(|| net.as_f64() / initial),
    }
}

/// The return of holding the symbol from the first bar's close to the last (no fees).
pub fn buy_and_hold_return(r: &ReportView) -> Option<f64> {
    let (first, last) = r.closes?;
    let (first, last) = (first.as_f64(), last.as_f64());
    (first > 0.0).then(|| last / first - 1.0)
}

/// Equity of buying the symbol with the initial equity at the first close, at each
/// charted bar.
pub fn buy_and_hold_curve(r: &ReportView) -> Vec<(UnixNanos, f64)> {
    let Some(first) = r.closes.map(|p| p.0.as_f64()).filter(|p| *p > 0.0) else {
        return Vec::new();
    };
    let start = r.initial_equity.as_f64();
    r.prices
        .iter()
        .map(|(ts, p)| (*ts, start * p.as_f64() / first))
        .collect()
}

/// Drawdown from the running peak at each curve point, as a fraction (0.1 = 10 % below
/// peak): the whole-curve form of what [`Recorder`] charts.
#[cfg(test)]
pub fn drawdowns(curve: &[EquityPoint]) -> Vec<f64> {
    let mut peak = RunningPeak::default();
    curve
        .iter()
        .map(|p| peak.drawdown(p.equity.as_f64()))
        .collect()
}

/// Returns per calendar period, for the returns table.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodReturns {
    /// `Monthly` (rows are years) or `Daily` (rows are weeks starting on Monday).
    pub monthly: bool,
    /// Row labels (`2026`, or the Monday `2026-08-17`).
    pub rows: Vec<String>,
    /// Column labels (`Jan`…`Dec`, or `Mon`…`Sun`).
    pub columns: Vec<&'static str>,
    /// `cells[row][column]`: the period's return as a fraction, `None` outside the data.
    pub cells: Vec<Vec<Option<f64>>>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Compounded returns of the equity curve per calendar month (UTC) when it spans more
/// than 60 days, else per day. Each period runs from the previous period's last equity
/// (the initial equity for the first) to its own last equity. The whole-curve form of
/// what [`Recorder`] gathers.
#[cfg(test)]
pub fn period_returns(curve: &[EquityPoint], initial: Money) -> PeriodReturns {
    let mut t = PeriodTracker::new(initial);
    for p in curve {
        t.push(*p);
    }
    t.finish()
}

/// [`period_returns`] while the curve streams: one entry per day while the curve spans
/// at most 60 days, then one per month (the daily entries folded into their months), so
/// it grows with the calendar, never with the number of points.
#[derive(Clone, Debug)]
struct PeriodTracker {
    initial: f64,
    first_ts: Option<UnixNanos>,
    monthly: bool,
    /// (day since the epoch, or year × 12 + month − 1 once monthly; last equity)
    periods: Vec<(i64, f64)>,
    /// The last point's day and key (most points share their day with the previous one).
    last: Option<(i64, i64)>,
}

const SIXTY_DAYS: i64 = 60 * 86_400_000_000_000;

fn day_of(ts: UnixNanos) -> i64 {
    ts.div_euclid(1_000_000_000).div_euclid(86_400)
}

fn month_of_day(day: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    y * 12 + i64::from(m) - 1
}

impl PeriodTracker {
    fn new(initial: Money) -> Self {
        Self {
            initial: initial.as_f64(),
            first_ts: None,
            monthly: false,
            periods: Vec::new(),
            last: None,
        }
    }

    fn push(&mut self, p: EquityPoint) {
        let first = *self.first_ts.get_or_insert(p.ts);
        if !self.monthly && p.ts - first > SIXTY_DAYS {
            self.monthly = true;
            let days = std::mem::take(&mut self.periods);
            for (day, end) in days {
                self.note(month_of_day(day), end);
            }
            self.last = None;
        }
        let day = day_of(p.ts);
        let key = match self.last {
            Some((d, k)) if d == day => k,
            _ if self.monthly => month_of_day(day),
            _ => day,
        };
        self.last = Some((day, key));
        self.note(key, p.equity.as_f64());
    }

    fn note(&mut self, key: i64, end: f64) {
        match self.periods.last_mut() {
            Some((k, e)) if *k == key => *e = end,
            _ => self.periods.push((key, end)),
        }
    }

    fn finish(self) -> PeriodReturns {
        let monthly = self.monthly || self.periods.is_empty();
        // (row key, column, return) per period, in time order.
        let mut base = self.initial;
        let periods: Vec<((i64, usize), f64)> = self
            .periods
            .iter()
            .map(|&(k, end)| {
                let key = if monthly {
                    (k.div_euclid(12), k.rem_euclid(12) as usize)
                } else {
                    // 1970-01-01 was a Thursday: weekday 0 = Monday.
                    let wd = (k + 3).rem_euclid(7);
                    (k - wd, wd as usize)
                };
                let r = ratio(end, base);
                base = end;
                (key, r)
            })
            .collect();
        let mut row_keys: Vec<i64> = periods.iter().map(|((r, _), _)| *r).collect();
        row_keys.dedup();
        let columns = if monthly {
            MONTHS.to_vec()
        } else {
            WEEKDAYS.to_vec()
        };
        let mut cells = vec![vec![None; columns.len()]; row_keys.len()];
        for ((r, c), v) in periods {
            let i = row_keys.iter().position(|k| *k == r).unwrap_or(0);
            cells[i][c] = Some(v);
        }
        let rows = row_keys
            .iter()
            .map(|k| {
                if monthly {
                    k.to_string()
                } else {
                    civil(k * 86_400 * 1_000_000_000).0
                }
            })
            .collect();
        PeriodReturns {
            monthly,
            rows,
            columns,
            cells,
        }
    }
}

fn ratio(end: f64, base: f64) -> f64 {
    if base > 0.0 { end / base - 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(ts_days: f64, e: &str) -> EquityPoint {
        EquityPoint {
            ts: (ts_days * 86_400e9) as i64,
            equity: Money::parse(e).unwrap(),
        }
    }

    #[test]
    fn drawdown_tracks_the_running_peak() {
        let p = |e: &str| point(0.0, e);
        let dd = drawdowns(&[p("100"), p("120"), p("90"), p("130")]);
        assert_eq!(dd, vec![0.0, 0.0, 0.25, 0.0]);
    }

    #[test]
    fn money_is_rounded_to_cents_and_grouped() {
        let t = |s: &str| money_text(Money::parse(s).unwrap());
        assert_eq!(t("11637.156670239"), "11,637.16");
        assert_eq!(t("1234567.005"), "1,234,567.00"); // half-to-even
        assert_eq!(t("-1234.565000001"), "-1,234.57");
        assert_eq!(t("-0.001"), "0.00");
        assert_eq!(t("999.999"), "1,000.00");
        assert_eq!(t("12"), "12.00");
    }

    fn view() -> ReportView {
        use tradewind_core::data::Side;
        use tradewind_core::orders::{ClientOrderId, InstrumentIndex, Liquidity};
        let d0 = 20_682.0;
        let price = |p: &str| Price::parse(p, 2).unwrap();
        let mut rec = Recorder::new(Money::parse("10000").unwrap());
        for p in [
            point(d0, "10000"),
            point(d0 + 1.0, "9900"),
            point(d0 + 2.0, "10123.456789"),
        ] {
            rec.equity(p);
        }
        rec.price(point(d0, "0").ts, price("100.00"));
        rec.price(point(d0 + 2.0, "0").ts, price("110.00"));
        rec.fill(&Fill {
            id: ClientOrderId(1),
            instrument: InstrumentIndex(0),
            ts: point(d0 + 1.0, "0").ts,
            side: Side::Buy,
            price: price("101.00"),
            quantity: "1".parse().unwrap(),
            fee: Money::ZERO,
            liquidity: Liquidity::Taker,
        });
        let rec = rec.finish().unwrap();
        ReportView {
            bot: "b".into(),
            strategy: "s (EmaCross)".into(),
            symbol: "BTCUSD".into(),
            currency: "USD".into(),
            data_source: "bars.csv".into(),
            bars: 3,
            span: Some((point(d0, "0").ts, point(d0 + 2.0, "0").ts)),
            initial_equity: Money::parse("10000").unwrap(),
            final_equity: Money::parse("10123.456789").unwrap(),
            realized_pnl: Money::parse("123.456789").unwrap(),
            unrealized_pnl: Money::parse("0").unwrap(),
            fees: Money::parse("1.005").unwrap(),
            venue_fee_schedule: "maker 10bp, taker 10bp (Binance spot VIP 0)".into(),
            commission: None,
            counts: Counts {
                orders: 2,
                fills: 2,
                ..Counts::default()
            },
            halt: None,
            statistics: vec![
                ("total_return".into(), StatValue::Float(Some(0.0123))),
                (
                    "max_drawdown_duration".into(),
                    StatValue::Duration(Some(90_000_000_000_000)),
                ),
            ],
            equity_curve: rec.equity_curve,
            curve_points: rec.curve_points,
            drawdown: rec.drawdown,
            trades: rec.trades,
            prices: rec.prices,
            closes: rec.closes,
            fills: rec.fills,
            fill_stride: rec.fill_stride,
            fill_sides: rec.fill_sides,
            returns: rec.returns,
            notes: Vec::new(),
        }
    }

    #[test]
    fn terminal_and_page_print_the_same_summary_rows() {
        let r = view();
        let rows = summary_rows(&r);
        assert!(rows.contains(&("Final equity".into(), "10,123.46 USD".into())));
        assert!(rows.contains(&("Buy and hold return".into(), "+10.00 %".into())));
        assert!(rows.contains(&("Longest drawdown".into(), "1.04 days".into())));
        assert!(rows.contains(&("Venue fees paid".into(), "1.00 USD".into())));
        let text = table::render(&r);
        let page = html::render(&r);
        for (k, v) in &rows {
            let line = text
                .lines()
                .find(|l| l.trim_start().starts_with(k.as_str()));
            assert!(
                line.is_some_and(|l| l.trim_end().ends_with(v.as_str())),
                "{k}: {v}\n{text}"
            );
            let cell = format!("{}</th><td>{}</td>", html::escape(k), html::escape(v));
            assert!(page.contains(&cell), "{cell}");
        }
        // Identical input, identical bytes.
        assert_eq!(page, html::render(&view()));
    }

    #[test]
    fn report_json_streams_every_trade_into_the_trade_list() {
        use tradewind_core::portfolio::PositionSide;
        let mut r = view();
        let mut json = Vec::new();
        json::write(&r, &mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["trades"], serde_json::json!([]));
        assert_eq!(v["equityCurvePoints"], 3);
        assert_eq!(v["equityCurve"].as_array().unwrap().len(), 3);
        let trade = |i: i64| ClosedTrade {
            instrument: tradewind_core::orders::InstrumentIndex(0),
            side: PositionSide::Long,
            entry_ts: i * 60_000_000_000,
            entry_price: Price::parse("100.00", 2).unwrap(),
            exit_ts: (i + 1) * 60_000_000_000,
            exit_price: Price::parse("101.00", 2).unwrap(),
            quantity: "1".parse().unwrap(),
            gross_pnl: Money::parse("1").unwrap(),
            fees: Money::ZERO,
            pnl: Money::parse("1").unwrap(),
            return_fraction: 0.01,
        };
        for i in 0..1_500 {
            r.trades.push(&trade(i)).unwrap();
        }
        r.trades.finish().unwrap();
        let mut json = Vec::new();
        json::write(&r, &mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let trades = v["trades"].as_array().unwrap();
        assert_eq!(trades.len(), 1_500);
        assert_eq!(trades[1_499], trades::trade_json(&trade(1_499)));
        assert_eq!(r.trades.head().len(), trades::MAX_TRADE_ROWS);
        // The same bytes as serde_json pretty-printing the whole value.
        let whole = serde_json::to_string_pretty(&v).unwrap() + "\n";
        assert_eq!(String::from_utf8(json).unwrap(), whole);
    }

    #[test]
    fn streamed_period_returns_and_drawdowns_match_the_whole_curve() {
        // Two years of 6-hourly points: the tracker switches from days to months.
        let d0 = 20_454.0;
        let curve: Vec<EquityPoint> = (0..2_920)
            .map(|i| EquityPoint {
                ts: ((d0 + i as f64 / 4.0) * 86_400e9) as i64,
                equity: Money::from_raw(
                    10_000_000_000_000 + ((i * 7_919) % 1_000) as i128 * 1_000_000_000,
                ),
            })
            .collect();
        let p = period_returns(&curve, Money::parse("10000").unwrap());
        assert!(p.monthly);
        assert_eq!(p.rows, ["2026", "2027"]);
        assert_eq!(p.cells.iter().flatten().flatten().count(), 24);
        let mut rec = Recorder::new(Money::parse("10000").unwrap());
        curve.iter().for_each(|c| rec.equity(*c));
        let rec = rec.finish().unwrap();
        assert_eq!(rec.returns, p);
        // Every charted drawdown is the exact one at its point.
        let exact = drawdowns(&curve);
        for (ts, d) in &rec.drawdown {
            let i = curve.iter().position(|c| c.ts == *ts).unwrap();
            assert_eq!(*d, exact[i]);
        }
        assert_eq!(rec.curve_points, 2_920);
    }

    #[test]
    fn labels_are_words_not_field_names() {
        assert_eq!(stat_label("max_drawdown_duration"), "Longest drawdown");
        assert_eq!(stat_label("some_new_stat"), "Some new stat");
    }

    #[test]
    fn short_curves_get_daily_returns_by_week() {
        // 2026-08-17 is a Monday (day 20682).
        let d0 = 20_682.0;
        let curve = [
            point(d0, "100"),
            point(d0 + 0.5, "110"),
            point(d0 + 1.5, "99"),
            point(d0 + 7.2, "99"),
        ];
        let r = period_returns(&curve, Money::parse("100").unwrap());
        assert!(!r.monthly);
        assert_eq!(r.rows, ["2026-08-17", "2026-08-24"]);
        assert!((r.cells[0][0].unwrap() - 0.1).abs() < 1e-12);
        assert!((r.cells[0][1].unwrap() + 0.1).abs() < 1e-12);
        assert_eq!(r.cells[0][2], None);
        assert_eq!(r.cells[1][0], Some(0.0));
    }

    #[test]
    fn long_curves_get_monthly_returns_by_year() {
        // 2026-01-01 is day 20454.
        let d0 = 20_454.0;
        let curve = [
            point(d0, "100"),
            point(d0 + 40.0, "120"),
            point(d0 + 80.0, "90"),
        ];
        let r = period_returns(&curve, Money::parse("100").unwrap());
        assert!(r.monthly);
        assert_eq!(r.rows, ["2026"]);
        assert_eq!(r.cells[0][0], Some(0.0));
        assert!((r.cells[0][1].unwrap() - 0.2).abs() < 1e-12);
        assert!((r.cells[0][2].unwrap() + 0.25).abs() < 1e-12);
    }
}
