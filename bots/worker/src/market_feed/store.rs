//! The feed's writer to market data at rest: closed bars, the latest ticker and book
//! snapshots into the market-data container in Cosmos DB, and whole UTC days of bars
//! and trades archived (`.twb` / `.twt`) to Blob Storage or a volume directory.
//!
//! It never holds back publishing: [`StoreSink::send`] only offers the message to a
//! bounded queue (a full queue drops it, counted); one background task writes.
//!
//! Both replicas of a feed write, and that is harmless by construction instead of by a
//! lease: a bar's document id is its interval and open time (a second create is a 409,
//! "already there"), the ticker is one upserted document, a book snapshot is taken on
//! the first depth update at or after each [`BOOK_EVERY_MS`] boundary of exchange time
//! (both replicas see the same updates, so the same id), and an archived day is
//! replaced only by one holding more records (the replica that saw more of the day).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tradewind_core::data::archive::Day;
use tradewind_core::data::{Bar, Trade, UnixNanos};
use tradewind_core::fixed::Price;
use tradewind_feed::{FeedError, FeedMessage, Payload, Sink};
use tradewind_market_store::archive::Archive;
use tradewind_market_store::market::{MarketData, Ticker, symbol_key};

/// Messages waiting for the writer at most; beyond it new ones are dropped.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Book snapshots are written at most this often (ms of exchange time).
pub const BOOK_EVERY_MS: i64 = 10_000;
/// The ticker document is upserted at most this often (ms of exchange time).
pub const TICKER_EVERY_MS: i64 = 1_000;

/// What the store writer did, for /metrics.
#[derive(Debug, Default)]
pub struct StoreCounters {
    /// Messages dropped because the writer's queue was full.
    pub dropped: AtomicU64,
    /// Documents written to (or found already in) the market-data container.
    pub documents: AtomicU64,
    /// Cosmos DB writes that failed after the client's retries.
    pub document_errors: AtomicU64,
    /// Days archived.
    pub days_archived: AtomicU64,
    /// Archive writes that failed.
    pub archive_errors: AtomicU64,
}

/// The seconds of a Binance kline interval; `None` for `1M` (months differ).
pub fn interval_secs(interval: &str) -> Option<u64> {
    let (n, unit) = interval.split_at(interval.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    Some(n * unit)
}

/// Records of one stream collected a UTC day at a time: [`DayBuffer::push`] hands back
/// the finished day when the first record of a later day arrives. A record whose
/// exchange sequence (bar open time, trade ID) is at or before the last one taken (a
/// replayed or doubled message) is ignored.
#[derive(Debug)]
pub struct DayBuffer<T> {
    day: Option<Day>,
    last: Option<u64>,
    records: Vec<T>,
    /// Most records kept for a day; past it the day is abandoned (never archived half).
    max: usize,
    overflowed: bool,
}

impl<T> DayBuffer<T> {
    /// An empty buffer keeping at most `max` records a day.
    pub fn new(max: usize) -> Self {
        Self {
            day: None,
            last: None,
            records: Vec::new(),
            max,
            overflowed: false,
        }
    }

    /// Takes a record with exchange sequence `seq` at `ts`; returns the previous day's
    /// records when `ts` begins a later day (`None` for a day that overflowed).
    pub fn push(&mut self, seq: u64, ts: UnixNanos, record: T) -> Option<(Day, Vec<T>)> {
        if self.last.is_some_and(|l| seq <= l) {
            return None;
        }
        self.last = Some(seq);
        let day = Day::of(ts);
        let mut done = None;
        if self.day != Some(day)
            && let Some(prev) = self.day.replace(day)
        {
            let records = std::mem::take(&mut self.records);
            if !std::mem::replace(&mut self.overflowed, false) && !records.is_empty() {
                done = Some((prev, records));
            }
        }
        if self.records.len() >= self.max {
            if !self.overflowed {
                tracing::warn!(%day, max = self.max, "too many records for one day; this day will not be archived");
            }
            self.overflowed = true;
            self.records.clear();
        } else if !self.overflowed {
            self.records.push(record);
        }
        done
    }
}

/// Ticker and book-snapshot pacing, from exchange time.
#[derive(Debug, Default)]
struct Pacing {
    last_trade: Option<Price>,
    next_ticker_ms: i64,
    next_book_ms: i64,
}

/// What to write for a depth update at `ts_ms`: (ticker, book snapshot).
fn due(p: &mut Pacing, ts_ms: i64) -> (bool, bool) {
    let ticker = ts_ms >= p.next_ticker_ms;
    if ticker {
        p.next_ticker_ms = (ts_ms / TICKER_EVERY_MS + 1) * TICKER_EVERY_MS;
    }
    let book = ts_ms >= p.next_book_ms;
    if book {
        p.next_book_ms = (ts_ms / BOOK_EVERY_MS + 1) * BOOK_EVERY_MS;
    }
    (ticker, book)
}

/// Where the writer writes.
#[derive(Debug)]
pub struct StoreTargets {
    /// The market-data container, if configured.
    pub market_data: Option<MarketData>,
    /// The archive, if configured.
    pub archive: Option<Archive>,
    /// Whether trades are archived too.
    pub archive_trades: bool,
    /// Most trades held for one day's archive.
    pub max_trades_per_day: usize,
}

/// The [`Sink`] that queues messages for the store writer.
#[derive(Debug)]
pub struct StoreSink {
    tx: mpsc::Sender<FeedMessage>,
    counters: Arc<StoreCounters>,
}

impl StoreSink {
    /// Starts the writer task for `venue` (`binance-spot`) and `symbol`.
    pub fn start(venue: &str, symbol: &str, targets: StoreTargets) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let counters = Arc::new(StoreCounters::default());
        let writer = Writer {
            venue: venue.to_owned(),
            symbol: symbol.to_owned(),
            key: symbol_key(venue, symbol),
            bars: BTreeMap::new(),
            trades: DayBuffer::new(targets.max_trades_per_day),
            pacing: Pacing::default(),
            targets,
            counters: Arc::clone(&counters),
        };
        tokio::spawn(writer.run(rx));
        Self { tx, counters }
    }

    /// Counters for /metrics.
    pub fn counters(&self) -> Arc<StoreCounters> {
        Arc::clone(&self.counters)
    }
}

impl Sink for StoreSink {
    async fn send(&mut self, message: &FeedMessage) -> Result<(), FeedError> {
        if let Err(e) = self.tx.try_send(message.clone()) {
            let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_power_of_two() {
                tracing::warn!(dropped = n, reason = %e, "market-data store writer behind; message not stored");
            }
        }
        Ok(())
    }
}

struct Writer {
    venue: String,
    symbol: String,
    key: String,
    /// Per interval (seconds dividing a day).
    bars: BTreeMap<u64, DayBuffer<Bar>>,
    trades: DayBuffer<Trade>,
    pacing: Pacing,
    targets: StoreTargets,
    counters: Arc<StoreCounters>,
}

fn precision_of<'a>(prices: impl Iterator<Item = (u8, u8)> + 'a) -> (u8, u8) {
    prices.fold((0, 0), |(p, s), (a, b)| (p.max(a), s.max(b)))
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<FeedMessage>) {
        while let Some(m) = rx.recv().await {
            self.take(m).await;
        }
    }

    fn document<T, E: std::fmt::Display>(&self, what: &str, r: Result<T, E>) {
        match r {
            Ok(_) => {
                self.counters.documents.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters
                    .document_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(symbol = %self.key, what, error = %e, "market-data document not written");
            }
        }
    }

    async fn take(&mut self, m: FeedMessage) {
        match m.payload {
            Payload::Bar { interval, bar } => {
                let Some(secs) = interval_secs(&interval) else {
                    return;
                };
                if let Some(md) = &self.targets.market_data {
                    let r = md.write_bar(&self.key, secs, &bar).await;
                    self.document("bar", r);
                }
                if self.targets.archive.is_some() && 86_400 % secs == 0 {
                    let buf = self
                        .bars
                        .entry(secs)
                        .or_insert_with(|| DayBuffer::new(usize::MAX));
                    let seq = u64::try_from(bar.ts).unwrap_or(0);
                    if let Some((day, bars)) = buf.push(seq, bar.ts, bar) {
                        self.archive_bars(secs, day, bars).await;
                    }
                }
            }
            Payload::Trade {
                id,
                ts,
                price,
                quantity,
                aggressor,
            } => {
                self.pacing.last_trade = Some(price);
                if self.targets.archive.is_some() && self.targets.archive_trades {
                    let t = Trade {
                        ts,
                        price,
                        size: quantity,
                        aggressor,
                    };
                    if let Some((day, trades)) = self.trades.push(id, ts, t) {
                        self.archive_trades(day, trades).await;
                    }
                }
            }
            Payload::Depth { ts, bids, asks, .. } => {
                let Some(md) = self.targets.market_data.clone() else {
                    return;
                };
                let (ticker, book) = due(&mut self.pacing, ts.div_euclid(1_000_000));
                if ticker && let (Some(bid), Some(ask)) = (bids.first(), asks.first()) {
                    let t = Ticker {
                        ts,
                        bid: bid.price,
                        ask: ask.price,
                        last: self.pacing.last_trade.unwrap_or(bid.price),
                    };
                    let r = md.upsert_ticker(&self.key, &t).await;
                    self.document("ticker", r);
                }
                if book {
                    let r = md.write_book(&self.key, ts, &bids, &asks).await;
                    self.document("book", r);
                }
            }
        }
    }

    async fn archive_bars(&self, secs: u64, day: Day, bars: Vec<Bar>) {
        let Some(archive) = &self.targets.archive else {
            return;
        };
        let r = async {
            match archive.bars_day(&self.venue, &self.symbol, secs, day).await {
                Ok(old) if old.bars.len() >= bars.len() => return Ok(None),
                _ => {}
            }
            let (pp, sp) = precision_of(bars.iter().map(|b| {
                let p = [b.open, b.high, b.low, b.close]
                    .iter()
                    .map(|p| p.precision())
                    .max()
                    .unwrap_or(0);
                (p, b.volume.precision())
            }));
            archive
                .put_bars(&self.venue, &self.symbol, secs, day, &bars, pp, sp)
                .await
                .map(Some)
        }
        .await;
        self.archived(day, "bars", bars.len(), r);
    }

    async fn archive_trades(&self, day: Day, trades: Vec<Trade>) {
        let Some(archive) = &self.targets.archive else {
            return;
        };
        let r = async {
            match archive.trades_day(&self.venue, &self.symbol, day).await {
                Ok(old) if old.len() >= trades.len() => return Ok(None),
                _ => {}
            }
            let (pp, sp) = precision_of(
                trades
                    .iter()
                    .map(|t| (t.price.precision(), t.size.precision())),
            );
            archive
                .put_trades(&self.venue, &self.symbol, day, &trades, pp, sp)
                .await
                .map(Some)
        }
        .await;
        self.archived(day, "trades", trades.len(), r);
    }

    fn archived(
        &self,
        day: Day,
        what: &str,
        n: usize,
        r: Result<Option<String>, tradewind_market_store::archive::StoreError>,
    ) {
        match r {
            Ok(Some(key)) => {
                self.counters.days_archived.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%day, what, records = n, %key, "day archived");
            }
            Ok(None) => {
                tracing::info!(%day, what, records = n, "day already archived with as many records; kept");
            }
            Err(e) => {
                self.counters.archive_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%day, what, error = %e, "day not archived");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;

    #[test]
    fn intervals_have_their_seconds() {
        assert_eq!(interval_secs("1s"), Some(1));
        assert_eq!(interval_secs("15m"), Some(900));
        assert_eq!(interval_secs("4h"), Some(14_400));
        assert_eq!(interval_secs("1d"), Some(86_400));
        assert_eq!(interval_secs("1w"), Some(604_800));
        assert_eq!(interval_secs("1M"), None);
        assert_eq!(interval_secs(""), None);
    }

    #[test]
    fn a_day_is_handed_back_whole_when_the_next_begins_and_repeats_are_ignored() {
        let mut b = DayBuffer::new(10);
        let d0 = 20_000 * DAY;
        assert_eq!(b.push(1, d0 + 1, 1), None);
        assert_eq!(b.push(2, d0 + 2, 2), None);
        // Two trades at the same time are two records.
        assert_eq!(b.push(3, d0 + 2, 3), None);
        // A doubled and an older message change nothing.
        assert_eq!(b.push(3, d0 + 2, 3), None);
        assert_eq!(b.push(1, d0 + 1, 1), None);
        assert_eq!(b.push(4, d0 + DAY - 1, 4), None);
        assert_eq!(
            b.push(5, d0 + DAY, 5),
            Some((Day(20_000), vec![1, 2, 3, 4]))
        );
        assert_eq!(b.push(6, d0 + 3 * DAY, 6), Some((Day(20_001), vec![5])));
    }

    #[test]
    fn a_day_past_its_bound_is_never_archived_in_part() {
        let mut b = DayBuffer::new(2);
        let d0 = 20_000 * DAY;
        for i in 1..=3 {
            assert_eq!(b.push(i as u64, d0 + i, i), None);
        }
        assert_eq!(b.push(9, d0 + DAY, 9), None);
        assert_eq!(b.push(10, d0 + 2 * DAY, 10), Some((Day(20_001), vec![9])));
    }

    #[test]
    fn tickers_and_books_are_paced_on_exchange_time_boundaries() {
        let mut p = Pacing::default();
        assert_eq!(due(&mut p, 1_000_500), (true, true));
        assert_eq!(due(&mut p, 1_000_900), (false, false));
        assert_eq!(due(&mut p, 1_001_000), (true, false));
        // Another replica that started later takes its next book on the same boundary.
        let mut q = Pacing::default();
        assert_eq!(due(&mut q, 1_005_000), (true, true));
        assert_eq!(due(&mut p, 1_010_000), (true, true));
        assert_eq!(due(&mut q, 1_010_000), (true, true));
    }
}
