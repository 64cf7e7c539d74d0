//! From a resolved bot configuration to what the engine runs: the strategy and the
//! engine settings, through the one translation from the resources to the core
//! (`tradewind-config`) that the operator also checks bots with. Shared by `backtest`
//! and `run`, so a backtest and a live bot of the same config trade alike.

use anyhow::Result;
use tradewind_core::backtest::Settings;
use tradewind_core::instrument::Instrument;
use tradewind_core::strategy::Strategy;
use tradewind_crds::resolved::BotConfig;

/// The strategy and the engine settings for `cfg` on `instrument`.
pub fn engine_settings(
    cfg: &BotConfig,
    instrument: &Instrument,
) -> Result<(Box<dyn Strategy>, Settings)> {
    Ok(tradewind_config::bot(cfg)?.engine(instrument)?)
}
