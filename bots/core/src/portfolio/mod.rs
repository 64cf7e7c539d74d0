//! Portfolio accounting for one account in one quote currency: cash, positions under
//! average cost, realized and unrealized PnL, fees, the equity curve and closed round trips.
//!
//! Conventions (all money math is exact fixed point, [`Money`] at 1e-9):
//! - A fill's notional is `price × quantity` ([`Price::notional`], half-to-even at 1e-9).
//!   A buy pays `notional + fee` out of cash, a sell receives `notional - fee`: the whole
//!   fee hits cash at the fill, in the quote currency. Shorts credit the sale proceeds to
//!   cash (no margin model).
//! - Positions use average cost (see [`Position`]). A fill against the position first
//!   closes it; the rest, if any, opens a new position the other way at the fill price
//!   (a *flip*), and the fill's fee is split between the two pro rata by quantity.
//! - Realized PnL is gross of fees; fees are tracked separately. Hence always, exactly:
//!   `equity = cash + Σ market value = initial cash + realized - fees + unrealized`.
//! - A fill also re-values its position at the fill price (the freshest price known).
//!
//! Every mutation is checked and all-or-nothing: an input that would overflow is an
//! error and leaves the portfolio unchanged.
//!
//! ```
//! use tradewind_core::data::Side;
//! use tradewind_core::fixed::Money;
//! use tradewind_core::orders::{ClientOrderId, Fill, InstrumentIndex, Liquidity};
//! use tradewind_core::portfolio::Portfolio;
//!
//! let btc = InstrumentIndex(0);
//! let mut pf = Portfolio::new("10000".parse()?, 1);
//! let buy = Fill {
//!     id: ClientOrderId(1),
//!     instrument: btc,
//!     ts: 1,
//!     side: Side::Buy,
//!     price: "100".parse()?,
//!     quantity: "10".parse()?,
//!     fee: "2".parse()?,
//!     liquidity: Liquidity::Taker,
//! };
//! pf.apply_fill(&buy)?;
//! pf.mark(btc, "110".parse()?, 2)?;
//! assert_eq!(pf.cash(), "8998".parse::<Money>()?); // 10000 − 1000 − 2 fee
//! assert_eq!(pf.equity(), "10098".parse::<Money>()?); // cash + 10 × 110
//! assert_eq!(pf.unrealized_pnl(), "100".parse::<Money>()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod position;

#[cfg(test)]
mod tests;

use std::num::NonZeroU64;

use crate::data::{Side, UnixNanos};
use crate::fixed::{FIXED_PRECISION, Money, Price, Quantity, RoundingMode};
use crate::orders::{ClientOrderId, Fill, InstrumentIndex};

pub use position::{ClosedTrade, Position, PositionSide};
use position::{RoundTrip, avg_price};

/// Why a fill or mark was not applied. The portfolio is unchanged after any error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortfolioError {
    /// The instrument index is outside the portfolio's instrument table.
    #[error("unknown instrument {index}: the portfolio tracks {count} instruments")]
    UnknownInstrument {
        /// Index given.
        index: usize,
        /// Number of instruments the portfolio was built with.
        count: usize,
    },
    /// A fill with zero quantity (an exchange bug; accounting it would be meaningless).
    #[error("fill of order {id} has zero quantity")]
    ZeroQuantity {
        /// Order of the fill.
        id: ClientOrderId,
    },
    /// The result does not fit the fixed-point types.
    #[error("{what} would overflow")]
    Overflow {
        /// Which quantity overflowed (`"cash"`, `"position quantity"`, ...).
        what: &'static str,
    },
    /// A mark or curve point older than the previous one (the equity curve must be ordered).
    #[error("timestamp {ts} is before the previous mark at {last}")]
    TimeWentBackwards {
        /// Timestamp given.
        ts: UnixNanos,
        /// Latest timestamp seen.
        last: UnixNanos,
    },
}

fn overflow(what: &'static str) -> PortfolioError {
    PortfolioError::Overflow { what }
}

/// One point of the equity curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EquityPoint {
    /// Time of the mark that produced the point.
    pub ts: UnixNanos,
    /// Equity (cash + Σ position value) at that time.
    pub equity: Money,
}

/// Which marks leave a point on the equity curve. Either way the curve holds at most one
/// point per bucket, the latest one, so marking several instruments at the same time
/// (or many bars within one interval) overwrites in place instead of allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CurveSampling {
    /// One point per distinct timestamp (per bar).
    #[default]
    EveryStep,
    /// One point per `ts.div_euclid(interval)` bucket (e.g. a day), holding the last
    /// equity in the bucket: end-of-period equity, as daily statistics want.
    Interval(NonZeroU64),
    /// No automatic points; only [`Portfolio::record_equity`] adds them.
    Off,
}

/// How many steps (distinct mark timestamps, i.e. bars) there were and in how many of
/// them a position was open. A step counts as in the market if a position was open at
/// its mark or any fill happened since the previous mark, so the bar in which a position
/// is closed counts too (backtesting.py's `Exposure Time` counts entry to exit bar inclusive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Distinct mark timestamps seen.
    pub steps: u64,
    /// Of those, steps in the market.
    pub steps_in_market: u64,
}

impl Exposure {
    /// `steps_in_market / steps`, `None` before the first mark.
    pub fn fraction(&self) -> Option<f64> {
        (self.steps > 0).then(|| self.steps_in_market as f64 / self.steps as f64)
    }
}

/// The account: cash, positions, PnL, fees, equity curve and closed round trips.
#[derive(Debug, Clone)]
pub struct Portfolio {
    initial_cash: Money,
    cash: Money,
    positions: Vec<Position>,
    /// Σ position market values, kept incrementally so a mark is O(1).
    total_value: Money,
    /// `cash + total_value`, kept so reading equity never fails.
    equity: Money,
    realized: Money,
    fees: Money,
    open_positions: usize,
    sampling: CurveSampling,
    curve: Vec<EquityPoint>,
    /// Bucket key of the last curve point.
    last_bucket: i64,
    /// Timestamp of the latest mark (step detection).
    last_ts: UnixNanos,
    /// Latest timestamp of a mark or a forced curve point: nothing may come before it.
    min_ts: UnixNanos,
    exposure: Exposure,
    /// A fill happened since the last step began.
    filled_since_step: bool,
    trades: Vec<ClosedTrade>,
}

impl Portfolio {
    /// A portfolio holding `initial_cash` and no positions, for instruments
    /// `InstrumentIndex(0)..InstrumentIndex(instruments)`; samples every step.
    pub fn new(initial_cash: Money, instruments: usize) -> Self {
        Self {
            initial_cash,
            cash: initial_cash,
            positions: (0..instruments)
                .map(|i| Position::flat(InstrumentIndex(i)))
                .collect(),
            total_value: Money::ZERO,
            equity: initial_cash,
            realized: Money::ZERO,
            fees: Money::ZERO,
            open_positions: 0,
            sampling: CurveSampling::EveryStep,
            curve: Vec::new(),
            last_bucket: 0,
            last_ts: UnixNanos::MIN,
            min_ts: UnixNanos::MIN,
            exposure: Exposure::default(),
            filled_since_step: false,
            trades: Vec::new(),
        }
    }

    /// Choose how the equity curve is sampled (builder style).
    pub fn with_sampling(mut self, sampling: CurveSampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Reserve room for `points` curve points up front (e.g. the number of bars), so
    /// marking never reallocates.
    pub fn reserve_curve(&mut self, points: usize) {
        self.curve.reserve(points);
    }

    /// Apply one execution: move cash, update the position (average cost, flips), realize
    /// PnL, and record a [`ClosedTrade`] when a round trip ends (also returned).
    pub fn apply_fill(&mut self, fill: &Fill) -> Result<Option<ClosedTrade>, PortfolioError> {
        let count = self.positions.len();
        let old =
            self.positions
                .get(fill.instrument.0)
                .ok_or(PortfolioError::UnknownInstrument {
                    index: fill.instrument.0,
                    count,
                })?;
        if fill.quantity.is_zero() {
            return Err(PortfolioError::ZeroQuantity { id: fill.id });
        }
        let qty = u128::from(fill.quantity.raw());
        // Notional is bounded by |i64| × u64 / 1e9, so negating it cannot overflow.
        let notional = fill.price.notional(fill.quantity).raw();
        let (signed_qty, signed_notional) = match fill.side {
            Side::Buy => (qty as i128, notional),
            Side::Sell => (-(qty as i128), -notional),
        };
        let fee = fill.fee.raw();

        let cash = self
            .cash
            .raw()
            .checked_sub(signed_notional)
            .and_then(|c| c.checked_sub(fee))
            .ok_or(overflow("cash"))?;
        let fees_total = self.fees.raw().checked_add(fee).ok_or(overflow("fees"))?;

        let mut pos = old.clone();
        let net = pos.net + signed_qty; // both below 2^65 in magnitude
        if net.unsigned_abs() > u128::from(u64::MAX) {
            return Err(overflow("position quantity"));
        }
        let mut realized_delta = 0i128;
        let mut closed = None;

        if pos.net == 0 || pos.net.signum() == signed_qty.signum() {
            // Open or add: the cost basis grows by the fill's notional.
            if pos.net == 0 {
                start_round_trip(&mut pos, fill);
            }
            pos.cost = Money::from_raw(
                pos.cost
                    .raw()
                    .checked_add(signed_notional)
                    .ok_or(overflow("cost basis"))?,
            );
            add_entry(&mut pos.trip, qty, notional, fee)?;
            note_precisions(&mut pos.trip, fill);
        } else {
            // Reduce, close or flip.
            let open = pos.net.unsigned_abs();
            let close_qty = qty.min(open);
            let flips = qty > open;
            let removed_cost = if close_qty == open {
                pos.cost
            } else {
                pos.cost
                    .mul_ratio(close_qty as i128, open as i128, RoundingMode::HalfEven)
                    .ok_or(overflow("cost basis"))?
            };
            // Closing part of the notional; on a flip the rest opens the new position, so
            // both parts always add up to the fill's notional (cash stays consistent).
            let close_notional = if flips {
                let q = Quantity::from_raw(close_qty as u64, FIXED_PRECISION)
                    .map_err(|_| overflow("position quantity"))?;
                fill.price.notional(q).raw()
            } else {
                notional
            };
            let (close_fee, open_fee) = if flips {
                let part = fill
                    .fee
                    .mul_ratio(close_qty as i128, qty as i128, RoundingMode::HalfEven)
                    .ok_or(overflow("fees"))?
                    .raw();
                (part, fee - part)
            } else {
                (fee, 0)
            };
            let signed_close = if fill.side == Side::Buy {
                close_notional
            } else {
                -close_notional
            };
            realized_delta = signed_close
                .checked_add(removed_cost.raw())
                .and_then(i128::checked_neg)
                .ok_or(overflow("realized PnL"))?;
            let side = if pos.net > 0 {
                PositionSide::Long
            } else {
                PositionSide::Short
            };
            pos.cost = Money::from_raw(pos.cost.raw() - removed_cost.raw());
            pos.realized = pos
                .realized
                .checked_add(Money::from_raw(realized_delta))
                .ok_or(overflow("realized PnL"))?;
            {
                let t = &mut pos.trip;
                t.exit_qty = t
                    .exit_qty
                    .checked_add(close_qty)
                    .ok_or(overflow("quantity"))?;
                t.exit_notional = t
                    .exit_notional
                    .checked_add(close_notional)
                    .ok_or(overflow("notional"))?;
                t.realized = t
                    .realized
                    .checked_add(realized_delta)
                    .ok_or(overflow("realized PnL"))?;
                t.fees = t.fees.checked_add(close_fee).ok_or(overflow("fees"))?;
            }
            note_precisions(&mut pos.trip, fill);
            if close_qty == open {
                closed = Some(close_round_trip(&pos, side, fill.ts)?);
                if flips {
                    start_round_trip(&mut pos, fill);
                    pos.cost = Money::from_raw(signed_notional - signed_close);
                    add_entry(
                        &mut pos.trip,
                        qty - close_qty,
                        notional - close_notional,
                        open_fee,
                    )?;
                }
            }
        }

        pos.fees = pos.fees.checked_add(fill.fee).ok_or(overflow("fees"))?;
        pos.net = net;
        pos.last_price = Some(fill.price);
        pos.value = Money::from_raw(signed_value(net, fill.price));

        let total_value = self
            .total_value
            .raw()
            .checked_sub(old.value.raw())
            .and_then(|t| t.checked_add(pos.value.raw()))
            .ok_or(overflow("position value"))?;
        let equity = cash.checked_add(total_value).ok_or(overflow("equity"))?;
        let realized = self
            .realized
            .raw()
            .checked_add(realized_delta)
            .ok_or(overflow("realized PnL"))?;

        // Commit: nothing below can fail.
        let was_open = old.net != 0;
        let is_open = net != 0;
        self.open_positions = self.open_positions + usize::from(is_open) - usize::from(was_open);
        self.positions[fill.instrument.0] = pos;
        self.cash = Money::from_raw(cash);
        self.fees = Money::from_raw(fees_total);
        self.realized = Money::from_raw(realized);
        self.total_value = Money::from_raw(total_value);
        self.equity = Money::from_raw(equity);
        self.filled_since_step = true;
        if let Some(trade) = closed {
            self.trades.push(trade);
        }
        Ok(closed)
    }

    /// Value `instrument`'s position at `price` at time `ts`, update equity and exposure,
    /// and sample the equity curve. O(1); allocates only when the curve grows.
    /// Timestamps must not go backwards; several marks may share a timestamp (one bar,
    /// several instruments) and then count as one step.
    #[inline]
    pub fn mark(
        &mut self,
        instrument: InstrumentIndex,
        price: Price,
        ts: UnixNanos,
    ) -> Result<(), PortfolioError> {
        let new_step = self.check_time(ts)?;
        let count = self.positions.len();
        let pos =
            self.positions
                .get_mut(instrument.0)
                .ok_or(PortfolioError::UnknownInstrument {
                    index: instrument.0,
                    count,
                })?;
        if pos.net != 0 {
            let value = signed_value(pos.net, price);
            let total = self
                .total_value
                .raw()
                .checked_sub(pos.value.raw())
                .and_then(|t| t.checked_add(value))
                .ok_or(overflow("position value"))?;
            let equity = self
                .cash
                .raw()
                .checked_add(total)
                .ok_or(overflow("equity"))?;
            pos.value = Money::from_raw(value);
            self.total_value = Money::from_raw(total);
            self.equity = Money::from_raw(equity);
        }
        pos.last_price = Some(price);

        if new_step {
            self.exposure.steps += 1;
            if self.open_positions > 0 || self.filled_since_step {
                self.exposure.steps_in_market += 1;
            }
            self.filled_since_step = false;
        }
        self.last_ts = ts;
        self.min_ts = ts;
        match self.sampling {
            CurveSampling::EveryStep => self.sample(ts, ts),
            CurveSampling::Interval(interval) => {
                // Intervals above i64::MAX put everything in one bucket.
                let width = i64::try_from(interval.get()).unwrap_or(i64::MAX);
                self.sample(ts, ts.div_euclid(width));
            }
            CurveSampling::Off => {}
        }
        Ok(())
    }

    /// Add (or, at the same timestamp, overwrite) a curve point with the current equity,
    /// whatever the sampling: e.g. the final point of a backtest sampled by interval.
    pub fn record_equity(&mut self, ts: UnixNanos) -> Result<(), PortfolioError> {
        if ts < self.min_ts {
            return Err(PortfolioError::TimeWentBackwards {
                ts,
                last: self.min_ts,
            });
        }
        self.min_ts = ts;
        let point = EquityPoint {
            ts,
            equity: self.equity,
        };
        match self.curve.last_mut() {
            Some(last) if last.ts == ts => *last = point,
            _ => self.curve.push(point),
        }
        // A forced point starts a fresh bucket so later marks do not overwrite it.
        self.last_bucket = i64::MIN;
        Ok(())
    }

    /// `Ok(true)` if `ts` starts a new step, `Ok(false)` if it repeats the last one.
    #[inline]
    fn check_time(&self, ts: UnixNanos) -> Result<bool, PortfolioError> {
        if ts < self.min_ts {
            return Err(PortfolioError::TimeWentBackwards {
                ts,
                last: self.min_ts,
            });
        }
        Ok(self.exposure.steps == 0 || ts > self.last_ts)
    }

    #[inline]
    fn sample(&mut self, ts: UnixNanos, bucket: i64) {
        let point = EquityPoint {
            ts,
            equity: self.equity,
        };
        match self.curve.last_mut() {
            // Same bucket, or the same time as a forced point: keep one point.
            Some(last) if self.last_bucket == bucket || last.ts == ts => *last = point,
            _ => self.curve.push(point),
        }
        self.last_bucket = bucket;
    }

    /// Cash at the start.
    pub fn initial_cash(&self) -> Money {
        self.initial_cash
    }

    /// Cash now (quote currency; fees already deducted).
    pub fn cash(&self) -> Money {
        self.cash
    }

    /// `cash + Σ position market value` at the last marks/fills.
    pub fn equity(&self) -> Money {
        self.equity
    }

    /// Σ signed market values of the positions.
    pub fn position_value(&self) -> Money {
        self.total_value
    }

    /// Realized PnL over all instruments, gross of fees.
    pub fn realized_pnl(&self) -> Money {
        self.realized
    }

    /// Unrealized PnL over all instruments at the last marks: `equity - initial cash -
    /// realized + fees` (exactly Σ market value − cost basis; see the module docs).
    pub fn unrealized_pnl(&self) -> Money {
        // Each term is bounded by the values the portfolio already holds; saturate rather
        // than panic in the (unreachable in practice) corner where the sum would not fit.
        Money::from_raw(
            self.equity
                .raw()
                .saturating_sub(self.initial_cash.raw())
                .saturating_sub(self.realized.raw())
                .saturating_add(self.fees.raw()),
        )
    }

    /// Total fees paid.
    pub fn fees_paid(&self) -> Money {
        self.fees
    }

    /// The position in `instrument`, `None` if the index is outside the table.
    pub fn position(&self, instrument: InstrumentIndex) -> Option<&Position> {
        self.positions.get(instrument.0)
    }

    /// All positions, flat ones included, in instrument order.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// Number of positions that are not flat.
    pub fn open_position_count(&self) -> usize {
        self.open_positions
    }

    /// Number of instruments the portfolio tracks.
    pub fn instrument_count(&self) -> usize {
        self.positions.len()
    }

    /// The equity curve so far, in time order.
    pub fn equity_curve(&self) -> &[EquityPoint] {
        &self.curve
    }

    /// Closed round trips, in the order they closed.
    pub fn closed_trades(&self) -> &[ClosedTrade] {
        &self.trades
    }

    /// Takes the curve points that later marks can no longer change: all but the latest,
    /// which a mark at the same time (or in the same interval) would still overwrite. A
    /// streaming run takes them after every step, so the curve never grows; the latest
    /// stays in [`Portfolio::equity_curve`].
    pub fn drain_settled_curve(&mut self) -> std::vec::Drain<'_, EquityPoint> {
        let settled = self.curve.len().saturating_sub(1);
        self.curve.drain(..settled)
    }

    /// Takes the closed round trips recorded so far (a streaming run hands them on as
    /// they close instead of keeping every one).
    pub fn drain_closed_trades(&mut self) -> std::vec::Drain<'_, ClosedTrade> {
        self.trades.drain(..)
    }

    /// Steps and steps in the market, for the exposure statistic.
    pub fn exposure(&self) -> Exposure {
        self.exposure
    }

    /// Timestamp of the latest mark, `None` before the first.
    pub fn last_mark_ts(&self) -> Option<UnixNanos> {
        (self.exposure.steps > 0).then_some(self.last_ts)
    }
}

/// `±price × |net|` with the position's sign; 0 when flat. Same value as
/// [`Price::notional`] (exact product, half-to-even at 1e-9) without its 128-bit division.
#[inline]
fn signed_value(net: i128, price: Price) -> i128 {
    if net == 0 {
        return 0;
    }
    // |net| <= u64::MAX is the position invariant.
    let value = notional_half_even(price.raw().unsigned_abs(), net.unsigned_abs() as u64) as i128;
    if (net < 0) != (price.raw() < 0) {
        -value
    } else {
        value
    }
}

/// `p × q / 1e9` rounded half-to-even, for raw magnitudes. Split both at 1e9
/// (`p = pa·S + pb`, `q = qa·S + qb`) so the product over `S` is
/// `pa·qa·S + pa·qb + pb·qa + pb·qb / S`: the only division left is of a `u64` by a
/// constant, which compiles to a multiply (the `i128` division in `Price::notional` is a
/// library call, and this runs on every mark). Cannot overflow: the result is below
/// `2^64 · 2^64 / 1e9`.
#[inline]
fn notional_half_even(p: u64, q: u64) -> u128 {
    const S: u64 = 1_000_000_000;
    let (pa, pb) = (p / S, p % S);
    let (qa, qb) = (q / S, q % S);
    let low = pb * qb; // < 1e18, fits u64
    let (lq, lr) = (low / S, low % S);
    let whole = u128::from(pa) * u128::from(qa) * u128::from(S)
        + u128::from(pa) * u128::from(qb)
        + u128::from(pb) * u128::from(qa)
        + u128::from(lq);
    let half = S / 2;
    if lr > half || (lr == half && whole % 2 == 1) {
        whole + 1
    } else {
        whole
    }
}

fn start_round_trip(pos: &mut Position, fill: &Fill) {
    pos.round_trips += 1;
    pos.trip = RoundTrip {
        opened_ts: fill.ts,
        price_precision: fill.price.precision(),
        size_precision: fill.quantity.precision(),
        ..RoundTrip::default()
    };
}

fn add_entry(
    trip: &mut RoundTrip,
    qty: u128,
    notional: i128,
    fee: i128,
) -> Result<(), PortfolioError> {
    trip.entry_qty = trip
        .entry_qty
        .checked_add(qty)
        .ok_or(overflow("quantity"))?;
    trip.entry_notional = trip
        .entry_notional
        .checked_add(notional)
        .ok_or(overflow("notional"))?;
    trip.fees = trip.fees.checked_add(fee).ok_or(overflow("fees"))?;
    Ok(())
}

fn note_precisions(trip: &mut RoundTrip, fill: &Fill) {
    trip.price_precision = trip.price_precision.max(fill.price.precision());
    trip.size_precision = trip.size_precision.max(fill.quantity.precision());
}

fn close_round_trip(
    pos: &Position,
    side: PositionSide,
    exit_ts: UnixNanos,
) -> Result<ClosedTrade, PortfolioError> {
    let t = &pos.trip;
    let entry_price = avg_price(t.entry_notional, t.entry_qty, t.price_precision)
        .ok_or(overflow("entry price"))?;
    let exit_price =
        avg_price(t.exit_notional, t.exit_qty, t.price_precision).ok_or(overflow("exit price"))?;
    let qty_raw = u64::try_from(t.exit_qty).map_err(|_| overflow("trade quantity"))?;
    let quantity = Quantity::from_raw(qty_raw, t.size_precision)
        .or_else(|_| Quantity::from_raw(qty_raw, FIXED_PRECISION))
        .map_err(|_| overflow("trade quantity"))?;
    let pnl = t
        .realized
        .checked_sub(t.fees)
        .ok_or(overflow("trade PnL"))?;
    let basis = t.entry_notional.unsigned_abs();
    let return_fraction = if basis == 0 {
        0.0
    } else {
        pnl as f64 / basis as f64
    };
    Ok(ClosedTrade {
        instrument: pos.instrument,
        side,
        entry_ts: t.opened_ts,
        entry_price,
        exit_ts,
        exit_price,
        quantity,
        gross_pnl: Money::from_raw(t.realized),
        fees: Money::from_raw(t.fees),
        pnl: Money::from_raw(pnl),
        return_fraction,
    })
}
