//! Grid configuration (the Strategy resource's `grid` member): the bounds, level count
//! and quantity as given ([`GridParams`]), and the levels on an instrument's ticks
//! ([`GridConfig`]).

use crate::fixed::{Price, Quantity};
use crate::instrument::{Instrument, TickRounding};
use crate::strategy::config::{ConfigError, price_on_tick, quantity_in_lots};

/// The grid as configured, before it meets an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridParams {
    /// Lowest level.
    pub lower_price: Price,
    /// Highest level.
    pub upper_price: Price,
    /// Number of levels, both bounds included.
    pub levels: u32,
    /// Base quantity per order.
    pub quantity_per_level: Quantity,
}

impl GridParams {
    /// Checks the bounds (lower below upper, both above zero), the level count (at least
    /// 2) and the quantity (above zero).
    pub fn new(
        lower_price: Price,
        upper_price: Price,
        levels: u32,
        quantity_per_level: Quantity,
    ) -> Result<Self, ConfigError> {
        if !lower_price.is_positive() {
            return Err(ConfigError::new(
                "grid.lowerPrice",
                "must be greater than zero",
            ));
        }
        if lower_price >= upper_price {
            return Err(ConfigError::new(
                "grid.lowerPrice",
                format!("must be below upperPrice ({lower_price} >= {upper_price})"),
            ));
        }
        if levels < 2 {
            return Err(ConfigError::new(
                "grid.levels",
                format!("must be at least 2, got {levels}"),
            ));
        }
        if quantity_per_level.is_zero() {
            return Err(ConfigError::new(
                "grid.quantityPerLevel",
                "must be greater than zero",
            ));
        }
        Ok(Self {
            lower_price,
            upper_price,
            levels,
            quantity_per_level,
        })
    }
}

/// Grid levels (on ticks, ascending) and the quantity at each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridConfig {
    /// Level prices, lowest first, both bounds included.
    pub levels: Vec<Price>,
    /// Base quantity per order.
    pub quantity: Quantity,
}

impl GridConfig {
    /// Spaces `levels` prices evenly between the bounds, each rounded to the nearest tick.
    /// The bounds must lie on the instrument's ticks and the quantity be at least a lot.
    pub fn new(p: &GridParams, instrument: &Instrument) -> Result<Self, ConfigError> {
        let lower = price_on_tick("grid.lowerPrice", p.lower_price, instrument)?;
        let upper = price_on_tick("grid.upperPrice", p.upper_price, instrument)?;
        let quantity = quantity_in_lots("grid.quantityPerLevel", p.quantity_per_level, instrument)?;
        let n = i128::from(p.levels - 1);
        let span = i128::from(upper.raw() - lower.raw());
        let mut levels = Vec::with_capacity(p.levels as usize);
        for i in 0..=n {
            let raw = i128::from(lower.raw()) + span * i / n;
            let raw = i64::try_from(raw).expect("between two valid prices");
            // Full precision first, then to the nearest tick at the instrument's precision.
            let level = Price::from_raw(raw, 9)
                .map_err(|e| ConfigError::new("grid", e.to_string()))
                .and_then(|px| {
                    instrument
                        .round_price(px, TickRounding::Nearest)
                        .map_err(|e| ConfigError::new("grid", e.to_string()))
                })
                .and_then(|px| {
                    px.with_precision(lower.precision())
                        .map_err(|e| ConfigError::new("grid", e.to_string()))
                })?;
            if levels.last() != Some(&level) {
                levels.push(level);
            }
        }
        if levels.len() < p.levels as usize {
            return Err(ConfigError::new(
                "grid.levels",
                format!(
                    "{} levels do not fit between {lower} and {upper} at tick {}",
                    p.levels,
                    instrument.tick_size()
                ),
            ));
        }
        Ok(Self { levels, quantity })
    }
}
