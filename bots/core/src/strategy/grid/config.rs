//! Grid configuration, from the Strategy resource's `grid` member.

use tradewind_crds::GridParams;

use crate::fixed::{Price, Quantity};
use crate::instrument::{Instrument, TickRounding};
use crate::strategy::config::{ConfigError, price, quantity};

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
    pub fn from_params(p: &GridParams, instrument: &Instrument) -> Result<Self, ConfigError> {
        let lower = price("spec.grid.lowerPrice", p.lower_price.as_str(), instrument)?;
        let upper = price("spec.grid.upperPrice", p.upper_price.as_str(), instrument)?;
        if lower >= upper {
            return Err(ConfigError::new(
                "spec.grid.lowerPrice",
                format!("must be below upperPrice ({lower} >= {upper})"),
            ));
        }
        if p.levels < 2 {
            return Err(ConfigError::new(
                "spec.grid.levels",
                format!("must be at least 2, got {}", p.levels),
            ));
        }
        let quantity = quantity(
            "spec.grid.quantityPerLevel",
            p.quantity_per_level.as_str(),
            instrument,
        )?;
        let n = i128::from(p.levels - 1);
        let span = i128::from(upper.raw() - lower.raw());
        let mut levels = Vec::with_capacity(p.levels as usize);
        for i in 0..=n {
            let raw = i128::from(lower.raw()) + span * i / n;
            let raw = i64::try_from(raw).expect("between two valid prices");
            // Full precision first, then to the nearest tick at the instrument's precision.
            let level = Price::from_raw(raw, 9)
                .map_err(|e| ConfigError::new("spec.grid", e.to_string()))
                .and_then(|px| {
                    instrument
                        .round_price(px, TickRounding::Nearest)
                        .map_err(|e| ConfigError::new("spec.grid", e.to_string()))
                })
                .and_then(|px| {
                    px.with_precision(lower.precision())
                        .map_err(|e| ConfigError::new("spec.grid", e.to_string()))
                })?;
            if levels.last() != Some(&level) {
                levels.push(level);
            }
        }
        if levels.len() < p.levels as usize {
            return Err(ConfigError::new(
                "spec.grid.levels",
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
