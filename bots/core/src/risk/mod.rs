//! Pre-trade checks and post-trade monitors.
//!
//! Pre-trade (barter-rs style): a check returns [`Approved<T>`] or [`Refused<T>`]. An
//! `Approved` can only be built inside this crate, so holding one proves the checks ran.
//! See [`RiskLimits::check_order`] and [`RiskManager::check_order`].
//!
//! Post-trade: [`RiskManager::on_mark`] runs the stop-loss, the daily loss limit and the
//! max-drawdown kill switch after each mark and tells the engine to close a position or
//! to halt. A [`Halt`] is final: the manager stays halted and refuses every order.

mod limits;
mod monitor;
mod percent;
mod pre_trade;

use std::fmt;

use crate::data::UnixNanos;
use crate::fixed::{Money, Price};

pub use limits::{RiskLimits, RiskLimitsError, RiskLimitsText};
pub use monitor::{ClosePosition, Halt, HaltReason, PostTradeActions, RiskManager, RiskState};
pub use percent::Percent;
pub use pre_trade::{OrderContext, check_min_notional, reference_price};

/// Proof that `T` passed the risk checks. Built only by this crate's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approved<T>(T);

impl<T> Approved<T> {
    /// Wrap an item that passed its checks (crate-internal: only checks approve).
    pub(crate) fn new(item: T) -> Self {
        Self(item)
    }

    /// The approved item.
    pub fn item(&self) -> &T {
        &self.0
    }

    /// Unwrap the approved item.
    pub fn into_item(self) -> T {
        self.0
    }
}

/// An item a check refused, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused<T> {
    /// The refused item, handed back so the caller can report it.
    pub item: T,
    /// Why. Boxed so that `Result<Approved<T>, Refused<T>>` stays small on the happy
    /// path; refusals are rare, so the allocation does not matter.
    pub reason: Box<RiskRefusal>,
}

impl<T> Refused<T> {
    /// Refuse `item` for `reason`.
    pub fn new(item: T, reason: RiskRefusal) -> Self {
        Self {
            item,
            reason: Box::new(reason),
        }
    }
}

impl<T> fmt::Display for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {}", self.reason)
    }
}

/// Outcome of a check on `T`.
pub type RiskCheck<T> = Result<Approved<T>, Refused<T>>;

/// Why a check refused an order. The message names the limit and the values compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiskRefusal {
    /// The bot is halted; nothing trades until it is restarted.
    #[error("trading is halted ({0})")]
    Halted(Halt),
    /// Below the instrument's minimum notional.
    #[error("order notional {notional} is below the instrument minimum notional {min}")]
    BelowMinNotional {
        /// Order notional (reference price × quantity).
        notional: Money,
        /// Instrument minimum.
        min: Money,
    },
    /// Above `maxOrderNotional`.
    #[error("order notional {notional} exceeds maxOrderNotional {limit}")]
    MaxOrderNotional {
        /// Order notional.
        notional: Money,
        /// The limit.
        limit: Money,
    },
    /// The position after the order would be above `maxPositionNotional`.
    #[error(
        "position notional after the order {notional} would exceed maxPositionNotional {limit}"
    )]
    MaxPositionNotional {
        /// |position after the order| × reference price (saturated if it does not fit).
        notional: Money,
        /// The limit.
        limit: Money,
    },
    /// The limit price is outside `priceBandPercent` of the last price.
    #[error(
        "limit price {price} is {dev} away from the last price {last}, outside priceBandPercent {band}",
        dev = band_deviation(*price, *last)
    )]
    PriceBand {
        /// The order's limit price.
        price: Price,
        /// Last price.
        last: Price,
        /// The band.
        band: Percent,
    },
    /// A check needs a positive last price and there is none.
    #[error("{check} needs a positive last price, got {last}")]
    NoLastPrice {
        /// Which limit needed it (`maxOrderNotional`, `priceBandPercent`, ...).
        check: &'static str,
        /// The last price given.
        last: Price,
    },
    /// The order names an instrument the portfolio does not track.
    #[error("unknown instrument {index}")]
    UnknownInstrument {
        /// Instrument index.
        index: usize,
    },
}

/// `|price − last| / |last|` for messages (saturated if it does not fit).
fn band_deviation(price: Price, last: Price) -> Percent {
    let diff = (i128::from(price.raw()) - i128::from(last.raw())).unsigned_abs();
    Percent::ratio(diff, u128::from(last.raw().unsigned_abs()))
        .unwrap_or(Percent::from_raw(u64::MAX))
}

/// Nanoseconds in a UTC day (days are `ts.div_euclid(NANOS_PER_DAY)`).
pub const NANOS_PER_DAY: UnixNanos = 86_400 * 1_000_000_000;

#[cfg(test)]
mod tests;
