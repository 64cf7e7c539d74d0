//! WebSocket market data for one symbol over a combined stream, with automatic
//! reconnect (exponential backoff with jitter), staleness detection, and the local order
//! book kept in sync with REST snapshots by [`DepthSync`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tradewind_core::data::{Bar, BookLevel, OrderBook, Side, UnixNanos};
use tradewind_core::fixed::{Price, Quantity};

use super::depth::{DepthOutcome, DepthSync, SnapshotError};
use super::error::{FeedError, VenueError};
use super::rest::{BinanceRest, SymbolRules};
use super::wire::{self, BookTickerMsg, DepthUpdateMsg, KlineMsg, Precision, TradeMsg};
use super::ws::{self, Read, WsStream};
use super::{Backoff, BinanceEndpoints, now_nanos, tls_config};

/// Which streams to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketStreams {
    /// `<symbol>@trade`.
    pub trades: bool,
    /// `<symbol>@bookTicker`.
    pub book_ticker: bool,
    /// `<symbol>@depth@100ms`, with the local order book.
    pub depth: bool,
    /// `<symbol>@kline_<interval>` (e.g. `"1m"`); only closed klines are emitted.
    pub klines: Option<String>,
}

impl MarketStreams {
    /// Stream names for `symbol`.
    pub fn names(&self, symbol: &str) -> Vec<String> {
        let s = symbol.to_ascii_lowercase();
        let mut out = Vec::new();
        if self.trades {
            out.push(format!("{s}@trade"));
        }
        if self.book_ticker {
            out.push(format!("{s}@bookTicker"));
        }
        if self.depth {
            out.push(format!("{s}@depth@100ms"));
        }
        if let Some(i) = &self.klines {
            out.push(format!("{s}@kline_{i}"));
        }
        out
    }
}

/// Tunables of [`MarketFeed`].
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// Reconnect when nothing (not even a ping) arrives for this long.
    pub stale_after: Duration,
    /// Levels per side of the REST depth snapshot.
    pub depth_limit: u32,
    /// First reconnect delay.
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Give up after this many consecutive failed reconnects (`None`: never).
    pub max_reconnect_attempts: Option<u32>,
    /// Timeout of one WebSocket connect.
    pub connect_timeout: Duration,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(60),
            depth_limit: 1000,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            max_reconnect_attempts: None,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// One market-data event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    /// A trade print (`@trade`).
    Trade {
        /// Trade time.
        ts: UnixNanos,
        /// Price.
        price: Price,
        /// Base quantity.
        quantity: Quantity,
        /// The taker's side (`Sell` when the buyer was the maker).
        aggressor: Side,
        /// Binance trade ID.
        trade_id: u64,
    },
    /// Best bid/ask (`@bookTicker`). Spot book tickers carry no exchange time: `ts` is
    /// the local receive time.
    Quote {
        /// Local receive time.
        ts: UnixNanos,
        /// Best bid.
        bid: Price,
        /// Quantity at the best bid.
        bid_qty: Quantity,
        /// Best ask.
        ask: Price,
        /// Quantity at the best ask.
        ask_qty: Quantity,
    },
    /// The local book changed (a snapshot was loaded or a diff applied); the whole book
    /// is [`MarketFeed::book`].
    Book {
        /// Exchange time of the last change (snapshot: local fetch time).
        ts: UnixNanos,
        /// Best bid, if any.
        best_bid: Option<BookLevel>,
        /// Best ask, if any.
        best_ask: Option<BookLevel>,
        /// Last applied update ID.
        update_id: u64,
    },
    /// A closed kline (`x: true`).
    Bar(Bar),
    /// The local book was discarded (sequence gap, bad diff) and is being rebuilt.
    Resync {
        /// Why.
        reason: String,
    },
    /// The connection was re-established after a drop; events may have been missed.
    Reconnected {
        /// Connection attempts it took.
        attempt: u32,
    },
}

/// Counters for /metrics; shared, readable while the feed runs.
#[derive(Debug, Default)]
pub struct FeedCounters {
    /// Reconnects after a drop or a stale connection.
    pub reconnects: AtomicU64,
    /// Order book resyncs.
    pub resyncs: AtomicU64,
    /// Data messages received.
    pub messages: AtomicU64,
    /// Messages skipped because they did not parse.
    pub bad_messages: AtomicU64,
    /// Local receive time minus exchange time of the last timestamped event, in ms.
    pub last_lag_ms: AtomicI64,
}

#[derive(Deserialize)]
struct StreamName {
    stream: String,
}

#[derive(Deserialize)]
struct Combined<T> {
    data: T,
}

/// WebSocket market data for one symbol.
pub struct MarketFeed {
    url: String,
    symbol: String,
    rest: BinanceRest,
    streams: MarketStreams,
    options: FeedOptions,
    rules: SymbolRules,
    precision: Precision,
    tls: Arc<rustls::ClientConfig>,
    ws: Option<WsStream>,
    depth: DepthSync,
    need_snapshot: bool,
    backoff: Backoff,
    counters: Arc<FeedCounters>,
    pending: VecDeque<MarketEvent>,
    closed: bool,
}

impl std::fmt::Debug for MarketFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketFeed")
            .field("url", &self.url)
            .field("synced", &self.depth.is_synced())
            .finish_non_exhaustive()
    }
}

impl MarketFeed {
    /// Fetch the symbol's rules and connect with default [`FeedOptions`].
    pub async fn connect(
        endpoints: &BinanceEndpoints,
        symbol: &str,
        rest: &BinanceRest,
        streams: MarketStreams,
    ) -> Result<Self, FeedError> {
        Self::connect_with(endpoints, symbol, rest, streams, FeedOptions::default()).await
    }

    /// Fetch the symbol's rules and connect. Fails if the rules cannot be fetched or the
    /// first connection cannot be made; later drops are handled by [`next`](Self::next).
    pub async fn connect_with(
        endpoints: &BinanceEndpoints,
        symbol: &str,
        rest: &BinanceRest,
        streams: MarketStreams,
        options: FeedOptions,
    ) -> Result<Self, FeedError> {
        let names = streams.names(symbol);
        if names.is_empty() {
            return Err(FeedError::Url {
                url: endpoints.ws.clone(),
                detail: "no stream selected".into(),
            });
        }
        let url = format!("{}/stream?streams={}", endpoints.ws, names.join("/"));
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(FeedError::Url {
                url,
                detail: "must start with ws:// or wss://".into(),
            });
        }
        let rules = rest.rules(symbol).await?;
        let tls = tls_config()?;
        let ws = ws::connect(&url, &tls, options.connect_timeout)
            .await
            .map_err(|detail| FeedError::Url {
                url: url.clone(),
                detail,
            })?;
        tracing::info!(url = %url, "binance market stream connected");
        Ok(Self {
            precision: rules.precision(),
            rules,
            symbol: symbol.to_owned(),
            rest: rest.clone(),
            need_snapshot: streams.depth,
            streams,
            backoff: Backoff::new(options.backoff_base, options.backoff_max),
            options,
            tls,
            ws: Some(ws),
            depth: DepthSync::default(),
            counters: Arc::new(FeedCounters::default()),
            pending: VecDeque::new(),
            url,
            closed: false,
        })
    }

    /// The symbol's trading rules fetched at connect.
    pub fn rules(&self) -> &SymbolRules {
        &self.rules
    }

    /// The local order book (empty until the first snapshot is loaded, and while
    /// resyncing).
    pub fn book(&self) -> &OrderBook {
        self.depth.book()
    }

    /// `true` while the local book is in sync with the stream.
    pub fn book_synced(&self) -> bool {
        self.depth.is_synced()
    }

    /// Counters for /metrics.
    pub fn counters(&self) -> Arc<FeedCounters> {
        Arc::clone(&self.counters)
    }

    /// Close the connection; [`next`](Self::next) then returns [`FeedError::Closed`].
    pub async fn close(&mut self) {
        self.closed = true;
        if let Some(mut ws) = self.ws.take() {
            ws::close(&mut ws).await;
        }
    }

    /// The next event. Reconnects and resyncs by itself; errors only when it gives up
    /// (see [`FeedOptions::max_reconnect_attempts`]) or a REST call fails for good.
    /// Cancel-safe: events are queued before any await, and an interrupted snapshot
    /// fetch is retried on the next diff.
    pub async fn next(&mut self) -> Result<MarketEvent, FeedError> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(ev);
            }
            if self.closed {
                return Err(FeedError::Closed);
            }
            let Some(ws) = self.ws.as_mut() else {
                self.reconnect().await?;
                continue;
            };
            match ws::read(ws, self.options.stale_after).await {
                Read::Text(text) => {
                    self.counters.messages.fetch_add(1, Ordering::Relaxed);
                    self.handle(&text).await?;
                }
                Read::Stale => {
                    tracing::warn!(
                        stale_s = self.options.stale_after.as_secs(),
                        "binance market stream silent, reconnecting"
                    );
                    self.drop_connection().await;
                }
                Read::Closed(why) => {
                    tracing::warn!(reason = %why, "binance market stream dropped, reconnecting");
                    self.ws = None;
                }
            }
        }
    }

    async fn drop_connection(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            ws::close(&mut ws).await;
        }
    }

    async fn reconnect(&mut self) -> Result<(), FeedError> {
        loop {
            let delay = self.backoff.next_delay();
            let attempt = self.backoff.attempt();
            tokio::time::sleep(delay).await;
            match ws::connect(&self.url, &self.tls, self.options.connect_timeout).await {
                Ok(ws) => {
                    self.ws = Some(ws);
                    self.backoff.reset();
                    self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    self.depth.reset();
                    self.need_snapshot = self.streams.depth;
                    tracing::info!(attempt, "binance market stream reconnected");
                    self.pending.push_back(MarketEvent::Reconnected { attempt });
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "binance market stream reconnect failed");
                    if self
                        .options
                        .max_reconnect_attempts
                        .is_some_and(|max| attempt >= max)
                    {
                        return Err(FeedError::GaveUp {
                            stream: self.url.clone(),
                            attempts: attempt,
                            last: e,
                        });
                    }
                }
            }
        }
    }

    fn note_lag(&self, ts: UnixNanos) {
        let lag_ms = (now_nanos() - ts) / 1_000_000;
        self.counters.last_lag_ms.store(lag_ms, Ordering::Relaxed);
    }

    fn parse<T: DeserializeOwned>(&self, stream: &str, text: &str) -> Option<T> {
        match serde_json::from_str::<Combined<T>>(text) {
            Ok(c) => Some(c.data),
            Err(e) => {
                self.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(stream, error = %e, "binance: unparseable market message skipped");
                None
            }
        }
    }

    fn skip(&self, stream: &str, e: &VenueError) {
        self.counters.bad_messages.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(stream, error = %e, "binance: market message skipped");
    }

    async fn handle(&mut self, text: &str) -> Result<(), FeedError> {
        // Subscription answers ({"result":null,"id":1}) and the like have no stream.
        let Ok(StreamName { stream }) = serde_json::from_str::<StreamName>(text) else {
            return Ok(());
        };
        let p = self.precision;
        let kind = stream.to_ascii_lowercase();
        if kind.ends_with("@trade") {
            let Some(m) = self.parse::<TradeMsg>(&stream, text) else {
                return Ok(());
            };
            match trade_event(&stream, m, p) {
                Ok(ev) => {
                    if let MarketEvent::Trade { ts, .. } = ev {
                        self.note_lag(ts);
                    }
                    self.pending.push_back(ev);
                }
                Err(e) => self.skip(&stream, &e),
            }
        } else if kind.ends_with("@bookticker") {
            let Some(m) = self.parse::<BookTickerMsg>(&stream, text) else {
                return Ok(());
            };
            match quote_event(&stream, m, p, now_nanos()) {
                Ok(ev) => self.pending.push_back(ev),
                Err(e) => self.skip(&stream, &e),
            }
        } else if kind.contains("@kline_") {
            let Some(m) = self.parse::<KlineMsg>(&stream, text) else {
                return Ok(());
            };
            if let Ok(ts) = wire::ms(&stream, "E", m.event_time) {
                self.note_lag(ts);
            }
            match m.closed_bar(&stream, p) {
                Ok(Some(bar)) => self.pending.push_back(MarketEvent::Bar(bar)),
                Ok(None) => {}
                Err(e) => self.skip(&stream, &e),
            }
        } else if kind.contains("@depth") {
            let Some(m) = self.parse::<DepthUpdateMsg>(&stream, text) else {
                self.resync("unparseable depth update".into());
                return self.sync_book().await;
            };
            let update = match m.parse(&stream, p) {
                Ok(u) => u,
                Err(e) => {
                    self.resync(format!("depth update refused: {e}"));
                    return self.sync_book().await;
                }
            };
            self.note_lag(update.ts);
            match self.depth.on_update(update) {
                DepthOutcome::Applied { update_id } => {
                    self.push_book(update_id, self.depth.book().ts())
                }
                DepthOutcome::Stale => {}
                DepthOutcome::Buffered => {
                    if self.need_snapshot {
                        self.sync_book().await?;
                    }
                }
                DepthOutcome::Gap { reason } => {
                    self.resync(reason);
                    self.sync_book().await?;
                }
            }
        }
        Ok(())
    }

    fn resync(&mut self, reason: String) {
        tracing::warn!(reason = %reason, "binance order book resync");
        self.counters.resyncs.fetch_add(1, Ordering::Relaxed);
        self.depth.invalidate();
        self.need_snapshot = true;
        self.pending.push_back(MarketEvent::Resync { reason });
    }

    fn push_book(&mut self, update_id: u64, ts: UnixNanos) {
        let book = self.depth.book();
        self.pending.push_back(MarketEvent::Book {
            ts,
            best_bid: book.best_bid(),
            best_ask: book.best_ask(),
            update_id,
        });
    }

    /// Fetch a snapshot and join it to the buffered diffs. A snapshot older than the
    /// buffer is refetched a few times; if that keeps failing, wait for more diffs.
    async fn sync_book(&mut self) -> Result<(), FeedError> {
        const TRIES: u32 = 5;
        let mut retry = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for _ in 0..TRIES {
            let snapshot = match self
                .rest
                .depth_snapshot(&self.symbol, self.options.depth_limit)
                .await
            {
                Ok(s) => s,
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "binance depth snapshot failed, retrying");
                    tokio::time::sleep(retry.next_delay()).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let fetched = now_nanos();
            match self.depth.apply_snapshot(&snapshot, fetched) {
                Ok(_) => {
                    self.need_snapshot = false;
                    let ts = self.depth.book().ts();
                    self.push_book(self.depth.last_update_id(), ts);
                    return Ok(());
                }
                Err(SnapshotError::TooOld { .. }) => {
                    tokio::time::sleep(retry.next_delay()).await;
                }
                Err(e) => {
                    self.resync(e.to_string());
                }
            }
        }
        // Leave need_snapshot set: the next buffered diff tries again.
        Ok(())
    }
}

pub(crate) fn trade_event(ctx: &str, m: TradeMsg, p: Precision) -> Result<MarketEvent, VenueError> {
    Ok(MarketEvent::Trade {
        ts: wire::ms(ctx, "T", m.trade_time)?,
        price: wire::price(ctx, "p", &m.price, p.price)?,
        quantity: wire::qty(ctx, "q", &m.qty, p.qty)?,
        aggressor: if m.buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        },
        trade_id: m.trade_id,
    })
}

pub(crate) fn quote_event(
    ctx: &str,
    m: BookTickerMsg,
    p: Precision,
    ts: UnixNanos,
) -> Result<MarketEvent, VenueError> {
    Ok(MarketEvent::Quote {
        ts,
        bid: wire::price(ctx, "b", &m.bid, p.price)?,
        bid_qty: wire::qty(ctx, "B", &m.bid_qty, p.qty)?,
        ask: wire::price(ctx, "a", &m.ask, p.price)?,
        ask_qty: wire::qty(ctx, "A", &m.ask_qty, p.qty)?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        let s = MarketStreams {
            trades: true,
            book_ticker: true,
            depth: true,
            klines: Some("1m".into()),
        };
        assert_eq!(
            s.names("BTCUSDT"),
            [
                "btcusdt@trade",
                "btcusdt@bookTicker",
                "btcusdt@depth@100ms",
                "btcusdt@kline_1m"
            ]
        );
    }

    #[test]
    fn trade_aggressor_from_buyer_is_maker() {
        let m = TradeMsg {
            trade_id: 7,
            price: "0.001".into(),
            qty: "100".into(),
            trade_time: 1_672_515_782_136,
            buyer_is_maker: true,
        };
        let ev = trade_event("t", m, Precision { price: 3, qty: 0 }).unwrap();
        assert_eq!(
            ev,
            MarketEvent::Trade {
                ts: 1_672_515_782_136_000_000,
                price: Price::parse("0.001", 3).unwrap(),
                quantity: Quantity::parse("100", 0).unwrap(),
                aggressor: Side::Sell,
                trade_id: 7,
            }
        );
    }
}
