//! SmaCross configuration (the Strategy resource's `smaCross` member).

use crate::strategy::config::ConfigError;

/// Periods of the fast and slow simple moving averages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmaCrossConfig {
    /// Bars in the fast average.
    pub fast: usize,
    /// Bars in the slow average.
    pub slow: usize,
}

impl SmaCrossConfig {
    /// Checks the periods: the fast one at least 1 and below the slow one.
    pub fn new(fast: usize, slow: usize) -> Result<Self, ConfigError> {
        if fast < 1 {
            return Err(ConfigError::new(
                "smaCross.fastPeriod",
                "must be at least 1",
            ));
        }
        if fast >= slow {
            return Err(ConfigError::new(
                "smaCross.fastPeriod",
                format!("must be smaller than slowPeriod ({fast} >= {slow})"),
            ));
        }
        Ok(Self { fast, slow })
    }
}
