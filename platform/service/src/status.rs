//! The CommissionPlan's `status.lastSettlement`, written by `settle` after the
//! settlement's transaction committed: server-side apply on the status subresource under
//! its own field manager, so the operator's status writes (conditions, bound bots) and
//! this one each own their fields and neither drops the other's.

use std::path::Path;

use anyhow::{Context, Result};
use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::{Value, json};
use tradewind_crds::{CommissionPlan, SettlementTotals};

/// The field manager owning `status.lastSettlement`.
pub const FIELD_MANAGER: &str = "tradewind-settlement";

/// The status's totals from a settlement's stored summary (the ledger's JSON: money as
/// decimal strings, instants as RFC 3339).
pub fn totals(summary: &Value) -> Result<SettlementTotals> {
    let class = |name: &str| summary["byRecipientClass"].get(name).cloned();
    let mut by_class = serde_json::Map::new();
    for (field, key) in [
        ("platform", "platform"),
        ("strategyAuthor", "strategyAuthor"),
        ("referral1", "referral1"),
        ("referral2", "referral2"),
    ] {
        if let Some(v) = class(key) {
            by_class.insert(field.into(), v);
        }
    }
    let value = json!({
        "periodStart": summary["period"]["start"],
        "periodEnd": summary["period"]["end"],
        "currency": summary["currency"],
        "tradingFees": summary["tradingFees"],
        "performanceFees": summary["performanceFees"],
        "byRecipientClass": by_class,
        "accountsCharged": summary["accountsCharged"],
        "charges": summary["charges"],
        "settledAt": summary["settledAt"],
    });
    serde_json::from_value(value).context("the settlement's summary does not read as status totals")
}

/// The client to write the status with: through `kubeconfig` when given, else the
/// in-cluster configuration; `None` (said on stderr) outside a cluster.
pub async fn client(kubeconfig: Option<&Path>) -> Result<Option<Client>> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("--status-kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("--status-kubeconfig {}", path.display()))?
        }
        None => match Config::incluster() {
            Ok(config) => config,
            Err(e) => {
                eprintln!(
                    "not running in a cluster ({e}): the CommissionPlan's status was not updated"
                );
                return Ok(None);
            }
        },
    };
    Ok(Some(Client::try_from(config)?))
}

/// Applies `status.lastSettlement` of the CommissionPlan `plan` (`namespace/name`).
pub async fn write(client: Client, plan: &str, totals: &SettlementTotals) -> Result<()> {
    let (namespace, name) = plan.split_once('/').with_context(|| {
        format!("--plan {plan}: not namespace/name, so no CommissionPlan to update")
    })?;
    let patch = json!({
        "apiVersion": "tradewind.dev/v1alpha1",
        "kind": "CommissionPlan",
        "metadata": {"name": name, "namespace": namespace},
        "status": {"lastSettlement": totals},
    });
    Api::<CommissionPlan>::namespaced(client, namespace)
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .with_context(|| {
            format!("settled, but the status of CommissionPlan {plan} was not updated")
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tradewind_commission::{Period, PeriodKind};
    use tradewind_core::data::time::parse_iso8601;
    use tradewind_core::fixed::Money;
    use tradewind_ledger::SettlementSummary;

    use super::totals;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn the_ledgers_summary_becomes_the_status_totals_per_recipient_class() {
        let start = parse_iso8601("2026-11-01T00:00:00Z").unwrap();
        let summary = SettlementSummary {
            id: "trading/standard/2026-11-01T00:00:00Z".into(),
            plan: "trading/standard".into(),
            period: Period::containing(PeriodKind::Monthly, start),
            currency: "USDT".into(),
            accounts_charged: 3,
            charges: 41,
            trading_fees: money("12.5"),
            performance_fees: money("3.456789123"),
            by_class: BTreeMap::from([
                ("platform".into(), money("9.574073474")),
                ("strategyAuthor".into(), money("3.191357825")),
                ("referral1".into(), money("2.393518368")),
                ("referral2".into(), money("0.797839456")),
            ]),
            settled_at: parse_iso8601("2026-12-01T00:00:04Z").unwrap(),
        };
        let t = serde_json::to_value(totals(&summary.to_json()).unwrap()).unwrap();
        assert_eq!(
            t,
            serde_json::json!({
                "periodStart": "2026-11-01T00:00:00Z",
                "periodEnd": "2026-12-01T00:00:00Z",
                "currency": "USDT",
                "tradingFees": "12.50",
                "performanceFees": "3.456789123",
                "byRecipientClass": {
                    "platform": "9.574073474",
                    "strategyAuthor": "3.191357825",
                    "referral1": "2.393518368",
                    "referral2": "0.797839456",
                },
                "accountsCharged": 3,
                "charges": 41,
                "settledAt": "2026-12-01T00:00:04Z",
            })
        );
    }

    #[test]
    fn a_summary_that_does_not_read_is_refused() {
        let err = totals(&serde_json::json!({"settledAt": "yesterday"})).unwrap_err();
        assert!(format!("{err:#}").contains("status totals"), "{err:#}");
    }
}
