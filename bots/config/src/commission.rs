//! A CommissionPlan's spec as the commission engine's plain [`Plan`]: the platform's
//! commission, charged in the ledger (never in a simulation). Errors name the field.

use tradewind_commission::{
    Basis, Distribution, FeeSchedule, FeeTier, PerformanceFee, PeriodKind, Plan, PlanError, Rate,
    Role, Share,
};
use tradewind_core::fixed::Money;
use tradewind_crds::{CommissionPlanSpec, ProfitBasis, Recipient, SettlementPeriod};

use crate::{Invalid, fixed};

/// The engine's checks name fields below `spec`.
impl From<PlanError> for Invalid {
    fn from(e: PlanError) -> Self {
        Invalid::new(format!("spec.{}", e.field), e.reason)
    }
}

/// Translates a CommissionPlan; the first problem found is the error.
pub fn commission_plan(spec: &CommissionPlanSpec) -> Result<Plan, Invalid> {
    let mut tiers = Vec::with_capacity(spec.trading_fees.tiers.len());
    for (i, t) in spec.trading_fees.tiers.iter().enumerate() {
        let field = |name: &str| format!("spec.tradingFees.tiers[{i}].{name}");
        let min_volume_30d = Money::parse(t.min_volume_30d.as_str())
            .map_err(|e| fixed(&field("minVolume30d"), e))?;
        if min_volume_30d.is_negative() {
            return Err(Invalid::new(field("minVolume30d"), "must not be negative"));
        }
        let bps = |name: &str, text: &str| {
            Rate::from_bps(text).map_err(|e| Invalid::new(field(name), format!("basis points {e}")))
        };
        tiers.push(FeeTier {
            min_volume_30d,
            maker: bps("makerBps", t.maker_bps.as_str())?,
            taker: bps("takerBps", t.taker_bps.as_str())?,
        });
    }
    let trading_fees = FeeSchedule::new(tiers)?;
    let performance_fee = spec
        .performance_fee
        .as_ref()
        .map(|f| {
            let rate = Rate::from_percent(f.percent.as_str())
                .map_err(|e| Invalid::new("spec.performanceFee.percent", format!("percent {e}")))?;
            Ok::<_, Invalid>(PerformanceFee {
                rate,
                basis: match f.basis.unwrap_or_default() {
                    ProfitBasis::Realized => Basis::Realized,
                    ProfitBasis::Total => Basis::Total,
                },
            })
        })
        .transpose()?;
    let mut shares = Vec::with_capacity(spec.distribution.len());
    for (i, s) in spec.distribution.iter().enumerate() {
        let role = match (s.recipient, s.level) {
            (Recipient::Platform, None) => Role::Platform,
            (Recipient::StrategyAuthor, None) => Role::StrategyAuthor,
            (Recipient::Referral, Some(level)) => Role::Referral(
                u8::try_from(level)
                    .ok()
                    .filter(|l| (1..=tradewind_commission::MAX_REFERRAL_LEVEL).contains(l))
                    .ok_or_else(|| {
                        Invalid::new(
                            format!("spec.distribution[{i}].level"),
                            format!(
                                "must be 1 to {}, got {level}",
                                tradewind_commission::MAX_REFERRAL_LEVEL
                            ),
                        )
                    })?,
            ),
            (Recipient::Referral, None) => {
                return Err(Invalid::new(
                    format!("spec.distribution[{i}].level"),
                    "must be set for a Referral share",
                ));
            }
            (_, Some(_)) => {
                return Err(Invalid::new(
                    format!("spec.distribution[{i}].level"),
                    "is only for Referral shares",
                ));
            }
        };
        shares.push(Share {
            role,
            bps: s.share_bps,
        });
    }
    Ok(Plan {
        currency: spec.currency().to_owned(),
        trading_fees,
        performance_fee,
        period: match spec.settlement_period() {
            SettlementPeriod::Daily => PeriodKind::Daily,
            SettlementPeriod::Weekly => PeriodKind::Weekly,
            SettlementPeriod::Monthly => PeriodKind::Monthly,
            SettlementPeriod::Quarterly => PeriodKind::Quarterly,
        },
        distribution: Distribution::new(shares)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn spec(edit: impl FnOnce(&mut Value)) -> CommissionPlanSpec {
        let mut v = json!({
            "tradingFees": {"tiers": [
                {"minVolume30d": "0", "makerBps": "10", "takerBps": "10"},
                {"minVolume30d": "1000000", "makerBps": "7.5", "takerBps": "9"}
            ]},
            "performanceFee": {"percent": "12.5", "settlementPeriod": "Weekly"},
            "distribution": [
                {"recipient": "Referral", "level": 1, "shareBps": 1500},
                {"recipient": "Platform", "shareBps": 6500},
                {"recipient": "StrategyAuthor", "shareBps": 2000}
            ]
        });
        edit(&mut v);
        serde_json::from_value(v).unwrap()
    }

    fn err(edit: impl FnOnce(&mut Value)) -> String {
        commission_plan(&spec(edit)).unwrap_err().to_string()
    }

    #[test]
    fn a_plan_translates_to_the_engines_plan() {
        let plan = commission_plan(&spec(|_| {})).unwrap();
        assert_eq!(plan.currency, "USDT");
        assert_eq!(plan.period, PeriodKind::Weekly);
        assert_eq!(
            plan.trading_fees.tiers()[1].maker,
            Rate::from_bps("7.5").unwrap()
        );
        let fee = plan.performance_fee.unwrap();
        assert_eq!(fee.rate, Rate::from_whole_bps(1250).unwrap());
        assert_eq!(
            fee.basis,
            Basis::Realized,
            "realised profit unless the plan says Total"
        );
        let roles: Vec<Role> = plan.distribution.shares().iter().map(|s| s.role).collect();
        assert_eq!(
            roles,
            [Role::Platform, Role::StrategyAuthor, Role::Referral(1)]
        );
        // Without a performance fee the plan settles monthly, like its CronJob.
        let plain = commission_plan(&spec(|v| {
            v.as_object_mut().unwrap().remove("performanceFee");
            v["currency"] = json!("USDC");
        }))
        .unwrap();
        assert_eq!(
            (plain.period, plain.currency.as_str()),
            (PeriodKind::Monthly, "USDC")
        );
        let total = commission_plan(&spec(|v| v["performanceFee"]["basis"] = json!("Total")));
        assert_eq!(total.unwrap().performance_fee.unwrap().basis, Basis::Total);
    }

    #[test]
    fn errors_name_the_resource_field() {
        assert_eq!(
            err(|v| v["tradingFees"]["tiers"][1]["takerBps"] = json!("10000.5")),
            "spec.tradingFees.tiers[1].takerBps: basis points \"10000.5\" is above 100 %"
        );
        assert_eq!(
            err(|v| v["tradingFees"]["tiers"][1]["minVolume30d"] = json!("0")),
            "spec.tradingFees.tiers[1].minVolume30d: 0.00 is not above the previous tier's \
             0.00: tiers must be strictly increasing"
        );
        assert_eq!(
            err(|v| v["performanceFee"]["percent"] = json!("100.5")),
            "spec.performanceFee.percent: percent \"100.5\" is above 100 %"
        );
        assert_eq!(
            err(|v| v["distribution"][1]["shareBps"] = json!(6000)),
            "spec.distribution: shares must sum to exactly 10000 bp (100 %), got 9500"
        );
        assert_eq!(
            err(|v| v["distribution"][0]["level"] = json!(6)),
            "spec.distribution[0].level: must be 1 to 5, got 6"
        );
        assert_eq!(
            err(|v| v["distribution"][2]["level"] = json!(1)),
            "spec.distribution[2].level: is only for Referral shares"
        );
    }
}
