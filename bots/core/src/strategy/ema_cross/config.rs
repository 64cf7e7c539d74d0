//! EmaCross configuration, from the Strategy resource's `emaCross` member.

use tradewind_crds::CrossParams;

use crate::strategy::config::{ConfigError, period};

/// Periods of the fast and slow exponential moving averages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmaCrossConfig {
    /// Bars in the fast average.
    pub fast: usize,
    /// Bars in the slow average.
    pub slow: usize,
}

impl EmaCrossConfig {
    /// Checks the periods (the CRD's CEL rules check the same; a worker may be handed a
    /// config that never went through an API server).
    pub fn new(fast: usize, slow: usize) -> Result<Self, ConfigError> {
        if fast < 1 {
            return Err(ConfigError::new(
                "spec.emaCross.fastPeriod",
                "must be at least 1",
            ));
        }
        if fast >= slow {
            return Err(ConfigError::new(
                "spec.emaCross.fastPeriod",
                format!("must be smaller than slowPeriod ({fast} >= {slow})"),
            ));
        }
        Ok(Self { fast, slow })
    }

    /// From the resource.
    pub fn from_params(p: &CrossParams) -> Result<Self, ConfigError> {
        Self::new(
            period("spec.emaCross.fastPeriod", p.fast_period, 1)?,
            period("spec.emaCross.slowPeriod", p.slow_period, 2)?,
        )
    }
}
