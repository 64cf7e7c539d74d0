//! The HTTP/WebSocket listener, REST routing, stream connections, the replay driver and
//! the control handles for tests.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tradewind_test_support::Served;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::exchange::{ApiError, Order, Params};
use crate::market::{MarketMsg, stream_key};
use crate::state::{Balance, RequestRecord, State, UserMsg};
use crate::{MockConfig, MockError, Speed};

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;
/// Interval of server ping frames on stream connections.
const PING_EVERY: Duration = Duration::from_secs(20);

/// State shared by every connection.
pub struct Shared {
    state: Mutex<State>,
    shutdown: watch::Sender<bool>,
    drop_market: watch::Sender<u64>,
    drop_user: watch::Sender<u64>,
    wake: Notify,
    /// Woken after every request served (see [`Handle::served`]).
    served: Notify,
    market_conns: AtomicUsize,
    user_conns: AtomicUsize,
    addr: SocketAddr,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("addr", &self.addr).finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A control handle on a running mock: endpoints, replay control, observation, faults.
#[derive(Clone, Debug)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Loads the data and starts serving on `listener` in the current tokio runtime.
    pub fn spawn(listener: tokio::net::TcpListener, config: MockConfig) -> Result<Self, MockError> {
        let addr = listener.local_addr().map_err(|source| MockError::Bind {
            addr: "listener".into(),
            source,
        })?;
        let state = State::new(config)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            shutdown: watch::channel(false).0,
            drop_market: watch::channel(0).0,
            drop_user: watch::channel(0).0,
            wake: Notify::new(),
            served: Notify::new(),
            market_conns: AtomicUsize::new(0),
            user_conns: AtomicUsize::new(0),
            addr,
        });
        tokio::spawn(accept_loop(listener, shared.clone()));
        tokio::spawn(replay_loop(shared.clone()));
        tracing::info!(%addr, "tradewind-binance-mock listening");
        Ok(Self { shared })
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.shared.addr.port()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:PORT` (REST base; paths are `/api/v3/...`).
    pub fn rest_base(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// `ws://127.0.0.1:PORT` (streams at `/ws/<stream>` and `/stream?streams=`).
    pub fn ws_base(&self) -> String {
        format!("ws://{}", self.shared.addr)
    }

    /// Pauses the replay.
    pub fn pause(&self) {
        self.shared.lock().paused = true;
        self.shared.wake.notify_one();
    }

    /// Resumes the replay at the configured speed.
    pub fn resume(&self) {
        self.shared.lock().paused = false;
        self.shared.wake.notify_one();
    }

    /// `true` while paused.
    pub fn is_paused(&self) -> bool {
        self.shared.lock().paused
    }

    /// Changes the replay speed.
    pub fn set_speed(&self, speed: Speed) {
        self.shared.lock().speed = speed;
        self.shared.wake.notify_one();
    }

    /// Applies the next `n` replayed events now (meant for a paused replay); returns how
    /// many were left to apply (fewer at the end of the data).
    pub fn advance(&self, n: usize) -> usize {
        let mut st = self.shared.lock();
        (0..n).take_while(|_| st.step()).count()
    }

    /// Events replayed so far.
    pub fn replayed(&self) -> usize {
        self.shared.lock().cursor
    }

    /// Events not replayed yet.
    pub fn remaining(&self) -> usize {
        let st = self.shared.lock();
        st.events.len() - st.cursor
    }

    /// Applies events until the next one of `symbol` of the given kind (`"trade"` or
    /// `"quote"`) has been applied; returns the events applied (0 if none is left).
    pub fn advance_until(&self, symbol: &str, kind: &str) -> usize {
        let mut st = self.shared.lock();
        let Some(mi) = st.market_index(symbol) else {
            return 0;
        };
        let target = st.events[st.cursor..].iter().position(|e| {
            e.market == mi
                && matches!(
                    (&e.kind, kind),
                    (crate::market::EventKind::Trade { .. }, "trade")
                        | (crate::market::EventKind::Quote { .. }, "quote")
                )
        });
        match target {
            Some(k) => (0..=k).take_while(|_| st.step()).count(),
            None => 0,
        }
    }

    /// The current best bid and ask `((price, qty), (price, qty))` of `symbol`.
    pub fn best_bid_ask(
        &self,
        symbol: &str,
    ) -> Option<((crate::Dec, crate::Dec), (crate::Dec, crate::Dec))> {
        let st = self.shared.lock();
        let m = &st.markets[st.market_index(symbol)?];
        Some((m.best_bid()?, m.best_ask()?))
    }

    /// The last depth update id of `symbol`.
    pub fn last_update_id(&self, symbol: &str) -> Option<u64> {
        let st = self.shared.lock();
        st.market_index(symbol)
            .map(|i| st.markets[i].last_update_id)
    }

    /// Closes every market-data WebSocket connection (abruptly, no close frame).
    pub fn drop_market_streams(&self) {
        self.shared.drop_market.send_modify(|g| *g += 1);
    }

    /// Closes every user-data WebSocket connection (abruptly, no close frame).
    pub fn drop_user_streams(&self) {
        self.shared.drop_user.send_modify(|g| *g += 1);
    }

    /// Open market-data WebSocket connections.
    pub fn market_connections(&self) -> usize {
        self.shared.market_conns.load(Ordering::SeqCst)
    }

    /// Open user-data WebSocket connections.
    pub fn user_connections(&self) -> usize {
        self.shared.user_conns.load(Ordering::SeqCst)
    }

    /// Withholds the next `n` depth diff events of every symbol (their update ids are
    /// consumed), so a client sees `U > previous u + 1`.
    pub fn skip_depth_updates(&self, n: u64) {
        let mut st = self.shared.lock();
        let markets = st.markets.len();
        st.faults.skip_depth.resize(markets, 0);
        st.faults.skip_depth.iter_mut().for_each(|s| *s += n);
    }

    /// Answers the next `n` REST requests with `status` and `{"code":binance_code,..}`
    /// (418 and 429 also carry `Retry-After: 60`).
    pub fn fail_next_rest(&self, status: u16, binance_code: i64, n: u32) {
        if n > 0 {
            self.shared
                .lock()
                .faults
                .fail
                .push_back((status, binance_code, n));
        }
    }

    /// Answers the next `n` REST requests with 429, code -1003 and `Retry-After`.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        self.shared.lock().faults.throttle = (n > 0).then_some((n, retry_after_secs));
    }

    /// Rejects the next new order with HTTP 400 and `{"code":code,"msg":msg}` (not booked).
    pub fn reject_next_order(&self, code: i64, msg: &str) {
        self.shared
            .lock()
            .faults
            .reject_order
            .push_back((code, msg.to_owned()));
    }

    /// Delays every `POST /api/v3/order` response by `ms` after the order is booked
    /// (0 turns it off).
    pub fn delay_order_response(&self, ms: u64) {
        self.shared.lock().faults.order_delay_ms = ms;
    }

    /// The next `POST /api/v3/order` is processed and booked, but the connection is
    /// closed without a response (a crash between send and ack).
    pub fn hang_next_order(&self) {
        self.shared.lock().faults.hang_orders += 1;
    }

    /// From now on every order already booked is unknown to order queries (`-2013`) and
    /// cancels (`-2011`), while its trades stay in `GET /api/v3/myTrades`.
    pub fn forget_orders(&self) {
        let mut st = self.shared.lock();
        st.faults.forgotten = st.orders.len();
    }

    /// Sets (or, with `None`, removes) the ticker price of a symbol not replayed.
    pub fn set_ticker(&self, symbol: &str, price: Option<crate::Dec>) {
        let mut st = self.shared.lock();
        match price {
            Some(p) => st.config.tickers.insert(symbol.to_ascii_uppercase(), p),
            None => st.config.tickers.remove(&symbol.to_ascii_uppercase()),
        };
    }

    /// Every order the mock accepted, in acceptance order, with its current state.
    pub fn orders(&self) -> Vec<Order> {
        self.shared.lock().orders.clone()
    }

    /// Number of orders the mock accepted.
    pub fn order_count(&self) -> usize {
        self.shared.lock().orders.len()
    }

    /// Every request served: method, path, status (no keys, parameters or signatures).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.clone()
    }

    /// Balances of `api_key` by asset (`None` for an unknown key).
    pub fn balances(&self, api_key: &str) -> Option<BTreeMap<String, Balance>> {
        self.shared
            .lock()
            .accounts
            .get(api_key)
            .map(|a| a.balances.clone())
    }

    /// Resolves once a `method path` request has been answered with `status` (the answer
    /// may still be on its way to the client).
    pub async fn served(&self, method: &str, path: &str, status: u16) {
        loop {
            let woken = self.shared.served.notified();
            tokio::pin!(woken);
            // Registered before the log is read, so a request served in between wakes it.
            woken.as_mut().enable();
            let seen = self
                .shared
                .lock()
                .log
                .iter()
                .any(|r| r.method == method && r.path == path && r.status == status);
            if seen {
                return;
            }
            woken.await;
        }
    }

    /// Whether `api_key` has a listenKey open (created and not yet closed by
    /// `DELETE /api/v3/userDataStream`).
    pub fn listen_key_open(&self, api_key: &str) -> bool {
        self.shared
            .lock()
            .accounts
            .get(api_key)
            .is_some_and(|a| a.listen_key.is_some())
    }

    /// Shifts the server clock (`/api/v3/time`, timestamp checks, event times) by `ms`.
    pub fn set_time_offset_ms(&self, ms: i64) {
        self.shared.lock().time_offset_ms = ms;
    }

    /// The server clock in ms.
    pub fn server_time_ms(&self) -> i64 {
        self.shared.lock().now_ms()
    }

    /// Stops accepting connections and closes the streams.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        self.shared.wake.notify_one();
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(%e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(shared.clone(), req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await
            {
                tracing::debug!(%peer, %e, "connection ended");
            }
        });
    }
}

/// Paces the replay: each event is due at `anchor + (ts - anchor_ts) / speed`.
async fn replay_loop(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut anchor: Option<(tokio::time::Instant, i64, u64)> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let plan = {
            let st = shared.lock();
            match st.events.get(st.cursor) {
                Some(ev) if !st.paused => Some((ev.ts_ns, st.speed)),
                _ => None,
            }
        };
        let Some((ts, speed)) = plan else {
            anchor = None;
            tokio::select! {
                _ = shared.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            continue;
        };
        let due = match speed {
            Speed::AsFastAsPossible => None,
            Speed::Multiplier(f) => {
                let f = if f.is_finite() && f > 0.0 { f } else { 1.0 };
                let fbits = f.to_bits();
                let (at, ats, _) = *anchor.get_or_insert((tokio::time::Instant::now(), ts, fbits));
                if anchor.is_some_and(|a| a.2 != fbits) {
                    anchor = Some((tokio::time::Instant::now(), ts, fbits));
                    continue;
                }
                let wait_ns = ((ts - ats).max(0) as f64 / f) as u64;
                Some(at + Duration::from_nanos(wait_ns))
            }
        };
        if let Some(due) = due {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = shared.wake.notified() => { anchor = None; continue; }
                _ = shutdown.changed() => return,
            }
        }
        let mut n = 0;
        {
            let mut st = shared.lock();
            if st.paused {
                continue;
            }
            // As fast as possible: apply a batch, then yield to the connections.
            let batch = if due.is_none() { 64 } else { 1 };
            while n < batch && st.step() {
                n += 1;
            }
        }
        if n == 0 {
            continue;
        }
        tokio::task::yield_now().await;
    }
}

/// A reply before serialisation.
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body,
            retry_after: None,
        }
    }

    fn err(e: ApiError) -> Self {
        Self {
            status: e.status,
            body: json!({"code": e.code, "msg": e.msg}),
            retry_after: None,
        }
    }
}

fn respond(reply: Reply, weight: u64) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(reply.status)
        .header("content-type", "application/json;charset=UTF-8")
        .header("x-mbx-used-weight", weight.to_string())
        .header("x-mbx-used-weight-1m", weight.to_string());
    if let Some(s) = reply.retry_after {
        b = b.header("retry-after", s.to_string());
    }
    b.body(Full::new(Bytes::from(reply.body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn parse_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// How a request authenticates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Security {
    None,
    ApiKey,
    Signed,
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    if path.starts_with("/ws") || path == "/stream" || path.starts_with("/stream/") {
        let resp = ws_upgrade(&shared, req, &path, &raw_query);
        shared.lock().log.push(RequestRecord {
            method,
            path,
            status: resp.status().as_u16(),
        });
        shared.served.notify_waiters();
        return Ok(resp);
    }
    let api_key = req
        .headers()
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let (reply, is_order) = rest(
        &shared,
        &method,
        &path,
        &raw_query,
        &body,
        api_key.as_deref(),
    );
    let status = reply.status;
    let (hang, delay) = {
        let mut st = shared.lock();
        st.log.push(RequestRecord {
            method: method.clone(),
            path: path.clone(),
            status,
        });
        shared.served.notify_waiters();
        let hang = is_order && status == 200 && st.faults.hang_orders > 0;
        if hang {
            st.faults.hang_orders -= 1;
        }
        (
            hang,
            if is_order {
                st.faults.order_delay_ms
            } else {
                0
            },
        )
    };
    tracing::debug!(%method, %path, status, "request");
    if hang {
        tracing::info!("hang_next_order: order booked, dropping the connection");
        return Err(std::io::Error::other(
            "injected: connection dropped before the order response",
        ));
    }
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    Ok(respond(reply, 1))
}

/// Routes a REST request; the bool is `true` for `POST /api/v3/order`.
fn rest(
    shared: &Shared,
    method: &str,
    path: &str,
    raw_query: &str,
    body: &str,
    api_key: Option<&str>,
) -> (Reply, bool) {
    let mut st = shared.lock();
    // Injected faults first, as a gateway in front of the engine would.
    if let Some((n, secs)) = st.faults.throttle {
        st.faults.throttle = (n > 1).then_some((n - 1, secs));
        let mut r = Reply::err(ApiError {
            status: 429,
            code: -1003,
            msg: "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. Please use WebSocket Streams for live updates to avoid polling the API.".into(),
        });
        r.retry_after = Some(secs);
        return (r, false);
    }
    if let Some((status, code, n)) = st.faults.fail.front_mut().map(|f| (f.0, f.1, &mut f.2)) {
        *n -= 1;
        if *n == 0 {
            st.faults.fail.pop_front();
        }
        let msg = match status {
            418 => {
                "Way too many requests; IP(127.0.0.1) banned until later. Please use WebSocket Streams for live updates to avoid bans."
            }
            429 => "Too many requests.",
            s if s >= 500 => "An unknown error occurred while processing the request.",
            _ => "Injected failure.",
        };
        let mut r = Reply::err(ApiError {
            status,
            code,
            msg: msg.into(),
        });
        if matches!(status, 418 | 429) {
            r.retry_after = Some(60);
        }
        return (r, false);
    }

    let security = match (method, path) {
        (
            "GET",
            "/api/v3/ping"
            | "/api/v3/time"
            | "/api/v3/exchangeInfo"
            | "/api/v3/depth"
            | "/api/v3/klines"
            | "/api/v3/ticker/price",
        ) => Security::None,
        ("POST" | "PUT" | "DELETE", "/api/v3/userDataStream") => Security::ApiKey,
        ("POST" | "DELETE" | "GET", "/api/v3/order")
        | ("GET" | "DELETE", "/api/v3/openOrders")
        | ("GET", "/api/v3/account" | "/api/v3/myTrades") => Security::Signed,
        (_, p) if p.starts_with("/api/") => {
            return (
                Reply {
                    status: 404,
                    body: json!({"code": -1000, "msg": "Unsupported endpoint in the Binance mock."}),
                    retry_after: None,
                },
                false,
            );
        }
        _ => {
            return (
                Reply {
                    status: 404,
                    body: json!({}),
                    retry_after: None,
                },
                false,
            );
        }
    };

    // Parameters: the query string wins over the body.
    let mut params: Params = HashMap::new();
    for (k, v) in parse_pairs(body) {
        params.insert(k, v);
    }
    for (k, v) in parse_pairs(raw_query) {
        params.insert(k, v);
    }

    let key = if security == Security::None {
        String::new()
    } else {
        match authenticate(&st, security, raw_query, body, api_key, &params) {
            Ok(k) => k,
            Err(e) => return (Reply::err(e), false),
        }
    };

    let result: Result<Value, ApiError> = match (method, path) {
        ("GET", "/api/v3/ping") => Ok(json!({})),
        ("GET", "/api/v3/time") => Ok(json!({"serverTime": st.now_ms()})),
        ("GET", "/api/v3/exchangeInfo") => exchange_info(&st, &params),
        ("GET", "/api/v3/depth") => depth(&st, &params),
        ("GET", "/api/v3/klines") => klines(&st, &params),
        ("GET", "/api/v3/ticker/price") => ticker_price(&st, &params),
        ("POST", "/api/v3/order") => {
            let r = st.place_order(&key, &params);
            return (r.map_or_else(Reply::err, Reply::ok), true);
        }
        ("GET", "/api/v3/order") => st.query_order(&key, &params),
        ("DELETE", "/api/v3/order") => st.cancel_order(&key, &params),
        ("GET", "/api/v3/openOrders") => st.open_orders(&key, &params),
        ("DELETE", "/api/v3/openOrders") => st.cancel_all(&key, &params),
        ("GET", "/api/v3/account") => Ok(st.account_json(&key)),
        ("GET", "/api/v3/myTrades") => st.my_trades_json(&key, &params),
        ("POST", "/api/v3/userDataStream") => Ok(listen_key_create(&mut st, &key)),
        ("PUT" | "DELETE", "/api/v3/userDataStream") => {
            listen_key_touch(&mut st, &key, &params, method == "DELETE")
        }
        _ => Err(ApiError::bad(
            -1000,
            "Unsupported endpoint in the Binance mock.",
        )),
    };
    (result.map_or_else(Reply::err, Reply::ok), false)
}

/// Checks the API key, and for SIGNED requests the timestamp window and the signature.
fn authenticate(
    st: &State,
    security: Security,
    raw_query: &str,
    body: &str,
    api_key: Option<&str>,
    params: &Params,
) -> Result<String, ApiError> {
    let unauthorized = |code: i64, msg: &str| ApiError {
        status: 401,
        code,
        msg: msg.into(),
    };
    let key = match api_key {
        Some(k) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic()) => k,
        _ => return Err(unauthorized(-2014, "API-key format invalid.")),
    };
    let Some(account) = st.accounts.get(key) else {
        return Err(unauthorized(
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ));
    };
    if security == Security::Signed {
        let timestamp: i64 = params
            .get("timestamp")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                ApiError::bad(
                    -1102,
                    "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
                )
            })?;
        let recv_window: i64 = match params.get("recvWindow") {
            None => 5000,
            Some(r) => r.parse().map_err(|_| {
                ApiError::bad(-1100, "Illegal characters found in parameter 'recvWindow'.")
            })?,
        };
        if recv_window > 60_000 {
            return Err(ApiError::bad(-1131, "recvWindow must be less than 60000"));
        }
        let now = st.now_ms();
        if timestamp >= now + 1000 {
            return Err(ApiError::bad(
                -1021,
                "Timestamp for this request was 1000ms ahead of the server's time.",
            ));
        }
        if now - timestamp > recv_window {
            return Err(ApiError::bad(
                -1021,
                "Timestamp for this request is outside of the recvWindow.",
            ));
        }
        let (q, qsig) = crate::sign::split_signature(raw_query);
        let (b, bsig) = crate::sign::split_signature(body);
        let Some(sig) = qsig.or(bsig).filter(|s| !s.is_empty()) else {
            return Err(ApiError::bad(
                -1102,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            ));
        };
        let total = format!("{q}{b}");
        if !crate::sign::verify(&account.secret, &total, &sig) {
            return Err(ApiError::bad(
                -1022,
                "Signature for this request is not valid.",
            ));
        }
    }
    Ok(key.to_owned())
}

/// `GET /api/v3/ticker/price?symbol=…` (one symbol).
fn ticker_price(st: &State, p: &Params) -> Result<Value, ApiError> {
    let symbol = p
        .get("symbol")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::mandatory("symbol"))?;
    let price = st
        .ticker(symbol)
        .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))?;
    Ok(json!({"symbol": symbol.to_ascii_uppercase(), "price": price.to_string()}))
}

fn exchange_info(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut wanted: Option<Vec<String>> = None;
    if let Some(s) = p.get("symbol").filter(|s| !s.is_empty()) {
        wanted = Some(vec![s.to_ascii_uppercase()]);
    } else if let Some(s) = p.get("symbols").filter(|s| !s.is_empty()) {
        let list: Vec<String> = serde_json::from_str(s).map_err(|_| {
            ApiError::bad(-1100, "Illegal characters found in parameter 'symbols'.")
        })?;
        wanted = Some(list.iter().map(|s| s.to_ascii_uppercase()).collect());
    }
    let symbols: Vec<Value> = match &wanted {
        None => st.markets.iter().map(|m| m.rules.exchange_info()).collect(),
        Some(list) => list
            .iter()
            .map(|s| {
                st.market_index(s)
                    .map(|i| st.markets[i].rules.exchange_info())
                    .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(json!({
        "timezone": "UTC",
        "serverTime": st.now_ms(),
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }))
}

/// `GET /api/v3/klines?symbol&interval[&startTime][&endTime][&limit]`: closed klines.
fn klines(st: &State, p: &Params) -> Result<Value, ApiError> {
    let symbol = p.get("symbol").filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::bad(
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        )
    })?;
    let mi = st
        .market_index(symbol)
        .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))?;
    let interval = p.get("interval").map(String::as_str).unwrap_or_default();
    let ms = |name: &str| -> Result<Option<i64>, ApiError> {
        p.get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad(
                        -1100,
                        format!("Illegal characters found in parameter '{name}'."),
                    )
                })
            })
            .transpose()
    };
    let limit = match p.get("limit") {
        None => 500,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| {
                ApiError::bad(-1100, "Illegal characters found in parameter 'limit'.")
            })?,
    };
    st.markets[mi]
        .klines_rest(interval, ms("startTime")?, ms("endTime")?, limit)
        .ok_or_else(|| ApiError::bad(-1120, "Invalid interval."))
}

fn depth(st: &State, p: &Params) -> Result<Value, ApiError> {
    let symbol = p.get("symbol").filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::bad(
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        )
    })?;
    let mi = st
        .market_index(symbol)
        .ok_or_else(|| ApiError::bad(-1121, "Invalid symbol."))?;
    let limit = match p.get("limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=5000).contains(l))
            .ok_or_else(|| {
                ApiError::bad(-1100, "Illegal characters found in parameter 'limit'.")
            })?,
    };
    Ok(st.markets[mi].depth_snapshot(limit))
}

fn new_listen_key() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 32];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn listen_key_create(st: &mut State, api_key: &str) -> Value {
    let acc = st.accounts.get_mut(api_key).expect("authenticated");
    let key = acc.listen_key.get_or_insert_with(new_listen_key).clone();
    json!({"listenKey": key})
}

fn listen_key_touch(
    st: &mut State,
    api_key: &str,
    p: &Params,
    delete: bool,
) -> Result<Value, ApiError> {
    let given = p
        .get("listenKey")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad(
                -1102,
                "Mandatory parameter 'listenKey' was not sent, was empty/null, or malformed.",
            )
        })?;
    let acc = st.accounts.get_mut(api_key).expect("authenticated");
    if acc.listen_key.as_deref() != Some(given.as_str()) {
        return Err(ApiError::bad(-1125, "This listenKey does not exist."));
    }
    if delete {
        acc.listen_key = None;
        let _ = st.user_tx.send(Arc::new(UserMsg {
            api_key: api_key.to_owned(),
            json: String::new(),
            close: true,
        }));
    }
    Ok(json!({}))
}

/// One subscription of a stream connection.
#[derive(Clone, Debug)]
enum Sub {
    /// Market stream: name as subscribed, normalised key.
    Market { name: String, key: String },
    /// User data stream: listenKey and its account.
    User { name: String, api_key: String },
}

impl Sub {
    fn name(&self) -> &str {
        match self {
            Sub::Market { name, .. } | Sub::User { name, .. } => name,
        }
    }
}

fn resolve(st: &State, name: &str) -> Sub {
    match st
        .accounts
        .iter()
        .find(|(_, a)| a.listen_key.as_deref() == Some(name))
    {
        Some((k, _)) => Sub::User {
            name: name.to_owned(),
            api_key: k.clone(),
        },
        None => Sub::Market {
            name: name.to_owned(),
            key: stream_key(name),
        },
    }
}

fn ws_upgrade(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    path: &str,
    raw_query: &str,
) -> Response<Full<Bytes>> {
    let plain = |status: u16, msg: &str| {
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(msg.to_owned())))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    };
    let Some(ws_key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_owned())
    else {
        return plain(400, "expected a WebSocket upgrade");
    };
    let (names, combined): (Vec<String>, bool) = if let Some(rest) = path.strip_prefix("/ws") {
        (
            rest.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            false,
        )
    } else {
        let streams = parse_pairs(raw_query)
            .into_iter()
            .find(|(k, _)| k == "streams")
            .map(|(_, v)| v)
            .unwrap_or_default();
        (
            streams
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            true,
        )
    };
    let (subs, market_rx, user_rx) = {
        let st = shared.lock();
        let subs: Vec<Sub> = names.iter().map(|n| resolve(&st, n)).collect();
        if names.iter().any(|n| !n.contains('@'))
            && subs
                .iter()
                .any(|s| matches!(s, Sub::Market { key, .. } if !key.contains('@')))
        {
            return plain(400, "Invalid request: unknown stream or listenKey");
        }
        // Subscribe before answering 101: events after the handshake are never missed.
        (subs, st.market_tx.subscribe(), st.user_tx.subscribe())
    };
    let is_user = subs.iter().any(|s| matches!(s, Sub::User { .. }));
    let counter = if is_user {
        &shared.user_conns
    } else {
        &shared.market_conns
    };
    counter.fetch_add(1, Ordering::SeqCst);
    let conn = Conn {
        shared: shared.clone(),
        subs,
        combined,
        is_user,
    };
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(up) => {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, None).await;
                conn.run(ws, market_rx, user_rx).await;
            }
            Err(e) => {
                tracing::debug!(%e, "upgrade failed");
                conn.release();
            }
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&ws_key);
    Response::builder()
        .status(101)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// A stream connection.
struct Conn {
    shared: Arc<Shared>,
    subs: Vec<Sub>,
    combined: bool,
    is_user: bool,
}

impl Conn {
    fn release(&self) {
        let counter = if self.is_user {
            &self.shared.user_conns
        } else {
            &self.shared.market_conns
        };
        counter.fetch_sub(1, Ordering::SeqCst);
    }

    fn frame(&self, name: &str, json: &str) -> String {
        if self.combined {
            format!("{{\"stream\":\"{name}\",\"data\":{json}}}")
        } else {
            json.to_owned()
        }
    }

    /// Answers a JSON control message (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS,
    /// SET_PROPERTY, GET_PROPERTY).
    fn control(&mut self, text: &str) -> Value {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return json!({"code": 3, "msg": format!("Invalid JSON: {e}")});
            }
        };
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        let params: Vec<Value> = v
            .get("params")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let names = || -> Vec<String> {
            params
                .iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        };
        match v.get("method").and_then(Value::as_str) {
            Some("SUBSCRIBE") => {
                let st = self.shared.lock();
                for n in names() {
                    if !self.subs.iter().any(|s| s.name() == n) {
                        self.subs.push(resolve(&st, &n));
                    }
                }
                json!({"result": null, "id": id})
            }
            Some("UNSUBSCRIBE") => {
                let remove = names();
                self.subs.retain(|s| !remove.iter().any(|r| r == s.name()));
                json!({"result": null, "id": id})
            }
            Some("LIST_SUBSCRIPTIONS") => {
                let list: Vec<&str> = self.subs.iter().map(Sub::name).collect();
                json!({"result": list, "id": id})
            }
            Some("SET_PROPERTY") if params.first().and_then(Value::as_str) == Some("combined") => {
                match params.get(1).and_then(Value::as_bool) {
                    Some(b) => {
                        self.combined = b;
                        json!({"result": null, "id": id})
                    }
                    None => json!({"code": 1, "msg": "Invalid value type: expected Boolean"}),
                }
            }
            Some("GET_PROPERTY") if params.first().and_then(Value::as_str) == Some("combined") => {
                json!({"result": self.combined, "id": id})
            }
            Some("SET_PROPERTY" | "GET_PROPERTY") => {
                json!({"code": 0, "msg": "Unknown property", "id": id})
            }
            Some(other) => {
                json!({"code": 2, "msg": format!("Invalid request: unknown variant {other}, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`")})
            }
            None => json!({"code": 2, "msg": "Invalid request: missing field `method`"}),
        }
    }

    async fn run<S>(
        mut self,
        mut ws: WebSocketStream<S>,
        mut market_rx: broadcast::Receiver<Arc<MarketMsg>>,
        mut user_rx: broadcast::Receiver<Arc<UserMsg>>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut shutdown = self.shared.shutdown.subscribe();
        let mut drop_market = self.shared.drop_market.subscribe();
        let mut drop_user = self.shared.drop_user.subscribe();
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            let out: Option<String> = tokio::select! {
                _ = shutdown.changed() => break,
                _ = drop_market.changed(), if !self.is_user => {
                    tracing::debug!("drop_market_streams: closing a connection");
                    break;
                }
                _ = drop_user.changed(), if self.is_user => {
                    tracing::debug!("drop_user_streams: closing a connection");
                    break;
                }
                _ = ping.tick() => {
                    if ws.send(Message::Ping(Bytes::from_static(b"mock"))).await.is_err() {
                        break;
                    }
                    None
                }
                m = market_rx.recv() => match m {
                    Ok(m) => self
                        .subs
                        .iter()
                        .find(|s| matches!(s, Sub::Market { key, .. } if *key == m.key))
                        .map(|s| self.frame(s.name(), &m.json)),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::info!(n, "market stream client too slow; disconnecting");
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                u = user_rx.recv() => match u {
                    Ok(u) => {
                        let sub = self
                            .subs
                            .iter()
                            .find(|s| matches!(s, Sub::User { api_key, .. } if *api_key == u.api_key))
                            .cloned();
                        match sub {
                            Some(_) if u.close => break,
                            Some(s) => Some(self.frame(s.name(), &u.json)),
                            None => None,
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                incoming = ws.next() => match incoming {
                    Some(Ok(Message::Text(t))) => Some(self.control(t.as_str()).to_string()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    // Pings are answered by tungstenite; pongs and binary are ignored.
                    Some(Ok(_)) => None,
                },
            };
            if let Some(text) = out
                && ws.send(Message::text(text)).await.is_err()
            {
                break;
            }
        }
        self.release();
    }
}

/// A mock on its own thread and runtime, for tests (sync or async). Dropping it shuts
/// it down.
pub type TestServer = tradewind_test_support::TestServer<Handle>;

impl Served for Handle {
    type Config = MockConfig;
    type Error = MockError;
    const THREAD_NAME: &'static str = "tw-binance-mock";

    fn spawn(listener: tokio::net::TcpListener, config: MockConfig) -> Result<Self, MockError> {
        Handle::spawn(listener, config)
    }

    fn shutdown(&self) {
        Handle::shutdown(self)
    }

    fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shared.shutdown.subscribe()
    }
}
