//! Binance's documented JSON messages (serde shapes) and their exact conversion into the
//! core's fixed-point types. Decimal strings are parsed at the symbol's precision; a
//! value that does not fit is an error naming the field, never a rounded number.

use serde::Deserialize;
use tradewind_core::data::{Bar, BookLevel, BookSnapshot, Side, UnixNanos};
use tradewind_core::fixed::{Money, Price, Quantity};

use super::error::VenueError;

/// Decimals used when parsing a symbol's prices and quantities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Precision {
    /// Price decimals (from the tick size).
    pub price: u8,
    /// Quantity decimals (from the step size).
    pub qty: u8,
}

impl Default for Precision {
    /// Eight decimals for both: Binance spot's wire format.
    fn default() -> Self {
        Self { price: 8, qty: 8 }
    }
}

pub(crate) fn field_err(ctx: &str, field: &str, detail: impl ToString) -> VenueError {
    VenueError::Field {
        endpoint: ctx.to_owned(),
        field: field.to_owned(),
        detail: detail.to_string(),
    }
}

pub(crate) fn price(ctx: &str, field: &str, s: &str, precision: u8) -> Result<Price, VenueError> {
    Price::parse(s, precision).map_err(|e| field_err(ctx, field, e))
}

pub(crate) fn qty(ctx: &str, field: &str, s: &str, precision: u8) -> Result<Quantity, VenueError> {
    Quantity::parse(s, precision).map_err(|e| field_err(ctx, field, e))
}

pub(crate) fn money(ctx: &str, field: &str, s: &str) -> Result<Money, VenueError> {
    Money::parse(s).map_err(|e| field_err(ctx, field, e))
}

/// Milliseconds since the epoch to [`UnixNanos`].
pub(crate) fn ms(ctx: &str, field: &str, millis: i64) -> Result<UnixNanos, VenueError> {
    millis
        .checked_mul(1_000_000)
        .ok_or_else(|| field_err(ctx, field, format!("timestamp {millis} ms is out of range")))
}

/// Binance's `BUY`/`SELL`.
pub(crate) fn side(ctx: &str, field: &str, s: &str) -> Result<Side, VenueError> {
    match s {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(field_err(ctx, field, format!("unknown side {other:?}"))),
    }
}

pub(crate) fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Number of significant decimals of a decimal string (`"0.01000000"` → 2).
pub(crate) fn significant_decimals(s: &str) -> u8 {
    match s.split_once('.') {
        None => 0,
        Some((_, frac)) => {
            let trimmed = frac.trim_end_matches('0');
            u8::try_from(trimmed.len()).unwrap_or(u8::MAX)
        }
    }
}

/// Order status (`X` in executionReport, `status` in REST).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Accepted by the engine.
    New,
    /// Part of the order filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Canceled by the user.
    Canceled,
    /// Currently unused by Binance.
    PendingCancel,
    /// Not accepted by the engine.
    Rejected,
    /// Canceled by the order type's rules (IOC/FOK/market leftovers) or by the exchange.
    Expired,
    /// Expired by self-trade prevention.
    ExpiredInMatch,
    /// A status this client does not know yet (kept verbatim).
    Other(String),
}

impl OrderStatus {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "NEW" => Self::New,
            "PARTIALLY_FILLED" => Self::PartiallyFilled,
            "FILLED" => Self::Filled,
            "CANCELED" => Self::Canceled,
            "PENDING_CANCEL" => Self::PendingCancel,
            "REJECTED" => Self::Rejected,
            "EXPIRED" => Self::Expired,
            "EXPIRED_IN_MATCH" => Self::ExpiredInMatch,
            other => Self::Other(other.to_owned()),
        }
    }

    /// `true` once the order can no longer fill.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Canceled | Self::Rejected | Self::Expired | Self::ExpiredInMatch
        )
    }
}

/// Execution type (`x` in executionReport): what just happened to the order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExecType {
    /// Accepted into the engine.
    New,
    /// Canceled by the user.
    Canceled,
    /// Currently unused.
    Replaced,
    /// Rejected (cancel-replace).
    Rejected,
    /// (Part of) the order traded.
    Trade,
    /// Expired by its type's rules or by the exchange.
    Expired,
    /// Expired by self-trade prevention.
    TradePrevention,
    /// An execution type this client does not know yet (kept verbatim).
    Other(String),
}

impl ExecType {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "NEW" => Self::New,
            "CANCELED" => Self::Canceled,
            "REPLACED" => Self::Replaced,
            "REJECTED" => Self::Rejected,
            "TRADE" => Self::Trade,
            "EXPIRED" => Self::Expired,
            "TRADE_PREVENTION" => Self::TradePrevention,
            other => Self::Other(other.to_owned()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Market streams
// ---------------------------------------------------------------------------------------

/// `<symbol>@trade`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TradeMsg {
    #[serde(rename = "t")]
    pub trade_id: u64,
    #[serde(rename = "p")]
    pub price: String,
    #[serde(rename = "q")]
    pub qty: String,
    #[serde(rename = "T")]
    pub trade_time: i64,
    /// Is the buyer the market maker? Then the seller was the aggressor.
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// `<symbol>@bookTicker` (spot: no event time).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BookTickerMsg {
    #[serde(rename = "b")]
    pub bid: String,
    #[serde(rename = "B")]
    pub bid_qty: String,
    #[serde(rename = "a")]
    pub ask: String,
    #[serde(rename = "A")]
    pub ask_qty: String,
}

/// `<symbol>@depth` / `<symbol>@depth@100ms`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DepthUpdateMsg {
    #[serde(rename = "E")]
    pub event_time: i64,
    #[serde(rename = "U")]
    pub first_update_id: u64,
    #[serde(rename = "u")]
    pub final_update_id: u64,
    #[serde(rename = "b")]
    pub bids: Vec<(String, String)>,
    #[serde(rename = "a")]
    pub asks: Vec<(String, String)>,
}

/// `<symbol>@kline_<interval>`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KlineMsg {
    #[serde(rename = "E")]
    pub event_time: i64,
    #[serde(rename = "k")]
    pub k: KlineBody,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KlineBody {
    #[serde(rename = "t")]
    pub start: i64,
    #[serde(rename = "o")]
    pub open: String,
    #[serde(rename = "h")]
    pub high: String,
    #[serde(rename = "l")]
    pub low: String,
    #[serde(rename = "c")]
    pub close: String,
    #[serde(rename = "v")]
    pub volume: String,
    #[serde(rename = "x")]
    pub closed: bool,
}

/// `GET /api/v3/depth`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DepthSnapshotMsg {
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: u64,
    pub bids: Vec<(String, String)>,
    pub asks: Vec<(String, String)>,
}

/// A parsed diff-depth event, ready for [`DepthSync`](super::depth::DepthSync).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthUpdate {
    /// Event time.
    pub ts: UnixNanos,
    /// `U`: first update ID in the event.
    pub first_update_id: u64,
    /// `u`: final update ID in the event.
    pub final_update_id: u64,
    /// Bid levels to set (size 0 removes).
    pub bids: Vec<BookLevel>,
    /// Ask levels to set (size 0 removes).
    pub asks: Vec<BookLevel>,
}

/// A parsed REST depth snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthSnapshot {
    /// `lastUpdateId`.
    pub last_update_id: u64,
    /// Bids, best first as sent.
    pub bids: Vec<BookLevel>,
    /// Asks, best first as sent.
    pub asks: Vec<BookLevel>,
}

impl DepthSnapshot {
    /// As the core's snapshot, stamped `ts`.
    pub fn to_book_snapshot(&self, ts: UnixNanos) -> BookSnapshot {
        BookSnapshot {
            ts,
            bids: self.bids.clone(),
            asks: self.asks.clone(),
        }
    }
}

fn levels(
    ctx: &str,
    field: &str,
    raw: &[(String, String)],
    p: Precision,
) -> Result<Vec<BookLevel>, VenueError> {
    raw.iter()
        .map(|(px, sz)| {
            Ok(BookLevel {
                price: price(ctx, field, px, p.price)?,
                size: qty(ctx, field, sz, p.qty)?,
            })
        })
        .collect()
}

impl DepthUpdateMsg {
    pub(crate) fn parse(self, ctx: &str, p: Precision) -> Result<DepthUpdate, VenueError> {
        Ok(DepthUpdate {
            ts: ms(ctx, "E", self.event_time)?,
            first_update_id: self.first_update_id,
            final_update_id: self.final_update_id,
            bids: levels(ctx, "b", &self.bids, p)?,
            asks: levels(ctx, "a", &self.asks, p)?,
        })
    }
}

impl DepthSnapshotMsg {
    pub(crate) fn parse(self, ctx: &str, p: Precision) -> Result<DepthSnapshot, VenueError> {
        Ok(DepthSnapshot {
            last_update_id: self.last_update_id,
            bids: levels(ctx, "bids", &self.bids, p)?,
            asks: levels(ctx, "asks", &self.asks, p)?,
        })
    }
}

impl KlineMsg {
    /// The bar if the kline is closed (`x: true`), `None` while it is still forming.
    pub(crate) fn closed_bar(&self, ctx: &str, p: Precision) -> Result<Option<Bar>, VenueError> {
        if !self.k.closed {
            return Ok(None);
        }
        let k = &self.k;
        let bar = Bar::new(
            ms(ctx, "k.t", k.start)?,
            price(ctx, "k.o", &k.open, p.price)?,
            price(ctx, "k.h", &k.high, p.price)?,
            price(ctx, "k.l", &k.low, p.price)?,
            price(ctx, "k.c", &k.close, p.price)?,
            qty(ctx, "k.v", &k.volume, p.qty)?,
        )
        .map_err(|e| field_err(ctx, "k", e))?;
        Ok(Some(bar))
    }
}

// ---------------------------------------------------------------------------------------
// User data stream
// ---------------------------------------------------------------------------------------

/// `executionReport`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExecutionReportMsg {
    #[serde(rename = "E")]
    pub event_time: i64,
    #[serde(rename = "s")]
    pub symbol: String,
    #[serde(rename = "c")]
    pub client_order_id: String,
    #[serde(rename = "S")]
    pub side: String,
    #[serde(rename = "o")]
    pub order_type: String,
    #[serde(rename = "q")]
    pub order_qty: String,
    #[serde(rename = "p")]
    pub order_price: String,
    #[serde(rename = "C", default)]
    pub orig_client_order_id: Option<String>,
    #[serde(rename = "x")]
    pub exec_type: String,
    #[serde(rename = "X")]
    pub status: String,
    #[serde(rename = "r")]
    pub reject_reason: String,
    #[serde(rename = "i")]
    pub order_id: u64,
    #[serde(rename = "l")]
    pub last_qty: String,
    #[serde(rename = "z")]
    pub cum_qty: String,
    #[serde(rename = "L")]
    pub last_price: String,
    #[serde(rename = "n")]
    pub commission: String,
    #[serde(rename = "N")]
    pub commission_asset: Option<String>,
    #[serde(rename = "T")]
    pub transaction_time: i64,
    #[serde(rename = "t")]
    pub trade_id: i64,
    #[serde(rename = "m")]
    pub maker: bool,
    #[serde(rename = "Z")]
    pub cum_quote_qty: String,
}

/// One `B` entry of `outboundAccountPosition`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AccountBalanceMsg {
    #[serde(rename = "a")]
    pub asset: String,
    #[serde(rename = "f")]
    pub free: String,
    #[serde(rename = "l")]
    pub locked: String,
}

/// `outboundAccountPosition`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AccountPositionMsg {
    #[serde(rename = "B")]
    pub balances: Vec<AccountBalanceMsg>,
}

/// `balanceUpdate`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BalanceUpdateMsg {
    #[serde(rename = "a")]
    pub asset: String,
    #[serde(rename = "d")]
    pub delta: String,
    #[serde(rename = "T")]
    pub clear_time: i64,
}

/// A balance of one asset. Amounts are [`Money`] (9 decimals, `i128`): balances of any
/// asset fit, however large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// Asset, e.g. `BTC`.
    pub asset: String,
    /// Available.
    pub free: Money,
    /// Locked in open orders.
    pub locked: Money,
}

/// An order update from the user data stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionReport {
    /// Symbol.
    pub symbol: String,
    /// The order's own client order ID. For a cancellation Binance puts the cancel
    /// request's ID in `c` and the order's in `C`; this is always the order's.
    pub client_order_id: String,
    /// Binance's order ID.
    pub order_id: u64,
    /// Order side.
    pub side: Side,
    /// Order type as Binance spells it (`LIMIT`, `MARKET`, `LIMIT_MAKER`, …).
    pub order_type: String,
    /// Order status after this event.
    pub status: OrderStatus,
    /// What happened.
    pub exec_type: ExecType,
    /// Reject reason (`NONE` unless rejected).
    pub reject_reason: String,
    /// Order price (zero for market orders).
    pub order_price: Price,
    /// Order quantity.
    pub order_qty: Quantity,
    /// Quantity of this fill (zero unless `exec_type` is `Trade`).
    pub last_qty: Quantity,
    /// Price of this fill.
    pub last_price: Price,
    /// Cumulative filled quantity.
    pub cum_qty: Quantity,
    /// Cumulative quote quantity.
    pub cum_quote_qty: Money,
    /// Commission of this fill.
    pub commission: Money,
    /// Asset the commission was taken in (`None` without a fill).
    pub commission_asset: Option<String>,
    /// Trade ID of this fill (`None` without a fill).
    pub trade_id: Option<u64>,
    /// Was this fill on the maker side?
    pub maker: bool,
    /// Transaction time.
    pub ts: UnixNanos,
    /// Event time.
    pub event_ts: UnixNanos,
}

impl ExecutionReportMsg {
    pub(crate) fn parse(self, ctx: &str, p: Precision) -> Result<ExecutionReport, VenueError> {
        let exec_type = ExecType::parse(&self.exec_type);
        // On a cancel, `c` is the cancel request's ID and `C` the order's.
        let client_order_id = match self.orig_client_order_id {
            Some(orig) if !orig.is_empty() => orig,
            _ => self.client_order_id,
        };
        Ok(ExecutionReport {
            side: side(ctx, "S", &self.side)?,
            order_price: price(ctx, "p", &self.order_price, p.price)?,
            order_qty: qty(ctx, "q", &self.order_qty, p.qty)?,
            last_qty: qty(ctx, "l", &self.last_qty, p.qty)?,
            last_price: price(ctx, "L", &self.last_price, p.price)?,
            cum_qty: qty(ctx, "z", &self.cum_qty, p.qty)?,
            cum_quote_qty: money(ctx, "Z", &self.cum_quote_qty)?,
            commission: money(ctx, "n", &self.commission)?,
            commission_asset: self.commission_asset.filter(|a| !a.is_empty()),
            trade_id: u64::try_from(self.trade_id).ok(),
            ts: ms(ctx, "T", self.transaction_time)?,
            event_ts: ms(ctx, "E", self.event_time)?,
            symbol: self.symbol,
            client_order_id,
            order_id: self.order_id,
            order_type: self.order_type,
            status: OrderStatus::parse(&self.status),
            exec_type,
            reject_reason: self.reject_reason,
            maker: self.maker,
        })
    }
}

impl AccountPositionMsg {
    pub(crate) fn parse(self, ctx: &str) -> Result<Vec<Balance>, VenueError> {
        self.balances
            .into_iter()
            .map(|b| {
                Ok(Balance {
                    free: money(ctx, "B.f", &b.free)?,
                    locked: money(ctx, "B.l", &b.locked)?,
                    asset: b.asset,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_decimals_of_filter_values() {
        assert_eq!(significant_decimals("0.01000000"), 2);
        assert_eq!(significant_decimals("0.00000100"), 6);
        assert_eq!(significant_decimals("1.00000000"), 0);
        assert_eq!(significant_decimals("10"), 0);
    }

    #[test]
    fn too_many_decimals_names_the_field() {
        let e = price("GET /api/v3/depth", "bids", "0.001", 2).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("GET /api/v3/depth"), "{text}");
        assert!(text.contains("`bids`"), "{text}");
        assert!(text.contains("0.001"), "{text}");
    }
}
