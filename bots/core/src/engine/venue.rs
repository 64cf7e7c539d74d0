//! Where the engine's orders go: the simulated exchange, or an outbox a live worker
//! empties into a real exchange.

use crate::data::{Bar, UnixNanos};
use crate::exchange::{CancelError, FeeAccount, MatchingEngine};
use crate::fixed::Price;
use crate::orders::{ClientOrderId, OrderEvent, OrderRequest};

/// A venue as the engine sees it. Answers may come at once (the simulated exchange
/// appends them to `out`) or later (a real exchange, through `Engine::on_venue_events`).
pub trait Venue {
    /// A bar closed: the simulated exchange fills against it; others note the price.
    fn on_bar(&mut self, bar: &Bar, fees: &mut FeeAccount, out: &mut Vec<OrderEvent>);
    /// Sends an order (already through the pre-trade risk checks).
    fn submit(
        &mut self,
        ts: UnixNanos,
        request: &OrderRequest,
        fees: &mut FeeAccount,
        out: &mut Vec<OrderEvent>,
    );
    /// Cancels a working order.
    fn cancel(
        &mut self,
        ts: UnixNanos,
        id: ClientOrderId,
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), CancelError>;
    /// The last traded (or bar close) price, for sizing and risk.
    fn last_price(&self) -> Option<Price>;
}

impl Venue for MatchingEngine {
    fn on_bar(&mut self, bar: &Bar, fees: &mut FeeAccount, out: &mut Vec<OrderEvent>) {
        MatchingEngine::on_bar(self, bar, fees, out);
    }

    fn submit(
        &mut self,
        ts: UnixNanos,
        request: &OrderRequest,
        fees: &mut FeeAccount,
        out: &mut Vec<OrderEvent>,
    ) {
        MatchingEngine::submit(self, ts, request, fees, out);
    }

    fn cancel(
        &mut self,
        ts: UnixNanos,
        id: ClientOrderId,
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), CancelError> {
        MatchingEngine::cancel(self, ts, id, out)
    }

    fn last_price(&self) -> Option<Price> {
        MatchingEngine::last_price(self)
    }
}

/// Something the engine wants the real exchange to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueCommand {
    /// Place this order.
    Submit {
        /// Engine time of the decision.
        ts: UnixNanos,
        /// The order (its `id` becomes the exchange's client order ID).
        request: OrderRequest,
    },
    /// Cancel this order.
    Cancel {
        /// Engine time of the decision.
        ts: UnixNanos,
        /// The order.
        id: ClientOrderId,
    },
}

/// The live venue: commands queue here, answers come back as events later.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    commands: Vec<VenueCommand>,
    last_price: Option<Price>,
}

impl Outbox {
    /// Takes the queued commands, oldest first.
    pub fn drain(&mut self) -> Vec<VenueCommand> {
        std::mem::take(&mut self.commands)
    }

    /// Puts a command back in the queue (a worker keeping, after a restart, the replayed
    /// commands that never left).
    pub fn queue(&mut self, command: VenueCommand) {
        self.commands.push(command);
    }
}

impl Venue for Outbox {
    fn on_bar(&mut self, bar: &Bar, _fees: &mut FeeAccount, _out: &mut Vec<OrderEvent>) {
        self.last_price = Some(bar.close);
    }

    fn submit(
        &mut self,
        ts: UnixNanos,
        request: &OrderRequest,
        _fees: &mut FeeAccount,
        _out: &mut Vec<OrderEvent>,
    ) {
        self.commands.push(VenueCommand::Submit {
            ts,
            request: *request,
        });
    }

    fn cancel(
        &mut self,
        ts: UnixNanos,
        id: ClientOrderId,
        _out: &mut Vec<OrderEvent>,
    ) -> Result<(), CancelError> {
        // The exchange says whether the order was still working.
        self.commands.push(VenueCommand::Cancel { ts, id });
        Ok(())
    }

    fn last_price(&self) -> Option<Price> {
        self.last_price
    }
}
