//! The live executor's bookkeeping: what it knows of each of the bot's orders (rebuilt
//! from the journal, kept as the venue answers), and the venue's answers as the engine
//! and the journal take them.

use std::collections::{BTreeMap, HashSet};

use tradewind_core::data::UnixNanos;
use tradewind_core::fixed::Quantity;
use tradewind_core::instrument::Instrument;
use tradewind_core::orders::{ClientOrderId, OrderEvent, OrderRequest, RejectReason};
use tradewind_events::Body;

use super::fills::{Trade, Valuation, engine_fill, unvalued};
use super::live::{client_order_id, parse_id};
use super::record::Record;
use crate::venue::binance::{ExecType, ExecutionReport, OrderStatus};

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
    /// Binance's order ID, once an ack, a report or a lookup named it (journaled as
    /// `OrderId`, so a restart knows it too).
    pub order_id: Option<u64>,
}

/// The venue's answers about orders, as the engine and the journal take them: order
/// events, the trade IDs of the fills among them (each applied once), and the worker's
/// facts about them (a commission that could not be valued).
#[derive(Debug, Default)]
pub struct Answers {
    /// Engine events.
    pub events: Vec<OrderEvent>,
    /// Trade IDs of the fills among them.
    pub trade_ids: Vec<u64>,
    /// Facts to journal and publish after them.
    pub notes: Vec<Body>,
}

impl Answers {
    pub(super) fn from_events(events: Vec<OrderEvent>) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }

    /// Adds one trade's fill (unless it nets to nothing), with a note when its
    /// commission could not be valued.
    pub(super) fn fill(
        &mut self,
        trade_id: u64,
        t: &Trade<'_>,
        v: &Valuation,
        instrument: &Instrument,
    ) {
        if let Some(fill) = engine_fill(t, v, instrument) {
            self.trade_ids.push(trade_id);
            self.events.push(OrderEvent::Filled(fill));
            if let Valuation::Unvalued(why) = v {
                self.notes.push(unvalued(t, trade_id, why));
            }
        }
    }
}

pub(super) fn terminal(status: &OrderStatus) -> bool {
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
            Record::OrderId { id, venue_order_id } => {
                if let Some(t) = self.orders.get_mut(id) {
                    t.order_id = Some(*venue_order_id);
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

    /// The record that keeps Binance's order ID for one of our client order IDs, if it
    /// names one the book does not know yet.
    pub(super) fn new_order_id(
        &self,
        prefix: &str,
        client_order_id: &str,
        order_id: u64,
    ) -> Option<Record> {
        let id = parse_id(prefix, client_order_id)?;
        let t = self.orders.get(&id.0)?;
        (t.order_id != Some(order_id)).then_some(Record::OrderId {
            id: id.0,
            venue_order_id: order_id,
        })
    }

    /// Was this trade applied?
    pub fn has_trade(&self, id: u64) -> bool {
        self.trades.contains(&id)
    }

    /// The exchange is done with order `id`: cancel in the engine whatever it still has
    /// open beyond the fills in `events` (sub-lot rests, commissions taken in the base
    /// asset, an exchange-side cancel or expiry).
    pub(super) fn close_rest(
        &self,
        id: ClientOrderId,
        ts: UnixNanos,
        events: &mut Vec<OrderEvent>,
    ) {
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
    pub(super) fn remaining(&self, id: u64) -> Quantity {
        self.orders
            .get(&id)
            .map(|t| t.request.quantity.saturating_sub(t.filled))
            .unwrap_or(Quantity::ZERO)
    }

    /// Engine events for an execution report (fills once per trade ID; the rest of the
    /// order cancelled once the exchange is done with it); `valuation` values a
    /// commission paid in a third asset.
    pub fn events_for_report(
        &self,
        r: &ExecutionReport,
        instrument: &Instrument,
        prefix: &str,
        valuation: &Valuation,
    ) -> Answers {
        let mut a = Answers::default();
        let Some(id) = parse_id(prefix, &r.client_order_id) else {
            return a;
        };
        let Some(t) = self.orders.get(&id.0) else {
            return a;
        };
        if t.terminal {
            return a;
        }
        match r.exec_type {
            ExecType::New if !t.acked => a.events.push(OrderEvent::Accepted { id, ts: r.ts }),
            ExecType::Trade => {
                if let Some(trade) = r.trade_id
                    && !self.trades.contains(&trade)
                {
                    if !t.acked {
                        a.events.push(OrderEvent::Accepted { id, ts: r.ts });
                    }
                    a.fill(trade, &report_trade(id, r), valuation, instrument);
                }
            }
            ExecType::Rejected => a.events.push(OrderEvent::Rejected {
                id,
                ts: r.ts,
                reason: RejectReason::Other(r.reject_reason.clone()),
            }),
            _ => {}
        }
        if terminal(&r.status) && r.status != OrderStatus::Rejected {
            self.close_rest(id, r.ts, &mut a.events);
        }
        a
    }
}

/// An execution report's trade.
fn report_trade(id: ClientOrderId, r: &ExecutionReport) -> Trade<'_> {
    Trade {
        id,
        ts: r.ts,
        side: r.side,
        price: r.last_price,
        qty: r.last_qty,
        commission: r.commission,
        commission_asset: r.commission_asset.as_deref().unwrap_or_default(),
        maker: r.maker,
    }
}
