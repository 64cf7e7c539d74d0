//! The user data stream: listenKey lifecycle (create, keepalive every 30 minutes,
//! recreate when it expires) and the account's order and balance events.
//!
//! After [`UserEvent::Reconnected`] events may have been missed: reconcile through REST
//! (`open_orders`, `order`, `my_trades`, `account`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use tradewind_core::data::UnixNanos;
use tradewind_core::fixed::Money;

use super::error::{FeedError, VenueError};
use super::rest::{BinanceRest, ListenKey};
use super::wire::{
    self, AccountPositionMsg, Balance, BalanceUpdateMsg, ExecutionReport, ExecutionReportMsg,
};
use super::ws::{self, Read, WsStream};
use super::{Backoff, BinanceEndpoints, tls_config};

/// Tunables of [`UserStream`].
#[derive(Debug, Clone)]
pub struct UserStreamOptions {
    /// How often to extend the listenKey (Binance: valid 60 minutes, ping every 30).
    pub keepalive_every: Duration,
    /// Reconnect when nothing (not even a ping) arrives for this long. Binance pings
    /// every few minutes even when the account is idle.
    pub stale_after: Duration,
    /// First reconnect delay.
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Give up after this many consecutive failed reconnects (`None`: never).
    pub max_reconnect_attempts: Option<u32>,
    /// Timeout of one WebSocket connect.
    pub connect_timeout: Duration,
}

impl Default for UserStreamOptions {
    fn default() -> Self {
        Self {
            keepalive_every: Duration::from_secs(30 * 60),
            stale_after: Duration::from_secs(10 * 60),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            max_reconnect_attempts: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// One user data stream event.
// Execution reports dominate the stream; boxing them would add an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserEvent {
    /// An order update (`executionReport`).
    Execution(ExecutionReport),
    /// Balances that changed (`outboundAccountPosition`).
    Balances(Vec<Balance>),
    /// A deposit, withdrawal or transfer (`balanceUpdate`).
    BalanceDelta {
        /// Asset.
        asset: String,
        /// Signed change.
        delta: Money,
        /// Clear time.
        ts: UnixNanos,
    },
    /// The stream was re-established (after a drop, a stale connection or an expired
    /// listenKey); reconcile through REST.
    Reconnected {
        /// Connection attempts it took.
        attempt: u32,
    },
}

#[derive(Deserialize)]
struct EventType {
    e: String,
}

/// Binance wraps user events in `{"subscriptionId":…,"event":{…}}` on the WebSocket API
/// and sends them bare on `/ws/<listenKey>`; both are accepted.
#[derive(Deserialize)]
struct Wrapped {
    event: serde_json::Value,
}

/// The account's live order and balance events.
pub struct UserStream {
    ws_base: String,
    rest: BinanceRest,
    options: UserStreamOptions,
    tls: Arc<rustls::ClientConfig>,
    key: ListenKey,
    ws: Option<WsStream>,
    next_keepalive: Instant,
    need_new_key: bool,
    backoff: Backoff,
    pending: VecDeque<UserEvent>,
    /// Execution reports read but not yet converted (their symbol's rules may need a
    /// REST call); kept here so a cancelled `next` loses nothing.
    unparsed: VecDeque<ExecutionReportMsg>,
    reconnects: u64,
    closed: bool,
}

impl std::fmt::Debug for UserStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStream")
            .field("ws_base", &self.ws_base)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl UserStream {
    /// Create a listenKey and connect, with default options.
    pub async fn connect(
        endpoints: &BinanceEndpoints,
        rest: &BinanceRest,
    ) -> Result<Self, FeedError> {
        Self::connect_with(endpoints, rest, UserStreamOptions::default()).await
    }

    /// Create a listenKey and connect. Fails on bad credentials (the listenKey request
    /// is refused) or when the first connection cannot be made.
    pub async fn connect_with(
        endpoints: &BinanceEndpoints,
        rest: &BinanceRest,
        options: UserStreamOptions,
    ) -> Result<Self, FeedError> {
        let ws_base = endpoints.ws.trim_end_matches('/').to_owned();
        if !(ws_base.starts_with("ws://") || ws_base.starts_with("wss://")) {
            return Err(FeedError::Url {
                url: ws_base,
                detail: "must start with ws:// or wss://".into(),
            });
        }
        let tls = tls_config()?;
        let key = rest.create_listen_key().await?;
        let url = format!("{ws_base}/ws/{}", key.expose());
        let ws = ws::connect(&url, &tls, options.connect_timeout)
            .await
            .map_err(|e| FeedError::Url {
                url: format!("{ws_base}/ws/{key}"),
                detail: redact_key(&e, &key),
            })?;
        tracing::info!(listen_key = %key, "binance user stream connected");
        Ok(Self {
            next_keepalive: Instant::now() + options.keepalive_every,
            backoff: Backoff::new(options.backoff_base, options.backoff_max),
            ws_base,
            rest: rest.clone(),
            options,
            tls,
            key,
            ws: Some(ws),
            need_new_key: false,
            pending: VecDeque::new(),
            unparsed: VecDeque::new(),
            reconnects: 0,
            closed: false,
        })
    }

    /// Reconnects so far (for /metrics).
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Close the stream and its listenKey; [`next`](Self::next) then returns
    /// [`FeedError::Closed`].
    pub async fn close(&mut self) -> Result<(), VenueError> {
        self.closed = true;
        if let Some(mut ws) = self.ws.take() {
            ws::close(&mut ws).await;
        }
        self.rest.close_listen_key(&self.key).await
    }

    /// The next event; keeps the listenKey alive and reconnects by itself.
    /// Cancel-safe: an event read but not yet returned stays queued.
    pub async fn next(&mut self) -> Result<UserEvent, FeedError> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(ev);
            }
            if let Some(symbol) = self.unparsed.front().map(|m| m.symbol.clone()) {
                let precision = match self.rest.rules(&symbol).await {
                    Ok(r) => r.precision(),
                    Err(err) => {
                        tracing::error!(error = %err, symbol = %symbol, "binance: no rules for executionReport symbol, using 8 decimals");
                        wire::Precision::default()
                    }
                };
                if let Some(msg) = self.unparsed.pop_front() {
                    match msg.parse("user stream executionReport", precision) {
                        Ok(r) => self.pending.push_back(UserEvent::Execution(r)),
                        Err(err) => {
                            tracing::error!(error = %err, "binance: executionReport refused; reconcile through REST")
                        }
                    }
                }
                continue;
            }
            if self.closed {
                return Err(FeedError::Closed);
            }
            if Instant::now() >= self.next_keepalive {
                self.keepalive().await?;
                continue;
            }
            let Some(ws) = self.ws.as_mut() else {
                self.reconnect().await?;
                continue;
            };
            let until_keepalive = self
                .next_keepalive
                .saturating_duration_since(Instant::now());
            let wait = self
                .options
                .stale_after
                .min(until_keepalive.max(Duration::from_millis(1)));
            match ws::read(ws, wait).await {
                Read::Text(text) => self.handle(&text).await,
                Read::Stale => {
                    if Instant::now() >= self.next_keepalive {
                        continue; // the wait was cut short for the keepalive
                    }
                    tracing::warn!("binance user stream silent, reconnecting");
                    if let Some(mut ws) = self.ws.take() {
                        ws::close(&mut ws).await;
                    }
                }
                Read::Closed(why) => {
                    tracing::warn!(reason = %redact_key(&why, &self.key), "binance user stream dropped, reconnecting");
                    self.ws = None;
                }
            }
        }
    }

    async fn keepalive(&mut self) -> Result<(), FeedError> {
        match self.rest.keepalive_listen_key(&self.key).await {
            Ok(()) => {
                tracing::debug!(listen_key = %self.key, "binance listenKey kept alive");
                self.next_keepalive = Instant::now() + self.options.keepalive_every;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "binance listenKey keepalive failed, retrying in 1 minute");
                self.next_keepalive = Instant::now() + Duration::from_secs(60);
            }
            Err(e @ VenueError::Auth { .. }) => return Err(e.into()),
            Err(e) => {
                // Most likely -1125 "This listenKey does not exist.": make a new one.
                tracing::warn!(error = %e, "binance listenKey keepalive refused, recreating the stream");
                self.need_new_key = true;
                if let Some(mut ws) = self.ws.take() {
                    ws::close(&mut ws).await;
                }
                self.next_keepalive = Instant::now() + self.options.keepalive_every;
            }
        }
        Ok(())
    }

    async fn reconnect(&mut self) -> Result<(), FeedError> {
        loop {
            let delay = self.backoff.next_delay();
            let attempt = self.backoff.attempt();
            tokio::time::sleep(delay).await;
            let result = self.try_connect().await;
            match result {
                Ok(()) => {
                    self.backoff.reset();
                    self.reconnects += 1;
                    tracing::info!(attempt, listen_key = %self.key, "binance user stream reconnected");
                    self.pending.push_back(UserEvent::Reconnected { attempt });
                    return Ok(());
                }
                Err(FeedError::Venue(e @ VenueError::Auth { .. })) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "binance user stream reconnect failed");
                    if self
                        .options
                        .max_reconnect_attempts
                        .is_some_and(|max| attempt >= max)
                    {
                        return Err(FeedError::GaveUp {
                            stream: format!("{}/ws/{}", self.ws_base, self.key),
                            attempts: attempt,
                            last: e.to_string(),
                        });
                    }
                }
            }
        }
    }

    async fn try_connect(&mut self) -> Result<(), FeedError> {
        if self.need_new_key {
            self.key = self.rest.create_listen_key().await?;
            self.need_new_key = false;
            self.next_keepalive = Instant::now() + self.options.keepalive_every;
        }
        let url = format!("{}/ws/{}", self.ws_base, self.key.expose());
        match ws::connect(&url, &self.tls, self.options.connect_timeout).await {
            Ok(ws) => {
                self.ws = Some(ws);
                Ok(())
            }
            Err(e) => {
                // The key may have expired while we were away: get a fresh one next time.
                self.need_new_key = true;
                Err(FeedError::Url {
                    url: format!("{}/ws/{}", self.ws_base, self.key),
                    detail: redact_key(&e, &self.key),
                })
            }
        }
    }

    async fn handle(&mut self, text: &str) {
        // Synchronous up to the first await (closing the socket), so cancellation of
        // `next` cannot lose a message.
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "binance: unparseable user stream message skipped");
                return;
            }
        };
        let value = match serde_json::from_value::<Wrapped>(value.clone()) {
            Ok(w) => w.event,
            Err(_) => value,
        };
        let Ok(EventType { e }) = serde_json::from_value::<EventType>(value.clone()) else {
            return;
        };
        let ctx = format!("user stream {e}");
        match e.as_str() {
            "executionReport" => {
                let msg = match serde_json::from_value::<ExecutionReportMsg>(value) {
                    Ok(m) => m,
                    Err(err) => {
                        tracing::error!(error = %err, "binance: executionReport not understood; reconcile through REST");
                        return;
                    }
                };
                self.unparsed.push_back(msg);
            }
            "outboundAccountPosition" => match serde_json::from_value::<AccountPositionMsg>(value)
                .map_err(|err| wire::field_err(&ctx, "B", err))
                .and_then(|m| m.parse(&ctx))
            {
                Ok(b) => self.pending.push_back(UserEvent::Balances(b)),
                Err(err) => tracing::error!(error = %err, "binance: account position refused"),
            },
            "balanceUpdate" => match serde_json::from_value::<BalanceUpdateMsg>(value)
                .map_err(|err| wire::field_err(&ctx, "d", err))
                .and_then(|m| {
                    Ok(UserEvent::BalanceDelta {
                        delta: wire::money(&ctx, "d", &m.delta)?,
                        ts: wire::ms(&ctx, "T", m.clear_time)?,
                        asset: m.asset,
                    })
                }) {
                Ok(ev) => self.pending.push_back(ev),
                Err(err) => tracing::error!(error = %err, "binance: balance update refused"),
            },
            "listenKeyExpired" | "eventStreamTerminated" => {
                tracing::warn!(event = %e, "binance user stream ended by the server, recreating");
                self.need_new_key = true;
                if let Some(mut ws) = self.ws.take() {
                    ws::close(&mut ws).await;
                }
            }
            _ => {}
        }
    }
}

fn redact_key(text: &str, key: &ListenKey) -> String {
    if key.expose().is_empty() {
        return text.to_owned();
    }
    text.replace(key.expose(), &key.to_string())
}
