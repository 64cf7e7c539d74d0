//! Binance spot REST: public market data, `SIGNED` trading and account endpoints, and
//! the user-data-stream listenKey lifecycle.
//!
//! Signed requests carry `timestamp` = local clock + the measured server offset and a
//! configurable `recvWindow`; a `-1021` (timestamp outside recvWindow) resynchronises the
//! offset and retries once. HTTP 429/418 set a gate honouring `Retry-After` that every
//! request waits for; the request that hit it is retried once after the wait (Binance
//! did not process it). 5xx and transport failures are never retried: for orders their
//! outcome is unknown (see [`VenueError::outcome_unknown`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tradewind_core::data::{Side, UnixNanos};
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::orders::TimeInForce;

use super::error::VenueError;
use super::signing::{Credentials, redact, sign};
use super::wire::{
    self, Balance, DepthSnapshot, DepthSnapshotMsg, OrderStatus, Precision, field_err,
    significant_decimals,
};
use super::{BinanceEndpoints, tls_config};

/// Tunables of [`BinanceRest`].
#[derive(Debug, Clone)]
pub struct RestOptions {
    /// `recvWindow` sent with signed requests, in ms (Binance's default is 5000, max 60000).
    pub recv_window_ms: u64,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Longest `Retry-After` the client waits out by itself; a longer one is returned as
    /// [`VenueError::RateLimited`] at once.
    pub max_rate_limit_wait: Duration,
    /// Trades per `GET /api/v3/myTrades` page when reading all of an order's trades
    /// (Binance's maximum, 1000; smaller in tests of the paging).
    pub trades_page: u32,
}

impl Default for RestOptions {
    fn default() -> Self {
        Self {
            recv_window_ms: 5_000,
            request_timeout: Duration::from_secs(10),
            max_rate_limit_wait: Duration::from_secs(60),
            trades_page: 1000,
        }
    }
}

/// Trading rules of one symbol, from `GET /api/v3/exchangeInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolRules {
    /// Symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// `TRADING`, `HALT`, `BREAK`, …
    pub status: String,
    /// Base asset (the quantity's unit).
    pub base_asset: String,
    /// Quote asset (the price's unit).
    pub quote_asset: String,
    /// `PRICE_FILTER.tickSize`, at `price_precision`.
    pub tick_size: Price,
    /// `LOT_SIZE.stepSize`, at `qty_precision`.
    pub step_size: Quantity,
    /// `LOT_SIZE.minQty`.
    pub min_qty: Quantity,
    /// `NOTIONAL.minNotional` (or the older `MIN_NOTIONAL`); zero if neither is present.
    pub min_notional: Money,
    /// Decimals of prices: the tick size's significant decimals.
    pub price_precision: u8,
    /// Decimals of quantities: the step size's significant decimals.
    pub qty_precision: u8,
}

impl SymbolRules {
    /// The precisions used to parse this symbol's prices and quantities.
    pub fn precision(&self) -> Precision {
        Precision {
            price: self.price_precision,
            qty: self.qty_precision,
        }
    }

    /// As the core's [`Instrument`].
    pub fn to_instrument(&self) -> Result<Instrument, VenueError> {
        Instrument::new(
            self.symbol.clone(),
            self.base_asset.clone(),
            self.quote_asset.clone(),
            self.tick_size,
            self.step_size,
            self.min_qty,
            self.min_notional,
        )
        .map_err(|e| VenueError::Config(format!("{}: {e}", self.symbol)))
    }
}

/// Order type and its prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// `MARKET` with a base quantity.
    Market,
    /// `LIMIT` with a time in force.
    Limit {
        /// Limit price.
        price: Price,
        /// GTC, IOC or FOK.
        tif: TimeInForce,
    },
    /// `LIMIT_MAKER` (post-only): rejected if it would take liquidity.
    LimitMaker {
        /// Limit price.
        price: Price,
    },
    /// `STOP_LOSS`: a market order once the last price reaches `stop_price` (a sell at or
    /// below it, a buy at or above it).
    StopLoss {
        /// Trigger.
        stop_price: Price,
    },
    /// `STOP_LOSS_LIMIT`: a limit order once the last price reaches `stop_price`.
    StopLossLimit {
        /// Limit price.
        price: Price,
        /// Trigger.
        stop_price: Price,
        /// GTC, IOC or FOK.
        tif: TimeInForce,
    },
}

/// A new order for `POST /api/v3/order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Type and prices.
    pub kind: OrderKind,
    /// Base quantity.
    pub quantity: Quantity,
    /// `newClientOrderId`: must match `^[.A-Z:/a-z0-9_-]{1,36}$`.
    pub client_order_id: String,
}

/// One fill reported in a `FULL` new-order response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFill {
    /// Fill price.
    pub price: Price,
    /// Fill quantity.
    pub qty: Quantity,
    /// Commission.
    pub commission: Money,
    /// Commission asset.
    pub commission_asset: String,
    /// Trade ID when Binance sends it.
    pub trade_id: Option<u64>,
}

/// Binance's answer to a new order (`newOrderRespType=FULL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAck {
    /// Symbol.
    pub symbol: String,
    /// Binance's order ID.
    pub order_id: u64,
    /// The client order ID sent.
    pub client_order_id: String,
    /// When the engine took it.
    pub transact_time: UnixNanos,
    /// Status right after placement (e.g. `Filled` for a market order that filled at once).
    pub status: OrderStatus,
    /// Quantity filled at placement.
    pub executed_qty: Quantity,
    /// Quote quantity filled at placement.
    pub cum_quote_qty: Money,
    /// Fills at placement.
    pub fills: Vec<OrderFill>,
}

/// An order as `GET /api/v3/order`, `GET /api/v3/openOrders` or `DELETE /api/v3/order`
/// report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    /// Symbol.
    pub symbol: String,
    /// Binance's order ID.
    pub order_id: u64,
    /// The order's client order ID (for a cancel response: the canceled order's, not
    /// the cancel request's).
    pub client_order_id: String,
    /// Side.
    pub side: Side,
    /// Binance's order type (`LIMIT`, `MARKET`, `LIMIT_MAKER`, …).
    pub order_type: String,
    /// Time in force, if any.
    pub time_in_force: Option<String>,
    /// Limit price (zero for market orders).
    pub price: Price,
    /// Ordered quantity.
    pub orig_qty: Quantity,
    /// Filled quantity.
    pub executed_qty: Quantity,
    /// Filled quote quantity (Binance sends a negative value when unknown for old orders).
    pub cum_quote_qty: Money,
    /// Status.
    pub status: OrderStatus,
    /// Creation time, when reported.
    pub time: Option<UnixNanos>,
    /// Last update time, when reported.
    pub update_time: Option<UnixNanos>,
}

/// One of the account's trades (`GET /api/v3/myTrades`). Binance does not report the
/// client order ID here: map `order_id` through the order's ack or execution reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRecord {
    /// Symbol.
    pub symbol: String,
    /// Trade ID (unique per symbol, increasing).
    pub id: u64,
    /// Binance's order ID.
    pub order_id: u64,
    /// Price.
    pub price: Price,
    /// Base quantity.
    pub qty: Quantity,
    /// Quote quantity.
    pub quote_qty: Money,
    /// Commission.
    pub commission: Money,
    /// Commission asset.
    pub commission_asset: String,
    /// Trade time.
    pub time: UnixNanos,
    /// Was the account the buyer?
    pub is_buyer: bool,
    /// Was the account the maker?
    pub is_maker: bool,
}

impl TradeRecord {
    /// The account's side in this trade.
    pub fn side(&self) -> Side {
        if self.is_buyer { Side::Buy } else { Side::Sell }
    }
}

/// A user-data-stream listenKey. `Debug` and `Display` show only its first characters:
/// whoever holds the key can read the account's order flow.
#[derive(Clone, PartialEq, Eq)]
pub struct ListenKey(String);

impl ListenKey {
    /// Wrap a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The full key, for building the stream URL only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ListenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListenKey({})", redact(&self.0))
    }
}

impl fmt::Display for ListenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Check a client order ID against Binance's rule `^[.A-Z:/a-z0-9_-]{1,36}$`.
pub fn validate_client_order_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 36 {
        return Err(format!(
            "client order id {id:?} must be 1 to 36 characters, has {}",
            id.len()
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-')))
    {
        return Err(format!(
            "client order id {id:?} has {c:?}; allowed: A-Z a-z 0-9 . : / _ -"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// Public.
    None,
    /// `X-MBX-APIKEY` header only (listenKey management).
    ApiKey,
    /// API key + timestamp + signature.
    Signed,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    credentials: Option<Credentials>,
    options: RestOptions,
    time_offset_ms: AtomicI64,
    time_synced: AtomicBool,
    rules: Mutex<HashMap<String, SymbolRules>>,
    gate: Mutex<Option<Instant>>,
}

/// Binance spot REST client. Cheap to clone (shared connection pool, clock offset,
/// symbol-rules cache and rate-limit gate).
#[derive(Clone)]
pub struct BinanceRest {
    inner: Arc<Inner>,
}

impl fmt::Debug for BinanceRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinanceRest")
            .field("base", &self.inner.base)
            .field("credentials", &self.inner.credentials)
            .field("recv_window_ms", &self.inner.options.recv_window_ms)
            .finish_non_exhaustive()
    }
}

fn decode<T: DeserializeOwned>(endpoint: &str, body: &str) -> Result<T, VenueError> {
    serde_json::from_str(body).map_err(|e| VenueError::Decode {
        endpoint: endpoint.to_owned(),
        detail: e.to_string(),
    })
}

fn snippet(body: &str) -> String {
    let mut s: String = body.chars().take(200).collect();
    if body.chars().count() > 200 {
        s.push('…');
    }
    s
}

fn local_ms() -> i64 {
    super::now_nanos() / 1_000_000
}

#[derive(Deserialize)]
struct ApiErrorBody {
    code: i64,
    msg: String,
}

impl BinanceRest {
    /// A client with default [`RestOptions`]; `credentials` are needed for signed and
    /// user-stream endpoints only.
    pub fn new(
        endpoints: &BinanceEndpoints,
        credentials: Option<Credentials>,
    ) -> Result<Self, VenueError> {
        Self::with_options(endpoints, credentials, RestOptions::default())
    }

    /// A client with explicit options.
    pub fn with_options(
        endpoints: &BinanceEndpoints,
        credentials: Option<Credentials>,
        options: RestOptions,
    ) -> Result<Self, VenueError> {
        let base = endpoints.rest.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(VenueError::Config(format!(
                "REST base {base:?} must start with https:// or http://"
            )));
        }
        let tls = Arc::try_unwrap(tls_config()?).unwrap_or_else(|arc| (*arc).clone());
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| VenueError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                credentials,
                options,
                time_offset_ms: AtomicI64::new(0),
                time_synced: AtomicBool::new(false),
                rules: Mutex::new(HashMap::new()),
                gate: Mutex::new(None),
            }),
        })
    }

    /// `true` if the client can call signed endpoints.
    pub fn has_credentials(&self) -> bool {
        self.inner.credentials.is_some()
    }

    /// Current estimate of server clock minus local clock, in ms.
    pub fn time_offset_ms(&self) -> i64 {
        self.inner.time_offset_ms.load(Ordering::Relaxed)
    }

    /// `GET /api/v3/time`: the server's clock.
    pub async fn server_time(&self) -> Result<UnixNanos, VenueError> {
        let ms = self.fetch_server_time_ms().await?;
        wire::ms("GET /api/v3/time", "serverTime", ms)
    }

    /// `GET /api/v3/time` outside [`call`](Self::call) (which uses it to resync).
    async fn fetch_server_time_ms(&self) -> Result<i64, VenueError> {
        #[derive(Deserialize)]
        struct Time {
            #[serde(rename = "serverTime")]
            server_time: i64,
        }
        let ep = "GET /api/v3/time";
        self.wait_gate(ep).await?;
        let url = format!("{}/api/v3/time", self.inner.base);
        let resp = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| VenueError::Transport {
                endpoint: ep.to_owned(),
                detail: e.without_url().to_string(),
            })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| VenueError::Transport {
            endpoint: ep.to_owned(),
            detail: e.without_url().to_string(),
        })?;
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_str::<ApiErrorBody>(&body) {
                Ok(api) => VenueError::from_api(ep, status, api.code, api.msg, ""),
                Err(_) if status >= 500 => VenueError::Server {
                    endpoint: ep.to_owned(),
                    status,
                    body: snippet(&body),
                },
                Err(_) => VenueError::Http {
                    endpoint: ep.to_owned(),
                    status,
                    body: snippet(&body),
                },
            });
        }
        let t: Time = decode(ep, &body)?;
        Ok(t.server_time)
    }

    /// Measure the server clock offset (server − local, at the request's midpoint) and
    /// use it for signed requests' `timestamp`. Returns the offset in ms.
    pub async fn sync_time(&self) -> Result<i64, VenueError> {
        let before = local_ms();
        let server = self.fetch_server_time_ms().await?;
        let after = local_ms();
        let offset = clock_offset(server, before, after)?;
        self.inner.time_offset_ms.store(offset, Ordering::Relaxed);
        self.inner.time_synced.store(true, Ordering::Relaxed);
        tracing::debug!(offset_ms = offset, "binance: server time offset measured");
        Ok(offset)
    }

    /// `GET /api/v3/exchangeInfo?symbol=…`: the symbol's trading rules (also cached for
    /// parsing that symbol's prices and quantities).
    pub async fn exchange_info(&self, symbol: &str) -> Result<SymbolRules, VenueError> {
        let ep = "GET /api/v3/exchangeInfo";
        let body: serde_json::Value = self
            .call(
                Method::GET,
                "/api/v3/exchangeInfo",
                &[("symbol", symbol.to_owned())],
                Security::None,
            )
            .await?;
        let rules = parse_exchange_info(ep, symbol, &body)?;
        self.inner
            .rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(symbol.to_owned(), rules.clone());
        Ok(rules)
    }

    /// The symbol's rules from the cache, fetching them once if needed.
    pub async fn rules(&self, symbol: &str) -> Result<SymbolRules, VenueError> {
        let cached = self
            .inner
            .rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(symbol)
            .cloned();
        match cached {
            Some(r) => Ok(r),
            None => self.exchange_info(symbol).await,
        }
    }

    /// `GET /api/v3/depth`: an order book snapshot with `limit` levels per side
    /// (Binance accepts up to 5000).
    pub async fn depth_snapshot(
        &self,
        symbol: &str,
        limit: u32,
    ) -> Result<DepthSnapshot, VenueError> {
        let p = self.rules(symbol).await?.precision();
        let msg: DepthSnapshotMsg = self
            .call(
                Method::GET,
                "/api/v3/depth",
                &[("symbol", symbol.to_owned()), ("limit", limit.to_string())],
                Security::None,
            )
            .await?;
        msg.parse("GET /api/v3/depth", p)
    }

    /// `GET /api/v3/klines`: closed klines of `interval` opening at or after `start_ms`,
    /// oldest first, at most `limit` (Binance: 1000); each with its close time (ms). A
    /// kline still forming (closing at or after `now_ms`) is left out.
    pub async fn klines(
        &self,
        symbol: &str,
        interval: &str,
        start_ms: i64,
        limit: u32,
        now_ms: i64,
    ) -> Result<Vec<(tradewind_core::data::Bar, i64)>, VenueError> {
        let ctx = "GET /api/v3/klines";
        let p = self.rules(symbol).await?.precision();
        let rows: Vec<Vec<serde_json::Value>> = self
            .call(
                Method::GET,
                "/api/v3/klines",
                &[
                    ("symbol", symbol.to_owned()),
                    ("interval", interval.to_owned()),
                    ("startTime", start_ms.to_string()),
                    ("limit", limit.to_string()),
                ],
                Security::None,
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let field = |n: usize| format!("[{i}][{n}]");
            let int = |n: usize| {
                row.get(n)
                    .and_then(serde_json::Value::as_i64)
                    .ok_or_else(|| field_err(ctx, &field(n), "not an integer"))
            };
            let text = |n: usize| {
                row.get(n)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| field_err(ctx, &field(n), "not a string"))
            };
            let close_ms = int(6)?;
            if close_ms >= now_ms {
                continue;
            }
            let bar = tradewind_core::data::Bar::new(
                wire::ms(ctx, &field(0), int(0)?)?,
                wire::price(ctx, &field(1), &text(1)?, p.price)?,
                wire::price(ctx, &field(2), &text(2)?, p.price)?,
                wire::price(ctx, &field(3), &text(3)?, p.price)?,
                wire::price(ctx, &field(4), &text(4)?, p.price)?,
                wire::qty(ctx, &field(5), &text(5)?, p.qty)?,
            )
            .map_err(|e| field_err(ctx, &field(0), e))?;
            out.push((bar, close_ms));
        }
        Ok(out)
    }

    /// `POST /api/v3/order` with `newOrderRespType=FULL`.
    pub async fn new_order(&self, order: &NewOrder) -> Result<OrderAck, VenueError> {
        self.new_order_if(order, &|| true).await
    }

    /// [`new_order`](Self::new_order), sent only if `may_send` still says yes at the
    /// moment of sending (asked again after any rate-limit wait); otherwise
    /// [`VenueError::NotSent`] and nothing reaches the exchange.
    pub async fn new_order_if(
        &self,
        order: &NewOrder,
        may_send: &dyn Fn() -> bool,
    ) -> Result<OrderAck, VenueError> {
        let ep = "POST /api/v3/order";
        validate_client_order_id(&order.client_order_id)
            .map_err(|detail| field_err(ep, "newClientOrderId", detail))?;
        let p = self.rules(&order.symbol).await?.precision();
        let mut params = vec![
            ("symbol", order.symbol.clone()),
            ("side", wire::side_str(order.side).to_owned()),
        ];
        match order.kind {
            OrderKind::Market => params.push(("type", "MARKET".into())),
            OrderKind::Limit { price, tif } => {
                params.push(("type", "LIMIT".into()));
                params.push(("timeInForce", tif_str(tif).into()));
                params.push(("price", price.to_string()));
            }
            OrderKind::LimitMaker { price } => {
                params.push(("type", "LIMIT_MAKER".into()));
                params.push(("price", price.to_string()));
            }
            OrderKind::StopLoss { stop_price } => {
                params.push(("type", "STOP_LOSS".into()));
                params.push(("stopPrice", stop_price.to_string()));
            }
            OrderKind::StopLossLimit {
                price,
                stop_price,
                tif,
            } => {
                params.push(("type", "STOP_LOSS_LIMIT".into()));
                params.push(("timeInForce", tif_str(tif).into()));
                params.push(("price", price.to_string()));
                params.push(("stopPrice", stop_price.to_string()));
            }
        }
        params.push(("quantity", order.quantity.to_string()));
        params.push(("newClientOrderId", order.client_order_id.clone()));
        params.push(("newOrderRespType", "FULL".into()));
        let raw: RawOrder = self
            .call_if(
                Method::POST,
                "/api/v3/order",
                &params,
                Security::Signed,
                may_send,
            )
            .await?;
        raw.into_ack(ep, p)
    }

    /// `DELETE /api/v3/order` by client order ID. An order that is not open fails with
    /// [`VenueError::UnknownOrder`].
    pub async fn cancel_order(
        &self,
        symbol: &str,
        client_order_id: &str,
    ) -> Result<OrderState, VenueError> {
        self.cancel_order_if(symbol, client_order_id, &|| true)
            .await
    }

    /// [`cancel_order`](Self::cancel_order), sent only if `may_send` still says yes at
    /// the moment of sending; otherwise [`VenueError::NotSent`].
    pub async fn cancel_order_if(
        &self,
        symbol: &str,
        client_order_id: &str,
        may_send: &dyn Fn() -> bool,
    ) -> Result<OrderState, VenueError> {
        let p = self.rules(symbol).await?.precision();
        let raw: RawOrder = self
            .call_if(
                Method::DELETE,
                "/api/v3/order",
                &[
                    ("symbol", symbol.to_owned()),
                    ("origClientOrderId", client_order_id.to_owned()),
                ],
                Security::Signed,
                may_send,
            )
            .await?;
        raw.into_state("DELETE /api/v3/order", p)
    }

    /// `GET /api/v3/order` by client order ID; `None` if Binance does not know it (`-2013`).
    pub async fn order(
        &self,
        symbol: &str,
        client_order_id: &str,
    ) -> Result<Option<OrderState>, VenueError> {
        let p = self.rules(symbol).await?.precision();
        let res: Result<RawOrder, VenueError> = self
            .call(
                Method::GET,
                "/api/v3/order",
                &[
                    ("symbol", symbol.to_owned()),
                    ("origClientOrderId", client_order_id.to_owned()),
                ],
                Security::Signed,
            )
            .await;
        match res {
            Ok(raw) => raw.into_state("GET /api/v3/order", p).map(Some),
            Err(VenueError::UnknownOrder { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v3/openOrders?symbol=…`.
    pub async fn open_orders(&self, symbol: &str) -> Result<Vec<OrderState>, VenueError> {
        let p = self.rules(symbol).await?.precision();
        let raw: Vec<RawOrder> = self
            .call(
                Method::GET,
                "/api/v3/openOrders",
                &[("symbol", symbol.to_owned())],
                Security::Signed,
            )
            .await?;
        raw.into_iter()
            .map(|o| o.into_state("GET /api/v3/openOrders", p))
            .collect()
    }

    /// `GET /api/v3/account` (with `omitZeroBalances=true`): non-zero balances.
    pub async fn account(&self) -> Result<Vec<Balance>, VenueError> {
        #[derive(Deserialize)]
        struct RawBalance {
            asset: String,
            free: String,
            locked: String,
        }
        #[derive(Deserialize)]
        struct Account {
            balances: Vec<RawBalance>,
        }
        let ep = "GET /api/v3/account";
        let acc: Account = self
            .call(
                Method::GET,
                "/api/v3/account",
                &[("omitZeroBalances", "true".into())],
                Security::Signed,
            )
            .await?;
        acc.balances
            .into_iter()
            .map(|b| {
                Ok(Balance {
                    free: wire::money(ep, "balances.free", &b.free)?,
                    locked: wire::money(ep, "balances.locked", &b.locked)?,
                    asset: b.asset,
                })
            })
            .collect()
    }

    /// `GET /api/v3/ticker/price?symbol=…`: the symbol's latest price, checked positive
    /// (a price that is zero, negative or beyond the core's range is an error, never a
    /// number to compute with).
    pub async fn ticker_price(&self, symbol: &str) -> Result<Price, VenueError> {
        #[derive(Deserialize)]
        struct Ticker {
            price: String,
        }
        let ep = "GET /api/v3/ticker/price";
        let t: Ticker = self
            .call(
                Method::GET,
                "/api/v3/ticker/price",
                &[("symbol", symbol.to_owned())],
                Security::None,
            )
            .await?;
        // Binance writes prices with 8 decimals; any precision up to the core's 9 is exact.
        let price = wire::price(ep, "price", &t.price, 9)?;
        if !price.is_positive() {
            return Err(field_err(
                ep,
                "price",
                format!("{} is not positive", t.price),
            ));
        }
        Ok(price)
    }

    /// `GET /api/v3/myTrades`: the account's trades on `symbol` with `id >= from_id`
    /// (every page: `fromId` paging until a short page), only those of `order_id` when
    /// given, oldest first.
    pub async fn all_my_trades(
        &self,
        symbol: &str,
        mut from_id: u64,
        order_id: Option<u64>,
    ) -> Result<Vec<TradeRecord>, VenueError> {
        let mut all = Vec::new();
        loop {
            let page = self
                .my_trades_page(
                    symbol,
                    Some(from_id),
                    order_id,
                    self.inner.options.trades_page,
                )
                .await?;
            let full = page.len() >= self.inner.options.trades_page as usize;
            let Some(last) = page.last().map(|t| t.id) else {
                return Ok(all);
            };
            all.extend(page);
            // A full page may have more after it; trade IDs only grow.
            match last.checked_add(1) {
                Some(next) if full && next > from_id => from_id = next,
                _ => return Ok(all),
            }
        }
    }

    /// `GET /api/v3/myTrades`: up to 1000 of the account's trades on `symbol` with
    /// `id >= from_id` (the most recent ones without `from_id`), only those of `order_id`
    /// when given, oldest first.
    pub async fn my_trades(
        &self,
        symbol: &str,
        from_id: Option<u64>,
        order_id: Option<u64>,
    ) -> Result<Vec<TradeRecord>, VenueError> {
        self.my_trades_page(symbol, from_id, order_id, 1000).await
    }

    async fn my_trades_page(
        &self,
        symbol: &str,
        from_id: Option<u64>,
        order_id: Option<u64>,
        limit: u32,
    ) -> Result<Vec<TradeRecord>, VenueError> {
        let ep = "GET /api/v3/myTrades";
        let p = self.rules(symbol).await?.precision();
        let mut params = vec![
            ("symbol", symbol.to_owned()),
            ("limit", limit.clamp(1, 1000).to_string()),
        ];
        if let Some(id) = from_id {
            params.push(("fromId", id.to_string()));
        }
        if let Some(id) = order_id {
            params.push(("orderId", id.to_string()));
        }
        let raw: Vec<RawTrade> = self
            .call(Method::GET, "/api/v3/myTrades", &params, Security::Signed)
            .await?;
        raw.into_iter().map(|t| t.parse(ep, p)).collect()
    }

    /// `POST /api/v3/userDataStream`: a listenKey (the account's active one if any).
    pub async fn create_listen_key(&self) -> Result<ListenKey, VenueError> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "listenKey")]
            listen_key: String,
        }
        let c: Created = self
            .call(
                Method::POST,
                "/api/v3/userDataStream",
                &[],
                Security::ApiKey,
            )
            .await?;
        Ok(ListenKey(c.listen_key))
    }

    /// `PUT /api/v3/userDataStream`: extend the key's validity by 60 minutes.
    pub async fn keepalive_listen_key(&self, key: &ListenKey) -> Result<(), VenueError> {
        let _: serde_json::Value = self
            .call(
                Method::PUT,
                "/api/v3/userDataStream",
                &[("listenKey", key.0.clone())],
                Security::ApiKey,
            )
            .await?;
        Ok(())
    }

    /// `DELETE /api/v3/userDataStream`: close the stream.
    pub async fn close_listen_key(&self, key: &ListenKey) -> Result<(), VenueError> {
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                "/api/v3/userDataStream",
                &[("listenKey", key.0.clone())],
                Security::ApiKey,
            )
            .await?;
        Ok(())
    }

    async fn wait_gate(&self, endpoint: &str) -> Result<(), VenueError> {
        let until = *self.inner.gate.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                let wait = until - now;
                if wait > self.inner.options.max_rate_limit_wait {
                    return Err(VenueError::RateLimited {
                        endpoint: endpoint.to_owned(),
                        status: 429,
                        retry_after: Some(wait),
                        code: None,
                        msg: Some("backing off after an earlier 429/418".into()),
                    });
                }
                tracing::debug!(
                    endpoint,
                    wait_ms = wait.as_millis() as u64,
                    "binance: waiting out rate limit"
                );
                tokio::time::sleep_until(until).await;
            }
        }
        Ok(())
    }

    fn set_gate(&self, wait: Duration) {
        let now = Instant::now();
        // Checked: `wait` is bounded by `parse_retry_after`, but an Instant far in the
        // future still overflows on some platforms.
        let until = now
            .checked_add(wait.min(MAX_RETRY_AFTER))
            .unwrap_or(now + Duration::from_secs(60));
        let mut gate = self.inner.gate.lock().unwrap_or_else(|p| p.into_inner());
        if gate.is_none_or(|g| g < until) {
            *gate = Some(until);
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        security: Security,
    ) -> Result<T, VenueError> {
        self.call_if(method, path, params, security, &|| true).await
    }

    /// [`call`](Self::call), asking `may_send` right before each attempt leaves (after
    /// the rate-limit gate and any clock resync), so a wait never outlives the caller's
    /// permission to send.
    async fn call_if<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        security: Security,
        may_send: &dyn Fn() -> bool,
    ) -> Result<T, VenueError> {
        let endpoint = format!("{method} {path}");
        let creds = match security {
            Security::None => None,
            Security::ApiKey | Security::Signed => {
                Some(self.inner.credentials.as_ref().ok_or_else(|| {
                    VenueError::MissingCredentials {
                        endpoint: endpoint.clone(),
                    }
                })?)
            }
        };
        if security == Security::Signed && !self.inner.time_synced.load(Ordering::Relaxed) {
            self.sync_time().await?;
        }
        let mut resynced = false;
        let mut rate_retried = false;
        loop {
            self.wait_gate(&endpoint).await?;
            if !may_send() {
                return Err(VenueError::NotSent { endpoint });
            }
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                query.append_pair(k, v);
            }
            if security == Security::Signed {
                let ts = local_ms() + self.time_offset_ms();
                query.append_pair("recvWindow", &self.inner.options.recv_window_ms.to_string());
                query.append_pair("timestamp", &ts.to_string());
            }
            let mut query = query.finish();
            if let (Security::Signed, Some(c)) = (security, creds) {
                let signature = sign(&c.api_secret, &query);
                query.push_str("&signature=");
                query.push_str(&signature);
            }
            let url = if query.is_empty() {
                format!("{}{path}", self.inner.base)
            } else {
                format!("{}{path}?{query}", self.inner.base)
            };
            let mut req = self.inner.http.request(method.clone(), url);
            if let Some(c) = creds {
                req = req.header("X-MBX-APIKEY", &c.api_key);
            }
            let resp = req.send().await.map_err(|e| VenueError::Transport {
                endpoint: endpoint.clone(),
                detail: e.without_url().to_string(),
            })?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = resp.text().await.map_err(|e| VenueError::Transport {
                endpoint: endpoint.clone(),
                detail: e.without_url().to_string(),
            })?;
            tracing::debug!(endpoint = %endpoint, status, "binance request");
            if (200..300).contains(&status) {
                return decode(&endpoint, &body);
            }
            let api: Option<ApiErrorBody> = serde_json::from_str(&body).ok();
            if status == 429 || status == 418 {
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                self.set_gate(wait);
                tracing::warn!(endpoint = %endpoint, status, retry_after_s = wait.as_secs(), "binance: rate limited");
                if !rate_retried && wait <= self.inner.options.max_rate_limit_wait {
                    rate_retried = true;
                    continue;
                }
                return Err(VenueError::RateLimited {
                    endpoint,
                    status,
                    retry_after,
                    code: api.as_ref().map(|a| a.code),
                    msg: api.map(|a| a.msg),
                });
            }
            if let Some(api) = api {
                if api.code == -1021 && !resynced {
                    resynced = true;
                    tracing::info!(endpoint = %endpoint, "binance: timestamp outside recvWindow, resyncing server time");
                    self.sync_time().await?;
                    continue;
                }
                let hint = creds.map(Credentials::key_hint).unwrap_or_default();
                return Err(VenueError::from_api(
                    &endpoint, status, api.code, api.msg, &hint,
                ));
            }
            if status >= 500 {
                return Err(VenueError::Server {
                    endpoint,
                    status,
                    body: snippet(&body),
                });
            }
            return Err(VenueError::Http {
                endpoint,
                status,
                body: snippet(&body),
            });
        }
    }
}

fn tif_str(tif: TimeInForce) -> &'static str {
    match tif {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
    }
}

/// Pick the symbol's rules out of an exchangeInfo body.
pub(crate) fn parse_exchange_info(
    ep: &str,
    symbol: &str,
    body: &serde_json::Value,
) -> Result<SymbolRules, VenueError> {
    let sym = body
        .get("symbols")
        .and_then(|s| s.as_array())
        .and_then(|list| {
            list.iter()
                .find(|s| s.get("symbol").and_then(|v| v.as_str()) == Some(symbol))
        })
        .ok_or_else(|| VenueError::UnknownSymbol {
            symbol: symbol.to_owned(),
        })?;
    let text = |v: &serde_json::Value, field: &str| -> Result<String, VenueError> {
        v.get(field)
            .and_then(|x| x.as_str())
            .map(str::to_owned)
            .ok_or_else(|| field_err(ep, field, "missing or not a string"))
    };
    let filters = sym
        .get("filters")
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    let filter = |kind: &str| {
        filters
            .iter()
            .find(|f| f.get("filterType").and_then(|t| t.as_str()) == Some(kind))
    };
    let price_filter =
        filter("PRICE_FILTER").ok_or_else(|| field_err(ep, "filters", "no PRICE_FILTER"))?;
    let lot = filter("LOT_SIZE").ok_or_else(|| field_err(ep, "filters", "no LOT_SIZE"))?;
    let tick_text = text(price_filter, "tickSize")?;
    let step_text = text(lot, "stepSize")?;
    let price_precision = significant_decimals(&tick_text);
    let qty_precision = significant_decimals(&step_text);
    if price_precision > 9 || qty_precision > 9 {
        return Err(field_err(
            ep,
            "filters",
            format!("tickSize {tick_text} / stepSize {step_text} need more than 9 decimals"),
        ));
    }
    let min_notional = match filter("NOTIONAL").or_else(|| filter("MIN_NOTIONAL")) {
        Some(f) => wire::money(ep, "minNotional", &text(f, "minNotional")?)?,
        None => Money::ZERO,
    };
    Ok(SymbolRules {
        symbol: symbol.to_owned(),
        status: text(sym, "status")?,
        base_asset: text(sym, "baseAsset")?,
        quote_asset: text(sym, "quoteAsset")?,
        tick_size: wire::price(ep, "tickSize", &tick_text, price_precision)?,
        step_size: wire::qty(ep, "stepSize", &step_text, qty_precision)?,
        min_qty: wire::qty(ep, "minQty", &text(lot, "minQty")?, qty_precision)?,
        min_notional,
        price_precision,
        qty_precision,
    })
}

/// The order shape shared by new-order, query, open-orders and cancel responses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawOrder {
    symbol: String,
    #[serde(rename = "orderId")]
    order_id: u64,
    #[serde(rename = "clientOrderId")]
    client_order_id: String,
    #[serde(rename = "origClientOrderId", default)]
    orig_client_order_id: Option<String>,
    #[serde(rename = "transactTime", default)]
    transact_time: Option<i64>,
    #[serde(default)]
    price: Option<String>,
    #[serde(rename = "origQty", default)]
    orig_qty: Option<String>,
    #[serde(rename = "executedQty", default)]
    executed_qty: Option<String>,
    #[serde(rename = "cummulativeQuoteQty", default)]
    cum_quote_qty: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(rename = "timeInForce", default)]
    time_in_force: Option<String>,
    #[serde(rename = "type", default)]
    order_type: Option<String>,
    #[serde(default)]
    side: Option<String>,
    #[serde(default)]
    time: Option<i64>,
    #[serde(rename = "updateTime", default)]
    update_time: Option<i64>,
    #[serde(default)]
    fills: Vec<RawFill>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawFill {
    price: String,
    qty: String,
    commission: String,
    #[serde(rename = "commissionAsset")]
    commission_asset: String,
    #[serde(rename = "tradeId", default)]
    trade_id: Option<i64>,
}

fn required<'a>(ep: &str, field: &str, v: &'a Option<String>) -> Result<&'a str, VenueError> {
    v.as_deref()
        .ok_or_else(|| field_err(ep, field, "missing from the response"))
}

impl RawOrder {
    pub(crate) fn into_ack(self, ep: &str, p: Precision) -> Result<OrderAck, VenueError> {
        let fills = self
            .fills
            .iter()
            .map(|f| {
                Ok(OrderFill {
                    price: wire::price(ep, "fills.price", &f.price, p.price)?,
                    qty: wire::qty(ep, "fills.qty", &f.qty, p.qty)?,
                    commission: wire::money(ep, "fills.commission", &f.commission)?,
                    commission_asset: f.commission_asset.clone(),
                    trade_id: f.trade_id.and_then(|t| u64::try_from(t).ok()),
                })
            })
            .collect::<Result<Vec<_>, VenueError>>()?;
        Ok(OrderAck {
            transact_time: wire::ms(
                ep,
                "transactTime",
                self.transact_time
                    .ok_or_else(|| field_err(ep, "transactTime", "missing from the response"))?,
            )?,
            status: OrderStatus::parse(required(ep, "status", &self.status)?),
            executed_qty: wire::qty(
                ep,
                "executedQty",
                required(ep, "executedQty", &self.executed_qty)?,
                p.qty,
            )?,
            cum_quote_qty: wire::money(
                ep,
                "cummulativeQuoteQty",
                required(ep, "cummulativeQuoteQty", &self.cum_quote_qty)?,
            )?,
            fills,
            symbol: self.symbol,
            order_id: self.order_id,
            client_order_id: self.client_order_id,
        })
    }

    pub(crate) fn into_state(self, ep: &str, p: Precision) -> Result<OrderState, VenueError> {
        let time = self.time.map(|t| wire::ms(ep, "time", t)).transpose()?;
        let update_time = self
            .update_time
            .map(|t| wire::ms(ep, "updateTime", t))
            .transpose()?;
        Ok(OrderState {
            side: wire::side(ep, "side", required(ep, "side", &self.side)?)?,
            order_type: required(ep, "type", &self.order_type)?.to_owned(),
            price: wire::price(ep, "price", required(ep, "price", &self.price)?, p.price)?,
            orig_qty: wire::qty(
                ep,
                "origQty",
                required(ep, "origQty", &self.orig_qty)?,
                p.qty,
            )?,
            executed_qty: wire::qty(
                ep,
                "executedQty",
                required(ep, "executedQty", &self.executed_qty)?,
                p.qty,
            )?,
            cum_quote_qty: wire::money(
                ep,
                "cummulativeQuoteQty",
                required(ep, "cummulativeQuoteQty", &self.cum_quote_qty)?,
            )?,
            status: OrderStatus::parse(required(ep, "status", &self.status)?),
            time_in_force: self.time_in_force,
            time,
            update_time,
            client_order_id: match self.orig_client_order_id {
                Some(orig) if !orig.is_empty() => orig,
                _ => self.client_order_id,
            },
            symbol: self.symbol,
            order_id: self.order_id,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawTrade {
    symbol: String,
    id: u64,
    #[serde(rename = "orderId")]
    order_id: u64,
    price: String,
    qty: String,
    #[serde(rename = "quoteQty")]
    quote_qty: String,
    commission: String,
    #[serde(rename = "commissionAsset")]
    commission_asset: String,
    time: i64,
    #[serde(rename = "isBuyer")]
    is_buyer: bool,
    #[serde(rename = "isMaker")]
    is_maker: bool,
}

impl RawTrade {
    pub(crate) fn parse(self, ep: &str, p: Precision) -> Result<TradeRecord, VenueError> {
        Ok(TradeRecord {
            price: wire::price(ep, "price", &self.price, p.price)?,
            qty: wire::qty(ep, "qty", &self.qty, p.qty)?,
            quote_qty: wire::money(ep, "quoteQty", &self.quote_qty)?,
            commission: wire::money(ep, "commission", &self.commission)?,
            time: wire::ms(ep, "time", self.time)?,
            symbol: self.symbol,
            id: self.id,
            order_id: self.order_id,
            commission_asset: self.commission_asset,
            is_buyer: self.is_buyer,
            is_maker: self.is_maker,
        })
    }
}

/// Largest difference between the exchange's clock and ours that is believed (a day).
const MAX_CLOCK_OFFSET_MS: i64 = 86_400_000;

/// The exchange's clock minus ours, from its `serverTime` and our clock before and after
/// asking. Checked: the server's number is outside input (`i64::MIN` overflowed), and a
/// clock a day off is not a network delay.
fn clock_offset(server: i64, before: i64, after: i64) -> Result<i64, VenueError> {
    server
        .checked_sub(before / 2 + after / 2)
        .filter(|o| o.abs() <= MAX_CLOCK_OFFSET_MS)
        .ok_or_else(|| {
            wire::field_err(
                "GET /api/v3/time",
                "serverTime",
                format!("{server} ms is more than a day from this machine's clock ({before} ms)"),
            )
        })
}

/// Longest `Retry-After` believed (a day); a longer one from the network is read as a day.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// `Retry-After` in whole seconds, capped at [`MAX_RETRY_AFTER`]; `None` when it is not
/// a number of seconds (Binance sends seconds).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs = value.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 429 with `Retry-After: 18446744073709551615` panicked with "overflow when adding
    /// duration to instant"; now it is capped and the gate is set a day ahead.
    #[tokio::test]
    async fn a_huge_retry_after_is_capped_not_a_panic() {
        assert_eq!(
            parse_retry_after("18446744073709551615"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("99999999999999999999999"), None);
        assert_eq!(parse_retry_after("-1"), None);
        let rest = BinanceRest::new(
            &BinanceEndpoints::custom("http://127.0.0.1:9", "ws://127.0.0.1:9"),
            None,
        )
        .unwrap();
        rest.set_gate(Duration::MAX);
        let err = rest.wait_gate("GET /api/v3/order").await.unwrap_err();
        assert!(
            matches!(err, VenueError::RateLimited { retry_after: Some(w), .. } if w <= MAX_RETRY_AFTER),
            "{err}"
        );
    }

    #[test]
    fn a_server_time_far_from_ours_is_an_error_not_an_overflow() {
        let now = 1_742_944_020_000;
        assert_eq!(clock_offset(now + 250, now, now + 2).unwrap(), 249);
        for server in [i64::MIN, i64::MAX, now + MAX_CLOCK_OFFSET_MS + 2, 0] {
            let e = clock_offset(server, now, now).unwrap_err();
            assert!(e.to_string().contains("serverTime"), "{e}");
        }
    }

    #[test]
    fn client_order_id_rule() {
        assert!(validate_client_order_id("tw-3f2a9c.17:a/b_c").is_ok());
        assert!(validate_client_order_id(&"a".repeat(36)).is_ok());
        assert!(validate_client_order_id("").is_err());
        assert!(validate_client_order_id(&"a".repeat(37)).is_err());
        let e = validate_client_order_id("bad id").unwrap_err();
        assert!(e.contains("' '"), "{e}");
    }

    #[test]
    fn listen_key_is_redacted() {
        let k = ListenKey::new("pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1");
        assert_eq!(format!("{k:?}"), "ListenKey(pqia…)");
        assert_eq!(k.to_string(), "pqia…");
    }

    #[test]
    fn debug_of_client_hides_the_secret() {
        let rest = BinanceRest::new(
            &BinanceEndpoints::custom("http://127.0.0.1:9", "ws://127.0.0.1:9"),
            Some(Credentials::new("KEYKEYKEY", "SECRETSECRET")),
        )
        .unwrap();
        let shown = format!("{rest:?}");
        assert!(
            !shown.contains("SECRETSECRET") && !shown.contains("KEYKEYKEY"),
            "{shown}"
        );
    }

    #[test]
    fn rejects_non_http_base() {
        let e = BinanceRest::new(&BinanceEndpoints::custom("ftp://x", "ws://x"), None).unwrap_err();
        assert!(e.to_string().contains("https://"), "{e}");
    }
}
