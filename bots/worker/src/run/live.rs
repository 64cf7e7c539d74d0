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

use sha2::{Digest, Sha256};
use tradewind_core::data::UnixNanos;
use tradewind_core::engine::{Outbox, VenueCommand};
use tradewind_core::fixed::{Money, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::orders::{ClientOrderId, OrderEvent, OrderKind, OrderRequest, RejectReason};

use tradewind_events::{Body, Event, Operation, Trouble};

use super::book::terminal;
pub use super::book::{Answers, Book, Tracked};
use super::feed::{SourceError, Tick};
use super::fills::{Trade, Valuation, needs_price};
use super::holdings::{self, Holdings};
use super::record::Record;
use super::session::{Execution, Leading, Outcome, Session, SessionError, now};
use super::trader::Trader;
use crate::venue::binance::{
    BinanceRest, ExecType, ExecutionReport, FeedError, NewOrder, OrderKind as VenueKind,
    OrderState, OrderStatus, UserEvent, UserStream, VenueError,
};
use tradewind_crds::AdoptHoldings;

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
/// uses it) cannot take. Stop orders go as Binance's own stop types, which trigger on the
/// same side of the last price as the engine's: `STOP_LOSS` (stop-market) and
/// `STOP_LOSS_LIMIT` (stop-limit); Binance has no post-only stop, and refuses a stop that
/// would trigger at once (the engine would fill it at once instead).
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
        (OrderKind::StopMarket { .. } | OrderKind::StopLimit { .. }, true) => {
            return Err("Binance spot has no post-only stop order".into());
        }
        (OrderKind::StopMarket { trigger }, false) => VenueKind::StopLoss {
            stop_price: trigger,
        },
        (OrderKind::StopLimit { trigger, price }, false) => VenueKind::StopLossLimit {
            price,
            stop_price: trigger,
            tif: r.time_in_force,
        },
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
    adopt_holdings: AdoptHoldings,
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
            adopt_holdings: AdoptHoldings::Refuse,
        }
    }

    /// What a new session does with the base asset the account already holds (default:
    /// refuses to trade).
    pub fn adopt_holdings(mut self, policy: AdoptHoldings) -> Self {
        self.adopt_holdings = policy;
        self
    }

    /// The account's holding of the base asset (free plus locked) and what a new session
    /// does with it; the mark is the venue's last price.
    pub async fn holdings(&self, capital: Money) -> Result<Holdings, SessionError> {
        let base = self.instrument.base();
        let mut quantity = Quantity::ZERO;
        for b in self.rest.account().await? {
            if b.asset == base {
                quantity = holdings::held(b.free, b.locked).ok_or_else(|| VenueError::Field {
                    endpoint: "GET /api/v3/account".into(),
                    field: "balances".into(),
                    detail: format!("{base}: free {} locked {} out of range", b.free, b.locked),
                })?;
            }
        }
        if quantity.is_zero() {
            return Ok(Holdings::Flat);
        }
        let mark = match self.rest.ticker_price(&self.symbol).await {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "no mark for the account's holding");
                None
            }
        };
        Ok(holdings::assess(
            quantity,
            mark,
            capital,
            self.adopt_holdings,
            &self.instrument,
        ))
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
        answers: Answers,
        out: &mut Vec<Event>,
    ) -> Result<(), SessionError> {
        let Answers {
            events,
            trade_ids,
            notes,
        } = answers;
        if !events.is_empty() {
            let record = Record::Venue {
                ts,
                trade_ids: trade_ids.clone(),
                events: events.iter().map(Into::into).collect(),
            };
            out.extend(trader.on_venue(ts, events, trade_ids)?);
            self.book.learn(&self.prefix, &record);
        }
        for body in notes {
            tracing::warn!(
                ?body,
                "a commission in a third asset could not be valued; left out of the fees"
            );
            out.push(trader.note(now(), body)?);
        }
        Ok(())
    }

    /// Keeps Binance's order ID for one of ours (journaled the first time it is heard).
    fn note_order_id(
        &mut self,
        trader: &mut Trader<Outbox>,
        client_order_id: &str,
        order_id: u64,
    ) -> Result<(), SessionError> {
        if let Some(record) = self
            .book
            .new_order_id(&self.prefix, client_order_id, order_id)
        {
            trader.journal(std::slice::from_ref(&record))?;
            self.book.learn(&self.prefix, &record);
        }
        Ok(())
    }

    /// How a commission of `commission` in `asset` is valued: from the trade, or (a
    /// third asset) at the venue's price of `<asset><quote>` now.
    async fn valuation(&self, asset: &str, commission: Money) -> Valuation {
        if !needs_price(asset, commission, &self.instrument) {
            return Valuation::Own;
        }
        let pair = format!("{asset}{}", self.instrument.quote());
        match self.rest.ticker_price(&pair).await {
            Ok(price) => Valuation::At(price),
            Err(e) => Valuation::Unvalued(format!("no {pair} price: {e}")),
        }
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
        let reject = |reason: String| {
            Answers::from_events(vec![OrderEvent::Rejected {
                id: request.id,
                ts,
                reason: RejectReason::Other(reason),
            }])
        };
        let order = match new_order(&self.symbol, cid.clone(), &request, &self.instrument) {
            Ok(o) => o,
            Err(why) => return self.apply(trader, ts, reject(why), out).await,
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
                self.apply(trader, ts, Answers::from_events(events), out)
                    .await?;
                Err(SessionError::LostLease)
            }
            Ok(ack) => {
                self.note_order_id(trader, &ack.client_order_id, ack.order_id)?;
                let accepted = OrderEvent::Accepted {
                    id: request.id,
                    ts: ack.transact_time.max(ts),
                };
                // Fills come from the user data stream (with trade IDs), or a reconcile.
                self.apply(trader, ts, Answers::from_events(vec![accepted]), out)
                    .await
            }
            Err(e) if e.outcome_unknown() => {
                // It may be on the exchange: the next reconcile looks it up by its ID.
                tracing::warn!(client_order_id = %cid, error = %e, "order outcome unknown; will reconcile");
                trouble(trader, Operation::Submit, &cid, &e, out)
            }
            Err(e @ (VenueError::Auth { .. } | VenueError::Config(_))) => Err(e.into()),
            Err(e) => self.apply(trader, ts, reject(e.to_string()), out).await,
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
                self.note_order_id(trader, &state.client_order_id, state.order_id)?;
                // Fills before the cancel arrive (or are reconciled) by trade ID; the
                // cancel itself closes what the engine still has open.
                let answers = self.events_for_state(&state, ts).await?;
                self.apply(trader, ts, answers, out).await
            }
            Err(VenueError::UnknownOrder { .. }) if !t.acked => {
                // It never reached the exchange (its submit failed in transit): close it,
                // or the next reconcile would send an order the strategy withdrew.
                let events = vec![OrderEvent::Canceled {
                    id,
                    ts,
                    unfilled: self.book.remaining(id.0),
                }];
                self.apply(trader, ts, Answers::from_events(events), out)
                    .await
            }
            // Done already (filled or cancelled), or no longer in the exchange's order
            // history: its state, or else its trades, say what became of it.
            Err(VenueError::UnknownOrder { .. }) => {
                let answers = match self.rest.order(&self.symbol, &t.client_order_id).await? {
                    Some(state) => {
                        self.note_order_id(trader, &state.client_order_id, state.order_id)?;
                        self.events_for_state(&state, ts).await?
                    }
                    None => self.events_for_unknown(&t, ts).await?,
                };
                self.apply(trader, ts, answers, out).await
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
    ) -> Result<Answers, SessionError> {
        let mut a = Answers::default();
        let Some(id) = parse_id(&self.prefix, &state.client_order_id) else {
            return Ok(a);
        };
        let Some(t) = self.book.get(id.0) else {
            return Ok(a);
        };
        let mut complete = true;
        if !t.acked {
            a.events.push(OrderEvent::Accepted { id, ts });
        }
        if !state.executed_qty.is_zero() {
            let traded = self.trade_events(id, state.order_id, &mut a).await?;
            if traded < state.executed_qty.raw() {
                // The trade list lags the order: leave it open, the next report or
                // reconcile completes it.
                complete = false;
            }
        }
        if state.status == OrderStatus::Rejected {
            a.events.push(OrderEvent::Rejected {
                id,
                ts,
                reason: RejectReason::Other("rejected by the exchange".into()),
            });
        } else if terminal(&state.status) && complete {
            self.book.close_rest(id, ts, &mut a.events);
        }
        Ok(a)
    }

    /// Fills not yet applied among the account's trades for Binance order `order_id`
    /// (engine order `id`), every page of them; returns the base quantity traded in all
    /// of its trades.
    async fn trade_events(
        &self,
        id: ClientOrderId,
        order_id: u64,
        a: &mut Answers,
    ) -> Result<u64, SessionError> {
        let trades = self
            .rest
            .all_my_trades(&self.symbol, 0, Some(order_id))
            .await?;
        let mut traded: u64 = 0;
        // One price per third asset for the whole lookup.
        let mut priced: Option<(String, Valuation)> = None;
        for trade in trades.iter().filter(|x| x.order_id == order_id) {
            traded = traded.saturating_add(trade.qty.raw());
            if self.book.has_trade(trade.id) || a.trade_ids.contains(&trade.id) {
                continue;
            }
            let valuation = match &priced {
                Some((asset, v)) if *asset == trade.commission_asset => v.clone(),
                _ => {
                    let v = self
                        .valuation(&trade.commission_asset, trade.commission)
                        .await;
                    if v != Valuation::Own {
                        priced = Some((trade.commission_asset.clone(), v.clone()));
                    }
                    v
                }
            };
            let t = Trade {
                id,
                ts: trade.time,
                side: trade.side(),
                price: trade.price,
                qty: trade.qty,
                commission: trade.commission,
                commission_asset: &trade.commission_asset,
                maker: trade.is_maker,
            };
            a.fill(trade.id, &t, &valuation, &self.instrument);
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
    ) -> Result<Answers, SessionError> {
        let id = t.request.id;
        let mut a = Answers::default();
        match t.order_id {
            Some(order_id) => {
                self.trade_events(id, order_id, &mut a).await?;
                tracing::warn!(client_order_id = %t.client_order_id, order_id, fills = a.trade_ids.len(), "order unknown to the exchange; reconciled from the account's trades");
            }
            None => {
                // Only for an order whose ack never came and that no report or lookup
                // named before the exchange forgot it.
                tracing::warn!(client_order_id = %t.client_order_id, "order unknown to the exchange and its Binance order ID is not known; closed without looking up its trades");
            }
        }
        self.book.close_rest(id, ts, &mut a.events);
        Ok(a)
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
                    self.note_order_id(trader, &state.client_order_id, state.order_id)?;
                    let answers = self.events_for_state(&state, ts).await?;
                    self.apply(trader, ts, answers, &mut out).await?;
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
                    let answers = self.events_for_unknown(&t, ts).await?;
                    self.apply(trader, ts, answers, &mut out).await?;
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
        self.note_order_id(trader, &report.client_order_id, report.order_id)?;
        let valuation = match (&report.exec_type, &report.commission_asset) {
            (ExecType::Trade, Some(asset)) => self.valuation(asset, report.commission).await,
            _ => Valuation::Own,
        };
        let answers =
            self.book
                .events_for_report(report, &self.instrument, &self.prefix, &valuation);
        let mut out = Vec::new();
        let ts = report.ts.max(trader.engine().now());
        self.apply(trader, ts, answers, &mut out).await?;
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
    /// carry this bot's prefix and another session's) while `leading` says this worker
    /// holds the Lease, asked as each cancel leaves; returns their client order IDs.
    pub async fn cancel_orphans(&self, leading: Leading<'_>) -> Result<Vec<String>, SessionError> {
        let mut cancelled = Vec::new();
        for order in self.rest.open_orders(&self.symbol).await? {
            let ours = order.client_order_id.starts_with(&self.bot_prefix);
            if !ours || parse_id(&self.prefix, &order.client_order_id).is_some() {
                continue;
            }
            match self
                .rest
                .cancel_order_if(&self.symbol, &order.client_order_id, leading)
                .await
            {
                Ok(_) | Err(VenueError::UnknownOrder { .. }) => {
                    tracing::warn!(client_order_id = %order.client_order_id, "cancelled an order left open by an earlier session");
                    cancelled.push(order.client_order_id);
                }
                Err(VenueError::NotSent { .. }) => {
                    tracing::warn!(
                        "the bot's Lease is not held; orders left by an earlier session left as they are"
                    );
                    return Err(SessionError::LostLease);
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

    async fn cancel_orphans(&mut self, leading: Leading<'_>) -> Result<Vec<String>, SessionError> {
        LiveExecutor::cancel_orphans(self, leading).await
    }

    async fn holdings(&mut self, capital: Money) -> Result<Holdings, SessionError> {
        LiveExecutor::holdings(self, capital).await
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
    use tradewind_core::data::Side;
    use tradewind_core::engine::INSTRUMENT;
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
    fn orders_are_cut_to_the_lot_and_stops_go_as_binance_stops() {
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
        assert_eq!(
            new_order("BTCUSDT", "x-4".into(), &stop, &i).unwrap().kind,
            VenueKind::StopLoss {
                stop_price: "1.00".parse().unwrap()
            }
        );
        let stop_limit = OrderRequest {
            kind: OrderKind::StopLimit {
                trigger: "2.00".parse().unwrap(),
                price: "1.99".parse().unwrap(),
            },
            ..r
        };
        assert_eq!(
            new_order("BTCUSDT", "x-6".into(), &stop_limit, &i)
                .unwrap()
                .kind,
            VenueKind::StopLossLimit {
                price: "1.99".parse().unwrap(),
                stop_price: "2.00".parse().unwrap(),
                tif: TimeInForce::Gtc
            }
        );
        let post_only = OrderRequest {
            post_only: true,
            ..stop_limit
        };
        assert!(new_order("BTCUSDT", "x-7".into(), &post_only, &i).is_err());
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
