//! Daily market-data archives: one file per venue, symbol, stream and UTC day, the
//! layout and the formats every archive (a directory or a Blob Storage container)
//! shares. Pure: bytes in, bytes out; the stores live with their clients.
//!
//! ```text
//! {venue}/{symbol}/bars-{timeframe}/{YYYY-MM-DD}.twb     closed bars  (columnar, .twb)
//! {venue}/{symbol}/trades/{YYYY-MM-DD}.twt               trade prints (columnar, .twt)
//! ```
//!
//! - **Bars** are a [`columnar`](super::columnar) `.twb` file as it is: the backtest's
//!   fast format, so an archived day is streamed without conversion.
//! - **Trades** (`.twt`) use the same block format with another magic and four columns
//!   instead of six: `ts`, `price`, `size`, `aggressor` (0 buy, 1 sell). Trades arrive
//!   nanoseconds apart at prices a few ticks apart, so the delta + zig-zag + bit-packing
//!   of `.twb` stores a trade in a few bytes (JSON lines take ~80), every block is
//!   checksummed, and one decoder family reads both. Header, block and trailer are
//!   byte for byte those of `.twb` (`bars` counts trades) except the magic
//!   `TWTRADE\n` and the column count.
//!
//! A day's file holds only records of that day (`[00:00, 24:00)` UTC): a record outside
//! it, a damaged file or a missing day is an error naming the day, never a gap.

use std::fmt;

use super::columnar::{
    self, BarsReader, BarsWriter, ColumnarError, block_seed, checksum, column_words, encode_column,
    step, unzigzag,
};
use super::time::{civil_from_days, days_from_civil};
use super::{Bar, Side, Trade, UnixNanos};
use crate::fixed::{Price, Quantity};

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// First bytes of a trades file.
pub const TRADES_MAGIC: [u8; 8] = *b"TWTRADE\n";
const TRADE_COLUMNS: usize = 4;
const BLOCK_TAG: [u8; 4] = *b"WBLK";
const END_TAG: [u8; 4] = *b"WEND";

/// Why an archive name, day or file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A day is not `YYYY-MM-DD`.
    #[error("{field}: {value:?} is not a date (YYYY-MM-DD)")]
    BadDay {
        /// Which input.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// A venue or symbol that cannot be part of a path.
    #[error("{field}: {value:?} must be 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadName {
        /// Which name.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// A day's file is damaged or holds records of another day.
    #[error("day {day} ({key}): {reason}")]
    Corrupt {
        /// The day.
        day: Day,
        /// The file's key in the archive.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Writing a day failed (a record the format cannot hold).
    #[error("day {day}: cannot write: {reason}")]
    Write {
        /// The day.
        day: Day,
        /// Why.
        reason: String,
    },
}

/// A UTC calendar day, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    /// Parses `YYYY-MM-DD` (named `field` in the error).
    pub fn parse(field: &'static str, value: &str) -> Result<Self, ArchiveError> {
        let bad = || ArchiveError::BadDay {
            field,
            value: value.to_owned(),
        };
        let b = value.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
        let (y, m, d) = (num(&value[..4])?, num(&value[5..7])?, num(&value[8..])?);
        let day = Self(days_from_civil(i64::from(y), m, d));
        // Round-trips only for a real date (2026-02-30 would land in March).
        if !(1..=12).contains(&m) || day.to_string() != value {
            return Err(bad());
        }
        Ok(day)
    }

    /// The day holding `ts`.
    pub fn of(ts: UnixNanos) -> Self {
        Self(ts.div_euclid(NANOS_PER_DAY))
    }

    /// 00:00 UTC of the day, ns since the epoch.
    pub fn start(self) -> UnixNanos {
        self.0 * NANOS_PER_DAY
    }

    /// 00:00 UTC of the next day (exclusive end).
    pub fn end(self) -> UnixNanos {
        (self.0 + 1) * NANOS_PER_DAY
    }

    /// The following day.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// Which records an archive file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Closed bars of this many seconds.
    Bars {
        /// Bar length.
        timeframe_secs: u64,
    },
    /// Trade prints.
    Trades,
}

/// `60` → `1m`, `3600` → `1h`, `86400` → `1d`, else seconds (`90s`).
pub fn timeframe_label(secs: u64) -> String {
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Checks a venue or symbol is safe as a path segment and a blob name part.
pub fn check_name(field: &'static str, value: &str) -> Result<(), ArchiveError> {
    let ok = (1..=64).contains(&value.len())
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ArchiveError::BadName {
            field,
            value: value.to_owned(),
        })
    }
}

/// The file's key (a relative path with `/`) for a day of a stream.
pub fn day_key(venue: &str, symbol: &str, stream: Stream, day: Day) -> String {
    match stream {
        Stream::Bars { timeframe_secs } => format!(
            "{venue}/{symbol}/bars-{}/{day}.twb",
            timeframe_label(timeframe_secs)
        ),
        Stream::Trades => format!("{venue}/{symbol}/trades/{day}.twt"),
    }
}

fn write_err(day: Day, e: impl fmt::Display) -> ArchiveError {
    ArchiveError::Write {
        day,
        reason: e.to_string(),
    }
}

fn corrupt(day: Day, key: &str, reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt {
        day,
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// Encodes a day of bars (time order, every bar in `day`) as a `.twb` file at the given
/// decimals.
pub fn encode_bars(
    day: Day,
    bars: &[Bar],
    price_precision: u8,
    size_precision: u8,
) -> Result<Vec<u8>, ArchiveError> {
    if let Some(b) = bars.iter().find(|b| Day::of(b.ts) != day) {
        return Err(write_err(
            day,
            format!("a bar at {} ns belongs to day {}", b.ts, Day::of(b.ts)),
        ));
    }
    let mut w = BarsWriter::new(
        Vec::new(),
        &day.to_string(),
        price_precision,
        size_precision,
        columnar::DEFAULT_BLOCK_BARS,
    )
    .map_err(|e| write_err(day, e))?;
    for b in bars {
        w.push(b).map_err(|e| write_err(day, e))?;
    }
    Ok(w.finish().map_err(|e| write_err(day, e))?.0)
}

/// A decoded day of bars and the decimals its file was written at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BarsDay {
    /// The bars, in time order.
    pub bars: Vec<Bar>,
    /// Decimals of the prices.
    pub price_precision: u8,
    /// Decimals of the volumes.
    pub size_precision: u8,
}

/// Decodes and checks a day's `.twb` file (`key` names it in errors).
pub fn decode_bars(day: Day, key: &str, bytes: &[u8]) -> Result<BarsDay, ArchiveError> {
    let fail = |e: ColumnarError| corrupt(day, key, format!("byte {}: {}", e.offset, e.reason));
    let mut r = BarsReader::new(bytes, key).map_err(fail)?;
    let mut out = BarsDay {
        bars: Vec::new(),
        price_precision: r.price_precision(),
        size_precision: r.size_precision(),
    };
    let mut block = Vec::new();
    while r.next_block(&mut block).map_err(fail)? {
        out.bars.extend_from_slice(&block);
    }
    if let Some(b) = out.bars.iter().find(|b| Day::of(b.ts) != day) {
        return Err(corrupt(
            day,
            key,
            format!("holds a bar of day {} ({} ns)", Day::of(b.ts), b.ts),
        ));
    }
    Ok(out)
}

/// Encodes a day of trades (time order, every trade in `day`) as a `.twt` file.
pub fn encode_trades(
    day: Day,
    trades: &[Trade],
    price_precision: u8,
    size_precision: u8,
) -> Result<Vec<u8>, ArchiveError> {
    if price_precision > 9 || size_precision > 9 {
        return Err(write_err(day, "precision above 9 decimals"));
    }
    let (ps, ss) = (step(price_precision), step(size_precision));
    let mut out = Vec::with_capacity(64 + trades.len() * 8);
    out.extend_from_slice(&TRADES_MAGIC);
    out.extend_from_slice(&columnar::VERSION.to_le_bytes());
    out.push(price_precision);
    out.push(size_precision);
    out.extend_from_slice(&columnar::DEFAULT_BLOCK_BARS.to_le_bytes());
    let sum = checksum(0, &out);
    out.extend_from_slice(&sum.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    let mut sums = Vec::new();
    let mut cols: [Vec<i64>; TRADE_COLUMNS] = Default::default();
    let mut payload = Vec::new();
    let mut last = UnixNanos::MIN;
    for chunk in trades.chunks(columnar::DEFAULT_BLOCK_BARS as usize) {
        cols.iter_mut().for_each(Vec::clear);
        for t in chunk {
            if Day::of(t.ts) != day {
                return Err(write_err(
                    day,
                    format!("a trade at {} ns belongs to day {}", t.ts, Day::of(t.ts)),
                ));
            }
            if t.ts < last {
                return Err(write_err(
                    day,
                    format!("trade at {} ns goes back in time", t.ts),
                ));
            }
            last = t.ts;
            if t.price.raw() % ps != 0 || t.size.raw() % ss as u64 != 0 {
                return Err(write_err(
                    day,
                    format!(
                        "trade at {} ns has more decimals than the file's ({} {})",
                        t.ts, t.price, t.size
                    ),
                ));
            }
            cols[0].push(t.ts);
            cols[1].push(t.price.raw() / ps);
            cols[2].push((t.size.raw() / ss as u64) as i64);
            cols[3].push(i64::from(t.aggressor == Side::Sell));
        }
        payload.clear();
        for c in &cols {
            encode_column(c, &mut payload);
        }
        let sum = checksum(block_seed(chunk.len(), payload.len()), &payload);
        out.extend_from_slice(&BLOCK_TAG);
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&sum.to_le_bytes());
        out.extend_from_slice(&payload);
        sums.extend_from_slice(&sum.to_le_bytes());
    }
    let total = trades.len() as u64;
    out.extend_from_slice(&END_TAG);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&checksum(total, &sums).to_le_bytes());
    Ok(out)
}

/// Decodes and checks a day's `.twt` file (`key` names it in errors).
pub fn decode_trades(day: Day, key: &str, bytes: &[u8]) -> Result<Vec<Trade>, ArchiveError> {
    let bad = |at: usize, reason: &str| corrupt(day, key, format!("byte {at}: {reason}"));
    let u32_at = |i: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(i..i + 4)?.try_into().ok()?))
    };
    let u64_at = |i: usize| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(i..i + 8)?.try_into().ok()?))
    };
    if bytes.len() < 32 {
        return Err(bad(
            bytes.len(),
            "truncated: the file ends inside the header",
        ));
    }
    if bytes[..8] != TRADES_MAGIC {
        return Err(bad(0, "not a Tradewind trades file (bad magic)"));
    }
    if u16::from_le_bytes([bytes[8], bytes[9]]) != columnar::VERSION {
        return Err(bad(8, "unsupported version"));
    }
    let (pp, sp) = (bytes[10], bytes[11]);
    if pp > 9 || sp > 9 {
        return Err(bad(10, "precision above 9 decimals"));
    }
    let capacity = u32_at(12).unwrap_or(0);
    if capacity == 0 || capacity > columnar::MAX_BLOCK_BARS {
        return Err(bad(12, "block capacity out of range"));
    }
    if u64_at(16) != Some(checksum(0, &bytes[..16])) || bytes[24..32].iter().any(|b| *b != 0) {
        return Err(bad(16, "header checksum does not match"));
    }
    let (ps, ss) = (step(pp), step(sp) as u64);
    let mut pos = 32;
    let mut sums = Vec::new();
    let mut trades = Vec::new();
    let mut last = UnixNanos::MIN;
    loop {
        let at = pos;
        let head = bytes.get(pos..pos + 24).ok_or_else(|| {
            bad(
                pos,
                "truncated: the file ends inside a block header or the trailer",
            )
        })?;
        pos += 24;
        let (n, len, sum) = (
            u32_at(at + 4).unwrap_or(0) as usize,
            u32_at(at + 8).unwrap_or(0) as usize,
            u64_at(at + 16).unwrap_or(0),
        );
        if head[..4] == END_TAG {
            if n != 0 || u64_at(at + 8) != Some(trades.len() as u64) {
                return Err(bad(
                    at + 8,
                    "the trailer's count is not the number of trades",
                ));
            }
            if sum != checksum(trades.len() as u64, &sums) {
                return Err(bad(at + 16, "trailer checksum does not match the blocks"));
            }
            if pos != bytes.len() {
                return Err(bad(pos, "data after the trailer"));
            }
            break;
        }
        if head[..4] != BLOCK_TAG || n == 0 || n > capacity as usize || u32_at(at + 12) != Some(0) {
            return Err(bad(at, "expected a block or the trailer"));
        }
        if len > TRADE_COLUMNS * (16 + 8 * column_words(n, 64)) {
            return Err(bad(at + 8, "impossible block length"));
        }
        let payload = bytes
            .get(pos..pos + len)
            .ok_or_else(|| bad(pos, "truncated: the file ends inside a block"))?;
        if checksum(block_seed(n, len), payload) != sum {
            return Err(bad(at + 16, "block checksum does not match its data"));
        }
        pos += len;
        let mut cols: [Vec<i64>; TRADE_COLUMNS] = Default::default();
        let mut p = 0;
        for col in &mut cols {
            p = decode_column(payload, p, n, col).ok_or_else(|| bad(at + 24 + p, "bad column"))?;
        }
        if p != len {
            return Err(bad(at + 24 + p, "block payload longer than its columns"));
        }
        let [c_ts, c_price, c_size, c_side] = &cols;
        let rows = c_ts.iter().zip(c_price).zip(c_size).zip(c_side);
        for (i, (((&ts, &raw_price), &raw_size), &side)) in rows.enumerate() {
            let price = raw_price.checked_mul(ps).map(|r| Price::from_raw(r, pp));
            let size = u64::try_from(raw_size)
                .ok()
                .and_then(|s| s.checked_mul(ss))
                .map(|r| Quantity::from_raw(r, sp));
            let (Some(Ok(price)), Some(Ok(size)), 0 | 1) = (price, size, side) else {
                return Err(bad(at, &format!("trade {i} of the block is out of range")));
            };
            if ts < last {
                return Err(bad(
                    at,
                    &format!("trade {i} of the block goes back in time"),
                ));
            }
            last = ts;
            if Day::of(ts) != day {
                return Err(corrupt(
                    day,
                    key,
                    format!("holds a trade of day {} ({ts} ns)", Day::of(ts)),
                ));
            }
            trades.push(Trade {
                ts,
                price,
                size,
                aggressor: if side == 1 { Side::Sell } else { Side::Buy },
            });
        }
        sums.extend_from_slice(&sum.to_le_bytes());
    }
    Ok(trades)
}

/// Decodes one column of `n` values at `pos`; the position after it, `None` if it does
/// not fit.
fn decode_column(payload: &[u8], pos: usize, n: usize, out: &mut Vec<i64>) -> Option<usize> {
    let head = payload.get(pos..pos + 16)?;
    let mut v = i64::from_le_bytes(head[..8].try_into().ok()?);
    let width = u32::from(head[8]);
    if width > 64 || head[9..].iter().any(|b| *b != 0) {
        return None;
    }
    let words = column_words(n, width);
    let data = payload.get(pos + 16..pos + 16 + words * 8)?;
    out.push(v);
    let mask = if width == 0 {
        0
    } else {
        u64::MAX >> (64 - width)
    };
    let word = |at: usize| {
        data.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let mut bit = 0usize;
    for _ in 1..n {
        let (at, off) = ((bit >> 6) << 3, (bit & 63) as u32);
        // Bits above the word come from the next one (no shift by 64).
        let z = ((word(at) >> off) | ((word(at + 8) << 1) << (63 - off))) & mask;
        bit += width as usize;
        v = v.wrapping_add(unzigzag(z));
        out.push(v);
    }
    Some(pos + 16 + words * 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Day {
        Day::parse("from", "2026-01-02").unwrap()
    }

    fn trades(n: usize) -> Vec<Trade> {
        (0..n)
            .map(|i| Trade {
                ts: day().start() + i as i64 * 1_000_003,
                price: Price::from_raw(50_000_000_000_000 + (i as i64 % 7) * 10_000_000, 2)
                    .unwrap(),
                size: Quantity::from_raw(1_000 * (i as u64 % 13 + 1) * 1_000, 6).unwrap(),
                aggressor: if i % 3 == 0 { Side::Sell } else { Side::Buy },
            })
            .collect()
    }

    #[test]
    fn days_parse_print_and_bound() {
        let d = day();
        assert_eq!(d.to_string(), "2026-01-02");
        assert_eq!(Day::of(d.start()), d);
        assert_eq!(Day::of(d.end() - 1), d);
        assert_eq!(Day::of(d.end()), d.next());
        for bad in ["2026-02-30", "2026-13-01", "2026-1-01", "yesterday"] {
            let e = Day::parse("to", bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("to: {bad:?} is not a date (YYYY-MM-DD)")
            );
        }
        assert_eq!(
            day_key(
                "binance-spot",
                "BTCUSDT",
                Stream::Bars { timeframe_secs: 60 },
                d
            ),
            "binance-spot/BTCUSDT/bars-1m/2026-01-02.twb"
        );
        assert_eq!(
            day_key("binance-spot", "BTCUSDT", Stream::Trades, d),
            "binance-spot/BTCUSDT/trades/2026-01-02.twt"
        );
        assert!(check_name("symbol", "../etc").is_err());
        assert!(check_name("symbol", "BTC/USDT").is_err());
        check_name("venue", "binance-spot").unwrap();
    }

    #[test]
    fn trades_round_trip_across_blocks_and_are_compact() {
        let t = trades(10_000);
        let bytes = encode_trades(day(), &t, 2, 3).unwrap();
        assert!(bytes.len() < t.len() * 8, "{} bytes", bytes.len());
        assert_eq!(decode_trades(day(), "k", &bytes).unwrap(), t);
        let empty = encode_trades(day(), &[], 2, 3).unwrap();
        assert!(decode_trades(day(), "k", &empty).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_trades_file_names_its_day() {
        let bytes = encode_trades(day(), &trades(500), 2, 3).unwrap();
        for i in [0, 20, 40, 100, bytes.len() - 10] {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            let e = decode_trades(day(), "v/s/trades/2026-01-02.twt", &b).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("day 2026-01-02 (v/s/trades/2026-01-02.twt): byte "),
                "{e}"
            );
        }
        let e = decode_trades(day(), "k", &bytes[..bytes.len() - 1]).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        // A whole, valid file of another day is refused too.
        let e = decode_trades(day().next(), "k", &bytes).unwrap_err();
        assert!(
            e.to_string().contains("holds a trade of day 2026-01-02"),
            "{e}"
        );
    }

    #[test]
    fn bars_days_hold_only_their_day() {
        let p = |r: i64| Price::from_raw(r * 10_000_000, 2).unwrap();
        let bar = |ts| Bar {
            ts,
            open: p(100),
            high: p(102),
            low: p(99),
            close: p(101),
            volume: Quantity::from_raw(5_000_000_000, 3).unwrap(),
        };
        let bars: Vec<Bar> = (0..1440)
            .map(|m| bar(day().start() + m * 60_000_000_000))
            .collect();
        let bytes = encode_bars(day(), &bars, 2, 3).unwrap();
        let back = decode_bars(day(), "k", &bytes).unwrap();
        assert_eq!(
            (back.bars, back.price_precision, back.size_precision),
            (bars.clone(), 2, 3)
        );
        let e = encode_bars(day().next(), &bars, 2, 3).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("day 2026-01-03: cannot write: a bar at"),
            "{e}"
        );
        let e = decode_bars(day().next(), "k", &bytes).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "day 2026-01-03 (k): holds a bar of day 2026-01-02 ({} ns)",
                day().start()
            )
        );
        let mut b = bytes.clone();
        b[60] ^= 1;
        let e = decode_bars(day(), "k", &b).unwrap_err();
        assert!(
            e.to_string().starts_with("day 2026-01-02 (k): byte "),
            "{e}"
        );
    }
}
