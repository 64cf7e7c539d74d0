//! Largest-triangle-three-buckets: the points a line draws when a series is longer
//! than a chart can show.

use tradewind_core::data::UnixNanos;

/// One kept point: its position in the stream, time and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point<V> {
    /// 0-based index in the stream (orders and de-duplicates candidates).
    pub index: u64,
    /// Time.
    pub ts: UnixNanos,
    /// Value.
    pub value: V,
}

/// Largest-triangle-three-buckets (Steinarsson 2013): keeps the first and last point and,
/// from each of `threshold − 2` buckets between, the point forming the largest triangle
/// with the point kept before it and the mean of the next bucket, which keeps a line's
/// visual shape far better than taking every n-th point. Fewer points than `threshold`
/// are returned unchanged. `y` gives a value's height; times are the x axis.
pub fn lttb<V: Copy>(pts: &[Point<V>], threshold: usize, y: impl Fn(V) -> f64) -> Vec<Point<V>> {
    if threshold >= pts.len() || threshold < 3 {
        return if threshold < 3 && pts.len() > threshold {
            // Too small a budget for the middle: the ends only.
            pts.first()
                .into_iter()
                .chain(pts.last().filter(|_| threshold >= 2 && pts.len() > 1))
                .copied()
                .collect()
        } else {
            pts.to_vec()
        };
    }
    let x = |p: &Point<V>| p.ts as f64;
    let mut out = Vec::with_capacity(threshold);
    out.push(pts[0]);
    let every = (pts.len() - 2) as f64 / (threshold - 2) as f64;
    let mut a = 0usize;
    for i in 0..threshold - 2 {
        let start = (i as f64 * every) as usize + 1;
        let end = (((i + 1) as f64 * every) as usize + 1).min(pts.len() - 1);
        // Mean of the next bucket (the last point for the last bucket).
        let next_start = end;
        let next_end = (((i + 2) as f64 * every) as usize + 1).min(pts.len());
        let next = &pts[next_start..next_end.max(next_start + 1)];
        let n = next.len() as f64;
        let (mx, my) = next
            .iter()
            .fold((0.0, 0.0), |(sx, sy), p| (sx + x(p), sy + y(p.value)));
        let (mx, my) = (mx / n, my / n);
        let (ax, ay) = (x(&pts[a]), y(pts[a].value));
        let mut best = start;
        let mut best_area = -1.0;
        for (j, p) in pts[start..end.max(start + 1)].iter().enumerate() {
            let area = ((ax - mx) * (y(p.value) - ay) - (ax - x(p)) * (my - ay)).abs();
            if area > best_area {
                best_area = area;
                best = start + j;
            }
        }
        out.push(pts[best]);
        a = best;
    }
    out.push(pts[pts.len() - 1]);
    out
}
