//! The resolved bot configuration: a TradingBot together with its Strategy and optional
//! CommissionPlan, with risk and sizing inheritance applied. The operator writes it into
//! the bot's ConfigMap; the worker and `tradewind-bot backtest` read it.

use serde::{Deserialize, Serialize};

use crate::{
    CommissionPlan, CommissionPlanSpec, RiskLimits, Sizing, Strategy, StrategySpec, TradingBot,
    TradingBotSpec,
};

/// Everything a worker needs to run one bot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotConfig {
    /// Bot name.
    pub name: String,
    /// Bot namespace, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The bot as written.
    pub bot: TradingBotSpec,
    /// Name of the referenced Strategy.
    pub strategy_name: String,
    /// The referenced Strategy.
    pub strategy: StrategySpec,
    /// Name of the referenced CommissionPlan, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_plan_name: Option<String>,
    /// The referenced CommissionPlan, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_plan: Option<CommissionPlanSpec>,
    /// Strategy risk limits overlaid with the bot's overrides.
    pub risk: RiskLimits,
    /// The bot's sizing, else the strategy's, else all available cash.
    pub sizing: Sizing,
}

/// Why a bot cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The strategy given is not the one the bot references.
    #[error("TradingBot {bot}: spec.strategyRef names Strategy {wanted:?}, got {got:?}")]
    WrongStrategy {
        /// Bot name.
        bot: String,
        /// Referenced name.
        wanted: String,
        /// Name supplied.
        got: String,
    },
    /// The bot references a plan but none (or another) was supplied.
    #[error(
        "TradingBot {bot}: spec.commissionPlanRef names CommissionPlan {wanted:?}, got {got:?}"
    )]
    WrongPlan {
        /// Bot name.
        bot: String,
        /// Referenced name, if any.
        wanted: Option<String>,
        /// Name supplied, if any.
        got: Option<String>,
    },
}

/// Resolves a bot against its strategy and plan (pure: the caller fetched them).
pub fn resolve(
    bot: &TradingBot,
    strategy: &Strategy,
    plan: Option<&CommissionPlan>,
) -> Result<BotConfig, ResolveError> {
    let name = bot.metadata.name.clone().unwrap_or_default();
    let strategy_name = strategy.metadata.name.clone().unwrap_or_default();
    if bot.spec.strategy_ref.name != strategy_name {
        return Err(ResolveError::WrongStrategy {
            bot: name,
            wanted: bot.spec.strategy_ref.name.clone(),
            got: strategy_name,
        });
    }
    let wanted_plan = bot
        .spec
        .commission_plan_ref
        .as_ref()
        .map(|r| r.name.clone());
    let got_plan = plan.and_then(|p| p.metadata.name.clone());
    if wanted_plan != got_plan {
        return Err(ResolveError::WrongPlan {
            bot: name,
            wanted: wanted_plan,
            got: got_plan,
        });
    }
    let risk = strategy
        .spec
        .risk
        .clone()
        .unwrap_or_default()
        .overlay(bot.spec.risk.as_ref());
    let sizing = bot
        .spec
        .sizing
        .clone()
        .or_else(|| strategy.spec.sizing.clone())
        .unwrap_or_else(Sizing::all_in);
    Ok(BotConfig {
        name,
        namespace: bot.metadata.namespace.clone(),
        bot: bot.spec.clone(),
        strategy_name,
        strategy: strategy.spec.clone(),
        commission_plan_name: got_plan,
        commission_plan: plan.map(|p| p.spec.clone()),
        risk,
        sizing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AccountRef, Capital, CrossParams, Exchange, LocalObjectReference, Market, Mode,
        PercentOfEquitySizing, PositiveDecimal, SizingType, StrategyType, Timeframe, Venue,
    };

    fn strategy(risk: Option<RiskLimits>, sizing: Option<Sizing>) -> Strategy {
        Strategy::new(
            "sma",
            StrategySpec {
                type_: StrategyType::SmaCross,
                timeframe: Timeframe::H1,
                sma_cross: Some(CrossParams {
                    fast_period: 10,
                    slow_period: 20,
                }),
                ema_cross: None,
                rsi_reversion: None,
                bollinger_reversion: None,
                grid: None,
                dca: None,
                market_maker: None,
                model: None,
                risk,
                sizing,
                signal: None,
            },
        )
    }

    fn bot(risk: Option<RiskLimits>, sizing: Option<Sizing>) -> TradingBot {
        TradingBot::new(
            "bot",
            TradingBotSpec {
                strategy_ref: LocalObjectReference { name: "sma".into() },
                commission_plan_ref: None,
                account_ref: AccountRef {
                    name: "alice".into(),
                },
                venue: Venue {
                    exchange: Exchange::Binance,
                    market: Market::Spot,
                    testnet: false,
                },
                symbols: vec!["BTCUSDT".into()],
                mode: Mode::Backtest,
                credentials: None,
                capital: Capital {
                    amount: "1000".into(),
                    currency: "USDT".into(),
                },
                risk,
                sizing,
                suspend: false,
                image: None,
                resources: None,
                cloud: None,
                backtest: None,
                live: None,
            },
        )
    }

    fn limit(v: &str) -> Option<PositiveDecimal> {
        Some(v.into())
    }

    #[test]
    fn bot_risk_overrides_strategy_field_by_field() {
        let s = strategy(
            Some(RiskLimits {
                max_order_notional: limit("100"),
                daily_loss_limit: limit("50"),
                ..Default::default()
            }),
            None,
        );
        let b = bot(
            Some(RiskLimits {
                max_order_notional: limit("80"),
                ..Default::default()
            }),
            None,
        );
        let cfg = resolve(&b, &s, None).unwrap();
        assert_eq!(cfg.risk.max_order_notional, limit("80"));
        assert_eq!(cfg.risk.daily_loss_limit, limit("50"));
        assert_eq!(cfg.risk.max_position_notional, None);
    }

    #[test]
    fn sizing_falls_back_from_bot_to_strategy_to_all_in() {
        let pct = Sizing {
            type_: SizingType::PercentOfEquity,
            fixed_quantity: None,
            fixed_notional: None,
            percent_of_equity: Some(PercentOfEquitySizing {
                percent: "25".into(),
            }),
        };
        assert_eq!(
            resolve(&bot(None, None), &strategy(None, None), None)
                .unwrap()
                .sizing,
            Sizing::all_in()
        );
        assert_eq!(
            resolve(&bot(None, None), &strategy(None, Some(pct.clone())), None)
                .unwrap()
                .sizing,
            pct
        );
        assert_eq!(
            resolve(
                &bot(None, Some(Sizing::all_in())),
                &strategy(None, Some(pct)),
                None
            )
            .unwrap()
            .sizing,
            Sizing::all_in()
        );
    }

    #[test]
    fn mismatched_references_are_refused() {
        let mut b = bot(None, None);
        b.spec.strategy_ref.name = "other".into();
        assert!(matches!(
            resolve(&b, &strategy(None, None), None),
            Err(ResolveError::WrongStrategy { .. })
        ));
        let mut b = bot(None, None);
        b.spec.commission_plan_ref = Some(LocalObjectReference {
            name: "flat".into(),
        });
        let err = resolve(&b, &strategy(None, None), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "TradingBot bot: spec.commissionPlanRef names CommissionPlan Some(\"flat\"), got None"
        );
    }
}
