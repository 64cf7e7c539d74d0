//! The bot's own working orders: a slab of order slots, an id index, and per-side price
//! levels with FIFO queues (price-time priority).
//!
//! Layout follows high-throughput matching engines: orders live in one `Vec` addressed by
//! `u32` slot indexes (freed slots are reused, so steady-state place/cancel allocates
//! nothing); each price level is an intrusive doubly linked list through those slots, so
//! cancel is O(1) after the id look-up; levels are a sorted `Vec` with the best level
//! **last**, where most inserts and removals happen.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::data::Side;
use crate::fixed::Price;
use crate::orders::{ClientOrderId, OrderKind, TimeInForce};

/// "No slot" marker for the intrusive list links.
pub(super) const NIL: u32 = u32::MAX;

/// Where a live order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// Unused slot on the free list.
    Free,
    /// Resting in a price level.
    Resting,
    /// Waiting for its stop trigger.
    Stop,
    /// Bar mode: waiting for the next bar's open.
    Pending,
}

/// One live order. `quantity`/`filled` are raw quantity units.
#[derive(Clone, Copy, Debug)]
pub(super) struct Order {
    pub id: ClientOrderId,
    /// Arrival sequence number: the time part of price-time priority.
    pub seq: u64,
    pub side: Side,
    pub kind: OrderKind,
    pub tif: TimeInForce,
    pub post_only: bool,
    pub slot: Slot,
    /// Limit price while resting (the order's limit, or a triggered stop-limit's limit).
    pub limit: Price,
    pub quantity: u64,
    pub filled: u64,
    /// Display precision for fill quantities (widens if a fill had more decimals).
    pub precision: u8,
    prev: u32,
    next: u32,
}

impl Order {
    /// A new order, not yet placed anywhere.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: ClientOrderId,
        seq: u64,
        side: Side,
        kind: OrderKind,
        tif: TimeInForce,
        post_only: bool,
        quantity: u64,
        precision: u8,
    ) -> Self {
        Self {
            id,
            seq,
            side,
            kind,
            tif,
            post_only,
            slot: Slot::Free,
            limit: kind.limit_price().unwrap_or(Price::ZERO),
            quantity,
            filled: 0,
            precision,
            prev: NIL,
            next: NIL,
        }
    }

    /// Quantity still open.
    pub fn remaining(&self) -> u64 {
        self.quantity - self.filled
    }
}

/// Multiplicative hasher for the `u64` order ids: ids are trusted (our own sequence
/// numbers), so SipHash's DoS resistance buys nothing and costs ~3× per look-up.
/// Look-ups only; nothing iterates the map, so hash order never reaches outputs.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low bits the table indexes by.
        self.0 ^ (self.0 >> 32)
    }
}

/// A price level: its ordering key and FIFO queue ends.
#[derive(Clone, Copy, Debug)]
struct Level {
    key: i64,
    head: u32,
    tail: u32,
}

/// Sort key that puts the best level last: bids by price, asks by complemented price
/// (`!raw` reverses the order without negation's overflow).
#[inline]
fn key_of(side: Side, raw: i64) -> i64 {
    match side {
        Side::Buy => raw,
        Side::Sell => !raw,
    }
}

/// Index of `key` (Ok) or where to insert it (Err); checks the top level first since
/// that is where most traffic lands.
#[inline]
fn find(levels: &[Level], key: i64) -> Result<usize, usize> {
    match levels.last() {
        Some(l) if l.key == key => Ok(levels.len() - 1),
        Some(l) if l.key < key => Err(levels.len()),
        _ => levels.binary_search_by_key(&key, |l| l.key),
    }
}

/// The bot's own live orders on one instrument.
#[derive(Clone, Debug, Default)]
pub(super) struct OwnBook {
    orders: Vec<Order>,
    free: Vec<u32>,
    ids: HashMap<ClientOrderId, u32, BuildHasherDefault<IdHasher>>,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

impl OwnBook {
    /// Slot of a live order.
    #[inline]
    pub fn lookup(&self, id: ClientOrderId) -> Option<u32> {
        self.ids.get(&id).copied()
    }

    /// Number of live orders.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The order in `slot`.
    #[inline]
    pub fn get(&self, slot: u32) -> &Order {
        &self.orders[slot as usize]
    }

    /// The order in `slot`, mutably.
    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> &mut Order {
        &mut self.orders[slot as usize]
    }

    /// All live orders, in slot order (callers sort if they need a stable order).
    pub fn live(&self) -> impl Iterator<Item = &Order> {
        self.orders.iter().filter(|o| o.slot != Slot::Free)
    }

    /// Store `order` with state `slot` and index its id; the caller has checked the id
    /// is not live.
    #[inline]
    pub fn insert(&mut self, mut order: Order, slot: Slot) -> u32 {
        order.slot = slot;
        let idx = match self.free.pop() {
            Some(i) => {
                self.orders[i as usize] = order;
                i
            }
            None => {
                // u32 slots: four billion live orders is far beyond any bot.
                let i = u32::try_from(self.orders.len()).unwrap_or(NIL - 1);
                self.orders.push(order);
                i
            }
        };
        self.ids.insert(order.id, idx);
        idx
    }

    /// Forget the order in `slot` (it must not be linked into a level).
    #[inline]
    pub fn release(&mut self, slot: u32) {
        let o = &mut self.orders[slot as usize];
        self.ids.remove(&o.id);
        o.slot = Slot::Free;
        self.free.push(slot);
    }

    fn side_levels(&mut self, side: Side) -> &mut Vec<Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Append the order in `slot` to the back of its price level (time priority).
    #[inline]
    pub fn rest(&mut self, slot: u32) {
        let (side, key) = {
            let o = &mut self.orders[slot as usize];
            o.slot = Slot::Resting;
            o.prev = NIL;
            o.next = NIL;
            (o.side, key_of(o.side, o.limit.raw()))
        };
        let levels = self.side_levels(side);
        match find(levels, key) {
            Ok(i) => {
                let tail = levels[i].tail;
                levels[i].tail = slot;
                self.orders[tail as usize].next = slot;
                self.orders[slot as usize].prev = tail;
            }
            Err(i) => levels.insert(
                i,
                Level {
                    key,
                    head: slot,
                    tail: slot,
                },
            ),
        }
    }

    /// Unlink the resting order in `slot` from its level (dropping the level if empty).
    /// The slot stays allocated; call [`OwnBook::release`] to free it.
    #[inline]
    pub fn unrest(&mut self, slot: u32) {
        let (side, key, prev, next) = {
            let o = &self.orders[slot as usize];
            (o.side, key_of(o.side, o.limit.raw()), o.prev, o.next)
        };
        if prev != NIL {
            self.orders[prev as usize].next = next;
        }
        if next != NIL {
            self.orders[next as usize].prev = prev;
        }
        let levels = self.side_levels(side);
        if let Ok(i) = find(levels, key) {
            if prev == NIL && next == NIL {
                levels.remove(i);
            } else if prev == NIL {
                levels[i].head = next;
            } else if next == NIL {
                levels[i].tail = prev;
            }
        }
        let o = &mut self.orders[slot as usize];
        o.prev = NIL;
        o.next = NIL;
    }

    /// Slot of the first order in the best level of `side`.
    #[inline]
    pub fn best(&self, side: Side) -> Option<u32> {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        levels.last().map(|l| l.head)
    }

    /// Resting orders of `side`, best price first, then time priority.
    pub fn resting(&self, side: Side) -> impl Iterator<Item = &Order> + '_ {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        levels.iter().rev().flat_map(move |l| {
            let mut cur = l.head;
            std::iter::from_fn(move || {
                if cur == NIL {
                    return None;
                }
                let o = &self.orders[cur as usize];
                cur = o.next;
                Some(o)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: u64, side: Side, price: &str) -> Order {
        let p: Price = price.parse().expect("price");
        Order::new(
            ClientOrderId(id),
            id,
            side,
            OrderKind::Limit { price: p },
            TimeInForce::Gtc,
            false,
            1,
            0,
        )
    }

    fn ids(book: &OwnBook, side: Side) -> Vec<u64> {
        book.resting(side).map(|o| o.id.0).collect()
    }

    #[test]
    fn price_time_priority_and_unlink_anywhere() {
        let mut b = OwnBook::default();
        for (id, side, px) in [
            (1, Side::Buy, "100"),
            (2, Side::Buy, "101"),
            (3, Side::Buy, "100"),
            (4, Side::Buy, "99"),
            (5, Side::Buy, "100"),
            (6, Side::Sell, "103"),
            (7, Side::Sell, "102"),
            (8, Side::Sell, "103"),
        ] {
            let s = b.insert(order(id, side, px), Slot::Free);
            b.rest(s);
        }
        assert_eq!(ids(&b, Side::Buy), vec![2, 1, 3, 5, 4]);
        assert_eq!(ids(&b, Side::Sell), vec![7, 6, 8]);
        // Unlink middle, head, tail of the 100 level.
        for id in [3, 1, 5] {
            let s = b.lookup(ClientOrderId(id)).expect("live");
            b.unrest(s);
            b.release(s);
        }
        assert_eq!(ids(&b, Side::Buy), vec![2, 4]);
        assert_eq!(b.len(), 5);
        // Freed slots are reused; the new order joins the back of the queue.
        let s = b.insert(order(9, Side::Sell, "102"), Slot::Free);
        b.rest(s);
        assert_eq!(ids(&b, Side::Sell), vec![7, 9, 6, 8]);
        assert_eq!(b.best(Side::Sell).map(|s| b.get(s).id.0), Some(7));
        assert_eq!(b.live().count(), 6);
        assert_eq!(b.lookup(ClientOrderId(3)), None);
    }
}
