//! The TradingBot reconcile: dereference → build → ensure cloud → apply → status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Patch;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Api, ResourceExt};
use tradewind_crds::conditions::{ConditionUpdate, Status, set_condition, types};
use tradewind_crds::{CommissionPlan, DeletionPolicy, Strategy, TradingBot};

use super::apply::apply;
use super::{Context, Error, FINALIZER, key};
use crate::build;
use crate::dereference::dereference;
use crate::status::{CloudState, Observed, compute, needs_write, operator_owned};

/// A bot that is Ready is looked at again this often (drift repair); changes trigger at once.
const RESYNC: Duration = Duration::from_secs(300);

fn now() -> Time {
    Time(Timestamp::now())
}

/// Entry point for the controller.
pub async fn reconcile(bot: Arc<TradingBot>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.start("tradingbot");
    let ns = bot.namespace().unwrap_or_default();
    let api: Api<TradingBot> = Api::namespaced(ctx.client.clone(), &ns);
    let k = key(bot.as_ref());
    let action = finalizer(&api, FINALIZER, bot, |event| async {
        match event {
            Event::Apply(bot) => apply_bot(&bot, &ctx).await,
            Event::Cleanup(bot) => cleanup_bot(&bot, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    })?;
    ctx.succeeded(&k);
    Ok(action)
}

async fn patch_status(
    api: &Api<TradingBot>,
    bot: &TradingBot,
    status: &tradewind_crds::TradingBotStatus,
) -> Result<(), Error> {
    if !needs_write(bot, status) {
        return Ok(());
    }
    // The bot may come from a cache that has not seen our last status write yet: compare
    // with the live object (a read, not a write) so one real change is written once.
    let owned = operator_owned(status);
    if let Some(live) = api.get_opt(&bot.name_any()).await?
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
        &super::status_apply_params(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Equal statuses, ignoring when conditions last transitioned (a status recomputed from
/// a stale copy stamps "now" on a transition the live object already records).
fn same_but_for_times(
    a: &tradewind_crds::TradingBotStatus,
    b: &tradewind_crds::TradingBotStatus,
) -> bool {
    let strip = |s: &tradewind_crds::TradingBotStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_transition_time = Time(Timestamp::UNIX_EPOCH);
        }
        s.conditions.sort_by(|x, y| x.type_.cmp(&y.type_));
        s
    };
    strip(a) == strip(b)
}

async fn apply_bot(bot: &TradingBot, ctx: &Context) -> Result<Action, Error> {
    let ns = bot.namespace().unwrap_or_default();
    let client = &ctx.client;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), &ns);
    ctx.index.update(bot);
    ctx.metrics
        .set_managed("tradingbot", ctx.index.bot_count() as i64);

    // Dereference.
    let strategy = Api::<Strategy>::namespaced(client.clone(), &ns)
        .get_opt(&bot.spec.strategy_ref.name)
        .await?;
    let plan = match &bot.spec.commission_plan_ref {
        Some(r) => {
            Api::<CommissionPlan>::namespaced(client.clone(), &ns)
                .get_opt(&r.name)
                .await?
        }
        None => None,
    };
    let cfg = match dereference(bot, strategy.as_ref(), plan.as_ref()) {
        Ok(cfg) => cfg,
        Err(e) => {
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
            patch_status(&bots, bot, &status).await?;
            // The Strategy/CommissionPlan watch wakes this bot when the reference appears.
            return Ok(Action::requeue(RESYNC));
        }
    };

    // Build, ensure cloud, apply.
    let children = build::children(bot, &cfg, &ctx.settings)?;
    let cloud = match ctx.cloud.ensure(bot).await {
        Ok(state) => state,
        Err(e) => CloudState::Failed(e.to_string()),
    };
    apply(
        &Api::<ConfigMap>::namespaced(client.clone(), &ns),
        &children.config_map,
    )
    .await?;
    apply(
        &Api::<ServiceAccount>::namespaced(client.clone(), &ns),
        &children.service_account,
    )
    .await?;
    apply(
        &Api::<Lease>::namespaced(client.clone(), &ns),
        &children.lease,
    )
    .await?;
    if let Some(claim) = &children.state_claim {
        apply(
            &Api::<PersistentVolumeClaim>::namespaced(client.clone(), &ns),
            claim,
        )
        .await?;
    }
    apply(
        &Api::<Role>::namespaced(client.clone(), &ns),
        &children.role,
    )
    .await?;
    apply(
        &Api::<RoleBinding>::namespaced(client.clone(), &ns),
        &children.role_binding,
    )
    .await?;
    let deployment = apply(
        &Api::<Deployment>::namespaced(client.clone(), &ns),
        &children.deployment,
    )
    .await?;
    apply(
        &Api::<Service>::namespaced(client.clone(), &ns),
        &children.service,
    )
    .await?;
    apply(
        &Api::<NetworkPolicy>::namespaced(client.clone(), &ns),
        &children.network_policy,
    )
    .await?;

    // Status.
    let observed = Observed {
        resolution: Ok(()),
        cloud: cloud.clone(),
        deployment: deployment.status.as_ref(),
        config_hash: Some(children.config_hash.clone()),
    };
    let status = compute(bot, &observed, now());
    if let CloudState::Failed(msg) = &cloud
        && needs_write(bot, &status)
    {
        ctx.warn(bot, "CloudProvisioningFailed", msg.clone()).await;
    }
    patch_status(&bots, bot, &status).await?;
    Ok(match cloud {
        // Retry a failed cloud call sooner than the resync, with the error already shown.
        CloudState::Failed(_) => Action::requeue(Duration::from_secs(30)),
        _ => Action::requeue(RESYNC),
    })
}

async fn cleanup_bot(bot: &TradingBot, ctx: &Context) -> Result<Action, Error> {
    let ns = bot.namespace().unwrap_or_default();
    let retain = bot
        .spec
        .cloud
        .as_ref()
        .is_some_and(|c| c.deletion_policy == DeletionPolicy::Retain);
    if !retain && let Err(e) = ctx.cloud.delete(bot).await {
        // Say why the bot is not going away; the finalizer stays until cleanup works.
        let mut status = bot.status.clone().unwrap_or_default();
        set_condition(
            &mut status.conditions,
            ConditionUpdate {
                type_: types::CLOUD_READY,
                status: Status::False,
                reason: "CleanupFailed",
                message: format!("deleting cloud resources failed, retrying: {e}"),
            },
            bot.metadata.generation,
            now(),
        );
        if needs_write(bot, &status) {
            ctx.warn(
                bot,
                "CloudCleanupFailed",
                format!("deleting cloud resources failed, retrying: {e}"),
            )
            .await;
        }
        patch_status(&Api::namespaced(ctx.client.clone(), &ns), bot, &status).await?;
        return Err(e.into());
    }
    ctx.index.remove(&ns, &bot.name_any());
    tracing::info!(bot = %key(bot), retain, "cleaned up; children are garbage-collected by their owner references");
    Ok(Action::await_change())
}
