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
use crate::fixed::{Money, i128_as_f64};
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
    /// fails: what cannot be computed is `None`. The same one-pass arithmetic as
    /// [`StatsAccumulator`], fed from slices.
    pub fn compute(
        curve: &[EquityPoint],
        trades: &[ClosedTrade],
        exposure: Exposure,
        config: &StatsConfig,
    ) -> Self {
        // With the whole curve at hand the periods per year are known before the first
        // return, so the Sortino threshold is too.
        let config = StatsConfig {
            periods_per_year: valid_periods(config.periods_per_year)
                .or_else(|| infer_periods_per_year(curve)),
            ..*config
        };
        let mut acc = StatsAccumulator::new(&config);
        for p in curve {
            acc.push_point(*p);
        }
        for t in trades {
            acc.push_trade(t);
        }
        acc.finish(exposure)
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

fn valid_periods(p: Option<f64>) -> Option<f64> {
    p.filter(|p| p.is_finite() && *p > 0.0)
}

/// [`Statistics`] computed in one pass: equity points and closed trades are fed as they
/// happen and nothing is kept per point, so a backtest of any length needs constant
/// memory. Means are plain sums divided at the end; the variance of returns uses
/// Welford's update (numerically stable, agrees with the two-pass formula to rounding).
///
/// The Sortino ratio compares returns with the per-period risk-free rate, which must be
/// known before the first return: it is when the annual rate is 0 (the default) or
/// [`StatsConfig::periods_per_year`] is given. With a non-zero rate and inferred
/// periods the accumulator cannot know it and leaves the Sortino ratio `None`
/// ([`Statistics::compute`], holding the whole curve, infers the periods first).
#[derive(Debug, Clone)]
pub struct StatsAccumulator {
    config: StatsConfig,
    /// Per-period risk-free rate, when known up front.
    rf: Option<f64>,
    first: Option<EquityPoint>,
    last: Option<EquityPoint>,
    points: usize,
    peak_equity: Option<Money>,
    /// Curve steps to a later time (the periods of [`infer_periods_per_year`]).
    periods: usize,
    /// Every point before the last had positive equity (returns are defined).
    returns_defined: bool,
    returns: u64,
    return_sum: f64,
    welford_mean: f64,
    welford_m2: f64,
    downside_sum: f64,
    dd_peak: i128,
    dd_peak_ts: UnixNanos,
    dd_max: f64,
    dd_longest: i64,
    underwater: bool,
    trades: usize,
    wins: usize,
    profit: i128,
    loss: i128,
    trade_fees: i128,
    trade_return_sum: f64,
    best: Option<f64>,
    worst: Option<f64>,
}

impl StatsAccumulator {
    /// An empty accumulator under `config`.
    pub fn new(config: &StatsConfig) -> Self {
        let rf = if config.risk_free_rate == 0.0 {
            Some(0.0)
        } else {
            valid_periods(config.periods_per_year)
                .map(|ppy| (1.0 + config.risk_free_rate).powf(1.0 / ppy) - 1.0)
        };
        Self {
            config: *config,
            rf,
            first: None,
            last: None,
            points: 0,
            peak_equity: None,
            periods: 0,
            returns_defined: true,
            returns: 0,
            return_sum: 0.0,
            welford_mean: 0.0,
            welford_m2: 0.0,
            downside_sum: 0.0,
            dd_peak: 0,
            dd_peak_ts: 0,
            dd_max: 0.0,
            dd_longest: 0,
            underwater: false,
            trades: 0,
            wins: 0,
            profit: 0,
            loss: 0,
            trade_fees: 0,
            trade_return_sum: 0.0,
            best: None,
            worst: None,
        }
    }

    /// Adds the next point of the equity curve (time order; equal times are separate
    /// points, as in a slice).
    pub fn push_point(&mut self, p: EquityPoint) {
        self.points += 1;
        self.peak_equity = Some(self.peak_equity.map_or(p.equity, |e| e.max(p.equity)));
        let Some(prev) = self.last.replace(p) else {
            self.first = Some(p);
            self.dd_peak = p.equity.raw();
            self.dd_peak_ts = p.ts;
            return;
        };
        if p.ts > prev.ts {
            self.periods += 1;
        }
        // Returns.
        if prev.equity.raw() <= 0 {
            self.returns_defined = false;
        } else if self.returns_defined {
            let r = i128_as_f64(p.equity.raw()) / i128_as_f64(prev.equity.raw()) - 1.0;
            self.returns += 1;
            self.return_sum += r;
            let delta = r - self.welford_mean;
            self.welford_mean += delta / self.returns as f64;
            self.welford_m2 += delta * (r - self.welford_mean);
            if let Some(rf) = self.rf {
                self.downside_sum += (r - rf).min(0.0).powi(2);
            }
        }
        // Drawdown from the running peak.
        let e = p.equity.raw();
        if e >= self.dd_peak {
            // Back at or above the peak: an underwater spell, if any, ends here.
            if self.underwater {
                self.dd_longest = self.dd_longest.max(p.ts.saturating_sub(self.dd_peak_ts));
                self.underwater = false;
            }
            self.dd_peak = e;
            self.dd_peak_ts = p.ts;
        } else {
            self.underwater = true;
            if self.dd_peak > 0 {
                // Exact difference; only the final ratio is rounded.
                self.dd_max = self
                    .dd_max
                    .max(i128_as_f64(self.dd_peak.saturating_sub(e)) / i128_as_f64(self.dd_peak));
            }
        }
    }

    /// Adds a closed round trip.
    pub fn push_trade(&mut self, t: &ClosedTrade) {
        // Exact sums in i128, saturating: only absurd PnL could reach the bounds.
        let pnl = t.pnl.raw();
        self.trades += 1;
        if pnl > 0 {
            self.wins += 1;
            self.profit = self.profit.saturating_add(pnl);
        } else {
            self.loss = self.loss.saturating_add(pnl);
        }
        self.trade_fees = self.trade_fees.saturating_add(t.fees.raw());
        self.trade_return_sum += t.return_fraction;
        let r = t.return_fraction;
        self.best = Some(self.best.map_or(r, |b| b.max(r)));
        self.worst = Some(self.worst.map_or(r, |w| w.min(r)));
    }

    /// Points added so far.
    pub fn points(&self) -> usize {
        self.points
    }

    /// The statistics of everything added, with the run's exposure.
    pub fn finish(&self, exposure: Exposure) -> Statistics {
        let (first, last) = (self.first, self.last);
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
        // Observed periods over elapsed time (see `infer_periods_per_year`).
        let periods_per_year = valid_periods(self.config.periods_per_year).or_else(|| {
            let elapsed = last?.ts.saturating_sub(first?.ts);
            (self.periods > 0 && elapsed > 0)
                .then(|| self.periods as f64 * NANOS_PER_YEAR / elapsed as f64)
        });
        let (volatility, sharpe, sortino) = self.return_ratios(periods_per_year);
        let max_drawdown = first.map(|_| self.dd_max);
        let max_drawdown_duration = match (first, last) {
            (Some(_), Some(last)) if self.underwater => {
                Some(self.dd_longest.max(last.ts.saturating_sub(self.dd_peak_ts)))
            }
            (Some(_), _) => Some(self.dd_longest),
            _ => None,
        };
        let calmar = match (cagr, max_drawdown) {
            (Some(c), Some(mdd)) if mdd > 0.0 => Some(c / mdd),
            _ => None,
        };
        let n = self.trades;
        let some = n > 0;
        let pnl = self.profit.saturating_add(self.loss);
        Statistics {
            start: first.map(|p| p.ts),
            end: last.map(|p| p.ts),
            bars: exposure.steps,
            curve_points: self.points,
            initial_equity: initial,
            final_equity,
            peak_equity: self.peak_equity,
            total_return: finite(total_return),
            cagr: finite(cagr),
            periods_per_year: finite(periods_per_year),
            volatility: finite(volatility),
            sharpe: finite(sharpe),
            sortino: finite(sortino),
            max_drawdown: finite(max_drawdown),
            max_drawdown_duration,
            calmar: finite(calmar),
            exposure: exposure.fraction(),
            trades: n,
            win_rate: some.then(|| self.wins as f64 / n as f64),
            profit_factor: finite(
                (some && self.loss < 0).then(|| self.profit as f64 / -(self.loss as f64)),
            ),
            expectancy: finite(some.then(|| pnl as f64 / 1e9 / n as f64)),
            avg_trade_return: finite(some.then(|| self.trade_return_sum / n as f64)),
            best_trade_return: finite(self.best),
            worst_trade_return: finite(self.worst),
            trade_pnl: Money::from_raw(pnl),
            trade_fees: Money::from_raw(self.trade_fees),
        }
    }

    /// Volatility, Sharpe and Sortino: defined with at least two returns, every point but
    /// the last positive, and the periods per year known.
    fn return_ratios(&self, ppy: Option<f64>) -> (Option<f64>, Option<f64>, Option<f64>) {
        let Some(ppy) = ppy else {
            return (None, None, None);
        };
        if self.points < 3 || !self.returns_defined {
            return (None, None, None);
        }
        let n = self.returns as f64;
        let mean = self.return_sum / n;
        let std = (self.welford_m2 / (n - 1.0)).sqrt();
        let rf = self
            .rf
            .unwrap_or_else(|| (1.0 + self.config.risk_free_rate).powf(1.0 / ppy) - 1.0);
        let annual = ppy.sqrt();
        let sortino = self.rf.and_then(|_| {
            let downside = (self.downside_sum / n).sqrt();
            (downside > 0.0).then(|| (mean - rf) / downside * annual)
        });
        (
            Some(std * annual),
            (std > 0.0).then(|| (mean - rf) / std * annual),
            sortino,
        )
    }
}
