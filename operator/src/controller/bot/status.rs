//! Step: write the operator's part of the bot's status, computed by
//! [`crate::status::compute`], and only when it changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Patch;
use kube::{Api, ResourceExt};
use tradewind_crds::{TradingBot, TradingBotStatus};

use super::Error;
use crate::build::BacktestRun;
use crate::controller::{Context, key, status_apply_params};
use crate::dereference::DereferenceError;
use crate::status::{CloudState, Observed, compute, needs_write, operator_owned, with_backtest};

/// The time conditions are stamped with.
pub fn now() -> Time {
    Time(Timestamp::now())
}

/// The status of a bot whose references cannot be resolved (yet), with a Warning once
/// per change.
pub async fn unresolved(
    bot: &TradingBot,
    ctx: &Context,
    e: &DereferenceError,
) -> Result<(), Error> {
    tracing::info!(bot = %key(bot), reason = e.reason(), "waiting for a reference");
    let observed = Observed {
        resolution: Err((e.reason(), e.to_string())),
        cloud: CloudState::NotNeeded,
        deployment: None,
        config_hash: None,
    };
    let status = compute(bot, &observed, now());
    if needs_write(bot, &status) {
        // Once per change, not per retry: the status write is the change.
        ctx.warn(bot, e.reason(), e.to_string()).await;
    }
    write(bot, ctx, &status).await
}

/// The status after the workload step, with a Warning once per cloud failure.
pub async fn reconciled(
    bot: &TradingBot,
    ctx: &Context,
    observed: &Observed<'_>,
    backtest: Option<&BacktestRun>,
) -> Result<(), Error> {
    let mut status = compute(bot, observed, now());
    if let Some(run) = backtest {
        status = with_backtest(status, bot, run, now());
        if let BacktestRun::Failed { message, .. } = run
            && needs_write(bot, &status)
        {
            ctx.warn(bot, crate::status::BACKTEST_FAILED, message.clone())
                .await;
        }
    }
    if let CloudState::Failed(msg) = &observed.cloud
        && needs_write(bot, &status)
    {
        ctx.warn(bot, "CloudProvisioningFailed", msg.clone()).await;
    }
    write(bot, ctx, &status).await
}

/// Applies `status` (the operator's fields) unless the bot, or the live object, already
/// shows it.
pub async fn write(
    bot: &TradingBot,
    ctx: &Context,
    status: &TradingBotStatus,
) -> Result<(), Error> {
    if !needs_write(bot, status) {
        return Ok(());
    }
    let api: Api<TradingBot> =
        Api::namespaced(ctx.client.clone(), &bot.namespace().unwrap_or_default());
    // The bot may come from a cache that has not seen our last status write yet: compare
    // with the live object (a read, not a write) so one real change is written once.
    let owned = operator_owned(status);
    if let Some(live) = api.get_opt(&bot.name_any()).await.map_err(Error::Status)?
        && live
            .status
            .as_ref()
            .is_some_and(|l| same_but_for_times(&operator_owned(l), &owned))
    {
        return Ok(());
    }
    // Server-side apply of our fields only: the worker applies `performance`, `Trading`
    // and `Halted` under its own manager, and conditions merge by `type`.
    let patch = serde_json::json!({
        "apiVersion": "tradewind.dev/v1alpha1",
        "kind": "TradingBot",
        "status": owned,
    });
    api.patch_status(
        &bot.name_any(),
        &status_apply_params(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::Status)?;
    Ok(())
}

/// Equal statuses, ignoring when conditions last transitioned (a status recomputed from
/// a stale copy stamps "now" on a transition the live object already records).
fn same_but_for_times(a: &TradingBotStatus, b: &TradingBotStatus) -> bool {
    let strip = |s: &TradingBotStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_transition_time = Time(Timestamp::UNIX_EPOCH);
        }
        s.conditions.sort_by(|x, y| x.type_.cmp(&y.type_));
        s
    };
    strip(a) == strip(b)
}
