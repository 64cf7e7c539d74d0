//! RsiReversion configuration, from the Strategy resource's `rsiReversion` member.

use tradewind_crds::RsiReversionParams;

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
    /// From the resource.
    pub fn from_params(p: &RsiReversionParams) -> Result<Self, ConfigError> {
        let period = period("spec.rsiReversion.period", p.period, 2)?;
        if !(1..=99).contains(&p.oversold) {
            return Err(ConfigError::new(
                "spec.rsiReversion.oversold",
                "must be between 1 and 99",
            ));
        }
        if !(1..=99).contains(&p.overbought) {
            return Err(ConfigError::new(
                "spec.rsiReversion.overbought",
                "must be between 1 and 99",
            ));
        }
        if p.oversold >= p.overbought {
            return Err(ConfigError::new(
                "spec.rsiReversion.oversold",
                format!(
                    "must be below overbought ({} >= {})",
                    p.oversold, p.overbought
                ),
            ));
        }
        Ok(Self {
            period,
            oversold: f64::from(p.oversold),
            overbought: f64::from(p.overbought),
        })
    }
}
