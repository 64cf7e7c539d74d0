//! Live execution on Binance spot, the session's [`Execution`] for live trading: the
//! engine's outbox commands become signed REST requests, the user data stream's
//! execution reports become engine events, and at start (or after a dropped stream) the
//! worker reconciles with the exchange.
//!
//! Exactly once: every order's client order ID is derived from the bot's UID and the
//! engine's order sequence, and is journaled (`Sent`) before the request leaves. After a
//! crash the journal replays the engine to the same state; each journaled order is then
//! looked up on the exchange by that ID — found, its fills are taken from the exchange;
//! unknown, it never arrived and is sent now. Fills are applied once per trade ID.

use std::collections::{BTreeMap, HashSet};

use sha2::{Digest, Sha256};
use tradewind_core::data::{Side, UnixNanos};
use tradewind_core::engine::{INSTRUMENT, Outbox, VenueCommand};
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::orders::{
    ClientOrderId, Fill, Liquidity, OrderEvent, OrderKind, OrderRequest, RejectReason,
};

use tradewind_events::{Body, Event, Operation, Trouble};

use super::feed::{SourceError, Tick};
use super::record::Record;
use super::session::{Execution, Leading, Outcome, Session, SessionError, now};
use super::trader::Trader;
use crate::venue::binance::{
    BinanceRest, ExecType, ExecutionReport, FeedError, NewOrder, OrderKind as VenueKind,
    OrderState, OrderStatus, UserEvent, UserStream, VenueError,
};

/// The name of the user data stream in metrics and events.
pub const USER_FEED: &str = "binance-user";

/// The client order ID prefix of one session of a bot: `t`, 8 hex digits of the bot
/// UID's hash (every session of the bot shares them, so orders a lost session left open
/// can be recognised) and 6 of the session's (so a new session never reuses an earlier
/// session's IDs, which Binance would still answer for). With the sequence, an ID stays
/// within Binance's 36 characters for any `u64`.
pub fn client_prefix(bot_uid: &str, session: &str) -> String {
    format!("{}{}", bot_prefix(bot_uid), &hex(session.as_bytes())[..6])
}

/// The part of every session's prefix that names the bot.
pub fn bot_prefix(bot_uid: &str) -> String {
    format!("t{}", &hex(bot_uid.as_bytes())[..8])
}

fn hex(input: &[u8]) -> String {
    Sha256::digest(input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The client order ID of engine order `id`.
pub fn client_order_id(prefix: &str, id: ClientOrderId) -> String {
    format!("{prefix}-{}", id.0)
}

/// What the executor knows about one of the bot's orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    /// Client order ID on the exchange.
    pub client_order_id: String,
    /// The engine's order.
    pub request: OrderRequest,
    /// The exchange acknowledged it (an ack, a report, or found by a lookup).
    pub acked: bool,
    /// Base quantity given to the engine as filled so far.
    pub filled: Quantity,
    /// No more events will come for it.
    pub terminal: bool,
    /// Binance's order ID, once an ack, a report or a lookup named it (not journaled:
    /// after a restart it is learnt again from the first lookup or report).
    pub order_id: Option<u64>,
}

/// Turns one trade into the engine's fill. Binance takes the commission from the asset
/// received: on a buy in the base asset, so the position grows by `qty - commission` and
/// the fee is that commission's value at the fill price; on a sell in the quote asset.
/// A commission in a third asset (BNB) cannot be valued here and is recorded as zero.
#[allow(clippy::too_many_arguments)]
pub fn engine_fill(
    id: ClientOrderId,
    ts: UnixNanos,
    side: Side,
    price: Price,
    qty: Quantity,
    commission: Money,
    commission_asset: &str,
    maker: bool,
    instrument: &Instrument,
) -> Option<Fill> {
    let (quantity, fee) = if commission_asset == instrument.base() && commission.raw() > 0 {
        let commission_raw = u64::try_from(commission.raw()).ok()?;
        let net = qty.raw().checked_sub(commission_raw)?;
        let net = Quantity::from_raw(net, 9).ok()?;
        let paid = Quantity::from_raw(commission_raw, 9).ok()?;
        (net, price.notional(paid))
    } else if commission_asset == instrument.quote() {
        (qty, commission)
    } else {
        (qty, Money::ZERO)
    };
    (!quantity.is_zero()).then_some(Fill {
        id,
        instrument: INSTRUMENT,
        ts,
        side,
        price,
        quantity,
        fee,
        liquidity: if maker {
            Liquidity::Maker
        } else {
            Liquidity::Taker
        },
    })
}

fn terminal(status: &OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Filled
            | OrderStatus::Canceled
            | OrderStatus::Rejected
            | OrderStatus::Expired
            | OrderStatus::ExpiredInMatch
    )
}

/// The executor's bookkeeping, rebuilt from the journal and kept as events are applied.
#[derive(Debug, Default)]
pub struct Book {
    orders: BTreeMap<u64, Tracked>,
    trades: HashSet<u64>,
}

impl Book {
    /// Learns from a journal record (during recovery) or a record just written.
    pub fn learn(&mut self, prefix: &str, record: &Record) {
        match record {
            Record::Sent { request, .. } => {
                if let Ok(r) = request.to_request() {
                    self.orders.insert(
                        r.id.0,
                        Tracked {
                            client_order_id: client_order_id(prefix, r.id),
                            request: r,
                            acked: false,
                            filled: Quantity::ZERO,
                            terminal: false,
                            order_id: None,
                        },
                    );
                }
            }
            Record::Venue {
                events, trade_ids, ..
            } => {
                self.trades.extend(trade_ids.iter().copied());
                for e in events {
                    self.apply(&OrderEvent::from(e));
                }
            }
            _ => {}
        }
    }

    fn apply(&mut self, e: &OrderEvent) {
        let Some(t) = self.orders.get_mut(&e.id().0) else {
            return;
        };
        match e {
            OrderEvent::Accepted { .. } | OrderEvent::Triggered { .. } => t.acked = true,
            OrderEvent::Filled(f) => {
                t.acked = true;
                t.filled = t.filled.checked_add(f.quantity).unwrap_or(t.filled);
                // Nothing left to hear about (a buy netted of a base-asset commission
                // closes through the exchange's final report instead).
                if t.filled.raw() >= t.request.quantity.raw() {
                    t.terminal = true;
                }
            }
            OrderEvent::Canceled { .. } | OrderEvent::Rejected { .. } => t.terminal = true,
        }
    }

    /// Orders that may still change.
    pub fn open(&self) -> impl Iterator<Item = &Tracked> {
        self.orders.values().filter(|t| !t.terminal)
    }

    /// An order by engine ID.
    pub fn get(&self, id: u64) -> Option<&Tracked> {
        self.orders.get(&id)
    }

    /// Notes Binance's order ID for one of our client order IDs.
    fn note_order_id(&mut self, prefix: &str, client_order_id: &str, order_id: u64) {
        if let Some(id) = parse_id(prefix, client_order_id)
            && let Some(t) = self.orders.get_mut(&id.0)
        {
            t.order_id = Some(order_id);
        }
    }

    /// Was this trade applied?
    pub fn has_trade(&self, id: u64) -> bool {
        self.trades.contains(&id)
    }

    /// The exchange is done with order `id`: cancel in the engine whatever it still has
    /// open beyond the fills in `events` (sub-lot rests, commissions taken in the base
    /// asset, an exchange-side cancel or expiry).
    fn close_rest(&self, id: ClientOrderId, ts: UnixNanos, events: &mut Vec<OrderEvent>) {
        let filled_now: u64 = events
            .iter()
            .filter_map(|e| match e {
                OrderEvent::Filled(f) if f.id == id => Some(f.quantity.raw()),
                _ => None,
            })
            .sum();
        let left = self.remaining(id.0).raw().saturating_sub(filled_now);
        if left > 0 {
            events.push(OrderEvent::Canceled {
                id,
                ts,
                unfilled: Quantity::from_raw(left, 9).unwrap_or(Quantity::ZERO),
            });
        }
    }

    /// The engine's remaining quantity of an order.
    fn remaining(&self, id: u64) -> Quantity {
        self.orders
            .get(&id)
            .map(|t| t.request.quantity.saturating_sub(t.filled))
            .unwrap_or(Quantity::ZERO)
    }

    /// Engine events for an execution report (fills once per trade ID; the rest of the
    /// order cancelled once the exchange is done with it). Returns the events and the
    /// trade IDs they apply.
    pub fn events_for_report(
        &self,
        r: &ExecutionReport,
        instrument: &Instrument,
        prefix: &str,
    ) -> (Vec<OrderEvent>, Vec<u64>) {
        let Some(id) = parse_id(prefix, &r.client_order_id) else {
            return (Vec::new(), Vec::new());
        };
        let Some(t) = self.orders.get(&id.0) else {
            return (Vec::new(), Vec::new());
        };
        if t.terminal {
            return (Vec::new(), Vec::new());
        }
        let mut events = Vec::new();
        let mut trades = Vec::new();
        match r.exec_type {
            ExecType::New if !t.acked => events.push(OrderEvent::Accepted { id, ts: r.ts }),
            ExecType::Trade => {
                if let Some(trade) = r.trade_id
                    && !self.trades.contains(&trade)
                    && let Some(fill) = engine_fill(
                        id,
                        r.ts,
                        r.side,
                        r.last_price,
                        r.last_qty,
                        r.commission,
                        r.commission_asset.as_deref().unwrap_or_default(),
                        r.maker,
                        instrument,
                    )
                {
                    if !t.acked {
                        events.push(OrderEvent::Accepted { id, ts: r.ts });
                    }
                    trades.push(trade);
                    events.push(OrderEvent::Filled(fill));
                }
            }
            ExecType::Rejected => events.push(OrderEvent::Rejected {
                id,
                ts: r.ts,
                reason: RejectReason::Other(r.reject_reason.clone()),
            }),
            _ => {}
        }
        if terminal(&r.status) && r.status != OrderStatus::Rejected {
            self.close_rest(id, r.ts, &mut events);
        }
        (events, trades)
    }
}

/// The engine order ID in one of our client order IDs.
pub fn parse_id(prefix: &str, client_order_id: &str) -> Option<ClientOrderId> {
    client_order_id
        .strip_prefix(prefix)?
        .strip_prefix('-')?
        .parse()
        .ok()
        .map(ClientOrderId)
}

/// The exchange's form of an engine order; `Err` for what Binance spot (as this worker
/// uses it) cannot take.
pub fn new_order(
    symbol: &str,
    client_order_id: String,
    r: &OrderRequest,
    instrument: &Instrument,
) -> Result<NewOrder, String> {
    let kind = match (r.kind, r.post_only) {
        (OrderKind::Market, _) => VenueKind::Market,
        (OrderKind::Limit { price }, true) => VenueKind::LimitMaker { price },
        (OrderKind::Limit { price }, false) => VenueKind::Limit {
            price,
            tif: r.time_in_force,
        },
        (OrderKind::StopMarket { .. } | OrderKind::StopLimit { .. }, _) => {
            return Err("stop orders are not sent to Binance spot by this worker".into());
        }
    };
    // A position net of base-asset commissions is not a multiple of the lot: send what
    // the lot allows; the rest is cancelled in the engine when the order completes.
    let quantity = instrument.round_quantity(r.quantity);
    if quantity.is_zero() {
        return Err(format!(
            "quantity {} is below one lot ({})",
            r.quantity,
            instrument.lot_size()
        ));
    }
    Ok(NewOrder {
        symbol: symbol.to_owned(),
        side: r.side,
        kind,
        quantity,
        client_order_id,
    })
}

/// The user data stream as the session's stream of venue reports. It holds the stream,
/// so a `select!` branch losing the race never drops a reconnect half-way.
pub fn reports(
    user: &mut UserStream,
) -> impl futures_util::Stream<Item = Result<UserEvent, FeedError>> + '_ {
    futures_util::stream::unfold(user, |u| async move {
        let item = u.next().await;
        Some((item, u))
    })
}

/// Runs a live session on `user`'s reports and, however it ends, closes the user data
/// stream and its listenKey (best effort: Binance expires an unused key within the hour).
pub async fn run<M>(
    session: Session<LiveExecutor>,
    market: M,
    mut user: UserStream,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<Outcome, SessionError>
where
    M: futures_util::Stream<Item = Result<(Tick, Option<std::time::Duration>), SourceError>>,
{
    let ended = session.run(market, reports(&mut user), shutdown).await;
    // The error names the endpoint, never the key.
    if let Err(e) = user.close().await {
        tracing::warn!(error = %e, "could not close the user data stream's listenKey");
    }
    ended
}

/// Journals and reports a request whose failure a later reconcile repairs.
fn trouble(
    trader: &mut Trader<Outbox>,
    operation: Operation,
    client_order_id: &str,
    error: &VenueError,
    events: &mut Vec<Event>,
) -> Result<(), SessionError> {
    events.push(trader.note(
        now(),
        Body::VenueTrouble {
            operation,
            client_order_id: Some(client_order_id.to_owned()),
            message: error.to_string(),
        },
    )?);
    Ok(())
}

/// Sends the engine's orders and applies the exchange's answers.
pub struct LiveExecutor {
    rest: BinanceRest,
    symbol: String,
    instrument: Instrument,
    prefix: String,
    bot_prefix: String,
    book: Book,
    cancel_on_shutdown: bool,
}

impl LiveExecutor {
    /// An executor for `symbol`, for one session of a bot (see [`client_prefix`]).
    pub fn new(
        rest: BinanceRest,
        symbol: String,
        instrument: Instrument,
        bot_uid: &str,
        session: &str,
    ) -> Self {
        Self {
            rest,
            symbol,
            instrument,
            prefix: client_prefix(bot_uid, session),
            bot_prefix: bot_prefix(bot_uid),
            book: Book::default(),
            cancel_on_shutdown: false,
        }
    }

    /// Cancels the bot's open orders at a clean stop.
    pub fn cancel_on_shutdown(mut self, yes: bool) -> Self {
        self.cancel_on_shutdown = yes;
        self
    }

    /// Learns from the journal while the engine replays it.
    pub fn learn(&mut self, record: &Record) {
        self.book.learn(&self.prefix, record);
    }

    async fn apply(
        &mut self,
        trader: &mut Trader<Outbox>,
        ts: UnixNanos,
        events: Vec<OrderEvent>,
        trade_ids: Vec<u64>,
        out: &mut Vec<Event>,
    ) -> Result<(), SessionError> {
        if events.is_empty() {
            return Ok(());
        }
        let record = Record::Venue {
            ts,
            trade_ids: trade_ids.clone(),
            events: events.iter().map(Into::into).collect(),
        };
        out.extend(trader.on_venue(ts, events, trade_ids)?);
        self.book.learn(&self.prefix, &record);
        Ok(())
    }

    /// Sends what the engine queued (and what its answers make it queue), while `leading`
    /// says this worker holds the Lease.
    pub async fn flush(
        &mut self,
        trader: &mut Trader<Outbox>,
        leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        let mut out = Vec::new();
        loop {
            let commands = trader.engine_mut().venue_mut().drain();
            if commands.is_empty() {
                return Ok(out);
            }
            for command in commands {
                if !leading() {
                    return Err(SessionError::LostLease);
                }
                match command {
                    VenueCommand::Submit { ts, request } => {
                        self.submit(trader, ts, request, &mut out, leading).await?;
                    }
                    VenueCommand::Cancel { ts, id } => {
                        self.cancel(trader, ts, id, &mut out, leading).await?;
                    }
                }
            }
        }
    }

    async fn submit(
        &mut self,
        trader: &mut Trader<Outbox>,
        ts: UnixNanos,
        request: OrderRequest,
        out: &mut Vec<Event>,
        leading: Leading<'_>,
    ) -> Result<(), SessionError> {
        let cid = client_order_id(&self.prefix, request.id);
        // Write-ahead: after a crash this record says the order may be on the exchange.
        let sent = Record::Sent {
            ts,
            client_order_id: cid.clone(),
            request: (&request).into(),
        };
        trader.journal(std::slice::from_ref(&sent))?;
        self.book.learn(&self.prefix, &sent);
        self.send_new(trader, ts, request, cid, out, leading).await
    }

    async fn send_new(
        &mut self,
        trader: &mut Trader<Outbox>,
        ts: UnixNanos,
        request: OrderRequest,
        cid: String,
        out: &mut Vec<Event>,
        leading: Leading<'_>,
    ) -> Result<(), SessionError> {
        let reject = |reason: String| OrderEvent::Rejected {
            id: request.id,
            ts,
            reason: RejectReason::Other(reason),
        };
        let order = match new_order(&self.symbol, cid.clone(), &request, &self.instrument) {
            Ok(o) => o,
            Err(why) => {
                return self
                    .apply(trader, ts, vec![reject(why)], Vec::new(), out)
                    .await;
            }
        };
        // The Lease is asked again at the moment of sending (after any rate-limit wait).
        match self.rest.new_order_if(&order, leading).await {
            Err(VenueError::NotSent { .. }) => {
                // Journaled as sent, but it never left: closed as never sent, so no later
                // reconcile sends a decision this worker was no longer allowed to make.
                tracing::warn!(client_order_id = %cid, "the bot's Lease is not held; order not sent");
                let events = vec![OrderEvent::Canceled {
                    id: request.id,
                    ts,
                    unfilled: self.book.remaining(request.id.0),
                }];
                self.apply(trader, ts, events, Vec::new(), out).await?;
                Err(SessionError::LostLease)
            }
            Ok(ack) => {
                self.book
                    .note_order_id(&self.prefix, &ack.client_order_id, ack.order_id);
                let accepted = OrderEvent::Accepted {
                    id: request.id,
                    ts: ack.transact_time.max(ts),
                };
                // Fills come from the user data stream (with trade IDs), or a reconcile.
                self.apply(trader, ts, vec![accepted], Vec::new(), out)
                    .await
            }
            Err(e) if e.outcome_unknown() => {
                // It may be on the exchange: the next reconcile looks it up by its ID.
                tracing::warn!(client_order_id = %cid, error = %e, "order outcome unknown; will reconcile");
                trouble(trader, Operation::Submit, &cid, &e, out)
            }
            Err(e @ (VenueError::Auth { .. } | VenueError::Config(_))) => Err(e.into()),
            Err(e) => {
                self.apply(trader, ts, vec![reject(e.to_string())], Vec::new(), out)
                    .await
            }
        }
    }

    async fn cancel(
        &mut self,
        trader: &mut Trader<Outbox>,
        ts: UnixNanos,
        id: ClientOrderId,
        out: &mut Vec<Event>,
        leading: Leading<'_>,
    ) -> Result<(), SessionError> {
        let Some(t) = self.book.get(id.0).filter(|t| !t.terminal).cloned() else {
            return Ok(());
        };
        match self
            .rest
            .cancel_order_if(&self.symbol, &t.client_order_id, leading)
            .await
        {
            Err(VenueError::NotSent { .. }) => Err(SessionError::LostLease),
            Ok(state) => {
                self.book
                    .note_order_id(&self.prefix, &state.client_order_id, state.order_id);
                // Fills before the cancel arrive (or are reconciled) by trade ID; the
                // cancel itself closes what the engine still has open.
                let events = self.events_for_state(&state, ts).await?;
                self.apply(trader, ts, events.0, events.1, out).await
            }
            Err(VenueError::UnknownOrder { .. }) if !t.acked => {
                // It never reached the exchange (its submit failed in transit): close it,
                // or the next reconcile would send an order the strategy withdrew.
                let events = vec![OrderEvent::Canceled {
                    id,
                    ts,
                    unfilled: self.book.remaining(id.0),
                }];
                self.apply(trader, ts, events, Vec::new(), out).await
            }
            // Done already (filled or cancelled), or no longer in the exchange's order
            // history: its state, or else its trades, say what became of it.
            Err(VenueError::UnknownOrder { .. }) => {
                let events = match self.rest.order(&self.symbol, &t.client_order_id).await? {
                    Some(state) => {
                        self.book.note_order_id(
                            &self.prefix,
                            &state.client_order_id,
                            state.order_id,
                        );
                        self.events_for_state(&state, ts).await?
                    }
                    None => self.events_for_unknown(&t, ts).await?,
                };
                self.apply(trader, ts, events.0, events.1, out).await
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(client_order_id = %t.client_order_id, error = %e, "cancel failed; will retry on reconcile");
                trouble(trader, Operation::Cancel, &t.client_order_id, &e, out)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Events that bring the engine up to an order's state on the exchange: its fills not
    /// yet applied (from the account's trades) and, if the order is done, the cancel of
    /// whatever the engine still has open.
    async fn events_for_state(
        &self,
        state: &OrderState,
        ts: UnixNanos,
    ) -> Result<(Vec<OrderEvent>, Vec<u64>), SessionError> {
        let Some(id) = parse_id(&self.prefix, &state.client_order_id) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Some(t) = self.book.get(id.0) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let mut events = Vec::new();
        let mut trade_ids = Vec::new();
        let mut complete = true;
        if !t.acked {
            events.push(OrderEvent::Accepted { id, ts });
        }
        if !state.executed_qty.is_zero() {
            let traded = self
                .trade_events(id, state.order_id, &mut events, &mut trade_ids)
                .await?;
            if traded < state.executed_qty.raw() {
                // The trade list lags the order: leave it open, the next report or
                // reconcile completes it.
                complete = false;
            }
        }
        if state.status == OrderStatus::Rejected {
            events.push(OrderEvent::Rejected {
                id,
                ts,
                reason: RejectReason::Other("rejected by the exchange".into()),
            });
        } else if terminal(&state.status) && complete {
            self.book.close_rest(id, ts, &mut events);
        }
        Ok((events, trade_ids))
    }

    /// Fills not yet applied among the account's trades for Binance order `order_id`
    /// (engine order `id`); returns the base quantity traded in all of its trades.
    async fn trade_events(
        &self,
        id: ClientOrderId,
        order_id: u64,
        events: &mut Vec<OrderEvent>,
        trade_ids: &mut Vec<u64>,
    ) -> Result<u64, SessionError> {
        let trades = self
            .rest
            .my_trades(&self.symbol, None, Some(order_id))
            .await?;
        let mut traded: u64 = 0;
        for trade in trades.iter().filter(|x| x.order_id == order_id) {
            traded = traded.saturating_add(trade.qty.raw());
            if self.book.has_trade(trade.id) {
                continue;
            }
            if let Some(fill) = engine_fill(
                id,
                trade.time,
                trade.side(),
                trade.price,
                trade.qty,
                trade.commission,
                &trade.commission_asset,
                trade.is_maker,
                &self.instrument,
            ) {
                trade_ids.push(trade.id);
                events.push(OrderEvent::Filled(fill));
            }
        }
        Ok(traded)
    }

    /// An order the exchange acknowledged but now answers "unknown order" (`-2013`): no
    /// longer in its order history. Its fills are read from the account's trades by its
    /// Binance order ID (each trade applied once), then the rest of it is closed.
    async fn events_for_unknown(
        &self,
        t: &Tracked,
        ts: UnixNanos,
    ) -> Result<(Vec<OrderEvent>, Vec<u64>), SessionError> {
        let id = t.request.id;
        let mut events = Vec::new();
        let mut trade_ids = Vec::new();
        match t.order_id {
            Some(order_id) => {
                self.trade_events(id, order_id, &mut events, &mut trade_ids)
                    .await?;
                tracing::warn!(client_order_id = %t.client_order_id, order_id, fills = trade_ids.len(), "order unknown to the exchange; reconciled from the account's trades");
            }
            None => {
                // Only after a restart before any lookup or report named it.
                tracing::warn!(client_order_id = %t.client_order_id, "order unknown to the exchange and its Binance order ID is not known; closed without looking up its trades");
            }
        }
        self.book.close_rest(id, ts, &mut events);
        Ok((events, trade_ids))
    }

    /// Brings every order that may still change up to date with the exchange; an order
    /// the exchange has never seen is sent now (its `Sent` record is already journaled).
    pub async fn reconcile(
        &mut self,
        trader: &mut Trader<Outbox>,
        ts: UnixNanos,
        leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        let mut out = Vec::new();
        let open: Vec<Tracked> = self.book.open().cloned().collect();
        for t in open {
            if !leading() {
                return Err(SessionError::LostLease);
            }
            match self.rest.order(&self.symbol, &t.client_order_id).await? {
                Some(state) => {
                    self.book
                        .note_order_id(&self.prefix, &state.client_order_id, state.order_id);
                    let (events, trades) = self.events_for_state(&state, ts).await?;
                    self.apply(trader, ts, events, trades, &mut out).await?;
                }
                None if !t.acked => {
                    tracing::info!(client_order_id = %t.client_order_id, "journaled order never reached the exchange; sending it");
                    self.send_new(
                        trader,
                        ts,
                        t.request,
                        t.client_order_id.clone(),
                        &mut out,
                        leading,
                    )
                    .await?;
                }
                None => {
                    // Acknowledged once but unknown now: reconciled from its trades.
                    let (events, trades) = self.events_for_unknown(&t, ts).await?;
                    self.apply(trader, ts, events, trades, &mut out).await?;
                }
            }
        }
        // Decisions replayed from bars whose orders were never journaled as sent.
        out.extend(self.flush(trader, leading).await?);
        Ok(out)
    }

    /// An execution report from the user data stream.
    pub async fn on_report(
        &mut self,
        trader: &mut Trader<Outbox>,
        report: &ExecutionReport,
    ) -> Result<Vec<Event>, SessionError> {
        if report.symbol != self.symbol {
            return Ok(Vec::new());
        }
        self.book
            .note_order_id(&self.prefix, &report.client_order_id, report.order_id);
        let (events, trades) = self
            .book
            .events_for_report(report, &self.instrument, &self.prefix);
        let mut out = Vec::new();
        let ts = report.ts.max(trader.engine().now());
        self.apply(trader, ts, events, trades, &mut out).await?;
        Ok(out)
    }

    /// Cancels every open order (on shutdown, when configured), while `leading` says this
    /// worker holds the Lease: without it the orders are another worker's to manage.
    pub async fn cancel_all(
        &mut self,
        trader: &mut Trader<Outbox>,
        leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        let ids: Vec<ClientOrderId> = self.book.open().map(|t| t.request.id).collect();
        let mut out = Vec::new();
        let ts = trader.engine().now();
        for id in ids {
            if !leading() {
                tracing::warn!("the bot's Lease is not held; open orders left as they are");
                return Err(SessionError::LostLease);
            }
            self.cancel(trader, ts, id, &mut out, leading).await?;
        }
        Ok(out)
    }

    /// At the start of a new session: the bot's orders an earlier session left open on the
    /// exchange cannot be replayed, so nothing would ever manage them. Cancels them (they
    /// carry this bot's prefix and another session's); returns their client order IDs.
    pub async fn cancel_orphans(&self) -> Result<Vec<String>, SessionError> {
        let mut cancelled = Vec::new();
        for order in self.rest.open_orders(&self.symbol).await? {
            let ours = order.client_order_id.starts_with(&self.bot_prefix);
            if !ours || parse_id(&self.prefix, &order.client_order_id).is_some() {
                continue;
            }
            match self
                .rest
                .cancel_order(&self.symbol, &order.client_order_id)
                .await
            {
                Ok(_) | Err(VenueError::UnknownOrder { .. }) => {
                    tracing::warn!(client_order_id = %order.client_order_id, "cancelled an order left open by an earlier session");
                    cancelled.push(order.client_order_id);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(cancelled)
    }

    /// Drops outbox commands the journal shows were already sent before a restart, so a
    /// replay never sends an order twice; keeps the ones that never left.
    pub fn drop_replayed_commands(
        &mut self,
        trader: &mut Trader<Outbox>,
    ) -> Result<Vec<Event>, SessionError> {
        let commands = trader.engine_mut().venue_mut().drain();
        let cancelled: Vec<ClientOrderId> = commands
            .iter()
            .filter_map(|c| match c {
                VenueCommand::Cancel { id, .. } => Some(*id),
                VenueCommand::Submit { .. } => None,
            })
            .collect();
        let mut never_sent = Vec::new();
        let mut keep = Vec::new();
        for c in commands {
            match &c {
                VenueCommand::Submit { request, ts } if self.book.get(request.id.0).is_none() => {
                    // Decided but never sent: withdrawn in the same step (a halt), it is
                    // closed here; otherwise it goes out now.
                    if cancelled.contains(&request.id) {
                        never_sent.push(OrderEvent::Canceled {
                            id: request.id,
                            ts: *ts,
                            unfilled: request.quantity,
                        });
                    } else {
                        keep.push(c);
                    }
                }
                VenueCommand::Submit { .. } => {}
                VenueCommand::Cancel { id, .. } => {
                    if self.book.get(id.0).is_some_and(|t| !t.terminal) {
                        keep.push(c);
                    }
                }
            }
        }
        let outbox = trader.engine_mut().venue_mut();
        for c in keep {
            outbox.queue(c);
        }
        if never_sent.is_empty() {
            return Ok(Vec::new());
        }
        let ts = trader.engine().now();
        Ok(trader.on_venue(ts, never_sent, Vec::new())?)
    }
}

impl Execution for LiveExecutor {
    type Venue = Outbox;
    type Report = UserEvent;

    fn learn(&mut self, record: &Record) {
        LiveExecutor::learn(self, record);
    }

    fn recovered(&mut self, trader: &mut Trader<Outbox>) -> Result<Vec<Event>, SessionError> {
        self.drop_replayed_commands(trader)
    }

    async fn cancel_orphans(&mut self) -> Result<Vec<String>, SessionError> {
        LiveExecutor::cancel_orphans(self).await
    }

    async fn reconcile(
        &mut self,
        trader: &mut Trader<Outbox>,
        leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        let now = trader.engine().now();
        LiveExecutor::reconcile(self, trader, now, leading).await
    }

    async fn flush(
        &mut self,
        trader: &mut Trader<Outbox>,
        leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        LiveExecutor::flush(self, trader, leading).await
    }

    async fn on_report(
        &mut self,
        trader: &mut Trader<Outbox>,
        report: UserEvent,
        leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        match report {
            UserEvent::Execution(report) => {
                let mut events = LiveExecutor::on_report(self, trader, &report).await?;
                events.extend(LiveExecutor::flush(self, trader, leading).await?);
                Ok(events)
            }
            UserEvent::Reconnected { .. } => {
                // Executions may have been missed while the stream was down.
                let mut events = vec![trader.note(
                    now(),
                    Body::FeedTrouble {
                        feed: USER_FEED.into(),
                        trouble: Trouble::Reconnected,
                    },
                )?];
                let ts = trader.engine().now();
                events.extend(LiveExecutor::reconcile(self, trader, ts, leading).await?);
                Ok(events)
            }
            UserEvent::Balances(_) | UserEvent::BalanceDelta { .. } => Ok(Vec::new()),
        }
    }

    async fn stop(
        &mut self,
        trader: &mut Trader<Outbox>,
        leading: Leading<'_>,
    ) -> Result<Vec<Event>, SessionError> {
        if self.cancel_on_shutdown {
            self.cancel_all(trader, leading).await
        } else {
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_core::orders::TimeInForce;

    fn instrument() -> Instrument {
        Instrument::new(
            "BTCUSDT",
            "BTC",
            "USDT",
            "0.01".parse().unwrap(),
            "0.00001".parse().unwrap(),
            "0.00001".parse().unwrap(),
            Money::parse("5").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn client_order_ids_are_deterministic_short_and_parse_back() {
        let uid = "5f0e1c2a-7d3b-4e8f-9a10-1b2c3d4e5f60";
        let p = client_prefix(uid, "2026-11-25T10:00:00Z");
        assert_eq!(p, client_prefix(uid, "2026-11-25T10:00:00Z"));
        assert_ne!(p, client_prefix("another-uid", "2026-11-25T10:00:00Z"));
        // A new session of the same bot: same bot part, other IDs.
        let next = client_prefix(uid, "2026-11-26T08:00:00Z");
        assert_ne!(p, next);
        assert!(p.starts_with(&bot_prefix(uid)) && next.starts_with(&bot_prefix(uid)));
        let id = client_order_id(&p, ClientOrderId(u64::MAX));
        assert!(id.len() <= 36, "{id}");
        crate::venue::binance::rest::validate_client_order_id(&id).unwrap();
        assert_eq!(parse_id(&p, &id), Some(ClientOrderId(u64::MAX)));
        assert_eq!(parse_id(&next, &id), None);
        assert_eq!(parse_id(&p, "web-123"), None);
    }

    #[test]
    fn base_asset_commission_shrinks_the_position_and_is_valued_as_a_fee() {
        let i = instrument();
        let buy = engine_fill(
            ClientOrderId(1),
            0,
            Side::Buy,
            "87000.00".parse().unwrap(),
            "0.00100".parse().unwrap(),
            Money::parse("0.000001").unwrap(),
            "BTC",
            false,
            &i,
        )
        .unwrap();
        assert_eq!(
            buy.quantity.raw(),
            Quantity::parse("0.000999", 6).unwrap().raw()
        );
        assert_eq!(buy.fee, Money::parse("0.087").unwrap());
        let sell = engine_fill(
            ClientOrderId(2),
            0,
            Side::Sell,
            "87000.00".parse().unwrap(),
            "0.00099".parse().unwrap(),
            Money::parse("0.086130").unwrap(),
            "USDT",
            true,
            &i,
        )
        .unwrap();
        assert_eq!(
            (sell.quantity, sell.fee, sell.liquidity),
            (
                "0.00099".parse().unwrap(),
                Money::parse("0.08613").unwrap(),
                Liquidity::Maker
            )
        );
    }

    #[test]
    fn orders_are_cut_to_the_lot_and_stops_are_refused() {
        let i = instrument();
        let r = OrderRequest {
            id: ClientOrderId(3),
            instrument: INSTRUMENT,
            side: Side::Sell,
            quantity: Quantity::parse("0.000999", 6).unwrap(),
            kind: OrderKind::Market,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
        };
        let o = new_order("BTCUSDT", "x-3".into(), &r, &i).unwrap();
        assert_eq!(o.quantity, "0.00099".parse().unwrap());
        let stop = OrderRequest {
            kind: OrderKind::StopMarket {
                trigger: "1.00".parse().unwrap(),
            },
            ..r
        };
        assert!(new_order("BTCUSDT", "x-4".into(), &stop, &i).is_err());
        let dust = OrderRequest {
            quantity: Quantity::parse("0.000001", 6).unwrap(),
            ..r
        };
        assert_eq!(
            new_order("BTCUSDT", "x-5".into(), &dust, &i).unwrap_err(),
            "quantity 0.000001 is below one lot (0.00001)"
        );
    }
}
