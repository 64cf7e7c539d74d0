//! Dca configuration (the Strategy resource's `dca` member).

use crate::fixed::Money;
use crate::risk::Percent;
use crate::strategy::config::ConfigError;

/// Interval, amount and optional take-profit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcaConfig {
    /// Buy every this many bars.
    pub every_bars: u64,
    /// Quote notional per buy.
    pub notional: Money,
    /// Take profit at this gain over the average price.
    pub take_profit: Option<Percent>,
}

impl DcaConfig {
    /// Checks the interval (at least 1 bar), the notional (greater than zero) and the
    /// take-profit (in (0, 100] %).
    pub fn new(
        every_bars: u64,
        notional: Money,
        take_profit: Option<Percent>,
    ) -> Result<Self, ConfigError> {
        if every_bars == 0 {
            return Err(ConfigError::new("dca.everyBars", "must be at least 1"));
        }
        if notional.is_negative() || notional.is_zero() {
            return Err(ConfigError::new(
                "dca.notional",
                "must be greater than zero",
            ));
        }
        if let Some(pct) = take_profit
            && (pct == Percent::ZERO || pct > Percent::HUNDRED)
        {
            return Err(ConfigError::new(
                "dca.takeProfitPercent",
                "must be in (0, 100]",
            ));
        }
        Ok(Self {
            every_bars,
            notional,
            take_profit,
        })
    }
}
