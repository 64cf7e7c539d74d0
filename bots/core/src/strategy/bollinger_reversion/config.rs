//! BollingerReversion configuration, from the Strategy resource's `bollingerReversion` member.

use tradewind_crds::BollingerReversionParams;

use crate::strategy::config::{ConfigError, decimal_e9, period};

/// Band period and width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BollingerReversionConfig {
    /// Bars in the middle band.
    pub period: usize,
    /// Band width in population standard deviations (a signal parameter, so f64).
    pub std_devs: f64,
}

impl BollingerReversionConfig {
    /// From the resource.
    pub fn from_params(p: &BollingerReversionParams) -> Result<Self, ConfigError> {
        let period = period("spec.bollingerReversion.period", p.period, 2)?;
        let e9 = decimal_e9("spec.bollingerReversion.stdDevs", p.std_devs.as_str())?;
        if e9 <= 0 {
            return Err(ConfigError::new(
                "spec.bollingerReversion.stdDevs",
                "must be greater than zero",
            ));
        }
        Ok(Self {
            period,
            std_devs: e9 as f64 / 1e9,
        })
    }
}
