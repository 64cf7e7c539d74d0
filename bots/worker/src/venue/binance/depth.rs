//! Binance's documented procedure for keeping a local order book in sync with the
//! diff-depth stream ("How to manage a local order book correctly", spot
//! web-socket-streams.md), as a pure state machine the feed drives:
//!
//! 1. buffer diff events while no snapshot is loaded;
//! 2. load a REST snapshot; if its `lastUpdateId` is older than the first buffered
//!    event (`U > lastUpdateId + 1`) it cannot be joined: fetch another;
//! 3. drop buffered events with `u <= lastUpdateId`;
//! 4. the first applied event must satisfy `U <= lastUpdateId + 1 <= u`;
//! 5. every later event must continue from the last applied one (`U <= last + 1 <= u`,
//!    which for a well-formed stream is `U == last + 1`); an event entirely at or before
//!    the last applied ID is a duplicate and is dropped; one that starts after
//!    `last + 1` is a gap: the book is discarded and the procedure restarts at step 1.

use std::collections::VecDeque;

use tradewind_core::data::{BookDelta, BookLevel, BookSide, OrderBook, UnixNanos};

use super::wire::{DepthSnapshot, DepthUpdate};

/// How many diff events to keep while waiting for a snapshot; older ones are dropped
/// (the snapshot then cannot be joined and a newer one is fetched).
pub const DEFAULT_MAX_BUFFER: usize = 10_000;

/// What [`DepthSync::on_update`] did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepthOutcome {
    /// No snapshot loaded yet: kept for later.
    Buffered,
    /// Applied; the book is now at `update_id`.
    Applied {
        /// The event's final update ID (`u`).
        update_id: u64,
    },
    /// Already covered by the book (`u <= last applied`): dropped.
    Stale,
    /// A sequence gap: the book was discarded and must be rebuilt from a new snapshot
    /// (the event that revealed the gap is buffered for it).
    Gap {
        /// Human-readable cause with the IDs involved.
        reason: String,
    },
}

/// Why a snapshot could not be joined to the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The snapshot predates the buffered events: fetch a newer one.
    #[error(
        "snapshot lastUpdateId {last_update_id} is older than the first buffered event (U={first_buffered})"
    )]
    TooOld {
        /// The snapshot's `lastUpdateId`.
        last_update_id: u64,
        /// `U` of the oldest buffered event.
        first_buffered: u64,
    },
    /// The buffered events have a gap after the snapshot.
    #[error("{0}")]
    Gap(String),
    /// The snapshot itself is malformed (a price twice on one side).
    #[error("snapshot refused: {0}")]
    Book(String),
}

/// The local book plus the sequencing state of the procedure.
#[derive(Debug, Clone)]
pub struct DepthSync {
    book: OrderBook,
    buffer: VecDeque<DepthUpdate>,
    max_buffer: usize,
    synced: bool,
    last_update_id: u64,
}

impl Default for DepthSync {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BUFFER)
    }
}

impl DepthSync {
    /// An empty, unsynced book buffering at most `max_buffer` events.
    pub fn new(max_buffer: usize) -> Self {
        Self {
            book: OrderBook::new(),
            buffer: VecDeque::new(),
            max_buffer: max_buffer.max(1),
            synced: false,
            last_update_id: 0,
        }
    }

    /// The local book (empty until synced).
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// `true` once a snapshot is loaded and no gap has been seen since.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Final update ID of the last snapshot or event applied.
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// Events waiting for a snapshot.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Forget everything (after a reconnect): back to step 1.
    pub fn reset(&mut self) {
        self.book.clear();
        self.buffer.clear();
        self.synced = false;
        self.last_update_id = 0;
    }

    /// Discard the book but keep the buffered events (a diff could not be used): the
    /// next snapshot rebuilds it.
    pub fn invalidate(&mut self) {
        self.book.clear();
        self.synced = false;
    }

    /// Feed one diff event.
    pub fn on_update(&mut self, update: DepthUpdate) -> DepthOutcome {
        if !self.synced {
            self.push_buffer(update);
            return DepthOutcome::Buffered;
        }
        if update.final_update_id <= self.last_update_id {
            return DepthOutcome::Stale;
        }
        let expected = self.last_update_id + 1;
        if update.first_update_id > expected {
            let reason = format!(
                "depth gap: expected update {expected}, event covers {}..={}",
                update.first_update_id, update.final_update_id
            );
            self.book.clear();
            self.synced = false;
            self.buffer.clear();
            self.push_buffer(update);
            return DepthOutcome::Gap { reason };
        }
        self.apply(&update);
        DepthOutcome::Applied {
            update_id: update.final_update_id,
        }
    }

    /// Load a REST snapshot taken at `ts` and replay the buffered events onto it.
    /// Returns how many buffered events were applied.
    pub fn apply_snapshot(
        &mut self,
        snapshot: &DepthSnapshot,
        ts: UnixNanos,
    ) -> Result<usize, SnapshotError> {
        let last = snapshot.last_update_id;
        // Events entirely covered by the snapshot are useless.
        while self
            .buffer
            .front()
            .is_some_and(|u| u.final_update_id <= last)
        {
            self.buffer.pop_front();
        }
        if let Some(first) = self.buffer.front()
            && first.first_update_id > last + 1
        {
            return Err(SnapshotError::TooOld {
                last_update_id: last,
                first_buffered: first.first_update_id,
            });
        }
        self.book
            .apply_snapshot(&snapshot.to_book_snapshot(ts))
            .map_err(|e| SnapshotError::Book(e.to_string()))?;
        self.last_update_id = last;
        self.synced = true;
        let mut pending = std::mem::take(&mut self.buffer).into_iter();
        let mut applied = 0;
        while let Some(update) = pending.next() {
            match self.on_update(update) {
                DepthOutcome::Applied { .. } => applied += 1,
                DepthOutcome::Stale | DepthOutcome::Buffered => {}
                DepthOutcome::Gap { reason } => {
                    // Keep what followed the gap for the next snapshot.
                    for rest in pending {
                        self.push_buffer(rest);
                    }
                    return Err(SnapshotError::Gap(reason));
                }
            }
        }
        Ok(applied)
    }

    fn push_buffer(&mut self, update: DepthUpdate) {
        if self.buffer.len() >= self.max_buffer {
            self.buffer.pop_front();
        }
        self.buffer.push_back(update);
    }

    fn apply(&mut self, update: &DepthUpdate) {
        let sides = [(BookSide::Bid, &update.bids), (BookSide::Ask, &update.asks)];
        for (side, levels) in sides {
            for &BookLevel { price, size } in levels.iter() {
                self.book.apply_delta(&BookDelta {
                    ts: update.ts,
                    side,
                    price,
                    size,
                });
            }
        }
        self.last_update_id = update.final_update_id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_core::fixed::{Price, Quantity};

    fn lvl(p: &str, q: &str) -> BookLevel {
        BookLevel {
            price: Price::parse(p, 2).unwrap(),
            size: Quantity::parse(q, 3).unwrap(),
        }
    }

    fn upd(first: u64, last: u64, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> DepthUpdate {
        DepthUpdate {
            ts: i64::try_from(last).unwrap(),
            first_update_id: first,
            final_update_id: last,
            bids: bids.iter().map(|(p, q)| lvl(p, q)).collect(),
            asks: asks.iter().map(|(p, q)| lvl(p, q)).collect(),
        }
    }

    fn snap(last: u64) -> DepthSnapshot {
        DepthSnapshot {
            last_update_id: last,
            bids: vec![lvl("100.00", "1.000"), lvl("99.00", "2.000")],
            asks: vec![lvl("101.00", "1.500"), lvl("102.00", "3.000")],
        }
    }

    fn best(s: &DepthSync) -> (String, String) {
        (
            s.book()
                .best_bid()
                .map(|l| format!("{}@{}", l.size, l.price))
                .unwrap_or_default(),
            s.book()
                .best_ask()
                .map(|l| format!("{}@{}", l.size, l.price))
                .unwrap_or_default(),
        )
    }

    #[test]
    fn buffers_until_snapshot_then_drops_covered_and_applies_the_rest() {
        let mut s = DepthSync::default();
        assert_eq!(
            s.on_update(upd(95, 98, &[("100.00", "9.000")], &[])),
            DepthOutcome::Buffered
        );
        assert_eq!(
            s.on_update(upd(99, 101, &[("100.00", "0.500")], &[])),
            DepthOutcome::Buffered
        );
        assert_eq!(
            s.on_update(upd(102, 103, &[], &[("101.00", "0")])),
            DepthOutcome::Buffered
        );
        // Snapshot at 100: event 95..=98 is covered and dropped, 99..=101 straddles it
        // (U <= 101 <= u) and is the first applied, then 102..=103 continues.
        assert_eq!(s.apply_snapshot(&snap(100), 1), Ok(2));
        assert!(s.is_synced());
        assert_eq!(s.last_update_id(), 103);
        assert_eq!(best(&s), ("0.500@100.00".into(), "3.000@102.00".into()));
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn duplicates_and_stale_events_are_dropped() {
        let mut s = DepthSync::default();
        s.apply_snapshot(&snap(100), 1).unwrap();
        assert_eq!(
            s.on_update(upd(101, 105, &[("99.50", "1.000")], &[])),
            DepthOutcome::Applied { update_id: 105 }
        );
        // The same event again, and an old one: both ignored, book unchanged.
        assert_eq!(
            s.on_update(upd(101, 105, &[("99.50", "7.000")], &[])),
            DepthOutcome::Stale
        );
        assert_eq!(
            s.on_update(upd(90, 100, &[("100.00", "0")], &[])),
            DepthOutcome::Stale
        );
        assert_eq!(best(&s), ("1.000@100.00".into(), "1.500@101.00".into()));
        assert_eq!(
            s.on_update(upd(106, 106, &[("100.00", "0")], &[])),
            DepthOutcome::Applied { update_id: 106 }
        );
        assert_eq!(best(&s).0, "1.000@99.50");
    }

    #[test]
    fn a_gap_discards_the_book_and_buffers_for_the_next_snapshot() {
        let mut s = DepthSync::default();
        s.apply_snapshot(&snap(100), 1).unwrap();
        s.on_update(upd(101, 102, &[], &[]));
        let out = s.on_update(upd(104, 106, &[("100.00", "5.000")], &[]));
        assert_eq!(
            out,
            DepthOutcome::Gap {
                reason: "depth gap: expected update 103, event covers 104..=106".into()
            }
        );
        assert!(!s.is_synced());
        assert_eq!(s.book().bid_levels(), 0);
        assert_eq!(s.buffered(), 1);
        assert_eq!(
            s.on_update(upd(107, 108, &[], &[("101.00", "4.000")])),
            DepthOutcome::Buffered
        );
        // A snapshot at 105 joins the buffered 104..=106 (U <= 106 <= u).
        assert_eq!(s.apply_snapshot(&snap(105), 2), Ok(2));
        assert_eq!(best(&s), ("5.000@100.00".into(), "4.000@101.00".into()));
        assert_eq!(s.last_update_id(), 108);
    }

    #[test]
    fn a_snapshot_older_than_the_buffer_is_refused() {
        let mut s = DepthSync::default();
        s.on_update(upd(120, 125, &[], &[]));
        assert_eq!(
            s.apply_snapshot(&snap(100), 1),
            Err(SnapshotError::TooOld {
                last_update_id: 100,
                first_buffered: 120
            })
        );
        assert!(!s.is_synced());
        // The buffer is kept for the next, newer snapshot.
        assert_eq!(s.apply_snapshot(&snap(121), 2), Ok(1));
        assert_eq!(s.last_update_id(), 125);
    }

    #[test]
    fn the_first_event_after_a_snapshot_must_reach_it() {
        // Snapshot at 100 with no buffered events; the first live event starts at 103.
        let mut s = DepthSync::default();
        s.apply_snapshot(&snap(100), 1).unwrap();
        assert!(matches!(
            s.on_update(upd(103, 104, &[], &[])),
            DepthOutcome::Gap { .. }
        ));
    }

    #[test]
    fn a_gap_inside_the_buffer_is_reported_by_the_snapshot() {
        let mut s = DepthSync::default();
        s.on_update(upd(99, 101, &[], &[]));
        s.on_update(upd(105, 106, &[], &[]));
        s.on_update(upd(107, 107, &[], &[]));
        assert_eq!(
            s.apply_snapshot(&snap(100), 1),
            Err(SnapshotError::Gap(
                "depth gap: expected update 102, event covers 105..=106".into()
            ))
        );
        assert!(!s.is_synced());
        assert_eq!(s.buffered(), 2);
    }

    #[test]
    fn the_buffer_is_bounded() {
        let mut s = DepthSync::new(2);
        for i in 0..5 {
            s.on_update(upd(10 * i + 1, 10 * i + 10, &[], &[]));
        }
        assert_eq!(s.buffered(), 2);
        // Only events 31..=50 remain, so a snapshot at 20 cannot be joined.
        assert!(matches!(
            s.apply_snapshot(&snap(20), 1),
            Err(SnapshotError::TooOld {
                first_buffered: 31,
                ..
            })
        ));
    }

    #[test]
    fn reset_forgets_everything() {
        let mut s = DepthSync::default();
        s.apply_snapshot(&snap(100), 1).unwrap();
        s.reset();
        assert!(!s.is_synced());
        assert_eq!(s.book().ask_levels(), 0);
        assert_eq!(s.on_update(upd(1, 2, &[], &[])), DepthOutcome::Buffered);
    }
}
