//! The simulated exchange: a matching engine per instrument, maker/taker fees by 30-day
//! volume, and two ways market data fills orders (L2 book or bars).
//!
//! Pure and deterministic: the same sequence of calls produces the same events. Nothing
//! here reads a clock; timestamps come from the caller (order submission) and the data
//! (fills triggered by market data). Own orders are kept in index-ordered structures;
//! the only hash map is an id → slot index that is never iterated.
//!
//! # Orders (both modes)
//!
//! - Validation: tick (limit, stop trigger and stop-limit price), lot, minimum quantity
//!   and minimum notional (at the limit/trigger; market orders against the best opposite
//!   price, last trade or last close when known) → `Rejected(Instrument(..))`. Zero
//!   quantity, a duplicate live id and a wrong instrument index are rejected too. Post-only
//!   market and stop-market orders are rejected (`PostOnlyWouldTake`).
//! - Accepted orders emit `Accepted` first, then `Filled` per execution, `Triggered` when
//!   a stop fires, and `Canceled { unfilled }` for an IOC/FOK remainder or a cancel.
//! - Market orders never rest: whatever cannot fill at once is cancelled (as IOC).
//! - The bot's own orders never match each other (self-trade prevention): an order only
//!   ever trades against market liquidity.
//! - Price-time priority among own resting orders: better price first, then arrival.
//! - Fees: every fill is charged through a [`FeeAccount`] (tier by the rolling 30-day
//!   volume **before** the fill; fee rounded up to 10^-9, see [`FeeSchedule`]).
//!
//! # L2 mode ([`FillModel::L2`])
//!
//! - An aggressive order walks the opposite side of the engine's [`OrderBook`] level by
//!   level, filling at each level's price up to its displayed size and its own limit
//!   (taker). Partial fills are normal.
//! - **Liquidity consumption**: the size the bot takes is removed from the engine's copy
//!   of the book, so a second order at the same instant cannot fill against it. The
//!   level's next update from the feed overwrites it (the feed is the truth again).
//! - FOK: rejected (`FokNotFillable`) unless the displayed size within the limit covers
//!   the whole quantity; then it fills entirely. IOC: fills what it can, cancels the rest.
//!   GTC limits rest the remainder.
//! - Post-only: rejected if the limit would cross the opposite best.
//! - Resting limits fill as **maker at their own limit price** when (a) a trade prints
//!   strictly through the limit (below a bid, above an offer; also *at* it with
//!   [`EngineConfig::fill_at_touch`]), up to the trade's size shared in priority order,
//!   or (b) a book update makes the opposite best cross them (ask ≤ bid limit, bid ≥ offer
//!   limit), up to the crossing displayed size, which is consumed.
//! - Stops fire when the last trade reaches the trigger (buy: at or above, sell: at or
//!   below), or the top of book does (buy stops by the best ask, sell stops by the best
//!   bid), or at submission if already reached. A fired stop-market runs as a market
//!   order, a stop-limit as a limit order (a post-only or FOK failure at that point
//!   cancels it). Several stops fired by one event run in arrival order.
//! - [`Quote`]s replace the book with their two levels (L1 feeds).
//!
//! # Bar mode ([`FillModel::Bar`])
//!
//! Unlimited liquidity at bar prices; every fill is complete. A bar's `ts` (its start)
//! stamps its fills. `S` is the slippage in basis points; a **slipped price** is
//! `p + |p|·S/10_000` for a buy and `p − |p|·S/10_000` for a sell, rounded to the tick
//! up for a buy and down for a sell ([`slipped_price`]); it applies to every taker fill
//! and is capped at the order's limit. Maker fills (at a limit price) never slip.
//!
//! [`BarFillModel::NextBarOpen`] — orders submitted after bar `t` arrive at bar `t+1`:
//! - market: fills at the slipped **open of bar t+1** (with 0 slippage, exactly the open,
//!   as backtesting.py does);
//! - limit: if the open is at or better than the limit, fills at the slipped open capped
//!   at the limit (taker); otherwise GTC rests from that open on, IOC/FOK cancel; a
//!   post-only order that would fill at the open is cancelled.
//!
//! [`BarFillModel::SameBarClose`] — orders fill as they are submitted, at the **close of
//! the last bar** (the one the strategy just saw); market and limit orders are rejected
//! before the first bar (stops wait for their trigger):
//! - market: slipped close; limit: as above with the close in place of the open (a
//!   post-only order that would take is rejected); stops already reached by the close
//!   fire at once at the close.
//!
//! Then, for every bar, in this order (both models):
//! 1. arrivals at the open (NextBarOpen, as above);
//! 2. **stops**: a buy stop fires if `high ≥ trigger`, a sell stop if `low ≤ trigger`, in
//!    arrival order. If the bar **opened through** the trigger (buy: `open ≥ trigger`,
//!    sell: `open ≤ trigger`) it fires at the open, else at the trigger. A stop-market
//!    fills at the slipped firing price. A stop-limit fills at the slipped firing price
//!    capped at its limit if that price is at or better than the limit (taker); else, if
//!    it fired at the open and the bar's range then traded strictly through the limit, at
//!    the limit (maker); else GTC rests from the next bar (the intrabar path after a
//!    trigger is unknown, so we assume the worst), IOC/FOK cancel. A post-only
//!    stop-limit that would take when it fires is cancelled;
//! 3. **resting limits** fill when the range trades strictly through them (buy:
//!    `low < limit`, sell: `high > limit`; a touch is not a fill, as in backtesting.py):
//!    at the slipped open capped at the limit (taker) if the bar **opened through** the
//!    limit (buy: `open < limit`, sell: `open > limit`), else at the limit (maker).
//!    Post-only orders always fill at their limit as maker;
//! 4. stop-limits fired in step 2 that did not fill start resting.
//!
//! Data of the other mode only moves the last price (trades, bars) or the book (book
//! updates), without fills.
//!
//! # Example
//!
//! ```
//! use tradewind_core::data::{Bar, Side};
//! use tradewind_core::exchange::{BarFillModel, Bps, EngineConfig, FeeSchedule, SimulatedExchange};
//! use tradewind_core::instrument::Instrument;
//! use tradewind_core::orders::{ClientOrderId, OrderEvent, OrderKind, OrderRequest, TimeInForce};
//!
//! let fees = FeeSchedule::from_tiers(&[("0", "10", "20"), ("1000000", "8", "15")]).unwrap();
//! let mut ex = SimulatedExchange::new(fees);
//! let goog = Instrument::new(
//!     "GOOG", "GOOG", "USD",
//!     "0.01".parse().unwrap(), "1".parse().unwrap(), "1".parse().unwrap(), "0".parse().unwrap(),
//! ).unwrap();
//! let ix = ex.add_instrument(goog, EngineConfig::bars(BarFillModel::NextBarOpen, Bps::ZERO));
//! let bar = |ts, o: &str, c: &str| {
//!     let (o, c) = (o.parse().unwrap(), c.parse().unwrap());
//!     Bar::new(ts, o, o.max(c), o.min(c), c, "100".parse().unwrap()).unwrap()
//! };
//! let mut events = Vec::new();
//! ex.on_bar(ix, &bar(0, "100.00", "101.00"), &mut events);
//! let buy = OrderRequest {
//!     id: ClientOrderId(1),
//!     instrument: ix,
//!     side: Side::Buy,
//!     quantity: "10".parse().unwrap(),
//!     kind: OrderKind::Market,
//!     time_in_force: TimeInForce::Gtc,
//!     post_only: false,
//! };
//! ex.submit(1, &buy, &mut events); // Accepted
//! ex.on_bar(ix, &bar(2, "101.50", "102.00"), &mut events); // fills at the open
//! let OrderEvent::Filled(fill) = &events[1] else { panic!("expected a fill") };
//! assert_eq!(fill.price.to_string(), "101.50");
//! assert_eq!(fill.fee.to_string(), "2.03"); // 1015 × 20 bp taker
//! ```

mod bar;
mod engine;
mod fees;
mod own_book;

#[cfg(test)]
mod tests;

pub use bar::slipped_price;
pub use engine::{
    BarFillModel, CancelError, EngineConfig, FillModel, MatchingEngine, OpenOrder, OpenOrderState,
};
pub use fees::{
    Bps, BpsError, FeeAccount, FeeSchedule, FeeScheduleError, FeeTier, THIRTY_DAYS_NANOS,
    TradedVolume,
};

use crate::data::{Bar, BookDelta, BookError, BookSnapshot, OrderBook, Quote, Trade, UnixNanos};
use crate::instrument::Instrument;
use crate::orders::{CancelRequest, InstrumentIndex, OrderEvent, OrderRequest, RejectReason};

/// The simulated venue for one account: a [`MatchingEngine`] per instrument and one
/// [`FeeAccount`] whose 30-day volume counts fills on every instrument (in quote
/// currency units as given; an account trades one quote currency).
#[derive(Clone, Debug)]
pub struct SimulatedExchange {
    engines: Vec<MatchingEngine>,
    fees: FeeAccount,
}

impl SimulatedExchange {
    /// An exchange with no instruments yet, charging fees per `schedule`.
    pub fn new(schedule: FeeSchedule) -> Self {
        Self {
            engines: Vec::new(),
            fees: FeeAccount::new(schedule),
        }
    }

    /// Add an instrument; its index is the number of instruments added before it.
    pub fn add_instrument(
        &mut self,
        instrument: Instrument,
        config: EngineConfig,
    ) -> InstrumentIndex {
        let index = InstrumentIndex(self.engines.len());
        self.engines
            .push(MatchingEngine::new(index, instrument, config));
        index
    }

    /// The engine of `index`.
    pub fn engine(&self, index: InstrumentIndex) -> Option<&MatchingEngine> {
        self.engines.get(index.0)
    }

    /// All engines, by index.
    pub fn engines(&self) -> &[MatchingEngine] {
        &self.engines
    }

    /// The account's fee state.
    pub fn fees(&self) -> &FeeAccount {
        &self.fees
    }

    /// The market book of `index` as the engine sees it.
    pub fn book(&self, index: InstrumentIndex) -> Option<&OrderBook> {
        self.engine(index).map(MatchingEngine::book)
    }

    /// Submit an order (see [`MatchingEngine::submit`]); an unknown instrument index is
    /// rejected.
    pub fn submit(&mut self, ts: UnixNanos, req: &OrderRequest, out: &mut Vec<OrderEvent>) {
        match self.engines.get_mut(req.instrument.0) {
            Some(e) => e.submit(ts, req, &mut self.fees, out),
            None => out.push(OrderEvent::Rejected {
                id: req.id,
                ts,
                reason: RejectReason::Other(format!(
                    "unknown instrument index {}",
                    req.instrument.0
                )),
            }),
        }
    }

    /// Cancel a live order (see [`MatchingEngine::cancel`]).
    pub fn cancel(
        &mut self,
        ts: UnixNanos,
        req: &CancelRequest,
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), CancelError> {
        self.engines
            .get_mut(req.instrument.0)
            .ok_or(CancelError::UnknownInstrument {
                index: req.instrument,
            })?
            .cancel(ts, req.id, out)
    }

    /// Feed a book snapshot for `index` (unknown indexes are ignored).
    pub fn on_book_snapshot(
        &mut self,
        index: InstrumentIndex,
        snapshot: &BookSnapshot,
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), BookError> {
        match self.engines.get_mut(index.0) {
            Some(e) => e.on_book_snapshot(snapshot, &mut self.fees, out),
            None => Ok(()),
        }
    }

    /// Feed a book delta for `index` (unknown indexes are ignored).
    pub fn on_book_delta(
        &mut self,
        index: InstrumentIndex,
        delta: &BookDelta,
        out: &mut Vec<OrderEvent>,
    ) {
        if let Some(e) = self.engines.get_mut(index.0) {
            e.on_book_delta(delta, &mut self.fees, out);
        }
    }

    /// Feed a quote for `index` (unknown indexes are ignored).
    pub fn on_quote(&mut self, index: InstrumentIndex, quote: &Quote, out: &mut Vec<OrderEvent>) {
        if let Some(e) = self.engines.get_mut(index.0) {
            e.on_quote(quote, &mut self.fees, out);
        }
    }

    /// Feed a trade for `index` (unknown indexes are ignored).
    pub fn on_trade(&mut self, index: InstrumentIndex, trade: &Trade, out: &mut Vec<OrderEvent>) {
        if let Some(e) = self.engines.get_mut(index.0) {
            e.on_trade(trade, &mut self.fees, out);
        }
    }

    /// Feed a completed bar for `index` (unknown indexes are ignored).
    pub fn on_bar(&mut self, index: InstrumentIndex, bar: &Bar, out: &mut Vec<OrderEvent>) {
        if let Some(e) = self.engines.get_mut(index.0) {
            e.on_bar(bar, &mut self.fees, out);
        }
    }
}
