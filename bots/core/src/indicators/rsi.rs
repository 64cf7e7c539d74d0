//! Relative strength index (Wilder).

use super::{IndicatorError, check_period};

/// Wilder's RSI (TA-Lib `RSI`, default compatibility). Lookback `period`.
///
/// The first value uses the plain averages of the first `period` gains and losses; after
/// that both are smoothed as `avg = (avg·(period−1) + today) / period`. The output is
/// `100·gain/(gain+loss)`, and 0 when `gain+loss` is exactly 0 (a flat market).
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    seen: usize,
    prev: f64,
    gain: f64,
    loss: f64,
}

impl Rsi {
    /// A new RSI; `period >= 2`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("RSI", "period", period, 2)?;
        Ok(Self {
            period,
            seen: 0,
            prev: 0.0,
            gain: 0.0,
            loss: 0.0,
        })
    }

    /// Number of inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period
    }

    fn value(&self) -> f64 {
        let total = self.gain + self.loss;
        // TA-Lib 0.8 tests for an exact zero: tiny averages after a long flat stretch
        // still give a ratio.
        if total == 0.0 {
            0.0
        } else {
            100.0 * (self.gain / total)
        }
    }

    /// Feed one value; the RSI once `period + 1` values have been seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        let n = self.period as f64;
        let diff = x - self.prev;
        self.prev = x;
        self.seen += 1;
        if self.seen == 1 {
            return None;
        }
        if self.seen <= self.period + 1 {
            if diff < 0.0 {
                self.loss -= diff;
            } else {
                self.gain += diff;
            }
            if self.seen <= self.period {
                return None;
            }
            self.loss /= n;
            self.gain /= n;
            return Some(self.value());
        }
        // Wilder smoothing in TA-Lib 0.8's order of operations: scale by (n−1), add
        // today's move, multiply by 1/n (bit-identical to TA-Lib).
        let inv = 1.0 / n;
        let (up, down) = if diff < 0.0 {
            (0.0, -diff)
        } else {
            (diff, 0.0)
        };
        self.loss = (self.loss * (n - 1.0) + down) * inv;
        self.gain = (self.gain * (n - 1.0) + up) * inv;
        Some(self.value())
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.prev = 0.0;
        self.gain = 0.0;
        self.loss = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilder_rsi_by_hand() {
        let mut r = Rsi::new(2).expect("valid");
        assert_eq!(r.update(10.0), None);
        assert_eq!(r.update(11.0), None);
        // gains 1+0, losses 0+1 -> 0.5/0.5 -> 50
        assert_eq!(r.update(10.0), Some(50.0));
        // gain = (0.5·1 + 2)/2 = 1.25, loss = (0.5·1 + 0)/2 = 0.25 -> 83.33
        let v = r.update(12.0).expect("warm");
        assert!((v - 100.0 * 1.25 / 1.5).abs() < 1e-12);
        assert_eq!(r.lookback(), 2);
    }

    #[test]
    fn flat_market_is_zero() {
        let mut r = Rsi::new(3).expect("valid");
        let out: Vec<_> = (0..6).map(|_| r.update(5.0)).collect();
        assert_eq!(out[3..], [Some(0.0), Some(0.0), Some(0.0)]);
    }
}
