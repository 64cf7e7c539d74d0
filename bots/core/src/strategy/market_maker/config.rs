//! MarketMaker configuration (the Strategy resource's `marketMaker` member): as given
//! ([`MarketMakerParams`]) and on an instrument's lots ([`MarketMakerConfig`]).

use crate::exchange::Bps;
use crate::fixed::Quantity;
use crate::instrument::Instrument;
use crate::strategy::config::{ConfigError, quantity_in_lots};

/// The quoting as configured, before it meets an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketMakerParams {
    /// Total quoted spread around the mid price.
    pub spread: Bps,
    /// Base quantity quoted on each side.
    pub order_quantity: Quantity,
    /// Largest base inventory the bid may build.
    pub max_inventory: Quantity,
    /// Re-quote every this many bars.
    pub refresh_bars: u64,
}

impl MarketMakerParams {
    /// Checks the spread (in (0, 10000) bp), the quantities (order at most the inventory
    /// cap) and the refresh interval (at least 1 bar).
    pub fn new(
        spread: Bps,
        order_quantity: Quantity,
        max_inventory: Quantity,
        refresh_bars: u64,
    ) -> Result<Self, ConfigError> {
        if spread == Bps::ZERO || spread.raw() >= 10_000 * 1_000_000_000 {
            return Err(ConfigError::new(
                "marketMaker.spreadBps",
                "must be in (0, 10000)",
            ));
        }
        if order_quantity.is_zero() {
            return Err(ConfigError::new(
                "marketMaker.orderQuantity",
                "must be greater than zero",
            ));
        }
        if order_quantity > max_inventory {
            return Err(ConfigError::new(
                "marketMaker.orderQuantity",
                "must not exceed maxInventory",
            ));
        }
        if refresh_bars == 0 {
            return Err(ConfigError::new(
                "marketMaker.refreshBars",
                "must be at least 1",
            ));
        }
        Ok(Self {
            spread,
            order_quantity,
            max_inventory,
            refresh_bars,
        })
    }
}

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
    /// The quantities on the instrument's lots (each at least one lot).
    pub fn new(p: &MarketMakerParams, instrument: &Instrument) -> Result<Self, ConfigError> {
        let order_quantity =
            quantity_in_lots("marketMaker.orderQuantity", p.order_quantity, instrument)?;
        let max_inventory =
            quantity_in_lots("marketMaker.maxInventory", p.max_inventory, instrument)?;
        if order_quantity > max_inventory {
            return Err(ConfigError::new(
                "marketMaker.orderQuantity",
                "must not exceed maxInventory",
            ));
        }
        Ok(Self {
            // Bps raw is 1e-9 bp; bp -> fraction is /10_000, and half of it per side.
            half_spread_e9: i128::from(p.spread.raw()) / 20_000,
            order_quantity,
            max_inventory,
            refresh_bars: p.refresh_bars,
        })
    }
}
