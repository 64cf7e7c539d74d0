//! Performance statistics from an equity curve and closed round trips.
//!
//! Conventions (ratios are `f64` fractions: `0.05` is 5 %; money is exact until the
//! final division):
//! - **Returns** are simple returns between consecutive curve points,
//!   `r_i = E_i / E_{i-1} − 1`, so the curve's sampling is the return period
//!   ([`CurveSampling`](crate::portfolio::CurveSampling)). Return-based statistics need a
//!   positive equity at every point but the last.
//! - **Periods per year** is [`StatsConfig::periods_per_year`] if given, else inferred as
//!   the number of return periods per 365.25 days of the curve's span, so a market that
//!   closes is annualised by the periods it really trades: daily bars of a 24/7 market give
//!   365.25, daily bars of a stock market about 252, minute bars of a 6.5-hour session
//!   about 98,000.
//! - **Total return** `E_last / E_first − 1`. **CAGR** `(E_last / E_first)^(1 / years) − 1`
//!   with `years = (t_last − t_first) / 365.25 days`; −1 if equity ended at or below 0.
//! - **Volatility** sample standard deviation of returns (n − 1) × √periods_per_year.
//! - **Sharpe** `(mean(r) − rf_p) / stdev(r) × √ppy`, **Sortino**
//!   `(mean(r) − rf_p) / downside_dev × √ppy` with
//!   `downside_dev = √(Σ min(0, r − rf_p)² / n)`; `rf_p = (1 + rf)^(1/ppy) − 1` from the
//!   annual risk-free rate (0 by default). Undefined (`None`) with fewer than two returns
//!   or a zero denominator (flat equity; no losing period for Sortino).
//! - **Max drawdown** the largest `(peak − E) / peak` (positive fraction, running peak);
//!   its **duration** the longest time from a peak to the first point back at or above it,
//!   or to the last point if equity never recovered. **Calmar** `CAGR / max drawdown`.
//! - **Trades** are round trips ([`ClosedTrade`]) and use their net PnL (after fees):
//!   win rate `wins / trades` (a win has PnL > 0), profit factor
//!   `Σ winning PnL / |Σ losing PnL|` (undefined without losses), expectancy the mean
//!   PnL per trade in the quote currency.
//! - **Exposure** the fraction of steps (bars) in the market ([`Exposure`]).
//!
//! `None` means "undefined", never zero: a report prints it as `n/a` (JSON `null`).
//! Values that would not be finite (e.g. the CAGR of a large gain over minutes) are `None`
//! too, so every number a report prints is finite.

#[cfg(test)]
mod tests;

use std::fmt;

use crate::data::UnixNanos;
use crate::fixed::Money;
use crate::portfolio::{ClosedTrade, EquityPoint, Exposure, Portfolio};

/// Nanoseconds in a 365.25-day year.
pub const NANOS_PER_YEAR: f64 = 365.25 * 86_400.0 * 1e9;

/// Assumptions for the return-based statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatsConfig {
    /// Return periods per year (e.g. 252 for daily trading days, 365 for crypto days);
    /// `None` infers it from the curve's median timestamp spacing.
    pub periods_per_year: Option<f64>,
    /// Annual risk-free rate as a fraction (0.03 = 3 %); 0 by default.
    pub risk_free_rate: f64,
}

/// The statistics of one run. Every ratio is a fraction; `None` is undefined.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// Time of the first curve point.
    pub start: Option<UnixNanos>,
    /// Time of the last curve point.
    pub end: Option<UnixNanos>,
    /// Steps (bars) marked, from [`Exposure`].
    pub bars: u64,
    /// Points on the equity curve.
    pub curve_points: usize,
    /// Equity at the first curve point.
    pub initial_equity: Option<Money>,
    /// Equity at the last curve point.
    pub final_equity: Option<Money>,
    /// Highest equity on the curve.
    pub peak_equity: Option<Money>,
    /// `E_last / E_first − 1`.
    pub total_return: Option<f64>,
    /// Compound annual growth rate over 365.25-day years.
    pub cagr: Option<f64>,
    /// Return periods per year used (given or inferred).
    pub periods_per_year: Option<f64>,
    /// Annualised standard deviation of returns.
    pub volatility: Option<f64>,
    /// Annualised Sharpe ratio.
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio.
    pub sortino: Option<f64>,
    /// Largest peak-to-trough decline as a positive fraction.
    pub max_drawdown: Option<f64>,
    /// Longest peak-to-recovery time, nanoseconds.
    pub max_drawdown_duration: Option<i64>,
    /// `CAGR / max drawdown`.
    pub calmar: Option<f64>,
    /// Fraction of bars with a position open.
    pub exposure: Option<f64>,
    /// Closed round trips.
    pub trades: usize,
    /// Winning trades / trades.
    pub win_rate: Option<f64>,
    /// Gross winning PnL / |gross losing PnL|.
    pub profit_factor: Option<f64>,
    /// Mean net PnL per trade, quote currency.
    pub expectancy: Option<f64>,
    /// Mean per-trade return (fraction of entry notional).
    pub avg_trade_return: Option<f64>,
    /// Best per-trade return.
    pub best_trade_return: Option<f64>,
    /// Worst per-trade return.
    pub worst_trade_return: Option<f64>,
    /// Σ net PnL of closed trades (exact).
    pub trade_pnl: Money,
    /// Σ fees of closed trades (exact).
    pub trade_fees: Money,
}

/// One value of the ordered key/value view of [`Statistics`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatValue {
    /// A ratio, a fraction or a money amount converted for display.
    Float(Option<f64>),
    /// A count.
    Count(u64),
    /// An exact amount in the quote currency.
    Money(Option<Money>),
    /// A timestamp, nanoseconds since the epoch (UTC).
    Time(Option<UnixNanos>),
    /// A duration in nanoseconds.
    Duration(Option<i64>),
}

impl fmt::Display for StatValue {
    /// Floats in Rust's shortest round-trip form (deterministic), money exact, times and
    /// durations as integer nanoseconds, `n/a` for undefined values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StatValue::Float(Some(v)) => write!(f, "{v}"),
            StatValue::Count(v) => write!(f, "{v}"),
            StatValue::Money(Some(v)) => write!(f, "{v}"),
            StatValue::Time(Some(v)) | StatValue::Duration(Some(v)) => write!(f, "{v}"),
            StatValue::Float(None)
            | StatValue::Money(None)
            | StatValue::Time(None)
            | StatValue::Duration(None) => f.write_str("n/a"),
        }
    }
}

impl Statistics {
    /// Statistics of a portfolio's equity curve, closed trades and exposure.
    pub fn from_portfolio(portfolio: &Portfolio, config: &StatsConfig) -> Self {
        Self::compute(
            portfolio.equity_curve(),
            portfolio.closed_trades(),
            portfolio.exposure(),
            config,
        )
    }

    /// Statistics from their inputs (see the module docs for every definition). Never
    /// fails: what cannot be computed is `None`.
    pub fn compute(
        curve: &[EquityPoint],
        trades: &[ClosedTrade],
        exposure: Exposure,
        config: &StatsConfig,
    ) -> Self {
        let first = curve.first();
        let last = curve.last();
        let initial = first.map(|p| p.equity);
        let final_equity = last.map(|p| p.equity);
        let total_return = match (initial, final_equity) {
            (Some(a), Some(b)) if a.raw() > 0 => Some(b.raw() as f64 / a.raw() as f64 - 1.0),
            _ => None,
        };
        let cagr = match (first, last, total_return) {
            (Some(a), Some(b), Some(total)) if b.ts > a.ts => {
                let years = b.ts.saturating_sub(a.ts) as f64 / NANOS_PER_YEAR;
                let growth = 1.0 + total;
                Some(if growth <= 0.0 {
                    -1.0
                } else {
                    growth.powf(1.0 / years) - 1.0
                })
            }
            _ => None,
        };
        let periods_per_year = config
            .periods_per_year
            .filter(|p| p.is_finite() && *p > 0.0)
            .or_else(|| infer_periods_per_year(curve));
        let ret = return_stats(curve, periods_per_year, config.risk_free_rate);
        let dd = drawdown(curve);
        let calmar = match (cagr, dd.max) {
            (Some(c), Some(mdd)) if mdd > 0.0 => Some(c / mdd),
            _ => None,
        };
        let t = trade_stats(trades);
        Statistics {
            start: first.map(|p| p.ts),
            end: last.map(|p| p.ts),
            bars: exposure.steps,
            curve_points: curve.len(),
            initial_equity: initial,
            final_equity,
            peak_equity: curve.iter().map(|p| p.equity).max(),
            total_return: finite(total_return),
            cagr: finite(cagr),
            periods_per_year: finite(periods_per_year),
            volatility: finite(ret.volatility),
            sharpe: finite(ret.sharpe),
            sortino: finite(ret.sortino),
            max_drawdown: finite(dd.max),
            max_drawdown_duration: dd.duration,
            calmar: finite(calmar),
            exposure: exposure.fraction(),
            trades: trades.len(),
            win_rate: t.win_rate,
            profit_factor: finite(t.profit_factor),
            expectancy: finite(t.expectancy),
            avg_trade_return: finite(t.avg_return),
            best_trade_return: finite(t.best),
            worst_trade_return: finite(t.worst),
            trade_pnl: t.pnl,
            trade_fees: t.fees,
        }
    }

    /// The statistics as an ordered key/value list (stable keys and order), so a report
    /// writer can print a table or JSON without serde.
    pub fn entries(&self) -> Vec<(&'static str, StatValue)> {
        use StatValue::{Count, Duration, Float, Time};
        vec![
            ("start", Time(self.start)),
            ("end", Time(self.end)),
            (
                "duration",
                Duration(self.start.zip(self.end).map(|(a, b)| b.saturating_sub(a))),
            ),
            ("bars", Count(self.bars)),
            ("curve_points", Count(self.curve_points as u64)),
            ("initial_equity", StatValue::Money(self.initial_equity)),
            ("final_equity", StatValue::Money(self.final_equity)),
            ("peak_equity", StatValue::Money(self.peak_equity)),
            ("total_return", Float(self.total_return)),
            ("cagr", Float(self.cagr)),
            ("periods_per_year", Float(self.periods_per_year)),
            ("volatility", Float(self.volatility)),
            ("sharpe", Float(self.sharpe)),
            ("sortino", Float(self.sortino)),
            ("max_drawdown", Float(self.max_drawdown)),
            (
                "max_drawdown_duration",
                Duration(self.max_drawdown_duration),
            ),
            ("calmar", Float(self.calmar)),
            ("exposure", Float(self.exposure)),
            ("trades", Count(self.trades as u64)),
            ("win_rate", Float(self.win_rate)),
            ("profit_factor", Float(self.profit_factor)),
            ("expectancy", Float(self.expectancy)),
            ("avg_trade_return", Float(self.avg_trade_return)),
            ("best_trade_return", Float(self.best_trade_return)),
            ("worst_trade_return", Float(self.worst_trade_return)),
            ("trade_pnl", StatValue::Money(Some(self.trade_pnl))),
            ("trade_fees", StatValue::Money(Some(self.trade_fees))),
        ]
    }
}

/// Keep only finite values: a report cannot print infinity or NaN (e.g. the CAGR of a
/// large gain over a few minutes overflows `f64`).
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Return periods per 365.25 days of the curve's span, `None` with fewer than two distinct times.
fn infer_periods_per_year(curve: &[EquityPoint]) -> Option<f64> {
    // Observed periods over elapsed time, not the median spacing: a market that closes
    // (nights, weekends) has fewer periods in a year than its bar spacing says, and
    // annualising by the spacing would overstate volatility and Sharpe.
    let periods = curve.windows(2).filter(|w| w[1].ts > w[0].ts).count();
    let (first, last) = (curve.first()?, curve.last()?);
    let elapsed = last.ts.saturating_sub(first.ts);
    if periods == 0 || elapsed <= 0 {
        return None;
    }
    Some(periods as f64 * NANOS_PER_YEAR / elapsed as f64)
}

struct ReturnStats {
    volatility: Option<f64>,
    sharpe: Option<f64>,
    sortino: Option<f64>,
}

fn return_stats(curve: &[EquityPoint], ppy: Option<f64>, risk_free: f64) -> ReturnStats {
    let none = ReturnStats {
        volatility: None,
        sharpe: None,
        sortino: None,
    };
    let Some(ppy) = ppy else { return none };
    if curve.len() < 3 || curve[..curve.len() - 1].iter().any(|p| p.equity.raw() <= 0) {
        return none;
    }
    let returns = curve
        .windows(2)
        .map(|w| w[1].equity.raw() as f64 / w[0].equity.raw() as f64 - 1.0);
    let n = (curve.len() - 1) as f64;
    let mean = returns.clone().sum::<f64>() / n;
    let variance = returns.clone().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let std = variance.sqrt();
    let rf = (1.0 + risk_free).powf(1.0 / ppy) - 1.0;
    let downside = (returns.map(|r| (r - rf).min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    let annual = ppy.sqrt();
    ReturnStats {
        volatility: Some(std * annual),
        sharpe: (std > 0.0).then(|| (mean - rf) / std * annual),
        sortino: (downside > 0.0).then(|| (mean - rf) / downside * annual),
    }
}

struct Drawdown {
    max: Option<f64>,
    duration: Option<i64>,
}

fn drawdown(curve: &[EquityPoint]) -> Drawdown {
    let Some(first) = curve.first() else {
        return Drawdown {
            max: None,
            duration: None,
        };
    };
    let mut peak = first.equity.raw();
    let mut peak_ts = first.ts;
    let mut max = 0.0f64;
    let mut longest = 0i64;
    let mut underwater = false;
    for p in &curve[1..] {
        let e = p.equity.raw();
        if e >= peak {
            // Back at or above the peak: an underwater spell, if any, ends here.
            if underwater {
                longest = longest.max(p.ts.saturating_sub(peak_ts));
                underwater = false;
            }
            peak = e;
            peak_ts = p.ts;
        } else {
            underwater = true;
            if peak > 0 {
                // Exact difference; only the final ratio is rounded.
                max = max.max(peak.saturating_sub(e) as f64 / peak as f64);
            }
        }
    }
    if underwater {
        let last = curve[curve.len() - 1];
        longest = longest.max(last.ts.saturating_sub(peak_ts));
    }
    Drawdown {
        max: Some(max),
        duration: Some(longest),
    }
}

struct TradeStats {
    win_rate: Option<f64>,
    profit_factor: Option<f64>,
    expectancy: Option<f64>,
    avg_return: Option<f64>,
    best: Option<f64>,
    worst: Option<f64>,
    pnl: Money,
    fees: Money,
}

fn trade_stats(trades: &[ClosedTrade]) -> TradeStats {
    // Exact sums in i128, saturating: only absurd PnL could reach the bounds.
    let mut wins = 0usize;
    let mut profit = 0i128;
    let mut loss = 0i128;
    let mut fees = 0i128;
    let mut return_sum = 0.0;
    let mut best: Option<f64> = None;
    let mut worst: Option<f64> = None;
    for t in trades {
        let pnl = t.pnl.raw();
        if pnl > 0 {
            wins += 1;
            profit = profit.saturating_add(pnl);
        } else {
            loss = loss.saturating_add(pnl);
        }
        fees = fees.saturating_add(t.fees.raw());
        return_sum += t.return_fraction;
        best = Some(best.map_or(t.return_fraction, |b| b.max(t.return_fraction)));
        worst = Some(worst.map_or(t.return_fraction, |w| w.min(t.return_fraction)));
    }
    let n = trades.len();
    let pnl = profit.saturating_add(loss);
    let some = n > 0;
    TradeStats {
        win_rate: some.then(|| wins as f64 / n as f64),
        profit_factor: (some && loss < 0).then(|| profit as f64 / -(loss as f64)),
        expectancy: some.then(|| pnl as f64 / 1e9 / n as f64),
        avg_return: some.then(|| return_sum / n as f64),
        best,
        worst,
        pnl: Money::from_raw(pnl),
        fees: Money::from_raw(fees),
    }
}
