//! The trading loop's state machine, without I/O of its own: the engine, the journal it
//! writes ahead of every step, and what it reports (notices for the event stream and a
//! status snapshot). Paper trading runs it on the simulated exchange; live trading on an
//! [`Outbox`] whose commands the live executor sends.

use serde_json::{Value, json};
use tradewind_core::data::{Bar, Side, UnixNanos};
use tradewind_core::engine::{Activity, Engine, INSTRUMENT, Venue};
use tradewind_core::fixed::Money;
use tradewind_core::orders::{OrderEvent, OrderKind, OrderRequest};

use super::journal::{Journal, JournalError};
use super::record::{BarRecord, EventRecord, Record};

/// Something worth telling the outside world (events, metrics).
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// Event kind, e.g. `OrderSubmitted`, `Fill`, `Halted`.
    pub kind: &'static str,
    /// Details; money and prices as decimal strings.
    pub data: Value,
}

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

/// The engine with its journal.
pub struct Trader<V: Venue> {
    engine: Engine<V>,
    journal: Journal<Record>,
    bars: u64,
    last_bar: Option<UnixNanos>,
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn order_data(r: &OrderRequest) -> Value {
    let mut v = json!({
        "orderId": r.id.0,
        "side": side(r.side),
        "quantity": r.quantity.to_string(),
    });
    match r.kind {
        OrderKind::Market => v["type"] = json!("market"),
        OrderKind::Limit { price } => {
            v["type"] = json!("limit");
            v["price"] = json!(price.to_string());
        }
        OrderKind::StopMarket { trigger } => {
            v["type"] = json!("stopMarket");
            v["trigger"] = json!(trigger.to_string());
        }
        OrderKind::StopLimit { trigger, price } => {
            v["type"] = json!("stopLimit");
            v["trigger"] = json!(trigger.to_string());
            v["price"] = json!(price.to_string());
        }
    }
    v
}

/// Turns engine activity into notices.
pub fn notices(activity: Vec<Activity>) -> Vec<Notice> {
    activity
        .into_iter()
        .map(|a| match a {
            Activity::Submitted { ts, request } => Notice {
                kind: "OrderSubmitted",
                data: json!({"marketTs": ts, "order": order_data(&request)}),
            },
            Activity::Refused {
                ts,
                request,
                reason,
            } => Notice {
                kind: "OrderRejected",
                data: json!({"marketTs": ts, "order": order_data(&request), "by": "risk", "reason": reason}),
            },
            Activity::Order(OrderEvent::Accepted { id, ts }) => Notice {
                kind: "OrderAccepted",
                data: json!({"marketTs": ts, "orderId": id.0}),
            },
            Activity::Order(OrderEvent::Triggered { id, ts }) => Notice {
                kind: "OrderAccepted",
                data: json!({"marketTs": ts, "orderId": id.0, "triggered": true}),
            },
            Activity::Order(OrderEvent::Rejected { id, ts, reason }) => Notice {
                kind: "OrderRejected",
                data: json!({"marketTs": ts, "orderId": id.0, "by": "venue", "reason": reason.to_string()}),
            },
            Activity::Order(OrderEvent::Canceled { id, ts, unfilled }) => Notice {
                kind: "OrderCanceled",
                data: json!({"marketTs": ts, "orderId": id.0, "unfilled": unfilled.to_string()}),
            },
            Activity::Order(OrderEvent::Filled(f)) => Notice {
                kind: "Fill",
                data: json!({
                    "marketTs": f.ts, "orderId": f.id.0, "side": side(f.side),
                    "price": f.price.to_string(), "quantity": f.quantity.to_string(),
                    "fee": f.fee.to_string(),
                    "liquidity": if f.liquidity == tradewind_core::orders::Liquidity::Maker { "maker" } else { "taker" },
                }),
            },
            Activity::StopLoss { ts, reason } => Notice {
                kind: "StopLoss",
                data: json!({"marketTs": ts, "reason": reason}),
            },
            Activity::Halted { ts, halt } => Notice {
                kind: "Halted",
                data: json!({"marketTs": ts, "reason": halt.to_string()}),
            },
        })
        .collect()
}

impl<V: Venue> Trader<V> {
    /// Rebuilds the engine from the journal's records (no notice is produced and nothing is
    /// sent: it all happened before), then keeps journaling. `on_sent` sees each `Sent`
    /// record in order, so a live executor can tell which orders may be on the exchange.
    pub fn recover(
        mut engine: Engine<V>,
        journal: Journal<Record>,
        records: &[Record],
        mut on_replayed: impl FnMut(&mut Engine<V>, &Record),
    ) -> Result<Self, TraderError> {
        let mut bars = 0;
        let mut last_bar = None;
        for (index, record) in records.iter().enumerate() {
            let bad = |reason: String| TraderError::BadRecord { index, reason };
            match record {
                Record::Started { .. } | Record::Sent { .. } => {}
                Record::Bar(b) => {
                    let bar = b.to_bar().map_err(bad)?;
                    engine
                        .step(&bar)
                        .map_err(|e| TraderError::Engine(e.to_string()))?;
                    bars += 1;
                    last_bar = Some(bar.ts);
                }
                Record::Venue { ts, events, .. } => {
                    engine
                        .on_venue_events(*ts, events.iter().map(OrderEvent::from))
                        .map_err(|e| TraderError::Engine(e.to_string()))?;
                }
            }
            on_replayed(&mut engine, record);
        }
        engine.record_activity(true);
        Ok(Self {
            engine,
            journal,
            bars,
            last_bar,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<V> {
        &self.engine
    }

    /// The engine, for draining an outbox.
    pub fn engine_mut(&mut self) -> &mut Engine<V> {
        &mut self.engine
    }

    /// Bars the engine has processed (journal included).
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// Records in the journal: a base for event sequence numbers that stay unique across
    /// restarts.
    pub fn journal_records(&self) -> u64 {
        self.journal.records()
    }

    /// Appends records to the journal (atomic, synced).
    pub fn journal(&mut self, records: &[Record]) -> Result<(), TraderError> {
        Ok(self.journal.append(records)?)
    }

    /// Whether the engine already consumed this bar (a source restarted behind the
    /// journal, e.g. a replay from the start of its file).
    pub fn seen(&self, bar: &Bar) -> bool {
        self.last_bar.is_some_and(|t| bar.ts <= t)
    }

    /// A closed bar: journaled first, then processed.
    pub fn on_bar(&mut self, bar: &Bar) -> Result<Vec<Notice>, TraderError> {
        self.journal.append(&[Record::Bar(BarRecord::from(bar))])?;
        self.engine
            .step(bar)
            .map_err(|e| TraderError::Engine(e.to_string()))?;
        self.bars += 1;
        self.last_bar = Some(bar.ts);
        Ok(notices(self.engine.drain_activity()))
    }

    /// The venue's answers: journaled first, then processed.
    pub fn on_venue(
        &mut self,
        ts: UnixNanos,
        events: Vec<OrderEvent>,
        trade_ids: Vec<u64>,
    ) -> Result<Vec<Notice>, TraderError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        self.journal.append(&[Record::Venue {
            ts,
            trade_ids,
            events: events.iter().map(EventRecord::from).collect(),
        }])?;
        self.engine
            .on_venue_events(ts, events)
            .map_err(|e| TraderError::Engine(e.to_string()))?;
        Ok(notices(self.engine.drain_activity()))
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
