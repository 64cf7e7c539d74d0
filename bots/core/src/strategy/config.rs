//! Strategy configuration in core types, and the checks that need the instrument.
//!
//! Each strategy's configuration is a plain struct of core types with a constructor that
//! checks it; [`StrategyConfig`] is one of them, and [`build`](super::build) turns it into
//! a running strategy for an instrument (prices onto ticks, quantities onto lots).
//! Errors name the configuration field in the resources' spelling without the `spec.`
//! prefix (`grid.lowerPrice`): the configuration mirrors the Strategy resource, and the
//! translation from the resource (`tradewind-config`) adds the prefix.

use crate::fixed::{Price, Quantity};
use crate::instrument::{Instrument, TickRounding};

use super::bollinger_reversion::BollingerReversionConfig;
use super::dca::DcaConfig;
use super::ema_cross::EmaCrossConfig;
use super::grid::GridParams;
use super::market_maker::MarketMakerParams;
use super::model::ModelConfig;
use super::rsi_reversion::RsiReversionConfig;
use super::signal::SignalConfig;
use super::sma_cross::SmaCrossConfig;

/// A strategy parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// Configuration field, e.g. `grid.lowerPrice`.
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

/// One built-in strategy with its configuration. Instrument-independent: what depends on
/// the instrument's tick and lot is checked by [`build`](super::build).
#[derive(Clone, Debug, PartialEq)]
pub enum StrategyConfig {
    /// Simple moving-average crossover.
    SmaCross(SmaCrossConfig),
    /// Exponential moving-average crossover.
    EmaCross(EmaCrossConfig),
    /// RSI mean reversion.
    RsiReversion(RsiReversionConfig),
    /// Bollinger-band mean reversion.
    BollingerReversion(BollingerReversionConfig),
    /// Orders on a fixed price grid.
    Grid(GridParams),
    /// Dollar-cost averaging.
    Dca(DcaConfig),
    /// Two-sided quoting with an inventory cap.
    MarketMaker(MarketMakerParams),
    /// Features, an ONNX model and a decision rule.
    Model(ModelConfig),
    /// Enter, exit or flatten on external signals.
    Signal(SignalConfig),
}

impl StrategyConfig {
    /// Whether the strategy acts on external signals.
    pub fn takes_signals(&self) -> bool {
        matches!(self, StrategyConfig::Signal(_))
    }
}

/// `p` at the instrument's price precision, exactly on a tick.
pub fn price_on_tick(field: &str, p: Price, instrument: &Instrument) -> Result<Price, ConfigError> {
    let p = p
        .with_precision(instrument.price_precision())
        .map_err(|_| {
            ConfigError::new(
                field,
                format!(
                    "{p} has more decimals than the instrument's price precision ({})",
                    instrument.price_precision()
                ),
            )
        })?;
    let on_tick = instrument
        .round_price(p, TickRounding::Nearest)
        .map_err(|e| ConfigError::new(field, e.to_string()))?;
    if on_tick != p {
        return Err(ConfigError::new(
            field,
            format!(
                "{p} is not a multiple of the tick size {}",
                instrument.tick_size()
            ),
        ));
    }
    Ok(p)
}

/// `q` at the instrument's size precision, rounded down to the lot; refused when less
/// than one lot remains.
pub fn quantity_in_lots(
    field: &str,
    q: Quantity,
    instrument: &Instrument,
) -> Result<Quantity, ConfigError> {
    let q = q.with_precision(instrument.size_precision()).map_err(|_| {
        ConfigError::new(
            field,
            format!(
                "{q} has more decimals than the instrument's size precision ({})",
                instrument.size_precision()
            ),
        )
    })?;
    let lots = instrument.round_quantity(q);
    if lots.is_zero() {
        return Err(ConfigError::new(
            field,
            format!("{q} is smaller than the lot size {}", instrument.lot_size()),
        ));
    }
    Ok(lots)
}

/// A period in bars, at least `min`.
pub fn period(field: &str, value: usize, min: usize) -> Result<usize, ConfigError> {
    if value < min {
        return Err(ConfigError::new(
            field,
            format!("must be at least {min}, got {value}"),
        ));
    }
    Ok(value)
}
