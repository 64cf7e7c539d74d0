//! Moving average convergence/divergence.

use super::ema::Ema;
use super::{IndicatorError, check_period, per_to_k};

/// One MACD output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    /// Fast EMA − slow EMA.
    pub macd: f64,
    /// EMA of `macd` over the signal period.
    pub signal: f64,
    /// `macd − signal`.
    pub hist: f64,
}

/// MACD with TA-Lib's conventions (`MACD(12, 26, 9)` by default in most tools).
///
/// Lookback `(slow − 1) + (signal − 1)`. TA-Lib aligns the two EMAs: both produce their
/// first value at input `slow − 1`, so the **fast EMA is seeded with the SMA of the
/// `fast` inputs ending there**, not of the first `fast` inputs. The MACD line then
/// feeds the signal EMA (seeded with the SMA of its first `signal` values); nothing is
/// output until the signal line exists.
#[derive(Debug, Clone)]
pub struct Macd {
    fast_period: usize,
    slow_period: usize,
    signal_period: usize,
    seen: usize,
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    /// A new MACD; `2 <= fast < slow`, `signal >= 1`.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        check_period("MACD", "fast period", fast, 2)?;
        check_period("MACD", "slow period", slow, 2)?;
        check_period("MACD", "signal period", signal, 1)?;
        if fast >= slow {
            return Err(IndicatorError::FastNotFaster { fast, slow });
        }
        Ok(Self {
            fast_period: fast,
            slow_period: slow,
            signal_period: signal,
            seen: 0,
            fast: Ema::with_k(fast, per_to_k(fast)),
            slow: Ema::with_k(slow, per_to_k(slow)),
            signal: Ema::with_k(signal, per_to_k(signal)),
        })
    }

    /// Number of inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        (self.slow_period - 1) + (self.signal_period - 1)
    }

    /// Feed one value.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<MacdValue> {
        self.seen += 1;
        // The fast EMA starts late so its seed window ends where the slow one's does.
        let fast = if self.seen > self.slow_period - self.fast_period {
            self.fast.update(x)
        } else {
            None
        };
        let slow = self.slow.update(x);
        let (Some(fast), Some(slow)) = (fast, slow) else {
            return None;
        };
        let macd = fast - slow;
        let signal = self.signal.update(macd)?;
        Some(MacdValue {
            macd,
            signal,
            hist: macd - signal,
        })
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookback_and_parameter_checks() {
        let mut m = Macd::new(12, 26, 9).expect("valid");
        assert_eq!(m.lookback(), 33);
        let outs: Vec<_> = (0..40).map(|i| m.update(100.0 + f64::from(i))).collect();
        assert!(outs[..33].iter().all(Option::is_none));
        assert!(outs[33..].iter().all(Option::is_some));
        // A steady uptrend: fast EMA above slow EMA.
        assert!(outs[39].expect("warm").macd > 0.0);
        assert!(matches!(
            Macd::new(26, 12, 9),
            Err(IndicatorError::FastNotFaster { .. })
        ));
        assert!(Macd::new(12, 26, 0).is_err());
        assert!(Macd::new(2, 3, 1).is_ok());
    }
}
