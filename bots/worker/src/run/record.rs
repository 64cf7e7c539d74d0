//! What the worker writes to its journal, in the order it happened: every input the
//! engine consumed (closed bars, the venue's answers) and every order it was about to
//! send. The engine is deterministic, so replaying these rebuilds its exact state after a
//! restart; the `Sent` records tell which orders may already be on the exchange. The
//! worker's own facts (its starts, stops, halts and troubles) are journaled too, so the
//! event stream rebuilt from a journal is the one first published, and `Published` says
//! how much of it the sinks have delivered.
//! Prices, quantities and money are exact decimal strings.

use serde::{Deserialize, Serialize};
use tradewind_core::data::{Bar, Side};
use tradewind_core::engine::INSTRUMENT;
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::orders::{
    ClientOrderId, Fill, Liquidity, OrderEvent, OrderKind, OrderRequest, RejectReason, TimeInForce,
};

/// A journal record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Record {
    /// The worker (re)started: informational, and where a replay's log lines begin.
    Started {
        /// Wall-clock time, RFC 3339.
        at: String,
        /// Paper or Live.
        mode: String,
        /// Hash of the configuration it ran.
        config_hash: String,
        /// The session this journal holds (its first start's time): part of the client
        /// order IDs, so a later session never reuses them.
        #[serde(default)]
        session: String,
        /// Client order IDs an earlier session left open, cancelled at this start.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cancelled_orphans: Vec<String>,
        /// The session publishes an `EquitySnapshot` with its bars (set by the session's
        /// first start; a session begun by an older worker has none, so replaying it
        /// rebuilds the very sequence numbers it published).
        #[serde(default, skip_serializing_if = "is_false")]
        snapshots: bool,
    },
    /// A new session took the account's holding of the base asset as its starting
    /// position, at the mark (journaled with the session's first start).
    Adopted {
        /// Wall-clock time, RFC 3339.
        at: String,
        /// The base asset.
        asset: String,
        /// The quantity held.
        #[serde(with = "decimal")]
        quantity: Quantity,
        /// The mark it was valued at.
        #[serde(with = "decimal")]
        price: Price,
    },
    /// A closed bar went into the engine.
    Bar(BarRecord),
    /// An order is about to be sent (written before the request leaves).
    Sent {
        /// Engine time of the decision.
        ts: i64,
        /// The exchange's client order ID.
        client_order_id: String,
        /// The order.
        request: RequestRecord,
    },
    /// The venue named its own ID for one of the orders (an ack, a report or a lookup):
    /// kept, so an order it later answers "unknown" for can be found in the account's
    /// trades after a restart too.
    OrderId {
        /// The engine's order ID.
        id: u64,
        /// The venue's (Binance's) order ID.
        venue_order_id: u64,
    },
    /// The venue's answers went into the engine.
    Venue {
        /// Engine time they were applied at.
        ts: i64,
        /// Exchange trade IDs of the fills among them (to apply each fill once).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        trade_ids: Vec<u64>,
        /// The events.
        events: Vec<EventRecord>,
    },
    /// A fact of the worker's (a stop, a lost Lease, a feed's trouble), as published.
    Note {
        /// Wall-clock time, RFC 3339.
        at: String,
        /// The event's body.
        body: tradewind_events::Body,
    },
    /// Every event of the session below sequence `next` was delivered by every sink.
    Published {
        /// The first sequence not known to be delivered.
        next: u64,
    },
    /// The platform confirmed every event of the session below sequence `next` (the
    /// recorder's acknowledged cursor): a restart sends it the events from there.
    Acknowledged {
        /// The first sequence the platform has not confirmed.
        next: u64,
    },
    /// Closed bars from before the session (the market-data store) primed the strategy's
    /// indicators, before its first start: replayed the same way, never traded.
    Warmup {
        /// Where they came from (for the log).
        source: String,
        /// The bars, oldest first.
        bars: Vec<BarRecord>,
    },
    /// An external signal from the platform went into the engine (journaled before it
    /// acted); `seq` is the platform's, the signal cursor after a restart.
    Signal {
        /// Its place among the bot's signals.
        seq: u64,
        /// The sender's id.
        id: String,
        /// `enter`, `exit` or `flatten`.
        action: String,
        /// The signal's time, ns since the epoch.
        ts: i64,
    },
}

fn is_false(b: &bool) -> bool {
    !b
}

mod decimal {
    //! Exact decimal strings for the fixed-point types.
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A bar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BarRecord {
    /// Interval start, ns.
    pub ts: i64,
    /// Open.
    #[serde(with = "decimal")]
    pub open: Price,
    /// High.
    #[serde(with = "decimal")]
    pub high: Price,
    /// Low.
    #[serde(with = "decimal")]
    pub low: Price,
    /// Close.
    #[serde(with = "decimal")]
    pub close: Price,
    /// Volume.
    #[serde(with = "decimal")]
    pub volume: Quantity,
}

impl From<&Bar> for BarRecord {
    fn from(b: &Bar) -> Self {
        Self {
            ts: b.ts,
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
        }
    }
}

impl BarRecord {
    /// The bar (checked again: a journal is input too).
    pub fn to_bar(&self) -> Result<Bar, String> {
        Bar::new(
            self.ts,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
        )
        .map_err(|e| e.to_string())
    }
}

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SideRecord {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl From<Side> for SideRecord {
    fn from(s: Side) -> Self {
        match s {
            Side::Buy => Self::Buy,
            Side::Sell => Self::Sell,
        }
    }
}

impl From<SideRecord> for Side {
    fn from(s: SideRecord) -> Self {
        match s {
            SideRecord::Buy => Side::Buy,
            SideRecord::Sell => Side::Sell,
        }
    }
}

/// An order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// Engine order ID.
    pub id: u64,
    /// Side.
    pub side: SideRecord,
    /// Base quantity.
    #[serde(with = "decimal")]
    pub quantity: Quantity,
    /// `market`, `limit`, `stopMarket` or `stopLimit`.
    pub kind: String,
    /// Limit price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Stop trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// `GTC`, `IOC` or `FOK`.
    pub time_in_force: String,
    /// Post-only.
    #[serde(default)]
    pub post_only: bool,
}

impl From<&OrderRequest> for RequestRecord {
    fn from(r: &OrderRequest) -> Self {
        let (kind, price, trigger) = match r.kind {
            OrderKind::Market => ("market", None, None),
            OrderKind::Limit { price } => ("limit", Some(price), None),
            OrderKind::StopMarket { trigger } => ("stopMarket", None, Some(trigger)),
            OrderKind::StopLimit { trigger, price } => ("stopLimit", Some(price), Some(trigger)),
        };
        Self {
            id: r.id.0,
            side: r.side.into(),
            quantity: r.quantity,
            kind: kind.into(),
            price: price.map(|p| p.to_string()),
            trigger: trigger.map(|p| p.to_string()),
            time_in_force: match r.time_in_force {
                TimeInForce::Gtc => "GTC",
                TimeInForce::Ioc => "IOC",
                TimeInForce::Fok => "FOK",
            }
            .into(),
            post_only: r.post_only,
        }
    }
}

impl RequestRecord {
    /// The order.
    pub fn to_request(&self) -> Result<OrderRequest, String> {
        let px = |v: &Option<String>, what: &str| -> Result<Price, String> {
            v.as_deref()
                .ok_or_else(|| format!("{} order without {what}", self.kind))?
                .parse()
                .map_err(|e| format!("{what}: {e}"))
        };
        let kind = match self.kind.as_str() {
            "market" => OrderKind::Market,
            "limit" => OrderKind::Limit {
                price: px(&self.price, "price")?,
            },
            "stopMarket" => OrderKind::StopMarket {
                trigger: px(&self.trigger, "trigger")?,
            },
            "stopLimit" => OrderKind::StopLimit {
                trigger: px(&self.trigger, "trigger")?,
                price: px(&self.price, "price")?,
            },
            other => return Err(format!("unknown order kind {other:?}")),
        };
        Ok(OrderRequest {
            id: ClientOrderId(self.id),
            instrument: INSTRUMENT,
            side: self.side.into(),
            quantity: self.quantity,
            kind,
            time_in_force: match self.time_in_force.as_str() {
                "GTC" => TimeInForce::Gtc,
                "IOC" => TimeInForce::Ioc,
                "FOK" => TimeInForce::Fok,
                other => return Err(format!("unknown time in force {other:?}")),
            },
            post_only: self.post_only,
        })
    }
}

/// A venue event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum EventRecord {
    /// Accepted.
    Accepted {
        /// Order.
        id: u64,
        /// Time.
        ts: i64,
    },
    /// Rejected.
    Rejected {
        /// Order.
        id: u64,
        /// Time.
        ts: i64,
        /// Why (the venue's words).
        reason: String,
    },
    /// Stop triggered.
    Triggered {
        /// Order.
        id: u64,
        /// Time.
        ts: i64,
    },
    /// Cancelled with this much unfilled.
    Canceled {
        /// Order.
        id: u64,
        /// Time.
        ts: i64,
        /// Unfilled base quantity.
        #[serde(with = "decimal")]
        unfilled: Quantity,
    },
    /// An execution.
    Filled {
        /// Order.
        id: u64,
        /// Time.
        ts: i64,
        /// Side.
        side: SideRecord,
        /// Price.
        #[serde(with = "decimal")]
        price: Price,
        /// Base quantity credited or debited.
        #[serde(with = "decimal")]
        quantity: Quantity,
        /// Fee in quote currency.
        #[serde(with = "decimal")]
        fee: Money,
        /// Maker (true) or taker.
        maker: bool,
    },
}

impl From<&OrderEvent> for EventRecord {
    fn from(e: &OrderEvent) -> Self {
        match e {
            OrderEvent::Accepted { id, ts } => Self::Accepted { id: id.0, ts: *ts },
            OrderEvent::Rejected { id, ts, reason } => Self::Rejected {
                id: id.0,
                ts: *ts,
                reason: reason.to_string(),
            },
            OrderEvent::Triggered { id, ts } => Self::Triggered { id: id.0, ts: *ts },
            OrderEvent::Canceled { id, ts, unfilled } => Self::Canceled {
                id: id.0,
                ts: *ts,
                unfilled: *unfilled,
            },
            OrderEvent::Filled(f) => Self::Filled {
                id: f.id.0,
                ts: f.ts,
                side: f.side.into(),
                price: f.price,
                quantity: f.quantity,
                fee: f.fee,
                maker: f.liquidity == Liquidity::Maker,
            },
        }
    }
}

impl From<&EventRecord> for OrderEvent {
    fn from(e: &EventRecord) -> Self {
        match e {
            EventRecord::Accepted { id, ts } => OrderEvent::Accepted {
                id: ClientOrderId(*id),
                ts: *ts,
            },
            EventRecord::Rejected { id, ts, reason } => OrderEvent::Rejected {
                id: ClientOrderId(*id),
                ts: *ts,
                reason: RejectReason::Other(reason.clone()),
            },
            EventRecord::Triggered { id, ts } => OrderEvent::Triggered {
                id: ClientOrderId(*id),
                ts: *ts,
            },
            EventRecord::Canceled { id, ts, unfilled } => OrderEvent::Canceled {
                id: ClientOrderId(*id),
                ts: *ts,
                unfilled: *unfilled,
            },
            EventRecord::Filled {
                id,
                ts,
                side,
                price,
                quantity,
                fee,
                maker,
            } => OrderEvent::Filled(Fill {
                id: ClientOrderId(*id),
                instrument: INSTRUMENT,
                ts: *ts,
                side: (*side).into(),
                price: *price,
                quantity: *quantity,
                fee: *fee,
                liquidity: if *maker {
                    Liquidity::Maker
                } else {
                    Liquidity::Taker
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_exactly() {
        let bar = Bar::new(
            1_742_944_020_000_000_000,
            "87232.00".parse().unwrap(),
            "87240.50".parse().unwrap(),
            "87200.01".parse().unwrap(),
            "87232.01".parse().unwrap(),
            "1.02026".parse().unwrap(),
        )
        .unwrap();
        let request = OrderRequest {
            id: ClientOrderId(7),
            instrument: INSTRUMENT,
            side: Side::Sell,
            quantity: "0.00123".parse().unwrap(),
            kind: OrderKind::StopLimit {
                trigger: "87000.00".parse().unwrap(),
                price: "86990.00".parse().unwrap(),
            },
            time_in_force: TimeInForce::Ioc,
            post_only: false,
        };
        let fill = OrderEvent::Filled(Fill {
            id: ClientOrderId(7),
            instrument: INSTRUMENT,
            ts: 5,
            side: Side::Sell,
            price: "86995.10".parse().unwrap(),
            quantity: "0.00123".parse().unwrap(),
            fee: Money::parse("0.107003973").unwrap(),
            liquidity: Liquidity::Taker,
        });
        let records = vec![
            Record::Bar((&bar).into()),
            Record::Sent {
                ts: 4,
                client_order_id: "tw1a2b3c4d5e6f-7".into(),
                request: (&request).into(),
            },
            Record::Venue {
                ts: 5,
                trade_ids: vec![991],
                events: vec![(&fill).into()],
            },
            Record::OrderId {
                id: 7,
                venue_order_id: 28_457,
            },
            Record::Adopted {
                at: "2026-12-06T00:00:00Z".into(),
                asset: "BTC".into(),
                quantity: "0.015".parse().unwrap(),
                price: "87232.01".parse().unwrap(),
            },
        ];
        let text = serde_json::to_string(&records).unwrap();
        assert!(text.contains(r#""fee":"0.107003973""#), "{text}");
        assert!(
            text.contains(r#"{"type":"orderId","id":7,"venue_order_id":28457}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""quantity":"0.015","price":"87232.01""#),
            "{text}"
        );
        let back: Vec<Record> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, records);
        let Record::Bar(b) = &back[0] else { panic!() };
        assert_eq!(b.to_bar().unwrap(), bar);
        let Record::Sent { request: r, .. } = &back[1] else {
            panic!()
        };
        assert_eq!(r.to_request().unwrap(), request);
        let Record::Venue { events, .. } = &back[2] else {
            panic!()
        };
        assert_eq!(OrderEvent::from(&events[0]), fill);
    }
}
