//! Where a shard's messages go: subjects per venue, market, symbol and stream, and the
//! two JetStream streams per shard that keep them.
//!
//! ```text
//! {prefix}.{venue}.{market}.{SYMBOL}.kline.{interval}   closed klines      stream {PREFIX}_{VENUE}_{MARKET}_{SYMBOL}_BARS
//! {prefix}.{venue}.{market}.{SYMBOL}.trade              trades             stream {PREFIX}_{VENUE}_{MARKET}_{SYMBOL}_TICKS
//! {prefix}.{venue}.{market}.{SYMBOL}.depth              top-of-book depth  stream {PREFIX}_{VENUE}_{MARKET}_{SYMBOL}_TICKS
//! ```
//!
//! e.g. `tw.md.binance.spot.BTCUSDT.kline.1m` in `TW_MD_BINANCE_SPOT_BTCUSDT_BARS`.

use std::time::Duration;

/// The default subject prefix.
pub const DEFAULT_PREFIX: &str = "tw.md";

/// A token of a subject was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {value:?}: {reason}")]
pub struct SubjectError {
    /// Which part (`prefix`, `venue`, `market`, `symbol`, `interval`).
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// Why it cannot be used.
    pub reason: &'static str,
}

fn token(field: &'static str, value: &str) -> Result<(), SubjectError> {
    let bad = |reason| SubjectError {
        field,
        value: value.to_owned(),
        reason,
    };
    if value.is_empty() {
        return Err(bad("must not be empty"));
    }
    if value.len() > 32 {
        return Err(bad("at most 32 characters"));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad("only ASCII letters, digits, '-' and '_'"));
    }
    Ok(())
}

/// One feed's scope: a symbol of a market of a venue, under a subject prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shard {
    prefix: String,
    venue: String,
    market: String,
    symbol: String,
}

impl Shard {
    /// A shard; every part is checked (the prefix is dot-separated tokens; venue and
    /// market are lower-cased, the symbol upper-cased, as the exchange spells it).
    pub fn new(
        prefix: &str,
        venue: &str,
        market: &str,
        symbol: &str,
    ) -> Result<Self, SubjectError> {
        if prefix.is_empty() {
            return Err(SubjectError {
                field: "prefix",
                value: prefix.to_owned(),
                reason: "must not be empty",
            });
        }
        for part in prefix.split('.') {
            token("prefix", part).map_err(|mut e| {
                e.value = prefix.to_owned();
                e
            })?;
        }
        token("venue", venue)?;
        token("market", market)?;
        token("symbol", symbol)?;
        Ok(Self {
            prefix: prefix.to_owned(),
            venue: venue.to_ascii_lowercase(),
            market: market.to_ascii_lowercase(),
            symbol: symbol.to_ascii_uppercase(),
        })
    }

    /// The symbol (upper case).
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    fn base(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.prefix, self.venue, self.market, self.symbol
        )
    }

    /// Closed klines of `interval` (`1m`, `1h`, …).
    pub fn kline(&self, interval: &str) -> Result<String, SubjectError> {
        token("interval", interval)?;
        Ok(format!("{}.kline.{interval}", self.base()))
    }

    /// Trades.
    pub fn trade(&self) -> String {
        format!("{}.trade", self.base())
    }

    /// Depth (the top of the book after every applied update).
    pub fn depth(&self) -> String {
        format!("{}.depth", self.base())
    }

    fn stream_name(&self, suffix: &str) -> String {
        format!(
            "{}_{}_{}_{}_{suffix}",
            self.prefix.replace(['.', '-'], "_"),
            self.venue.replace('-', "_"),
            self.market.replace('-', "_"),
            self.symbol.replace('-', "_"),
        )
        .to_ascii_uppercase()
    }

    /// The stream keeping the shard's klines.
    pub fn bars_stream(&self) -> String {
        self.stream_name("BARS")
    }

    /// The stream keeping the shard's trades and depth.
    pub fn ticks_stream(&self) -> String {
        self.stream_name("TICKS")
    }

    /// The stream holding `subject` (one of this shard's).
    pub fn stream_of(&self, subject: &str) -> String {
        if subject.starts_with(&format!("{}.kline.", self.base())) {
            self.bars_stream()
        } else {
            self.ticks_stream()
        }
    }

    /// The JetStream configurations of the shard's two streams under `retention`.
    pub fn streams(&self, retention: &Retention) -> [async_nats::jetstream::stream::Config; 2] {
        use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
        let config = |name: String, subjects: Vec<String>, age: Duration, bytes: u64| Config {
            name,
            subjects,
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            storage: StorageType::File,
            max_age: age,
            max_bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
            num_replicas: retention.replicas,
            duplicate_window: retention.duplicate_window,
            ..Default::default()
        };
        [
            config(
                self.bars_stream(),
                vec![format!("{}.kline.*", self.base())],
                retention.bars_max_age,
                retention.bars_max_bytes,
            ),
            config(
                self.ticks_stream(),
                vec![self.trade(), self.depth()],
                retention.ticks_max_age,
                retention.ticks_max_bytes,
            ),
        ]
    }
}

/// How long and how much each shard's streams keep (see the README's market-data
/// section for the sizing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Klines are kept this long: how long a worker may be down and still catch up.
    pub bars_max_age: Duration,
    /// Bound of the klines stream (oldest dropped first).
    pub bars_max_bytes: u64,
    /// Trades and depth are kept this long.
    pub ticks_max_age: Duration,
    /// Bound of the trades-and-depth stream (oldest dropped first).
    pub ticks_max_bytes: u64,
    /// Window in which JetStream drops a message whose `Nats-Msg-Id` it has seen.
    pub duplicate_window: Duration,
    /// Copies kept by a NATS cluster (1 on a single server, 3 in a cluster).
    pub replicas: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            bars_max_age: Duration::from_secs(7 * 24 * 3600),
            bars_max_bytes: 256 << 20,
            ticks_max_age: Duration::from_secs(3600),
            ticks_max_bytes: 2 << 30,
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_streams() {
        let s = Shard::new("tw.md", "Binance", "spot", "btcusdt").unwrap();
        assert_eq!(
            s.kline("1m").unwrap(),
            "tw.md.binance.spot.BTCUSDT.kline.1m"
        );
        assert_eq!(s.trade(), "tw.md.binance.spot.BTCUSDT.trade");
        assert_eq!(s.depth(), "tw.md.binance.spot.BTCUSDT.depth");
        assert_eq!(s.bars_stream(), "TW_MD_BINANCE_SPOT_BTCUSDT_BARS");
        assert_eq!(s.ticks_stream(), "TW_MD_BINANCE_SPOT_BTCUSDT_TICKS");
        assert_eq!(s.stream_of(&s.kline("5m").unwrap()), s.bars_stream());
        assert_eq!(s.stream_of(&s.depth()), s.ticks_stream());
        let [bars, ticks] = s.streams(&Retention::default());
        assert_eq!(bars.subjects, ["tw.md.binance.spot.BTCUSDT.kline.*"]);
        assert_eq!(ticks.subjects, [s.trade(), s.depth()]);
        assert_eq!(ticks.max_age, Duration::from_secs(3600));
    }

    #[test]
    fn bad_tokens_are_named() {
        let e = Shard::new("tw..md", "binance", "spot", "BTCUSDT").unwrap_err();
        assert_eq!(e.field, "prefix");
        let e = Shard::new("tw.md", "binance", "spot", "BTC.USDT").unwrap_err();
        assert_eq!(
            e.to_string(),
            "symbol \"BTC.USDT\": only ASCII letters, digits, '-' and '_'"
        );
        let e = Shard::new("tw.md", "", "spot", "X").unwrap_err();
        assert_eq!(e.field, "venue");
        let s = Shard::new("tw.md", "binance", "spot", "X").unwrap();
        assert_eq!(s.kline("*").unwrap_err().field, "interval");
        assert_eq!(s.kline(">").unwrap_err().field, "interval");
    }
}
