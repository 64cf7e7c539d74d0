//! The messages a feed publishes: typed here, JSON on the wire (prices and quantities as
//! exact decimal strings, never floats), each carrying the exchange's own sequence
//! number — the kline's open time, the trade ID, the depth update ID.
//!
//! ```json
//! {"v":1,"received":1700000060012000000,"bar":{"interval":"1m","ts":1700000000000000000,"open":"37000.10","high":"37010.00","low":"36990.00","close":"37005.50","volume":"12.34500"}}
//! {"v":1,"received":…,"trade":{"id":3123456789,"ts":…,"price":"37005.50","quantity":"0.01200","aggressor":"buy"}}
//! {"v":1,"received":…,"depth":{"updateId":41234567890,"ts":…,"resync":false,"bids":[["37005.49","1.20000"]],"asks":[["37005.50","0.40000"]]}}
//! ```
//!
//! `received` is when the feed read the exchange's message (ns since the epoch);
//! `resync: true` marks the first depth message after the book was rebuilt from a new
//! snapshot (a gap on the exchange's stream): every subscriber replaces its book with it.

use serde::{Deserialize, Serialize};
use tradewind_core::data::{Bar, BookLevel, Side, UnixNanos};
use tradewind_core::fixed::{Price, Quantity};

use crate::subject::{Shard, SubjectError};

/// The wire format's version.
pub const VERSION: u32 = 1;

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A closed kline.
    Bar {
        /// Kline interval as the exchange names it (`1m`).
        interval: String,
        /// The bar (`ts` is its open time).
        bar: Bar,
    },
    /// A trade print.
    Trade {
        /// The exchange's trade ID.
        id: u64,
        /// Trade time.
        ts: UnixNanos,
        /// Price.
        price: Price,
        /// Base quantity.
        quantity: Quantity,
        /// The taker's side.
        aggressor: Side,
    },
    /// The top of the book after an applied update (or a new snapshot).
    Depth {
        /// The exchange's last applied update ID.
        update_id: u64,
        /// Exchange time of the last change.
        ts: UnixNanos,
        /// The first book after a rebuild from a new snapshot.
        resync: bool,
        /// Bids, best first.
        bids: Vec<BookLevel>,
        /// Asks, best first.
        asks: Vec<BookLevel>,
    },
}

/// One published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedMessage {
    /// When the feed received the exchange's message (ns since the epoch).
    pub received: UnixNanos,
    /// What it carries.
    pub payload: Payload,
}

/// A message that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not the JSON of a feed message.
    #[error("market-data message: {0}")]
    Json(#[from] serde_json::Error),
    /// A version this build does not read.
    #[error("market-data message: version {0} (this build reads {VERSION})")]
    Version(u32),
    /// A field holds a value the core cannot represent.
    #[error("market-data message: field {field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl FeedMessage {
    /// The exchange's sequence number: the kline's open time (ns), the trade ID, the
    /// depth update ID. Strictly increasing on each subject.
    pub fn sequence(&self) -> u64 {
        match &self.payload {
            Payload::Bar { bar, .. } => u64::try_from(bar.ts).unwrap_or(0),
            Payload::Trade { id, .. } => *id,
            Payload::Depth { update_id, .. } => *update_id,
        }
    }

    /// The subject of this message in `shard`.
    pub fn subject(&self, shard: &Shard) -> Result<String, SubjectError> {
        Ok(match &self.payload {
            Payload::Bar { interval, .. } => shard.kline(interval)?,
            Payload::Trade { .. } => shard.trade(),
            Payload::Depth { .. } => shard.depth(),
        })
    }

    /// The `Nats-Msg-Id` JetStream deduplicates by: subject and exchange sequence, so
    /// two feeds (or one restarted) publishing the same fact store it once.
    pub fn msg_id(subject: &str, sequence: u64) -> String {
        format!("{subject}:{sequence}")
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let levels = |l: &[BookLevel]| -> Vec<[String; 2]> {
            l.iter()
                .map(|l| [l.price.to_string(), l.size.to_string()])
                .collect()
        };
        let mut wire = Wire {
            v: VERSION,
            received: self.received,
            bar: None,
            trade: None,
            depth: None,
        };
        match &self.payload {
            Payload::Bar { interval, bar } => {
                wire.bar = Some(WireBar {
                    interval: interval.clone(),
                    ts: bar.ts,
                    open: bar.open.to_string(),
                    high: bar.high.to_string(),
                    low: bar.low.to_string(),
                    close: bar.close.to_string(),
                    volume: bar.volume.to_string(),
                })
            }
            Payload::Trade {
                id,
                ts,
                price,
                quantity,
                aggressor,
            } => {
                wire.trade = Some(WireTrade {
                    id: *id,
                    ts: *ts,
                    price: price.to_string(),
                    quantity: quantity.to_string(),
                    aggressor: match aggressor {
                        Side::Buy => WireSide::Buy,
                        Side::Sell => WireSide::Sell,
                    },
                })
            }
            Payload::Depth {
                update_id,
                ts,
                resync,
                bids,
                asks,
            } => {
                wire.depth = Some(WireDepth {
                    update_id: *update_id,
                    ts: *ts,
                    resync: *resync,
                    bids: levels(bids),
                    asks: levels(asks),
                })
            }
        }
        // A struct of strings and integers always serialises.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// From the wire form; every price and quantity is parsed exactly at the precision
    /// it was written with.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let wire: Wire = serde_json::from_slice(data)?;
        if wire.v != VERSION {
            return Err(DecodeError::Version(wire.v));
        }
        let payload = match (wire.bar, wire.trade, wire.depth) {
            (Some(b), None, None) => Payload::Bar {
                bar: Bar::new(
                    b.ts,
                    price("bar.open", &b.open)?,
                    price("bar.high", &b.high)?,
                    price("bar.low", &b.low)?,
                    price("bar.close", &b.close)?,
                    qty("bar.volume", &b.volume)?,
                )
                .map_err(|e| DecodeError::Field {
                    field: "bar",
                    reason: e.to_string(),
                })?,
                interval: b.interval,
            },
            (None, Some(t), None) => Payload::Trade {
                id: t.id,
                ts: t.ts,
                price: price("trade.price", &t.price)?,
                quantity: qty("trade.quantity", &t.quantity)?,
                aggressor: match t.aggressor {
                    WireSide::Buy => Side::Buy,
                    WireSide::Sell => Side::Sell,
                },
            },
            (None, None, Some(d)) => {
                let side = |field: &'static str, l: &[[String; 2]]| {
                    l.iter()
                        .map(|[p, q]| {
                            Ok(BookLevel {
                                price: price(field, p)?,
                                size: qty(field, q)?,
                            })
                        })
                        .collect::<Result<Vec<_>, DecodeError>>()
                };
                Payload::Depth {
                    update_id: d.update_id,
                    ts: d.ts,
                    resync: d.resync,
                    bids: side("depth.bids", &d.bids)?,
                    asks: side("depth.asks", &d.asks)?,
                }
            }
            _ => {
                return Err(DecodeError::Field {
                    field: "bar|trade|depth",
                    reason: "exactly one of them must be present".into(),
                });
            }
        };
        Ok(Self {
            received: wire.received,
            payload,
        })
    }
}

/// Decimals written in `s` (Display writes exactly the value's precision).
fn decimals(s: &str) -> u8 {
    s.split_once('.')
        .map(|(_, f)| u8::try_from(f.len()).unwrap_or(u8::MAX))
        .unwrap_or(0)
}

fn price(field: &'static str, s: &str) -> Result<Price, DecodeError> {
    Price::parse(s, decimals(s)).map_err(|e| DecodeError::Field {
        field,
        reason: e.to_string(),
    })
}

fn qty(field: &'static str, s: &str) -> Result<Quantity, DecodeError> {
    Quantity::parse(s, decimals(s)).map_err(|e| DecodeError::Field {
        field,
        reason: e.to_string(),
    })
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    received: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bar: Option<WireBar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trade: Option<WireTrade>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    depth: Option<WireDepth>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBar {
    interval: String,
    ts: i64,
    open: String,
    high: String,
    low: String,
    close: String,
    volume: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTrade {
    id: u64,
    ts: i64,
    price: String,
    quantity: String,
    aggressor: WireSide,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WireSide {
    Buy,
    Sell,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireDepth {
    update_id: u64,
    ts: i64,
    resync: bool,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s, decimals(s)).unwrap()
    }
    fn q(s: &str) -> Quantity {
        Quantity::parse(s, decimals(s)).unwrap()
    }

    #[test]
    fn every_kind_round_trips_exactly() {
        let messages = [
            FeedMessage {
                received: 5,
                payload: Payload::Bar {
                    interval: "1m".into(),
                    bar: Bar::new(
                        60_000_000_000,
                        p("10.10"),
                        p("10.50"),
                        p("9.00"),
                        p("10.00"),
                        q("0.00100"),
                    )
                    .unwrap(),
                },
            },
            FeedMessage {
                received: 6,
                payload: Payload::Trade {
                    id: 42,
                    ts: 7,
                    price: p("0.00000001"),
                    quantity: q("1000"),
                    aggressor: Side::Sell,
                },
            },
            FeedMessage {
                received: 8,
                payload: Payload::Depth {
                    update_id: 9,
                    ts: 10,
                    resync: true,
                    bids: vec![BookLevel {
                        price: p("1.0"),
                        size: q("2.50"),
                    }],
                    asks: vec![],
                },
            },
        ];
        for m in messages {
            let back = FeedMessage::decode(&m.encode()).unwrap();
            assert_eq!(back, m);
            // Same precision too (equality ignores it): the strings are identical.
            assert_eq!(back.encode(), m.encode());
        }
    }

    #[test]
    fn sequences_and_ids() {
        let m = FeedMessage {
            received: 0,
            payload: Payload::Trade {
                id: 77,
                ts: 0,
                price: p("1"),
                quantity: q("1"),
                aggressor: Side::Buy,
            },
        };
        let shard = Shard::new("tw.md", "binance", "spot", "BTCUSDT").unwrap();
        assert_eq!(m.sequence(), 77);
        let subject = m.subject(&shard).unwrap();
        assert_eq!(
            FeedMessage::msg_id(&subject, 77),
            "tw.md.binance.spot.BTCUSDT.trade:77"
        );
    }

    #[test]
    fn bad_messages_are_refused_naming_the_field() {
        let e = FeedMessage::decode(br#"{"v":2,"received":0}"#).unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");
        let e = FeedMessage::decode(br#"{"v":1,"received":0}"#).unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        let e = FeedMessage::decode(
            br#"{"v":1,"received":0,"trade":{"id":1,"ts":0,"price":"1e5","quantity":"1","aggressor":"buy"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("trade.price"), "{e}");
        let e = FeedMessage::decode(
            br#"{"v":1,"received":0,"bar":{"interval":"1m","ts":0,"open":"1","high":"0.5","low":"1","close":"1","volume":"1"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("field bar"), "{e}");
    }
}
