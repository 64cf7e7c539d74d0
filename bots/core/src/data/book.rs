//! L2 order book built for update throughput.

use super::market::{BookDelta, BookLevel, BookSide, BookSnapshot, UnixNanos};
use crate::fixed::{Price, Quantity, RoundingMode};

/// Why a snapshot was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// The same price appears twice on one side of a snapshot.
    #[error("snapshot has price {price} twice on the {side:?} side")]
    DuplicateLevel {
        /// Side with the duplicate.
        side: BookSide,
        /// Duplicated price.
        price: Price,
    },
}

/// One stored level: an order-preserving key and the raw size.
///
/// Both sides are kept ascending by `key` with the best level **last**, so that the
/// common case (updates at or near the top) touches the end of the `Vec`, where inserts
/// and removals move few elements. Bids use the raw price as key; asks use its bitwise
/// complement (`!raw`), which reverses the order without the overflow of negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Level {
    key: i64,
    size: u64,
}

/// How many levels from the top to scan linearly before switching to binary search.
const LINEAR_SCAN: usize = 8;

/// An L2 (price-aggregated) order book.
///
/// Sorted `Vec`s rather than a tree: books are shallow at the top where nearly all
/// updates land, and a short linear scan over contiguous 16-byte levels beats pointer
/// chasing; deeper updates fall back to binary search.
#[derive(Debug, Clone, Default)]
pub struct OrderBook {
    bids: Vec<Level>,
    asks: Vec<Level>,
    price_precision: u8,
    size_precision: u8,
    ts: UnixNanos,
    updates: u64,
}

/// The top `n` levels of each side, best first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BookDepth {
    /// Bids, highest price first.
    pub bids: Vec<BookLevel>,
    /// Asks, lowest price first.
    pub asks: Vec<BookLevel>,
}

impl OrderBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Time of the last snapshot or delta applied.
    pub fn ts(&self) -> UnixNanos {
        self.ts
    }

    /// Number of snapshots and deltas applied so far.
    pub fn update_count(&self) -> u64 {
        self.updates
    }

    /// Number of bid levels.
    pub fn bid_levels(&self) -> usize {
        self.bids.len()
    }

    /// Number of ask levels.
    pub fn ask_levels(&self) -> usize {
        self.asks.len()
    }

    /// Remove every level.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Replace the whole book. Zero-size levels are treated as absent; a price given
    /// twice on one side is an error (and leaves the book unchanged).
    pub fn apply_snapshot(&mut self, snapshot: &BookSnapshot) -> Result<(), BookError> {
        let bids = Self::build_side(&snapshot.bids, BookSide::Bid)?;
        let asks = Self::build_side(&snapshot.asks, BookSide::Ask)?;
        self.bids = bids;
        self.asks = asks;
        for l in snapshot.bids.iter().chain(&snapshot.asks) {
            self.note_precision(l.price, l.size);
        }
        self.ts = snapshot.ts;
        self.updates += 1;
        Ok(())
    }

    fn build_side(levels: &[BookLevel], side: BookSide) -> Result<Vec<Level>, BookError> {
        let mut out: Vec<Level> = levels
            .iter()
            .filter(|l| !l.size.is_zero())
            .map(|l| Level {
                key: key_of(side, l.price.raw()),
                size: l.size.raw(),
            })
            .collect();
        out.sort_unstable_by_key(|l| l.key);
        if let Some(w) = out.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(BookError::DuplicateLevel {
                side,
                price: Price::from_raw_unchecked(raw_of(side, w[0].key), 9),
            });
        }
        Ok(out)
    }

    fn note_precision(&mut self, price: Price, size: Quantity) {
        // Keep the widest precision seen so every stored raw value displays exactly.
        self.price_precision = self.price_precision.max(price.precision());
        self.size_precision = self.size_precision.max(size.precision());
    }

    /// Set the size at one level; size zero removes it (removing an absent level is a
    /// no-op, as exchange diff streams send such removals).
    #[inline]
    pub fn apply_delta(&mut self, delta: &BookDelta) {
        self.note_precision(delta.price, delta.size);
        let levels = match delta.side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        };
        upsert(
            levels,
            key_of(delta.side, delta.price.raw()),
            delta.size.raw(),
        );
        self.ts = delta.ts;
        self.updates += 1;
    }

    fn level(&self, side: BookSide, l: &Level) -> BookLevel {
        BookLevel {
            price: Price::from_raw_unchecked(raw_of(side, l.key), self.price_precision),
            size: Quantity::from_raw_unchecked(l.size, self.size_precision),
        }
    }

    /// Highest bid.
    pub fn best_bid(&self) -> Option<BookLevel> {
        self.bids.last().map(|l| self.level(BookSide::Bid, l))
    }

    /// Lowest ask.
    pub fn best_ask(&self) -> Option<BookLevel> {
        self.asks.last().map(|l| self.level(BookSide::Ask, l))
    }

    /// Bids, best (highest) first.
    pub fn bids(&self) -> impl Iterator<Item = BookLevel> + '_ {
        self.bids.iter().rev().map(|l| self.level(BookSide::Bid, l))
    }

    /// Asks, best (lowest) first.
    pub fn asks(&self) -> impl Iterator<Item = BookLevel> + '_ {
        self.asks.iter().rev().map(|l| self.level(BookSide::Ask, l))
    }

    /// Up to `n` levels per side, best first.
    pub fn depth(&self, n: usize) -> BookDepth {
        BookDepth {
            bids: self.bids().take(n).collect(),
            asks: self.asks().take(n).collect(),
        }
    }

    /// `best ask − best bid`; negative when crossed. `None` if a side is empty.
    pub fn spread(&self) -> Option<Price> {
        self.best_ask()?.price.checked_sub(self.best_bid()?.price)
    }

    /// `(bid + ask) / 2`, exact: it carries one more decimal than the book's prices
    /// (a half-tick needs it). At precision 9 there is no extra decimal, so an odd
    /// nano-sum is rounded half-to-even.
    pub fn mid(&self) -> Option<Price> {
        let sum =
            i128::from(self.best_bid()?.price.raw()) + i128::from(self.best_ask()?.price.raw());
        let half = crate::fixed::div_round_i128(sum, 2, RoundingMode::HalfEven)?;
        let precision = (self.price_precision + 1).min(crate::fixed::FIXED_PRECISION);
        // The mean of two i64 values is an i64.
        let raw = i64::try_from(half).ok()?;
        // At precision 9 the rounded value is valid; below 9 the half is a multiple of
        // the finer step, so this never fails.
        Price::from_raw(raw, precision).ok()
    }

    /// Size-weighted mid `(bid·askSize + ask·bidSize) / (bidSize + askSize)`: leans toward
    /// the side with less size, where the next trade is more likely. A signal, so `f64`.
    pub fn microprice(&self) -> Option<f64> {
        let bid = self.best_bid()?;
        let ask = self.best_ask()?;
        let (bs, as_) = (bid.size.as_f64(), ask.size.as_f64());
        let total = bs + as_;
        if total <= 0.0 {
            return None;
        }
        Some((bid.price.as_f64() * as_ + ask.price.as_f64() * bs) / total)
    }

    /// `true` if the best bid is at or above the best ask (crossed or locked): a state a
    /// consistent exchange book never shows, so usually a missed or misordered update.
    pub fn is_crossed(&self) -> bool {
        match (self.best_bid(), self.best_ask()) {
            (Some(b), Some(a)) => b.price >= a.price,
            _ => false,
        }
    }
}

#[inline]
fn key_of(side: BookSide, raw: i64) -> i64 {
    match side {
        BookSide::Bid => raw,
        BookSide::Ask => !raw,
    }
}

#[inline]
fn raw_of(side: BookSide, key: i64) -> i64 {
    key_of(side, key) // the complement is its own inverse
}

/// Insert, update or (size 0) remove the level with `key` in an ascending `Vec`.
#[inline]
fn upsert(levels: &mut Vec<Level>, key: i64, size: u64) {
    let len = levels.len();
    // Scan the top few levels (the end of the Vec) first; fall back to binary search.
    let mut idx = None;
    let scan = len.min(LINEAR_SCAN);
    for i in (len - scan..len).rev() {
        if levels[i].key <= key {
            idx = Some(if levels[i].key == key { i } else { i + 1 });
            break;
        }
    }
    let idx = match idx {
        Some(i) => i,
        None => levels[..len - scan].partition_point(|l| l.key < key),
    };
    if idx < len && levels[idx].key == key {
        if size == 0 {
            levels.remove(idx);
        } else {
            levels[idx].size = size;
        }
    } else if size != 0 {
        levels.insert(idx, Level { key, size });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        s.parse().expect("valid price")
    }
    fn q(s: &str) -> Quantity {
        s.parse().expect("valid quantity")
    }
    fn lvl(price: &str, size: &str) -> BookLevel {
        BookLevel {
            price: p(price),
            size: q(size),
        }
    }
    fn delta(side: BookSide, price: &str, size: &str) -> BookDelta {
        BookDelta {
            ts: 1,
            side,
            price: p(price),
            size: q(size),
        }
    }
    fn book() -> OrderBook {
        let mut b = OrderBook::new();
        b.apply_snapshot(&BookSnapshot {
            ts: 0,
            bids: vec![
                lvl("99.00", "1.0"),
                lvl("100.00", "2.0"),
                lvl("98.50", "3.0"),
            ],
            asks: vec![
                lvl("101.00", "1.5"),
                lvl("100.50", "0.5"),
                lvl("102.00", "0"),
            ],
        })
        .expect("valid snapshot");
        b
    }

    #[test]
    fn snapshot_sorts_and_drops_empty_levels() {
        let b = book();
        assert_eq!(b.best_bid(), Some(lvl("100.00", "2.0")));
        assert_eq!(b.best_ask(), Some(lvl("100.50", "0.5")));
        let d = b.depth(2);
        assert_eq!(d.bids, vec![lvl("100", "2"), lvl("99", "1")]);
        assert_eq!(d.asks, vec![lvl("100.5", "0.5"), lvl("101", "1.5")]);
        assert_eq!(b.depth(10).bids.len(), 3);
        assert_eq!(b.ask_levels(), 2);
        assert_eq!(
            b.best_bid().map(|l| l.price.to_string()),
            Some("100.00".into())
        );
    }

    #[test]
    fn snapshot_with_duplicate_is_refused_and_book_kept() {
        let mut b = book();
        let err = b
            .apply_snapshot(&BookSnapshot {
                ts: 5,
                bids: vec![lvl("1", "1"), lvl("1", "2")],
                asks: vec![],
            })
            .expect_err("duplicate");
        assert!(matches!(
            err,
            BookError::DuplicateLevel {
                side: BookSide::Bid,
                ..
            }
        ));
        assert_eq!(b.bid_levels(), 3);
    }

    #[test]
    fn deltas_insert_update_remove() {
        let mut b = book();
        b.apply_delta(&delta(BookSide::Bid, "100.25", "4")); // new best bid
        assert_eq!(b.best_bid(), Some(lvl("100.25", "4")));
        b.apply_delta(&delta(BookSide::Bid, "99.00", "7")); // update deeper level
        assert_eq!(b.bids().nth(2), Some(lvl("99", "7")));
        b.apply_delta(&delta(BookSide::Bid, "100.25", "0")); // remove best
        assert_eq!(b.best_bid(), Some(lvl("100", "2")));
        b.apply_delta(&delta(BookSide::Bid, "42", "0")); // absent: no-op
        assert_eq!(b.bid_levels(), 3);
        b.apply_delta(&delta(BookSide::Ask, "100.25", "1")); // new best ask
        assert_eq!(b.best_ask(), Some(lvl("100.25", "1")));
        b.apply_delta(&delta(BookSide::Ask, "150", "1")); // worst ask, appended deep
        assert_eq!(b.asks().last(), Some(lvl("150", "1")));
        assert_eq!(b.update_count(), 7);
        assert_eq!(b.ts(), 1);
    }

    #[test]
    fn deep_book_matches_a_reference_model() {
        // Drive many deltas through both the book and a BTreeMap model; they must agree.
        use std::collections::BTreeMap;
        let mut b = OrderBook::new();
        let mut model: [BTreeMap<i64, u64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            // xorshift: deterministic pseudo-random levels around 1000.00
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let side = if x & 1 == 0 {
                BookSide::Bid
            } else {
                BookSide::Ask
            };
            let ticks = (x >> 8) % 200;
            let size = if (x >> 20).is_multiple_of(4) {
                0
            } else {
                (x >> 24) % 1000
            };
            let base = if side == BookSide::Bid {
                90_000
            } else {
                100_001
            };
            let price_raw = (base + ticks as i64) * 10_000_000;
            b.apply_delta(&BookDelta {
                ts: 0,
                side,
                price: Price::from_raw(price_raw, 2).expect("valid"),
                size: Quantity::from_raw(size * 1_000_000, 3).expect("valid"),
            });
            let m = &mut model[usize::from(side == BookSide::Ask)];
            if size == 0 {
                m.remove(&price_raw);
            } else {
                m.insert(price_raw, size * 1_000_000);
            }
        }
        let bids: Vec<(i64, u64)> = b.bids().map(|l| (l.price.raw(), l.size.raw())).collect();
        let asks: Vec<(i64, u64)> = b.asks().map(|l| (l.price.raw(), l.size.raw())).collect();
        let mb: Vec<(i64, u64)> = model[0].iter().rev().map(|(k, v)| (*k, *v)).collect();
        let ma: Vec<(i64, u64)> = model[1].iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(bids, mb);
        assert_eq!(asks, ma);
        assert!(
            bids.len() > 50 && asks.len() > 50,
            "test should build a deep book"
        );
    }

    #[test]
    fn spread_mid_microprice() {
        let b = book();
        assert_eq!(b.spread(), Some(p("0.50")));
        let mid = b.mid().expect("two sides");
        assert_eq!(mid.to_string(), "100.250");
        // (100·0.5 + 100.5·2) / 2.5 = 100.4
        let micro = b.microprice().expect("two sides");
        assert!((micro - 100.4).abs() < 1e-9, "{micro}");
        let mut odd = OrderBook::new();
        odd.apply_delta(&delta(BookSide::Bid, "100.01", "1"));
        odd.apply_delta(&delta(BookSide::Ask, "100.02", "3"));
        assert_eq!(odd.mid().map(|m| m.to_string()), Some("100.015".into()));
        assert_eq!(OrderBook::new().mid(), None);
        assert_eq!(OrderBook::new().spread(), None);
        assert_eq!(OrderBook::new().microprice(), None);
    }

    #[test]
    fn mid_at_precision_nine_rounds_half_even() {
        let mut b = OrderBook::new();
        b.apply_delta(&delta(BookSide::Bid, "1.000000001", "1"));
        b.apply_delta(&delta(BookSide::Ask, "1.000000002", "1"));
        // 1.0000000015 -> 1.000000002 (even)
        assert_eq!(b.mid().map(|m| m.raw()), Some(1_000_000_002));
    }

    #[test]
    fn crossed_and_locked_detection() {
        let mut b = book();
        assert!(!b.is_crossed());
        b.apply_delta(&delta(BookSide::Bid, "100.50", "1")); // locked
        assert!(b.is_crossed());
        b.apply_delta(&delta(BookSide::Bid, "100.50", "0"));
        b.apply_delta(&delta(BookSide::Ask, "99.50", "1")); // crossed
        assert!(b.is_crossed());
        assert_eq!(b.spread(), Some(p("-0.50")));
        assert!(!OrderBook::new().is_crossed());
    }

    #[test]
    fn negative_prices_order_correctly() {
        let mut b = OrderBook::new();
        b.apply_delta(&delta(BookSide::Ask, "-1", "1"));
        b.apply_delta(&delta(BookSide::Ask, "-2", "1"));
        b.apply_delta(&delta(BookSide::Bid, "-3", "1"));
        b.apply_delta(&delta(BookSide::Bid, "-4", "1"));
        assert_eq!(b.best_ask().map(|l| l.price), Some(p("-2")));
        assert_eq!(b.best_bid().map(|l| l.price), Some(p("-3")));
    }
}
