//! Dca configuration, from the Strategy resource's `dca` member.

use tradewind_crds::DcaParams;

use crate::fixed::Money;
use crate::strategy::config::{ConfigError, decimal_e9, money};

/// Interval, amount and optional take-profit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcaConfig {
    /// Buy every this many bars.
    pub every_bars: u64,
    /// Quote notional per buy.
    pub notional: Money,
    /// Take profit at this gain over the average price, in 1e-9 of a whole (5 % = 50_000_000).
    pub take_profit_e9: Option<i128>,
}

impl DcaConfig {
    /// From the resource.
    pub fn from_params(p: &DcaParams) -> Result<Self, ConfigError> {
        if p.every_bars == 0 {
            return Err(ConfigError::new("spec.dca.everyBars", "must be at least 1"));
        }
        let notional = money("spec.dca.notional", p.notional.as_str())?;
        if notional.is_negative() || notional.is_zero() {
            return Err(ConfigError::new(
                "spec.dca.notional",
                "must be greater than zero",
            ));
        }
        let take_profit_e9 = match &p.take_profit_percent {
            None => None,
            Some(pct) => {
                let e9 = decimal_e9("spec.dca.takeProfitPercent", pct.as_str())?;
                if e9 <= 0 || e9 > 100 * 1_000_000_000 {
                    return Err(ConfigError::new(
                        "spec.dca.takeProfitPercent",
                        "must be in (0, 100]",
                    ));
                }
                Some(e9 / 100)
            }
        };
        Ok(Self {
            every_bars: u64::from(p.every_bars),
            notional,
            take_profit_e9,
        })
    }
}
