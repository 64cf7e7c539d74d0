//! From the custom resources' spec to the trading core's configuration: the one
//! translation that the worker (`tradewind-bot run`), `tradewind-bot backtest` and the
//! operator all use, so the operator refuses exactly what the worker would refuse.
//!
//! The core ([`tradewind_core`]) knows nothing of Kubernetes; the resources
//! ([`tradewind_crds`]) know nothing of fixed point. This crate sits above both. It is its
//! own crate, rather than a feature of `tradewind-crds`, so the resource types (and
//! `make crds`, the test API server and the CLI that render them) never build the core,
//! and the operator links the core only through these few functions.
//!
//! Two fees are kept apart. The venue's fee (paid to the exchange, in the fills) is what
//! a simulation charges: [`venue_fees`], from `spec.backtest.venueFees` or the venue's
//! default. The platform's commission is the CommissionPlan, translated by
//! [`commission_plan`] into the commission engine's plan (`tradewind-commission`) and
//! charged in the ledger; it never changes a simulation.
//!
//! Two steps. [`bot`] (and [`strategy`], [`commission_plan`] for a Strategy or
//! CommissionPlan on its own) needs nothing but the resources: decimals become exact
//! fixed-point values within the core's limits ([`PRICE_MAX`], [`QUANTITY_MAX`],
//! [`FIXED_PRECISION`] places), and the parameters are checked. The operator stops there. [`BotSettings::engine`] then meets an
//! instrument (from the venue, or the backtest's data) and puts grid prices on its ticks
//! and quantities on its lots. Every error names the resource and its field, e.g.
//! `TradingBot btc: spec.risk.maxOrderNotional: …`.

use tradewind_core::backtest::{Settings, Sizing};
use tradewind_core::exchange::{BarFillModel, Bps, FeeSchedule, FeeScheduleError};
use tradewind_core::fixed::{
    FIXED_PRECISION, FixedError, Money, PRICE_MAX, Price, QUANTITY_MAX, Quantity,
};
use tradewind_core::instrument::Instrument;
use tradewind_core::risk::{Percent, RiskLimits, RiskLimitsText};
use tradewind_core::strategy::bollinger_reversion::BollingerReversionConfig;
use tradewind_core::strategy::dca::DcaConfig;
use tradewind_core::strategy::ema_cross::EmaCrossConfig;
use tradewind_core::strategy::grid::GridParams;
use tradewind_core::strategy::market_maker::MarketMakerParams;
use tradewind_core::strategy::model::{
    ArtifactSource, DecisionRule, FeatureKind, FeatureSpec, ModelConfig, OutputKind, OutputSelector,
};
use tradewind_core::strategy::rsi_reversion::RsiReversionConfig;
use tradewind_core::strategy::sma_cross::SmaCrossConfig;
use tradewind_core::strategy::{self, ConfigError, Strategy, StrategyConfig};
use tradewind_crds::resolved::BotConfig;
use tradewind_crds::{Exchange, Market, TradingFees};
use tradewind_crds::{FillModel, Mode, SizingType, StrategySpec, StrategyType};

/// A resource field the core cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// Resource field, e.g. `spec.grid.lowerPrice`.
    pub field: String,
    /// Why.
    pub reason: String,
}

impl Invalid {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The core's configuration errors name the field without `spec.`.
impl From<ConfigError> for Invalid {
    fn from(e: ConfigError) -> Self {
        Invalid::new(format!("spec.{}", e.field), e.reason)
    }
}

/// A bot that cannot run, naming the resource the bad field is in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {name}: {invalid}")]
pub struct SpecError {
    /// `TradingBot`, `Strategy` or `CommissionPlan`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// The field and why.
    pub invalid: Invalid,
}

/// Everything the engine needs from a bot's resources, before it meets an instrument.
#[derive(Clone, Debug)]
pub struct BotSettings {
    /// The strategy's configuration.
    pub strategy: StrategyConfig,
    /// How entries are sized (the bot's, else the strategy's, else all in).
    pub sizing: Sizing,
    /// Risk limits (the strategy's, overridden field by field by the bot's).
    pub risk: RiskLimits,
    /// The venue's fees the simulation charges (never the platform's commission).
    pub venue_fees: VenueFees,
    /// The platform's commission plan, if the bot has one (charged in the ledger).
    pub commission: Option<tradewind_commission::Plan>,
    /// Starting capital in the quote currency.
    pub capital: Money,
    /// When market orders fill on bars.
    pub fill_model: BarFillModel,
    /// Slippage against the trader on market fills.
    pub slippage: Bps,
    bot: String,
    strategy_name: String,
}

impl BotSettings {
    /// The strategy and the engine settings on `instrument`: grid bounds on its ticks,
    /// quantities on its lots.
    pub fn engine(
        &self,
        instrument: &Instrument,
    ) -> Result<(Box<dyn Strategy>, Settings), SpecError> {
        let strategy = strategy::build(&self.strategy, instrument).map_err(|e| SpecError {
            kind: "Strategy",
            name: self.strategy_name.clone(),
            invalid: e.into(),
        })?;
        let sizing = self
            .sizing
            .for_instrument(instrument)
            .map_err(|e| SpecError {
                kind: "TradingBot",
                name: self.bot.clone(),
                invalid: e.into(),
            })?;
        Ok((
            strategy,
            Settings {
                instrument: instrument.clone(),
                capital: self.capital,
                fill_model: self.fill_model,
                slippage: self.slippage,
                fees: self.venue_fees.schedule.clone(),
                sizing,
                risk: self.risk,
            },
        ))
    }
}

/// Translates a resolved bot (its TradingBot, Strategy and CommissionPlan); the first
/// problem found is the error.
pub fn bot(cfg: &BotConfig) -> Result<BotSettings, SpecError> {
    let of_bot = |invalid: Invalid| SpecError {
        kind: "TradingBot",
        name: cfg.name.clone(),
        invalid,
    };
    let strategy = strategy(&cfg.strategy).map_err(|invalid| SpecError {
        kind: "Strategy",
        name: cfg.strategy_name.clone(),
        invalid,
    })?;
    let commission = cfg
        .commission_plan
        .as_ref()
        .map(|plan| {
            commission_plan(plan).map_err(|invalid| SpecError {
                kind: "CommissionPlan",
                name: cfg.commission_plan_name.clone().unwrap_or_default(),
                invalid,
            })
        })
        .transpose()?;
    symbols(&cfg.bot.symbols, &cfg.bot.capital.currency, cfg.bot.mode).map_err(of_bot)?;
    let capital = money("spec.capital.amount", cfg.bot.capital.amount.as_str()).map_err(of_bot)?;
    if capital.is_negative() || capital.is_zero() {
        return Err(of_bot(Invalid::new(
            "spec.capital.amount",
            "must be greater than zero",
        )));
    }
    let backtest = cfg.bot.backtest.clone().unwrap_or_default();
    let venue_fees = venue_fees(&cfg.bot.venue, &backtest).map_err(of_bot)?;
    let slippage = match &backtest.slippage_bps {
        None => Bps::ZERO,
        Some(s) => Bps::parse(s.as_str())
            .map_err(|e| of_bot(Invalid::new("spec.backtest.slippageBps", e.to_string())))?,
    };
    Ok(BotSettings {
        strategy,
        sizing: sizing(&cfg.sizing).map_err(of_bot)?,
        risk: risk(&cfg.risk).map_err(of_bot)?,
        venue_fees,
        commission,
        capital,
        fill_model: match backtest.fill_model {
            FillModel::NextBarOpen => BarFillModel::NextBarOpen,
            FillModel::SameBarClose => BarFillModel::SameBarClose,
        },
        slippage,
        bot: cfg.name.clone(),
        strategy_name: cfg.strategy_name.clone(),
    })
}

/// Quote assets a symbol's name can end with (Binance's, and the fiat currencies of
/// other venues), longest first where one ends another (`USDT` before `USD`).
const QUOTE_ASSETS: &[&str] = &[
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL",
    "GBP", "JPY", "AUD", "USD",
];

/// A bot trades exactly one symbol; a Paper or Live bot (on the venue) one quoted in its
/// capital's currency. Backtests also run on data of other markets (GOOG in USD), but a
/// symbol whose name ends in another quote asset (BTCUSDT with EUR) is refused: the
/// report would show USDT amounts as EUR.
fn symbols(symbols: &[String], currency: &str, mode: Mode) -> Result<(), Invalid> {
    let [symbol] = symbols else {
        return Err(Invalid::new(
            "spec.symbols",
            format!("a bot trades exactly one symbol, got {}", symbols.len()),
        ));
    };
    if mode != Mode::Backtest && (symbol.len() <= currency.len() || !symbol.ends_with(currency)) {
        return Err(Invalid::new(
            "spec.capital.currency",
            format!("{currency} is not the quote currency of {symbol}"),
        ));
    }
    let quoted_in = QUOTE_ASSETS
        .iter()
        .find(|q| symbol.len() > q.len() && symbol.ends_with(*q));
    if let Some(quote) = quoted_in
        && *quote != currency
    {
        return Err(Invalid::new(
            "spec.capital.currency",
            format!("{currency} is not the quote currency of {symbol} (it is quoted in {quote})"),
        ));
    }
    Ok(())
}

/// A Strategy's parameters, and its default risk limits and sizing when it sets them.
pub fn strategy(spec: &StrategySpec) -> Result<StrategyConfig, Invalid> {
    fn member<'a, T>(m: &'a Option<T>, name: &str) -> Result<&'a T, Invalid> {
        m.as_ref()
            .ok_or_else(|| Invalid::new(format!("spec.{name}"), "must be set for this type"))
    }
    let config = match spec.type_ {
        StrategyType::SmaCross => {
            let p = member(&spec.sma_cross, "smaCross")?;
            StrategyConfig::SmaCross(SmaCrossConfig::new(
                p.fast_period as usize,
                p.slow_period as usize,
            )?)
        }
        StrategyType::EmaCross => {
            let p = member(&spec.ema_cross, "emaCross")?;
            StrategyConfig::EmaCross(EmaCrossConfig::new(
                p.fast_period as usize,
                p.slow_period as usize,
            )?)
        }
        StrategyType::RsiReversion => {
            let p = member(&spec.rsi_reversion, "rsiReversion")?;
            StrategyConfig::RsiReversion(RsiReversionConfig::new(
                p.period as usize,
                p.oversold,
                p.overbought,
            )?)
        }
        StrategyType::BollingerReversion => {
            let p = member(&spec.bollinger_reversion, "bollingerReversion")?;
            // Exact first (at most 9 places), then a float: a signal parameter.
            let std_devs = money("spec.bollingerReversion.stdDevs", p.std_devs.as_str())?;
            StrategyConfig::BollingerReversion(BollingerReversionConfig::new(
                p.period as usize,
                std_devs.raw() as f64 / 1e9,
            )?)
        }
        StrategyType::Grid => {
            let p = member(&spec.grid, "grid")?;
            StrategyConfig::Grid(GridParams::new(
                price("spec.grid.lowerPrice", p.lower_price.as_str())?,
                price("spec.grid.upperPrice", p.upper_price.as_str())?,
                p.levels,
                quantity("spec.grid.quantityPerLevel", p.quantity_per_level.as_str())?,
            )?)
        }
        StrategyType::Dca => {
            let p = member(&spec.dca, "dca")?;
            let take_profit = p
                .take_profit_percent
                .as_ref()
                .map(|t| percent("spec.dca.takeProfitPercent", t.as_str()))
                .transpose()?;
            StrategyConfig::Dca(DcaConfig::new(
                u64::from(p.every_bars),
                money("spec.dca.notional", p.notional.as_str())?,
                take_profit,
            )?)
        }
        StrategyType::MarketMaker => {
            let p = member(&spec.market_maker, "marketMaker")?;
            let spread = Bps::parse(p.spread_bps.as_str())
                .map_err(|e| Invalid::new("spec.marketMaker.spreadBps", e.to_string()))?;
            StrategyConfig::MarketMaker(MarketMakerParams::new(
                spread,
                quantity("spec.marketMaker.orderQuantity", p.order_quantity.as_str())?,
                quantity("spec.marketMaker.maxInventory", p.max_inventory.as_str())?,
                u64::from(p.refresh_bars),
            )?)
        }
        StrategyType::Model => StrategyConfig::Model(model(member(&spec.model, "model")?)?),
        StrategyType::Signal => {
            use tradewind_core::strategy::signal::{SignalAction, SignalConfig};
            let p = member(&spec.signal, "signal")?;
            let actions = p
                .actions
                .iter()
                .map(|a| match a {
                    tradewind_crds::SignalAction::Enter => SignalAction::Enter,
                    tradewind_crds::SignalAction::Exit => SignalAction::Exit,
                    tradewind_crds::SignalAction::Flatten => SignalAction::Flatten,
                })
                .collect();
            let max = p
                .max_position
                .as_ref()
                .map(|m| quantity("spec.signal.maxPosition", m.as_str()))
                .transpose()?;
            StrategyConfig::Signal(SignalConfig::new(actions, max)?)
        }
    };
    if let Some(r) = &spec.risk {
        risk(r)?;
    }
    if let Some(s) = &spec.sizing {
        sizing(s)?;
    }
    Ok(config)
}

/// A decimal signal parameter (a threshold, a band width): exact first, at most 9
/// places, then a float.
fn signal(field: &str, text: &str) -> Result<f64, Invalid> {
    Ok(money(field, text)?.raw() as f64 / 1e9)
}

/// A Model strategy's parameters (the artifact is loaded later, at the edge).
fn model(p: &tradewind_crds::ModelParams) -> Result<ModelConfig, Invalid> {
    use tradewind_crds::{FeatureKind as K, ModelOutputKind};
    let mut features = Vec::with_capacity(p.features.len());
    for (i, f) in p.features.iter().enumerate() {
        let period = f.period as usize;
        let kind = match f.kind {
            K::Returns => FeatureKind::Returns { period },
            K::SmaRatio => FeatureKind::SmaRatio { period },
            K::EmaRatio => FeatureKind::EmaRatio { period },
            K::Rsi => FeatureKind::Rsi { period },
            K::AtrRatio => FeatureKind::AtrRatio { period },
            K::VolumeZScore => FeatureKind::VolumeZScore { period },
            K::BollingerPercentB => {
                let field = format!("spec.model.features[{i}].stdDevs");
                let text = f
                    .std_devs
                    .as_ref()
                    .ok_or_else(|| Invalid::new(&field, "must be set for BollingerPercentB"))?;
                FeatureKind::BollingerPercentB {
                    period,
                    std_devs: signal(&field, text.as_str())?,
                }
            }
        };
        features.push(FeatureSpec {
            name: f.name.clone(),
            kind,
        });
    }
    let kind = match p.output.kind {
        ModelOutputKind::Probability => OutputKind::Probability,
        ModelOutputKind::Score => OutputKind::Score,
        ModelOutputKind::TargetWeight => OutputKind::TargetWeight,
    };
    let default_column = if kind == OutputKind::Probability {
        1
    } else {
        0
    };
    let output = OutputSelector {
        name: p.output.name.clone(),
        column: p.output.column.map_or(default_column, |c| c as usize),
    };
    let rule = match (&p.thresholds, &p.target_weight) {
        (Some(t), None) => DecisionRule::Thresholds {
            enter_above: signed_signal("spec.model.thresholds.enterAbove", t.enter_above.as_str())?,
            exit_below: signed_signal("spec.model.thresholds.exitBelow", t.exit_below.as_str())?,
        },
        (None, Some(w)) => DecisionRule::TargetWeight {
            rebalance_band: signal(
                "spec.model.targetWeight.rebalanceBand",
                w.rebalance_band.as_str(),
            )?,
        },
        _ => {
            return Err(Invalid::new(
                "spec.model",
                "set exactly one of thresholds and targetWeight",
            ));
        }
    };
    let a = &p.artifact;
    let source = match (&a.path, &a.config_map, &a.secret, &a.blob_url) {
        (Some(path), None, None, None) => ArtifactSource::Path(path.clone()),
        (None, Some(r), None, None) => ArtifactSource::ConfigMap {
            name: r.name.clone(),
            key: r.key.clone(),
        },
        (None, None, Some(r), None) => ArtifactSource::Secret {
            name: r.name.clone(),
            key: r.key.clone(),
        },
        (None, None, None, Some(url)) => ArtifactSource::BlobUrl(url.clone()),
        _ => {
            return Err(Invalid::new(
                "spec.model.artifact",
                "set exactly one of path, configMap, secret and blobUrl",
            ));
        }
    };
    Ok(ModelConfig::new(
        features, kind, output, rule, source, &a.sha256,
    )?)
}

/// A signed decimal signal parameter (a Score threshold may be negative).
fn signed_signal(field: &str, text: &str) -> Result<f64, Invalid> {
    match text.strip_prefix('-') {
        Some(rest) => Ok(-signal(field, rest)?),
        None => signal(field, text),
    }
}

/// Where a simulation's venue fees come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueFeeSource {
    /// The venue's default: Binance spot's base tier (VIP 0).
    Default,
    /// `spec.backtest.venueFees`.
    Spec,
}

/// The venue's fee schedule a backtest or paper session charges, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueFees {
    /// Maker/taker rates by the account's rolling 30-day volume.
    pub schedule: FeeSchedule,
    /// The venue's default or the bot's spec.
    pub source: VenueFeeSource,
}

impl std::fmt::Display for VenueFees {
    /// `maker 10bp, taker 10bp (Binance spot VIP 0)`, or for a bot's own schedule
    /// `2 tiers from maker 7.5bp, taker 7.5bp (spec.backtest)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tiers = self.schedule.tiers();
        if tiers.len() > 1 {
            write!(f, "{} tiers from ", tiers.len())?;
        }
        write!(f, "maker {}, taker {}", tiers[0].maker, tiers[0].taker)?;
        match self.source {
            VenueFeeSource::Default => f.write_str(" (Binance spot VIP 0)"),
            VenueFeeSource::Spec => f.write_str(" (spec.backtest)"),
        }
    }
}

/// The default venue fees: Binance spot's base tier (VIP 0), 0.1 % maker and taker
/// (without the BNB discount). The only venue the resources accept today.
pub fn default_venue_fees(exchange: Exchange, market: Market) -> FeeSchedule {
    match (exchange, market) {
        (Exchange::Binance, Market::Spot) => {
            let ten = Bps::from_whole(10).expect("10 bp is a valid rate");
            FeeSchedule::flat(ten, ten)
        }
    }
}

/// The venue's fees a simulation of this bot charges: `spec.backtest.venueFees`, else the
/// venue's default ([`default_venue_fees`]).
pub fn venue_fees(
    venue: &tradewind_crds::Venue,
    backtest: &tradewind_crds::BacktestSpec,
) -> Result<VenueFees, Invalid> {
    Ok(match &backtest.venue_fees {
        None => VenueFees {
            schedule: default_venue_fees(venue.exchange, venue.market),
            source: VenueFeeSource::Default,
        },
        Some(fees) => VenueFees {
            schedule: fee_schedule("spec.backtest.venueFees", fees)?,
            source: VenueFeeSource::Spec,
        },
    })
}

/// Fee tiers as the simulated exchange charges them; errors name `{at}.tiers[i].field`.
fn fee_schedule(at: &str, fees: &TradingFees) -> Result<FeeSchedule, Invalid> {
    let tiers: Vec<(&str, &str, &str)> = fees
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
    FeeSchedule::from_tiers(&tiers).map_err(|e| {
        let tier = |i: usize, field: &str| format!("{at}.tiers[{i}].{field}");
        match e {
            FeeScheduleError::InvalidField {
                tier: i,
                field,
                input,
                reason,
            } => Invalid::new(tier(i, field), format!("{input:?}: {reason}")),
            FeeScheduleError::FirstTierNotZero { .. } => {
                Invalid::new(tier(0, "minVolume30d"), e.to_string())
            }
            FeeScheduleError::NotIncreasing { tier: i, .. } => {
                Invalid::new(tier(i, "minVolume30d"), e.to_string())
            }
            FeeScheduleError::NoTiers => Invalid::new(format!("{at}.tiers"), e.to_string()),
        }
    })
}

/// Position sizing.
pub fn sizing(spec: &tradewind_crds::Sizing) -> Result<Sizing, Invalid> {
    let missing = |m: &str| Invalid::new(format!("spec.sizing.{m}"), "must be set for this type");
    Ok(match spec.type_ {
        SizingType::FixedQuantity => {
            let p = spec
                .fixed_quantity
                .as_ref()
                .ok_or_else(|| missing("fixedQuantity"))?;
            let q = quantity("spec.sizing.fixedQuantity.quantity", p.quantity.as_str())?;
            if q.is_zero() {
                return Err(Invalid::new(
                    "spec.sizing.fixedQuantity.quantity",
                    "must be greater than zero",
                ));
            }
            Sizing::FixedQuantity(q)
        }
        SizingType::FixedNotional => {
            let p = spec
                .fixed_notional
                .as_ref()
                .ok_or_else(|| missing("fixedNotional"))?;
            let n = money("spec.sizing.fixedNotional.notional", p.notional.as_str())?;
            if n.is_negative() || n.is_zero() {
                return Err(Invalid::new(
                    "spec.sizing.fixedNotional.notional",
                    "must be greater than zero",
                ));
            }
            Sizing::FixedNotional(n)
        }
        SizingType::PercentOfEquity => {
            let p = spec
                .percent_of_equity
                .as_ref()
                .ok_or_else(|| missing("percentOfEquity"))?;
            Sizing::percent_of_equity(percent(
                "spec.sizing.percentOfEquity.percent",
                p.percent.as_str(),
            )?)?
        }
        SizingType::AllIn => Sizing::AllIn,
    })
}

/// Risk limits.
pub fn risk(r: &tradewind_crds::RiskLimits) -> Result<RiskLimits, Invalid> {
    let text = RiskLimitsText {
        max_order_notional: r.max_order_notional.as_ref().map(|d| d.as_str()),
        max_position_notional: r.max_position_notional.as_ref().map(|d| d.as_str()),
        price_band_percent: r.price_band_percent.as_ref().map(|p| p.as_str()),
        stop_loss_percent: r.stop_loss_percent.as_ref().map(|p| p.as_str()),
        daily_loss_limit: r.daily_loss_limit.as_ref().map(|d| d.as_str()),
        max_drawdown_percent: r.max_drawdown_percent.as_ref().map(|p| p.as_str()),
    };
    RiskLimits::parse(&text).map_err(|e| Invalid::new(format!("spec.risk.{}", e.field), e.reason))
}

/// Significant decimals of a decimal string (trailing zeros are exact and dropped), at
/// most [`FIXED_PRECISION`]: more is refused by the parse, with the count.
fn places(text: &str) -> u8 {
    let n = text
        .split_once('.')
        .map_or(0, |(_, f)| f.trim_end_matches('0').len());
    u8::try_from(n).unwrap_or(u8::MAX).min(FIXED_PRECISION)
}

/// The parse error, with the core limit it ran into.
pub(crate) fn fixed(field: &str, e: FixedError) -> Invalid {
    let reason = match &e {
        FixedError::TooManyDecimals { .. } => {
            format!("{e}; the engine represents at most {FIXED_PRECISION} decimal places")
        }
        FixedError::OutOfRange { kind: "price", .. } => {
            format!("{e}; the largest price the engine represents is {PRICE_MAX}")
        }
        FixedError::OutOfRange {
            kind: "quantity", ..
        } => format!("{e}; the largest quantity the engine represents is {QUANTITY_MAX}"),
        _ => e.to_string(),
    };
    Invalid::new(field, reason)
}

fn price(field: &str, text: &str) -> Result<Price, Invalid> {
    Price::parse(text, places(text)).map_err(|e| fixed(field, e))
}

fn quantity(field: &str, text: &str) -> Result<Quantity, Invalid> {
    Quantity::parse(text, places(text)).map_err(|e| fixed(field, e))
}

fn money(field: &str, text: &str) -> Result<Money, Invalid> {
    Money::parse(text).map_err(|e| fixed(field, e))
}

fn percent(field: &str, text: &str) -> Result<Percent, Invalid> {
    Percent::parse(text).map_err(|e| fixed(field, e))
}

mod commission;
pub use commission::commission_plan;

#[cfg(test)]
mod tests;
