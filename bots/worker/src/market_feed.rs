//! `tradewind-bot feed`: the shared market-data feed of one (venue, market, symbol)
//! shard. It holds the exchange's streams with the worker's own Binance client —
//! trades and depth on one connection (the local book kept in sync with REST
//! snapshots), closed klines of each interval on one connection each — and publishes
//! them to NATS JetStream through [`tradewind_feed::Publisher`]. It ships in the
//! worker's image and binary so the client is not duplicated or moved.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use futures_util::StreamExt;
use tradewind_crds::contract::env;
use tradewind_feed::{FeedMessage, Payload, Publisher, Retention, Shard, Sink};

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
    let mut publisher = Publisher::new(client, shard.clone(), &args.retention()).await?;
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
    let mut streams = vec![
        futures_util::stream::unfold((ticks, true), move |(mut feed, mut resync)| async move {
            let item = next_tick(&mut feed, levels, &mut resync).await;
            Some((item, (feed, resync)))
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
        streams.push(
            futures_util::stream::unfold(bars, move |mut feed| {
                let interval = interval.clone();
                async move {
                    let item = next_bar(&mut feed, interval).await;
                    Some((item, feed))
                }
            })
            .boxed_local(),
        );
    }
    // One task polls every exchange stream and publishes in arrival order; while NATS
    // is away the streams wait (the exchange's sockets buffer) and nothing is dropped.
    let mut merged = futures_util::stream::select_all(streams);
    tracing::info!(symbol = shard.symbol(), intervals = ?args.intervals, "market-data feed publishing");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            message = merged.next() => {
                let message = message.ok_or_else(|| anyhow!("every exchange stream ended"))??;
                publisher.send(&message).await?;
            }
            () = &mut shutdown => {
                tracing::info!("market-data feed stopping");
                return Ok(());
            }
        }
    }
}

/// The next trade, or the top of the book after an applied depth update; the first
/// book after a (re)build from a snapshot is marked `resync`.
async fn next_tick(feed: &mut MarketFeed, levels: usize, resync: &mut bool) -> Result<FeedMessage> {
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
                *resync = true;
                continue;
            }
            MarketEvent::Quote { .. } | MarketEvent::Bar(_) => continue,
        };
        return Ok(FeedMessage { received, payload });
    }
}

/// The next closed kline of `interval`.
async fn next_bar(feed: &mut MarketFeed, interval: String) -> Result<FeedMessage> {
    loop {
        let event = feed.next().await?;
        let received = now_nanos();
        if let MarketEvent::Bar(bar) = event {
            return Ok(FeedMessage {
                received,
                payload: Payload::Bar { interval, bar },
            });
        }
    }
}
