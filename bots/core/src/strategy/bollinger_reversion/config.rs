//! BollingerReversion configuration (the Strategy resource's `bollingerReversion` member).

use crate::strategy::config::{ConfigError, period};

/// Band period and width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BollingerReversionConfig {
    /// Bars in the middle band.
    pub period: usize,
    /// Band width in population standard deviations (a signal parameter, so f64).
    pub std_devs: f64,
}

impl BollingerReversionConfig {
    /// Checks the period (at least 2) and the width (finite, greater than zero).
    pub fn new(period_bars: usize, std_devs: f64) -> Result<Self, ConfigError> {
        let period = period("bollingerReversion.period", period_bars, 2)?;
        if !std_devs.is_finite() || std_devs <= 0.0 {
            return Err(ConfigError::new(
                "bollingerReversion.stdDevs",
                "must be greater than zero",
            ));
        }
        Ok(Self { period, std_devs })
    }
}
