//! EmaCross configuration (the Strategy resource's `emaCross` member).

use crate::strategy::config::ConfigError;

/// Periods of the fast and slow exponential moving averages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmaCrossConfig {
    /// Bars in the fast average.
    pub fast: usize,
    /// Bars in the slow average.
    pub slow: usize,
}

impl EmaCrossConfig {
    /// Checks the periods: the fast one at least 1 and below the slow one.
    pub fn new(fast: usize, slow: usize) -> Result<Self, ConfigError> {
        if fast < 1 {
            return Err(ConfigError::new(
                "emaCross.fastPeriod",
                "must be at least 1",
            ));
        }
        if fast >= slow {
            return Err(ConfigError::new(
                "emaCross.fastPeriod",
                format!("must be smaller than slowPeriod ({fast} >= {slow})"),
            ));
        }
        Ok(Self { fast, slow })
    }
}
