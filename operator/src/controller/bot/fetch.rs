//! Step: read the Strategy and CommissionPlan the bot names. One that does not exist is
//! `None`, not an error: dereferencing says what is missing.

use kube::{Api, ResourceExt};
use tradewind_crds::{CommissionPlan, Strategy, TradingBot};

use super::Error;
use crate::controller::Context;

/// What the bot refers to, as found.
pub struct References {
    /// `spec.strategyRef`.
    pub strategy: Option<Strategy>,
    /// `spec.commissionPlanRef`, if the bot names one.
    pub plan: Option<CommissionPlan>,
}

/// Reads the bot's references from its namespace.
pub async fn references(bot: &TradingBot, ctx: &Context) -> Result<References, Error> {
    let ns = bot.namespace().unwrap_or_default();
    let name = &bot.spec.strategy_ref.name;
    let strategy = Api::<Strategy>::namespaced(ctx.client.clone(), &ns)
        .get_opt(name)
        .await
        .map_err(|source| Error::Fetch {
            kind: "Strategy",
            name: name.clone(),
            source,
        })?;
    let plan = match &bot.spec.commission_plan_ref {
        Some(r) => Api::<CommissionPlan>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|source| Error::Fetch {
                kind: "CommissionPlan",
                name: r.name.clone(),
                source,
            })?,
        None => None,
    };
    Ok(References { strategy, plan })
}
