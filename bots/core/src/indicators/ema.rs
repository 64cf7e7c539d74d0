//! Exponential moving average.

use super::{IndicatorError, check_period, per_to_k};

/// Exponential moving average with `k = 2 / (period + 1)` (TA-Lib `EMA`, default
/// compatibility): the first value is the SMA of the first `period` inputs, then
/// `ema = (x - ema) * k + ema` as one fused multiply-add. Lookback `period - 1`.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    k: f64,
    seen: usize,
    sum: f64,
    value: f64,
}

impl Ema {
    /// A new EMA; `period >= 2`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("EMA", "period", period, 2)?;
        Ok(Self::with_k(period, per_to_k(period)))
    }

    /// Any period >= 1 with an explicit smoothing factor (used by MACD's signal line,
    /// which TA-Lib allows to be 1).
    pub(crate) fn with_k(period: usize, k: f64) -> Self {
        Self {
            period,
            k,
            seen: 0,
            sum: 0.0,
            value: 0.0,
        }
    }

    /// Number of inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// Feed one value; the EMA once `period` values have been seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if self.seen >= self.period {
            // TA-Lib 0.8's exact form, a fused multiply-add of `(x − ema)·k + ema`
            // (not k·x + (1−k)·ema), for bit-identical results.
            self.value = (x - self.value).mul_add(self.k, self.value);
            return Some(self.value);
        }
        self.seen += 1;
        self.sum += x;
        if self.seen < self.period {
            return None;
        }
        self.value = self.sum / self.period as f64;
        Some(self.value)
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.sum = 0.0;
        self.value = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_with_sma_then_smooths() {
        let mut e = Ema::new(3).expect("valid");
        assert_eq!(e.update(1.0), None);
        assert_eq!(e.update(2.0), None);
        assert_eq!(e.update(3.0), Some(2.0)); // SMA seed
        assert_eq!(e.update(6.0), Some(4.0)); // (6-2)*0.5+2
        assert_eq!(e.lookback(), 2);
        e.reset();
        assert_eq!(e.update(1.0), None);
        assert!(Ema::new(1).is_err());
    }
}
