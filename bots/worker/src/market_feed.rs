//! `tradewind-bot feed`: the shared market-data feed of one (venue, market, symbol)
//! shard. It holds the exchange's streams with the worker's own Binance client —
//! trades and depth on one connection (the local book kept in sync with REST
//! snapshots), closed klines of each interval on one connection each — and publishes
//! them to NATS JetStream through [`tradewind_feed::Publisher`]. It ships in the
//! worker's image and binary so the client is not duplicated or moved.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use futures_util::StreamExt;
use tradewind_crds::contract::env;
use tradewind_feed::{FeedMessage, Payload, Publisher, Retention, Shard, Sink};

pub mod health;
pub mod store;

use crate::venue::binance::{
    BinanceEndpoints, BinanceRest, MarketEvent, MarketFeed, MarketStreams,
};

/// Kline intervals Binance spot streams.
pub const INTERVALS: &[&str] = &[
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
];

/// The market token of a shard: the test network's data never mixes with production's.
pub fn market(testnet: bool) -> &'static str {
    if testnet { "spot-testnet" } else { "spot" }
}

/// `tradewind-bot feed` flags.
#[derive(Debug, clap::Args)]
pub struct FeedArgs {
    /// The symbol (e.g. `BTCUSDT`).
    #[arg(long, env = "TRADEWIND_FEED_SYMBOL")]
    pub symbol: String,
    /// Kline intervals to publish (repeat or comma-separate: `1m,5m`).
    #[arg(
        long = "interval",
        env = "TRADEWIND_FEED_INTERVALS",
        value_delimiter = ',',
        required = true
    )]
    pub intervals: Vec<String>,
    /// NATS server(s) to publish to.
    #[arg(long, env = env::NATS_URL)]
    pub nats_url: String,
    /// Subject prefix.
    #[arg(long, env = env::FEED_SUBJECT_PREFIX, default_value = tradewind_feed::DEFAULT_PREFIX)]
    pub subject_prefix: String,
    /// Binance's spot test network instead of production.
    #[arg(long, env = "TRADEWIND_FEED_TESTNET")]
    pub testnet: bool,
    /// Binance REST base URL override.
    #[arg(long, env = "TRADEWIND_BINANCE_REST")]
    pub binance_rest: Option<String>,
    /// Binance WebSocket base URL override.
    #[arg(long, env = "TRADEWIND_BINANCE_WS")]
    pub binance_ws: Option<String>,
    /// Levels per side in each depth message.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub depth_levels: u16,
    /// How long klines are kept (hours): how long a worker may be down and catch up.
    #[arg(long, default_value_t = 168, value_parser = clap::value_parser!(u64).range(1..=8784))]
    pub bars_max_age_hours: u64,
    /// Bound of the klines stream (MiB).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub bars_max_mib: u64,
    /// How long trades and depth are kept (minutes).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=10_080))]
    pub ticks_max_age_minutes: u64,
    /// Bound of the trades-and-depth stream (MiB).
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub ticks_max_mib: u64,
    /// Stream replicas (3 on a NATS cluster).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=5))]
    pub replicas: u64,
    /// Cosmos DB endpoint of the market-data container the feed writes closed bars, the
    /// latest ticker and book snapshots to (unset: none written).
    #[arg(long, env = env::MARKETDATA_COSMOS_ENDPOINT)]
    pub market_data_cosmos_endpoint: Option<String>,
    /// Cosmos DB database of the market-data container.
    #[arg(long, env = env::MARKETDATA_COSMOS_DATABASE, default_value = "tradewind")]
    pub market_data_cosmos_database: String,
    /// The market-data container.
    #[arg(long, env = env::MARKETDATA_COSMOS_CONTAINER, default_value = "marketdata")]
    pub market_data_cosmos_container: String,
    /// Where whole UTC days of bars and trades are archived: `blob://{account}/{container}`
    /// or `archive:{dir}` (unset: nothing archived).
    #[arg(long, env = env::MARKETDATA_ARCHIVE)]
    pub archive: Option<String>,
    /// Blob service endpoint for a `blob://` archive (default: the account's in the cloud).
    #[arg(long, env = env::BLOB_ENDPOINT)]
    pub blob_endpoint: Option<String>,
    /// Most trades held in memory for one day's trade archive (~48 bytes each); a busier
    /// day is not archived. 0: trades are not archived.
    #[arg(long, default_value_t = 4_000_000)]
    pub archive_trades_max: usize,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = env::METRICS_ADDR,
          default_value_t = std::net::SocketAddr::from(([0, 0, 0, 0], tradewind_crds::contract::METRICS_PORT)))]
    pub metrics_addr: std::net::SocketAddr,
    /// Azure sign-in for Cosmos DB and Blob Storage.
    #[command(flatten)]
    pub azure: tradewind_azure::args::ConnectionArgs,
}

impl FeedArgs {
    fn retention(&self) -> Retention {
        Retention {
            bars_max_age: Duration::from_secs(self.bars_max_age_hours * 3600),
            bars_max_bytes: self.bars_max_mib << 20,
            ticks_max_age: Duration::from_secs(self.ticks_max_age_minutes * 60),
            ticks_max_bytes: self.ticks_max_mib << 20,
            replicas: usize::try_from(self.replicas).unwrap_or(1),
            ..Retention::default()
        }
    }
}

/// The store writer's targets the flags name (signs in to Azure only when one needs it).
fn store_targets(
    args: &FeedArgs,
    venue: &str,
    symbol: &str,
) -> Result<Option<store::StoreTargets>> {
    use tradewind_azure::blob::{BlobClient, BlobOptions, endpoint_for};
    use tradewind_azure::cosmos::{CosmosClient, CosmosOptions};
    use tradewind_market_store::archive::{Archive, ArchiveTarget, RangeSource};
    use tradewind_market_store::market::MarketData;

    if args.market_data_cosmos_endpoint.is_none() && args.archive.is_none() {
        return Ok(None);
    }
    let source = match &args.archive {
        Some(spec) => Some(
            ArchiveTarget::parse(&format!("{}/{venue}/{symbol}", spec.trim_end_matches('/')))
                .with_context(|| format!("--archive {spec:?}: expected blob://{{account}}/{{container}} or archive:{{dir}}"))?
                .source,
        ),
        None => None,
    };
    let needs_azure = args.market_data_cosmos_endpoint.is_some()
        || matches!(source, Some(RangeSource::Blob { .. }));
    let azure = if needs_azure {
        Some(
            args.azure
                .connect("AzurePublic")
                .context("signing in to Azure for the market-data store")?,
        )
    } else {
        None
    };
    let market_data = match (&args.market_data_cosmos_endpoint, &azure) {
        (Some(endpoint), Some(azure)) => Some(MarketData::new(
            CosmosClient::new(
                endpoint,
                azure.credential.clone(),
                &azure.transport,
                CosmosOptions::default(),
            )?,
            &args.market_data_cosmos_database,
            &args.market_data_cosmos_container,
        )),
        _ => None,
    };
    let archive = match source {
        None => None,
        Some(RangeSource::Dir(dir)) => Some(Archive::Dir(dir)),
        Some(RangeSource::Blob { account, container }) => {
            let azure = azure
                .as_ref()
                .context("Azure sign-in for the blob archive")?;
            let endpoint = args
                .blob_endpoint
                .clone()
                .unwrap_or_else(|| endpoint_for(&azure.cloud, &account));
            Some(Archive::Blob {
                client: BlobClient::new(
                    &endpoint,
                    azure.credential.clone(),
                    &azure.transport,
                    BlobOptions::default(),
                )?,
                container,
            })
        }
    };
    Ok(Some(store::StoreTargets {
        market_data,
        archive,
        archive_trades: args.archive_trades_max > 0,
        max_trades_per_day: args.archive_trades_max,
    }))
}

/// Aborts the /metrics server when the feed stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Runs the feed until `shutdown` resolves; an error when an exchange stream or NATS
/// gives up for good (the pod is then restarted, and resumes without doubling).
pub async fn run(args: FeedArgs, shutdown: impl Future<Output = ()>) -> Result<()> {
    for i in &args.intervals {
        if !INTERVALS.contains(&i.as_str()) {
            bail!("--interval {i:?}: expected one of {}", INTERVALS.join(", "));
        }
    }
    let shard = Shard::new(
        &args.subject_prefix,
        "binance",
        market(args.testnet),
        &args.symbol,
    )
    .context("the feed's subjects")?;
    let base = if args.testnet {
        BinanceEndpoints::testnet()
    } else {
        BinanceEndpoints::production()
    };
    let endpoints = BinanceEndpoints::custom(
        args.binance_rest.clone().unwrap_or(base.rest),
        args.binance_ws.clone().unwrap_or(base.ws),
    );
    let client = tradewind_feed::connect(
        &args.nats_url,
        &format!("tradewind-feed-{}", shard.symbol()),
    )
    .await?;
    let venue = format!("binance-{}", market(args.testnet));
    let targets = store_targets(&args, &venue, shard.symbol())?;
    let counters = Arc::new(health::FeedCounters::default());
    let ready = Arc::new(AtomicBool::new(false));
    let mut probe = health::FeedHealth {
        feed: tradewind_market_store::market::symbol_key(&venue, shard.symbol()),
        counters: Arc::clone(&counters),
        publish: None,
        store: None,
        ready: Arc::clone(&ready),
    };
    let mut publisher = Publisher::new(client, shard.clone(), &args.retention()).await?;
    let mut store = targets.map(|t| store::StoreSink::start(&venue, shard.symbol(), t));
    probe.publish = Some(publisher.counters());
    probe.store = store.as_ref().map(store::StoreSink::counters);
    let probe = Arc::new(probe);
    // The same metrics over OTLP when the environment asks for it (else a no-op); the
    // lag gauge the feed-lag alert reads appears with the first message published.
    tradewind_telemetry::export_prometheus("tradewind-bot", {
        let probe = Arc::clone(&probe);
        move || probe.encode(now_nanos())
    });
    let (bound, server) = tradewind_http::serve(args.metrics_addr, probe)
        .await
        .with_context(|| format!("serving /metrics on {}", args.metrics_addr))?;
    let _server = AbortOnDrop(server);
    tracing::info!(%bound, "serving /healthz, /readyz and /metrics");
    let rest = BinanceRest::new(&endpoints, None)?;

    let ticks = MarketFeed::connect(
        &endpoints,
        shard.symbol(),
        &rest,
        MarketStreams {
            trades: true,
            book_ticker: false,
            depth: true,
            klines: None,
        },
    )
    .await?;
    let levels = usize::from(args.depth_levels);
    let reconnects = Arc::clone(&counters);
    let mut streams = vec![
        futures_util::stream::unfold((ticks, true), move |(mut feed, mut resync)| {
            let reconnects = Arc::clone(&reconnects);
            async move {
                let item = next_tick(&mut feed, levels, &mut resync, &reconnects)
                    .await
                    .map(|message| Live {
                        message,
                        after_reconnect: false,
                    });
                Some((item, (feed, resync)))
            }
        })
        .boxed_local(),
    ];
    for interval in &args.intervals {
        let bars = MarketFeed::connect(
            &endpoints,
            shard.symbol(),
            &rest,
            MarketStreams {
                trades: false,
                book_ticker: false,
                depth: false,
                klines: Some(interval.clone()),
            },
        )
        .await?;
        let interval = interval.clone();
        let reconnects = Arc::clone(&counters);
        streams.push(
            futures_util::stream::unfold((bars, false), move |(mut feed, mut reconnected)| {
                let interval = interval.clone();
                let reconnects = Arc::clone(&reconnects);
                async move {
                    let item = next_bar(&mut feed, interval, &mut reconnected, &reconnects).await;
                    Some((item, (feed, reconnected)))
                }
            })
            .boxed_local(),
        );
    }
    // Bars that closed while no replica ran, from REST, after the live kline connections
    // are up (so none closes unseen in between), published in order before any live one.
    let max_age = args.retention().bars_max_age;
    for interval in &args.intervals {
        let n = backfill(
            &rest,
            &mut publisher,
            &mut store,
            &shard,
            interval,
            &counters,
            Until::Now { max_age },
        )
        .await
        .with_context(|| format!("backfilling {interval} klines"))?;
        if n > 0 {
            tracing::info!(%interval, bars = n, "missed klines backfilled from REST");
        }
    }
    // One task polls every exchange stream and publishes in arrival order; while NATS
    // is away the streams wait (the exchange's sockets buffer) and nothing is dropped.
    let mut merged = futures_util::stream::select_all(streams);
    ready.store(true, Ordering::Relaxed);
    tracing::info!(symbol = shard.symbol(), intervals = ?args.intervals, "market-data feed publishing");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            live = merged.next() => {
                let live = live.ok_or_else(|| anyhow!("every exchange stream ended"))??;
                // Bars that closed while the connection was down come from REST first,
                // so subscribers see every bar once and in order.
                if live.after_reconnect
                    && let Payload::Bar { interval, bar } = &live.message.payload
                {
                    let n = backfill(
                        &rest,
                        &mut publisher,
                        &mut store,
                        &shard,
                        interval,
                        &counters,
                        Until::Bar { open_ms: bar.ts / 1_000_000 },
                    )
                    .await
                    .with_context(|| format!("backfilling {interval} klines after a reconnect"))?;
                    if n > 0 {
                        tracing::info!(%interval, bars = n, "klines that closed while reconnecting backfilled from REST");
                    }
                }
                let message = live.message;
                if publisher.publish(&message).await? {
                    counters.published(&message.payload);
                }
                // Then offered to the store writer's queue (never waited for).
                store.send(&message).await?;
            }
            () = &mut shutdown => {
                tracing::info!("market-data feed stopping");
                return Ok(());
            }
        }
    }
}

/// A message of an exchange stream, and whether its connection was re-established since
/// the stream's previous message (bars may have closed unseen in between).
struct Live {
    message: FeedMessage,
    after_reconnect: bool,
}

/// Up to where a backfill reads the exchange's closed klines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Up to the exchange's clock, at most `max_age` back (at start: the gap while no
    /// replica ran).
    Now { max_age: Duration },
    /// Up to the bar opening at `open_ms` (ms), the first received after a reconnect.
    Bar { open_ms: i64 },
}

/// The klines a backfill fetches: those opening from the returned start (ms) and closing
/// before the returned end (ms); `None` when there is nothing to fetch. `last` is the
/// last published bar's sequence (its open time in ns; 0 when none), `now_ms` the
/// exchange's clock (read only for [`Until::Now`]).
fn backfill_window(last: u64, step_ms: i64, until: Until, now_ms: i64) -> Option<(i64, i64)> {
    if last == 0 {
        return None;
    }
    let after_last = i64::try_from(last).unwrap_or(i64::MAX) / 1_000_000 + step_ms;
    let (start, end) = match until {
        Until::Now { max_age } => {
            let oldest = now_ms - i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
            (after_last.max(oldest), now_ms)
        }
        Until::Bar { open_ms } => (after_last, open_ms),
    };
    (start < end).then_some((start, end))
}

/// Publishes the closed klines of `interval` after the last one its subject holds, from
/// the exchange's REST klines, up to `until`; nothing for a new shard (no bar stored
/// yet) or for `1M`. Returns how many were published.
async fn backfill(
    rest: &BinanceRest,
    publisher: &mut Publisher,
    store: &mut Option<store::StoreSink>,
    shard: &Shard,
    interval: &str,
    counters: &health::FeedCounters,
    until: Until,
) -> Result<u64> {
    const PAGE: u32 = 1000;
    let Some(secs) = store::interval_secs(interval) else {
        return Ok(0);
    };
    let step_ms = i64::try_from(secs).unwrap_or(i64::MAX / 1000) * 1000;
    let last = publisher.last_sequence(&shard.kline(interval)?).await?;
    let now_ms = match until {
        Until::Now { .. } if last != 0 => rest.server_time().await? / 1_000_000,
        _ => 0,
    };
    let Some((mut start, end_ms)) = backfill_window(last, step_ms, until, now_ms) else {
        return Ok(0);
    };
    let mut n = 0;
    loop {
        let page = rest
            .klines(shard.symbol(), interval, start, PAGE, end_ms)
            .await?;
        let Some((newest, _)) = page.last() else {
            break;
        };
        start = newest.ts / 1_000_000 + step_ms;
        let full = page.len() == PAGE as usize;
        for (bar, _) in page {
            let message = FeedMessage {
                received: now_nanos(),
                payload: Payload::Bar {
                    interval: interval.to_owned(),
                    bar,
                },
            };
            if publisher.publish(&message).await? {
                counters.published(&message.payload);
                counters.backfilled.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            store.send(&message).await?;
        }
        if !full {
            break;
        }
    }
    Ok(n)
}

/// The next trade, or the top of the book after an applied depth update; the first
/// book after a (re)build from a snapshot is marked `resync`.
async fn next_tick(
    feed: &mut MarketFeed,
    levels: usize,
    resync: &mut bool,
    counters: &health::FeedCounters,
) -> Result<FeedMessage> {
    loop {
        let event = feed.next().await?;
        let received = now_nanos();
        let payload = match event {
            MarketEvent::Trade {
                ts,
                price,
                quantity,
                aggressor,
                trade_id,
            } => Payload::Trade {
                id: trade_id,
                ts,
                price,
                quantity,
                aggressor,
            },
            MarketEvent::Book { ts, update_id, .. } => {
                let depth = feed.book().depth(levels);
                Payload::Depth {
                    update_id,
                    ts,
                    resync: std::mem::replace(resync, false),
                    bids: depth.bids,
                    asks: depth.asks,
                }
            }
            MarketEvent::Resync { .. } | MarketEvent::Reconnected { .. } => {
                counters.reconnects.fetch_add(1, Ordering::Relaxed);
                *resync = true;
                continue;
            }
            MarketEvent::Quote { .. } | MarketEvent::Bar(_) => continue,
        };
        return Ok(FeedMessage { received, payload });
    }
}

/// The next closed kline of `interval`, marked when the connection was re-established
/// since the previous one (`reconnected` carries that between calls).
async fn next_bar(
    feed: &mut MarketFeed,
    interval: String,
    reconnected: &mut bool,
    counters: &health::FeedCounters,
) -> Result<Live> {
    loop {
        let event = feed.next().await?;
        let received = now_nanos();
        match event {
            MarketEvent::Bar(bar) => {
                return Ok(Live {
                    message: FeedMessage {
                        received,
                        payload: Payload::Bar { interval, bar },
                    },
                    after_reconnect: std::mem::take(reconnected),
                });
            }
            MarketEvent::Reconnected { .. } => {
                counters.reconnects.fetch_add(1, Ordering::Relaxed);
                *reconnected = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000;
    const NS: u64 = 1_000_000;

    #[test]
    fn after_a_reconnect_the_gap_is_the_bars_between_the_last_published_and_the_live_one() {
        // Last published opened at 10 s; the first live bar after the reconnect at 14 s:
        // the bars opening at 11, 12 and 13 s closed unseen.
        let w = backfill_window(10_000 * NS, S, Until::Bar { open_ms: 14_000 }, 0);
        assert_eq!(w, Some((11_000, 14_000)));
        // The next bar after the last published: no gap.
        assert_eq!(
            backfill_window(10_000 * NS, S, Until::Bar { open_ms: 11_000 }, 0),
            None
        );
        // Nothing published yet: nothing to fill (the start-up backfill's case).
        assert_eq!(
            backfill_window(0, S, Until::Bar { open_ms: 14_000 }, 0),
            None
        );
    }

    #[test]
    fn at_start_the_gap_reaches_back_at_most_the_retention() {
        let max_age = Duration::from_secs(60);
        // Last published long ago: from the oldest bar the stream keeps, up to now.
        assert_eq!(
            backfill_window(1_000 * NS, S, Until::Now { max_age }, 500_000),
            Some((440_000, 500_000))
        );
        assert_eq!(
            backfill_window(499_000 * NS, S, Until::Now { max_age }, 500_000),
            None
        );
        assert_eq!(backfill_window(0, S, Until::Now { max_age }, 500_000), None);
    }
}
