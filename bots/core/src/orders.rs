//! The order vocabulary shared by strategies, risk, the simulated exchange, accounting
//! and (later) live execution clients.

use std::fmt;

use crate::data::{Side, UnixNanos};
use crate::fixed::{Money, Price, Quantity};

/// Index of an instrument in the engine's instrument table (barter-style index newtype:
/// cheap to copy and compare, no string look-ups on the hot path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstrumentIndex(pub usize);

/// A bot's own order identifier: a per-bot sequence number. Deterministic, so a restarted
/// worker re-derives the same IDs (the worker formats it with the bot UID for the venue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientOrderId(pub u64);

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "O-{}", self.0)
    }
}

/// What kind of order, with the prices it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    /// Take whatever liquidity there is.
    Market,
    /// Rest at `price` or better.
    Limit {
        /// Limit price.
        price: Price,
    },
    /// Becomes a market order once the last price reaches `trigger`
    /// (at or above for a buy, at or below for a sell).
    StopMarket {
        /// Trigger price.
        trigger: Price,
    },
    /// Becomes a limit order at `price` once the last price reaches `trigger`.
    StopLimit {
        /// Trigger price.
        trigger: Price,
        /// Limit price once triggered.
        price: Price,
    },
}

impl OrderKind {
    /// The limit price, if the order has one.
    pub fn limit_price(self) -> Option<Price> {
        match self {
            OrderKind::Limit { price } | OrderKind::StopLimit { price, .. } => Some(price),
            OrderKind::Market | OrderKind::StopMarket { .. } => None,
        }
    }
}

/// How long an order may live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeInForce {
    /// Good till cancelled.
    #[default]
    Gtc,
    /// Immediate or cancel: fill what is possible now, cancel the rest.
    Ioc,
    /// Fill or kill: fill entirely now or not at all.
    Fok,
}

/// An order a strategy wants placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    /// The bot's ID for this order.
    pub id: ClientOrderId,
    /// Which instrument.
    pub instrument: InstrumentIndex,
    /// Buy or sell.
    pub side: Side,
    /// Base quantity.
    pub quantity: Quantity,
    /// Market, limit, stop.
    pub kind: OrderKind,
    /// Lifetime.
    pub time_in_force: TimeInForce,
    /// Refuse the order instead of letting it take liquidity.
    pub post_only: bool,
}

/// A request to cancel a resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelRequest {
    /// The order to cancel.
    pub id: ClientOrderId,
    /// Its instrument.
    pub instrument: InstrumentIndex,
}

/// Whether a fill added or removed liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Liquidity {
    /// The order rested and was hit.
    Maker,
    /// The order crossed the spread.
    Taker,
}

/// One execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The order that filled.
    pub id: ClientOrderId,
    /// Its instrument.
    pub instrument: InstrumentIndex,
    /// When.
    pub ts: UnixNanos,
    /// Buy or sell.
    pub side: Side,
    /// Execution price.
    pub price: Price,
    /// Executed base quantity.
    pub quantity: Quantity,
    /// Fee charged, in quote currency (never negative here; rebates are not modelled).
    pub fee: Money,
    /// Maker or taker.
    pub liquidity: Liquidity,
}

/// Why an order was refused by the venue (simulated or real).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// A post-only order would have taken liquidity.
    PostOnlyWouldTake,
    /// A fill-or-kill order could not be filled entirely at once.
    FokNotFillable,
    /// The order fails the instrument's tick, lot or minimum rules.
    Instrument(String),
    /// The order ID is already in use.
    DuplicateId,
    /// Not enough cash or position.
    InsufficientBalance,
    /// Anything else the venue said.
    Other(String),
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::PostOnlyWouldTake => f.write_str("post-only order would take liquidity"),
            RejectReason::FokNotFillable => f.write_str("fill-or-kill order cannot fill entirely"),
            RejectReason::Instrument(why) => write!(f, "instrument rules: {why}"),
            RejectReason::DuplicateId => f.write_str("duplicate client order id"),
            RejectReason::InsufficientBalance => f.write_str("insufficient balance"),
            RejectReason::Other(why) => f.write_str(why),
        }
    }
}

/// What happened to an order; the exchange emits these, accounting and strategies consume them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    /// Accepted and working (resting, or waiting for its trigger).
    Accepted {
        /// Order.
        id: ClientOrderId,
        /// When.
        ts: UnixNanos,
    },
    /// Refused.
    Rejected {
        /// Order.
        id: ClientOrderId,
        /// When.
        ts: UnixNanos,
        /// Why.
        reason: RejectReason,
    },
    /// A stop order's trigger was reached.
    Triggered {
        /// Order.
        id: ClientOrderId,
        /// When.
        ts: UnixNanos,
    },
    /// A (partial) execution.
    Filled(Fill),
    /// Cancelled by request, or the unfilled rest of an IOC order.
    Canceled {
        /// Order.
        id: ClientOrderId,
        /// When.
        ts: UnixNanos,
        /// Quantity that was still open.
        unfilled: Quantity,
    },
}

impl OrderEvent {
    /// The order this event is about.
    pub fn id(&self) -> ClientOrderId {
        match self {
            OrderEvent::Accepted { id, .. }
            | OrderEvent::Rejected { id, .. }
            | OrderEvent::Triggered { id, .. }
            | OrderEvent::Canceled { id, .. } => *id,
            OrderEvent::Filled(fill) => fill.id,
        }
    }
}
