//! Simple moving average.

use super::window::Window;
use super::{IndicatorError, check_period};

/// Simple moving average of the last `period` inputs (TA-Lib `SMA`).
///
/// Lookback `period - 1`. Keeps a running total like TA-Lib (add the new value, divide,
/// then subtract the value leaving the window), so results are bit-identical to it.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    window: Window,
    total: f64,
}

impl Sma {
    /// A new SMA; `period >= 2` (TA-Lib's range).
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("SMA", "period", period, 2)?;
        Ok(Self {
            period,
            window: Window::new(period),
            total: 0.0,
        })
    }

    /// Number of inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// Feed one value; the average once `period` values have been seen.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.total += x;
        self.window.push(x);
        if !self.window.is_full() {
            return None;
        }
        let out = self.total / self.period as f64;
        self.total -= self.window.oldest();
        Some(out)
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.window.clear();
        self.total = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_after_warm_up() {
        let mut s = Sma::new(3).expect("valid");
        let out: Vec<_> = [1.0, 2.0, 3.0, 4.0, 8.0]
            .iter()
            .map(|&x| s.update(x))
            .collect();
        assert_eq!(out, vec![None, None, Some(2.0), Some(3.0), Some(5.0)]);
        assert_eq!(s.lookback(), 2);
        s.reset();
        assert_eq!(s.update(1.0), None);
        assert!(Sma::new(1).is_err());
    }
}
