//! Warm-up from the market-data store: a Paper or Live worker that starts with an empty
//! journal reads the last closed bars of its symbol from the market-data container and
//! primes its strategy, so it decides on the first live bar instead of waiting
//! `warmup_bars` bars. Best effort: a store that does not answer in time means a cold
//! start, never no start.

use std::time::Duration;

use tradewind_azure::cosmos::{CosmosClient, CosmosOptions};
use tradewind_core::data::aggregate::BarAggregator;
use tradewind_core::data::{Bar, UnixNanos};
use tradewind_crds::resolved::BotConfig;
use tradewind_market_store::market::{MarketData, symbol_key};

use super::config::RunArgs;

/// Bars read per bar of the strategy's lookback.
pub const LOOKBACK_FACTOR: usize = 4;
/// How long the whole warm-up may take before the worker starts cold.
const WARMUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Bar length the feed archives and stores (Binance 1m klines): longer timeframes are
/// aggregated from it when the store holds none of the strategy's own length.
const BASE_BARS_SECS: u64 = 60;

/// The market-data venue name of a bot's venue (`binance-spot`, `binance-spot-testnet`).
pub fn venue_name(cfg: &BotConfig) -> String {
    let v = &cfg.bot.venue;
    let mut name = format!("{:?}-{:?}", v.exchange, v.market).to_ascii_lowercase();
    if v.testnet {
        name.push_str("-testnet");
    }
    name
}

/// The wall clock, ns since the epoch.
pub fn now_nanos() -> UnixNanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The time of a replay file's first record (a replay warms up from before it).
pub fn replay_start(file: &std::path::Path) -> Option<UnixNanos> {
    use std::io::BufRead;
    let f = std::fs::File::open(file).ok()?;
    let line = std::io::BufReader::new(f).lines().next()?.ok()?;
    serde_json::from_str::<serde_json::Value>(&line).ok()?["ts"].as_i64()
}

/// The market-data container the flags name, if any.
pub fn market_data(args: &RunArgs) -> anyhow::Result<Option<MarketData>> {
    let Some(endpoint) = &args.market_data_cosmos_endpoint else {
        return Ok(None);
    };
    let azure = args.azure.connect("AzurePublic")?;
    let client = CosmosClient::new(
        endpoint,
        azure.credential,
        &azure.transport,
        CosmosOptions {
            max_retries: 3,
            ..CosmosOptions::default()
        },
    )?;
    Ok(Some(MarketData::new(
        client,
        &args.market_data_cosmos_database,
        &args.market_data_cosmos_container,
    )))
}

/// `bars` (1m, oldest first) as bars of `secs`; only whole periods that closed by `now`.
fn aggregate(bars: &[Bar], secs: u64, now: UnixNanos) -> Vec<Bar> {
    let period = secs as i64 * 1_000_000_000;
    let Ok(mut agg) = BarAggregator::new(period) else {
        return Vec::new();
    };
    let mut out: Vec<Bar> = bars
        .iter()
        .filter_map(|b| agg.push_bar(b).ok().flatten())
        .collect();
    out.extend(agg.flush());
    // The first period may have begun before the bars read; the last may still be open.
    let per = (secs / BASE_BARS_SECS) as usize;
    let complete = |b: &Bar| {
        bars.iter()
            .filter(|x| x.ts >= b.ts && x.ts < b.ts + period)
            .count()
            == per
    };
    out.retain(|b| b.ts + period <= now && complete(b));
    out
}

/// The last `n` closed bars of the bot's symbol at its timeframe, oldest first: the
/// strategy's own length if the store holds it, else aggregated from 1m bars. Empty on
/// any failure (logged).
pub async fn last_bars(md: &MarketData, cfg: &BotConfig, n: usize, now: UnixNanos) -> Vec<Bar> {
    let symbol = symbol_key(&venue_name(cfg), &cfg.bot.symbols[0]);
    let secs = cfg.strategy.timeframe.seconds();
    let read = async {
        let own = md.last_bars(&symbol, secs, n, now).await?;
        if own.len() >= n || secs <= BASE_BARS_SECS || !secs.is_multiple_of(BASE_BARS_SECS) {
            return Ok(own);
        }
        let k = (secs / BASE_BARS_SECS) as usize;
        let base = md
            .last_bars(&symbol, BASE_BARS_SECS, (n + 1) * k, now)
            .await?;
        let mut bars = aggregate(&base, secs, now);
        let from = bars.len().saturating_sub(n);
        bars.drain(..from);
        Ok::<_, tradewind_market_store::market::MarketDataError>(bars)
    };
    match tokio::time::timeout(WARMUP_TIMEOUT, read).await {
        Ok(Ok(bars)) => {
            tracing::info!(%symbol, bars = bars.len(), wanted = n, "warm-up bars read from the market-data store");
            bars
        }
        Ok(Err(e)) => {
            tracing::warn!(%symbol, error = %e, "warm-up from the market-data store failed; starting cold");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!(%symbol, "the market-data store did not answer in time; starting cold");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_core::fixed::{Price, Quantity};

    fn bar(min: i64) -> Bar {
        let p = Price::from_raw(100_000_000_000, 2).unwrap();
        Bar {
            ts: min * 60_000_000_000,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: Quantity::from_raw(1_000_000_000, 3).unwrap(),
        }
    }

    #[test]
    fn only_whole_closed_periods_are_kept() {
        // 1m bars from minute 3 to 31: 5m periods [5,10) .. [25,30) are whole; [0,5) began
        // before the first bar, [30,35) is still open at minute 32.
        let bars: Vec<Bar> = (3..32).map(bar).collect();
        let out = aggregate(&bars, 300, 32 * 60_000_000_000);
        let starts: Vec<i64> = out.iter().map(|b| b.ts / 60_000_000_000).collect();
        assert_eq!(starts, vec![5, 10, 15, 20, 25]);
        assert_eq!(out[0].volume, Quantity::from_raw(5_000_000_000, 3).unwrap());
    }
}
