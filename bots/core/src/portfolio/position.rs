//! One instrument's position under average-cost accounting, and the round trips it closes.

use crate::data::UnixNanos;
use crate::fixed::{FIXED_PRECISION, FIXED_SCALAR, Money, Price, Quantity, RoundingMode};
use crate::orders::InstrumentIndex;

/// Direction of an open position (or of a closed round trip).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PositionSide {
    /// Holding the base currency (positive net quantity).
    Long,
    /// Owing the base currency (negative net quantity).
    Short,
}

impl PositionSide {
    /// `+1` for long, `-1` for short: the sign of the net quantity.
    pub const fn sign(self) -> i8 {
        match self {
            PositionSide::Long => 1,
            PositionSide::Short => -1,
        }
    }
}

/// A completed round trip: the position went from flat to open and back to flat (or
/// flipped, which closes the old round trip and opens a new one at the flip's price).
///
/// Prices are quantity-weighted averages over the round trip's fills, so a position built
/// by one fill and closed by one fill reports exactly those two fill prices (what the
/// backtesting.py comparison checks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedTrade {
    /// Instrument traded.
    pub instrument: InstrumentIndex,
    /// Long or short.
    pub side: PositionSide,
    /// Time of the fill that opened the round trip.
    pub entry_ts: UnixNanos,
    /// Average price of the fills that opened or added to the position
    /// (`Σ entry notional / Σ entry quantity`, half-to-even at 1e-9).
    pub entry_price: Price,
    /// Time of the fill that closed the round trip.
    pub exit_ts: UnixNanos,
    /// Average price of the fills that reduced or closed the position.
    pub exit_price: Price,
    /// Total quantity closed over the round trip (equals the total quantity opened).
    pub quantity: Quantity,
    /// Realized PnL from prices alone (average-cost), before fees.
    pub gross_pnl: Money,
    /// Fees of every fill in the round trip (a flipping fill's fee is split pro rata).
    pub fees: Money,
    /// `gross_pnl - fees`.
    pub pnl: Money,
    /// `pnl / Σ entry notional` as a fraction (0.05 = 5 %); 0 when the entry notional is 0.
    /// For one entry fill this is backtesting.py's `ReturnPct` (net of commissions).
    pub return_fraction: f64,
}

impl ClosedTrade {
    /// Duration of the round trip in nanoseconds.
    pub fn duration(&self) -> i64 {
        self.exit_ts.saturating_sub(self.entry_ts)
    }

    /// `true` if the round trip made money after fees.
    pub fn is_win(&self) -> bool {
        self.pnl.raw() > 0
    }
}

/// Accumulators of the round trip in progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RoundTrip {
    pub opened_ts: UnixNanos,
    /// Σ quantity raw of opening/adding fills.
    pub entry_qty: u128,
    /// Σ notional (price × quantity, unsigned by side) of opening/adding fills.
    pub entry_notional: i128,
    /// Σ quantity raw of reducing/closing fills.
    pub exit_qty: u128,
    /// Σ notional (price × quantity, unsigned by side) of reducing/closing fills.
    pub exit_notional: i128,
    /// Realized PnL (gross) within the round trip.
    pub realized: i128,
    /// Fees within the round trip.
    pub fees: i128,
    /// Largest price and quantity precisions seen, for the reported averages.
    pub price_precision: u8,
    pub size_precision: u8,
}

/// An instrument's position. Net quantity is signed (long > 0, short < 0) in raw
/// nano-units; its magnitude never exceeds `u64::MAX` so it always fits a [`Quantity`].
///
/// Average cost: the cost basis is the exact sum of the signed notionals of the fills
/// that opened the open quantity. A reducing fill removes `cost × closed / open`
/// (half-to-even at 1e-9; the whole cost when it closes everything) and realizes
/// `proceeds - removed cost`, so the average entry price does not change on a partial
/// close and a full round trip realizes exactly `Σ sells - Σ buys` in notional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub(crate) instrument: InstrumentIndex,
    pub(crate) net: i128,
    pub(crate) cost: Money,
    pub(crate) value: Money,
    pub(crate) last_price: Option<Price>,
    pub(crate) realized: Money,
    pub(crate) fees: Money,
    pub(crate) round_trips: u64,
    pub(crate) trip: RoundTrip,
}

impl Position {
    pub(crate) fn flat(instrument: InstrumentIndex) -> Self {
        Self {
            instrument,
            net: 0,
            cost: Money::ZERO,
            value: Money::ZERO,
            last_price: None,
            realized: Money::ZERO,
            fees: Money::ZERO,
            round_trips: 0,
            trip: RoundTrip::default(),
        }
    }

    /// The instrument this position is in.
    pub fn instrument(&self) -> InstrumentIndex {
        self.instrument
    }

    /// Long, short, or `None` when flat.
    pub fn side(&self) -> Option<PositionSide> {
        match self.net.signum() {
            1 => Some(PositionSide::Long),
            -1 => Some(PositionSide::Short),
            _ => None,
        }
    }

    /// `true` when the net quantity is zero.
    pub fn is_flat(&self) -> bool {
        self.net == 0
    }

    /// Absolute net quantity, at the largest size precision of the round trip's fills
    /// (9 decimals if it is not exact at that precision).
    pub fn quantity(&self) -> Quantity {
        // The invariant |net| <= u64::MAX is enforced when fills are applied.
        let raw = u64::try_from(self.net.unsigned_abs()).unwrap_or(u64::MAX);
        Quantity::from_raw(raw, self.trip.size_precision)
            .or_else(|_| Quantity::from_raw(raw, FIXED_PRECISION))
            .unwrap_or(Quantity::ZERO)
    }

    /// Signed net quantity in raw nano-units (long > 0, short < 0).
    pub fn signed_quantity_raw(&self) -> i128 {
        self.net
    }

    /// Signed cost basis of the open quantity: positive for a long, negative for a short.
    pub fn cost_basis(&self) -> Money {
        self.cost
    }

    /// Average entry price (`|cost basis| / |quantity|`, half-to-even at 1e-9), `None` when
    /// flat. Tagged with the fills' price precision when exact at it, else 9 decimals.
    pub fn avg_entry_price(&self) -> Option<Price> {
        if self.net == 0 {
            return None;
        }
        // A short's cost basis is negative but its entry price is not.
        avg_price(
            self.cost.raw() * self.net.signum(),
            self.net.unsigned_abs(),
            self.trip.price_precision,
        )
    }

    /// Signed value at the last mark (or fill) price: `± last price × |quantity|`.
    pub fn market_value(&self) -> Money {
        self.value
    }

    /// Unrealized PnL at the last mark: `market value - cost basis` (no fees).
    pub fn unrealized_pnl(&self) -> Money {
        // Both sides are bounded by |price| × u64::MAX, so the difference fits i128.
        Money::from_raw(self.value.raw() - self.cost.raw())
    }

    /// Realized PnL (gross of fees) over the life of this position, all round trips.
    pub fn realized_pnl(&self) -> Money {
        self.realized
    }

    /// Fees paid on this instrument, all round trips.
    pub fn fees(&self) -> Money {
        self.fees
    }

    /// Last price this position was valued at (a mark or a fill), if any.
    pub fn last_price(&self) -> Option<Price> {
        self.last_price
    }

    /// Time the current round trip was opened, `None` when flat.
    pub fn opened_ts(&self) -> Option<UnixNanos> {
        (self.net != 0).then_some(self.trip.opened_ts)
    }

    /// Number of round trips opened so far; identifies the current one (risk uses it to
    /// fire a stop-loss once per round trip).
    pub fn round_trip_id(&self) -> u64 {
        self.round_trips
    }
}

/// `|notional_raw| × 1e9 / qty_raw` rounded half-to-even, with the notional's sign,
/// without overflowing: the division is split so no intermediate exceeds `qty × 1e9`.
/// `None` if `qty == 0` or the result does not fit a price.
pub(crate) fn avg_price_raw(notional_raw: i128, qty_raw: u128) -> Option<i64> {
    if qty_raw == 0 {
        return None;
    }
    let scalar = FIXED_SCALAR as u128;
    let magnitude = notional_raw.unsigned_abs();
    let whole = magnitude / qty_raw;
    let rem = magnitude % qty_raw;
    let frac = crate::fixed::div_round_i128(
        i128::try_from(rem.checked_mul(scalar)?).ok()?,
        i128::try_from(qty_raw).ok()?,
        RoundingMode::HalfEven,
    )?;
    let raw = whole
        .checked_mul(scalar)?
        .checked_add(u128::try_from(frac).ok()?)?;
    let raw = i64::try_from(raw).ok()?;
    Some(if notional_raw < 0 { -raw } else { raw })
}

/// A price from an average, tagged with `precision` when exact at it, else 9 decimals.
pub(crate) fn avg_price(notional_raw: i128, qty_raw: u128, precision: u8) -> Option<Price> {
    let raw = avg_price_raw(notional_raw, qty_raw)?;
    Price::from_raw(raw, precision)
        .or_else(|_| Price::from_raw(raw, FIXED_PRECISION))
        .ok()
}
