//! Turning a Strategy resource's parameters into core configuration. Errors name the
//! resource field (`spec.grid.lowerPrice`) and the reason, so a bad resource stops the
//! worker at start with a message a person can act on.

use crate::fixed::{Money, Price, Quantity};
use crate::instrument::{Instrument, TickRounding};

/// A strategy parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// Resource field, e.g. `spec.grid.lowerPrice`.
    pub field: String,
    /// Why it cannot be used.
    pub reason: String,
}

impl ConfigError {
    /// An error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A price at the instrument's precision, exactly on a tick.
pub fn price(field: &str, text: &str, instrument: &Instrument) -> Result<Price, ConfigError> {
    let p = Price::parse(text, instrument.price_precision())
        .map_err(|e| ConfigError::new(field, e.to_string()))?;
    let on_tick = instrument
        .round_price(p, TickRounding::Nearest)
        .map_err(|e| ConfigError::new(field, e.to_string()))?;
    if on_tick != p {
        return Err(ConfigError::new(
            field,
            format!(
                "{text} is not a multiple of the tick size {}",
                instrument.tick_size()
            ),
        ));
    }
    Ok(p)
}

/// A base quantity at the instrument's size precision, rounded down to the lot.
pub fn quantity(field: &str, text: &str, instrument: &Instrument) -> Result<Quantity, ConfigError> {
    let q = Quantity::parse(text, instrument.size_precision())
        .map_err(|e| ConfigError::new(field, e.to_string()))?;
    let lots = instrument.round_quantity(q);
    if lots.is_zero() {
        return Err(ConfigError::new(
            field,
            format!(
                "{text} is smaller than the lot size {}",
                instrument.lot_size()
            ),
        ));
    }
    Ok(lots)
}

/// A quote amount.
pub fn money(field: &str, text: &str) -> Result<Money, ConfigError> {
    Money::parse(text).map_err(|e| ConfigError::new(field, e.to_string()))
}

/// An exact decimal (up to 9 places) as an integer count of 1e-9 units, for ratios such
/// as percentages and basis points that must not go through floating point.
pub fn decimal_e9(field: &str, text: &str) -> Result<i128, ConfigError> {
    money(field, text).map(Money::raw)
}

/// A period in bars, at least `min`.
pub fn period(field: &str, value: u32, min: u32) -> Result<usize, ConfigError> {
    if value < min {
        return Err(ConfigError::new(
            field,
            format!("must be at least {min}, got {value}"),
        ));
    }
    Ok(value as usize)
}
