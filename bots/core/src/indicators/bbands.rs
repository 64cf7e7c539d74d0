//! Bollinger Bands.

use super::sma::Sma;
use super::variance::RollingVariance;
use super::{IndicatorError, check_period};

/// One set of bands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerValue {
    /// `middle + nb_dev_up · σ`.
    pub upper: f64,
    /// SMA of the last `period` inputs.
    pub middle: f64,
    /// `middle − nb_dev_down · σ`.
    pub lower: f64,
}

/// Bollinger Bands over an SMA with the **population** standard deviation σ (TA-Lib
/// `BBANDS` with `matype = SMA`). Lookback `period - 1`.
///
/// σ is computed accurately even at high price levels, as TA-Lib 0.8 does (see
/// [`StdDev`](super::StdDev)); the middle band is TA-Lib's running-total SMA.
#[derive(Debug, Clone)]
pub struct BollingerBands {
    period: usize,
    nb_dev_up: f64,
    nb_dev_down: f64,
    sma: Sma,
    var: RollingVariance,
}

impl BollingerBands {
    /// New bands; `period >= 2`, multipliers finite and `>= 0`.
    pub fn new(period: usize, nb_dev_up: f64, nb_dev_down: f64) -> Result<Self, IndicatorError> {
        check_period("BBANDS", "period", period, 2)?;
        for (name, value) in [("nb_dev_up", nb_dev_up), ("nb_dev_down", nb_dev_down)] {
            if !value.is_finite() || value < 0.0 {
                return Err(IndicatorError::BadMultiplier {
                    indicator: "BBANDS",
                    name,
                    value,
                });
            }
        }
        Ok(Self {
            period,
            nb_dev_up,
            nb_dev_down,
            sma: Sma::new(period)?,
            var: RollingVariance::new(period),
        })
    }

    /// Number of inputs consumed before the first output.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// Feed one value.
    #[inline]
    pub fn update(&mut self, x: f64) -> Option<BollingerValue> {
        let middle = self.sma.update(x);
        let var = self.var.update(x);
        let (middle, sd) = (middle?, var?.sqrt());
        Some(BollingerValue {
            upper: middle + sd * self.nb_dev_up,
            middle,
            lower: middle - sd * self.nb_dev_down,
        })
    }

    /// Back to the initial state.
    pub fn reset(&mut self) {
        self.sma.reset();
        self.var.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_around_the_sma() {
        let mut b = BollingerBands::new(4, 2.0, 1.0).expect("valid");
        let out: Vec<_> = [2.0, 4.0, 4.0, 4.0].iter().map(|&x| b.update(x)).collect();
        assert!(out[..3].iter().all(Option::is_none));
        let v = out[3].expect("warm");
        let sd = 0.75_f64.sqrt();
        assert_eq!(v.middle, 3.5);
        assert!((v.upper - (3.5 + 2.0 * sd)).abs() < 1e-12);
        assert!((v.lower - (3.5 - sd)).abs() < 1e-12);
        assert!(BollingerBands::new(1, 2.0, 2.0).is_err());
        assert!(BollingerBands::new(20, 2.0, f64::INFINITY).is_err());
    }
}
