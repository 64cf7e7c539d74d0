//! The deterministic, event-driven engine: one strategy, one instrument, bars in,
//! orders out. The same code runs a backtest, paper trading and live trading; only the
//! [`Venue`] differs. A backtest and paper trading use the simulated exchange
//! ([`MatchingEngine`]); live trading uses an [`Outbox`]: the engine's orders and cancels
//! queue there for the worker to send, and the exchange's answers come back through
//! [`Engine::on_venue_events`].
//!
//! Per bar, in this order:
//! 1. the clock moves to the bar; entries and exits the strategy decided on the previous
//!    bar are sized at this bar's open and sent (next-bar-open model);
//! 2. the simulated exchange processes the bar: queued market orders fill at the open,
//!    resting limits and stops fill where the bar's range reaches them;
//! 3. fills go to the portfolio, then to the strategy (which may react at once);
//! 4. the portfolio is marked at the close and the post-trade risk monitors run: a
//!    stop-loss sends a market close; a daily-loss or drawdown halt cancels every working
//!    order and stops the strategy for good (the position is kept, as a person must decide);
//! 5. the strategy sees the closed bar and decides; every order passes the pre-trade risk
//!    checks (`Approved`/`Refused`) before it reaches the exchange; under the
//!    same-bar-close model its orders fill at this close right away.
//!
//! Nothing here reads a clock, a file or a random source, so the same input gives the
//! same result, and the same strategy code runs live with another driver. Replaying the
//! same inputs (bars and venue events) rebuilds the same state: the worker recovers that
//! way after a restart.

pub mod clock;
pub mod sizing;
#[cfg(test)]
mod tests;
mod venue;

pub use venue::{Outbox, Venue, VenueCommand};

use crate::data::{Bar, Side, UnixNanos};
use crate::exchange::{BarFillModel, Bps, EngineConfig, FeeAccount, FeeSchedule, MatchingEngine};
use crate::fixed::{Money, Price, Quantity};
use crate::instrument::Instrument;
use crate::orders::{
    ClientOrderId, Fill, InstrumentIndex, OrderEvent, OrderKind, OrderRequest, TimeInForce,
};
use crate::portfolio::{ClosedTrade, EquityPoint, Portfolio, PortfolioError};
use crate::risk::{ClosePosition, Halt, OrderContext, RiskLimits, RiskManager, RiskRefusal};
use crate::strategy::{
    Action, Actions, Context, OpenOrder, OrderSize, PlannedOrder, Signal, SignalOutcome, Strategy,
};

pub use clock::{Clock, SimulatedClock};
pub use sizing::Sizing;

/// The instrument every single-instrument backtest trades.
pub const INSTRUMENT: InstrumentIndex = InstrumentIndex(0);

/// How a backtest runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// What is traded.
    pub instrument: Instrument,
    /// Starting cash in the quote currency.
    pub capital: Money,
    /// When market orders fill.
    pub fill_model: BarFillModel,
    /// Slippage against the trader on taker fills.
    pub slippage: Bps,
    /// Maker/taker fees by 30-day volume.
    pub fees: FeeSchedule,
    /// How entries are sized.
    pub sizing: Sizing,
    /// Pre-trade limits and post-trade monitors.
    pub risk: RiskLimits,
}

/// Why a backtest stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// Accounting could not apply a fill or a mark (overflow, time going backwards).
    #[error("accounting: {0}")]
    Portfolio(#[from] PortfolioError),
}

/// Order-flow counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Orders sent to the exchange.
    pub orders: usize,
    /// Fills.
    pub fills: usize,
    /// Orders the exchange rejected.
    pub rejected: usize,
    /// Entries or orders dropped before the exchange (nothing affordable, nothing to sell).
    pub dropped: usize,
    /// Orders the pre-trade risk checks refused.
    pub refused: usize,
    /// Stop-loss closes sent.
    pub stop_losses: usize,
}

/// What a backtest produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Strategy name.
    pub strategy: &'static str,
    /// Bars processed.
    pub bars: usize,
    /// Time of the first and last bar.
    pub span: Option<(UnixNanos, UnixNanos)>,
    /// The account at the end: cash, position, PnL, equity curve, closed trades.
    pub portfolio: Portfolio,
    /// Every fill, in order.
    pub fills: Vec<Fill>,
    /// Order-flow counters.
    pub counts: Counts,
    /// Why orders were rejected, refused or dropped (bounded: the first 100).
    pub notes: Vec<String>,
    /// Why trading halted, if it did.
    pub halt: Option<Halt>,
}

const MAX_NOTES: usize = 100;

/// What the engine did, in order, for a worker's event stream and metrics. Recorded only
/// when asked ([`Engine::record_activity`]); a backtest does not pay for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Activity {
    /// An order passed the pre-trade checks and went to the venue.
    Submitted {
        /// Engine time.
        ts: UnixNanos,
        /// The order.
        request: OrderRequest,
    },
    /// The pre-trade checks refused an order.
    Refused {
        /// Engine time.
        ts: UnixNanos,
        /// The order.
        request: OrderRequest,
        /// Which limit, with the values compared.
        reason: RiskRefusal,
    },
    /// The venue reported on an order (accepted, filled, cancelled, rejected, triggered).
    Order(OrderEvent),
    /// A stop-loss closed the position.
    StopLoss {
        /// Engine time.
        ts: UnixNanos,
        /// What the monitor found and the close it sent.
        close: ClosePosition,
    },
    /// Trading halted (daily loss or drawdown).
    Halted {
        /// Engine time.
        ts: UnixNanos,
        /// Why.
        halt: Halt,
    },
    /// The strategy explained itself (e.g. why a Model skipped a decision).
    StrategyNote {
        /// Engine time.
        ts: UnixNanos,
        /// What it said.
        text: String,
    },
}

/// The engine driving a backtest: bars against the simulated exchange.
pub type Backtest = Engine<MatchingEngine>;

/// An engine in progress: one strategy, one instrument, bars, and a venue.
pub struct Engine<V: Venue = MatchingEngine> {
    settings: Settings,
    strategy: Box<dyn Strategy>,
    exchange: V,
    fees: FeeAccount,
    portfolio: Portfolio,
    risk: RiskManager,
    clock: SimulatedClock,
    actions: Actions,
    /// Sized actions waiting for the next bar's open (next-bar-open model).
    deferred: Vec<Action>,
    events: Vec<OrderEvent>,
    open: Vec<OpenOrder>,
    fills: Vec<Fill>,
    counts: Counts,
    notes: Vec<String>,
    bars: usize,
    span: Option<(UnixNanos, UnixNanos)>,
    activity: Option<Vec<Activity>>,
}

impl Engine<MatchingEngine> {
    /// A backtest (or paper session) of `strategy` under `settings`, on the simulated
    /// exchange with the settings' bar fill model and slippage.
    pub fn new(settings: Settings, strategy: Box<dyn Strategy>) -> Self {
        let exchange = MatchingEngine::new(
            INSTRUMENT,
            settings.instrument.clone(),
            EngineConfig::bars(settings.fill_model, settings.slippage),
        );
        Self::with_venue(settings, strategy, exchange)
    }
}

impl<V: Venue> Engine<V> {
    /// An engine of `strategy` under `settings` on `venue`.
    pub fn with_venue(settings: Settings, strategy: Box<dyn Strategy>, exchange: V) -> Self {
        let fees = FeeAccount::new(settings.fees.clone());
        let portfolio = Portfolio::new(settings.capital, 1);
        let risk = RiskManager::new(settings.risk);
        Self {
            settings,
            strategy,
            exchange,
            fees,
            portfolio,
            risk,
            clock: SimulatedClock::default(),
            actions: Actions::starting_at(1),
            deferred: Vec::new(),
            events: Vec::new(),
            open: Vec::new(),
            fills: Vec::new(),
            counts: Counts::default(),
            notes: Vec::new(),
            bars: 0,
            span: None,
            activity: None,
        }
    }

    /// The decisions a model strategy traced since the last call (empty for others).
    pub fn drain_decisions(&mut self) -> Vec<crate::strategy::model::Decision> {
        let mut out = Vec::new();
        self.strategy.drain_decisions(&mut out);
        out
    }

    /// Records [`Activity`] from now on (drain it with [`Engine::drain_activity`]).
    pub fn record_activity(&mut self, on: bool) {
        self.activity = on.then(Vec::new);
    }

    /// What happened since the last drain, oldest first.
    pub fn drain_activity(&mut self) -> Vec<Activity> {
        self.activity
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn record(&mut self, a: impl FnOnce() -> Activity) {
        if let Some(log) = &mut self.activity {
            log.push(a());
        }
    }

    /// The venue (a live worker drains an [`Outbox`]'s commands through this).
    pub fn venue_mut(&mut self) -> &mut V {
        &mut self.exchange
    }

    /// The account: cash, position, PnL, equity curve.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// The strategy's working orders, oldest first.
    pub fn open_orders(&self) -> &[OpenOrder] {
        &self.open
    }

    /// Why trading halted, if it did.
    pub fn halt(&self) -> Option<&Halt> {
        self.risk.halt()
    }

    /// The highest equity the post-trade monitor has seen (for drawdown).
    pub fn peak_equity(&self) -> Option<Money> {
        self.risk.peak_equity()
    }

    /// Order-flow counters so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The settings the engine runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Engine time: the latest bar or venue event seen.
    pub fn now(&self) -> UnixNanos {
        self.clock.now()
    }

    /// What the venue reported about orders (acceptances, fills, cancels, rejects), at
    /// `ts`: accounting and the strategy see them as in a backtest, then the portfolio is
    /// marked at the venue's last price and the post-trade monitors run.
    pub fn on_venue_events(
        &mut self,
        ts: UnixNanos,
        events: impl IntoIterator<Item = OrderEvent>,
    ) -> Result<(), BacktestError> {
        self.clock.advance_to(ts);
        self.events.extend(events);
        if self.events.is_empty() {
            return Ok(());
        }
        self.handle_events()?;
        if let Some(price) = self.exchange.last_price() {
            self.portfolio.mark(INSTRUMENT, price, self.clock.now())?;
            self.monitor(self.clock.now())?;
        }
        Ok(())
    }

    /// Takes a position the account already held as the starting position (a live
    /// session adopting holdings at the mark): cash pays for it as for a fill, but it is
    /// no fill of the strategy's (no count, no `on_fill`, no activity).
    pub fn adopt_position(&mut self, fill: &Fill) -> Result<(), BacktestError> {
        self.clock.advance_to(fill.ts);
        self.portfolio.apply_fill(fill)?;
        self.portfolio
            .mark(INSTRUMENT, fill.price, self.clock.now())?;
        Ok(())
    }

    /// Takes the equity-curve points no later bar can change (see
    /// [`Portfolio::drain_settled_curve`]). With [`Engine::drain_fills`] and
    /// [`Engine::drain_closed_trades`] after every [`Engine::step`], the engine keeps no
    /// history that grows with the run: a streaming backtest of any length.
    pub fn drain_settled_curve(&mut self) -> std::vec::Drain<'_, EquityPoint> {
        self.portfolio.drain_settled_curve()
    }

    /// Takes the fills since the last call, in order.
    pub fn drain_fills(&mut self) -> std::vec::Drain<'_, Fill> {
        self.fills.drain(..)
    }

    /// Takes the round trips closed since the last call, in order.
    pub fn drain_closed_trades(&mut self) -> std::vec::Drain<'_, ClosedTrade> {
        self.portfolio.drain_closed_trades()
    }

    /// Runs every bar and returns the outcome.
    pub fn run(mut self, bars: &[Bar]) -> Result<Outcome, BacktestError> {
        self.portfolio.reserve_curve(bars.len());
        for bar in bars {
            self.step(bar)?;
        }
        Ok(self.finish())
    }

    /// Closed bars the strategy needs before it can decide.
    pub fn warmup_bars(&self) -> usize {
        self.strategy.warmup_bars()
    }

    /// Primes the strategy's indicators with closed bars from before the session (a
    /// live worker's warm-up): the strategy sees each bar as flat, and whatever it
    /// decides on them is dropped. No order, no fill, no mark, no engine bar.
    pub fn warm_up(&mut self, bars: &[Bar]) {
        for bar in bars {
            let ctx = context(&self.settings, &self.portfolio, &self.open, bar.ts);
            self.strategy.on_bar(&ctx, bar, &mut self.actions);
            self.actions.drain().for_each(drop);
        }
    }

    /// Processes one bar (see the module docs for the order of events).
    pub fn step(&mut self, bar: &Bar) -> Result<(), BacktestError> {
        self.clock.advance_to(bar.ts);
        self.bars += 1;
        self.span = Some(match self.span {
            None => (bar.ts, bar.ts),
            Some((first, _)) => (first, bar.ts),
        });

        // 1. Decisions from the previous close, sized at this open.
        if !self.deferred.is_empty() {
            let deferred = std::mem::take(&mut self.deferred);
            for action in &deferred {
                self.execute(*action, bar.open, bar.ts);
            }
            self.deferred = deferred;
            self.deferred.clear();
        }

        // 2-3. The exchange works the bar; fills reach accounting and the strategy.
        self.exchange.on_bar(bar, &mut self.fees, &mut self.events);
        self.handle_events()?;

        // 4. Mark to the close; post-trade monitors. At engine time, not the bar's: a live
        // venue's fills may already have moved the clock inside the bar's interval.
        let now = self.clock.now();
        self.portfolio.mark(INSTRUMENT, bar.close, now)?;
        self.monitor(now)?;
        if self.risk.is_halted() {
            return Ok(());
        }

        // 5. The strategy decides on the closed bar.
        let ctx = context(&self.settings, &self.portfolio, &self.open, bar.ts);
        self.strategy.on_bar(&ctx, bar, &mut self.actions);
        self.strategy_notes(bar.ts);
        if !self.actions.is_empty() {
            let actions: Vec<Action> = self.actions.drain().collect();
            for action in actions {
                if self.settings.fill_model == BarFillModel::NextBarOpen
                    && is_sized_at_fill(&action)
                {
                    self.deferred.push(action);
                } else {
                    self.execute(action, bar.close, bar.ts);
                }
            }
            self.handle_events()?;
            // Same-bar-close fills change equity at this close.
            self.portfolio.mark(INSTRUMENT, bar.close, now)?;
            self.monitor(now)?;
        }
        Ok(())
    }

    /// An external signal, at its time: the strategy decides (only the Signal strategy
    /// acts), and its orders are sized at the venue's last price and pass the pre-trade
    /// risk checks like any other. Under the next-bar-open model (a backtest's default)
    /// sized entries and exits wait for the next bar's open, as decisions on a bar do.
    /// Nothing is done while trading is halted, or before the first price. The outcome
    /// is also kept as a note (and as activity, for a worker's events).
    pub fn on_signal(&mut self, signal: &Signal) -> Result<SignalOutcome, BacktestError> {
        self.clock.advance_to(signal.ts);
        let ts = self.clock.now();
        let outcome = if let Some(halt) = self.risk.halt() {
            SignalOutcome::Skipped(format!("trading is halted: {halt}"))
        } else {
            let ctx = context(&self.settings, &self.portfolio, &self.open, ts);
            let outcome = self.strategy.on_signal(&ctx, signal, &mut self.actions);
            let price = self.exchange.last_price();
            match (outcome == SignalOutcome::Acted, price) {
                (true, Some(price)) => {
                    let actions: Vec<Action> = self.actions.drain().collect();
                    for action in actions {
                        if self.settings.fill_model == BarFillModel::NextBarOpen
                            && is_sized_at_fill(&action)
                        {
                            self.deferred.push(action);
                        } else {
                            self.execute(action, price, ts);
                        }
                    }
                    self.handle_events()?;
                    self.portfolio.mark(INSTRUMENT, price, ts)?;
                    self.monitor(ts)?;
                    outcome
                }
                (true, None) => {
                    self.actions.drain().for_each(drop);
                    SignalOutcome::Skipped("no price yet (no bar before the signal)".into())
                }
                (false, _) => {
                    self.actions.drain().for_each(drop);
                    outcome
                }
            }
        };
        let text = match &outcome {
            SignalOutcome::Acted => format!("signal {} {}: acted", signal.id, signal.action),
            SignalOutcome::Skipped(why) => {
                format!("signal {} {}: skipped: {why}", signal.id, signal.action)
            }
        };
        self.record(|| Activity::StrategyNote {
            ts,
            text: text.clone(),
        });
        self.note(text);
        Ok(outcome)
    }

    /// Runs the post-trade monitors and acts on what they ask for.
    fn monitor(&mut self, ts: UnixNanos) -> Result<(), BacktestError> {
        let actions = self.risk.on_mark(&self.portfolio, INSTRUMENT, ts);
        if let Some(close) = actions.close
            && self
                .settings
                .instrument
                .round_quantity(close.quantity)
                .is_zero()
        {
            // Less than one lot (dust a live venue's base-asset commissions leave) cannot be
            // sold; keep the stop-loss armed for a real position.
            self.risk.rearm_stop_loss(INSTRUMENT);
        } else if let Some(close) = actions.close {
            self.counts.stop_losses += 1;
            self.note(close.to_string());
            self.record(|| Activity::StopLoss { ts, close });
            let id = self.actions.allocate_id();
            // A stop-loss reduces risk: it skips the pre-trade limits (never the exchange's rules).
            self.send(
                OrderRequest {
                    id,
                    instrument: INSTRUMENT,
                    side: close.side,
                    quantity: close.quantity,
                    kind: OrderKind::Market,
                    time_in_force: TimeInForce::Gtc,
                    post_only: false,
                },
                ts,
            );
            self.handle_events()?;
        }
        if let Some(halt) = actions.halt {
            self.note(format!("halted: {halt}"));
            self.record(|| Activity::Halted {
                ts,
                halt: halt.clone(),
            });
            self.deferred.clear();
            let ids: Vec<ClientOrderId> = self.open.iter().map(|o| o.id).collect();
            for id in ids {
                self.cancel(id, ts);
            }
            self.handle_events()?;
        }
        Ok(())
    }

    /// The strategy's notes join the engine's, and the activity a worker reports.
    fn strategy_notes(&mut self, ts: UnixNanos) {
        let mut notes = Vec::new();
        self.strategy.drain_notes(&mut notes);
        for text in notes {
            self.record(|| Activity::StrategyNote {
                ts,
                text: text.clone(),
            });
            self.note(text);
        }
    }

    fn note(&mut self, text: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(text);
        }
    }

    fn position(&self) -> Quantity {
        self.portfolio
            .position(INSTRUMENT)
            .map(|p| p.quantity())
            .unwrap_or(Quantity::ZERO)
    }

    /// Base quantity already committed to working sell orders.
    fn selling(&self) -> u64 {
        self.open
            .iter()
            .filter(|o| o.side == Side::Sell)
            .map(|o| o.remaining.raw())
            .sum()
    }

    /// Turns one action into exchange requests. `price` is the reference for sizing.
    fn execute(&mut self, action: Action, price: Price, ts: UnixNanos) {
        match action {
            Action::EnterLong => {
                let taker = self.fees.schedule().tier_for(self.fees.volume_30d()).taker;
                let q = self.settings.sizing.entry_quantity(
                    price,
                    self.portfolio.cash(),
                    self.portfolio.equity(),
                    taker,
                    &self.settings.instrument,
                );
                let id = self.actions.allocate_id();
                self.submit(
                    id,
                    Side::Buy,
                    q,
                    OrderKind::Market,
                    TimeInForce::Gtc,
                    false,
                    ts,
                );
            }
            Action::ExitLong => {
                let id = self.actions.allocate_id();
                let q = self.position();
                self.submit(
                    id,
                    Side::Sell,
                    q,
                    OrderKind::Market,
                    TimeInForce::Gtc,
                    false,
                    ts,
                );
            }
            Action::Place(id, order) => {
                let q = self.resolve_size(&order, price);
                self.submit(
                    id,
                    order.side,
                    q,
                    order.kind,
                    order.time_in_force,
                    order.post_only,
                    ts,
                );
            }
            Action::Cancel(id) => self.cancel(id, ts),
            Action::CancelAll => {
                let ids: Vec<ClientOrderId> = self.open.iter().map(|o| o.id).collect();
                for id in ids {
                    self.cancel(id, ts);
                }
            }
        }
    }

    fn resolve_size(&self, order: &PlannedOrder, price: Price) -> Quantity {
        match order.size {
            OrderSize::Base(q) => q,
            OrderSize::Position => self.position(),
            OrderSize::Quote(notional) => {
                let taker = self.fees.schedule().tier_for(self.fees.volume_30d()).taker;
                let budget = u128::try_from(notional.raw()).unwrap_or(0);
                let reference = order.kind.limit_price().unwrap_or(price);
                sizing::quote_to_quantity(budget, reference, taker, &self.settings.instrument)
            }
        }
    }

    fn cancel(&mut self, id: ClientOrderId, ts: UnixNanos) {
        if self.exchange.cancel(ts, id, &mut self.events).is_err() {
            // Already filled or cancelled: nothing to do, the strategy will hear why.
            self.note(format!("cancel {id}: no such working order"));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn submit(
        &mut self,
        id: ClientOrderId,
        side: Side,
        quantity: Quantity,
        kind: OrderKind,
        time_in_force: TimeInForce,
        post_only: bool,
        ts: UnixNanos,
    ) {
        if quantity.is_zero() {
            self.counts.dropped += 1;
            self.note(format!(
                "{id} {side:?} dropped: nothing to trade (no affordable quantity or no position)"
            ));
            return;
        }
        // An entry from a flat book starts a round trip for the stop-loss, even when sub-lot
        // dust (a live venue's base-asset commissions) keeps the portfolio's trip open.
        if side == Side::Buy
            && self
                .settings
                .instrument
                .round_quantity(self.position())
                .is_zero()
        {
            self.risk.rearm_stop_loss(INSTRUMENT);
        }
        // Spot: never sell more than is held and not already offered.
        if side == Side::Sell
            && quantity.raw() > self.position().raw().saturating_sub(self.selling())
        {
            self.counts.dropped += 1;
            self.note(format!(
                "{id} sell {quantity} dropped: exceeds the free position"
            ));
            return;
        }
        let request = OrderRequest {
            id,
            instrument: INSTRUMENT,
            side,
            quantity,
            kind,
            time_in_force,
            post_only,
        };
        let last_price = self.exchange.last_price().unwrap_or(Price::ZERO);
        let ctx = OrderContext {
            instrument: &self.settings.instrument,
            portfolio: &self.portfolio,
            last_price,
        };
        match self.risk.check_order(request, &ctx) {
            Ok(approved) => self.send(approved.into_item(), ts),
            Err(refused) => {
                self.counts.refused += 1;
                self.note(format!("{id} {side:?} {quantity} {refused}"));
                self.record(|| Activity::Refused {
                    ts,
                    request,
                    reason: *refused.reason,
                });
            }
        }
    }

    /// Hands an order to the exchange and tracks it as working.
    fn send(&mut self, request: OrderRequest, ts: UnixNanos) {
        self.counts.orders += 1;
        self.record(|| Activity::Submitted { ts, request });
        self.open.push(OpenOrder {
            id: request.id,
            side: request.side,
            kind: request.kind,
            remaining: request.quantity,
        });
        self.exchange
            .submit(ts, &request, &mut self.fees, &mut self.events);
    }

    fn handle_events(&mut self) -> Result<(), BacktestError> {
        // Fills can make the strategy act, which can produce more events; loop until quiet.
        while !self.events.is_empty() {
            let events = std::mem::take(&mut self.events);
            if let Some(log) = &mut self.activity {
                log.extend(events.iter().cloned().map(Activity::Order));
            }
            for event in &events {
                match event {
                    OrderEvent::Filled(fill) => {
                        self.portfolio.apply_fill(fill)?;
                        self.counts.fills += 1;
                        self.fills.push(*fill);
                        if let Some(i) = self.open.iter().position(|o| o.id == fill.id) {
                            let left = self.open[i].remaining.saturating_sub(fill.quantity);
                            if left.is_zero() {
                                self.open.remove(i);
                            } else {
                                self.open[i].remaining = left;
                            }
                        }
                        let ctx = context(&self.settings, &self.portfolio, &self.open, fill.ts);
                        self.strategy.on_fill(&ctx, fill, &mut self.actions);
                    }
                    OrderEvent::Rejected { id, reason, .. } => {
                        self.counts.rejected += 1;
                        self.open.retain(|o| o.id != *id);
                        self.note(format!("{id} rejected: {reason}"));
                    }
                    OrderEvent::Canceled { id, .. } => self.open.retain(|o| o.id != *id),
                    OrderEvent::Accepted { .. } | OrderEvent::Triggered { .. } => {}
                }
            }
            self.events = events;
            self.events.clear();
            if self.risk.is_halted() {
                // A halted bot sends nothing more, whatever the strategy asked for.
                self.actions.drain().for_each(drop);
            } else if !self.actions.is_empty() {
                let actions: Vec<Action> = self.actions.drain().collect();
                let price = self.exchange.last_price().unwrap_or(Price::ZERO);
                let ts = self.clock.now();
                for action in actions {
                    self.execute(action, price, ts);
                }
            }
        }
        Ok(())
    }

    /// Ends the run and returns what it produced.
    pub fn finish(self) -> Outcome {
        Outcome {
            strategy: self.strategy.name(),
            bars: self.bars,
            span: self.span,
            portfolio: self.portfolio,
            fills: self.fills,
            counts: self.counts,
            notes: self.notes,
            halt: self.risk.halt().cloned(),
        }
    }
}

/// What the strategy sees; a free function so the engine can lend its parts separately.
fn context<'a>(
    settings: &'a Settings,
    portfolio: &'a Portfolio,
    open: &'a [OpenOrder],
    ts: UnixNanos,
) -> Context<'a> {
    let position = portfolio.position(INSTRUMENT);
    Context {
        ts,
        instrument: &settings.instrument,
        index: INSTRUMENT,
        // What can be traded: less than one lot (dust left by commissions taken in the
        // base asset on a live venue) can be neither sold nor added to, so it reads as flat.
        position: position
            .map(|p| settings.instrument.round_quantity(p.quantity()))
            .unwrap_or(Quantity::ZERO),
        average_price: position.and_then(|p| p.avg_entry_price()),
        cash: portfolio.cash(),
        equity: portfolio.equity(),
        open_orders: open,
    }
}

/// Actions whose size depends on the price they fill at.
fn is_sized_at_fill(action: &Action) -> bool {
    match action {
        Action::EnterLong | Action::ExitLong => true,
        Action::Place(_, o) => o.kind == OrderKind::Market && !matches!(o.size, OrderSize::Base(_)),
        Action::Cancel(_) | Action::CancelAll => false,
    }
}
