//! Binance **spot** venue client: signed REST ([`rest::BinanceRest`]), market data over
//! WebSocket with a local order book kept in sync by Binance's documented procedure
//! ([`market::MarketFeed`]), and the user data stream ([`user::UserStream`]).
//!
//! Every price and quantity is parsed from Binance's decimal strings into the core's
//! fixed-point types at the symbol's precision, exactly; anything that does not fit is an
//! error naming the field. TLS is rustls with the `ring` provider and the platform's
//! trust store. Secrets, signatures and listenKeys never appear in logs or errors.

pub mod depth;
pub mod error;
#[cfg(test)]
mod fixture_tests;
pub mod market;
pub mod rest;
pub mod signing;
pub mod user;
pub mod wire;
mod ws;

use std::sync::Arc;
use std::time::Duration;

pub use depth::{DepthOutcome, DepthSync, SnapshotError};
pub use error::{FeedError, VenueError};
pub use market::{FeedCounters, FeedOptions, MarketEvent, MarketFeed, MarketStreams};
pub use rest::{
    BinanceRest, ListenKey, NewOrder, OrderAck, OrderFill, OrderKind, OrderState, RestOptions,
    SymbolRules, TradeRecord, validate_client_order_id,
};
pub use signing::{Credentials, sign};
pub use user::{UserEvent, UserStream, UserStreamOptions};
pub use wire::{
    Balance, DepthSnapshot, DepthUpdate, ExecType, ExecutionReport, OrderStatus, Precision,
};

/// Every decoder of Binance's answers applied to one message, as the client would meet
/// it: exchangeInfo, an order and a trade list from REST; trade, bookTicker, depth and
/// kline stream messages; depth snapshots; user-stream execution reports and account
/// positions. Returns how many decoders accepted it. Errors are expected; a panic is a
/// bug (the `exchange_json` fuzz target and its regression test call this).
#[doc(hidden)]
pub fn decode_any(data: &[u8]) -> usize {
    use serde::de::DeserializeOwned;
    fn de<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
        serde_json::from_slice(data).ok()
    }
    let p = Precision::default();
    let ctx = "fuzz";
    let mut ok = 0;
    let mut count = |r: bool| ok += usize::from(r);
    if let Some(v) = de::<serde_json::Value>(data) {
        count(rest::parse_exchange_info(ctx, "BTCUSDT", &v).is_ok());
    }
    if let Some(o) = de::<rest::RawOrder>(data) {
        count(o.into_ack(ctx, p).is_ok());
    }
    if let Some(list) = de::<Vec<rest::RawTrade>>(data) {
        count(list.into_iter().all(|t| t.parse(ctx, p).is_ok()));
    }
    if let Some(m) = de::<wire::TradeMsg>(data) {
        count(market::trade_event(ctx, m, p).is_ok());
    }
    if let Some(m) = de::<wire::BookTickerMsg>(data) {
        count(market::quote_event(ctx, m, p, 0).is_ok());
    }
    if let Some(m) = de::<wire::DepthUpdateMsg>(data) {
        count(m.parse(ctx, p).is_ok());
    }
    if let Some(m) = de::<wire::DepthSnapshotMsg>(data) {
        count(m.parse(ctx, p).is_ok());
    }
    if let Some(m) = de::<wire::KlineMsg>(data) {
        count(m.closed_bar(ctx, p).is_ok());
    }
    if let Some(m) = de::<wire::ExecutionReportMsg>(data) {
        count(m.parse(ctx, p).is_ok());
    }
    if let Some(m) = de::<wire::AccountPositionMsg>(data) {
        count(m.parse(ctx).is_ok());
    }
    ok
}

/// Base URLs of one Binance deployment. Tests point them at a local mock over
/// `http://` / `ws://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinanceEndpoints {
    /// REST base, e.g. `https://api.binance.com` (no trailing slash needed).
    pub rest: String,
    /// WebSocket base, e.g. `wss://stream.binance.com:9443` (streams are under `/stream`
    /// and `/ws`).
    pub ws: String,
}

impl BinanceEndpoints {
    /// Binance spot production.
    pub fn production() -> Self {
        Self::custom("https://api.binance.com", "wss://stream.binance.com:9443")
    }

    /// The spot test network (`testnet.binance.vision`).
    pub fn testnet() -> Self {
        Self::custom(
            "https://testnet.binance.vision",
            "wss://stream.testnet.binance.vision",
        )
    }

    /// Any other deployment (a mock, a proxy).
    pub fn custom(rest: impl Into<String>, ws: impl Into<String>) -> Self {
        Self {
            rest: rest.into().trim_end_matches('/').to_owned(),
            ws: ws.into().trim_end_matches('/').to_owned(),
        }
    }
}

/// rustls client configuration with the `ring` provider and the platform's roots
/// (certificates it cannot parse are skipped). HTTP/1.1 only: WebSockets need it.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, VenueError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| VenueError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

/// Exponential backoff with jitter, bounded: attempt `n` waits a random duration in
/// `[d/2, d]` where `d = min(max, base * 2^n)`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    seed: u64,
}

impl Backoff {
    /// A backoff starting at `base` and never above `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Self {
            base,
            max: max.max(base),
            attempt: 0,
            seed,
        }
    }

    /// Consecutive failures so far.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Start over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The wait before the next attempt; counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        let ceiling = self.base.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        // splitmix64: jitter only, no cryptographic use.
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        ceiling.mul_f64(0.5 + 0.5 * unit)
    }
}

/// Wall-clock time as [`UnixNanos`](tradewind_core::data::UnixNanos).
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            BinanceEndpoints::production().rest,
            "https://api.binance.com"
        );
        assert_eq!(
            BinanceEndpoints::production().ws,
            "wss://stream.binance.com:9443"
        );
        assert_eq!(
            BinanceEndpoints::testnet().rest,
            "https://testnet.binance.vision"
        );
        assert_eq!(
            BinanceEndpoints::testnet().ws,
            "wss://stream.testnet.binance.vision"
        );
        let c = BinanceEndpoints::custom("http://127.0.0.1:1/", "ws://127.0.0.1:2/");
        assert_eq!(
            (c.rest.as_str(), c.ws.as_str()),
            ("http://127.0.0.1:1", "ws://127.0.0.1:2")
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_bounded() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let ceiling = Duration::from_millis(100 * (1 << n.min(20))).min(Duration::from_secs(2));
            assert!(
                *d >= ceiling / 2 && *d <= ceiling,
                "attempt {n}: {d:?} not in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
        assert_eq!(b.attempt(), 10);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn tls_config_uses_ring_and_http11() {
        let tls = tls_config().unwrap();
        assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
