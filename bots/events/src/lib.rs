//! The event stream of a Tradewind bot worker, as a contract: the one definition the
//! worker serialises and its consumers (a ledger ingest, a market-data service, a
//! dashboard) deserialise. It depends on serde alone, so a consumer links neither the
//! worker nor the trading core.
//!
//! # Wire form (version 1)
//!
//! One JSON object per event (a line on stdout; a message body on Service Bus, whose
//! `MessageId` is the event's `id`). The envelope's fields come first, then `kind` and
//! the fields of that kind, all in camelCase:
//!
//! ```json
//! {"version":1,"id":"trading/btc-bot/2026-11-25T10:00:00Z/42",
//!  "bot":"trading/btc-bot","session":"2026-11-25T10:00:00Z","sequence":42,
//!  "ts":"2026-11-25T10:03:00Z","kind":"Fill","orderId":7,"side":"buy",
//!  "price":"87232.01","quantity":"0.00123","fee":"0.107","liquidity":"taker"}
//! ```
//!
//! - `id` names the fact: `{bot}/{session}/{sequence}` (a 16-hex-digit hash of bot and
//!   session replaces them when the id would exceed [`MAX_ID_LEN`]). The worker rebuilds
//!   its events from its journal after a restart, so the same fill has the same id and
//!   the same content whether it was published before or after a crash. Delivery is at
//!   least once: consumers deduplicate by `id`.
//! - `sequence` counts a session's events from 0 without gaps; a session is one journal
//!   (a new configuration starts a new one).
//! - `ts` is when the fact happened, RFC 3339 UTC: the market time of the bar or venue
//!   report for trading facts, the wall clock for the worker's lifecycle.
//! - Money, prices and quantities are exact decimal strings, never JSON numbers.
//!
//! # Versioning
//!
//! `version` is [`VERSION`]. Adding a kind, an optional field or an enum value keeps the
//! version; consumers ignore fields they do not know and should skip (not fail on) a
//! `kind` they do not know. Renaming or removing a field, or changing its meaning or
//! type, raises the version.

use serde::{Deserialize, Serialize};

/// The version of the wire form this crate reads and writes.
pub const VERSION: u32 = 1;

/// Longest id (Service Bus' limit on a `MessageId`).
pub const MAX_ID_LEN: usize = 128;

/// One event: the envelope and what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The wire form's version ([`VERSION`] when written by this crate).
    pub version: u32,
    /// Names the fact, the same across replays: [`Event::id_for`].
    pub id: String,
    /// `namespace/name` of the TradingBot.
    pub bot: String,
    /// The session (one journal of the bot): when it first started, RFC 3339.
    pub session: String,
    /// Position in the session, from 0, without gaps.
    pub sequence: u64,
    /// When it happened, RFC 3339 UTC.
    pub ts: String,
    /// What happened.
    #[serde(flatten)]
    pub body: Body,
}

impl Event {
    /// An event of the current [`VERSION`] with its id.
    pub fn new(bot: &str, session: &str, sequence: u64, ts: String, body: Body) -> Self {
        Event {
            version: VERSION,
            id: Self::id_for(bot, session, sequence),
            bot: bot.to_owned(),
            session: session.to_owned(),
            sequence,
            ts,
            body,
        }
    }

    /// `{bot}/{session}/{sequence}`, or `{hash}/{sequence}` (FNV-1a of bot and session,
    /// stable across versions and platforms) when that would exceed [`MAX_ID_LEN`].
    pub fn id_for(bot: &str, session: &str, sequence: u64) -> String {
        let id = format!("{bot}/{session}/{sequence}");
        if id.len() <= MAX_ID_LEN {
            return id;
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bot.bytes().chain([b'/']).chain(session.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}/{sequence}")
    }

    /// The wire spelling of the event's kind, e.g. `Fill`.
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }
}

/// What happened: the engine's trading activity and the worker's lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum Body {
    /// A new session began trading (its journal was empty).
    Started(Start),
    /// The worker restarted a session from its journal and trades on.
    Resumed(Start),
    /// An order passed the pre-trade risk checks and went to the venue.
    OrderSubmitted {
        /// The order.
        order: Order,
    },
    /// The venue accepted an order (it rests, or waits for its trigger).
    OrderAccepted {
        /// The engine's order id.
        order_id: u64,
        /// A stop order's trigger was reached (it is now working).
        #[serde(default, skip_serializing_if = "is_false")]
        triggered: bool,
    },
    /// The pre-trade risk checks refused an order; it never left the worker.
    OrderRefused {
        /// The order.
        order: Order,
        /// Which check, with the values compared.
        refusal: Refusal,
        /// The same, in words.
        message: String,
    },
    /// The venue refused an order.
    OrderRejected {
        /// The engine's order id.
        order_id: u64,
        /// Why.
        rejection: Rejection,
        /// The same, in words.
        message: String,
    },
    /// An order was cancelled (on request, or the unfilled rest of an IOC order or of an
    /// order the venue finished).
    OrderCanceled {
        /// The engine's order id.
        order_id: u64,
        /// Base quantity that was still open.
        unfilled: String,
    },
    /// An order (partially) filled.
    Fill(Fill),
    /// The stop-loss fired: a market order closes the position.
    StopLoss(StopLoss),
    /// Trading stopped for good in this session: a risk limit, or the Lease went to
    /// another worker.
    Halted {
        /// Why.
        cause: HaltCause,
        /// The limit and what reached it, in words.
        message: String,
    },
    /// A market-data or user-data stream had trouble (and recovered from it).
    FeedTrouble {
        /// Which stream, e.g. `binance-market`, `binance-user`.
        feed: String,
        /// What happened.
        trouble: Trouble,
    },
    /// A request to the venue failed in a way the worker recovers from later (an
    /// order's outcome unknown, a cancel to retry).
    VenueTrouble {
        /// What was asked.
        operation: Operation,
        /// The order's client order id on the venue, if about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_order_id: Option<String>,
        /// The venue's or the transport's words.
        message: String,
    },
    /// The worker stopped this session's trading.
    Stopped {
        /// Why.
        reason: StopReason,
        /// The same, in words (the error, when it failed).
        message: String,
        /// Performance at the stop.
        performance: Performance,
    },
    /// A new session found the account already holding the bot's base asset beyond
    /// dust, and refused to trade (the bot did not opt in to adopting it).
    UnexpectedHoldings {
        /// The asset, e.g. `BTC`.
        asset: String,
        /// What the account holds (free plus locked).
        quantity: String,
        /// What the holding would be worth at the mark, in the quote currency (empty
        /// when there was no mark).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        value: String,
        /// Why it was refused, in words.
        message: String,
    },
    /// A new session adopted the account's holding of the base asset as its starting
    /// position, at the mark (the bot's `spec.live.adoptHoldings: AtMark`).
    HoldingsAdopted {
        /// The asset, e.g. `BTC`.
        asset: String,
        /// Base quantity adopted.
        quantity: String,
        /// The mark it was valued at.
        price: String,
    },
    /// A fill's commission was paid in an asset that is neither base nor quote (BNB)
    /// and could not be valued: the fill's `fee` leaves it out.
    FeeUnvalued {
        /// The engine's order id.
        order_id: u64,
        /// The venue's trade id.
        trade_id: u64,
        /// The commission's asset, e.g. `BNB`.
        asset: String,
        /// The commission, in that asset.
        commission: String,
        /// Why it could not be valued.
        message: String,
    },
    /// The session's equity and PnL at the close of a bar (the ledger's equity curve and
    /// the performance fee's basis). `ts` is the bar's close.
    EquitySnapshot(Performance),
    /// A kind this reader does not know (written by a newer version): skip it.
    #[serde(other)]
    Unknown,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Body {
    /// The wire spelling of the kind, e.g. `OrderSubmitted`.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Started(_) => "Started",
            Body::Resumed(_) => "Resumed",
            Body::OrderSubmitted { .. } => "OrderSubmitted",
            Body::OrderAccepted { .. } => "OrderAccepted",
            Body::OrderRefused { .. } => "OrderRefused",
            Body::OrderRejected { .. } => "OrderRejected",
            Body::OrderCanceled { .. } => "OrderCanceled",
            Body::Fill(_) => "Fill",
            Body::StopLoss(_) => "StopLoss",
            Body::Halted { .. } => "Halted",
            Body::FeedTrouble { .. } => "FeedTrouble",
            Body::VenueTrouble { .. } => "VenueTrouble",
            Body::Stopped { .. } => "Stopped",
            Body::UnexpectedHoldings { .. } => "UnexpectedHoldings",
            Body::HoldingsAdopted { .. } => "HoldingsAdopted",
            Body::FeeUnvalued { .. } => "FeeUnvalued",
            Body::EquitySnapshot(_) => "EquitySnapshot",
            Body::Unknown => "Unknown",
        }
    }
}

/// How a session (re)started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    /// Paper or live.
    pub mode: Mode,
    /// Bars the journal held before this start (0 for a new session).
    pub replayed_bars: u64,
    /// SHA-256 of the resolved configuration the session runs.
    pub config_hash: String,
    /// Client order ids an earlier session left open on the venue, cancelled at this
    /// start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancelled_orphans: Vec<String>,
}

/// Simulated or real execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// The simulated exchange on live market data.
    Paper,
    /// The venue, with real money.
    Live,
}

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// `buy` or `sell`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// An order as the engine decided it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The engine's order id (unique in the session).
    pub order_id: u64,
    /// Buy or sell.
    pub side: Side,
    /// Market, limit or stop.
    #[serde(rename = "type")]
    pub order_type: OrderType,
    /// Base quantity.
    pub quantity: String,
    /// Limit price (limit and stop-limit orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Trigger price (stop orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// How long it works.
    pub time_in_force: TimeInForce,
    /// Refused by the venue rather than taking liquidity.
    #[serde(default, skip_serializing_if = "is_false")]
    pub post_only: bool,
}

/// An order's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderType {
    /// At the market.
    Market,
    /// At a limit price or better.
    Limit,
    /// A market order once the trigger is reached.
    StopMarket,
    /// A limit order once the trigger is reached.
    StopLimit,
}

/// How long an order works.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimeInForce {
    /// Good till cancelled.
    #[serde(rename = "GTC")]
    Gtc,
    /// Immediate or cancel.
    #[serde(rename = "IOC")]
    Ioc,
    /// Fill or kill.
    #[serde(rename = "FOK")]
    Fok,
}

/// Which pre-trade check refused an order (field `check`), with the values it compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "check",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Refusal {
    /// Trading is halted.
    Halted {
        /// Why it halted.
        cause: HaltCause,
    },
    /// Below the instrument's minimum notional.
    BelowMinNotional {
        /// Order notional.
        notional: String,
        /// The instrument's minimum.
        min: String,
    },
    /// Above the bot's `maxOrderNotional`.
    MaxOrderNotional {
        /// Order notional.
        notional: String,
        /// The limit.
        limit: String,
    },
    /// The position after the order would exceed `maxPositionNotional`.
    MaxPositionNotional {
        /// Position notional after the order.
        notional: String,
        /// The limit.
        limit: String,
    },
    /// The limit price is outside `priceBandPercent` of the last price.
    PriceBand {
        /// The order's limit price.
        price: String,
        /// The last price.
        last: String,
        /// The band, percent.
        band_percent: String,
    },
    /// A check needed a positive last price and there was none.
    NoLastPrice {
        /// The limit that needed it, e.g. `maxOrderNotional`.
        needed_by: String,
        /// The last price there was.
        last: String,
    },
    /// The order names an instrument the bot does not trade.
    UnknownInstrument {
        /// The instrument's index.
        index: u64,
    },
    /// A check this reader does not know (written by a newer version).
    #[serde(other)]
    Unknown,
}

/// Why the venue refused an order (field `reason`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "reason",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Rejection {
    /// A post-only order would have taken liquidity.
    PostOnlyWouldTake,
    /// A fill-or-kill order could not fill entirely at once.
    FokNotFillable,
    /// The order breaks the instrument's tick, lot or minimum rules.
    InstrumentRules {
        /// Which rule.
        detail: String,
    },
    /// The client order id is already in use.
    DuplicateId,
    /// Not enough cash or position.
    InsufficientBalance,
    /// Anything else the venue said.
    Venue {
        /// The venue's words.
        detail: String,
    },
    /// A reason this reader does not know (written by a newer version).
    #[serde(other)]
    Unknown,
}

/// An execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fill {
    /// The engine's order id.
    pub order_id: u64,
    /// Buy or sell.
    pub side: Side,
    /// Execution price.
    pub price: String,
    /// Base quantity credited or debited.
    pub quantity: String,
    /// The venue's fee, in the quote currency.
    pub fee: String,
    /// Maker or taker.
    pub liquidity: Liquidity,
}

/// Who provided the liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Liquidity {
    /// The order rested and was taken.
    Maker,
    /// The order took resting liquidity.
    Taker,
}

/// What the stop-loss found and the close it sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopLoss {
    /// Side of the closing market order.
    pub side: Side,
    /// Base quantity it closes.
    pub quantity: String,
    /// Unrealized loss at the mark (positive).
    pub loss: String,
    /// The position's entry value.
    pub entry_value: String,
    /// The `stopLossPercent` that was reached.
    pub limit_percent: String,
}

/// Why trading halted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HaltCause {
    /// The bot's `dailyLossLimit` was reached.
    DailyLossLimit,
    /// The bot's `maxDrawdownPercent` was reached (the kill switch).
    MaxDrawdown,
    /// Halted by hand.
    Manual,
    /// Another worker holds the bot's Lease: this one sends nothing more.
    LeaseLost,
    /// A value this reader does not know (written by a newer version).
    #[serde(other)]
    Unknown,
}

/// What went wrong with a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Trouble {
    /// The connection dropped and was made again.
    Reconnected,
    /// The order book was rebuilt after a sequence gap.
    BookResync,
    /// A value this reader does not know (written by a newer version).
    #[serde(other)]
    Unknown,
}

/// A request to the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// Sending a new order.
    Submit,
    /// Cancelling an order.
    Cancel,
    /// A value this reader does not know (written by a newer version).
    #[serde(other)]
    Unknown,
}

/// Why a session's trading stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    /// Asked to (SIGTERM).
    Shutdown,
    /// A recorded market-data file ended.
    EndOfData,
    /// Another worker holds the bot's Lease.
    LeaseLost,
    /// An error the worker cannot trade past (in `message`).
    Failed,
    /// A value this reader does not know (written by a newer version).
    #[serde(other)]
    Unknown,
}

/// A session's performance (money as decimal strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Performance {
    /// Cash plus the marked position.
    pub equity: String,
    /// Realized profit and loss.
    pub realized_pnl: String,
    /// Unrealized profit and loss.
    pub unrealized_pnl: String,
    /// Venue fees paid.
    pub fees: String,
    /// Drawdown from the equity peak, percent with two decimals.
    pub drawdown_percent: String,
    /// Bars processed.
    pub bars: u64,
    /// Orders sent.
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Orders the venue rejected.
    pub rejected: u64,
    /// Orders the risk checks refused.
    pub refused: u64,
    /// Why trading halted, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halted: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const BOT: &str = "trading/btc-bot";
    const SESSION: &str = "2026-11-25T10:00:00Z";

    fn order() -> Order {
        Order {
            order_id: 7,
            side: Side::Sell,
            order_type: OrderType::StopLimit,
            quantity: "0.00123".into(),
            price: Some("86990.00".into()),
            trigger: Some("87000.00".into()),
            time_in_force: TimeInForce::Ioc,
            post_only: false,
        }
    }

    fn performance() -> Performance {
        Performance {
            equity: "10012.50".into(),
            realized_pnl: "12.50".into(),
            unrealized_pnl: "0".into(),
            fees: "0.40".into(),
            drawdown_percent: "0.10".into(),
            bars: 185,
            orders: 4,
            fills: 4,
            rejected: 0,
            refused: 1,
            halted: None,
        }
    }

    /// One of every kind.
    fn bodies() -> Vec<Body> {
        let start = Start {
            mode: Mode::Live,
            replayed_bars: 0,
            config_hash: "ab12".into(),
            cancelled_orphans: vec!["tdeadbeef000000-3".into()],
        };
        vec![
            Body::Started(start.clone()),
            Body::Resumed(Start {
                replayed_bars: 12,
                cancelled_orphans: Vec::new(),
                ..start
            }),
            Body::OrderSubmitted { order: order() },
            Body::OrderAccepted {
                order_id: 7,
                triggered: true,
            },
            Body::OrderRefused {
                order: order(),
                refusal: Refusal::MaxOrderNotional {
                    notional: "107.00".into(),
                    limit: "100".into(),
                },
                message: "order notional 107.00 exceeds maxOrderNotional 100".into(),
            },
            Body::OrderRejected {
                order_id: 8,
                rejection: Rejection::PostOnlyWouldTake,
                message: "post-only order would take liquidity".into(),
            },
            Body::OrderCanceled {
                order_id: 9,
                unfilled: "0.001".into(),
            },
            Body::Fill(Fill {
                order_id: 7,
                side: Side::Buy,
                price: "87232.01".into(),
                quantity: "0.00123".into(),
                fee: "0.107".into(),
                liquidity: Liquidity::Taker,
            }),
            Body::StopLoss(StopLoss {
                side: Side::Sell,
                quantity: "0.00123".into(),
                loss: "5.10".into(),
                entry_value: "100.00".into(),
                limit_percent: "5".into(),
            }),
            Body::Halted {
                cause: HaltCause::MaxDrawdown,
                message: "max drawdown at 5: 2.1% >= 2%".into(),
            },
            Body::FeedTrouble {
                feed: "binance-market".into(),
                trouble: Trouble::Reconnected,
            },
            Body::VenueTrouble {
                operation: Operation::Submit,
                client_order_id: Some("t1a2b3c4d5e6f-7".into()),
                message: "timed out".into(),
            },
            Body::Stopped {
                reason: StopReason::Shutdown,
                message: "stopped".into(),
                performance: performance(),
            },
            Body::UnexpectedHoldings {
                asset: "BTC".into(),
                quantity: "1".into(),
                value: "87000.00".into(),
                message: "the account holds 1 BTC".into(),
            },
            Body::HoldingsAdopted {
                asset: "BTC".into(),
                quantity: "0.01".into(),
                price: "87000.00".into(),
            },
            Body::FeeUnvalued {
                order_id: 7,
                trade_id: 1001,
                asset: "BNB".into(),
                commission: "0.0001".into(),
                message: "no BNBUSDT price".into(),
            },
            Body::EquitySnapshot(performance()),
        ]
    }

    #[test]
    fn every_kind_round_trips_under_its_own_kind() {
        for (seq, body) in bodies().into_iter().enumerate() {
            let e = Event::new(
                BOT,
                SESSION,
                seq as u64,
                "2026-11-25T10:03:00Z".into(),
                body,
            );
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["kind"], e.kind(), "{v}");
            assert_eq!(v["version"], VERSION);
            assert_eq!(v["sequence"], seq as u64);
            assert!(v.get("body").is_none(), "flat: {v}");
            let back: Event = serde_json::from_value(v).unwrap();
            assert_eq!(back, e);
        }
    }

    #[test]
    fn the_documented_example_reads() {
        let text = r#"{"version":1,"id":"trading/btc-bot/2026-11-25T10:00:00Z/42",
          "bot":"trading/btc-bot","session":"2026-11-25T10:00:00Z","sequence":42,
          "ts":"2026-11-25T10:03:00Z","kind":"Fill","orderId":7,"side":"buy",
          "price":"87232.01","quantity":"0.00123","fee":"0.107","liquidity":"taker"}"#;
        let e: Event = serde_json::from_str(text).unwrap();
        assert_eq!(e.id, Event::id_for(BOT, SESSION, 42));
        let Body::Fill(f) = &e.body else {
            panic!("{e:?}")
        };
        assert_eq!((f.price.as_str(), f.side), ("87232.01", Side::Buy));
    }

    #[test]
    fn the_wire_form_is_pinned() {
        let e = Event::new(
            BOT,
            SESSION,
            3,
            "2026-11-25T10:03:00Z".into(),
            Body::OrderRefused {
                order: order(),
                refusal: Refusal::PriceBand {
                    price: "90000.00".into(),
                    last: "87000.00".into(),
                    band_percent: "1".into(),
                },
                message: "outside the band".into(),
            },
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({
                "version": 1, "id": "trading/btc-bot/2026-11-25T10:00:00Z/3",
                "bot": BOT, "session": SESSION, "sequence": 3, "ts": "2026-11-25T10:03:00Z",
                "kind": "OrderRefused",
                "order": {"orderId": 7, "side": "sell", "type": "stopLimit", "quantity": "0.00123",
                          "price": "86990.00", "trigger": "87000.00", "timeInForce": "IOC"},
                "refusal": {"check": "priceBand", "price": "90000.00", "last": "87000.00",
                            "bandPercent": "1"},
                "message": "outside the band",
            })
        );
    }

    #[test]
    fn consumers_ignore_fields_they_do_not_know() {
        let mut v = serde_json::to_value(Event::new(
            BOT,
            SESSION,
            0,
            "2026-11-25T10:00:00Z".into(),
            Body::OrderCanceled {
                order_id: 1,
                unfilled: "1".into(),
            },
        ))
        .unwrap();
        v["addedLater"] = Value::from("x");
        let e: Event = serde_json::from_value(v).unwrap();
        assert_eq!(e.kind(), "OrderCanceled");
    }

    #[test]
    fn a_version_1_reader_tolerates_newer_kinds_and_values() {
        let envelope = |rest: Value| {
            let mut v = json!({"version": 1, "id": "x/y/0", "bot": BOT, "session": SESSION,
                               "sequence": 0, "ts": "2026-11-25T10:00:00Z"});
            v.as_object_mut()
                .unwrap()
                .extend(rest.as_object().unwrap().clone());
            serde_json::from_value::<Event>(v)
        };
        let e = envelope(json!({"kind": "MarginCall", "level": "0.8"})).unwrap();
        assert_eq!((e.body.clone(), e.kind()), (Body::Unknown, "Unknown"));
        assert_eq!(e.sequence, 0);
        let e = envelope(json!({"kind": "Halted", "cause": "exchangeMaintenance",
                                "message": "m"}))
        .unwrap();
        assert!(
            matches!(
                e.body,
                Body::Halted {
                    cause: HaltCause::Unknown,
                    ..
                }
            ),
            "{e:?}"
        );
        let e =
            envelope(json!({"kind": "FeedTrouble", "feed": "f", "trouble": "throttled"})).unwrap();
        assert!(matches!(
            e.body,
            Body::FeedTrouble {
                trouble: Trouble::Unknown,
                ..
            }
        ));
        let e = envelope(json!({"kind": "VenueTrouble", "operation": "amend", "message": "m"}))
            .unwrap();
        assert!(matches!(
            e.body,
            Body::VenueTrouble {
                operation: Operation::Unknown,
                ..
            }
        ));
        let mut stopped = serde_json::to_value(performance()).unwrap();
        stopped = json!({"kind": "Stopped", "reason": "maintenance", "message": "m",
                         "performance": stopped});
        let e = envelope(stopped).unwrap();
        assert!(matches!(
            e.body,
            Body::Stopped {
                reason: StopReason::Unknown,
                ..
            }
        ));
        let mut refused = serde_json::to_value(order()).unwrap();
        refused = json!({"kind": "OrderRefused", "order": refused, "message": "m",
                         "refusal": {"check": "maxLeverage", "limit": "3"}});
        let e = envelope(refused).unwrap();
        assert!(matches!(
            e.body,
            Body::OrderRefused {
                refusal: Refusal::Unknown,
                ..
            }
        ));
        let e = envelope(
            json!({"kind": "OrderRejected", "orderId": 1, "message": "m",
                                "rejection": {"reason": "selfTrade"}}),
        )
        .unwrap();
        assert!(matches!(
            e.body,
            Body::OrderRejected {
                rejection: Rejection::Unknown,
                ..
            }
        ));
    }

    #[test]
    fn ids_fit_a_message_id_and_stay_stable() {
        assert_eq!(
            Event::id_for(BOT, SESSION, 42),
            "trading/btc-bot/2026-11-25T10:00:00Z/42"
        );
        let long = "n".repeat(300);
        let id = Event::id_for(&long, SESSION, 42);
        assert!(id.len() <= MAX_ID_LEN && id.ends_with("/42"), "{id}");
        assert_eq!(id, Event::id_for(&long, SESSION, 42));
        assert_ne!(id, Event::id_for(&long, "another", 42));
        assert_ne!(id, Event::id_for(&format!("{long}x"), SESSION, 42));
    }
}
