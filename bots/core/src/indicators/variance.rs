//! Rolling population variance that stays accurate at high price levels.

use super::window::Window;

/// Population variance of the last `period` inputs in O(1) amortised time.
///
/// The textbook running-sums form `mean(x²) − mean(x)²` loses almost every digit when
/// prices are large and the window is quiet (BTC at 87,000 moving by a cent: the two
/// terms agree to 15 digits). TA-Lib 0.8 computes an accurate variance, so we do too:
/// sums are kept of `x − anchor`, where the anchor is a recent input, which makes the
/// terms small; and every `period` updates the sums are recomputed from the window with
/// a fresh anchor, so rounding cannot accumulate and the anchor cannot drift away. A
/// window whose inputs are all equal has variance exactly 0 (tracked by a run counter,
/// because sums that went up and down need not return to exactly zero).
#[derive(Debug, Clone)]
pub(crate) struct RollingVariance {
    period: usize,
    window: Window,
    anchor: f64,
    sum: f64,
    sum_sq: f64,
    since_rebase: usize,
    last: f64,
    equal_run: usize,
}

impl RollingVariance {
    /// A window of `period >= 1` inputs.
    pub(crate) fn new(period: usize) -> Self {
        Self {
            period,
            window: Window::new(period),
            anchor: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
            since_rebase: 0,
            last: f64::NAN,
            equal_run: 0,
        }
    }

    /// Feed one value; the variance once `period` values have been seen.
    #[inline]
    pub(crate) fn update(&mut self, x: f64) -> Option<f64> {
        self.equal_run = if x == self.last {
            self.equal_run + 1
        } else {
            1
        };
        self.last = x;
        if self.window.is_full() {
            let old = self.window.oldest() - self.anchor;
            self.sum -= old;
            self.sum_sq -= old * old;
        } else if self.window.is_empty() {
            self.anchor = x;
        }
        self.window.push(x);
        let d = x - self.anchor;
        self.sum += d;
        self.sum_sq += d * d;
        self.since_rebase += 1;
        if !self.window.is_full() {
            return None;
        }
        if self.since_rebase >= self.period {
            self.rebase(x);
        }
        if self.equal_run >= self.period {
            return Some(0.0);
        }
        let n = self.period as f64;
        let mean = self.sum / n;
        Some((self.sum_sq / n - mean * mean).max(0.0))
    }

    /// Recompute the sums exactly from the window around a new anchor.
    fn rebase(&mut self, anchor: f64) {
        self.anchor = anchor;
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for v in self.window.iter() {
            let d = v - anchor;
            sum += d;
            sum_sq += d * d;
        }
        self.sum = sum;
        self.sum_sq = sum_sq;
        self.since_rebase = 0;
    }

    /// Back to the initial state.
    pub(crate) fn reset(&mut self) {
        *self = Self::new(self.period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accurate_at_high_price_levels() {
        // A cent of movement at 87,232: the naive formula returns noise here.
        let xs = [87232.00, 87232.01, 87232.00, 87232.01];
        let mut v = RollingVariance::new(4);
        let out: Vec<_> = xs.iter().map(|&x| v.update(x)).collect();
        let var = out[3].expect("warm");
        // The inputs are binary approximations of the decimals, so allow 1e-12.
        assert!((var - 0.000025).abs() < 1e-12, "{var}");
        // The textbook formula on the same inputs is off by orders of magnitude more.
        let (s, s2) = xs.iter().fold((0.0, 0.0), |(a, b), x| (a + x, b + x * x));
        let naive: f64 = s2 / 4.0 - (s / 4.0) * (s / 4.0);
        assert!((naive - 0.000025).abs() > 1e-9, "naive {naive}");
    }

    #[test]
    fn flat_window_is_exactly_zero_and_rebase_keeps_accuracy() {
        let mut v = RollingVariance::new(3);
        let mut last = None;
        for i in 0..100 {
            last = v.update(100.0 + f64::from(i % 7) * 0.01);
        }
        assert!(last.expect("warm") > 0.0);
        for _ in 0..3 {
            last = v.update(123.45);
        }
        assert_eq!(last, Some(0.0));
        v.reset();
        assert_eq!(v.update(1.0), None);
    }
}
