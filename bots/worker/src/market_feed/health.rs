//! The feed's `/healthz`, `/readyz` and `/metrics` (OpenMetrics text, prefix
//! `tradewind_bot_feed_` like the worker's feed metrics, served by the shared
//! `tradewind-http`). `tradewind_bot_feed_lag_seconds{feed}` is the name twctl's
//! feed-lag alert reads, for the shared feed as for a worker's own.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use tradewind_feed::{Payload, PublishCounters};

use super::store::StoreCounters;

/// The feed's own counters (the publisher's and the store writer's are read through
/// their `Arc`s).
#[derive(Debug, Default)]
pub struct FeedCounters {
    /// Messages stored in JetStream on the klines stream.
    pub published_bars: AtomicU64,
    /// Messages stored in JetStream on the trades-and-depth stream.
    pub published_ticks: AtomicU64,
    /// Exchange reconnections and book rebuilds.
    pub reconnects: AtomicU64,
    /// Exchange time (ns) of the newest message published.
    pub last_exchange_ts: AtomicI64,
    /// Bars published from the exchange's REST klines to fill a gap.
    pub backfilled: AtomicU64,
}

impl FeedCounters {
    /// Counts a message JetStream stored.
    pub fn published(&self, payload: &Payload) {
        let (counter, ts) = match payload {
            // A bar's time is its open (older than the trades around it): the newest
            // time only ever moves forward.
            Payload::Bar { bar, .. } => (&self.published_bars, bar.ts),
            Payload::Trade { ts, .. } | Payload::Depth { ts, .. } => (&self.published_ticks, *ts),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.last_exchange_ts.fetch_max(ts, Ordering::Relaxed);
    }
}

/// Everything `/metrics` and `/readyz` read.
pub struct FeedHealth {
    /// `{venue}:{symbol}`, the `feed` label.
    pub feed: String,
    /// The feed's counters.
    pub counters: Arc<FeedCounters>,
    /// The publisher's.
    pub publish: Option<Arc<PublishCounters>>,
    /// The store writer's, when one runs.
    pub store: Option<Arc<StoreCounters>>,
    /// True once the streams exist and the exchange is connected.
    pub ready: Arc<AtomicBool>,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let suffix = if kind == "counter" { "_total" } else { "" };
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{suffix}{labels} {value}");
    }
}

impl FeedHealth {
    /// The exposition at `now` (ns since the epoch).
    pub fn encode(&self, now: i64) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        let feed = format!("{{feed=\"{}\"}}", self.feed);
        let with = |k: &str, v: &str| format!("{{feed=\"{}\",{k}=\"{v}\"}}", self.feed);
        let c = &self.counters;
        let mut out = String::new();
        family(
            &mut out,
            "tradewind_bot_feed_published",
            "counter",
            "Messages stored in JetStream, per stream",
            &[
                (with("stream", "bars"), get(&c.published_bars)),
                (with("stream", "ticks"), get(&c.published_ticks)),
            ],
        );
        if let Some(p) = &self.publish {
            family(
                &mut out,
                "tradewind_bot_feed_publish_errors",
                "counter",
                "Publishes retried after NATS failed or did not acknowledge",
                &[(feed.clone(), get(&p.retries))],
            );
            family(
                &mut out,
                "tradewind_bot_feed_duplicates",
                "counter",
                "Messages JetStream already held (the other replica sent them first)",
                &[(feed.clone(), get(&p.duplicates))],
            );
        }
        family(
            &mut out,
            "tradewind_bot_feed_reconnects",
            "counter",
            "Exchange reconnections and order-book rebuilds",
            &[(feed.clone(), get(&c.reconnects))],
        );
        family(
            &mut out,
            "tradewind_bot_feed_backfilled_bars",
            "counter",
            "Closed bars fetched from the exchange's REST klines to fill a gap",
            &[(feed.clone(), get(&c.backfilled))],
        );
        let last = c.last_exchange_ts.load(Ordering::Relaxed);
        if last > 0 {
            let lag = (now - last).max(0) as f64 / 1e9;
            family(
                &mut out,
                "tradewind_bot_feed_lag_seconds",
                "gauge",
                "Age of the newest message published (exchange time to now)",
                &[(feed.clone(), format!("{lag:.3}"))],
            );
        }
        if let Some(s) = &self.store {
            family(
                &mut out,
                "tradewind_bot_feed_store_dropped",
                "counter",
                "Messages not stored at rest because the store writer's queue was full",
                &[(feed.clone(), get(&s.dropped))],
            );
            family(
                &mut out,
                "tradewind_bot_feed_store_documents",
                "counter",
                "Market-data documents written to Cosmos DB",
                &[(feed.clone(), get(&s.documents))],
            );
            family(
                &mut out,
                "tradewind_bot_feed_store_errors",
                "counter",
                "Writes at rest that failed, per target",
                &[
                    (with("target", "cosmos"), get(&s.document_errors)),
                    (with("target", "archive"), get(&s.archive_errors)),
                ],
            );
            family(
                &mut out,
                "tradewind_bot_feed_days_archived",
                "counter",
                "Whole days archived",
                &[(feed, get(&s.days_archived))],
            );
        }
        out.push_str("# EOF\n");
        out
    }
}

impl tradewind_http::Probe for FeedHealth {
    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn metrics(&self) -> String {
        self.encode(super::now_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_core::data::Side;
    use tradewind_core::fixed::{Price, Quantity};

    #[test]
    fn the_exposition_counts_per_stream_and_names_the_alerted_lag() {
        let counters = Arc::new(FeedCounters::default());
        let trade = Payload::Trade {
            id: 7,
            ts: 5_000_000_000,
            price: Price::parse("1.5", 1).unwrap(),
            quantity: Quantity::parse("2", 0).unwrap(),
            aggressor: Side::Buy,
        };
        counters.published(&trade);
        counters.published(&trade);
        let publish = Arc::new(PublishCounters::default());
        publish.retries.fetch_add(3, Ordering::Relaxed);
        let store = Arc::new(StoreCounters::default());
        store.dropped.fetch_add(4, Ordering::Relaxed);
        let h = FeedHealth {
            feed: "binance-spot:BTCUSDT".into(),
            counters,
            publish: Some(publish),
            store: Some(store),
            ready: Arc::default(),
        };
        let text = h.encode(7_500_000_000);
        let has = |line: &str| assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        has("# TYPE tradewind_bot_feed_published counter");
        has("tradewind_bot_feed_published_total{feed=\"binance-spot:BTCUSDT\",stream=\"ticks\"} 2");
        has("tradewind_bot_feed_published_total{feed=\"binance-spot:BTCUSDT\",stream=\"bars\"} 0");
        has("tradewind_bot_feed_publish_errors_total{feed=\"binance-spot:BTCUSDT\"} 3");
        has("tradewind_bot_feed_store_dropped_total{feed=\"binance-spot:BTCUSDT\"} 4");
        // The metric twctl's feed-lag alert queries.
        has("tradewind_bot_feed_lag_seconds{feed=\"binance-spot:BTCUSDT\"} 2.500");
        assert!(text.ends_with("# EOF\n"));
    }
}
