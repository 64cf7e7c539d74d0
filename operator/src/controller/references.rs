//! Strategy and CommissionPlan reconciles: Ready (CEL already refused what it can), the
//! number of bots bound, and for plans the settlement CronJob.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Patch;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use tradewind_crds::conditions::{ConditionUpdate, Status, set_condition, types};
use tradewind_crds::{CommissionPlan, Strategy};

use super::apply::apply;
use super::{Context, Error, key};
use crate::build::{
    settlement_condition, settlement_cron_job, settlement_role, settlement_role_binding,
    settlement_service_account,
};

/// Condition on a CommissionPlan saying whether settlement runs.
pub const SETTLEMENT_SCHEDULED: &str = "SettlementScheduled";

fn now() -> Time {
    Time(Timestamp::now())
}

/// Merge-patches `status` through the status subresource under the operator's manager.
async fn patch_status<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    S: serde::Serialize,
{
    api.patch_status(
        name,
        &super::status_params(),
        &Patch::Merge(&serde_json::json!({ "status": status })),
    )
    .await?;
    Ok(())
}

/// Ready from the checks CEL cannot make: True, or False naming every bad field.
fn validity(problems: &[crate::validate::Invalid], ok: &str) -> ConditionUpdate<'static> {
    if problems.is_empty() {
        ConditionUpdate {
            type_: types::READY,
            status: Status::True,
            reason: "Valid",
            message: ok.to_owned(),
        }
    } else {
        ConditionUpdate {
            type_: types::READY,
            status: Status::False,
            reason: "InvalidParameters",
            message: problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// The ConfigMap copy of a Blob Storage model, owned by its Strategy (deleted with it).
fn blob_copy(s: &Strategy, bytes: Vec<u8>) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(crate::model::blob_copy_name(&s.name_any())),
            namespace: s.namespace(),
            owner_references: s.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        binary_data: Some(
            [(
                tradewind_crds::contract::MODEL_FILE.to_owned(),
                k8s_openapi::ByteString(bytes),
            )]
            .into_iter()
            .collect(),
        ),
        ..ConfigMap::default()
    }
}

/// Strategy: Ready and boundBots.
pub async fn reconcile_strategy(s: Arc<Strategy>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.start("strategy");
    let ns = s.namespace().unwrap_or_default();
    let name = s.name_any();
    let bound = ctx.count_bots(&ns, |b| b.spec.strategy_ref.name == name);
    let mut status = s.status.clone().unwrap_or_default();
    status.observed_generation = s.metadata.generation;
    status.bound_bots = Some(bound);
    let mut problems = crate::validate::strategy(&s.spec);
    let mut ok = "parameters are valid".to_owned();
    if problems.is_empty() {
        match crate::model::check(
            &ctx.client,
            &ctx.models,
            ctx.model_blobs.as_ref(),
            &ns,
            &name,
            &s.spec,
        )
        .await
        {
            Ok(crate::model::ArtifactCheck::NotApplicable) => {}
            Ok(crate::model::ArtifactCheck::FromBlob { message, bytes }) => {
                apply(
                    &Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns),
                    &blob_copy(&s, bytes),
                )
                .await?;
                ok = format!("{ok}; {message}");
            }
            Ok(
                crate::model::ArtifactCheck::Verified(m)
                | crate::model::ArtifactCheck::WorkerChecks(m),
            ) => ok = format!("{ok}; {m}"),
            Err(invalid) => problems.push(invalid),
        }
    }
    set_condition(
        &mut status.conditions,
        validity(&problems, &ok),
        s.metadata.generation,
        now(),
    );
    if s.status.as_ref() != Some(&status) {
        patch_status(
            &Api::<Strategy>::namespaced(ctx.client.clone(), &ns),
            &s.name_any(),
            &status,
        )
        .await?;
    }
    ctx.succeeded(&key(s.as_ref()));
    Ok(Action::requeue(Duration::from_secs(600)))
}

/// CommissionPlan: the settlement CronJob (running the platform's `settle`, or suspended
/// while the platform is not installed), Ready, boundBots and SettlementScheduled.
pub async fn reconcile_plan(p: Arc<CommissionPlan>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.start("commissionplan");
    let ns = p.namespace().unwrap_or_default();
    // The Job's identity first, so its first run can write the plan's status.
    apply(
        &Api::<ServiceAccount>::namespaced(ctx.client.clone(), &ns),
        &settlement_service_account(&p)?,
    )
    .await?;
    apply(
        &Api::<Role>::namespaced(ctx.client.clone(), &ns),
        &settlement_role(&p)?,
    )
    .await?;
    apply(
        &Api::<RoleBinding>::namespaced(ctx.client.clone(), &ns),
        &settlement_role_binding(&p)?,
    )
    .await?;
    apply(
        &Api::<CronJob>::namespaced(ctx.client.clone(), &ns),
        &settlement_cron_job(&p, &ctx.settings)?,
    )
    .await?;
    let name = p.name_any();
    let bound = ctx.count_bots(&ns, |b| {
        b.spec
            .commission_plan_ref
            .as_ref()
            .is_some_and(|r| r.name == name)
    });
    let mut status = p.status.clone().unwrap_or_default();
    status.observed_generation = p.metadata.generation;
    status.bound_bots = Some(bound);
    let problems = crate::validate::plan(&p.spec);
    set_condition(
        &mut status.conditions,
        validity(
            &problems,
            "fee tiers and distribution are valid; fees are charged on every fill",
        ),
        p.metadata.generation,
        now(),
    );
    let (scheduled, reason, message) = settlement_condition(&p, &ctx.settings);
    set_condition(
        &mut status.conditions,
        ConditionUpdate {
            type_: SETTLEMENT_SCHEDULED,
            status: if scheduled {
                Status::True
            } else {
                Status::False
            },
            reason,
            message,
        },
        p.metadata.generation,
        now(),
    );
    if p.status.as_ref() != Some(&status) {
        // `lastSettlement` belongs to the settlement Job (its own field manager): the
        // merge patch leaves it out, so a stale cached copy never overwrites it.
        status.last_settlement = None;
        patch_status(
            &Api::<CommissionPlan>::namespaced(ctx.client.clone(), &ns),
            &p.name_any(),
            &status,
        )
        .await?;
    }
    ctx.succeeded(&key(p.as_ref()));
    Ok(Action::requeue(Duration::from_secs(600)))
}
