//! Tradewind columnar bars (`.twb`): a small binary format for bar series that reads at
//! memory speed, in constant memory, and refuses a damaged file instead of guessing.
//!
//! Every integer is little-endian. Version 1:
//!
//! ```text
//! file    = header block* trailer
//! header  = "TWBARS\n\0"  version:u16 (=1)  price_precision:u8  size_precision:u8
//!           block_capacity:u32  checksum:u64  reserved:u64 (=0)           (32 bytes)
//! block   = "WBLK"  bars:u32 (1..=capacity)  payload_len:u32  reserved:u32 (=0)
//!           checksum:u64  payload                                    (24 + payload)
//! payload = column × 6, in this order: ts, open, high, low, close, volume
//! column  = first:i64  width:u8 (0..=64)  reserved:[u8; 7] (=0)
//!           words:u64 × ceil((bars − 1) × width / 64)
//! trailer = "WEND"  reserved:u32 (=0)  total_bars:u64  checksum:u64       (24 bytes)
//! ```
//!
//! - **Columns are fixed point**: `ts` in nanoseconds, prices in units of
//!   10^−price_precision, volumes in units of 10^−size_precision (so `123.45` at precision
//!   2 is 12345). Each column stores its first value, then the differences between
//!   consecutive values (two's complement, wrapping), zig-zag encoded
//!   (`(d << 1) ^ (d >> 63)`) and bit-packed at the block's width for that column, least
//!   significant bit first: value `i` occupies bits `i × width .. (i + 1) × width` of the
//!   little-endian word stream. Minute bars of cent prices need a few bits per value.
//! - **Checksums** (detect damage, not an adversary), all [`checksum`]: the header's of
//!   its first 16 bytes; a block's of its payload, seeded with `bars << 32 | payload_len`
//!   (so its header is covered too); the trailer's of the blocks' checksums (each 8 bytes
//!   LE, in order) seeded with the total.
//! - A reader checks the magic, the version, every length and reserved field, every
//!   checksum, that each bar is consistent (`low <= open, close <= high`), that times
//!   never go backwards, and that the trailer's count is the number of bars read. A file
//!   cut short anywhere is an error ("truncated"), never a shorter series.
//!
//! [`BarsWriter`] writes a file from bars (all at the file's precision); [`BarsReader`]
//! reads it back a block at a time.

use std::io::{self, Read, Write};

use super::{Bar, UnixNanos};
use crate::fixed::{POW10, Price, Quantity};

/// First bytes of every file.
pub const MAGIC: [u8; 8] = *b"TWBARS\n\0";
/// The version this code writes and reads.
pub const VERSION: u16 = 1;
/// Bars per block the writer uses unless told otherwise.
pub const DEFAULT_BLOCK_BARS: u32 = 4_096;
/// The largest block a reader accepts (bounds its memory).
pub const MAX_BLOCK_BARS: u32 = 1 << 16;

const BLOCK_TAG: [u8; 4] = *b"WBLK";
const END_TAG: [u8; 4] = *b"WEND";
const COLUMNS: usize = 6;
/// Zero bytes kept after a block's payload in memory (never in the file).
const PAD: usize = 16;

/// Why a file cannot be written or read.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: byte {offset}: {reason}")]
pub struct ColumnarError {
    /// Name of the input or output given by the caller.
    pub source_name: String,
    /// Byte offset in the file where the problem is.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// 64-bit multiply-xor checksum of `bytes` from `seed`: fast enough not to matter at
/// memory speed, and any changed word changes it with near certainty.
pub fn checksum(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = (0xCBF2_9CE4_8422_2325 ^ seed).wrapping_mul(K) ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in words.by_ref() {
        let v = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        h = (h ^ v).wrapping_mul(K).rotate_left(29);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(29);
    }
    h ^ (h >> 32)
}

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

pub(crate) fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

pub(crate) fn step(precision: u8) -> i64 {
    POW10[9 - usize::from(precision.min(9))] as i64
}

/// Writes bars at one precision into the format (see the module docs).
pub struct BarsWriter<W: Write> {
    out: W,
    name: String,
    price_step: i64,
    size_step: i64,
    capacity: usize,
    cols: [Vec<i64>; COLUMNS],
    payload: Vec<u8>,
    offset: u64,
    total: u64,
    sums: Vec<u8>,
    last_ts: Option<UnixNanos>,
}

impl<W: Write> BarsWriter<W> {
    /// Starts a file on `out` (named `name` in errors) for bars whose prices have
    /// `price_precision` decimals and volumes `size_precision`, `block_bars` bars a block.
    pub fn new(
        out: W,
        name: &str,
        price_precision: u8,
        size_precision: u8,
        block_bars: u32,
    ) -> Result<Self, ColumnarError> {
        let mut w = Self {
            out,
            name: name.to_owned(),
            price_step: step(price_precision),
            size_step: step(size_precision),
            capacity: block_bars.clamp(1, MAX_BLOCK_BARS) as usize,
            cols: Default::default(),
            payload: Vec::new(),
            offset: 0,
            total: 0,
            sums: Vec::new(),
            last_ts: None,
        };
        if price_precision > 9 || size_precision > 9 {
            return Err(w.err("precision above 9 decimals"));
        }
        let mut header = Vec::with_capacity(32);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.push(price_precision);
        header.push(size_precision);
        header.extend_from_slice(&(w.capacity as u32).to_le_bytes());
        let sum = checksum(0, &header);
        header.extend_from_slice(&sum.to_le_bytes());
        header.extend_from_slice(&[0; 8]);
        w.write(&header)?;
        Ok(w)
    }

    fn err(&self, reason: impl Into<String>) -> ColumnarError {
        ColumnarError {
            source_name: self.name.clone(),
            offset: self.offset,
            reason: reason.into(),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ColumnarError> {
        self.out
            .write_all(bytes)
            .map_err(|e| self.err(format!("cannot write: {e}")))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Adds a bar (time order; prices and volume exact at the file's precision).
    pub fn push(&mut self, bar: &Bar) -> Result<(), ColumnarError> {
        if self.last_ts.is_some_and(|t| bar.ts < t) {
            return Err(self.err(format!(
                "bar at {} ns is before the previous one at {} ns",
                bar.ts,
                self.last_ts.unwrap_or_default()
            )));
        }
        let mut units = [bar.ts, 0, 0, 0, 0, 0];
        for (i, p) in [bar.open, bar.high, bar.low, bar.close].iter().enumerate() {
            if p.raw() % self.price_step != 0 {
                return Err(self.err(format!("price {p} has more decimals than the file's")));
            }
            units[i + 1] = p.raw() / self.price_step;
        }
        let v = bar.volume.raw();
        if !v.is_multiple_of(self.size_step as u64) {
            return Err(self.err(format!(
                "volume {} has more decimals than the file's",
                bar.volume
            )));
        }
        units[5] = (v / self.size_step as u64) as i64;
        for (c, u) in self.cols.iter_mut().zip(units) {
            c.push(u);
        }
        self.last_ts = Some(bar.ts);
        if self.cols[0].len() == self.capacity {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<(), ColumnarError> {
        let n = self.cols[0].len();
        if n == 0 {
            return Ok(());
        }
        self.payload.clear();
        for c in &self.cols {
            encode_column(c, &mut self.payload);
        }
        let sum = checksum(block_seed(n, self.payload.len()), &self.payload);
        let mut head = Vec::with_capacity(24);
        head.extend_from_slice(&BLOCK_TAG);
        head.extend_from_slice(&(n as u32).to_le_bytes());
        head.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        head.extend_from_slice(&sum.to_le_bytes());
        self.write(&head)?;
        let payload = std::mem::take(&mut self.payload);
        let written = self.write(&payload);
        self.payload = payload;
        written?;
        self.sums.extend_from_slice(&sum.to_le_bytes());
        self.total += n as u64;
        self.cols.iter_mut().for_each(Vec::clear);
        Ok(())
    }

    /// Writes the last block and the trailer; returns the output and the bars written.
    pub fn finish(mut self) -> Result<(W, u64), ColumnarError> {
        self.flush_block()?;
        let mut trailer = Vec::with_capacity(24);
        trailer.extend_from_slice(&END_TAG);
        trailer.extend_from_slice(&0u32.to_le_bytes());
        trailer.extend_from_slice(&self.total.to_le_bytes());
        trailer.extend_from_slice(&checksum(self.total, &self.sums).to_le_bytes());
        self.write(&trailer)?;
        self.out
            .flush()
            .map_err(|e| self.err(format!("cannot write: {e}")))?;
        Ok((self.out, self.total))
    }
}

pub(crate) fn block_seed(bars: usize, payload_len: usize) -> u64 {
    (bars as u64) << 32 | payload_len as u64
}

pub(crate) fn encode_column(values: &[i64], out: &mut Vec<u8>) {
    let first = values[0];
    let zz = values.windows(2).map(|w| zigzag(w[1].wrapping_sub(w[0])));
    let width = zz
        .clone()
        .map(|z| 64 - z.leading_zeros())
        .max()
        .unwrap_or(0);
    out.extend_from_slice(&first.to_le_bytes());
    out.push(width as u8);
    out.extend_from_slice(&[0; 7]);
    if width == 0 {
        return;
    }
    let mut word: u64 = 0;
    let mut used: u32 = 0;
    for z in zz {
        word |= z << used;
        used += width;
        if used >= 64 {
            out.extend_from_slice(&word.to_le_bytes());
            used -= 64;
            // The bits of `z` that did not fit (none when it ended on the boundary).
            word = if used == 0 { 0 } else { z >> (width - used) };
        }
    }
    if used > 0 {
        out.extend_from_slice(&word.to_le_bytes());
    }
}

/// Words a column of `n` values at `width` bits needs.
pub(crate) fn column_words(n: usize, width: u32) -> usize {
    ((n.saturating_sub(1)) * width as usize).div_ceil(64)
}

/// Reads the format (see the module docs) a block at a time.
pub struct BarsReader<R: Read> {
    input: R,
    name: String,
    price_precision: u8,
    size_precision: u8,
    capacity: usize,
    offset: u64,
    total: u64,
    sums: Vec<u8>,
    last_ts: Option<UnixNanos>,
    payload: Vec<u8>,
    done: bool,
}

impl<R: Read> BarsReader<R> {
    /// Reads and checks the header of `input` (named `name` in errors).
    pub fn new(input: R, name: &str) -> Result<Self, ColumnarError> {
        let mut r = Self {
            input,
            name: name.to_owned(),
            price_precision: 0,
            size_precision: 0,
            capacity: 0,
            offset: 0,
            total: 0,
            sums: Vec::new(),
            last_ts: None,
            payload: Vec::new(),
            done: false,
        };
        let mut header = [0u8; 32];
        r.read_exact(&mut header, "the header")?;
        if header[..8] != MAGIC {
            return Err(r.err_at(0, "not a Tradewind bars file (bad magic)"));
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version != VERSION {
            return Err(r.err_at(8, format!("unsupported version {version} (this reads 1)")));
        }
        (r.price_precision, r.size_precision) = (header[10], header[11]);
        if r.price_precision > 9 || r.size_precision > 9 {
            return Err(r.err_at(10, "precision above 9 decimals"));
        }
        let capacity = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
        if capacity == 0 || capacity > MAX_BLOCK_BARS {
            return Err(r.err_at(12, format!("block capacity {capacity} outside 1..=65536")));
        }
        r.capacity = capacity as usize;
        if header[16..24] != checksum(0, &header[..16]).to_le_bytes() {
            return Err(r.err_at(16, "header checksum does not match"));
        }
        if header[24..].iter().any(|b| *b != 0) {
            return Err(r.err_at(24, "reserved header bytes are not zero"));
        }
        Ok(r)
    }

    /// Decimals of the file's prices.
    pub fn price_precision(&self) -> u8 {
        self.price_precision
    }

    /// Decimals of the file's volumes.
    pub fn size_precision(&self) -> u8 {
        self.size_precision
    }

    fn err_at(&self, offset: u64, reason: impl Into<String>) -> ColumnarError {
        ColumnarError {
            source_name: self.name.clone(),
            offset,
            reason: reason.into(),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), ColumnarError> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.err_at(
                self.offset,
                format!("truncated: the file ends inside {what}"),
            )),
            Err(e) => Err(self.err_at(self.offset, format!("cannot read: {e}"))),
        }
    }

    /// The next block's bars into `out` (replacing what it held); `Ok(false)` after the
    /// trailer, and on an error, with `out` empty.
    pub fn next_block(&mut self, out: &mut Vec<Bar>) -> Result<bool, ColumnarError> {
        // `out` keeps its length from block to block: the decoder writes every field of
        // every bar, so a same-sized block needs no clearing pass first.
        let read = self.read_block(out);
        if !matches!(read, Ok(true)) {
            out.clear();
        }
        read
    }

    fn read_block(&mut self, out: &mut Vec<Bar>) -> Result<bool, ColumnarError> {
        if self.done {
            return Ok(false);
        }
        let at = self.offset;
        let mut head = [0u8; 24];
        self.read_exact(&mut head, "a block header or the trailer")?;
        let u32_at =
            |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().unwrap_or([0; 8]));
        if head[..4] == END_TAG {
            if u32_at(4) != 0 {
                return Err(self.err_at(at + 4, "reserved trailer bytes are not zero"));
            }
            if u64_at(8) != self.total {
                return Err(self.err_at(
                    at + 8,
                    format!(
                        "the trailer counts {} bars but the blocks hold {}",
                        u64_at(8),
                        self.total
                    ),
                ));
            }
            if u64_at(16) != checksum(self.total, &self.sums) {
                return Err(self.err_at(at + 16, "trailer checksum does not match the blocks"));
            }
            let mut extra = [0u8; 1];
            match self.input.read(&mut extra) {
                Ok(0) => {}
                Ok(_) => return Err(self.err_at(self.offset, "data after the trailer")),
                Err(e) => return Err(self.err_at(self.offset, format!("cannot read: {e}"))),
            }
            self.done = true;
            return Ok(false);
        }
        if head[..4] != BLOCK_TAG {
            return Err(self.err_at(at, "expected a block or the trailer"));
        }
        let n = u32_at(4) as usize;
        if n == 0 || n > self.capacity {
            return Err(self.err_at(
                at + 4,
                format!("block of {n} bars outside 1..={}", self.capacity),
            ));
        }
        let len = u32_at(8) as usize;
        // Six column headers and at most 64 bits a value: anything longer is damage.
        let max_len = COLUMNS * (16 + 8 * column_words(n, 64));
        if len > max_len || !len.is_multiple_of(8) {
            return Err(self.err_at(
                at + 8,
                format!("block payload of {len} bytes is impossible"),
            ));
        }
        if u32_at(12) != 0 {
            return Err(self.err_at(at + 12, "reserved block bytes are not zero"));
        }
        let sum = u64_at(16);
        let mut payload = std::mem::take(&mut self.payload);
        // 16 zero bytes after the payload, so every packed value reads as one unaligned
        // word without a copy of its column.
        payload.clear();
        payload.resize(len + PAD, 0);
        let read = self.read_exact(&mut payload[..len], "a block");
        self.payload = payload;
        read?;
        if checksum(block_seed(n, len), &self.payload[..len]) != sum {
            return Err(self.err_at(at + 16, "block checksum does not match its data"));
        }
        self.decode_into(at, n, len, out)?;
        self.sums.extend_from_slice(&sum.to_le_bytes());
        self.total += n as u64;
        Ok(true)
    }

    /// Unpacks the six columns of the payload straight into `out`'s bars, then checks
    /// them.
    fn decode_into(
        &mut self,
        at: u64,
        n: usize,
        len: usize,
        out: &mut Vec<Bar>,
    ) -> Result<(), ColumnarError> {
        let base = at + 24;
        let (pp, sp) = (self.price_precision, self.size_precision);
        let (ps, ss) = (step(pp), step(sp) as u64);
        out.resize(
            n,
            Bar {
                ts: 0,
                open: Price::ZERO,
                high: Price::ZERO,
                low: Price::ZERO,
                close: Price::ZERO,
                volume: Quantity::ZERO,
            },
        );
        let mut pos = 0usize;
        // Any value whose fixed-point form overflows (set branch-free, checked once).
        let mut overflow = false;
        let payload = &self.payload[..len];
        for c in 0..COLUMNS {
            let Some(head) = payload.get(pos..pos + 16) else {
                return Err(self.err_at(base + pos as u64, "block payload ends inside a column"));
            };
            let first = i64::from_le_bytes(head[..8].try_into().unwrap_or([0; 8]));
            let width = u32::from(head[8]);
            if width > 64 || head[9..16].iter().any(|b| *b != 0) {
                return Err(self.err_at(base + pos as u64 + 8, "bad column header"));
            }
            pos += 16;
            let words = column_words(n, width);
            if payload.len() < pos + words * 8 {
                return Err(self.err_at(base + pos as u64, "block payload ends inside a column"));
            }
            // The column's words, then whatever follows (the next columns, then the
            // zero padding): bits past the column's are masked off.
            let w = &self.payload[pos..];
            pos += words * 8;
            let price = |v: i64, overflow: &mut bool| {
                let (raw, o) = v.overflowing_mul(ps);
                *overflow |= o;
                // A multiple of the step by construction.
                Price::from_raw_unchecked(raw, pp)
            };
            match c {
                0 => unpack(out, w, width, first, |b, v| b.ts = v),
                1 => unpack(out, w, width, first, |b, v| {
                    b.open = price(v, &mut overflow)
                }),
                2 => unpack(out, w, width, first, |b, v| {
                    b.high = price(v, &mut overflow)
                }),
                3 => unpack(out, w, width, first, |b, v| b.low = price(v, &mut overflow)),
                4 => unpack(out, w, width, first, |b, v| {
                    b.close = price(v, &mut overflow)
                }),
                _ => unpack(out, w, width, first, |b, v| {
                    let (raw, o) = (v as u64).overflowing_mul(ss);
                    overflow |= o;
                    b.volume = Quantity::from_raw_unchecked(raw, sp);
                }),
            }
        }
        if pos != len {
            return Err(self.err_at(base + pos as u64, "block payload longer than its columns"));
        }
        if overflow {
            return Err(self.err_at(at, "a value of the block is out of range"));
        }
        let mut last = self.last_ts.unwrap_or(UnixNanos::MIN);
        let mut bad: Option<usize> = None;
        for (i, b) in out.iter().enumerate() {
            let (o, h, l, c) = (b.open.raw(), b.high.raw(), b.low.raw(), b.close.raw());
            let ok = l <= o && l <= c && o <= h && c <= h && b.ts >= last;
            last = b.ts;
            if !ok {
                bad = Some(i);
                break;
            }
        }
        if let Some(i) = bad {
            let b = out[i];
            let reason = match b.validate() {
                Err(e) => format!("bar {i} of the block: {e}"),
                Ok(()) => format!("bar {i} of the block goes back in time"),
            };
            return Err(self.err_at(at, reason));
        }
        self.last_ts = Some(last);
        Ok(())
    }
}

/// Unpacks `out.len()` values (the first, then bit-packed zig-zag differences) into
/// `out` through `set`. `bytes` starts at the column and runs at least 16 bytes past it.
#[inline(always)]
fn unpack(
    out: &mut [Bar],
    bytes: &[u8],
    width: u32,
    first: i64,
    mut set: impl FnMut(&mut Bar, i64),
) {
    let mut bars = out.iter_mut();
    let mut v = first;
    if let Some(b) = bars.next() {
        set(b, v);
    }
    if width == 0 {
        bars.for_each(|b| set(b, v));
        return;
    }
    let mask = u64::MAX >> (64 - width);
    let word = |at: usize| match bytes.get(at..at + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
        None => 0,
    };
    let mut bit = 0usize;
    if width <= 56 {
        // A value and its offset within its first byte fit one unaligned word.
        for b in bars {
            let z = (word(bit >> 3) >> (bit & 7)) & mask;
            v = v.wrapping_add(unzigzag(z));
            set(b, v);
            bit += width as usize;
        }
    } else {
        for b in bars {
            let (at, off) = ((bit >> 6) << 3, (bit & 63) as u32);
            // Bits above the word come from the next one (no shift by 64).
            let z = ((word(at) >> off) | ((word(at + 8) << 1) << (63 - off))) & mask;
            v = v.wrapping_add(unzigzag(z));
            set(b, v);
            bit += width as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(n: usize) -> Vec<Bar> {
        let mut x: u64 = 88_172_645_463_325_252;
        let mut close: i64 = 1_000_000;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let open = close;
                close = (open + (x % 201) as i64 - 100).max(100);
                let p = |u: i64| Price::from_raw(u * 10_000_000, 2).unwrap();
                Bar::new(
                    1_700_000_040_000_000_000 + 60_000_000_000 * i as i64,
                    p(open),
                    p(open.max(close) + (x >> 20) as i64 % 9),
                    p(open.min(close) - (x >> 30) as i64 % 9),
                    p(close),
                    Quantity::from_raw((x >> 40) % 100_000 * 1_000_000, 3).unwrap(),
                )
                .unwrap()
            })
            .collect()
    }

    fn write(bars: &[Bar], block: u32) -> Vec<u8> {
        let mut w = BarsWriter::new(Vec::new(), "t.twb", 2, 3, block).unwrap();
        for b in bars {
            w.push(b).unwrap();
        }
        w.finish().unwrap().0
    }

    fn read(bytes: &[u8]) -> Result<Vec<Bar>, ColumnarError> {
        let mut r = BarsReader::new(bytes, "t.twb")?;
        let (mut all, mut chunk) = (Vec::new(), Vec::new());
        while r.next_block(&mut chunk)? {
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }

    #[test]
    fn round_trips_exactly_in_blocks_of_any_size() {
        let series = bars(10_001);
        for block in [1, 2, 7, 4_096, 65_536] {
            let bytes = write(&series, block);
            assert_eq!(read(&bytes).unwrap(), series, "block {block}");
        }
        // Cent prices a minute apart: a few bits per value, far below text.
        let bytes = write(&series, 4_096);
        assert!(bytes.len() < series.len() * 12, "{} bytes", bytes.len());
        assert_eq!(read(&write(&[], 16)).unwrap(), vec![]);
    }

    #[test]
    fn extreme_values_and_widths_round_trip() {
        let p = |raw: i64| Price::from_raw(raw, 9).unwrap();
        let series = vec![
            Bar::new(
                i64::MIN,
                p(0),
                p(i64::MAX),
                p(i64::MIN),
                p(0),
                Quantity::from_raw(u64::MAX, 9).unwrap(),
            )
            .unwrap(),
            Bar::new(
                0,
                p(-5),
                p(i64::MAX),
                p(i64::MIN),
                p(i64::MAX),
                Quantity::ZERO,
            )
            .unwrap(),
            Bar::new(
                i64::MAX,
                p(i64::MIN),
                p(i64::MIN),
                p(i64::MIN),
                p(i64::MIN),
                Quantity::from_raw(1, 9).unwrap(),
            )
            .unwrap(),
        ];
        let mut w = BarsWriter::new(Vec::new(), "x", 9, 9, 4).unwrap();
        series.iter().for_each(|b| w.push(b).unwrap());
        let bytes = w.finish().unwrap().0;
        let mut r = BarsReader::new(&bytes[..], "x").unwrap();
        let mut out = Vec::new();
        assert!(r.next_block(&mut out).unwrap());
        assert_eq!(out, series);
    }

    #[test]
    fn the_writer_refuses_what_the_format_cannot_hold() {
        let mut w = BarsWriter::new(Vec::new(), "w.twb", 1, 0, 16).unwrap();
        let b = bars(2);
        let e = w.push(&b[0]).unwrap_err();
        assert!(e.reason.contains("more decimals"), "{e}");
        let mut w = BarsWriter::new(Vec::new(), "w.twb", 2, 3, 16).unwrap();
        w.push(&b[1]).unwrap();
        let e = w.push(&b[0]).unwrap_err();
        assert!(e.to_string().starts_with("w.twb: byte 32: bar at"), "{e}");
    }

    /// Every truncation and every single-byte change is an error, never a panic and
    /// never a silently different series.
    #[test]
    fn damage_anywhere_is_an_error() {
        let series = bars(300);
        let bytes = write(&series, 64);
        for cut in 0..bytes.len() {
            let e = read(&bytes[..cut]).expect_err("truncated");
            assert!(
                e.reason.contains("truncated") || e.reason.contains("bad magic"),
                "cut at {cut}: {e}"
            );
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = bytes.clone();
                bad[i] ^= flip;
                match read(&bad) {
                    Err(_) => {}
                    Ok(got) => panic!("byte {i} ^ {flip:#x} read as {} bars", got.len()),
                }
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            read(&longer)
                .unwrap_err()
                .reason
                .contains("after the trailer")
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x1234_5678_9ABC_DEF1;
        let valid = write(&bars(50), 8);
        for round in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // A valid header and block start, then noise, so the reader gets deep.
            let keep = (x % valid.len() as u64) as usize;
            let mut bytes = valid[..keep].to_vec();
            let noise = (x >> 32) % 512;
            for k in 0..noise {
                bytes.push((x.rotate_left((k % 64) as u32) >> 7) as u8 ^ round as u8);
            }
            let _ = read(&bytes);
        }
    }
}
