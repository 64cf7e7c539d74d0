//! Where a worker's bars come from: a recorded trade/quote file replayed in real time,
//! faster, or as fast as possible; or Binance's live streams (closed klines of the
//! strategy's timeframe; trades are read for the feed's health).

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;
use tradewind_core::data::aggregate::BarAggregator;
use tradewind_core::data::load::{L1Event, l1_jsonl};
use tradewind_core::data::{Bar, Trade};

use crate::venue::binance::{FeedError, MarketEvent, MarketFeed};

/// What the runner gets from a source.
#[derive(Debug)]
pub enum Tick {
    /// A bar of the strategy's timeframe closed; `received` is when the event that
    /// closed it arrived (the start of the decision-latency measurement).
    Bar {
        /// The bar.
        bar: Bar,
        /// Arrival of the closing event.
        received: Instant,
    },
    /// The feed reconnected (for metrics).
    Reconnected,
    /// The order book was rebuilt after a sequence gap (for metrics).
    Resync,
    /// A recorded file ended.
    End,
}

/// A failure of the market data source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The replay file cannot be used.
    #[error("replay {file}: {reason}")]
    Replay {
        /// File.
        file: String,
        /// Why.
        reason: String,
    },
    /// The live feed gave up.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The shared market-data feed (JetStream) failed for good.
    #[error(transparent)]
    Shared(#[from] tradewind_feed::FeedError),
}

/// Bars of the shared market-data feed: one subject's ordered JetStream consumer,
/// started after the last bar the journal holds.
pub struct SharedBars {
    subscription: tradewind_feed::Subscription,
    bar_nanos: i64,
    last: Option<i64>,
    lag: Duration,
}

/// How far before the journal's last bar a resumed subscription starts reading the
/// stream by stored time (clock skew between the exchange and NATS); what it reads
/// before that bar is dropped by sequence.
const RESUME_MARGIN_NANOS: i64 = 10 * 60 * 1_000_000_000;

impl SharedBars {
    /// Subscribes to the klines of `interval` of `shard` on `client`, after `last_bar`
    /// (the journal's; `None`: from now on).
    pub async fn subscribe(
        client: tradewind_feed::NatsClient,
        shard: &tradewind_feed::Shard,
        interval: &str,
        bar_nanos: i64,
        last_bar: Option<i64>,
    ) -> Result<Self, SourceError> {
        let subject = shard
            .kline(interval)
            .map_err(tradewind_feed::FeedError::from)?;
        let start = match last_bar {
            Some(ts) => tradewind_feed::Start::After {
                sequence: u64::try_from(ts).unwrap_or(0),
                since: ts.saturating_sub(RESUME_MARGIN_NANOS),
            },
            None => tradewind_feed::Start::New,
        };
        tracing::info!(%subject, ?start, "reading bars from the shared market-data feed");
        let subscription =
            tradewind_feed::Subscription::new(client, shard, &subject, start).await?;
        Ok(Self {
            subscription,
            bar_nanos,
            last: last_bar,
            lag: Duration::ZERO,
        })
    }

    async fn next(&mut self) -> Result<Tick, SourceError> {
        loop {
            let delivered = self.subscription.next().await?;
            let received = Instant::now();
            let tradewind_feed::Payload::Bar { bar, .. } = delivered.message.payload else {
                continue;
            };
            let now = tradewind_feed_now();
            self.lag = Duration::from_nanos(
                u64::try_from(now.saturating_sub(delivered.message.received)).unwrap_or(0),
            );
            if let Some(last) = self.last
                && bar.ts > last.saturating_add(self.bar_nanos)
            {
                // The exchange had no trades then, or no feed was running: said, not hidden.
                tracing::warn!(
                    after = last,
                    next = bar.ts,
                    "bars missing from the shared feed between these open times"
                );
            }
            self.last = Some(bar.ts);
            return Ok(Tick::Bar { bar, received });
        }
    }
}

fn tradewind_feed_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A recorded file, paced by its timestamps.
pub struct Replay {
    events: std::vec::IntoIter<L1Event>,
    aggregator: BarAggregator,
    /// Wall-clock seconds per recorded second (0: no pacing).
    pace: f64,
    first_ts: Option<i64>,
    started: Instant,
    done: bool,
}

/// Slowest `--replay-speed` (1,000 s of wall clock per recorded second).
pub const MIN_REPLAY_SPEED: f64 = 0.001;
/// Fastest paced `--replay-speed` (0 replays unpaced).
pub const MAX_REPLAY_SPEED: f64 = 1_000_000.0;

impl Replay {
    /// Loads `file` (Tradewind's trade/quote JSONL) for bars of `timeframe_secs`.
    pub fn load(file: &Path, timeframe_secs: u64, speed: f64) -> Result<Self, SourceError> {
        let bad = |reason: String| SourceError::Replay {
            file: file.display().to_string(),
            reason,
        };
        if !(speed == 0.0 || (MIN_REPLAY_SPEED..=MAX_REPLAY_SPEED).contains(&speed)) {
            return Err(bad(format!(
                "--replay-speed {speed:?} must be 0 (no pacing) or between {MIN_REPLAY_SPEED} and {MAX_REPLAY_SPEED}"
            )));
        }
        let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
        let events =
            l1_jsonl(&file.display().to_string(), &text).map_err(|e| bad(e.to_string()))?;
        if !events.iter().any(|e| matches!(e, L1Event::Trade(_))) {
            return Err(bad("no trades to build bars from".into()));
        }
        let period = i64::try_from(timeframe_secs)
            .ok()
            .and_then(|s| s.checked_mul(1_000_000_000))
            .ok_or_else(|| bad("timeframe too long".into()))?;
        let aggregator = BarAggregator::new(period).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            events: events.into_iter(),
            aggregator,
            pace: if speed == 0.0 { 0.0 } else { 1.0 / speed },
            first_ts: None,
            started: Instant::now(),
            done: false,
        })
    }

    /// The trades of a file, for instrument rules (precision of prices and sizes).
    pub fn trades(file: &Path) -> Result<Vec<Trade>, SourceError> {
        let text = std::fs::read_to_string(file).map_err(|e| SourceError::Replay {
            file: file.display().to_string(),
            reason: e.to_string(),
        })?;
        let events =
            l1_jsonl(&file.display().to_string(), &text).map_err(|e| SourceError::Replay {
                file: file.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                L1Event::Trade(t) => Some(t),
                L1Event::Quote(_) => None,
            })
            .collect())
    }

    async fn next(&mut self) -> Result<Tick, SourceError> {
        loop {
            let Some(event) = self.events.next() else {
                if !self.done {
                    self.done = true;
                    if let Some(bar) = self.aggregator.flush() {
                        return Ok(Tick::Bar {
                            bar,
                            received: Instant::now(),
                        });
                    }
                }
                return Ok(Tick::End);
            };
            let ts = event.ts();
            let first = *self.first_ts.get_or_insert(ts);
            if self.pace > 0.0 {
                // Wall-clock pacing of recorded time: a float is fine here (not money).
                // Checked: a file spanning centuries at a slow speed must not overflow.
                let secs = (ts.saturating_sub(first)).max(0) as f64 / 1e9 * self.pace;
                let at = Duration::try_from_secs_f64(secs)
                    .ok()
                    .and_then(|offset| self.started.checked_add(offset));
                match at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => {
                        return Err(SourceError::Replay {
                            file: "replay".into(),
                            reason: format!(
                                "the recording spans {secs} s at this --replay-speed, past what a clock can wait for"
                            ),
                        });
                    }
                }
            }
            let L1Event::Trade(trade) = event else {
                continue;
            };
            let closed = self
                .aggregator
                .push_trade(&trade)
                .map_err(|e| SourceError::Replay {
                    file: "replay".into(),
                    reason: e.to_string(),
                })?;
            if let Some(bar) = closed {
                // The trade that closed the bar opens the next one.
                return Ok(Tick::Bar {
                    bar,
                    received: Instant::now(),
                });
            }
        }
    }
}

/// A market data source.
pub enum Source {
    /// A recorded file.
    Replay(Box<Replay>),
    /// Binance's live streams.
    Binance(Box<MarketFeed>),
    /// The shared market-data feed on JetStream.
    Shared(Box<SharedBars>),
}

impl Source {
    /// Receive time minus exchange time of the live feed's last event.
    pub fn lag(&self) -> Option<Duration> {
        match self {
            Source::Replay(_) => None,
            Source::Shared(bars) => Some(bars.lag),
            Source::Binance(feed) => {
                let ms = feed
                    .counters()
                    .last_lag_ms
                    .load(std::sync::atomic::Ordering::Relaxed);
                Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
            }
        }
    }

    /// The source as a stream of ticks with the feed's lag. The stream owns the source,
    /// so a `select!` branch losing the race never drops a reconnect half-way: the
    /// pending future stays inside the stream between polls.
    pub fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<(Tick, Option<Duration>), SourceError>> {
        futures_util::stream::unfold(self, |mut s| async move {
            let item = s.next().await.map(|t| (t, s.lag()));
            Some((item, s))
        })
    }

    /// The next tick.
    pub async fn next(&mut self) -> Result<Tick, SourceError> {
        match self {
            Source::Replay(r) => r.next().await,
            Source::Shared(b) => b.next().await,
            Source::Binance(feed) => loop {
                let event = feed.next().await?;
                let received = Instant::now();
                return Ok(match event {
                    MarketEvent::Bar(bar) => Tick::Bar { bar, received },
                    MarketEvent::Reconnected { .. } => Tick::Reconnected,
                    MarketEvent::Resync { .. } => Tick::Resync,
                    // Between bars the engine prices with bar closes only (a replay of the
                    // journal must rebuild the same state), so trades and quotes pass by.
                    MarketEvent::Trade { .. }
                    | MarketEvent::Quote { .. }
                    | MarketEvent::Book { .. } => continue,
                });
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_dir() -> std::path::PathBuf {
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo"))
    }

    #[tokio::test]
    async fn replay_builds_the_same_bars_as_the_backtest_loader() {
        let file = manifest_dir().join("../../examples/data/binance_spot_btcusdt_l1_trades.jsonl");
        let mut source = Source::Replay(Box::new(Replay::load(&file, 1, 0.0).unwrap()));
        let mut bars = Vec::new();
        loop {
            match source.next().await.unwrap() {
                Tick::Bar { bar, .. } => bars.push(bar),
                Tick::End => break,
                _ => {}
            }
        }
        // What the backtest's loader makes of a trade file.
        let expected = tradewind_core::data::aggregate::bars_from_trades(
            &Replay::trades(&file).unwrap(),
            1_000_000_000,
        )
        .unwrap();
        assert_eq!(bars, expected);
    }

    /// `--replay-speed 1e-30` panicked converting the pace to a Duration; now every speed
    /// outside the range is refused with the flag named, before the file is read.
    #[test]
    fn replay_speed_out_of_range_is_refused() {
        let file = manifest_dir().join("../../examples/data/binance_spot_btcusdt_l1_trades.jsonl");
        for speed in [1e-30, -1.0, f64::NAN, f64::INFINITY, 1e300, 0.0009] {
            let Err(err) = Replay::load(&file, 1, speed) else {
                panic!("speed {speed} accepted");
            };
            assert!(err.to_string().contains("--replay-speed"), "{err}");
        }
        assert!(Replay::load(&file, 1, MIN_REPLAY_SPEED).is_ok());
        assert!(Replay::load(&file, 1, MAX_REPLAY_SPEED).is_ok());
    }

    #[test]
    fn a_bad_file_is_named() {
        let Err(err) = Replay::load(Path::new("/nonexistent/trades.jsonl"), 60, 1.0) else {
            panic!("loaded a missing file");
        };
        assert!(
            err.to_string()
                .starts_with("replay /nonexistent/trades.jsonl: "),
            "{err}"
        );
    }
}
