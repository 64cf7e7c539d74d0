//! Validate: what the CRD's CEL rules cannot check. The CRDs accept any well-formed
//! decimal (up to 18 places); the trading core computes in fixed point at 1e-9 with
//! 64-bit prices and quantities, so a parameter it cannot represent exactly must be
//! refused here, naming the field, instead of failing in the worker.

use serde_json::Value;
use tradewind_crds::{CommissionPlanSpec, StrategySpec};

/// Most decimal places the core represents exactly (its fixed-point scale is 1e-9).
pub const MAX_DECIMALS: usize = 9;
/// Prices and quantities are `i64`/`u64` at 1e-9: whole parts must stay below this.
pub const MAX_PRICE_OR_QUANTITY: u64 = 9_000_000_000;

/// A parameter the engine cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// Resource field, e.g. `spec.grid.lowerPrice`.
    pub field: String,
    /// Why.
    pub reason: String,
}

fn decimals(path: &str, v: &Value, out: &mut Vec<Invalid>) {
    match v {
        Value::String(s) if is_decimal(s) => {
            let places = s
                .split_once('.')
                .map_or(0, |(_, f)| f.trim_end_matches('0').len());
            if places > MAX_DECIMALS {
                out.push(Invalid {
                    field: path.to_owned(),
                    reason: format!("{s} has {places} decimal places; the engine represents at most {MAX_DECIMALS}"),
                });
            }
        }
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| decimals(&format!("{path}.{k}"), v, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| decimals(&format!("{path}[{i}]"), v, out)),
        _ => {}
    }
}

fn is_decimal(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn bounded(field: &str, value: &str, out: &mut Vec<Invalid>) {
    let whole: u64 = value
        .split('.')
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(u64::MAX);
    if whole >= MAX_PRICE_OR_QUANTITY {
        out.push(Invalid {
            field: field.to_owned(),
            reason: format!("{value} is too large for a price or quantity (must be below {MAX_PRICE_OR_QUANTITY})"),
        });
    }
}

/// Every problem with a Strategy's parameters (empty when it is usable).
pub fn strategy(spec: &StrategySpec) -> Vec<Invalid> {
    let mut out = Vec::new();
    decimals(
        "spec",
        &serde_json::to_value(spec).unwrap_or(Value::Null),
        &mut out,
    );
    if let Some(g) = &spec.grid {
        bounded("spec.grid.lowerPrice", g.lower_price.as_str(), &mut out);
        bounded("spec.grid.upperPrice", g.upper_price.as_str(), &mut out);
        bounded(
            "spec.grid.quantityPerLevel",
            g.quantity_per_level.as_str(),
            &mut out,
        );
    }
    if let Some(m) = &spec.market_maker {
        bounded(
            "spec.marketMaker.orderQuantity",
            m.order_quantity.as_str(),
            &mut out,
        );
        bounded(
            "spec.marketMaker.maxInventory",
            m.max_inventory.as_str(),
            &mut out,
        );
    }
    if let Some(q) = spec.sizing.as_ref().and_then(|s| s.fixed_quantity.as_ref()) {
        bounded(
            "spec.sizing.fixedQuantity.quantity",
            q.quantity.as_str(),
            &mut out,
        );
    }
    out
}

/// Every problem with a CommissionPlan (empty when it is usable).
pub fn plan(spec: &CommissionPlanSpec) -> Vec<Invalid> {
    let mut out = Vec::new();
    decimals(
        "spec",
        &serde_json::to_value(spec).unwrap_or(Value::Null),
        &mut out,
    );
    out
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
    fn refuses_too_many_places_and_too_large_values_naming_the_field() {
        let s = strat(
            serde_json::json!({"type": "Grid", "grid": {"lowerPrice": "0.0000000001", "upperPrice": "9000000000", "levels": 3, "quantityPerLevel": "1"}}),
        );
        let errs: Vec<String> = strategy(&s).iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("spec.grid.lowerPrice: 0.0000000001 has 10 decimal places"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("spec.grid.upperPrice: 9000000000 is too large"),
            "{errs:?}"
        );
        let p: CommissionPlanSpec = serde_json::from_value(serde_json::json!({
            "tradingFees": {"tiers": [{"minVolume30d": "0", "makerBps": "7.1234567891", "takerBps": "10"}]},
            "distribution": [{"recipient": "Platform", "shareBps": 10000}]
        }))
        .unwrap();
        assert_eq!(plan(&p)[0].field, "spec.tradingFees.tiers[0].makerBps");
    }
}
