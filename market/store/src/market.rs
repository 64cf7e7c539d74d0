//! The market-data container in Cosmos DB: what the feed writes and what a worker reads
//! to warm up. One container for every symbol, hierarchical partition key
//! `["/symbol", "/day"]` (`MultiHash`), container default TTL on (`defaultTtl: -1`) and a
//! `ttl` on each document.
//!
//! | document | partition key | id | written | ttl |
//! |---|---|---|---|---|
//! | latest ticker | `[symbol, "latest"]` | `ticker` | upsert on every ticker | none |
//! | closed bar | `[symbol, day]` | `bar-{tf}-{ts_ms}` | create (idempotent) | [`BAR_TTL_SECS`] |
//! | book snapshot | `[symbol, day]` | `book-{ts_ms}` | create (idempotent) | [`BOOK_TTL_SECS`] |
//!
//! `symbol` is `{venue}:{symbol}` (`binance-spot:BTCUSDT`), `day` is `YYYY-MM-DD` (UTC).
//! Why: a logical partition (one value of the whole key) holds at most 20 GB. One
//! symbol's book snapshots, a second apart with 20 levels a side, are ~150 MB a day:
//! keyed by symbol alone a busy symbol would fill its partition in four months and every
//! write to it would then fail; keyed by symbol → day a partition holds one day, and the
//! symbol prefix still keeps a symbol's days together. Every query names the full key
//! (one partition, the cheapest request), walking back a day at a time.
//!
//! Times are milliseconds (`ts_ms`; JSON numbers lose nanoseconds past 2^53) and prices,
//! sizes and volumes are decimal strings: money is never a float.

use serde_json::{Value, json};
use tradewind_azure::cosmos::{CosmosClient, CosmosError, Created, Query};
use tradewind_core::data::archive::Day;
use tradewind_core::data::{Bar, BookLevel, UnixNanos};
use tradewind_core::fixed::{Price, Quantity};

/// How long a closed bar stays (seconds): thirty days, enough to warm any strategy.
pub const BAR_TTL_SECS: u64 = 30 * 86_400;
/// How long a book snapshot stays (seconds): two days; history is the archive's job.
pub const BOOK_TTL_SECS: u64 = 2 * 86_400;
/// The partition-key paths of the container (for the environment that creates it).
pub const PARTITION_KEY_PATHS: [&str; 2] = ["/symbol", "/day"];
/// Days a warm-up walks back at most (a strategy that needs more bars than that starts
/// with what there is).
pub const MAX_WARMUP_DAYS: u32 = 31;

/// A market-data operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum MarketDataError {
    /// Cosmos DB refused or did not answer.
    #[error(transparent)]
    Cosmos(#[from] CosmosError),
    /// A stored document does not have the fields it must have.
    #[error("market data {id}: {reason}")]
    Document {
        /// Document id (or the query).
        id: String,
        /// What is wrong.
        reason: String,
    },
}

/// The latest ticker of a symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticker {
    /// Exchange time, ns.
    pub ts: UnixNanos,
    /// Best bid.
    pub bid: Price,
    /// Best ask.
    pub ask: Price,
    /// Last trade price.
    pub last: Price,
}

/// The market-data container of one account and database.
#[derive(Clone, Debug)]
pub struct MarketData {
    client: CosmosClient,
    database: String,
    container: String,
}

fn ms(ts: UnixNanos) -> i64 {
    ts.div_euclid(1_000_000)
}

/// The partition-key value of a symbol (`{venue}:{symbol}`).
pub fn symbol_key(venue: &str, symbol: &str) -> String {
    format!("{venue}:{symbol}")
}

fn levels(levels: &[BookLevel]) -> Value {
    Value::from(
        levels
            .iter()
            .map(|l| json!([l.price.to_string(), l.size.to_string()]))
            .collect::<Vec<_>>(),
    )
}

/// The document of a closed bar.
pub fn bar_document(symbol: &str, timeframe_secs: u64, bar: &Bar) -> Value {
    json!({
        "id": format!("bar-{timeframe_secs}-{}", ms(bar.ts)),
        "symbol": symbol,
        "day": Day::of(bar.ts).to_string(),
        "type": "bar",
        "tf": timeframe_secs,
        "ts_ms": ms(bar.ts),
        "open": bar.open.to_string(),
        "high": bar.high.to_string(),
        "low": bar.low.to_string(),
        "close": bar.close.to_string(),
        "volume": bar.volume.to_string(),
        "ttl": BAR_TTL_SECS,
    })
}

fn decimals(s: &str) -> u8 {
    s.split_once('.').map_or(0, |(_, f)| f.len().min(9) as u8)
}

/// A bar back from its document (exact: the strings carry their decimals).
pub fn bar_from_document(doc: &Value) -> Result<Bar, MarketDataError> {
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let bad = |reason: String| MarketDataError::Document {
        id: id.clone(),
        reason,
    };
    let text = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{k} is not a string")))
    };
    let price = |k: &str| -> Result<Price, MarketDataError> {
        let s = text(k)?;
        Price::parse(s, decimals(s)).map_err(|e| bad(format!("{k}: {e}")))
    };
    let ts_ms = doc
        .get("ts_ms")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("ts_ms is not an integer".into()))?;
    let volume = text("volume")?;
    let bar = Bar::new(
        ts_ms * 1_000_000,
        price("open")?,
        price("high")?,
        price("low")?,
        price("close")?,
        Quantity::parse(volume, decimals(volume)).map_err(|e| bad(format!("volume: {e}")))?,
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok(bar)
}

impl MarketData {
    /// The container `container` of `database` through `client`.
    pub fn new(client: CosmosClient, database: &str, container: &str) -> Self {
        Self {
            client,
            database: database.to_string(),
            container: container.to_string(),
        }
    }

    /// Upserts the latest ticker of `symbol` (a [`symbol_key`]).
    pub async fn upsert_ticker(&self, symbol: &str, t: &Ticker) -> Result<(), MarketDataError> {
        let doc = json!({
            "id": "ticker",
            "symbol": symbol,
            "day": "latest",
            "type": "ticker",
            "ts_ms": ms(t.ts),
            "bid": t.bid.to_string(),
            "ask": t.ask.to_string(),
            "last": t.last.to_string(),
        });
        let pk = [Value::from(symbol), Value::from("latest")];
        Ok(self
            .client
            .upsert(&self.database, &self.container, &pk, &doc)
            .await?)
    }

    /// Writes a closed bar; writing the same bar again changes nothing.
    pub async fn write_bar(
        &self,
        symbol: &str,
        timeframe_secs: u64,
        bar: &Bar,
    ) -> Result<Created, MarketDataError> {
        let doc = bar_document(symbol, timeframe_secs, bar);
        let pk = [Value::from(symbol), doc["day"].clone()];
        Ok(self
            .client
            .create(&self.database, &self.container, &pk, &doc)
            .await?)
    }

    /// Writes an order-book snapshot (best levels first on each side).
    pub async fn write_book(
        &self,
        symbol: &str,
        ts: UnixNanos,
        bids: &[BookLevel],
        asks: &[BookLevel],
    ) -> Result<Created, MarketDataError> {
        let day = Day::of(ts).to_string();
        let doc = json!({
            "id": format!("book-{}", ms(ts)),
            "symbol": symbol,
            "day": day,
            "type": "book",
            "ts_ms": ms(ts),
            "bids": levels(bids),
            "asks": levels(asks),
            "ttl": BOOK_TTL_SECS,
        });
        let pk = [Value::from(symbol), Value::from(day)];
        Ok(self
            .client
            .create(&self.database, &self.container, &pk, &doc)
            .await?)
    }

    /// The latest ticker document of `symbol`, as stored.
    pub async fn ticker(&self, symbol: &str) -> Result<Option<Value>, MarketDataError> {
        let pk = [Value::from(symbol), Value::from("latest")];
        Ok(self
            .client
            .read(&self.database, &self.container, &pk, "ticker")
            .await?)
    }

    /// The last `n` closed bars of `symbol` at `timeframe_secs` that start before `now`,
    /// oldest first: one single-partition query a day, newest day first, until `n` are
    /// found or [`MAX_WARMUP_DAYS`] were read.
    ///
    /// ```sql
    /// SELECT TOP {n} * FROM c
    /// WHERE c.symbol = @symbol AND c.day = @day AND c.type = 'bar' AND c.tf = @tf
    ///   AND c.ts_ms < @before ORDER BY c.ts_ms DESC
    /// ```
    pub async fn last_bars(
        &self,
        symbol: &str,
        timeframe_secs: u64,
        n: usize,
        now: UnixNanos,
    ) -> Result<Vec<Bar>, MarketDataError> {
        let mut out: Vec<Bar> = Vec::with_capacity(n);
        let mut day = Day::of(now);
        for _ in 0..MAX_WARMUP_DAYS {
            if out.len() >= n {
                break;
            }
            let want = n - out.len();
            let query = Query::new(format!(
                "SELECT TOP {want} * FROM c WHERE c.symbol = @symbol AND c.day = @day \
                 AND c.type = 'bar' AND c.tf = @tf AND c.ts_ms < @before ORDER BY c.ts_ms DESC"
            ))
            .param("@symbol", symbol)
            .param("@day", day.to_string())
            .param("@tf", timeframe_secs)
            .param("@before", ms(now));
            let pk = [Value::from(symbol), Value::from(day.to_string())];
            let docs = self
                .client
                .query(&self.database, &self.container, Some(&pk), &query, None)
                .await?;
            for d in &docs {
                out.push(bar_from_document(d)?);
            }
            day = Day(day.0 - 1);
        }
        out.truncate(n);
        out.reverse();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_round_trip_through_their_documents_exactly() {
        let p = |s: &str| Price::parse(s, 2).unwrap();
        let bar = Bar::new(
            1_767_312_000_000_000_000,
            p("87000.10"),
            p("87010.00"),
            p("86990.55"),
            p("87005.20"),
            Quantity::parse("12.345", 3).unwrap(),
        )
        .unwrap();
        let doc = bar_document("binance-spot:BTCUSDT", 60, &bar);
        assert_eq!(doc["id"], "bar-60-1767312000000");
        assert_eq!(doc["day"], "2026-01-02");
        assert_eq!(doc["open"], "87000.10");
        assert_eq!(bar_from_document(&doc).unwrap(), bar);
        let mut broken = doc.clone();
        broken["high"] = json!(87010.0);
        let e = bar_from_document(&broken).unwrap_err();
        assert_eq!(
            e.to_string(),
            "market data bar-60-1767312000000: high is not a string"
        );
    }
}
