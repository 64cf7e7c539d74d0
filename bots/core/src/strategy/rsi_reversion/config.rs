//! RsiReversion configuration (the Strategy resource's `rsiReversion` member).

use crate::strategy::config::{ConfigError, period};

/// Wilder RSI period and the two levels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RsiReversionConfig {
    /// RSI period in bars.
    pub period: usize,
    /// Enter long below this level.
    pub oversold: f64,
    /// Exit above this level.
    pub overbought: f64,
}

impl RsiReversionConfig {
    /// Checks the period (at least 2) and the levels (1 to 99, oversold below overbought).
    pub fn new(period_bars: usize, oversold: u32, overbought: u32) -> Result<Self, ConfigError> {
        let period = period("rsiReversion.period", period_bars, 2)?;
        if !(1..=99).contains(&oversold) {
            return Err(ConfigError::new(
                "rsiReversion.oversold",
                "must be between 1 and 99",
            ));
        }
        if !(1..=99).contains(&overbought) {
            return Err(ConfigError::new(
                "rsiReversion.overbought",
                "must be between 1 and 99",
            ));
        }
        if oversold >= overbought {
            return Err(ConfigError::new(
                "rsiReversion.oversold",
                format!("must be below overbought ({oversold} >= {overbought})"),
            ));
        }
        Ok(Self {
            period,
            oversold: f64::from(oversold),
            overbought: f64::from(overbought),
        })
    }
}
