//! Dca configuration, from the Strategy resource's `dca` member.

use tradewind_crds::DcaParams;

use crate::fixed::Money;
use crate::risk::Percent;
use crate::strategy::config::{ConfigError, money};

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
        let take_profit = match &p.take_profit_percent {
            None => None,
            Some(pct) => {
                let field = "spec.dca.takeProfitPercent";
                let pct = Percent::parse(pct.as_str())
                    .map_err(|e| ConfigError::new(field, e.to_string()))?;
                if pct.as_fraction() <= 0.0 || pct.as_fraction() > 1.0 {
                    return Err(ConfigError::new(field, "must be in (0, 100]"));
                }
                Some(pct)
            }
        };
        Ok(Self {
            every_bars: u64::from(p.every_bars),
            notional,
            take_profit,
        })
    }
}
