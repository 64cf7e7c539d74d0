//! Validate: what the CRDs' CEL rules cannot check, by the same translation from the
//! resources to the core's configuration that the worker runs (`tradewind-config`), so
//! the operator refuses exactly what the worker would refuse, naming the field.

use tradewind_crds::{CommissionPlanSpec, StrategySpec};

pub use tradewind_config::Invalid;

/// Every problem with a Strategy's parameters, risk limits and sizing (empty when it is
/// usable; the translation stops at the first).
pub fn strategy(spec: &StrategySpec) -> Vec<Invalid> {
    tradewind_config::strategy(spec).err().into_iter().collect()
}

/// Every problem with a CommissionPlan (empty when it is usable; the translation to the
/// commission engine's plan stops at the first).
pub fn plan(spec: &CommissionPlanSpec) -> Vec<Invalid> {
    tradewind_config::commission_plan(spec)
        .err()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strat(v: serde_json::Value) -> StrategySpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn accepts_what_the_engine_represents() {
        let s = strat(
            serde_json::json!({"type": "Grid", "grid": {"lowerPrice": "0.000000001", "upperPrice": "70000.50", "levels": 3, "quantityPerLevel": "0.001000000000"}}),
        );
        assert!(strategy(&s).is_empty(), "{:?}", strategy(&s));
    }

    #[test]
    fn refuses_what_the_worker_refuses_naming_the_field() {
        let s = strat(
            serde_json::json!({"type": "Grid", "grid": {"lowerPrice": "0.0000000001", "upperPrice": "9000000000", "levels": 3, "quantityPerLevel": "1"}}),
        );
        let errs: Vec<String> = strategy(&s).iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with(
                "spec.grid.lowerPrice: price \"0.0000000001\" has 10 significant decimals"
            ),
            "{errs:?}"
        );
        // Within i64 nano-units (the core's PRICE_MAX), unlike the old 9e9 limit.
        let s = strat(
            serde_json::json!({"type": "Grid", "grid": {"lowerPrice": "1", "upperPrice": "9000000000", "levels": 3, "quantityPerLevel": "1"}}),
        );
        assert!(strategy(&s).is_empty(), "{:?}", strategy(&s));
        let p: CommissionPlanSpec = serde_json::from_value(serde_json::json!({
            "tradingFees": {"tiers": [{"minVolume30d": "0", "makerBps": "7.1234567891", "takerBps": "10"}]},
            "distribution": [{"recipient": "Platform", "shareBps": 10000}]
        }))
        .unwrap();
        assert_eq!(plan(&p)[0].field, "spec.tradingFees.tiers[0].makerBps");
    }
}
