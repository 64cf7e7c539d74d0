//! Average true range (Wilder).

use super::{IndicatorError, check_period};

/// Wilder's average true range (TA-Lib `ATR`). Lookback `period`.
///
/// True range needs the previous close, so the first bar only primes it. The first ATR
/// is the plain mean of the first `period` true ranges; after that
/// `atr = (atr·(period−1) + tr) / period`.
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    seen: usize,
    prev_close: f64,
    sum: f64,
    value: f64,
}

impl Atr {
    /// A new ATR; `period >= 2`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("ATR", "period", period, 2)?;
        Ok(Self {
            period,
            seen: 0,
            prev_close: 0.0,
            sum: 0.0,
            value: 0.0,
        })
    }

    /// Number of bars consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period
    }

    /// Feed one bar's high, low and close.
    #[inline]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.seen += 1;
        let prev = self.prev_close;
        self.prev_close = close;
        if self.seen == 1 {
            return None;
        }
        // TA-Lib's TRANGE: max of the bar range and the gaps to the previous close.
        let mut tr = high - low;
        let up = (prev - high).abs();
        if up > tr {
            tr = up;
        }
        let down = (prev - low).abs();
        if down > tr {
            tr = down;
        }
        let n = self.period as f64;
        if self.seen <= self.period + 1 {
            self.sum += tr;
            if self.seen <= self.period {
                return None;
            }
            self.value = self.sum / n;
            return Some(self.value);
        }
        self.value *= n - 1.0;
        self.value += tr;
        self.value /= n;
        Some(self.value)
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.prev_close = 0.0;
        self.sum = 0.0;
        self.value = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn true_range_uses_gaps() {
        let mut a = Atr::new(2).expect("valid");
        assert_eq!(a.update(10.0, 9.0, 9.5), None);
        assert_eq!(a.update(10.0, 9.0, 9.5), None); // tr 1
        assert_eq!(a.update(13.0, 12.0, 12.5), Some(2.25)); // gap: tr |9.5-13| = 3.5
        // tr = max(1, |12.5-12|, |12.5-11|) = 1.5 -> (2.25 + 1.5)/2
        assert_eq!(a.update(12.0, 11.0, 11.5), Some(1.875));
        assert_eq!(a.lookback(), 2);
        assert!(Atr::new(1).is_err());
    }
}
