//! The worker's Prometheus metrics (prefix `tradewind_bot_`), and what its `/healthz`,
//! `/readyz` and `/metrics` endpoints answer (served by the shared `tradewind-http`, as
//! the operator's are).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tradewind_core::fixed::Money;
use tradewind_events::{Body, Event, HaltCause, Trouble};

/// Buckets of the decision-latency histogram: 10 µs to 1 s, 1-2.5-5 per decade.
pub const DECISION_BUCKETS: [f64; 16] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Labels: symbol and side (`buy`/`sell`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrderLabels {
    /// Instrument symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
}

/// Labels: symbol and who refused (`risk` before sending, `venue` after).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    /// Instrument symbol.
    pub symbol: String,
    /// `risk` or `venue`.
    pub source: String,
}

/// Labels: which market-data feed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedLabels {
    /// Feed name, e.g. `binance` or `replay`.
    pub feed: String,
}

/// Labels: which instrument's book.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SymbolLabels {
    /// Instrument symbol.
    pub symbol: String,
}

type GaugeF64 = Gauge<f64, AtomicU64>;
type GaugeI64 = Gauge<i64, AtomicI64>;

/// Every metric the worker exports (prefix `tradewind_bot_`).
pub struct WorkerMetrics {
    registry: Registry,
    equity: GaugeF64,
    realized_pnl: GaugeF64,
    unrealized_pnl: GaugeF64,
    drawdown_percent: GaugeF64,
    orders: Family<OrderLabels, Counter>,
    fills: Family<OrderLabels, Counter>,
    rejects: Family<RejectLabels, Counter>,
    feed_lag: Family<FeedLabels, GaugeF64>,
    decision_latency: Histogram,
    feed_reconnects: Family<FeedLabels, Counter>,
    book_resyncs: Family<SymbolLabels, Counter>,
    fees_unvalued: Family<AssetLabels, Counter>,
    lease_held: GaugeI64,
    recording_backlog: GaugeI64,
    recording_acknowledged: GaugeI64,
    recording_failures: Family<ReasonLabels, Counter>,
    recording_failed: GaugeI64,
    recording_paused: GaugeI64,
    halted: Family<BotLabels, GaugeI64>,
}

/// Labels: which bot (`namespace/name`); the alert rule for a halted bot groups by it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BotLabels {
    /// `namespace/name` of the TradingBot.
    pub bot: String,
}

/// Labels: why a send to the platform failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// `network`, `unavailable`, `token`, `answer`, `encode` or `refused`.
    pub reason: String,
}

/// Labels: symbol and the commission's asset.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AssetLabels {
    /// Instrument symbol.
    pub symbol: String,
    /// The commission's asset, e.g. `BNB`.
    pub asset: String,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tradewind_bot");
        let equity = GaugeF64::default();
        let realized_pnl = GaugeF64::default();
        let unrealized_pnl = GaugeF64::default();
        let drawdown_percent = GaugeF64::default();
        let orders = Family::<OrderLabels, Counter>::default();
        let fills = Family::<OrderLabels, Counter>::default();
        let rejects = Family::<RejectLabels, Counter>::default();
        let feed_lag = Family::<FeedLabels, GaugeF64>::default();
        let decision_latency = Histogram::new(DECISION_BUCKETS);
        let feed_reconnects = Family::<FeedLabels, Counter>::default();
        let book_resyncs = Family::<SymbolLabels, Counter>::default();
        let lease_held = GaugeI64::default();
        let fees_unvalued = Family::<AssetLabels, Counter>::default();
        let recording_backlog = GaugeI64::default();
        let recording_acknowledged = GaugeI64::default();
        let recording_failures = Family::<ReasonLabels, Counter>::default();
        let recording_failed = GaugeI64::default();
        let recording_paused = GaugeI64::default();
        let halted = Family::<BotLabels, GaugeI64>::default();
        recording_acknowledged.set(-1);
        registry.register(
            "equity",
            "Cash plus marked-to-market positions, in the capital currency",
            equity.clone(),
        );
        registry.register(
            "realized_pnl",
            "Realized profit and loss",
            realized_pnl.clone(),
        );
        registry.register(
            "unrealized_pnl",
            "Unrealized profit and loss",
            unrealized_pnl.clone(),
        );
        registry.register(
            "drawdown_percent",
            "Current drawdown from the equity peak, in percent",
            drawdown_percent.clone(),
        );
        registry.register("orders", "Orders submitted", orders.clone());
        registry.register("fills", "Fills received", fills.clone());
        registry.register(
            "rejects",
            "Orders refused by risk checks or the venue",
            rejects.clone(),
        );
        registry.register(
            "feed_lag_seconds",
            "Delay between the venue's event time and its arrival",
            feed_lag.clone(),
        );
        registry.register(
            "decision_latency_seconds",
            "Time from a market event to the strategy's decision",
            decision_latency.clone(),
        );
        registry.register(
            "feed_reconnects",
            "Market-data reconnections",
            feed_reconnects.clone(),
        );
        registry.register(
            "book_resyncs",
            "Order-book resynchronisations after a sequence gap",
            book_resyncs.clone(),
        );
        registry.register(
            "fees_unvalued",
            "Fills whose commission, paid in a third asset, could not be valued (left out of the fees)",
            fees_unvalued.clone(),
        );
        registry.register(
            "lease_held",
            "1 while this worker holds its bot's lease",
            lease_held.clone(),
        );
        registry.register(
            "recording_backlog_events",
            "Events not yet confirmed by the platform (the recorder's backlog)",
            recording_backlog.clone(),
        );
        registry.register(
            "recording_acknowledged_sequence",
            "Highest event sequence of the session the platform confirmed (-1: none)",
            recording_acknowledged.clone(),
        );
        registry.register(
            "recording_send_failures",
            "Failed sends of events to the platform, by reason",
            recording_failures.clone(),
        );
        registry.register(
            "recording_failed",
            "1 once the platform refused events for good (recording stopped until a restart)",
            recording_failed.clone(),
        );
        registry.register(
            "recording_paused",
            "1 while the backlog is at its bound and new bars are not traded",
            recording_paused.clone(),
        );
        // `tradewind_bot_halted`: the name the environment's alert rule reads.
        registry.register(
            "halted",
            "1 once the bot halted (a risk limit or by hand); a person decides what next",
            halted.clone(),
        );
        Self {
            registry,
            halted,
            recording_backlog,
            recording_acknowledged,
            recording_failures,
            recording_failed,
            recording_paused,
            equity,
            realized_pnl,
            unrealized_pnl,
            drawdown_percent,
            orders,
            fills,
            rejects,
            feed_lag,
            decision_latency,
            feed_reconnects,
            book_resyncs,
            fees_unvalued,
            lease_held,
        }
    }
}

impl WorkerMetrics {
    /// Sets the performance gauges. Money stays fixed-point everywhere else; it becomes
    /// `f64` only here, because the Prometheus exposition has no other number type.
    pub fn set_performance(
        &self,
        equity: Money,
        realized_pnl: Money,
        unrealized_pnl: Money,
        drawdown_percent: f64,
    ) {
        self.equity.set(equity.as_f64());
        self.realized_pnl.set(realized_pnl.as_f64());
        self.unrealized_pnl.set(unrealized_pnl.as_f64());
        self.drawdown_percent.set(drawdown_percent);
    }

    /// Counts what a published event says: orders, fills, refusals, rejects, feed
    /// reconnections, book resynchronisations and unvalued commissions, read from its
    /// typed fields.
    pub fn observe(&self, symbol: &str, event: &Event) {
        match &event.body {
            Body::OrderSubmitted { order } => self.order(symbol, order.side.as_str()),
            Body::Fill(f) => self.fill(symbol, f.side.as_str()),
            Body::OrderRefused { .. } => self.reject(symbol, "risk"),
            Body::OrderRejected { .. } => self.reject(symbol, "venue"),
            Body::FeedTrouble {
                feed,
                trouble: Trouble::Reconnected,
            } => self.feed_reconnect(feed),
            Body::FeedTrouble {
                trouble: Trouble::BookResync,
                ..
            } => self.book_resync(symbol),
            // A lost Lease is a handover: the bot trades on in the other worker.
            Body::Halted { cause, .. } if *cause != HaltCause::LeaseLost => {
                self.set_halted(&event.bot, true)
            }
            Body::FeeUnvalued { asset, .. } => {
                self.fees_unvalued
                    .get_or_create(&AssetLabels {
                        symbol: symbol.to_owned(),
                        asset: asset.clone(),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    /// Counts an order sent to the venue.
    pub fn order(&self, symbol: &str, side: &str) {
        self.orders.get_or_create(&order_labels(symbol, side)).inc();
    }

    /// Counts a fill.
    pub fn fill(&self, symbol: &str, side: &str) {
        self.fills.get_or_create(&order_labels(symbol, side)).inc();
    }

    /// Counts a refused order; `source` is `risk` or `venue`.
    pub fn reject(&self, symbol: &str, source: &str) {
        self.rejects
            .get_or_create(&RejectLabels {
                symbol: symbol.to_owned(),
                source: source.to_owned(),
            })
            .inc();
    }

    /// Sets how far behind the venue `feed` is.
    pub fn set_feed_lag(&self, feed: &str, lag: Duration) {
        self.feed_lag
            .get_or_create(&feed_labels(feed))
            .set(lag.as_secs_f64());
    }

    /// Records one market-event-to-decision latency.
    pub fn observe_decision(&self, latency: Duration) {
        self.decision_latency.observe(latency.as_secs_f64());
    }

    /// Counts a reconnection of `feed`.
    pub fn feed_reconnect(&self, feed: &str) {
        self.feed_reconnects.get_or_create(&feed_labels(feed)).inc();
    }

    /// Counts a book resynchronisation of `symbol`.
    pub fn book_resync(&self, symbol: &str) {
        self.book_resyncs
            .get_or_create(&SymbolLabels {
                symbol: symbol.to_owned(),
            })
            .inc();
    }

    /// Records whether `bot` (`namespace/name`) is halted.
    pub fn set_halted(&self, bot: &str, halted: bool) {
        self.halted
            .get_or_create(&BotLabels {
                bot: bot.to_owned(),
            })
            .set(i64::from(halted));
    }

    /// Records whether the lease is held.
    pub fn set_lease_held(&self, held: bool) {
        self.lease_held.set(i64::from(held));
    }

    /// The recorder's backlog and the highest sequence the platform confirmed.
    pub fn set_recording(&self, backlog: usize, acknowledged: Option<u64>) {
        self.recording_backlog
            .set(i64::try_from(backlog).unwrap_or(i64::MAX));
        self.recording_acknowledged
            .set(acknowledged.map_or(-1, |a| i64::try_from(a).unwrap_or(i64::MAX)));
    }

    /// Counts a failed send to the platform.
    pub fn recording_failure(&self, reason: &str) {
        self.recording_failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records whether the platform refused events for good.
    pub fn set_recording_failed(&self, failed: bool) {
        self.recording_failed.set(i64::from(failed));
    }

    /// Records whether trading is paused on a full backlog.
    pub fn set_recording_paused(&self, paused: bool) {
        self.recording_paused.set(i64::from(paused));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn order_labels(symbol: &str, side: &str) -> OrderLabels {
    OrderLabels {
        symbol: symbol.to_owned(),
        side: side.to_owned(),
    }
}

fn feed_labels(feed: &str) -> FeedLabels {
    FeedLabels {
        feed: feed.to_owned(),
    }
}

/// The worker as `/readyz` and `/metrics` see it.
pub struct Health {
    /// The metrics `/metrics` encodes.
    pub metrics: Arc<WorkerMetrics>,
    /// The runtime's readiness flag (`/readyz` answers 200 while it is true).
    pub ready: Arc<AtomicBool>,
}

impl tradewind_http::Probe for Health {
    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn metrics(&self) -> String {
        self.metrics.encode()
    }
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `addr` until the task is aborted;
/// returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<WorkerMetrics>,
    ready: Arc<AtomicBool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    tradewind_http::serve(addr, Arc::new(Health { metrics, ready })).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        let code = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status");
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (code, body.to_owned())
    }

    /// Parses the exposition: `# TYPE` lines and `name{labels} value` samples.
    fn parse(text: &str) -> (BTreeMap<String, String>, BTreeMap<String, f64>) {
        let mut types = BTreeMap::new();
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').expect("type line");
                types.insert(name.to_owned(), ty.to_owned());
            } else if !line.starts_with('#') && !line.is_empty() {
                let (key, value) = line.rsplit_once(' ').expect("sample line");
                samples.insert(key.to_owned(), value.parse().expect("number"));
            }
        }
        (types, samples)
    }

    #[tokio::test]
    async fn serves_health_readiness_and_parseable_metrics() {
        let metrics = Arc::new(WorkerMetrics::default());
        let ready = Arc::new(AtomicBool::new(false));
        let (addr, task) = serve(
            "127.0.0.1:0".parse().expect("addr"),
            metrics.clone(),
            ready.clone(),
        )
        .await
        .expect("serve");
        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/readyz").await.0, 503);
        ready.store(true, Ordering::Relaxed);
        assert_eq!(get(addr, "/readyz").await.0, 200);
        assert_eq!(get(addr, "/nope").await.0, 404);

        metrics.set_performance(
            Money::parse("10250.5").expect("money"),
            Money::parse("-12.25").expect("money"),
            Money::parse("262.75").expect("money"),
            3.5,
        );
        metrics.order("BTCUSDT", "buy");
        metrics.order("BTCUSDT", "buy");
        metrics.fill("BTCUSDT", "buy");
        metrics.reject("BTCUSDT", "risk");
        metrics.set_feed_lag("binance", Duration::from_millis(250));
        metrics.observe_decision(Duration::from_micros(30));
        metrics.observe_decision(Duration::from_millis(2));
        metrics.feed_reconnect("binance");
        metrics.book_resync("BTCUSDT");
        metrics.set_lease_held(true);
        metrics.set_halted("trading/btc", true);

        let (code, body) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        let (types, samples) = parse(&body);
        let p = "tradewind_bot_";
        for (name, ty) in [
            ("equity", "gauge"),
            ("realized_pnl", "gauge"),
            ("unrealized_pnl", "gauge"),
            ("drawdown_percent", "gauge"),
            ("orders", "counter"),
            ("fills", "counter"),
            ("rejects", "counter"),
            ("feed_lag_seconds", "gauge"),
            ("decision_latency_seconds", "histogram"),
            ("feed_reconnects", "counter"),
            ("book_resyncs", "counter"),
            ("lease_held", "gauge"),
            ("halted", "gauge"),
        ] {
            assert_eq!(
                types.get(&format!("{p}{name}")).map(String::as_str),
                Some(ty),
                "{name}"
            );
        }
        let v = |k: &str| {
            let got = samples.get(&format!("{p}{k}")).copied();
            assert!(got.is_some(), "{k} missing in\n{body}");
            got
        };
        assert_eq!(v("equity"), Some(10250.5));
        assert_eq!(v("realized_pnl"), Some(-12.25));
        assert_eq!(v("unrealized_pnl"), Some(262.75));
        assert_eq!(v("drawdown_percent"), Some(3.5));
        assert_eq!(v(r#"orders_total{symbol="BTCUSDT",side="buy"}"#), Some(2.0));
        assert_eq!(v(r#"fills_total{symbol="BTCUSDT",side="buy"}"#), Some(1.0));
        assert_eq!(
            v(r#"rejects_total{symbol="BTCUSDT",source="risk"}"#),
            Some(1.0)
        );
        assert_eq!(v(r#"feed_lag_seconds{feed="binance"}"#), Some(0.25));
        assert_eq!(v(r#"feed_reconnects_total{feed="binance"}"#), Some(1.0));
        assert_eq!(v(r#"book_resyncs_total{symbol="BTCUSDT"}"#), Some(1.0));
        assert_eq!(v("lease_held"), Some(1.0));
        assert_eq!(v(r#"halted{bot="trading/btc"}"#), Some(1.0));
        assert_eq!(v("decision_latency_seconds_count"), Some(2.0));
        assert_eq!(
            v(r#"decision_latency_seconds_bucket{le="0.00001"}"#),
            Some(0.0)
        );
        assert_eq!(
            v(r#"decision_latency_seconds_bucket{le="0.00005"}"#),
            Some(1.0)
        );
        assert_eq!(
            v(r#"decision_latency_seconds_bucket{le="0.0025"}"#),
            Some(2.0)
        );
        assert_eq!(v(r#"decision_latency_seconds_bucket{le="1.0"}"#), Some(2.0));
        assert_eq!(
            v(r#"decision_latency_seconds_bucket{le="+Inf"}"#),
            Some(2.0)
        );
        assert!(body.trim_end().ends_with("# EOF"), "{body}");
        task.abort();
    }
}
