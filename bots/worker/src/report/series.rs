//! Chart series reduced while a backtest streams, so a report of any length needs the
//! same memory: [`Reducer`] keeps a bounded set of candidate points and [`lttb`]
//! (largest-triangle-three-buckets) picks the points drawn; [`Thinned`] keeps an evenly
//! spaced sample of markers. The summary and statistics never come from these: they are
//! computed exactly from every point.

use tradewind_core::data::UnixNanos;

pub use tradewind_charts::lttb::{Point, lttb};

#[derive(Clone, Copy, Debug)]
struct Bucket<V> {
    first: Point<V>,
    last: Point<V>,
    min: Point<V>,
    max: Point<V>,
    len: u64,
}

impl<V: Copy + PartialOrd> Bucket<V> {
    fn new(p: Point<V>) -> Self {
        Self {
            first: p,
            last: p,
            min: p,
            max: p,
            len: 1,
        }
    }

    fn add(&mut self, p: Point<V>) {
        self.last = p;
        if p.value < self.min.value {
            self.min = p;
        }
        if p.value > self.max.value {
            self.max = p;
        }
        self.len += 1;
    }

    fn merge(self, later: Self) -> Self {
        Self {
            first: self.first,
            last: later.last,
            min: if later.min.value < self.min.value {
                later.min
            } else {
                self.min
            },
            max: if later.max.value > self.max.value {
                later.max
            } else {
                self.max
            },
            len: self.len + later.len,
        }
    }
}

/// A stream of points cut into at most `capacity` buckets of consecutive points, each
/// keeping its first, last, lowest and highest point. When the buckets are full,
/// neighbours merge and the bucket width doubles, so memory stays bounded while every
/// extreme and both ends survive. Up to `capacity` points nothing is dropped.
#[derive(Clone, Debug)]
pub struct Reducer<V> {
    capacity: usize,
    width: u64,
    buckets: Vec<Bucket<V>>,
    seen: u64,
}

impl<V: Copy + PartialOrd> Reducer<V> {
    /// A reducer of at most `capacity` buckets (at least 2).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(2),
            width: 1,
            buckets: Vec::new(),
            seen: 0,
        }
    }

    /// Adds the next point.
    pub fn push(&mut self, ts: UnixNanos, value: V) {
        let p = Point {
            index: self.seen,
            ts,
            value,
        };
        self.seen += 1;
        match self.buckets.last_mut() {
            Some(b) if b.len < self.width => b.add(p),
            _ => {
                if self.buckets.len() == self.capacity {
                    self.halve();
                    if let Some(b) = self.buckets.last_mut()
                        && b.len < self.width
                    {
                        b.add(p);
                        return;
                    }
                }
                self.buckets.push(Bucket::new(p));
            }
        }
    }

    fn halve(&mut self) {
        let merged: Vec<Bucket<V>> = self
            .buckets
            .chunks(2)
            .map(|c| match c {
                [a, b] => a.merge(*b),
                [a] => *a,
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
        self.buckets = merged;
        self.width *= 2;
    }

    /// Points pushed so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The candidate points in stream order (each at most once).
    pub fn points(&self) -> Vec<Point<V>> {
        let mut out: Vec<Point<V>> = Vec::with_capacity(self.buckets.len() * 4);
        for b in &self.buckets {
            let mut four = [b.first, b.min, b.max, b.last];
            four.sort_by_key(|p| p.index);
            for p in four {
                if out.last().is_none_or(|q| q.index != p.index) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// At most `threshold` points chosen by [`lttb`] from the candidates.
    pub fn downsampled(&self, threshold: usize, y: impl Fn(V) -> f64) -> Vec<Point<V>> {
        lttb(&self.points(), threshold, y)
    }
}

/// An evenly spaced sample of at most `capacity` items from a stream: every item until
/// full, then every second, fourth, … (the stride doubles each time it fills).
#[derive(Clone, Debug)]
pub struct Thinned<T> {
    capacity: usize,
    stride: u64,
    seen: u64,
    items: Vec<T>,
}

impl<T> Thinned<T> {
    /// At most `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            stride: 1,
            seen: 0,
            items: Vec::new(),
        }
    }

    /// Offers the next item.
    pub fn push(&mut self, item: T) {
        if self.seen.is_multiple_of(self.stride) {
            self.items.push(item);
            if self.items.len() > self.capacity {
                let mut i = 0;
                self.items.retain(|_| {
                    i += 1;
                    (i - 1) % 2 == 0
                });
                self.stride *= 2;
            }
        }
        self.seen += 1;
    }

    /// Every how many items one is kept.
    pub fn stride(&self) -> u64 {
        self.stride
    }

    /// The kept items, in order.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_are_kept_whole() {
        let mut r = Reducer::new(100);
        for i in 0..50 {
            r.push(i, (i % 7) as f64);
        }
        let pts = r.points();
        assert_eq!(pts.len(), 50);
        assert_eq!(lttb(&pts, 100, |v| v).len(), 50);
    }

    #[test]
    fn long_series_keep_their_ends_and_extremes_in_bounded_memory() {
        let mut r = Reducer::new(64);
        let n = 1_000_003u64;
        let value = |i: u64| ((i as f64) / 5_000.0).sin() + if i == 777_777 { 10.0 } else { 0.0 };
        for i in 0..n {
            r.push(i as i64, value(i));
        }
        assert!(r.buckets.len() <= 64);
        let pts = r.points();
        assert!(pts.len() <= 4 * 64, "{}", pts.len());
        assert!(pts.windows(2).all(|w| w[0].index < w[1].index));
        assert_eq!(pts[0].index, 0);
        assert_eq!(pts.last().map(|p| p.index), Some(n - 1));
        // The spike survives reduction and the triangle selection.
        assert!(pts.iter().any(|p| p.index == 777_777));
        let drawn = r.downsampled(50, |v| v);
        assert_eq!(drawn.len(), 50);
        assert!(drawn.iter().any(|p| p.index == 777_777));
        assert_eq!(drawn.last().map(|p| p.index), Some(n - 1));
    }

    #[test]
    fn lttb_keeps_a_lone_spike_and_both_ends() {
        let pts: Vec<Point<f64>> = (0..1_000)
            .map(|i| Point {
                index: i,
                ts: i as i64,
                value: if i == 503 { 50.0 } else { i as f64 / 1_000.0 },
            })
            .collect();
        let out = lttb(&pts, 20, |v| v);
        assert_eq!(out.len(), 20);
        assert!(out.iter().any(|p| p.index == 503));
        assert_eq!((out[0].index, out[19].index), (0, 999));
        assert!(out.windows(2).all(|w| w[0].index < w[1].index));
    }

    #[test]
    fn thinning_keeps_an_even_sample() {
        let mut t = Thinned::new(10);
        for i in 0..100u32 {
            t.push(i);
        }
        assert_eq!(t.stride(), 16);
        assert_eq!(t.into_items(), vec![0, 16, 32, 48, 64, 80, 96]);
        let mut small = Thinned::new(10);
        (0..10u32).for_each(|i| small.push(i));
        assert_eq!((small.stride(), small.into_items().len()), (1, 10));
    }
}
