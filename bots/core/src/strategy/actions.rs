//! What strategies ask for.

use crate::data::Side;
use crate::fixed::{Money, Quantity};
use crate::orders::{ClientOrderId, OrderKind, TimeInForce};

/// How big an explicit order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderSize {
    /// A base quantity.
    Base(Quantity),
    /// A quote notional; the engine converts it at the fill or last price, rounding down to the lot.
    Quote(Money),
    /// The whole position (for sells).
    Position,
}

/// An explicit order a strategy wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedOrder {
    /// Buy or sell.
    pub side: Side,
    /// Size.
    pub size: OrderSize,
    /// Market, limit or stop.
    pub kind: OrderKind,
    /// Lifetime.
    pub time_in_force: TimeInForce,
    /// Refuse rather than take liquidity.
    pub post_only: bool,
}

/// One request from a strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open (or add to) a long position with a market order sized by the bot's sizing rule.
    EnterLong,
    /// Close the whole position with a market order.
    ExitLong,
    /// Place an explicit order under the given ID.
    Place(ClientOrderId, PlannedOrder),
    /// Cancel a working order.
    Cancel(ClientOrderId),
    /// Cancel every working order of the strategy.
    CancelAll,
}

/// The actions of one decision, with deterministic order IDs handed out from a sequence
/// the engine owns, so a restarted bot re-derives the same IDs.
#[derive(Debug, Default)]
pub struct Actions {
    items: Vec<Action>,
    next_id: u64,
}

impl Actions {
    /// A collector whose first order ID will be `next_id`.
    pub fn starting_at(next_id: u64) -> Self {
        Self {
            items: Vec::new(),
            next_id,
        }
    }

    /// Requests a sized long entry.
    pub fn enter_long(&mut self) {
        self.items.push(Action::EnterLong);
    }

    /// Requests closing the position.
    pub fn exit_long(&mut self) {
        self.items.push(Action::ExitLong);
    }

    /// Requests an explicit order; returns the ID it will carry.
    pub fn place(&mut self, order: PlannedOrder) -> ClientOrderId {
        let id = self.allocate_id();
        self.items.push(Action::Place(id, order));
        id
    }

    /// Requests a cancel.
    pub fn cancel(&mut self, id: ClientOrderId) {
        self.items.push(Action::Cancel(id));
    }

    /// Requests cancelling every working order.
    pub fn cancel_all(&mut self) {
        self.items.push(Action::CancelAll);
    }

    /// Hands out the next order ID (also used by the engine for sized entries and exits).
    pub fn allocate_id(&mut self) -> ClientOrderId {
        let id = ClientOrderId(self.next_id);
        self.next_id += 1;
        id
    }

    /// The ID the next order will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The actions collected so far.
    pub fn as_slice(&self) -> &[Action] {
        &self.items
    }

    /// Takes the collected actions, keeping the ID sequence and the buffer's capacity.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Action> {
        self.items.drain(..)
    }

    /// Whether nothing was requested.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
