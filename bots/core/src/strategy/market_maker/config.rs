//! MarketMaker configuration, from the Strategy resource's `marketMaker` member.

use tradewind_crds::MarketMakerParams;

use crate::fixed::Quantity;
use crate::instrument::Instrument;
use crate::strategy::config::{ConfigError, decimal_e9, quantity};

/// Quote width, size and inventory cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketMakerConfig {
    /// Half the quoted spread, in 1e-9 of a whole (10 bps total = 500_000 each side).
    pub half_spread_e9: i128,
    /// Base quantity quoted on each side.
    pub order_quantity: Quantity,
    /// Largest base inventory the bid may build.
    pub max_inventory: Quantity,
    /// Re-quote every this many bars.
    pub refresh_bars: u64,
}

impl MarketMakerConfig {
    /// From the resource.
    pub fn from_params(
        p: &MarketMakerParams,
        instrument: &Instrument,
    ) -> Result<Self, ConfigError> {
        let spread_bps_e9 = decimal_e9("spec.marketMaker.spreadBps", p.spread_bps.as_str())?;
        if spread_bps_e9 <= 0 || spread_bps_e9 >= 10_000 * 1_000_000_000 {
            return Err(ConfigError::new(
                "spec.marketMaker.spreadBps",
                "must be in (0, 10000)",
            ));
        }
        let order_quantity = quantity(
            "spec.marketMaker.orderQuantity",
            p.order_quantity.as_str(),
            instrument,
        )?;
        let max_inventory = quantity(
            "spec.marketMaker.maxInventory",
            p.max_inventory.as_str(),
            instrument,
        )?;
        if order_quantity > max_inventory {
            return Err(ConfigError::new(
                "spec.marketMaker.orderQuantity",
                "must not exceed maxInventory",
            ));
        }
        if p.refresh_bars == 0 {
            return Err(ConfigError::new(
                "spec.marketMaker.refreshBars",
                "must be at least 1",
            ));
        }
        Ok(Self {
            // bps -> fraction is /10_000; half of it per side.
            half_spread_e9: spread_bps_e9 / 20_000,
            order_quantity,
            max_inventory,
            refresh_bars: u64::from(p.refresh_bars),
        })
    }
}
