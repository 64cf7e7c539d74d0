//! Orders, matching against the replayed market, balances, fees and the user data stream.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::dec::Dec;
use crate::market::{Event, EventKind};
use crate::state::{Balance, State};

/// Request parameters (query string wins over the body, as on Binance).
pub type Params = HashMap<String, String>;

/// A Binance error reply: HTTP status and `{"code":..,"msg":..}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Binance error code.
    pub code: i64,
    /// Message.
    pub msg: String,
}

impl ApiError {
    /// A 400 with `code` and `msg`.
    pub fn bad(code: i64, msg: impl Into<String>) -> Self {
        Self {
            status: 400,
            code,
            msg: msg.into(),
        }
    }

    pub(crate) fn mandatory(name: &str) -> Self {
        Self::bad(
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    fn rejected(msg: &str) -> Self {
        Self::bad(-2010, msg)
    }
}

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// `BUY` / `SELL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// Supported order types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderType {
    /// Market.
    Market,
    /// Limit (with a time in force).
    Limit,
    /// Post-only limit.
    LimitMaker,
    /// A market order once the last trade reaches `stopPrice` (sell: at or below it;
    /// buy: at or above it).
    StopLoss,
    /// A limit order once the last trade reaches `stopPrice`.
    StopLossLimit,
}

impl OrderType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "MARKET",
            OrderType::Limit => "LIMIT",
            OrderType::LimitMaker => "LIMIT_MAKER",
            OrderType::StopLoss => "STOP_LOSS",
            OrderType::StopLossLimit => "STOP_LOSS_LIMIT",
        }
    }

    /// STOP_LOSS or STOP_LOSS_LIMIT.
    pub fn is_stop(self) -> bool {
        matches!(self, OrderType::StopLoss | OrderType::StopLossLimit)
    }

    /// Takes a limit price and a time in force.
    fn is_limit(self) -> bool {
        matches!(self, OrderType::Limit | OrderType::StopLossLimit)
    }
}

/// Time in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    /// Good till cancelled.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill.
    Fok,
}

impl TimeInForce {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
        }
    }
}

/// Order status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Accepted, nothing filled.
    New,
    /// Partly filled, still working.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled by the user.
    Canceled,
    /// Expired by its type's rules (IOC/FOK/market without liquidity).
    Expired,
}

impl OrderStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "NEW",
            OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Expired => "EXPIRED",
        }
    }

    /// NEW or PARTIALLY_FILLED.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }
}

/// An order the mock accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// Owning API key.
    pub api_key: String,
    /// Symbol.
    pub symbol: String,
    /// Exchange order id.
    pub order_id: u64,
    /// Client order id (sent or generated).
    pub client_order_id: String,
    /// Side.
    pub side: Side,
    /// Type.
    pub order_type: OrderType,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Limit price (zero for market orders).
    pub price: Dec,
    /// Ordered quantity.
    pub orig_qty: Dec,
    /// Filled quantity.
    pub executed_qty: Dec,
    /// Filled quote quantity.
    pub cum_quote: Dec,
    /// Status.
    pub status: OrderStatus,
    /// Creation time (server ms).
    pub time: i64,
    /// Last update time (server ms).
    pub update_time: i64,
    /// Amount still reserved (quote for buys, base for sells).
    pub locked: Dec,
    /// Trigger of a stop order (zero otherwise).
    pub stop_price: Dec,
    /// A stop order's trigger was reached (always true for other types).
    pub working: bool,
}

/// One fill of one of the account's orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MyTrade {
    pub api_key: String,
    pub symbol: String,
    pub id: u64,
    pub order_id: u64,
    pub price: Dec,
    pub qty: Dec,
    pub quote_qty: Dec,
    pub commission: Dec,
    pub commission_asset: String,
    pub time: i64,
    pub is_buyer: bool,
    pub is_maker: bool,
}

fn parse_dec(p: &Params, name: &str) -> Result<Option<Dec>, ApiError> {
    match p.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<Dec>().map(Some).map_err(|_| {
            ApiError::bad(
                -1100,
                format!("Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."),
            )
        }),
    }
}

fn order_json_base(o: &Order) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("symbol".into(), json!(o.symbol));
    m.insert("orderId".into(), json!(o.order_id));
    m.insert("orderListId".into(), json!(-1));
    m.insert("clientOrderId".into(), json!(o.client_order_id));
    m
}

/// `GET /api/v3/order` / `openOrders` item.
pub fn order_query_json(o: &Order) -> Value {
    let mut m = order_json_base(o);
    m.insert("price".into(), json!(o.price.to_string()));
    m.insert("origQty".into(), json!(o.orig_qty.to_string()));
    m.insert("executedQty".into(), json!(o.executed_qty.to_string()));
    m.insert("cummulativeQuoteQty".into(), json!(o.cum_quote.to_string()));
    m.insert("status".into(), json!(o.status.as_str()));
    m.insert("timeInForce".into(), json!(o.time_in_force.as_str()));
    m.insert("type".into(), json!(o.order_type.as_str()));
    m.insert("side".into(), json!(o.side.as_str()));
    m.insert("stopPrice".into(), json!(o.stop_price.to_string()));
    m.insert("icebergQty".into(), json!(Dec::ZERO.to_string()));
    m.insert("time".into(), json!(o.time));
    m.insert("updateTime".into(), json!(o.update_time));
    m.insert(
        "isWorking".into(),
        json!(o.order_type != OrderType::Market && o.working),
    );
    m.insert("origQuoteOrderQty".into(), json!(Dec::ZERO.to_string()));
    Value::Object(m)
}

fn cancel_json(o: &Order, orig: &str, cancel_id: &str) -> Value {
    json!({
        "symbol": o.symbol,
        "origClientOrderId": orig,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": cancel_id,
        "price": o.price.to_string(),
        "origQty": o.orig_qty.to_string(),
        "executedQty": o.executed_qty.to_string(),
        "cummulativeQuoteQty": o.cum_quote.to_string(),
        "status": o.status.as_str(),
        "timeInForce": o.time_in_force.as_str(),
        "type": o.order_type.as_str(),
        "side": o.side.as_str(),
    })
}

/// A fill produced while processing an order: price, qty, commission.
struct Fill {
    price: Dec,
    qty: Dec,
    commission: Dec,
    asset: String,
}

/// What an execution report describes.
struct Exec<'a> {
    x: &'a str,
    last_qty: Dec,
    last_price: Dec,
    commission: Option<(Dec, &'a str)>,
    trade_id: i64,
    maker: bool,
    orig_cid: &'a str,
    client_id: Option<&'a str>,
}

impl Exec<'_> {
    fn plain(x: &str) -> Exec<'_> {
        Exec {
            x,
            last_qty: Dec::ZERO,
            last_price: Dec::ZERO,
            commission: None,
            trade_id: -1,
            maker: false,
            orig_cid: "",
            client_id: None,
        }
    }
}

fn new_client_id(n: u64) -> String {
    format!("mock{n:018}")
}

impl State {
    fn balance(&mut self, api_key: &str, asset: &str) -> &mut Balance {
        self.accounts
            .get_mut(api_key)
            .expect("account checked by the caller")
            .balances
            .entry(asset.to_owned())
            .or_default()
    }

    fn execution_report(&self, o: &Order, e: &Exec<'_>, now: i64) {
        let mut v = json!({
            "e": "executionReport",
            "E": now,
            "s": o.symbol,
            "c": e.client_id.unwrap_or(&o.client_order_id),
            "S": o.side.as_str(),
            "o": o.order_type.as_str(),
            "f": o.time_in_force.as_str(),
            "q": o.orig_qty.to_string(),
            "p": o.price.to_string(),
            "P": o.stop_price.to_string(),
            "F": Dec::ZERO.to_string(),
            "g": -1,
            "C": e.orig_cid,
            "x": e.x,
            "X": o.status.as_str(),
            "r": "NONE",
            "i": o.order_id,
            "l": e.last_qty.to_string(),
            "z": o.executed_qty.to_string(),
            "L": e.last_price.to_string(),
            "n": e.commission.map_or("0".to_owned(), |c| c.0.to_string()),
            "N": e.commission.map(|c| c.1),
            "T": now,
            "t": e.trade_id,
            "I": o.order_id * 2,
            "w": o.status.is_open() && o.order_type != OrderType::Market,
            "m": e.maker,
            "M": false,
            "O": o.time,
            "Z": o.cum_quote.to_string(),
            "Y": e.last_price.times(e.last_qty).to_string(),
            "Q": Dec::ZERO.to_string(),
            "V": "NONE",
        });
        if o.status.is_open() && o.order_type != OrderType::Market {
            v["W"] = json!(o.time);
        }
        self.push_user(&o.api_key, v.to_string());
    }

    fn account_position(&mut self, api_key: &str, assets: &[&str], now: i64) {
        let Some(acc) = self.accounts.get_mut(api_key) else {
            return;
        };
        acc.update_time = now;
        let b: Vec<Value> = assets
            .iter()
            .map(|a| {
                let bal = acc.balances.get(*a).copied().unwrap_or_default();
                json!({"a": a, "f": bal.free.to_string(), "l": bal.locked.to_string()})
            })
            .collect();
        let v = json!({"e": "outboundAccountPosition", "E": now, "u": now, "B": b});
        self.push_user(api_key, v.to_string());
    }

    /// Applies one fill to order `idx`: balances, order totals, trade record, reports.
    fn fill(&mut self, idx: usize, price: Dec, qty: Dec, maker: bool, now: i64) -> Fill {
        let bps = Dec::from_raw(self.config.commission_bps as i128 * 10_000);
        let (api_key, side, mi) = {
            let o = &self.orders[idx];
            (
                o.api_key.clone(),
                o.side,
                self.market_index(&o.symbol).unwrap_or(0),
            )
        };
        let (base, quote) = {
            let r = &self.markets[mi].rules;
            (r.base.clone(), r.quote.clone())
        };
        let quote_qty = price.times(qty);
        let trade_id = self.markets[mi].next_trade_id;
        self.markets[mi].next_trade_id += 1;
        // Paid in a third asset (BNB) when the account says so and it has a price in the
        // quote; otherwise in the asset received.
        let third = self
            .accounts
            .get(&api_key)
            .and_then(|a| a.commission_asset.clone())
            .and_then(|a| Some((self.ticker(&format!("{a}{quote}"))?, a)))
            .filter(|(px, _)| !px.is_zero());
        let (commission, asset) = match (&third, side) {
            (Some((px, a)), _) => (quote_qty.times(bps).over(*px), a.clone()),
            (None, Side::Buy) => (qty.times(bps), base.clone()),
            (None, Side::Sell) => (quote_qty.times(bps), quote.clone()),
        };
        let (base_fee, quote_fee) = match (&third, side) {
            (Some(_), _) => (Dec::ZERO, Dec::ZERO),
            (None, Side::Buy) => (commission, Dec::ZERO),
            (None, Side::Sell) => (Dec::ZERO, commission),
        };
        // Release what this fill consumes from the reservation, then settle.
        let o = &mut self.orders[idx];
        let release = match side {
            Side::Buy if o.order_type != OrderType::Market => o.price.times(qty).min(o.locked),
            Side::Sell if o.order_type != OrderType::Market => qty.min(o.locked),
            _ => Dec::ZERO,
        };
        o.locked -= release;
        o.executed_qty += qty;
        o.cum_quote += quote_qty;
        o.update_time = now;
        o.status = if o.executed_qty >= o.orig_qty {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        let leftover = if o.status == OrderStatus::Filled {
            std::mem::take(&mut o.locked)
        } else {
            Dec::ZERO
        };
        let order_id = o.order_id;
        let symbol = o.symbol.clone();
        match side {
            Side::Buy => {
                let b = self.balance(&api_key, &quote);
                b.locked -= release + leftover;
                b.free += release + leftover;
                b.free -= quote_qty;
                self.balance(&api_key, &base).free += qty - base_fee;
            }
            Side::Sell => {
                let b = self.balance(&api_key, &base);
                b.locked -= release + leftover;
                b.free += release + leftover;
                b.free -= qty;
                self.balance(&api_key, &quote).free += quote_qty - quote_fee;
            }
        }
        if third.is_some() {
            self.balance(&api_key, &asset).free -= commission;
        }
        self.my_trades.push(MyTrade {
            api_key: api_key.clone(),
            symbol,
            id: trade_id,
            order_id,
            price,
            qty,
            quote_qty,
            commission,
            commission_asset: asset.clone(),
            time: now,
            is_buyer: side == Side::Buy,
            is_maker: maker,
        });
        self.markets[mi].last_price = Some(price);
        let o = self.orders[idx].clone();
        self.execution_report(
            &o,
            &Exec {
                x: "TRADE",
                last_qty: qty,
                last_price: price,
                commission: Some((commission, &asset)),
                trade_id: trade_id as i64,
                maker,
                ..Exec::plain("TRADE")
            },
            now,
        );
        let mut assets = vec![base.as_str(), quote.as_str()];
        if third.is_some() {
            assets.push(asset.as_str());
        }
        self.account_position(&api_key, &assets, now);
        Fill {
            price,
            qty,
            commission,
            asset,
        }
    }

    /// Walks the book for a taker order: `(price, qty)` levels it would take.
    fn taker_levels(&self, mi: usize, side: Side, limit: Option<Dec>, qty: Dec) -> Vec<(Dec, Dec)> {
        let m = &self.markets[mi];
        let levels: Box<dyn Iterator<Item = (&Dec, &Dec)>> = match side {
            Side::Buy => Box::new(m.asks.iter()),
            Side::Sell => Box::new(m.bids.iter().rev()),
        };
        let mut left = qty;
        let mut out = Vec::new();
        for (p, q) in levels {
            if left.is_zero() {
                break;
            }
            let crosses = limit.is_none_or(|l| match side {
                Side::Buy => *p <= l,
                Side::Sell => *p >= l,
            });
            if !crosses {
                break;
            }
            let take = left.min(*q);
            out.push((*p, take));
            left -= take;
        }
        out
    }

    /// `POST /api/v3/order`.
    pub fn place_order(&mut self, api_key: &str, p: &Params) -> Result<Value, ApiError> {
        let symbol = p
            .get("symbol")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::mandatory("symbol"))?;
        let mi = self
            .market_index(symbol)
            .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))?;
        let side = match p.get("side").map(String::as_str) {
            Some("BUY") => Side::Buy,
            Some("SELL") => Side::Sell,
            None | Some("") => return Err(ApiError::mandatory("side")),
            Some(_) => return Err(ApiError::bad(-1117, "Invalid side.")),
        };
        let order_type = match p.get("type").map(String::as_str) {
            Some("MARKET") => OrderType::Market,
            Some("LIMIT") => OrderType::Limit,
            Some("LIMIT_MAKER") => OrderType::LimitMaker,
            Some("STOP_LOSS") => OrderType::StopLoss,
            Some("STOP_LOSS_LIMIT") => OrderType::StopLossLimit,
            None | Some("") => return Err(ApiError::mandatory("type")),
            Some(_) => return Err(ApiError::bad(-1116, "Invalid orderType.")),
        };
        let limit_like = order_type.is_limit();
        let tif = match (limit_like, p.get("timeInForce").map(String::as_str)) {
            (true, None | Some("")) => return Err(ApiError::mandatory("timeInForce")),
            (_, Some("GTC") | None | Some("")) => TimeInForce::Gtc,
            (true, Some("IOC")) => TimeInForce::Ioc,
            (true, Some("FOK")) => TimeInForce::Fok,
            (true, Some(_)) => {
                return Err(ApiError::bad(-1115, "Invalid timeInForce."));
            }
            (_, Some(_)) => {
                return Err(ApiError::bad(
                    -1106,
                    "Parameter 'timeInForce' sent when not required.",
                ));
            }
        };
        let price = parse_dec(p, "price")?;
        let stop_price = match (order_type.is_stop(), parse_dec(p, "stopPrice")?) {
            (true, Some(s)) => s,
            (true, None) => return Err(ApiError::mandatory("stopPrice")),
            (false, None) => Dec::ZERO,
            (false, Some(_)) => {
                return Err(ApiError::bad(
                    -1106,
                    "Parameter 'stopPrice' sent when not required.",
                ));
            }
        };
        let quantity = parse_dec(p, "quantity")?;
        let quote_order_qty = parse_dec(p, "quoteOrderQty")?;
        let resp_type = match p.get("newOrderRespType").map(String::as_str) {
            Some("ACK") => "ACK",
            Some("RESULT") => "RESULT",
            Some("FULL") => "FULL",
            None | Some("") => match order_type {
                OrderType::Market | OrderType::Limit => "FULL",
                _ => "ACK",
            },
            Some(_) => {
                return Err(ApiError::bad(
                    -1100,
                    "Illegal characters found in parameter 'newOrderRespType'.",
                ));
            }
        };
        let rules = self.markets[mi].rules.clone();
        let now = self.now_ms();

        // Quantity and price per type.
        let (price, qty) = match order_type {
            OrderType::Market => {
                let qty = match (quantity, quote_order_qty) {
                    (Some(q), None) => q,
                    (None, Some(qq)) => {
                        // Spend (buy) / receive (sell) about qq at the current top of book.
                        let ref_price = match side {
                            Side::Buy => self.markets[mi].best_ask(),
                            Side::Sell => self.markets[mi].best_bid(),
                        }
                        .map(|x| x.0)
                        .unwrap_or_default();
                        qq.over(ref_price).floor_to(rules.step_size)
                    }
                    (None, None) => return Err(ApiError::mandatory("quantity")),
                    (Some(_), Some(_)) => {
                        return Err(ApiError::bad(
                            -1106,
                            "Parameter 'quoteOrderQty' sent when not required.",
                        ));
                    }
                };
                (Dec::ZERO, qty)
            }
            OrderType::StopLoss => (
                Dec::ZERO,
                quantity.ok_or_else(|| ApiError::mandatory("quantity"))?,
            ),
            _ => (
                price.ok_or_else(|| ApiError::mandatory("price"))?,
                quantity.ok_or_else(|| ApiError::mandatory("quantity"))?,
            ),
        };

        if let Some((code, msg)) = self.faults.reject_order.pop_front() {
            return Err(ApiError::bad(code, msg));
        }

        // Filters.
        let bad_price = |price: Dec| {
            price < rules.min_price
                || price > rules.max_price
                || !(price - rules.min_price).is_multiple_of(rules.tick_size)
        };
        if (!matches!(order_type, OrderType::Market | OrderType::StopLoss) && bad_price(price))
            || (order_type.is_stop() && bad_price(stop_price))
        {
            return Err(ApiError::bad(-1013, "Filter failure: PRICE_FILTER"));
        }
        if order_type.is_stop() {
            let last = self.markets[mi]
                .last_price
                .or(self.markets[mi].best_bid().map(|x| x.0))
                .unwrap_or_default();
            let reached = match side {
                Side::Sell => last <= stop_price,
                Side::Buy => last >= stop_price,
            };
            if reached {
                return Err(ApiError::rejected("Stop price would trigger immediately."));
            }
        }
        if qty < rules.min_qty
            || qty > rules.max_qty
            || !(qty - rules.min_qty).is_multiple_of(rules.step_size)
        {
            return Err(ApiError::bad(-1013, "Filter failure: LOT_SIZE"));
        }
        let ref_price = match order_type {
            OrderType::Market => self.markets[mi]
                .last_price
                .or(self.markets[mi].best_bid().map(|x| x.0))
                .unwrap_or_default(),
            OrderType::StopLoss => stop_price,
            _ => price,
        };
        if ref_price.times(qty) < rules.min_notional {
            return Err(ApiError::bad(-1013, "Filter failure: NOTIONAL"));
        }

        let client_order_id =
            match p.get("newClientOrderId").filter(|s| !s.is_empty()) {
                Some(c) => {
                    if self.orders.iter().any(|o| {
                        o.api_key == api_key && o.client_order_id == *c && o.status.is_open()
                    }) {
                        return Err(ApiError::rejected("Duplicate order sent."));
                    }
                    c.clone()
                }
                None => new_client_id(self.next_order_id),
            };

        let limit = (order_type != OrderType::Market).then_some(price);
        // A stop takes nothing until its trigger.
        let takes = if order_type.is_stop() {
            Vec::new()
        } else {
            self.taker_levels(mi, side, limit, qty)
        };
        let takeable: Dec = takes.iter().map(|t| t.1).sum();
        if order_type == OrderType::LimitMaker && !takes.is_empty() {
            return Err(ApiError::rejected(
                "Order would immediately match and take.",
            ));
        }
        let fok_kill = order_type == OrderType::Limit && tif == TimeInForce::Fok && takeable < qty;

        // Balance check: buys need quote, sells need base.
        let (need_asset, need) = match (side, order_type) {
            (Side::Buy, OrderType::Market) => (
                rules.quote.clone(),
                takes.iter().map(|(p, q)| p.times(*q)).sum::<Dec>(),
            ),
            (Side::Buy, OrderType::StopLoss) => (rules.quote.clone(), stop_price.times(qty)),
            (Side::Buy, _) => (rules.quote.clone(), price.times(qty)),
            (Side::Sell, _) => (rules.base.clone(), qty),
        };
        let free = self
            .accounts
            .get(api_key)
            .and_then(|a| a.balances.get(&need_asset))
            .map_or(Dec::ZERO, |b| b.free);
        if free < need {
            return Err(ApiError::rejected(
                "Account has insufficient balance for requested action.",
            ));
        }

        // Accept.
        let order_id = self.next_order_id;
        self.next_order_id += 1;
        let locked = if order_type == OrderType::Market {
            Dec::ZERO
        } else {
            need
        };
        if !locked.is_zero() {
            let b = self.balance(api_key, &need_asset);
            b.free -= locked;
            b.locked += locked;
        }
        self.orders.push(Order {
            api_key: api_key.to_owned(),
            symbol: rules.symbol.clone(),
            order_id,
            client_order_id,
            side,
            order_type,
            time_in_force: tif,
            price,
            orig_qty: qty,
            executed_qty: Dec::ZERO,
            cum_quote: Dec::ZERO,
            status: OrderStatus::New,
            time: now,
            update_time: now,
            locked,
            stop_price,
            working: !order_type.is_stop(),
        });
        let idx = self.orders.len() - 1;
        tracing::debug!(order_id, symbol = %rules.symbol, side = side.as_str(), "order accepted");
        let o = self.orders[idx].clone();
        self.execution_report(&o, &Exec::plain("NEW"), now);
        if !locked.is_zero() {
            self.account_position(api_key, &[&need_asset], now);
        }
        let mut fills = Vec::new();
        if !fok_kill {
            for (lp, lq) in takes {
                fills.push(self.fill(idx, lp, lq, false, now));
            }
        }
        let o = &self.orders[idx];
        let expire = o.status.is_open()
            && (order_type == OrderType::Market
                || (order_type == OrderType::Limit && tif != TimeInForce::Gtc));
        if expire {
            self.finish(idx, OrderStatus::Expired, "EXPIRED", now, None);
        }

        let o = &self.orders[idx];
        let mut m = order_json_base(o);
        m.insert("transactTime".into(), json!(now));
        if resp_type != "ACK" {
            m.insert("price".into(), json!(o.price.to_string()));
            m.insert("origQty".into(), json!(o.orig_qty.to_string()));
            m.insert("executedQty".into(), json!(o.executed_qty.to_string()));
            m.insert("cummulativeQuoteQty".into(), json!(o.cum_quote.to_string()));
            m.insert("status".into(), json!(o.status.as_str()));
            m.insert("timeInForce".into(), json!(o.time_in_force.as_str()));
            m.insert("type".into(), json!(o.order_type.as_str()));
            m.insert("side".into(), json!(o.side.as_str()));
        }
        if resp_type == "FULL" {
            let f: Vec<Value> = fills
                .iter()
                .map(|f| {
                    json!({
                        "price": f.price.to_string(),
                        "qty": f.qty.to_string(),
                        "commission": f.commission.to_string(),
                        "commissionAsset": f.asset,
                    })
                })
                .collect();
            m.insert("fills".into(), Value::Array(f));
        }
        Ok(Value::Object(m))
    }

    /// Ends an open order (cancel or expiry): releases its reservation and reports.
    fn finish(
        &mut self,
        idx: usize,
        status: OrderStatus,
        x: &str,
        now: i64,
        cancel_id: Option<&str>,
    ) {
        let (api_key, asset, locked) = {
            let o = &mut self.orders[idx];
            o.status = status;
            o.update_time = now;
            let locked = std::mem::take(&mut o.locked);
            let mi = self
                .markets
                .iter()
                .position(|m| m.rules.symbol == o.symbol)
                .unwrap_or(0);
            let r = &self.markets[mi].rules;
            let asset = match o.side {
                Side::Buy => r.quote.clone(),
                Side::Sell => r.base.clone(),
            };
            (o.api_key.clone(), asset, locked)
        };
        if !locked.is_zero() {
            let b = self.balance(&api_key, &asset);
            b.locked -= locked;
            b.free += locked;
        }
        let o = self.orders[idx].clone();
        let orig = o.client_order_id.clone();
        let exec = Exec {
            orig_cid: if cancel_id.is_some() { &orig } else { "" },
            client_id: cancel_id,
            ..Exec::plain(x)
        };
        self.execution_report(&o, &exec, now);
        if !locked.is_zero() {
            self.account_position(&api_key, &[&asset], now);
        }
    }

    fn find_order(&self, api_key: &str, p: &Params) -> Result<Option<usize>, ApiError> {
        let symbol = p
            .get("symbol")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::mandatory("symbol"))?;
        self.market_index(symbol)
            .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))?;
        let by_id = p.get("orderId").filter(|s| !s.is_empty());
        let by_cid = p.get("origClientOrderId").filter(|s| !s.is_empty());
        if by_id.is_none() && by_cid.is_none() {
            return Err(ApiError::bad(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            ));
        }
        let id: Option<u64> = match by_id {
            Some(s) => Some(s.parse().map_err(|_| {
                ApiError::bad(-1100, "Illegal characters found in parameter 'orderId'.")
            })?),
            None => None,
        };
        Ok(self.orders.iter().rposition(|o| {
            o.api_key == api_key
                && o.symbol.eq_ignore_ascii_case(symbol)
                && id.is_none_or(|i| o.order_id == i)
                && by_cid.is_none_or(|c| o.client_order_id == *c)
        }))
    }

    /// `GET /api/v3/order`.
    pub fn query_order(&self, api_key: &str, p: &Params) -> Result<Value, ApiError> {
        match self
            .find_order(api_key, p)?
            .filter(|i| *i >= self.faults.forgotten)
        {
            Some(i) => Ok(order_query_json(&self.orders[i])),
            None => Err(ApiError::bad(-2013, "Order does not exist.")),
        }
    }

    /// `DELETE /api/v3/order`.
    pub fn cancel_order(&mut self, api_key: &str, p: &Params) -> Result<Value, ApiError> {
        let idx = self
            .find_order(api_key, p)?
            .filter(|i| *i >= self.faults.forgotten && self.orders[*i].status.is_open())
            .ok_or_else(|| ApiError::bad(-2011, "Unknown order sent."))?;
        let now = self.now_ms();
        let cancel_id = p
            .get("newClientOrderId")
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| new_client_id(1_000_000_000 + self.orders[idx].order_id));
        self.finish(
            idx,
            OrderStatus::Canceled,
            "CANCELED",
            now,
            Some(&cancel_id),
        );
        let o = &self.orders[idx];
        Ok(cancel_json(o, &o.client_order_id, &cancel_id))
    }

    /// `GET /api/v3/openOrders`.
    pub fn open_orders(&self, api_key: &str, p: &Params) -> Result<Value, ApiError> {
        let symbol = p.get("symbol").filter(|s| !s.is_empty());
        if let Some(s) = symbol
            && self.market_index(s).is_none()
        {
            return Err(ApiError::bad(-1121, "Invalid symbol."));
        }
        Ok(Value::Array(
            self.orders
                .iter()
                .filter(|o| {
                    o.api_key == api_key
                        && o.status.is_open()
                        && symbol.is_none_or(|s| o.symbol.eq_ignore_ascii_case(s))
                })
                .map(order_query_json)
                .collect(),
        ))
    }

    /// `DELETE /api/v3/openOrders`.
    pub fn cancel_all(&mut self, api_key: &str, p: &Params) -> Result<Value, ApiError> {
        let symbol = p
            .get("symbol")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::mandatory("symbol"))?
            .clone();
        self.market_index(&symbol)
            .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))?;
        let idxs: Vec<usize> = (0..self.orders.len())
            .filter(|i| {
                let o = &self.orders[*i];
                o.api_key == api_key && o.status.is_open() && o.symbol.eq_ignore_ascii_case(&symbol)
            })
            .collect();
        if idxs.is_empty() {
            return Err(ApiError::bad(-2011, "Unknown order sent."));
        }
        let now = self.now_ms();
        let mut out = Vec::new();
        for i in idxs {
            let cancel_id = new_client_id(1_000_000_000 + self.orders[i].order_id);
            self.finish(i, OrderStatus::Canceled, "CANCELED", now, Some(&cancel_id));
            let o = &self.orders[i];
            out.push(cancel_json(o, &o.client_order_id, &cancel_id));
        }
        Ok(Value::Array(out))
    }

    /// `GET /api/v3/account`.
    pub fn account_json(&self, api_key: &str) -> Value {
        let acc = &self.accounts[api_key];
        let bps = self.config.commission_bps;
        let balances: Vec<Value> = acc
            .balances
            .iter()
            .map(|(a, b)| json!({"asset": a, "free": b.free.to_string(), "locked": b.locked.to_string()}))
            .collect();
        json!({
            "makerCommission": bps,
            "takerCommission": bps,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": true,
            "canWithdraw": true,
            "canDeposit": true,
            "updateTime": acc.update_time,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
        })
    }

    /// `GET /api/v3/myTrades`.
    pub fn my_trades_json(&self, api_key: &str, p: &Params) -> Result<Value, ApiError> {
        let symbol = p
            .get("symbol")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::mandatory("symbol"))?;
        self.market_index(symbol)
            .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))?;
        let num = |k: &str| -> Result<Option<u64>, ApiError> {
            p.get(k)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<u64>().map_err(|_| {
                        ApiError::bad(
                            -1100,
                            format!("Illegal characters found in parameter '{k}'."),
                        )
                    })
                })
                .transpose()
        };
        let from_id = num("fromId")?;
        let order_id = num("orderId")?;
        let limit = num("limit")?.unwrap_or(500).clamp(1, 1000) as usize;
        let mut v: Vec<&MyTrade> = self
            .my_trades
            .iter()
            .filter(|t| {
                t.api_key == api_key
                    && t.symbol.eq_ignore_ascii_case(symbol)
                    && from_id.is_none_or(|f| t.id >= f)
                    && order_id.is_none_or(|o| t.order_id == o)
            })
            .collect();
        if from_id.is_some() {
            v.truncate(limit);
        } else if v.len() > limit {
            v.drain(..v.len() - limit);
        }
        Ok(Value::Array(
            v.iter()
                .map(|t| {
                    json!({
                        "symbol": t.symbol,
                        "id": t.id,
                        "orderId": t.order_id,
                        "orderListId": -1,
                        "price": t.price.to_string(),
                        "qty": t.qty.to_string(),
                        "quoteQty": t.quote_qty.to_string(),
                        "commission": t.commission.to_string(),
                        "commissionAsset": t.commission_asset,
                        "time": t.time,
                        "isBuyer": t.is_buyer,
                        "isMaker": t.is_maker,
                        "isBestMatch": true,
                    })
                })
                .collect(),
        ))
    }

    /// Triggers the stop orders a replayed trade reaches (sell: at or below the stop;
    /// buy: at or above it): a STOP_LOSS then takes the book as a market order (what it
    /// cannot take expires), a STOP_LOSS_LIMIT works as a limit order (taking what it can
    /// at once, resting the rest if GTC).
    pub fn trigger_stops(&mut self, ev: &Event) {
        let EventKind::Trade { price, .. } = &ev.kind else {
            return;
        };
        let symbol = self.markets[ev.market].rules.symbol.clone();
        let now = self.now_ms();
        let due: Vec<usize> = (0..self.orders.len())
            .filter(|i| {
                let o = &self.orders[*i];
                o.status.is_open()
                    && !o.working
                    && o.symbol == symbol
                    && match o.side {
                        Side::Sell => *price <= o.stop_price,
                        Side::Buy => *price >= o.stop_price,
                    }
            })
            .collect();
        for i in due {
            self.orders[i].working = true;
            self.orders[i].update_time = now;
            let (side, qty, kind, tif, limit) = {
                let o = &self.orders[i];
                (
                    o.side,
                    o.orig_qty - o.executed_qty,
                    o.order_type,
                    o.time_in_force,
                    o.price,
                )
            };
            if kind == OrderType::StopLoss {
                // As a market order: the reservation is released, the fills settle.
                let (api_key, asset, locked) = {
                    let o = &mut self.orders[i];
                    let r = &self.markets[ev.market].rules;
                    let asset = match o.side {
                        Side::Buy => r.quote.clone(),
                        Side::Sell => r.base.clone(),
                    };
                    (o.api_key.clone(), asset, std::mem::take(&mut o.locked))
                };
                let b = self.balance(&api_key, &asset);
                b.locked -= locked;
                b.free += locked;
            }
            let limit = (kind == OrderType::StopLossLimit).then_some(limit);
            for (lp, lq) in self.taker_levels(ev.market, side, limit, qty) {
                self.fill(i, lp, lq, false, now);
            }
            let o = &self.orders[i];
            if o.status.is_open() && (kind == OrderType::StopLoss || tif != TimeInForce::Gtc) {
                self.finish(i, OrderStatus::Expired, "EXPIRED", now, None);
            }
        }
    }

    /// Fills resting limit orders the replayed event crosses, as the maker at the
    /// order's price: a trade at or through the limit fills up to the trade's size; a
    /// quote whose opposite side reaches the limit fills up to that side's L1 size.
    pub fn match_resting(&mut self, ev: &Event) {
        let symbol = self.markets[ev.market].rules.symbol.clone();
        let now = self.now_ms();
        let open: Vec<usize> = (0..self.orders.len())
            .filter(|i| {
                let o = &self.orders[*i];
                o.status.is_open()
                    && o.working
                    && o.order_type != OrderType::Market
                    && o.symbol == symbol
            })
            .collect();
        if open.is_empty() {
            return;
        }
        let (mut buy_avail, buy_px, mut sell_avail, sell_px) = match &ev.kind {
            // Sellers at `price` meet resting buys at or above it, and vice versa.
            EventKind::Trade { price, qty, .. } => (*qty, *price, *qty, *price),
            EventKind::Quote {
                bid,
                bid_size,
                ask,
                ask_size,
            } => (*ask_size, *ask, *bid_size, *bid),
        };
        for i in open {
            let o = &self.orders[i];
            let remaining = o.orig_qty - o.executed_qty;
            let (avail, crosses) = match o.side {
                Side::Buy => (&mut buy_avail, buy_px <= o.price),
                Side::Sell => (&mut sell_avail, sell_px >= o.price),
            };
            if !crosses || avail.is_zero() {
                continue;
            }
            let q = remaining.min(*avail);
            *avail -= q;
            let price = o.price;
            self.fill(i, price, q, true, now);
        }
    }
}
