//! [`MatchingEngine`]: the simulated venue for one instrument.

use crate::data::{
    Bar, BookDelta, BookError, BookLevel, BookSide, BookSnapshot, OrderBook, Quote, Side, Trade,
    UnixNanos,
};
use crate::fixed::{Price, Quantity};
use crate::instrument::{Instrument, InstrumentError};
use crate::orders::{
    ClientOrderId, Fill, InstrumentIndex, Liquidity, OrderEvent, OrderKind, OrderRequest,
    RejectReason, TimeInForce,
};

use super::fees::{Bps, FeeAccount};
use super::own_book::{Order, OwnBook, Slot};

/// How bar backtests fill market orders (see the [module docs](super) for every rule).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BarFillModel {
    /// Orders submitted after bar `t` closes arrive at bar `t+1`'s open: market orders
    /// fill at exactly that open (plus slippage). The default, and what backtesting.py does.
    #[default]
    NextBarOpen,
    /// Orders fill at the close of the bar that generated the signal (bar `t`), as soon
    /// as they are submitted. Optimistic: the strategy sees the close and trades at it.
    SameBarClose,
}

/// Which market data fills orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FillModel {
    /// Order-book mode: aggressive orders walk the L2 book; resting orders fill when
    /// trades print through them or the opposite side crosses them.
    L2,
    /// Bar mode: fills at bar prices with unlimited liquidity.
    Bar {
        /// When market orders fill.
        model: BarFillModel,
        /// Slippage against the trader on taker fills, in basis points.
        slippage: Bps,
    },
}

/// Configuration of one [`MatchingEngine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EngineConfig {
    /// Which market data fills orders.
    pub fill_model: FillModel,
    /// L2 mode only: also fill resting limits on trades printed exactly **at** their
    /// price (queue position unknown, so optimistic). Default `false`: a trade must print
    /// strictly through the limit.
    pub fill_at_touch: bool,
}

impl EngineConfig {
    /// L2 mode, fills on trade-through only.
    pub fn l2() -> Self {
        Self {
            fill_model: FillModel::L2,
            fill_at_touch: false,
        }
    }

    /// Bar mode with the given model and slippage.
    pub fn bars(model: BarFillModel, slippage: Bps) -> Self {
        Self {
            fill_model: FillModel::Bar { model, slippage },
            fill_at_touch: false,
        }
    }
}

impl Default for EngineConfig {
    /// Bar mode, next-bar-open fills, no slippage.
    fn default() -> Self {
        Self::bars(BarFillModel::NextBarOpen, Bps::ZERO)
    }
}

/// Why a cancel request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    /// No live order with that id (never placed, already filled or cancelled).
    #[error("order {id} is not open")]
    UnknownOrder {
        /// The id asked for.
        id: ClientOrderId,
    },
    /// The exchange has no instrument with that index.
    #[error("unknown instrument index {}", index.0)]
    UnknownInstrument {
        /// The index asked for.
        index: InstrumentIndex,
    },
}

/// Where a live order is waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenOrderState {
    /// Resting at its limit price in the bot's book.
    Resting,
    /// A stop waiting for its trigger.
    AwaitingTrigger,
    /// Bar mode: waiting for the next bar's open.
    AwaitingBar,
}

/// A snapshot of one live order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOrder {
    /// Its id.
    pub id: ClientOrderId,
    /// Buy or sell.
    pub side: Side,
    /// Kind as submitted.
    pub kind: OrderKind,
    /// Lifetime.
    pub time_in_force: TimeInForce,
    /// Post-only flag.
    pub post_only: bool,
    /// Where it waits.
    pub state: OpenOrderState,
    /// Quantity filled so far.
    pub filled: Quantity,
    /// Quantity still open.
    pub remaining: Quantity,
}

/// A stop waiting for its trigger; sorted so the next to trigger is last.
#[derive(Clone, Copy, Debug)]
pub(super) struct StopRef {
    key: i64,
    slot: u32,
}

/// Event sink for one call: the timestamp fills get, the fee account, the output.
pub(super) struct Ctx<'a> {
    pub ts: UnixNanos,
    pub fees: &'a mut FeeAccount,
    pub out: &'a mut Vec<OrderEvent>,
}

impl Ctx<'_> {
    /// Emit a fill, charging its fee.
    #[inline]
    pub fn fill(
        &mut self,
        instrument: InstrumentIndex,
        order: &Order,
        price: Price,
        quantity: Quantity,
        liquidity: Liquidity,
    ) {
        let fee = self
            .fees
            .charge(self.ts, price.notional(quantity), liquidity);
        self.out.push(OrderEvent::Filled(Fill {
            id: order.id,
            instrument,
            ts: self.ts,
            side: order.side,
            price,
            quantity,
            fee,
            liquidity,
        }));
    }

    #[inline]
    pub fn accepted(&mut self, id: ClientOrderId) {
        self.out.push(OrderEvent::Accepted { id, ts: self.ts });
    }

    #[inline]
    pub fn triggered(&mut self, id: ClientOrderId) {
        self.out.push(OrderEvent::Triggered { id, ts: self.ts });
    }

    #[inline]
    pub fn canceled(&mut self, id: ClientOrderId, unfilled: Quantity) {
        self.out.push(OrderEvent::Canceled {
            id,
            ts: self.ts,
            unfilled,
        });
    }

    pub fn rejected(&mut self, id: ClientOrderId, reason: RejectReason) {
        self.out.push(OrderEvent::Rejected {
            id,
            ts: self.ts,
            reason,
        });
    }
}

/// Instrument rules as raw integers for the hot-path check.
#[derive(Clone, Copy, Debug)]
struct Rules {
    tick: i64,
    lot: u64,
    min_qty: u64,
    /// Minimum notional × 10^9 (price raw × quantity raw has 10^-18 units).
    min_notional_e18: i128,
}

/// `true` if `price` is at or better than `limit` for a `side` order
/// (a buy pays at most `limit`, a sell receives at least `limit`).
#[inline]
pub(super) fn within(side: Side, price: Price, limit: Price) -> bool {
    match side {
        Side::Buy => price <= limit,
        Side::Sell => price >= limit,
    }
}

/// `true` if the market traded strictly through `limit` from a `side` resting order's
/// point of view (below a bid, above an offer).
#[inline]
pub(super) fn through(side: Side, price: Price, limit: Price) -> bool {
    match side {
        Side::Buy => price < limit,
        Side::Sell => price > limit,
    }
}

/// A simulated venue for one instrument: the bot's own resting orders (price-time
/// priority), its pending stops, the market's L2 book, and the fill rules of the
/// configured [`FillModel`]. See the [module docs](super) for every rule.
///
/// Every method that can produce events appends them to a caller-owned `Vec`, so the
/// hot path allocates nothing per call once the vectors have grown.
#[derive(Clone, Debug)]
pub struct MatchingEngine {
    pub(super) index: InstrumentIndex,
    pub(super) instrument: Instrument,
    pub(super) config: EngineConfig,
    rules: Rules,
    pub(super) book: OrderBook,
    pub(super) own: OwnBook,
    pub(super) buy_stops: Vec<StopRef>,
    pub(super) sell_stops: Vec<StopRef>,
    /// Bar mode: orders waiting for the next bar's open, in arrival order.
    pub(super) pending: Vec<u32>,
    pub(super) last_price: Option<Price>,
    pub(super) last_bar: Option<Bar>,
    next_seq: u64,
    /// Reused buffers (no allocation per event once grown).
    pub(super) scratch: Vec<u32>,
    pub(super) deferred: Vec<u32>,
}

impl MatchingEngine {
    /// An engine for `instrument`, addressed as `index` in order requests.
    pub fn new(index: InstrumentIndex, instrument: Instrument, config: EngineConfig) -> Self {
        let rules = Rules {
            tick: instrument.tick_size().raw(),
            lot: instrument.lot_size().raw(),
            min_qty: instrument.min_quantity().raw(),
            min_notional_e18: instrument
                .min_notional()
                .raw()
                .saturating_mul(1_000_000_000),
        };
        Self {
            index,
            instrument,
            config,
            rules,
            book: OrderBook::new(),
            own: OwnBook::default(),
            buy_stops: Vec::new(),
            sell_stops: Vec::new(),
            pending: Vec::new(),
            last_price: None,
            last_bar: None,
            next_seq: 0,
            scratch: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// The instrument's index.
    pub fn index(&self) -> InstrumentIndex {
        self.index
    }

    /// The instrument.
    pub fn instrument(&self) -> &Instrument {
        &self.instrument
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's view of the market L2 book: the data applied so far, minus the
    /// displayed liquidity the bot's fills consumed since each level last updated.
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// Last trade price (L2 mode) or last bar close (bar mode).
    pub fn last_price(&self) -> Option<Price> {
        self.last_price
    }

    /// Number of live orders (resting, waiting for a trigger or for the next bar).
    pub fn open_order_count(&self) -> usize {
        self.own.len()
    }

    /// The live order with `id`, if any.
    pub fn order(&self, id: ClientOrderId) -> Option<OpenOrder> {
        self.own.lookup(id).map(|s| self.view(self.own.get(s)))
    }

    /// All live orders in arrival order.
    pub fn open_orders(&self) -> Vec<OpenOrder> {
        let mut live: Vec<&Order> = self.own.live().collect();
        live.sort_unstable_by_key(|o| o.seq);
        live.into_iter().map(|o| self.view(o)).collect()
    }

    /// The bot's resting orders on `side`, best price first, then arrival (the order
    /// they would fill in).
    pub fn resting_orders(&self, side: Side) -> impl Iterator<Item = OpenOrder> + '_ {
        self.own.resting(side).map(|o| self.view(o))
    }

    /// Best resting price of the bot's own orders on `side`.
    pub fn best_own_price(&self, side: Side) -> Option<Price> {
        self.own.best(side).map(|s| self.own.get(s).limit)
    }

    fn view(&self, o: &Order) -> OpenOrder {
        OpenOrder {
            id: o.id,
            side: o.side,
            kind: o.kind,
            time_in_force: o.tif,
            post_only: o.post_only,
            state: match o.slot {
                Slot::Stop => OpenOrderState::AwaitingTrigger,
                Slot::Pending => OpenOrderState::AwaitingBar,
                Slot::Resting | Slot::Free => OpenOrderState::Resting,
            },
            filled: Quantity::from_raw_unchecked(o.filled, o.precision),
            remaining: Quantity::from_raw_unchecked(o.remaining(), o.precision),
        }
    }

    // ---------------------------------------------------------------- orders

    /// Submit an order at `ts`. Emits `Rejected`, or `Accepted` followed by whatever
    /// happens at once (fills, `Triggered`, `Canceled` for an IOC remainder).
    pub fn submit(
        &mut self,
        ts: UnixNanos,
        req: &OrderRequest,
        fees: &mut FeeAccount,
        out: &mut Vec<OrderEvent>,
    ) {
        let mut ctx = Ctx { ts, fees, out };
        if let Err(reason) = self.check(req) {
            ctx.rejected(req.id, reason);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        // Display fills with at least the instrument's decimals.
        let mut order = Order::new(
            req.id,
            seq,
            req.side,
            req.kind,
            req.time_in_force,
            req.post_only,
            req.quantity.raw(),
            req.quantity
                .precision()
                .max(self.instrument.size_precision()),
        );
        // Validated on tick, so exact at the instrument's price precision.
        order.limit = Price::from_raw_unchecked(
            order.limit.raw(),
            order
                .limit
                .precision()
                .max(self.instrument.price_precision()),
        );
        match self.config.fill_model {
            FillModel::L2 => self.submit_l2(order, &mut ctx),
            FillModel::Bar { model, slippage } => self.submit_bar(order, model, slippage, &mut ctx),
        }
    }

    /// Cancel a live order at `ts`; emits `Canceled` with the unfilled quantity.
    pub fn cancel(
        &mut self,
        ts: UnixNanos,
        id: ClientOrderId,
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), CancelError> {
        let slot = self
            .own
            .lookup(id)
            .ok_or(CancelError::UnknownOrder { id })?;
        let o = *self.own.get(slot);
        match o.slot {
            Slot::Resting => self.own.unrest(slot),
            Slot::Stop => {
                let stops = match o.side {
                    Side::Buy => &mut self.buy_stops,
                    Side::Sell => &mut self.sell_stops,
                };
                if let Some(i) = stops.iter().rposition(|s| s.slot == slot) {
                    stops.remove(i);
                }
            }
            Slot::Pending => {
                if let Some(i) = self.pending.iter().position(|&s| s == slot) {
                    self.pending.remove(i);
                }
            }
            Slot::Free => {}
        }
        self.own.release(slot);
        out.push(OrderEvent::Canceled {
            id,
            ts,
            unfilled: Quantity::from_raw_unchecked(o.remaining(), o.precision),
        });
        Ok(())
    }

    /// Everything that can reject an order before it reaches the book.
    fn check(&self, req: &OrderRequest) -> Result<(), RejectReason> {
        if req.instrument != self.index {
            return Err(RejectReason::Other(format!(
                "order for instrument {} sent to the engine of {} (index {})",
                req.instrument.0,
                self.instrument.symbol(),
                self.index.0
            )));
        }
        if self.own.lookup(req.id).is_some() {
            return Err(RejectReason::DuplicateId);
        }
        if req.quantity.is_zero() {
            return Err(RejectReason::Other("quantity must be positive".to_owned()));
        }
        if req.post_only && matches!(req.kind, OrderKind::Market | OrderKind::StopMarket { .. }) {
            // A market order always takes liquidity.
            return Err(RejectReason::PostOnlyWouldTake);
        }
        let qty = req.quantity;
        let result = match req.kind {
            OrderKind::Limit { price } => self.check_priced(price, qty),
            OrderKind::StopMarket { trigger } => self.check_priced(trigger, qty),
            OrderKind::StopLimit { trigger, price } => self
                .check_tick(trigger)
                .and_then(|()| self.check_priced(price, qty)),
            OrderKind::Market => self.check_market(req.side, qty),
        };
        result.map_err(|e| RejectReason::Instrument(e.to_string()))
    }

    /// Tick, lot, minimum quantity and minimum notional. Integer fast path; the
    /// instrument's own check (which names the broken rule) only when that fails.
    #[inline]
    fn check_priced(&self, price: Price, qty: Quantity) -> Result<(), InstrumentError> {
        let r = &self.rules;
        let fast = price.raw() % r.tick == 0
            && qty.raw().is_multiple_of(r.lot)
            && qty.raw() >= r.min_qty
            // Exact product >= min means the half-even rounded notional is >= min too.
            && i128::from(price.raw()) * i128::from(qty.raw()) >= r.min_notional_e18;
        if fast {
            Ok(())
        } else {
            self.instrument.validate_order(price, qty)
        }
    }

    /// Tick rule alone (a stop-limit's trigger has no quantity rules of its own).
    fn check_tick(&self, price: Price) -> Result<(), InstrumentError> {
        if price.raw() % self.rules.tick == 0 {
            Ok(())
        } else {
            Err(InstrumentError::OffTick {
                symbol: self.instrument.symbol().to_owned(),
                price,
                tick: self.instrument.tick_size(),
            })
        }
    }

    /// Market orders have no price: check lot and minimum quantity, and the minimum
    /// notional against the reference price if there is one yet.
    fn check_market(&self, side: Side, qty: Quantity) -> Result<(), InstrumentError> {
        let symbol = || self.instrument.symbol().to_owned();
        if !qty.raw().is_multiple_of(self.rules.lot) {
            return Err(InstrumentError::OffLot {
                symbol: symbol(),
                qty,
                lot: self.instrument.lot_size(),
            });
        }
        if qty.raw() < self.rules.min_qty {
            return Err(InstrumentError::BelowMinQuantity {
                symbol: symbol(),
                qty,
                min: self.instrument.min_quantity(),
            });
        }
        match self.reference_price(side) {
            Some(p) => self.instrument.check_min_notional(p, qty),
            None => Ok(()),
        }
    }

    /// Best guess of where a market order would fill: the opposite best (L2 mode) or
    /// the last trade / bar close.
    fn reference_price(&self, side: Side) -> Option<Price> {
        let opposite = match (self.config.fill_model, side) {
            (FillModel::L2, Side::Buy) => self.book.best_ask(),
            (FillModel::L2, Side::Sell) => self.book.best_bid(),
            (FillModel::Bar { .. }, _) => None,
        };
        opposite.map(|l| l.price).or(self.last_price)
    }

    // ---------------------------------------------------------------- L2 mode

    /// L2 mode submission of a validated order (rules in the module docs).
    fn submit_l2(&mut self, order: Order, ctx: &mut Ctx) {
        match order.kind {
            OrderKind::Market | OrderKind::Limit { .. } => {
                if let Err(reason) = self.pre_take_checks(&order) {
                    ctx.rejected(order.id, reason);
                    return;
                }
                ctx.accepted(order.id);
                self.execute_l2(order, ctx);
            }
            OrderKind::StopMarket { trigger } | OrderKind::StopLimit { trigger, .. } => {
                ctx.accepted(order.id);
                let reference = match order.side {
                    Side::Buy => self.book.best_ask(),
                    Side::Sell => self.book.best_bid(),
                }
                .map(|l| l.price);
                let hit =
                    |p: Option<Price>| p.is_some_and(|p| within(order.side.opposite(), p, trigger));
                if hit(reference) || hit(self.last_price) {
                    // Already through the trigger: it fires at once.
                    ctx.triggered(order.id);
                    self.execute_triggered_l2(order, ctx);
                } else {
                    let slot = self.own.insert(order, Slot::Stop);
                    self.insert_stop(slot, order.side, trigger);
                }
            }
        }
    }

    /// Post-only and FOK checks against the market book for an order about to take.
    fn pre_take_checks(&self, order: &Order) -> Result<(), RejectReason> {
        let limit = order.kind.limit_price();
        if order.post_only && self.crosses_book(order.side, limit) {
            return Err(RejectReason::PostOnlyWouldTake);
        }
        if order.tif == TimeInForce::Fok && !self.fillable(order.side, limit, order.remaining()) {
            return Err(RejectReason::FokNotFillable);
        }
        Ok(())
    }

    /// `true` if a `side` order at `limit` (None = market) would take liquidity now.
    fn crosses_book(&self, side: Side, limit: Option<Price>) -> bool {
        let best = match side {
            Side::Buy => self.book.best_ask(),
            Side::Sell => self.book.best_bid(),
        };
        match (best, limit) {
            (Some(l), Some(limit)) => within(side, l.price, limit),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// `true` if the opposite side shows at least `want` within `limit`.
    fn fillable(&self, side: Side, limit: Option<Price>, want: u64) -> bool {
        let mut sum: u64 = 0;
        let mut check = |l: BookLevel| {
            if limit.is_some_and(|limit| !within(side, l.price, limit)) {
                return Some(false);
            }
            sum = sum.saturating_add(l.size.raw());
            (sum >= want).then_some(true)
        };
        let found = match side {
            Side::Buy => self.book.asks().find_map(&mut check),
            Side::Sell => self.book.bids().find_map(&mut check),
        };
        found.unwrap_or(false)
    }

    /// Take liquidity for a new (or just triggered) order; rest or cancel the remainder.
    fn execute_l2(&mut self, mut order: Order, ctx: &mut Ctx) {
        let limit = order.kind.limit_price();
        self.take(&mut order, limit, ctx);
        if order.remaining() == 0 {
            return;
        }
        match (order.kind, order.tif) {
            (OrderKind::Limit { .. } | OrderKind::StopLimit { .. }, TimeInForce::Gtc) => {
                let slot = self.own.insert(order, Slot::Free);
                self.own.rest(slot);
            }
            // Market orders never rest: the unfilled rest is cancelled like an IOC.
            _ => ctx.canceled(
                order.id,
                Quantity::from_raw_unchecked(order.remaining(), order.precision),
            ),
        }
    }

    /// A stop just triggered in L2 mode: run it as a market or limit order. Post-only
    /// and FOK failures at this point cancel the order (it was already accepted).
    fn execute_triggered_l2(&mut self, order: Order, ctx: &mut Ctx) {
        if self.pre_take_checks(&order).is_err() {
            ctx.canceled(
                order.id,
                Quantity::from_raw_unchecked(order.remaining(), order.precision),
            );
            return;
        }
        self.execute_l2(order, ctx);
    }

    /// Walk the opposite side of the market book as a taker: fill level by level at each
    /// level's price, up to `limit`, consuming the displayed size.
    fn take(&mut self, order: &mut Order, limit: Option<Price>, ctx: &mut Ctx) {
        let (book_side, side) = match order.side {
            Side::Buy => (BookSide::Ask, Side::Buy),
            Side::Sell => (BookSide::Bid, Side::Sell),
        };
        while order.remaining() > 0 {
            let best = match side {
                Side::Buy => self.book.best_ask(),
                Side::Sell => self.book.best_bid(),
            };
            let Some(level) = best else { break };
            if limit.is_some_and(|limit| !within(side, level.price, limit)) {
                break;
            }
            let qty = order.remaining().min(level.size.raw());
            order.precision = order.precision.max(level.size.precision());
            self.consume(book_side, level, qty, order.precision);
            order.filled += qty;
            ctx.fill(
                self.index,
                order,
                level.price,
                Quantity::from_raw_unchecked(qty, order.precision),
                Liquidity::Taker,
            );
        }
    }

    /// Remove `qty` of displayed size from a market level (the liquidity model: a later
    /// order cannot fill against size the bot already took, until the feed updates the
    /// level again).
    #[inline]
    fn consume(&mut self, side: BookSide, level: BookLevel, qty: u64, precision: u8) {
        let ts = self.book.ts();
        let precision = precision.max(level.size.precision());
        self.book.apply_delta(&BookDelta {
            ts,
            side,
            price: level.price,
            size: Quantity::from_raw_unchecked(level.size.raw() - qty, precision),
        });
    }

    pub(super) fn insert_stop(&mut self, slot: u32, side: Side, trigger: Price) {
        // Buy stops fire lowest trigger first, sell stops highest first; keep the next
        // to fire last. Equal triggers keep arrival order (firing sorts by seq anyway).
        let (stops, key) = match side {
            Side::Buy => (&mut self.buy_stops, !trigger.raw()),
            Side::Sell => (&mut self.sell_stops, trigger.raw()),
        };
        let at = stops.partition_point(|s| s.key <= key);
        stops.insert(at, StopRef { key, slot });
    }

    /// Pop every stop whose trigger is reached by `buy_ref` (buy stops: at or above the
    /// trigger) / `sell_ref` (sell stops: at or below) into `scratch`, in arrival order.
    pub(super) fn collect_triggered(&mut self, buy_ref: Option<Price>, sell_ref: Option<Price>) {
        self.scratch.clear();
        if let Some(p) = buy_ref {
            while let Some(s) = self.buy_stops.last() {
                if p.raw() < !s.key {
                    break;
                }
                self.scratch.push(s.slot);
                self.buy_stops.pop();
            }
        }
        if let Some(p) = sell_ref {
            while let Some(s) = self.sell_stops.last() {
                if p.raw() > s.key {
                    break;
                }
                self.scratch.push(s.slot);
                self.sell_stops.pop();
            }
        }
        if self.scratch.len() > 1 {
            let own = &self.own;
            self.scratch.sort_unstable_by_key(|&s| own.get(s).seq);
        }
    }

    /// L2 mode: fire stops reached by the given references and execute them.
    fn fire_stops_l2(&mut self, buy_ref: Option<Price>, sell_ref: Option<Price>, ctx: &mut Ctx) {
        let buy_hit = buy_ref
            .zip(self.buy_stops.last())
            .is_some_and(|(p, s)| p.raw() >= !s.key);
        let sell_hit = sell_ref
            .zip(self.sell_stops.last())
            .is_some_and(|(p, s)| p.raw() <= s.key);
        if !buy_hit && !sell_hit {
            return;
        }
        self.collect_triggered(buy_ref, sell_ref);
        let fired = std::mem::take(&mut self.scratch);
        for &slot in &fired {
            let order = *self.own.get(slot);
            self.own.release(slot);
            ctx.triggered(order.id);
            self.execute_triggered_l2(order, ctx);
        }
        self.scratch = fired;
    }

    /// Fill own resting orders that the market book now crosses (best ask at or below a
    /// bid, best bid at or above an offer), as maker at the resting price, consuming the
    /// crossing displayed size.
    fn match_resting_against_book(&mut self, ctx: &mut Ctx) {
        for side in [Side::Buy, Side::Sell] {
            while let Some(slot) = self.own.best(side) {
                let (best, book_side) = match side {
                    Side::Buy => (self.book.best_ask(), BookSide::Ask),
                    Side::Sell => (self.book.best_bid(), BookSide::Bid),
                };
                let Some(level) = best else { break };
                let limit = self.own.get(slot).limit;
                if !within(side, level.price, limit) {
                    break;
                }
                let o = self.own.get_mut(slot);
                let qty = o.remaining().min(level.size.raw());
                o.precision = o.precision.max(level.size.precision());
                let precision = o.precision;
                self.consume(book_side, level, qty, precision);
                self.fill_resting(slot, limit, qty, Liquidity::Maker, ctx);
            }
        }
    }

    /// Fill `qty` of the resting order in `slot` at `price`; remove it once complete.
    pub(super) fn fill_resting(
        &mut self,
        slot: u32,
        price: Price,
        qty: u64,
        liquidity: Liquidity,
        ctx: &mut Ctx,
    ) {
        let o = self.own.get_mut(slot);
        o.filled += qty;
        let order = *o;
        ctx.fill(
            self.index,
            &order,
            price,
            Quantity::from_raw_unchecked(qty, order.precision),
            liquidity,
        );
        if order.remaining() == 0 {
            self.own.unrest(slot);
            self.own.release(slot);
        }
    }

    /// L2 mode: after any book change, match crossed resting orders and fire stops the
    /// new top of book reaches (buy stops by the best ask, sell stops by the best bid).
    fn after_book_update(&mut self, ctx: &mut Ctx) {
        if self.config.fill_model != FillModel::L2 {
            return;
        }
        self.match_resting_against_book(ctx);
        let ask = self.book.best_ask().map(|l| l.price);
        let bid = self.book.best_bid().map(|l| l.price);
        self.fire_stops_l2(ask, bid, ctx);
    }

    // ---------------------------------------------------------------- market data

    /// Replace the market book with `snapshot` (refused snapshots leave it unchanged),
    /// then match (L2 mode). Fills get the snapshot's timestamp.
    pub fn on_book_snapshot(
        &mut self,
        snapshot: &BookSnapshot,
        fees: &mut FeeAccount,
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), BookError> {
        self.book.apply_snapshot(snapshot)?;
        let mut ctx = Ctx {
            ts: snapshot.ts,
            fees,
            out,
        };
        self.after_book_update(&mut ctx);
        Ok(())
    }

    /// Apply one L2 delta, then match (L2 mode). Fills get the delta's timestamp.
    #[inline]
    pub fn on_book_delta(
        &mut self,
        delta: &BookDelta,
        fees: &mut FeeAccount,
        out: &mut Vec<OrderEvent>,
    ) {
        self.book.apply_delta(delta);
        let mut ctx = Ctx {
            ts: delta.ts,
            fees,
            out,
        };
        self.after_book_update(&mut ctx);
    }

    /// Top-of-book data: the book becomes exactly the quote's two levels (L1 feeds),
    /// then match (L2 mode).
    pub fn on_quote(&mut self, quote: &Quote, fees: &mut FeeAccount, out: &mut Vec<OrderEvent>) {
        self.book.clear();
        for (side, price, size) in [
            (BookSide::Bid, quote.bid, quote.bid_size),
            (BookSide::Ask, quote.ask, quote.ask_size),
        ] {
            self.book.apply_delta(&BookDelta {
                ts: quote.ts,
                side,
                price,
                size,
            });
        }
        let mut ctx = Ctx {
            ts: quote.ts,
            fees,
            out,
        };
        self.after_book_update(&mut ctx);
    }

    /// A trade print. L2 mode: resting orders the trade printed through fill as maker at
    /// their limit (in price-time priority, together at most the trade's size per side),
    /// then stops reached by the trade price fire. Bar mode: only the last price moves.
    pub fn on_trade(&mut self, trade: &Trade, fees: &mut FeeAccount, out: &mut Vec<OrderEvent>) {
        self.last_price = Some(trade.price);
        if self.config.fill_model != FillModel::L2 {
            return;
        }
        let mut ctx = Ctx {
            ts: trade.ts,
            fees,
            out,
        };
        let touch = self.config.fill_at_touch;
        for side in [Side::Buy, Side::Sell] {
            let mut left = trade.size.raw();
            while left > 0 {
                let Some(slot) = self.own.best(side) else {
                    break;
                };
                let limit = self.own.get(slot).limit;
                let hit = through(side, trade.price, limit) || (touch && trade.price == limit);
                if !hit {
                    break;
                }
                let o = self.own.get_mut(slot);
                let qty = o.remaining().min(left);
                o.precision = o.precision.max(trade.size.precision());
                left -= qty;
                self.fill_resting(slot, limit, qty, Liquidity::Maker, &mut ctx);
            }
        }
        self.fire_stops_l2(Some(trade.price), Some(trade.price), &mut ctx);
    }

    /// A completed bar. Bar mode: fills per the [`BarFillModel`] rules (see the
    /// [module docs](super)); fills get the bar's timestamp. L2 mode: only the last
    /// price moves.
    pub fn on_bar(&mut self, bar: &Bar, fees: &mut FeeAccount, out: &mut Vec<OrderEvent>) {
        if let FillModel::Bar { slippage, .. } = self.config.fill_model {
            let mut ctx = Ctx {
                ts: bar.ts,
                fees,
                out,
            };
            self.process_bar(bar, slippage, &mut ctx);
        }
        self.last_price = Some(bar.close);
        self.last_bar = Some(*bar);
    }
}

/// Helpers on [`Side`] the engine needs.
pub(super) trait SideExt {
    /// The other side.
    fn opposite(self) -> Side;
}

impl SideExt for Side {
    #[inline]
    fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}
