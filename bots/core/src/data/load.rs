//! Loaders: text in, typed market data out. No file access here; callers pass the
//! contents (`&str`) or any [`BufRead`] plus a source name used in error messages.
//!
//! Common rules:
//! - A bad row is an error naming the source, the 1-based line number and the reason;
//!   no row is ever skipped. Only lines that are empty or all whitespace are passed
//!   over, since they carry no data.
//! - Timestamps must be non-decreasing (equal timestamps are allowed).
//! - Bars must satisfy `low <= open, close <= high`.
//! - Decimals are parsed exactly (never rounded). After loading, every price in the
//!   result carries the largest number of decimals seen in the file's prices, and every
//!   size the largest seen in its sizes, so the series has one precision throughout.
//!
//! Formats:
//! - [`ohlcv_csv`]: generic OHLCV CSV, see its docs for header detection;
//! - [`binance_klines`]: Binance kline CSV (12 columns, no header);
//! - [`l1_jsonl`]: Tradewind's trade/quote JSON Lines schema.

use std::io::BufRead;

use serde::Deserialize;

use super::time::{parse_epoch_int, parse_iso8601, parse_timestamp};
use super::{Bar, Quote, Side, Trade, UnixNanos};
use crate::fixed::{Price, Quantity};

/// A row or file that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: {reason}")]
pub struct LoadError {
    /// Name of the input given by the caller (usually the file path).
    pub source_name: String,
    /// 1-based line number (0 when the problem is the input as a whole).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

fn load_err(source: &str, line: usize, reason: impl Into<String>) -> LoadError {
    LoadError {
        source_name: source.to_owned(),
        line,
        reason: reason.into(),
    }
}

/// Walks lines with their 1-based numbers, turning I/O and UTF-8 failures into
/// [`LoadError`]s. A line is handed out where the reader's buffer holds it (copied only
/// when it straddles two reads): no allocation and no copy per line.
struct Lines<R> {
    source: std::sync::Arc<str>,
    reader: R,
    /// A line that straddled the reader's buffer.
    buf: Vec<u8>,
    line: usize,
    /// Bytes of the reader's buffer handed out last, consumed on the next call.
    consume: usize,
}

/// Position of the first `\n` in `bytes`, eight bytes at a time.
#[inline]
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for c in chunks.by_ref() {
        let x = u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) ^ (LO * u64::from(b'\n'));
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| base + i)
}

impl<R: BufRead> Lines<R> {
    fn new(source: &str, reader: R) -> Self {
        Self {
            source: source.into(),
            reader,
            buf: Vec::new(),
            line: 0,
            consume: 0,
        }
    }

    fn err(&self, line: usize, reason: impl Into<String>) -> LoadError {
        load_err(&self.source, line, reason)
    }

    /// Moves to the next line; `Ok(false)` at the end of the input.
    #[inline]
    fn advance(&mut self) -> Result<bool, LoadError> {
        if self.consume > 0 {
            self.reader.consume(self.consume);
            self.consume = 0;
        }
        self.line += 1;
        let found = match self.reader.fill_buf() {
            Ok([]) => return Ok(false),
            Ok(avail) => find_newline(avail),
            Err(e) => return Err(self.err(self.line, format!("cannot read: {e}"))),
        };
        match found {
            // Handed out from the reader's buffer, consumed on the next call.
            Some(i) => self.consume = i + 1,
            None => {
                // The line straddles two reads (or ends the input): copy it.
                self.buf.clear();
                if let Err(e) = self.reader.read_until(b'\n', &mut self.buf) {
                    return Err(self.err(self.line, format!("cannot read: {e}")));
                }
            }
        }
        Ok(true)
    }

    /// Offers the reader's unread bytes to `parse`, which returns its result and the
    /// length of the row it read, line ending included; that row then counts as the next
    /// line. On `None` nothing is consumed and the line-by-line path reads the row.
    #[inline]
    fn take_row<T>(
        &mut self,
        parse: impl FnOnce(&[u8]) -> Option<(T, usize)>,
    ) -> Result<Option<T>, LoadError> {
        if self.consume > 0 {
            self.reader.consume(self.consume);
            self.consume = 0;
        }
        let avail = match self.reader.fill_buf() {
            Ok(avail) => avail,
            Err(e) => return Err(self.err(self.line + 1, format!("cannot read: {e}"))),
        };
        Ok(parse(avail).map(|(row, used)| {
            self.line += 1;
            self.consume = used;
            row
        }))
    }

    /// The line [`Lines::advance`] moved to, without its `\n` and one `\r` before it.
    #[inline]
    fn current(&mut self) -> Result<&[u8], LoadError> {
        let line = if self.consume > 0 {
            // The same buffer again: nothing was consumed, so nothing is read.
            match self.reader.fill_buf() {
                Ok(avail) => &avail[..self.consume - 1],
                Err(e) => {
                    return Err(load_err(
                        &self.source,
                        self.line,
                        format!("cannot read: {e}"),
                    ));
                }
            }
        } else {
            let end = self.buf.len() - usize::from(self.buf.last() == Some(&b'\n'));
            &self.buf[..end]
        };
        Ok(line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// Next non-blank line (trimmed of the line ending and surrounding whitespace).
    fn next_line(&mut self) -> Result<Option<(usize, &str)>, LoadError> {
        // Find the line first, then borrow it once (a borrow returned from inside the
        // loop would have to outlive every iteration).
        let (start, len) = loop {
            if !self.advance()? {
                return Ok(None);
            }
            let n = self.line;
            let raw = self.current()?;
            match line_text(n, raw) {
                Ok(Some(text)) => {
                    break (text.as_ptr() as usize - raw.as_ptr() as usize, text.len());
                }
                Ok(None) => {}
                Err(reason) => return Err(self.err(n, reason)),
            }
        };
        let n = self.line;
        let source = std::sync::Arc::clone(&self.source);
        let raw = self.current()?;
        match std::str::from_utf8(&raw[start..start + len]) {
            Ok(text) => Ok(Some((n, text))),
            // Checked above already; never reached.
            Err(_) => Err(load_err(&source, n, NOT_UTF8)),
        }
    }
}

/// The words `BufRead::read_line` uses for a line that is not UTF-8.
const NOT_UTF8: &str = "cannot read: stream did not contain valid UTF-8";

/// A raw line as text: a UTF-8 byte-order mark dropped on line 1, checked as UTF-8 and
/// trimmed; `None` if blank; `Err` with the reason if it is not UTF-8.
fn line_text(n: usize, raw: &[u8]) -> Result<Option<&str>, &'static str> {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(NOT_UTF8);
    };
    let text = if n == 1 {
        text.strip_prefix('\u{feff}').unwrap_or(text)
    } else {
        text
    };
    let text = text.trim();
    Ok((!text.is_empty()).then_some(text))
}

/// Split a CSV line on commas, trimming whitespace and one pair of surrounding quotes,
/// into `out` (reused between lines). Quoted fields containing commas are not supported
/// (market data never needs them).
fn split_csv<'a>(line: &'a str, out: &mut Vec<&'a str>) {
    out.clear();
    out.extend(line.split(',').map(|f| {
        let f = f.trim();
        f.strip_prefix('"')
            .and_then(|g| g.strip_suffix('"'))
            .unwrap_or(f)
    }));
}

/// The widest precision of a series' prices and sizes: after loading, every value is
/// re-tagged with it so the series has one precision throughout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeriesPrecision {
    /// Decimals of prices.
    pub price: u8,
    /// Decimals of sizes (volumes, trade and quote sizes).
    pub size: u8,
}

impl SeriesPrecision {
    fn note_price(&mut self, p: Price) -> Price {
        self.price = self.price.max(p.precision());
        p
    }
    fn note_size(&mut self, q: Quantity) -> Quantity {
        self.size = self.size.max(q.precision());
        q
    }
    // Raising precision never hides digits: a multiple of 10^(9 − p) is one of
    // 10^(9 − q) for q ≥ p, so no check (and no division) is needed. Lowering it (a
    // value with more decimals than the series, never after a whole-file scan) goes
    // through the checked path; keep the value if that fails rather than panic.
    #[inline]
    fn p(&self, p: Price) -> Price {
        if p.precision() <= self.price && self.price <= 9 {
            Price::from_raw_unchecked(p.raw(), self.price)
        } else {
            p.with_precision(self.price).unwrap_or(p)
        }
    }
    #[inline]
    fn q(&self, q: Quantity) -> Quantity {
        if q.precision() <= self.size && self.size <= 9 {
            Quantity::from_raw_unchecked(q.raw(), self.size)
        } else {
            q.with_precision(self.size).unwrap_or(q)
        }
    }

    /// The bar with every price and its volume at this precision.
    pub fn bar(&self, b: Bar) -> Bar {
        Bar {
            open: self.p(b.open),
            high: self.p(b.high),
            low: self.p(b.low),
            close: self.p(b.close),
            volume: self.q(b.volume),
            ..b
        }
    }

    /// The event with its prices and sizes at this precision.
    pub fn event(&self, ev: L1Event) -> L1Event {
        match ev {
            L1Event::Trade(t) => L1Event::Trade(Trade {
                price: self.p(t.price),
                size: self.q(t.size),
                ..t
            }),
            L1Event::Quote(q) => L1Event::Quote(Quote {
                bid: self.p(q.bid),
                bid_size: self.q(q.bid_size),
                ask: self.p(q.ask),
                ask_size: self.q(q.ask_size),
                ..q
            }),
        }
    }
}

/// Checks that timestamps never go backwards.
struct Monotonic(Option<UnixNanos>);

impl Monotonic {
    fn check(&mut self, ts: UnixNanos) -> Result<(), String> {
        if let Some(prev) = self.0
            && ts < prev
        {
            return Err(format!(
                "timestamp {ts} ns is before the previous row's {prev} ns"
            ));
        }
        self.0 = Some(ts);
        Ok(())
    }
}

fn field<'a>(fields: &[&'a str], idx: usize, name: &str) -> Result<&'a str, String> {
    fields
        .get(idx)
        .copied()
        .ok_or_else(|| format!("missing column {name}"))
}

/// `digits[.digits]` with at most 9 decimals and a value below 2^63 nano-units, straight
/// to (nano-units, decimals written); anything else (signs, exponents, more digits,
/// errors) is `None` and goes through the full parser, which also words the errors.
#[inline]
fn plain_decimal(text: &[u8]) -> Option<(u64, u8)> {
    let mut int: u64 = 0;
    let mut i = 0;
    // 10 integer digits keep int × 10^9 below 2^63.
    while i < text.len() && text[i].is_ascii_digit() {
        if i == 10 {
            return None;
        }
        int = int * 10 + u64::from(text[i] - b'0');
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut frac: u64 = 0;
    let mut written: u8 = 0;
    if i < text.len() {
        if text[i] != b'.' {
            return None;
        }
        i += 1;
        let digits = &text[i..];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        for &b in digits {
            if !b.is_ascii_digit() {
                return None;
            }
            frac = frac * 10 + u64::from(b - b'0');
        }
        written = digits.len() as u8;
    }
    let raw = int
        .checked_mul(1_000_000_000)?
        .checked_add(frac * crate::fixed::POW10[9 - usize::from(written)])?;
    (raw <= i64::MAX as u64).then_some((raw, written))
}

fn price(text: &str, name: &str, pr: &mut SeriesPrecision) -> Result<Price, String> {
    // Same value and precision as `str::parse::<Price>` (precision = decimals written).
    if let Some((raw, written)) = plain_decimal(text.as_bytes())
        && raw > 0
        && let Ok(p) = Price::from_raw(raw as i64, written)
    {
        return Ok(pr.note_price(p));
    }
    let p = text
        .parse::<Price>()
        .map_err(|e| format!("column {name}: {e}"))?;
    // A zero or negative price is a damaged row, never a market: refused, not traded on.
    if !p.is_positive() {
        return Err(format!("column {name}: {p} is not a positive price"));
    }
    Ok(pr.note_price(p))
}

fn size(text: &str, name: &str, pr: &mut SeriesPrecision) -> Result<Quantity, String> {
    if let Some((raw, written)) = plain_decimal(text.as_bytes())
        && let Ok(q) = Quantity::from_raw(raw, written)
    {
        return Ok(pr.note_size(q));
    }
    text.parse::<Quantity>()
        .map(|q| pr.note_size(q))
        .map_err(|e| format!("column {name}: {e}"))
}

/// Integer epochs of 9 to 18 digits (the common case) in the units of
/// [`parse_timestamp`], without the generic parser; `None` for anything else.
#[inline]
fn plain_epoch(b: &[u8]) -> Option<UnixNanos> {
    if !(9..=18).contains(&b.len()) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(d - b'0');
    }
    epoch_in_units(v, b.len())
}

/// An epoch of `digits` (9..=18) digits worth `v`, to nanoseconds by its magnitude (the
/// units of `parse_epoch_auto`); `None` outside them (the generic parser words why).
#[inline(always)]
fn epoch_in_units(v: u64, digits: usize) -> Option<UnixNanos> {
    if !(9..=18).contains(&digits) {
        return None;
    }
    // At most 18 digits: below 10^18 < 2^63.
    let v = v as i64;
    if v < 100_000_000_000 {
        v.checked_mul(1_000_000_000)
    } else if v < 100_000_000_000_000 {
        v.checked_mul(1_000_000)
    } else if v < 100_000_000_000_000_000 {
        v.checked_mul(1_000)
    } else {
        Some(v)
    }
}

fn timestamp(text: &str) -> Result<UnixNanos, String> {
    if let Some(ns) = plain_epoch(text.as_bytes()) {
        return Ok(ns);
    }
    parse_timestamp(text).map_err(|e| format!("column timestamp: {e}"))
}

/// What a column of an OHLCV row is, for [`plain_row_at`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Skip,
    Ts,
    /// Open, high, low, close.
    Price(usize),
    Volume,
}

/// Digits from `at`: (value, position after them); at most `max` digits.
#[inline(always)]
fn take_digits(b: &[u8], at: usize, max: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut j = at;
    while let Some(&c) = b.get(j) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v * 10 + u64::from(d);
        j += 1;
        if j - at > max {
            return None;
        }
    }
    (j > at).then_some((v, j))
}

/// Eight bytes of `b` from `at` as a little-endian word; past the end reads as zero
/// bytes (never digits, never a separator).
#[inline(always)]
fn word_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    match b.get(at..at + 8) {
        Some(s) => w.copy_from_slice(s),
        None => {
            let tail = b.get(at..).unwrap_or(&[]);
            w[..tail.len()].copy_from_slice(tail);
        }
    }
    u64::from_le_bytes(w)
}

/// The leading ASCII digits of a word (first byte first): each byte minus `'0'`, and
/// how many of the bytes from the first are digits (0..=8). Bytes after the first
/// non-digit are garbage.
#[inline(always)]
fn digit_run(word: u64) -> (u64, u32) {
    let d = word.wrapping_sub(0x3030_3030_3030_3030);
    // A byte is not a digit if it went below '0' (high bit set by the borrow) or is
    // above '9' (adding 0x76 reaches the high bit). Borrows and carries only move
    // towards later bytes, so the first non-digit is found exactly.
    let not_digit = (d | d.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080;
    (d, not_digit.trailing_zeros() / 8)
}

/// The number written by the first `k` (1..=8) digit values of `d` (first byte most
/// significant): three multiplications instead of eight.
#[inline(always)]
fn swar_value(d: u64, k: u32) -> u64 {
    // The digits to the top bytes, zeros (leading zeros) below them.
    let v = d << (64 - 8 * k);
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_ffff_0000_ffff;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xffff_ffff
}

/// Digits from `at`, eight at a time: (value, position after them); `None` if there are
/// none or more than `max` (at most 18, so the value fits).
#[inline(always)]
fn swar_digits(b: &[u8], at: usize, max: u32) -> Option<(u64, usize)> {
    let (d, k) = digit_run(word_at(b, at));
    if k < 8 {
        return (k > 0).then(|| (swar_value(d, k), at + k as usize));
    }
    let mut v = swar_value(d, 8);
    let (d2, k2) = digit_run(word_at(b, at + 8));
    if k2 == 8 {
        // 16 digits or more: rare; byte by byte from here.
        v = v * 100_000_000 + swar_value(d2, 8);
        let (rest, end) = take_digits(b, at + 16, 2).unwrap_or((0, at + 16));
        let n = (end - at) as u32;
        if n > max || b.get(end).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        return Some((v * crate::fixed::POW10[(n - 16) as usize] + rest, end));
    }
    if 8 + k2 > max {
        return None;
    }
    if k2 > 0 {
        v = v * crate::fixed::POW10[k2 as usize] + swar_value(d2, k2);
    }
    Some((v, at + 8 + k2 as usize))
}

/// What ends the field at `at`: `Some(next field)` after a comma when more fields
/// follow, `Some(next row)` after `\n` or `\r\n` for the last field.
#[inline(always)]
fn field_end(b: &[u8], at: usize, last: bool) -> Option<usize> {
    match (b.get(at), last) {
        (Some(b','), false) => Some(at + 1),
        (Some(b'\n'), true) => Some(at + 1),
        (Some(b'\r'), true) if b.get(at + 1) == Some(&b'\n') => Some(at + 2),
        _ => None,
    }
}

/// A plain decimal (as [`plain_decimal`]) at `at`: (nano-units, decimals, end).
#[inline(always)]
fn swar_decimal(b: &[u8], at: usize) -> Option<(u64, u8, usize)> {
    let (int, mut j) = swar_digits(b, at, 10)?;
    let (mut frac, mut written) = (0u64, 0u32);
    if b.get(j) == Some(&b'.') {
        let (d, k) = digit_run(word_at(b, j + 1));
        if k == 8 {
            let (f, end) = take_digits(b, j + 1, 9)?;
            (frac, written) = (f, (end - j - 1) as u32);
        } else if k > 0 {
            (frac, written) = (swar_value(d, k), k);
        } else {
            return None;
        }
        j += 1 + written as usize;
    }
    let raw = int * 1_000_000_000 + frac * crate::fixed::POW10[9 - written as usize];
    (raw <= i64::MAX as u64).then_some((raw, written as u8, j))
}

/// A row's time, open/high/low/close and volume.
type PlainRow = (UnixNanos, [Price; 4], Quantity);

/// One row of plain fields at the start of `b` (the reader's unread bytes), ended by
/// `\n` or `\r\n`: the values and the row's length. `None` for anything else — a row
/// with spaces, quotes, signs or ISO times, a blank line, or a row the buffer does not
/// hold whole — which the line-by-line parser then reads (same values, worded errors).
#[inline]
fn plain_row_at(b: &[u8], roles: &[Role], pr: &mut SeriesPrecision) -> Option<(PlainRow, usize)> {
    let mut ts = None;
    let mut prices = [Price::ZERO; 4];
    let mut volume = Quantity::ZERO;
    let (mut price_dp, mut size_dp) = (pr.price, pr.size);
    let mut at = 0usize;
    let last = roles.len().wrapping_sub(1);
    for (i, role) in roles.iter().enumerate() {
        let end = match *role {
            Role::Skip => {
                let rest = b.get(at..)?;
                at + rest.iter().position(|&c| c == b',' || c == b'\n')?
            }
            Role::Ts => {
                let (v, end) = swar_digits(b, at, 18)?;
                ts = Some(epoch_in_units(v, end - at)?);
                end
            }
            Role::Price(k) => {
                let (nanos, written, end) = swar_decimal(b, at)?;
                if nanos == 0 {
                    return None; // a zero price: the general parser refuses it, worded
                }
                // A multiple of 10^(9 - written) below 2^63 by construction.
                prices[k] = Price::from_raw_unchecked(nanos as i64, written);
                price_dp = price_dp.max(written);
                end
            }
            Role::Volume => {
                let (nanos, written, end) = swar_decimal(b, at)?;
                volume = Quantity::from_raw_unchecked(nanos, written);
                size_dp = size_dp.max(written);
                end
            }
        };
        at = field_end(b, end, i == last)?;
    }
    (pr.price, pr.size) = (price_dp, size_dp);
    Some(((ts?, prices, volume), at))
}

/// Column positions of a generic OHLCV file.
struct Columns {
    ts: usize,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: Option<usize>,
    width: usize,
}

impl Columns {
    fn roles(&self) -> Vec<Role> {
        let mut roles = vec![Role::Skip; self.width];
        let mut set = |i: usize, r: Role| {
            if let Some(slot) = roles.get_mut(i) {
                *slot = r;
            }
        };
        set(self.ts, Role::Ts);
        for (k, i) in [self.open, self.high, self.low, self.close]
            .into_iter()
            .enumerate()
        {
            set(i, Role::Price(k));
        }
        if let Some(v) = self.volume {
            set(v, Role::Volume);
        }
        roles
    }
}

const TS_NAMES: [&str; 6] = ["timestamp", "time", "date", "datetime", "open_time", "ts"];

impl Columns {
    fn by_position() -> Self {
        Self {
            ts: 0,
            open: 1,
            high: 2,
            low: 3,
            close: 4,
            volume: Some(5),
            width: 6,
        }
    }

    /// `Ok(None)` if the line is not a header (no field is a known column name).
    fn from_header(fields: &[&str]) -> Result<Option<Self>, String> {
        let names: Vec<String> = fields.iter().map(|f| f.to_ascii_lowercase()).collect();
        let known = |n: &str| {
            TS_NAMES.contains(&n) || ["open", "high", "low", "close", "volume"].contains(&n)
        };
        if !names.iter().any(|n| known(n)) {
            return Ok(None);
        }
        let find = |wanted: &[&str], label: &str| -> Result<Option<usize>, String> {
            let hits: Vec<usize> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| wanted.contains(&n.as_str()))
                .map(|(i, _)| i)
                .collect();
            match hits.as_slice() {
                [] => Ok(None),
                [i] => Ok(Some(*i)),
                _ => Err(format!("header has more than one {label} column")),
            }
        };
        let required = |wanted: &[&str], label: &str| -> Result<usize, String> {
            find(wanted, label)?.ok_or_else(|| format!("header has no {label} column"))
        };
        // A pandas-written index column has an empty name: use it as the timestamp if
        // nothing else is named like one.
        let ts = match find(&TS_NAMES, "timestamp")? {
            Some(i) => i,
            None if names.first().is_some_and(|n| n.is_empty()) => 0,
            None => {
                return Err(
                    "header has no timestamp column (timestamp/time/date/datetime)".to_owned(),
                );
            }
        };
        Ok(Some(Self {
            ts,
            open: required(&["open"], "open")?,
            high: required(&["high"], "high")?,
            low: required(&["low"], "low")?,
            close: required(&["close"], "close")?,
            volume: find(&["volume"], "volume")?,
            width: fields.len(),
        }))
    }
}

/// Generic OHLCV CSV from text. See [`ohlcv_csv_reader`].
pub fn ohlcv_csv(source: &str, text: &str) -> Result<Vec<Bar>, LoadError> {
    ohlcv_csv_reader(source, text.as_bytes())
}

/// Generic OHLCV CSV, the whole series (see [`OhlcvCsv`] for the format; it streams).
pub fn ohlcv_csv_reader(source: &str, reader: impl BufRead) -> Result<Vec<Bar>, LoadError> {
    let mut rows = OhlcvCsv::new(source, reader);
    let bars = rows.by_ref().collect::<Result<Vec<_>, _>>()?;
    let pr = rows.precision();
    Ok(bars.into_iter().map(|b| pr.bar(b)).collect())
}

/// Generic OHLCV CSV, one bar at a time (constant memory). Bars come with the
/// precision written in their row; [`OhlcvCsv::precision`] after the last one says the
/// series' precision ([`SeriesPrecision::bar`] re-tags them). Iteration stops after the
/// first error.
///
/// **Header detection**: the first non-blank line is a header if any of its fields is a
/// known column name (case-insensitive): `timestamp`/`time`/`date`/`datetime`/
/// `open_time`/`ts`, `open`, `high`, `low`, `close`, `volume`. Columns are then found by
/// name (other columns are allowed and not read; an unnamed first column — a pandas
/// index — is the timestamp if no column is named like one; `volume` may be absent, and
/// then volumes are zero). Without a header, columns are positional:
/// `timestamp,open,high,low,close,volume`.
///
/// **Timestamps**: ISO-8601 date or date-time, or an integer epoch whose unit follows
/// from its magnitude (seconds below 10^11, milliseconds below 10^14, then micro- and
/// nanoseconds); see [`parse_timestamp`].
///
/// Every row must have as many fields as the header (or six without one).
pub struct OhlcvCsv<R> {
    source: String,
    lines: Lines<R>,
    cols: Option<Columns>,
    /// Each column's role once the layout is known (for [`plain_row_at`]).
    roles: Vec<Role>,
    /// Field slices of the current line; only its capacity outlives the line.
    fields: Vec<&'static str>,
    pr: SeriesPrecision,
    mono: Monotonic,
    done: bool,
}

impl<R: BufRead> OhlcvCsv<R> {
    /// Rows of `reader`; `source` names it in errors.
    pub fn new(source: &str, reader: R) -> Self {
        Self {
            source: source.to_owned(),
            lines: Lines::new(source, reader),
            cols: None,
            roles: Vec::new(),
            fields: Vec::new(),
            pr: SeriesPrecision::default(),
            mono: Monotonic(None),
            done: false,
        }
    }

    /// The widest precisions seen so far (the series' once iteration has ended).
    pub fn precision(&self) -> SeriesPrecision {
        self.pr
    }

    fn next_bar(&mut self) -> Result<Option<Bar>, LoadError> {
        loop {
            if !self.roles.is_empty() {
                let (roles, pr) = (&self.roles, &mut self.pr);
                if let Some((ts, [open, high, low, close], volume)) =
                    self.lines.take_row(|b| plain_row_at(b, roles, pr))?
                {
                    let n = self.lines.line;
                    let bar = Bar::new(ts, open, high, low, close, volume)
                        .map_err(|e| e.to_string())
                        .and_then(|bar| self.mono.check(ts).map(|()| bar))
                        .map_err(|r| load_err(&self.source, n, r))?;
                    return Ok(Some(bar));
                }
            }
            if !self.lines.advance()? {
                return Ok(None);
            }
            let n = self.lines.line;
            let line = match line_text(n, self.lines.current()?) {
                Ok(Some(line)) => line,
                Ok(None) => continue,
                Err(reason) => return Err(load_err(&self.source, n, reason)),
            };
            // The field list borrows this line only; its buffer is reused (no
            // allocation per line once it has grown to the row's width).
            let mut row = recycle(std::mem::take(&mut self.fields));
            split_csv(line, &mut row);
            let c = match &self.cols {
                Some(c) => c,
                None => {
                    let header =
                        Columns::from_header(&row).map_err(|r| load_err(&self.source, n, r))?;
                    let is_header = header.is_some();
                    let c = self
                        .cols
                        .insert(header.unwrap_or_else(Columns::by_position));
                    self.roles = c.roles();
                    if is_header {
                        self.fields = recycle(row);
                        continue;
                    }
                    c
                }
            };
            let (pr, mono) = (&mut self.pr, &mut self.mono);
            let bar = (|| -> Result<Bar, String> {
                if row.len() != c.width {
                    return Err(format!("expected {} fields, found {}", c.width, row.len()));
                }
                let ts = timestamp(field(&row, c.ts, "timestamp")?)?;
                let open = price(field(&row, c.open, "open")?, "open", pr)?;
                let high = price(field(&row, c.high, "high")?, "high", pr)?;
                let low = price(field(&row, c.low, "low")?, "low", pr)?;
                let close = price(field(&row, c.close, "close")?, "close", pr)?;
                let volume = match c.volume {
                    Some(i) => size(field(&row, i, "volume")?, "volume", pr)?,
                    None => Quantity::ZERO,
                };
                let bar =
                    Bar::new(ts, open, high, low, close, volume).map_err(|e| e.to_string())?;
                mono.check(ts)?;
                Ok(bar)
            })()
            .map_err(|r| load_err(&self.source, n, r))?;
            self.fields = recycle(row);
            return Ok(Some(bar));
        }
    }
}

/// An empty vector with the capacity of `v`, free of `v`'s borrows (collecting an
/// emptied vector into one of the same layout reuses its allocation).
fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter().map(|_| "").collect()
}

impl<R: BufRead> Iterator for OhlcvCsv<R> {
    type Item = Result<Bar, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_bar().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

/// Binance kline CSV from text. See [`binance_klines_reader`].
pub fn binance_klines(source: &str, text: &str) -> Result<Vec<Bar>, LoadError> {
    binance_klines_reader(source, text.as_bytes())
}

/// Binance kline CSV, the whole series (see [`BinanceKlines`] for the format; it streams).
pub fn binance_klines_reader(source: &str, reader: impl BufRead) -> Result<Vec<Bar>, LoadError> {
    let mut rows = BinanceKlines::new(source, reader);
    let bars = rows.by_ref().collect::<Result<Vec<_>, _>>()?;
    let pr = rows.precision();
    Ok(bars.into_iter().map(|b| pr.bar(b)).collect())
}

/// Binance kline CSV as published on data.binance.vision, one bar at a time (as
/// [`OhlcvCsv`]): no header, 12 columns
/// `open_time, open, high, low, close, volume, close_time, quote_volume, trades,
/// taker_buy_base, taker_buy_quote, ignore`. Only the first six feed the [`Bar`]; the
/// others must be present, and `close_time` must be an integer not before `open_time`.
///
/// Open time is in **milliseconds**, or **microseconds** (Binance switched spot files
/// to µs on 2025-01-01): values below 10^14 are ms (10^14 ms is the year 5138), values
/// from 10^14 up to 10^17 are µs; anything else is an error.
pub struct BinanceKlines<R> {
    source: String,
    lines: Lines<R>,
    fields: Vec<&'static str>,
    pr: SeriesPrecision,
    mono: Monotonic,
    done: bool,
}

impl<R: BufRead> BinanceKlines<R> {
    /// Rows of `reader`; `source` names it in errors.
    pub fn new(source: &str, reader: R) -> Self {
        Self {
            source: source.to_owned(),
            lines: Lines::new(source, reader),
            fields: Vec::new(),
            pr: SeriesPrecision::default(),
            mono: Monotonic(None),
            done: false,
        }
    }

    /// The widest precisions seen so far (the series' once iteration has ended).
    pub fn precision(&self) -> SeriesPrecision {
        self.pr
    }

    fn next_bar(&mut self) -> Result<Option<Bar>, LoadError> {
        let Some((n, line)) = self.lines.next_line()? else {
            return Ok(None);
        };
        let mut fields = recycle(std::mem::take(&mut self.fields));
        split_csv(line, &mut fields);
        let (pr, mono) = (&mut self.pr, &mut self.mono);
        let bar = (|| -> Result<Bar, String> {
            if fields.len() != 12 {
                return Err(format!("expected 12 fields, found {}", fields.len()));
            }
            let open_time = kline_time(fields[0]).map_err(|e| format!("column open_time: {e}"))?;
            let close_time =
                kline_time(fields[6]).map_err(|e| format!("column close_time: {e}"))?;
            if close_time < open_time {
                return Err("close_time is before open_time".to_owned());
            }
            let open = price(fields[1], "open", pr)?;
            let high = price(fields[2], "high", pr)?;
            let low = price(fields[3], "low", pr)?;
            let close = price(fields[4], "close", pr)?;
            let volume = size(fields[5], "volume", pr)?;
            let bar =
                Bar::new(open_time, open, high, low, close, volume).map_err(|e| e.to_string())?;
            mono.check(open_time)?;
            Ok(bar)
        })()
        .map_err(|r| load_err(&self.source, n, r))?;
        self.fields = recycle(fields);
        Ok(Some(bar))
    }
}

impl<R: BufRead> Iterator for BinanceKlines<R> {
    type Item = Result<Bar, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_bar().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

fn kline_time(text: &str) -> Result<UnixNanos, String> {
    let v = parse_epoch_int(text).map_err(|e| e.to_string())?;
    // Checked: an open time past 2262-04-11 does not fit nanoseconds in an i64 (it
    // wrapped to a time in the past in release builds).
    let past = || format!("{v} is past 2262-04-11, the last time a bar can carry");
    if v < 100_000_000_000_000 {
        v.checked_mul(1_000_000).ok_or_else(past)
    } else if v < 100_000_000_000_000_000 {
        v.checked_mul(1_000).ok_or_else(past)
    } else {
        Err(format!("{v} is neither milliseconds nor microseconds"))
    }
}

/// One record of an L1/trade stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L1Event {
    /// A trade print.
    Trade(Trade),
    /// A top-of-book change.
    Quote(Quote),
}

impl L1Event {
    /// Exchange time of the record.
    pub fn ts(&self) -> UnixNanos {
        match self {
            L1Event::Trade(t) => t.ts,
            L1Event::Quote(q) => q.ts,
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum RawL1 {
    Trade {
        ts: serde_json::Value,
        price: String,
        size: String,
        side: RawSide,
    },
    Quote {
        ts: serde_json::Value,
        bid: String,
        bid_size: String,
        ask: String,
        ask_size: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawSide {
    Buy,
    Sell,
}

fn json_ts(v: &serde_json::Value) -> Result<UnixNanos, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .filter(|ns| *ns >= 0)
            .ok_or_else(|| format!("field ts: {n} is not a non-negative integer of nanoseconds")),
        serde_json::Value::String(s) => parse_iso8601(s).map_err(|e| format!("field ts: {e}")),
        other => Err(format!(
            "field ts: expected integer nanoseconds or ISO-8601 text, found {other}"
        )),
    }
}

/// L1/trade JSON Lines from text. See [`l1_jsonl_reader`].
pub fn l1_jsonl(source: &str, text: &str) -> Result<Vec<L1Event>, LoadError> {
    l1_jsonl_reader(source, text.as_bytes())
}

/// Tradewind L1/trade JSON Lines, the whole stream (see [`L1Jsonl`] for the format; it
/// streams).
pub fn l1_jsonl_reader(source: &str, reader: impl BufRead) -> Result<Vec<L1Event>, LoadError> {
    let mut rows = L1Jsonl::new(source, reader);
    let events = rows.by_ref().collect::<Result<Vec<_>, _>>()?;
    let pr = rows.precision();
    Ok(events.into_iter().map(|e| pr.event(e)).collect())
}

/// Tradewind L1/trade JSON Lines, one event at a time (as [`OhlcvCsv`]): one object per
/// line, for one instrument per file.
///
/// ```text
/// {"type":"trade","ts":1742944020715000000,"price":"87232.00","size":"0.00012","side":"sell"}
/// {"type":"quote","ts":"2025-03-25T23:07:00.840478284Z","bid":"87232.00","bid_size":"2.42385","ask":"87232.01","ask_size":"2.64517"}
/// ```
///
/// - `ts`: integer nanoseconds since the UNIX epoch, or ISO-8601 text;
/// - prices and sizes: decimal **strings** (JSON numbers are floats and could already
///   have lost digits), parsed exactly;
/// - `side` (trades): the aggressor, `"buy"` or `"sell"`;
/// - unknown fields are errors, so nothing in a record is silently ignored.
///
/// Trades must have a non-zero size; quotes must not be crossed (`bid <= ask`).
pub struct L1Jsonl<R> {
    source: String,
    lines: Lines<R>,
    pr: SeriesPrecision,
    mono: Monotonic,
    done: bool,
}

impl<R: BufRead> L1Jsonl<R> {
    /// Records of `reader`; `source` names it in errors.
    pub fn new(source: &str, reader: R) -> Self {
        Self {
            source: source.to_owned(),
            lines: Lines::new(source, reader),
            pr: SeriesPrecision::default(),
            mono: Monotonic(None),
            done: false,
        }
    }

    /// The widest precisions seen so far (the stream's once iteration has ended).
    pub fn precision(&self) -> SeriesPrecision {
        self.pr
    }

    fn next_event(&mut self) -> Result<Option<L1Event>, LoadError> {
        let Some((n, line)) = self.lines.next_line()? else {
            return Ok(None);
        };
        let (pr, mono) = (&mut self.pr, &mut self.mono);
        let ev = (|| -> Result<L1Event, String> {
            let ev = match fast_trade(line) {
                Some(t) => {
                    let size = size(t.size, "size", pr)?;
                    if size.is_zero() {
                        return Err("trade size is zero".to_owned());
                    }
                    L1Event::Trade(Trade {
                        ts: t.ts,
                        price: price(t.price, "price", pr)?,
                        size,
                        aggressor: t.side,
                    })
                }
                None => l1_record(line, pr)?,
            };
            mono.check(ev.ts())?;
            Ok(ev)
        })()
        .map_err(|r| load_err(&self.source, n, r))?;
        Ok(Some(ev))
    }
}

impl<R: BufRead> Iterator for L1Jsonl<R> {
    type Item = Result<L1Event, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_event().transpose();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

/// A trade line in the exact shape Tradewind writes, read without a JSON parser.
struct FastTrade<'a> {
    ts: UnixNanos,
    price: &'a str,
    size: &'a str,
    side: Side,
}

/// `{"type":"trade","ts":<digits>,"price":"<text>","size":"<text>","side":"buy|sell"}`
/// byte for byte (no spaces, this key order); anything else, valid or not, is `None`
/// and goes through the JSON parser, which also words the errors.
fn fast_trade(line: &str) -> Option<FastTrade<'_>> {
    let rest = line.strip_prefix(r#"{"type":"trade","ts":"#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    // JSON numbers have no leading zeros.
    if digits == 0 || digits > 19 || (digits > 1 && rest.starts_with('0')) {
        return None;
    }
    let ts = rest[..digits].parse::<i64>().ok()?;
    let rest = rest[digits..].strip_prefix(r#","price":""#)?;
    let (price, rest) = rest.split_once('"')?;
    let rest = rest.strip_prefix(r#","size":""#)?;
    let (size, rest) = rest.split_once('"')?;
    let side = match rest {
        r#","side":"buy"}"# => Side::Buy,
        r#","side":"sell"}"# => Side::Sell,
        _ => return None,
    };
    // Escapes and control characters inside the strings need the JSON parser.
    if [price, size]
        .iter()
        .any(|t| t.bytes().any(|b| b == b'\\' || b < 0x20))
    {
        return None;
    }
    Some(FastTrade {
        ts,
        price,
        size,
        side,
    })
}

/// Any record, through serde.
fn l1_record(line: &str, pr: &mut SeriesPrecision) -> Result<L1Event, String> {
    let raw: RawL1 = serde_json::from_str(line).map_err(|e| format!("invalid record: {e}"))?;
    Ok(match raw {
        RawL1::Trade {
            ts,
            price: p,
            size: s,
            side,
        } => {
            let size = size(&s, "size", pr)?;
            if size.is_zero() {
                return Err("trade size is zero".to_owned());
            }
            L1Event::Trade(Trade {
                ts: json_ts(&ts)?,
                price: price(&p, "price", pr)?,
                size,
                aggressor: match side {
                    RawSide::Buy => Side::Buy,
                    RawSide::Sell => Side::Sell,
                },
            })
        }
        RawL1::Quote {
            ts,
            bid,
            bid_size,
            ask,
            ask_size,
        } => {
            let q = Quote {
                ts: json_ts(&ts)?,
                bid: price(&bid, "bid", pr)?,
                bid_size: size(&bid_size, "bid_size", pr)?,
                ask: price(&ask, "ask", pr)?,
                ask_size: size(&ask_size, "ask_size", pr)?,
            };
            if q.bid > q.ask {
                return Err(format!("crossed quote: bid {} > ask {}", q.bid, q.ask));
            }
            L1Event::Quote(q)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        s.parse().expect("valid price")
    }

    const T0: i64 = 1_742_944_020_000_000_000; // 2025-03-25T23:07:00Z

    #[test]
    fn ohlcv_with_header_any_case_and_order() {
        let text = "\u{feff}Date,Volume,Open,High,Low,Close,Adj Close\n\
                    2025-03-25T23:07:00Z,1.5,100.5,101,100,100.75,0\n\
                    \n\
                    2025-03-25T23:08:00+00:00,2,100.75,102.25,100.25,102,0\n";
        let bars = ohlcv_csv("t.csv", text).expect("valid");
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].ts, T0);
        assert_eq!(bars[1].ts, T0 + 60_000_000_000);
        assert_eq!(bars[0].open.to_string(), "100.50", "precision unified to 2");
        assert_eq!(bars[0].high.to_string(), "101.00");
        assert_eq!(bars[1].volume.to_string(), "2.0");
        assert_eq!(bars[1].close, p("102"));
    }

    #[test]
    fn ohlcv_without_header_epoch_units() {
        let secs = "1742944020,1,2,0.5,1.5,10\n1742944080,1,2,0.5,1.5,10\n";
        let ms = "1742944020000,1,2,0.5,1.5,10\r\n1742944080000,1,2,0.5,1.5,10\r\n";
        let a = ohlcv_csv("s.csv", secs).expect("valid");
        let b = ohlcv_csv("ms.csv", ms).expect("valid");
        assert_eq!(a, b);
        assert_eq!(a[0].ts, T0);
    }

    #[test]
    fn ohlcv_pandas_index_and_missing_volume() {
        let text = ",Open,High,Low,Close\n2013-01-02,10,11,9,10.5\n2013-01-03,10.5,11,10,11\n";
        let bars = ohlcv_csv("goog.csv", text).expect("valid");
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].volume, Quantity::ZERO);
        assert_eq!(bars[1].ts - bars[0].ts, 86_400_000_000_000);
    }

    #[test]
    fn ohlcv_errors_name_source_line_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "time,open,high,low,close,volume\n1742944020,1,2,0.5,1.5,10\n1742944021,1,2,0.5,3,10\n",
                "bars.csv:3: inconsistent OHLC: open 1 high 2 low 0.5 close 3",
            ),
            (
                "time,open,high,low,close,volume\n1742944020,1,2,0.5,1.5\n",
                "bars.csv:2: expected 6 fields, found 5",
            ),
            (
                "time,open,high,low,close,volume\n1742944080,1,2,0.5,1.5,1\n1742944020,1,2,0.5,1.5,1\n",
                "bars.csv:3: timestamp 1742944020000000000 ns is before the previous row's 1742944080000000000 ns",
            ),
            (
                "time,open,high,low,close,volume\n1742944020,1,2,0.5,abc,1\n",
                "bars.csv:2: column close: cannot parse \"abc\" as price: unexpected character",
            ),
            (
                "time,open,high,low,close,volume\nyesterday,1,2,0.5,1,1\n",
                "bars.csv:2: column timestamp: invalid timestamp \"yesterday\": expected a 4-digit year",
            ),
            (
                "time,open,high,low,close,volume\n1742944020,1,2,0.5,1,-1\n",
                "bars.csv:2: column volume: quantity \"-1\" is negative",
            ),
            (
                "time,open,high,close\n",
                "bars.csv:1: header has no low column",
            ),
            (
                "open,high,low,close,volume\n",
                "bars.csv:1: header has no timestamp column (timestamp/time/date/datetime)",
            ),
            (
                "date,time,open,high,low,close\n",
                "bars.csv:1: header has more than one timestamp column",
            ),
            ("foo,bar\n", "bars.csv:1: expected 6 fields, found 2"),
        ];
        for (text, want) in cases {
            let err = ohlcv_csv("bars.csv", text).expect_err(want);
            assert_eq!(err.to_string(), *want);
        }
    }

    /// The shortcuts give what the full parsers give, errors included.
    #[test]
    fn plain_numbers_and_epochs_parse_as_the_full_parsers_do() {
        let mut texts: Vec<String> = [
            "0",
            "1",
            "00012.5000",
            "9999999999.999999999",
            "9223372036.854775807",
            "9223372036.854775808",
            "18446744073.709551615",
            "1.",
            ".5",
            "1.0000000000",
            "1.0000000001",
            "12345678901",
            "-1",
            "+1",
            "1e5",
            "1,5",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A deterministic sweep of digit strings with and without a point.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 22) as usize;
            let mut t: String = (0..digits)
                .map(|i| char::from(b'0' + ((x >> (i % 16 * 4)) % 10) as u8))
                .collect();
            if x.is_multiple_of(3) && !t.is_empty() {
                t.insert((x >> 7) as usize % t.len(), '.');
            }
            texts.push(t);
        }
        for t in &texts {
            let mut pr = SeriesPrecision::default();
            let slow_p = t
                .parse::<Price>()
                .map_err(|e| format!("column x: {e}"))
                .and_then(|p| {
                    if p.is_positive() {
                        Ok(p)
                    } else {
                        Err(format!("column x: {p} is not a positive price"))
                    }
                });
            assert_eq!(price(t, "x", &mut pr), slow_p, "{t:?}");
            assert_eq!(
                price(t, "x", &mut pr).map(|p| p.precision()),
                slow_p.map(|p| p.precision())
            );
            let slow_q = t.parse::<Quantity>().map_err(|e| format!("column x: {e}"));
            assert_eq!(size(t, "x", &mut pr), slow_q, "{t:?}");
            let digits_only = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
            if digits_only {
                let slow_t = parse_timestamp(t).map_err(|e| format!("column timestamp: {e}"));
                assert_eq!(timestamp(t), slow_t, "{t:?}");
            }
        }
    }

    /// Rows the one-pass reader takes and rows only the general parser takes (spaces,
    /// quotes, signs, ISO times) give the same series.
    #[test]
    fn plain_and_decorated_rows_read_the_same() {
        let mut plain = String::from("ts,open,high,low,close,volume,extra\n");
        let mut decorated = plain.clone();
        let mut x: u64 = 7;
        for i in 0..2_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let o = 100 + x % 50;
            let (h, l, c) = (o + 3, o - 2, o + (x >> 8) % 3);
            let dec = (x >> 16) % 4;
            let frac = ["", ".5", ".25", ".125"][dec as usize];
            let ts = 1_700_000_000 + 60 * i;
            plain.push_str(&format!(
                "{ts},{o}{frac},{h}{frac},{l}{frac},{c}{frac},{}.0{},x\n",
                i,
                x % 10
            ));
            let iso = crate::data::time::format_iso8601(ts as i64 * 1_000_000_000);
            decorated.push_str(&format!(
                " {iso} , \"+{o}{frac}\",{h}{frac} ,{l}{frac},{c}{frac},\"{}.0{}\", x \r\n\n",
                i,
                x % 10
            ));
        }
        let a = ohlcv_csv("a.csv", &plain).expect("plain");
        let b = ohlcv_csv("b.csv", &decorated).expect("decorated");
        assert_eq!(a.len(), 2_000);
        assert_eq!(a, b);
        assert!(
            a.iter()
                .zip(&b)
                .all(|(x, y)| x.open.precision() == y.open.precision()
                    && x.volume.precision() == y.volume.precision())
        );
    }

    /// Rows read straight from the reader's buffer (eight digits at a time) give what the
    /// general parser gives for every width of number and epoch, wherever the reader's
    /// buffer happens to cut the rows.
    #[test]
    fn buffer_rows_agree_with_the_general_parser_at_every_width_and_cut() {
        let mut plain = String::from("ts,open,high,low,close,volume\n");
        let mut decorated = plain.clone();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Epochs of 9 to 18 digits (seconds to nanoseconds), non-decreasing.
        // (9 digits of seconds, 18 of nanoseconds, then seconds, ms and µs: later in time.)
        let epochs = [
            100_000_000u64,
            200_000_000_000_000_000,
            1_600_000_000,
            1_650_000_000_000,
            1_700_000_000_000_000,
        ];
        let mut rows = 0;
        for (e, &base) in epochs.iter().enumerate() {
            for i in 0..400u64 {
                let r = next();
                // Up to 9 integer digits: 10 may exceed the largest price. At least 1: a
                // zero price is refused (tested on its own).
                let int_digits = 1 + (r % 9) as u32;
                let frac_digits = ((r >> 8) % 10) as usize;
                let int = ((r >> 16) % 10u64.pow(int_digits)).max(1);
                let frac: String = (0..frac_digits)
                    .map(|k| char::from(b'0' + ((r >> (20 + 3 * k)) % 10) as u8))
                    .collect();
                let v = if frac_digits == 0 {
                    int.to_string()
                } else {
                    format!("{int}.{frac}")
                };
                let vol = format!("{}", (r >> 40) % 1_000_000);
                let end = if r.is_multiple_of(5) { "\r\n" } else { "\n" };
                let ts = base + i + 1_000 * e as u64;
                plain.push_str(&format!("{ts},{v},{v},{v},{v},{vol}{end}"));
                decorated.push_str(&format!("{ts} ,{v},{v},{v},{v},\"{vol}\"\n"));
                rows += 1;
            }
        }
        let want = ohlcv_csv("d.csv", &decorated).expect("decorated");
        assert_eq!(want.len(), rows);
        for capacity in [1, 7, 8, 9, 16, 31, 64, 1 << 16] {
            let reader = std::io::BufReader::with_capacity(capacity, plain.as_bytes());
            let got = ohlcv_csv_reader("p.csv", reader).expect("plain");
            assert_eq!(got, want, "capacity {capacity}");
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.open.precision() == b.open.precision()
                        && a.volume.precision() == b.volume.precision())
            );
        }
        // An error in a row read from the buffer still names its line.
        let bad = format!("{plain}1700000000000999,2,1,1,1,1\n");
        let err = ohlcv_csv("p.csv", &bad).expect_err("open above high");
        assert_eq!(
            err.to_string(),
            format!(
                "p.csv:{}: inconsistent OHLC: open 2 high 1 low 1 close 1",
                rows + 2
            )
        );
    }

    #[test]
    fn rows_stream_one_at_a_time_and_stop_at_the_first_error() {
        let text = "time,open,high,low,close,volume\n1,1,2,0.5,1.5,1\n2,1,2,0.5,1.25,1\nbad\n3,1,1,1,1,1\n";
        let mut rows = OhlcvCsv::new("s.csv", text.as_bytes());
        assert_eq!(
            rows.next().map(|r| r.map(|b| b.ts)),
            Some(Ok(1_000_000_000))
        );
        assert_eq!(rows.precision(), SeriesPrecision { price: 1, size: 0 });
        assert!(rows.next().is_some_and(|r| r.is_ok()));
        assert_eq!(rows.precision(), SeriesPrecision { price: 2, size: 0 });
        let err = rows.next().expect("an error").expect_err("bad row");
        assert_eq!(err.to_string(), "s.csv:4: expected 6 fields, found 1");
        assert!(rows.next().is_none());
    }

    #[test]
    fn ohlcv_reports_invalid_utf8_as_error() {
        let bytes: &[u8] = b"time,open,high,low,close,volume\n\xff\xfe,1,1,1,1,1\n";
        let err = ohlcv_csv_reader("bin.csv", bytes).expect_err("not UTF-8");
        assert_eq!((err.source_name.as_str(), err.line), ("bin.csv", 2));
        assert!(err.reason.starts_with("cannot read"), "{}", err.reason);
    }

    #[test]
    fn empty_input_is_an_empty_series() {
        assert_eq!(ohlcv_csv("e.csv", ""), Ok(vec![]));
        assert_eq!(
            ohlcv_csv("e.csv", "time,open,high,low,close,volume\n"),
            Ok(vec![])
        );
        assert_eq!(binance_klines("e.csv", "\n"), Ok(vec![]));
        assert_eq!(l1_jsonl("e.jsonl", ""), Ok(vec![]));
    }

    const KLINE_MS: &str = "1742944020000,87232.00,87232.01,87232.00,87232.01,0.02038,1742944020999,1777.7883626,2,0.02026,1767.3205226,0\n";
    const KLINE_US: &str = "1742944020000000,87232.00,87232.01,87232.00,87232.01,0.02038,1742944020999999,1777.7883626,2,0.02026,1767.3205226,0\n";

    #[test]
    fn binance_klines_ms_and_us() {
        let a = binance_klines("ms.csv", KLINE_MS).expect("valid");
        let b = binance_klines("us.csv", KLINE_US).expect("valid");
        assert_eq!(a, b);
        assert_eq!(a[0].ts, T0);
        assert_eq!(a[0].close.to_string(), "87232.01");
        assert_eq!(a[0].volume.to_string(), "0.02038");
    }

    /// An open time past 2262-04-11 overflowed the nanosecond clock (a panic in debug
    /// builds, a wrap to a time in the past in release); now it is refused, named.
    #[test]
    fn binance_kline_times_past_2262_are_refused() {
        for open in ["9300000000000,", "99999999999999,", "9300000000000000,"] {
            let row = KLINE_MS.replacen("1742944020000,", open, 1);
            let e = binance_klines("k.csv", &row).expect_err("past 2262");
            assert!(e.to_string().contains("2262"), "{open}: {e}");
            assert!(
                binance_klines_reader("k.csv", row.as_bytes()).is_err(),
                "{open}"
            );
        }
    }

    /// A zero or negative price was loaded as a bar (or a trade) without a word; now the
    /// row is refused, naming the file, line and column.
    #[test]
    fn non_positive_prices_are_refused() {
        let csv =
            "timestamp,open,high,low,close,volume\n1742944020,1,2,1,2,5\n1742944080,2,2,0,1,5\n";
        let e = ohlcv_csv("p.csv", csv).expect_err("zero low");
        assert_eq!(
            e.to_string(),
            "p.csv:3: column low: 0 is not a positive price"
        );
        let csv = "timestamp,open,high,low,close,volume\n1742944020,-1,2,-1,2,5\n";
        let e = ohlcv_csv("p.csv", csv).expect_err("negative");
        assert!(e.to_string().contains("not a positive price"), "{e}");
        let kline = KLINE_MS.replacen(",87232.00,", ",0.00,", 1);
        let e = binance_klines("k.csv", &kline).expect_err("zero open");
        assert!(
            e.to_string()
                .contains("column open: 0.00 is not a positive price"),
            "{e}"
        );
        let trades =
            "{\"type\":\"trade\",\"ts\":1,\"price\":\"0\",\"size\":\"1\",\"side\":\"buy\"}\n";
        let e = l1_jsonl("t.jsonl", trades).expect_err("zero trade price");
        assert!(e.to_string().contains("not a positive price"), "{e}");
    }

    #[test]
    fn binance_klines_errors() {
        let e = binance_klines("k.csv", "1,2,3\n").expect_err("short");
        assert_eq!(e.to_string(), "k.csv:1: expected 12 fields, found 3");
        let header = format!(
            "open_time,open,high,low,close,volume,close_time,qv,n,tb,tq,ignore\n{KLINE_MS}"
        );
        let e = binance_klines("k.csv", &header).expect_err("header");
        assert!(
            e.to_string().starts_with("k.csv:1: column open_time:"),
            "{e}"
        );
        let ns = KLINE_MS.replacen("1742944020000,", "1742944020000000000,", 1);
        let e = binance_klines("k.csv", &ns).expect_err("ns");
        assert!(
            e.reason.contains("neither milliseconds nor microseconds"),
            "{e}"
        );
        let back = KLINE_MS.replacen("1742944020999", "1742944019999", 1);
        let e = binance_klines("k.csv", &back).expect_err("close before open");
        assert_eq!(e.reason, "close_time is before open_time");
        let two = format!(
            "{KLINE_MS}{}",
            KLINE_MS.replacen(
                "87232.00,87232.01,87232.00",
                "87232.00,87232.01,87233.00",
                1
            )
        );
        let e = binance_klines("k.csv", &two).expect_err("low > high");
        assert_eq!(e.line, 2);
        assert!(e.reason.starts_with("inconsistent OHLC"), "{e}");
    }

    #[test]
    fn l1_jsonl_good() {
        let text = concat!(
            r#"{"type":"trade","ts":1742944020715000000,"price":"87232.0","size":"0.00012","side":"sell"}"#,
            "\n",
            r#"{"type":"quote","ts":"2025-03-25T23:07:00.840478284Z","bid":"87232.00","bid_size":"2.42385","ask":"87232.01","ask_size":"2.64517"}"#,
            "\n",
            r#"{"type":"trade","ts":1742944020840478284,"price":"87232.01","size":"1","side":"buy"}"#,
            "\n"
        );
        let ev = l1_jsonl("btc.jsonl", text).expect("valid");
        assert_eq!(ev.len(), 3);
        match ev[0] {
            L1Event::Trade(t) => {
                assert_eq!(t.aggressor, Side::Sell);
                assert_eq!(t.price.to_string(), "87232.00");
                assert_eq!(t.size.to_string(), "0.00012");
            }
            L1Event::Quote(_) => panic!("expected a trade"),
        }
        match ev[1] {
            L1Event::Quote(q) => {
                assert_eq!(q.ts, T0 + 840_478_284);
                assert_eq!(q.ask.to_string(), "87232.01");
            }
            L1Event::Trade(_) => panic!("expected a quote"),
        }
        assert_eq!(ev[2].ts(), ev[1].ts(), "equal timestamps are allowed");
    }

    #[test]
    fn tradewind_trade_lines_skip_the_json_parser_and_agree_with_it() {
        let line = r#"{"type":"trade","ts":1742944020715000000,"price":"87232.00","size":"0.00012","side":"sell"}"#;
        let t = fast_trade(line).expect("the shape Tradewind writes");
        assert_eq!(
            (t.ts, t.price, t.size, t.side),
            (1_742_944_020_715_000_000, "87232.00", "0.00012", Side::Sell)
        );
        let mut pr = SeriesPrecision::default();
        let via_serde = l1_record(line, &mut pr).expect("valid");
        let fast = l1_jsonl("f.jsonl", line).expect("valid");
        assert_eq!(fast, vec![via_serde]);
        for other in [
            r#"{"type":"trade","ts":01,"price":"1","size":"1","side":"buy"}"#,
            r#"{"type":"trade", "ts":1,"price":"1","size":"1","side":"buy"}"#,
            r#"{"type":"trade","ts":1,"price":"1\u0030","size":"1","side":"buy"}"#,
            r#"{"type":"trade","ts":1,"price":"1","size":"1","side":"buy","x":1}"#,
        ] {
            assert!(fast_trade(other).is_none(), "{other}");
        }
    }

    #[test]
    fn l1_jsonl_errors() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"type":"trade","ts":1,"price":87232.0,"size":"1","side":"buy"}"#,
                "invalid record",
            ),
            (
                r#"{"type":"trade","ts":1,"price":"1","size":"1","side":"hold"}"#,
                "invalid record",
            ),
            (
                r#"{"type":"trade","ts":1,"price":"1","size":"1","side":"buy","venue":"x"}"#,
                "invalid record",
            ),
            (r#"{"type":"bar","ts":1}"#, "invalid record"),
            (
                r#"{"type":"trade","ts":1,"price":"1","size":"0","side":"buy"}"#,
                "trade size is zero",
            ),
            (
                r#"{"type":"trade","ts":-1,"price":"1","size":"1","side":"buy"}"#,
                "field ts",
            ),
            (
                r#"{"type":"trade","ts":1.5,"price":"1","size":"1","side":"buy"}"#,
                "field ts",
            ),
            (
                r#"{"type":"trade","ts":"soon","price":"1","size":"1","side":"buy"}"#,
                "field ts",
            ),
            (
                r#"{"type":"quote","ts":1,"bid":"2","bid_size":"1","ask":"1","ask_size":"1"}"#,
                "crossed quote: bid 2 > ask 1",
            ),
            (
                r#"{"type":"quote","ts":1,"bid":"1","bid_size":"1.x","ask":"2","ask_size":"1"}"#,
                "column bid_size",
            ),
            ("not json", "invalid record"),
        ];
        for (line, want) in cases {
            let text = format!(
                "{}\n{line}\n",
                r#"{"type":"trade","ts":0,"price":"1","size":"1","side":"buy"}"#
            );
            let err = l1_jsonl("x.jsonl", &text).expect_err(line);
            assert_eq!(
                (err.source_name.as_str(), err.line),
                ("x.jsonl", 2),
                "{line}"
            );
            assert!(err.reason.contains(want), "{line}: {}", err.reason);
        }
        let back = concat!(
            r#"{"type":"trade","ts":5,"price":"1","size":"1","side":"buy"}"#,
            "\n",
            r#"{"type":"trade","ts":4,"price":"1","size":"1","side":"buy"}"#
        );
        let err = l1_jsonl("x.jsonl", back).expect_err("backwards");
        assert_eq!(
            err.to_string(),
            "x.jsonl:2: timestamp 4 ns is before the previous row's 5 ns"
        );
    }
}
