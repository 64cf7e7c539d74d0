//! The trading session's state machine, without I/O of its own: the engine, the journal
//! it writes ahead of every step, and the events it reports, typed, each with its place
//! in the session's gap-free sequence. Paper trading runs it on the simulated exchange;
//! live trading on an [`Outbox`](tradewind_core::engine::Outbox) whose commands the live executor sends.
//!
//! Every event comes from a journal record (a bar, the venue's answers, the worker's own
//! facts), so replaying a journal rebuilds the same events with the same sequence numbers
//! and ids: what a crash kept from being published is published after the restart.

use tradewind_core::data::{Bar, Side as CoreSide, UnixNanos};
use tradewind_core::engine::{Activity, Engine, INSTRUMENT, Venue};
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::orders::{
    Liquidity as CoreLiquidity, OrderEvent, OrderKind, OrderRequest, RejectReason,
    TimeInForce as CoreTif,
};
use tradewind_core::risk::{HaltReason, RiskRefusal};
use tradewind_core::strategy::{Signal, SignalAction};
use tradewind_events::{
    Body, Event, Fill, HaltCause, Liquidity, Mode, Order, OrderType, Performance, Refusal,
    Rejection, Side, Start, StopLoss, TimeInForce,
};

use super::journal::{Journal, JournalError};
use super::record::{BarRecord, EventRecord, Record};

/// Why trading stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TraderError {
    /// The journal could not be written or read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The engine refused an input (accounting overflow, time going backwards).
    #[error("engine: {0}")]
    Engine(String),
    /// A journal record could not be turned back into engine input.
    #[error("journal record {index}: {reason}")]
    BadRecord {
        /// Position in the journal.
        index: usize,
        /// What was wrong.
        reason: String,
    },
}

/// The performance a worker reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Cash plus marked position.
    pub equity: Money,
    /// Realized PnL.
    pub realized_pnl: Money,
    /// Unrealized PnL.
    pub unrealized_pnl: Money,
    /// Fees paid.
    pub fees: Money,
    /// Drawdown from the equity peak, percent with two decimals.
    pub drawdown_percent: String,
    /// Base quantity held (signed) and average entry price, if any.
    pub position: Option<(String, String)>,
    /// Why trading halted, if it did.
    pub halted: Option<String>,
    /// Orders sent, fills, rejects, refusals so far.
    pub counts: tradewind_core::engine::Counts,
}

/// Drawdown of `equity` below `peak` in percent, two decimals, rounded down (exact
/// integer arithmetic).
pub fn drawdown_percent(peak: Option<Money>, equity: Money) -> String {
    let Some(peak) = peak.filter(|p| p.raw() > 0) else {
        return "0.00".into();
    };
    let down = peak.raw().saturating_sub(equity.raw()).max(0);
    let hundredths = down.saturating_mul(10_000) / peak.raw();
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Who a session's events are about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `namespace/name` of the TradingBot.
    pub bot: String,
    /// The session: when its journal first started, RFC 3339.
    pub session: String,
    /// Length of the session's bars, ns (an `EquitySnapshot` is stamped at its bar's
    /// close).
    pub bar_nanos: i64,
}

/// An `EquitySnapshot` goes out with the first bar that closes in a new minute of market
/// time: with every bar of a minute or longer, once a minute for one-second bars.
const SNAPSHOT_EVERY_NANOS: i64 = 60_000_000_000;

/// The session a journal holds: set by its first start, kept by every later one; `None`
/// for an empty journal.
pub fn session_of(records: &[Record]) -> Option<String> {
    records.iter().find_map(|r| match r {
        Record::Started { session, at, .. } => Some(if session.is_empty() {
            at.clone()
        } else {
            session.clone()
        }),
        _ => None,
    })
}

/// The engine with its journal and the session's event sequence.
pub struct Trader<V: Venue> {
    engine: Engine<V>,
    journal: Journal<Record>,
    identity: Identity,
    /// The next event's sequence number.
    next: u64,
    /// Every event below this was delivered (as the journal says).
    published: u64,
    /// A newer delivery mark, journaled with the next record.
    delivered: Option<u64>,
    /// Every event below this was confirmed by the platform (as the journal says).
    acknowledged: Option<u64>,
    /// A newer acknowledged cursor, journaled with the next record.
    ack_pending: Option<u64>,
    /// The session publishes `EquitySnapshot`s (see [`Record::Started`]).
    snapshots: bool,
    /// The minute of market time of the last `EquitySnapshot`.
    last_snapshot: Option<i64>,
    starts: u64,
    bars: u64,
    last_bar: Option<UnixNanos>,
    /// The highest signal sequence journaled (the signal cursor).
    signal_cursor: u64,
}

/// A journaled or fetched signal in core types; the reason names the field.
pub fn signal(id: &str, action: &str, ts: i64) -> Result<Signal, String> {
    Ok(Signal {
        id: id.to_owned(),
        ts,
        action: action
            .parse::<SignalAction>()
            .map_err(|e| format!("signal {id}: action: {e}"))?,
    })
}

/// Engine time as RFC 3339 UTC.
pub fn rfc3339(ts: UnixNanos) -> String {
    k8s_openapi::jiff::Timestamp::from_nanosecond(i128::from(ts))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ts.to_string())
}

fn side(s: CoreSide) -> Side {
    match s {
        CoreSide::Buy => Side::Buy,
        CoreSide::Sell => Side::Sell,
    }
}

/// The contract's form of an engine order.
pub fn order(r: &OrderRequest) -> Order {
    let (order_type, price, trigger) = match r.kind {
        OrderKind::Market => (OrderType::Market, None, None),
        OrderKind::Limit { price } => (OrderType::Limit, Some(price), None),
        OrderKind::StopMarket { trigger } => (OrderType::StopMarket, None, Some(trigger)),
        OrderKind::StopLimit { trigger, price } => {
            (OrderType::StopLimit, Some(price), Some(trigger))
        }
    };
    Order {
        order_id: r.id.0,
        side: side(r.side),
        order_type,
        quantity: r.quantity.to_string(),
        price: price.map(|p| p.to_string()),
        trigger: trigger.map(|p| p.to_string()),
        time_in_force: match r.time_in_force {
            CoreTif::Gtc => TimeInForce::Gtc,
            CoreTif::Ioc => TimeInForce::Ioc,
            CoreTif::Fok => TimeInForce::Fok,
        },
        post_only: r.post_only,
    }
}

fn halt_cause(r: HaltReason) -> HaltCause {
    match r {
        HaltReason::DailyLossLimit => HaltCause::DailyLossLimit,
        HaltReason::MaxDrawdown => HaltCause::MaxDrawdown,
        HaltReason::Manual => HaltCause::Manual,
    }
}

fn percent(p: impl ToString) -> String {
    p.to_string().trim_end_matches('%').to_owned()
}

fn refusal(r: &RiskRefusal) -> Refusal {
    match r {
        RiskRefusal::Halted(h) => Refusal::Halted {
            cause: halt_cause(h.reason),
        },
        RiskRefusal::BelowMinNotional { notional, min } => Refusal::BelowMinNotional {
            notional: notional.to_string(),
            min: min.to_string(),
        },
        RiskRefusal::MaxOrderNotional { notional, limit } => Refusal::MaxOrderNotional {
            notional: notional.to_string(),
            limit: limit.to_string(),
        },
        RiskRefusal::MaxPositionNotional { notional, limit } => Refusal::MaxPositionNotional {
            notional: notional.to_string(),
            limit: limit.to_string(),
        },
        RiskRefusal::PriceBand { price, last, band } => Refusal::PriceBand {
            price: price.to_string(),
            last: last.to_string(),
            band_percent: percent(band),
        },
        RiskRefusal::NoLastPrice { check, last } => Refusal::NoLastPrice {
            needed_by: (*check).to_owned(),
            last: last.to_string(),
        },
        RiskRefusal::UnknownInstrument { index } => Refusal::UnknownInstrument {
            index: *index as u64,
        },
    }
}

fn rejection(r: &RejectReason) -> Rejection {
    match r {
        RejectReason::PostOnlyWouldTake => Rejection::PostOnlyWouldTake,
        RejectReason::FokNotFillable => Rejection::FokNotFillable,
        RejectReason::Instrument(why) => Rejection::InstrumentRules {
            detail: why.clone(),
        },
        RejectReason::DuplicateId => Rejection::DuplicateId,
        RejectReason::InsufficientBalance => Rejection::InsufficientBalance,
        RejectReason::Other(why) => Rejection::Venue {
            detail: why.clone(),
        },
    }
}

/// The event body of one piece of engine activity, with its engine time; `None` for a
/// strategy's note, which goes to the log (the event schema has no such event).
pub fn body(activity: Activity) -> Option<(UnixNanos, Body)> {
    Some(match activity {
        Activity::Submitted { ts, request } => (
            ts,
            Body::OrderSubmitted {
                order: order(&request),
            },
        ),
        Activity::Refused {
            ts,
            request,
            reason,
        } => (
            ts,
            Body::OrderRefused {
                order: order(&request),
                refusal: refusal(&reason),
                message: reason.to_string(),
            },
        ),
        Activity::Order(OrderEvent::Accepted { id, ts }) => (
            ts,
            Body::OrderAccepted {
                order_id: id.0,
                triggered: false,
            },
        ),
        Activity::Order(OrderEvent::Triggered { id, ts }) => (
            ts,
            Body::OrderAccepted {
                order_id: id.0,
                triggered: true,
            },
        ),
        Activity::Order(OrderEvent::Rejected { id, ts, reason }) => (
            ts,
            Body::OrderRejected {
                order_id: id.0,
                rejection: rejection(&reason),
                message: reason.to_string(),
            },
        ),
        Activity::Order(OrderEvent::Canceled { id, ts, unfilled }) => (
            ts,
            Body::OrderCanceled {
                order_id: id.0,
                unfilled: unfilled.to_string(),
            },
        ),
        Activity::Order(OrderEvent::Filled(f)) => (
            f.ts,
            Body::Fill(Fill {
                order_id: f.id.0,
                side: side(f.side),
                price: f.price.to_string(),
                quantity: f.quantity.to_string(),
                fee: f.fee.to_string(),
                liquidity: match f.liquidity {
                    CoreLiquidity::Maker => Liquidity::Maker,
                    CoreLiquidity::Taker => Liquidity::Taker,
                },
            }),
        ),
        Activity::StopLoss { ts, close } => (
            ts,
            Body::StopLoss(StopLoss {
                side: side(close.side),
                quantity: close.quantity.to_string(),
                loss: close.loss.to_string(),
                entry_value: close.entry_value.to_string(),
                limit_percent: percent(close.limit),
            }),
        ),
        Activity::Halted { ts, halt } => (
            ts,
            Body::Halted {
                cause: halt_cause(halt.reason),
                message: halt.to_string(),
            },
        ),
        Activity::StrategyNote { ts, text } => {
            tracing::warn!(ts, "{text}");
            return None;
        }
    })
}

/// The `HoldingsAdopted` event.
fn adopted(asset: &str, quantity: Quantity, price: Price) -> Body {
    Body::HoldingsAdopted {
        asset: asset.to_owned(),
        quantity: quantity.to_string(),
        price: price.to_string(),
    }
}

fn mode_of(mode: &str) -> Mode {
    if mode.eq_ignore_ascii_case("live") {
        Mode::Live
    } else {
        Mode::Paper
    }
}

impl<V: Venue> Trader<V> {
    /// Rebuilds the engine from the journal's records (nothing is sent: it all happened
    /// before), and with it the session's events; returns the trader and the events not
    /// yet known to be delivered, to publish (again). `on_replayed` sees each record in
    /// order, so a live executor can tell which orders may be on the exchange.
    ///
    /// With `recording` (the platform recorder is on), the events from the acknowledged
    /// cursor are kept too (from the session's start when the journal has no cursor yet):
    /// the caller sends the sinks those from [`Trader::published`] and the recorder those
    /// from [`Trader::acknowledged_mark`].
    pub fn recover(
        mut engine: Engine<V>,
        journal: Journal<Record>,
        records: &[Record],
        identity: Identity,
        recording: bool,
        mut on_replayed: impl FnMut(&mut Engine<V>, &Record),
    ) -> Result<(Self, Vec<Event>), TraderError> {
        engine.record_activity(true);
        let mut t = Self {
            engine,
            journal,
            identity,
            next: 0,
            published: 0,
            delivered: None,
            acknowledged: None,
            ack_pending: None,
            snapshots: false,
            last_snapshot: None,
            starts: 0,
            bars: 0,
            last_bar: None,
            signal_cursor: 0,
        };
        let mut events = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let bad = |reason: String| TraderError::BadRecord { index, reason };
            match record {
                Record::Sent { .. } | Record::OrderId { .. } => {}
                Record::Started { snapshots, .. } => {
                    if t.starts == 0 {
                        t.snapshots = *snapshots;
                    }
                    events.push(t.start_event(record));
                }
                Record::Bar(b) => {
                    let bar = b.to_bar().map_err(bad)?;
                    t.step(&bar)?;
                    events.extend(t.activity());
                    events.extend(t.equity_snapshot(&bar));
                }
                Record::Venue { ts, events: e, .. } => {
                    t.engine
                        .on_venue_events(*ts, e.iter().map(OrderEvent::from))
                        .map_err(|e| TraderError::Engine(e.to_string()))?;
                    events.extend(t.activity());
                }
                Record::Adopted {
                    at,
                    asset,
                    quantity,
                    price,
                } => {
                    t.adopt(*quantity, *price).map_err(|e| bad(e.to_string()))?;
                    events.push(t.stamp(at.clone(), adopted(asset, *quantity, *price)));
                }
                Record::Note { at, body } => events.push(t.stamp(at.clone(), body.clone())),
                Record::Published { next } => t.published = t.published.max(*next),
                Record::Acknowledged { next } => {
                    t.acknowledged = Some(t.acknowledged.unwrap_or(0).max(*next));
                }
                Record::Warmup { bars, .. } => {
                    let bars = bars
                        .iter()
                        .map(BarRecord::to_bar)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(bad)?;
                    t.prime(&bars);
                }
                Record::Signal {
                    seq,
                    id,
                    action,
                    ts,
                } => {
                    let signal = signal(id, action, *ts).map_err(bad)?;
                    t.apply_signal(*seq, &signal)?;
                    events.extend(t.activity());
                }
            }
            on_replayed(&mut t.engine, record);
        }
        let keep = if recording {
            t.published.min(t.acknowledged.unwrap_or(0))
        } else {
            t.published
        };
        events.retain(|e| e.sequence >= keep);
        Ok((t, events))
    }

    /// The session's `EquitySnapshot` at `bar`'s close, if one is due.
    fn equity_snapshot(&mut self, bar: &Bar) -> Option<Event> {
        if !self.snapshots {
            return None;
        }
        let close = bar.ts.saturating_add(self.identity.bar_nanos);
        let minute = close.div_euclid(SNAPSHOT_EVERY_NANOS);
        if self.last_snapshot.is_some_and(|m| minute <= m) {
            return None;
        }
        self.last_snapshot = Some(minute);
        let performance = self.performance();
        Some(self.stamp(rfc3339(close), Body::EquitySnapshot(performance)))
    }

    fn stamp(&mut self, ts: String, body: Body) -> Event {
        let e = Event::new(
            &self.identity.bot,
            &self.identity.session,
            self.next,
            ts,
            body,
        );
        self.next += 1;
        e
    }

    /// The `Started` (first) or `Resumed` event of a `Started` record.
    fn start_event(&mut self, record: &Record) -> Event {
        let Record::Started {
            at,
            mode,
            config_hash,
            cancelled_orphans,
            ..
        } = record
        else {
            unreachable!("called with Started records only")
        };
        let start = Start {
            mode: mode_of(mode),
            replayed_bars: self.bars,
            config_hash: config_hash.clone(),
            cancelled_orphans: cancelled_orphans.clone(),
        };
        self.starts += 1;
        let body = if self.starts == 1 {
            Body::Started(start)
        } else {
            Body::Resumed(start)
        };
        self.stamp(at.clone(), body)
    }

    fn step(&mut self, bar: &Bar) -> Result<(), TraderError> {
        self.engine
            .step(bar)
            .map_err(|e| TraderError::Engine(e.to_string()))?;
        self.bars += 1;
        self.last_bar = Some(bar.ts);
        Ok(())
    }

    fn activity(&mut self) -> Vec<Event> {
        self.engine
            .drain_activity()
            .into_iter()
            .filter_map(|a| {
                let (ts, body) = body(a)?;
                Some(self.stamp(rfc3339(ts), body))
            })
            .collect()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<V> {
        &self.engine
    }

    /// The engine, for draining an outbox.
    pub fn engine_mut(&mut self) -> &mut Engine<V> {
        &mut self.engine
    }

    /// Who the events are about.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Bars the engine has processed (journal included).
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// The next event's sequence number.
    pub fn next_sequence(&self) -> u64 {
        self.next
    }

    /// Appends records to the journal (atomic, synced), with a newer delivery mark and
    /// acknowledged cursor if there are.
    pub fn journal(&mut self, records: &[Record]) -> Result<(), TraderError> {
        if self.delivered.is_none() && self.ack_pending.is_none() {
            self.journal.append(records)?;
            return Ok(());
        }
        let mut all = Vec::with_capacity(records.len() + 2);
        all.extend(self.delivered.map(|next| Record::Published { next }));
        all.extend(self.ack_pending.map(|next| Record::Acknowledged { next }));
        all.extend_from_slice(records);
        self.journal.append(&all)?;
        if let Some(next) = self.delivered.take() {
            self.published = next;
        }
        if let Some(next) = self.ack_pending.take() {
            self.acknowledged = Some(next);
        }
        Ok(())
    }

    /// Every event below this was delivered by the sinks, as journaled.
    pub fn published(&self) -> u64 {
        self.published
    }

    /// The platform's acknowledged cursor, as journaled (`None`: never recorded).
    pub fn acknowledged_mark(&self) -> Option<u64> {
        self.acknowledged
    }

    /// The platform confirmed every event below `next`: journaled with the next record,
    /// so a restart sends it only what it has not confirmed.
    pub fn acknowledged(&mut self, next: u64) {
        let next = next.min(self.next);
        if next > self.acknowledged.unwrap_or(0) && self.ack_pending.is_none_or(|p| next > p) {
            self.ack_pending = Some(next);
        }
    }

    /// The sinks delivered every event below `next`: journaled with the next record, so
    /// a restart publishes again only what may not have arrived.
    pub fn delivered(&mut self, next: u64) {
        if next > self.published && self.delivered.is_none_or(|d| next > d) {
            self.delivered = Some(next.min(self.next));
        }
    }

    /// Journals the delivery mark and the acknowledged cursor now (at a stop).
    pub fn journal_delivered(&mut self) -> Result<(), TraderError> {
        if self.delivered.is_some() || self.ack_pending.is_some() {
            self.journal(&[])?;
        }
        Ok(())
    }

    /// The session (re)starts trading: journaled, and its `Started` or `Resumed` event;
    /// with `adopt` (a new live session's holding: asset, quantity, mark), the engine
    /// starts with that position, journaled in the same write as the start.
    pub fn start(
        &mut self,
        at: String,
        mode: Mode,
        config_hash: String,
        cancelled_orphans: Vec<String>,
        adopt: Option<(String, Quantity, Price)>,
    ) -> Result<Vec<Event>, TraderError> {
        let record = Record::Started {
            at: at.clone(),
            mode: match mode {
                Mode::Paper => "Paper",
                Mode::Live => "Live",
            }
            .into(),
            config_hash,
            session: self.identity.session.clone(),
            cancelled_orphans,
            // A new session publishes snapshots; a resumed one keeps what it began with.
            snapshots: self.starts == 0 || self.snapshots,
        };
        if self.starts == 0 {
            self.snapshots = true;
        }
        let Some((asset, quantity, price)) = adopt else {
            self.journal(std::slice::from_ref(&record))?;
            return Ok(vec![self.start_event(&record)]);
        };
        let adopted_record = Record::Adopted {
            at: at.clone(),
            asset: asset.clone(),
            quantity,
            price,
        };
        self.journal(&[record.clone(), adopted_record])?;
        let started = self.start_event(&record);
        self.adopt(quantity, price)?;
        Ok(vec![
            started,
            self.stamp(at, adopted(&asset, quantity, price)),
        ])
    }

    /// The engine takes `quantity` at `price` as its position (a buy at engine time).
    fn adopt(&mut self, quantity: Quantity, price: Price) -> Result<(), TraderError> {
        let fill = tradewind_core::orders::Fill {
            // Never an engine order: the engine numbers its orders from 1.
            id: tradewind_core::orders::ClientOrderId(0),
            instrument: INSTRUMENT,
            ts: self.engine.now(),
            side: CoreSide::Buy,
            price,
            quantity,
            fee: Money::ZERO,
            liquidity: CoreLiquidity::Taker,
        };
        self.engine
            .adopt_position(&fill)
            .map_err(|e| TraderError::Engine(e.to_string()))
    }

    /// A fact of the worker's (`at`: wall clock, RFC 3339): journaled, then its event.
    pub fn note(&mut self, at: String, body: Body) -> Result<Event, TraderError> {
        self.journal(&[Record::Note {
            at: at.clone(),
            body: body.clone(),
        }])?;
        Ok(self.stamp(at, body))
    }

    /// Open time of the last bar the journal holds (where a market-data subscription
    /// resumes).
    pub fn last_bar(&self) -> Option<UnixNanos> {
        self.last_bar
    }

    /// Whether the engine already consumed this bar (a source restarted behind the
    /// journal, e.g. a replay from the start of its file).
    pub fn seen(&self, bar: &Bar) -> bool {
        self.last_bar.is_some_and(|t| bar.ts <= t)
    }

    /// Closed bars from before the session prime the strategy (journaled first, so a
    /// replay primes it the same way); a later source's bars up to the last of them are
    /// then [`Trader::seen`].
    pub fn warm_up(&mut self, source: &str, bars: &[Bar]) -> Result<(), TraderError> {
        if bars.is_empty() {
            return Ok(());
        }
        self.journal(&[Record::Warmup {
            source: source.to_string(),
            bars: bars.iter().map(BarRecord::from).collect(),
        }])?;
        self.prime(bars);
        Ok(())
    }

    fn prime(&mut self, bars: &[Bar]) {
        self.engine.warm_up(bars);
        if let Some(last) = bars.last() {
            self.last_bar = Some(self.last_bar.map_or(last.ts, |t| t.max(last.ts)));
        }
    }

    /// A closed bar: journaled first, then processed; the events it caused.
    pub fn on_bar(&mut self, bar: &Bar) -> Result<Vec<Event>, TraderError> {
        self.journal(&[Record::Bar(BarRecord::from(bar))])?;
        self.step(bar)?;
        let mut events = self.activity();
        events.extend(self.equity_snapshot(bar));
        Ok(events)
    }

    /// The highest signal sequence journaled: the platform's signals after it are new.
    pub fn signal_cursor(&self) -> u64 {
        self.signal_cursor
    }

    /// An external signal: journaled first, then processed; the events it caused. A
    /// sequence at or below the cursor was acted on before and is ignored.
    pub fn on_signal(&mut self, seq: u64, signal: &Signal) -> Result<Vec<Event>, TraderError> {
        if seq <= self.signal_cursor {
            return Ok(Vec::new());
        }
        self.journal(&[Record::Signal {
            seq,
            id: signal.id.clone(),
            action: signal.action.as_str().to_owned(),
            ts: signal.ts,
        }])?;
        self.apply_signal(seq, signal)?;
        Ok(self.activity())
    }

    fn apply_signal(&mut self, seq: u64, signal: &Signal) -> Result<(), TraderError> {
        self.engine
            .on_signal(signal)
            .map_err(|e| TraderError::Engine(e.to_string()))?;
        self.signal_cursor = self.signal_cursor.max(seq);
        Ok(())
    }

    /// The venue's answers: journaled first, then processed; the events they caused.
    pub fn on_venue(
        &mut self,
        ts: UnixNanos,
        events: Vec<OrderEvent>,
        trade_ids: Vec<u64>,
    ) -> Result<Vec<Event>, TraderError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.journal(&[Record::Venue {
            ts,
            trade_ids,
            events: events.iter().map(EventRecord::from).collect(),
        }])?;
        self.engine
            .on_venue_events(ts, events)
            .map_err(|e| TraderError::Engine(e.to_string()))?;
        Ok(self.activity())
    }

    /// Performance and halt state now.
    pub fn snapshot(&self) -> Snapshot {
        let p = self.engine.portfolio();
        let position = p.position(INSTRUMENT).filter(|x| !x.quantity().is_zero());
        Snapshot {
            equity: p.equity(),
            realized_pnl: p.realized_pnl(),
            unrealized_pnl: p.unrealized_pnl(),
            fees: p.fees_paid(),
            drawdown_percent: drawdown_percent(self.engine.peak_equity(), p.equity()),
            position: position.map(|x| {
                (
                    x.quantity().to_string(),
                    x.avg_entry_price()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                )
            }),
            halted: self.engine.halt().map(ToString::to_string),
            counts: self.engine.counts(),
        }
    }

    /// The performance a `Stopped` event carries.
    pub fn performance(&self) -> Performance {
        let s = self.snapshot();
        let c = s.counts;
        Performance {
            equity: s.equity.to_string(),
            realized_pnl: s.realized_pnl.to_string(),
            unrealized_pnl: s.unrealized_pnl.to_string(),
            fees: s.fees.to_string(),
            drawdown_percent: s.drawdown_percent,
            bars: self.bars,
            orders: c.orders as u64,
            fills: c.fills as u64,
            rejected: c.rejected as u64,
            refused: c.refused as u64,
            halted: s.halted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_is_exact_and_rounds_down() {
        let m = |s: &str| Money::parse(s).unwrap();
        assert_eq!(drawdown_percent(Some(m("1000")), m("1000")), "0.00");
        assert_eq!(drawdown_percent(Some(m("1000")), m("876.549")), "12.34");
        assert_eq!(drawdown_percent(Some(m("3")), m("2")), "33.33");
        assert_eq!(drawdown_percent(None, m("2")), "0.00");
        // Above the peak (between marks): no drawdown.
        assert_eq!(drawdown_percent(Some(m("100")), m("101")), "0.00");
    }
}
