//! The CommissionPlan's settlement CronJob. It runs the worker's `settle` command on the
//! plan's schedule; that command does not exist yet, so the CronJob is created suspended
//! and the plan's status says why (see [`SETTLEMENT_PENDING_REASON`]).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, PodSecurityContext, PodSpec, PodTemplateSpec, SeccompProfile,
    SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use tradewind_crds::CommissionPlan;
use tradewind_crds::contract::labels as label;

use super::{BuildError, OperatorConfig};

/// Reason on the plan's Ready condition while settlement cannot run.
pub const SETTLEMENT_PENDING_REASON: &str = "SettlementCommandPending";
/// Message for that reason.
pub const SETTLEMENT_PENDING_MESSAGE: &str =
    "the settlement CronJob exists but is suspended: the worker's settle command is not built yet";

/// The CronJob `<plan>-settlement`, suspended until the settle command exists. Plans
/// without a performance fee settle monthly (trading fees only).
pub fn settlement_cron_job(
    plan: &CommissionPlan,
    op: &OperatorConfig,
) -> Result<CronJob, BuildError> {
    let name = plan
        .metadata
        .name
        .clone()
        .ok_or(BuildError::MissingMetadata("name"))?;
    let namespace = plan
        .metadata
        .namespace
        .clone()
        .ok_or(BuildError::MissingMetadata("namespace"))?;
    if plan.metadata.uid.is_none() {
        return Err(BuildError::MissingMetadata("uid"));
    }
    let mut owner: OwnerReference = plan
        .controller_owner_ref(&())
        .ok_or(BuildError::MissingMetadata("name"))?;
    owner.block_owner_deletion = Some(true);
    let period = plan.spec.settlement_period();
    let labels = BTreeMap::from([
        (label::NAME.to_owned(), "tradewind-settlement".to_owned()),
        (label::INSTANCE.to_owned(), name.clone()),
        (label::MANAGED_BY.to_owned(), label::OPERATOR.to_owned()),
    ]);
    Ok(CronJob {
        metadata: ObjectMeta {
            name: Some(format!("{name}-settlement")),
            namespace: Some(namespace),
            labels: Some(labels.clone()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(CronJobSpec {
            schedule: period.cron_schedule().to_owned(),
            time_zone: Some("Etc/UTC".into()),
            suspend: Some(true),
            // A settlement must never run twice at once.
            concurrency_policy: Some("Forbid".into()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(3),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(labels),
                            ..ObjectMeta::default()
                        }),
                        spec: Some(PodSpec {
                            restart_policy: Some("OnFailure".into()),
                            security_context: Some(PodSecurityContext {
                                run_as_non_root: Some(true),
                                seccomp_profile: Some(SeccompProfile {
                                    type_: "RuntimeDefault".into(),
                                    ..SeccompProfile::default()
                                }),
                                ..PodSecurityContext::default()
                            }),
                            containers: vec![Container {
                                name: "settle".into(),
                                image: Some(op.worker_image.clone()),
                                args: Some(vec!["settle".into(), "--plan".into(), name]),
                                security_context: Some(SecurityContext {
                                    allow_privilege_escalation: Some(false),
                                    read_only_root_filesystem: Some(true),
                                    capabilities: Some(Capabilities {
                                        drop: Some(vec!["ALL".into()]),
                                        ..Capabilities::default()
                                    }),
                                    ..SecurityContext::default()
                                }),
                                ..Container::default()
                            }],
                            ..PodSpec::default()
                        }),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    })
}
