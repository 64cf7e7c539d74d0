//! Rolling standard deviation.

use super::variance::RollingVariance;
use super::{IndicatorError, check_period};

/// Population standard deviation of the last `period` inputs, times `nb_dev`
/// (TA-Lib `STDDEV`). Lookback `period - 1`.
///
/// The variance is computed accurately even at high price levels (see
/// `RollingVariance`), as TA-Lib 0.8 does; a window of equal inputs gives exactly 0.
#[derive(Debug, Clone)]
pub struct StdDev {
    period: usize,
    nb_dev: f64,
    var: RollingVariance,
}

impl StdDev {
    /// A new rolling standard deviation; `period >= 2`, `nb_dev` finite and `>= 0`.
    pub fn new(period: usize, nb_dev: f64) -> Result<Self, IndicatorError> {
        check_period("STDDEV", "period", period, 2)?;
        if !nb_dev.is_finite() || nb_dev < 0.0 {
            return Err(IndicatorError::BadMultiplier {
                indicator: "STDDEV",
                name: "nb_dev",
                value: nb_dev,
            });
        }
        Ok(Self {
            period,
            nb_dev,
            var: RollingVariance::new(period),
        })
    }

    /// Number of inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// Feed one value.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.var.update(x).map(|v| v.sqrt() * self.nb_dev)
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.var.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_std_dev() {
        let mut s = StdDev::new(4, 1.0).expect("valid");
        let out: Vec<_> = [2.0, 4.0, 4.0, 4.0, 5.0]
            .iter()
            .map(|&x| s.update(x))
            .collect();
        assert_eq!(out[..3], [None, None, None]);
        // [2,4,4,4]: mean 3.5, var 0.75
        assert!((out[3].expect("warm") - 0.75_f64.sqrt()).abs() < 1e-12);
        let mut flat = StdDev::new(2, 2.0).expect("valid");
        flat.update(7.0);
        assert_eq!(flat.update(7.0), Some(0.0));
        assert!(StdDev::new(5, -1.0).is_err());
        assert!(StdDev::new(5, f64::NAN).is_err());
    }
}
