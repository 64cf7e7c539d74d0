//! From a resolved bot configuration to what the engine runs: the strategy and the
//! engine settings (capital, fees, sizing, risk, bar fill model). One place, shared by
//! `backtest` and `run`, so a backtest and a live bot of the same config trade alike.

use anyhow::{Context as _, Result};
use tradewind_core::backtest::{Settings, Sizing};
use tradewind_core::exchange::{BarFillModel, Bps, FeeSchedule};
use tradewind_core::fixed::Money;
use tradewind_core::instrument::Instrument;
use tradewind_core::risk::{RiskLimits, RiskLimitsText};
use tradewind_core::strategy::{self, Strategy};
use tradewind_crds::FillModel;
use tradewind_crds::resolved::BotConfig;

/// Fees from the bot's CommissionPlan; without one, the venue's base rate (10 bp).
pub fn fee_schedule(cfg: &BotConfig) -> Result<FeeSchedule> {
    let Some(plan) = &cfg.commission_plan else {
        return Ok(FeeSchedule::default());
    };
    let tiers: Vec<(&str, &str, &str)> = plan
        .trading_fees
        .tiers
        .iter()
        .map(|t| {
            (
                t.min_volume_30d.as_str(),
                t.maker_bps.as_str(),
                t.taker_bps.as_str(),
            )
        })
        .collect();
    FeeSchedule::from_tiers(&tiers).with_context(|| {
        format!(
            "CommissionPlan {}: spec.tradingFees",
            cfg.commission_plan_name.clone().unwrap_or_default()
        )
    })
}

/// The bot's effective risk limits (strategy's, overridden field by field by the bot's).
pub fn risk_limits(cfg: &BotConfig) -> Result<RiskLimits> {
    let r = &cfg.risk;
    let text = RiskLimitsText {
        max_order_notional: r.max_order_notional.as_ref().map(|d| d.as_str()),
        max_position_notional: r.max_position_notional.as_ref().map(|d| d.as_str()),
        price_band_percent: r.price_band_percent.as_ref().map(|p| p.as_str()),
        stop_loss_percent: r.stop_loss_percent.as_ref().map(|p| p.as_str()),
        daily_loss_limit: r.daily_loss_limit.as_ref().map(|d| d.as_str()),
        max_drawdown_percent: r.max_drawdown_percent.as_ref().map(|p| p.as_str()),
    };
    RiskLimits::parse(&text)
        .with_context(|| format!("TradingBot {}: spec.risk (with its Strategy's)", cfg.name))
}

/// The strategy and the engine settings for `cfg` on `instrument`.
pub fn engine_settings(
    cfg: &BotConfig,
    instrument: &Instrument,
) -> Result<(Box<dyn Strategy>, Settings)> {
    let strategy = strategy::build(&cfg.strategy, instrument)
        .map_err(|e| anyhow::anyhow!("Strategy {}: {e}", cfg.strategy_name))?;
    let sizing = Sizing::from_spec(&cfg.sizing, instrument)
        .map_err(|e| anyhow::anyhow!("TradingBot {}: {e}", cfg.name))?;
    let backtest = cfg.bot.backtest.clone().unwrap_or_default();
    let slippage = match &backtest.slippage_bps {
        None => Bps::ZERO,
        Some(s) => Bps::parse(s.as_str())
            .with_context(|| format!("TradingBot {}: spec.backtest.slippageBps", cfg.name))?,
    };
    let capital = Money::parse(cfg.bot.capital.amount.as_str())
        .with_context(|| format!("TradingBot {}: spec.capital.amount", cfg.name))?;
    let settings = Settings {
        instrument: instrument.clone(),
        capital,
        fill_model: match backtest.fill_model {
            FillModel::NextBarOpen => BarFillModel::NextBarOpen,
            FillModel::SameBarClose => BarFillModel::SameBarClose,
        },
        slippage,
        fees: fee_schedule(cfg)?,
        sizing,
        risk: risk_limits(cfg)?,
    };
    Ok((strategy, settings))
}
