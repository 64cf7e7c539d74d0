//! The CommissionPlan's settlement CronJob. When the platform is installed (the operator
//! knows its image and the Secret with the ledger's database URL) it runs the platform's
//! `tradewind-platform settle --plan <namespace>/<name> --period previous` on the plan's
//! schedule, handing it the plan's spec so the ledger settles what the resource says;
//! otherwise it is created suspended and the plan's status says why
//! ([`SETTLEMENT_PENDING_REASON`]). The Job runs as the plan's own ServiceAccount, whose
//! Role allows only reading and patching this plan's status: `settle` writes the last
//! settlement there.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, EnvVarSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    SeccompProfile, SecretKeySelector, SecurityContext, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use tradewind_crds::CommissionPlan;
use tradewind_crds::contract::labels as label;

use super::{BuildError, OperatorConfig};

/// Where settlement runs: the platform's image and the Secret (in the plan's namespace)
/// whose key [`DATABASE_URL_KEY`] holds the ledger's database URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// The `tradewind-platform` image.
    pub image: String,
    /// Name of the Secret with the database URL.
    pub database_secret: String,
}

/// The key of the database Secret holding the URL (`postgres://…`).
pub const DATABASE_URL_KEY: &str = "url";
/// The variable the settle job reads the plan's spec (JSON) from.
pub const PLAN_SPEC_ENV: &str = "TRADEWIND_PLAN_SPEC";

/// Reason of the plan's SettlementScheduled condition while settlement cannot run.
pub const SETTLEMENT_PENDING_REASON: &str = "PlatformNotInstalled";
/// Message for that reason.
pub const SETTLEMENT_PENDING_MESSAGE: &str = "the settlement CronJob is suspended: the operator does not know the platform (set --platform-image and --platform-database-secret, or the chart's platform values)";
/// Reason of the SettlementScheduled condition when the CronJob runs.
pub const SETTLEMENT_SCHEDULED_REASON: &str = "Scheduled";

/// The SettlementScheduled condition for a plan: `(true, reason, message)` when its
/// CronJob runs, `(false, …)` with the reason when it is suspended.
pub fn settlement_condition(
    plan: &CommissionPlan,
    op: &OperatorConfig,
) -> (bool, &'static str, String) {
    match &op.platform {
        Some(p) => (
            true,
            SETTLEMENT_SCHEDULED_REASON,
            format!(
                "{:?} periods settle at \"{}\" (UTC) with {}",
                plan.spec.settlement_period(),
                plan.spec.settlement_period().cron_schedule(),
                p.image
            ),
        ),
        None => (
            false,
            SETTLEMENT_PENDING_REASON,
            SETTLEMENT_PENDING_MESSAGE.to_owned(),
        ),
    }
}

/// The name of a plan's settlement objects: the CronJob, its ServiceAccount, Role and
/// RoleBinding.
pub fn settlement_name(plan: &str) -> String {
    format!("{plan}-settlement")
}

/// Labels on every settlement object of the plan `name`.
fn settlement_labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (label::NAME.to_owned(), "tradewind-settlement".to_owned()),
        (label::INSTANCE.to_owned(), name.to_owned()),
        (label::MANAGED_BY.to_owned(), label::OPERATOR.to_owned()),
    ])
}

/// The plan's name and namespace, and a controller owner reference to it (blocking its
/// deletion until its settlement objects are gone).
fn plan_identity(plan: &CommissionPlan) -> Result<(String, String, OwnerReference), BuildError> {
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
    Ok((name, namespace, owner))
}

/// Metadata of one of the plan's settlement objects.
fn settlement_meta(plan: &CommissionPlan) -> Result<ObjectMeta, BuildError> {
    let (name, namespace, owner) = plan_identity(plan)?;
    Ok(ObjectMeta {
        name: Some(settlement_name(&name)),
        namespace: Some(namespace),
        labels: Some(settlement_labels(&name)),
        owner_references: Some(vec![owner]),
        ..ObjectMeta::default()
    })
}

/// The settlement Job's ServiceAccount `<plan>-settlement`.
pub fn settlement_service_account(plan: &CommissionPlan) -> Result<ServiceAccount, BuildError> {
    Ok(ServiceAccount {
        metadata: settlement_meta(plan)?,
        // `settle` patches the plan's status, so it needs its token.
        automount_service_account_token: Some(true),
        ..ServiceAccount::default()
    })
}

/// get/patch on this plan's status, nothing else.
pub fn settlement_role(plan: &CommissionPlan) -> Result<Role, BuildError> {
    let (name, _, _) = plan_identity(plan)?;
    Ok(Role {
        metadata: settlement_meta(plan)?,
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![tradewind_crds::GROUP.to_owned()]),
            resources: Some(vec!["commissionplans/status".to_owned()]),
            resource_names: Some(vec![name]),
            verbs: vec!["get".to_owned(), "patch".to_owned()],
            ..PolicyRule::default()
        }]),
    })
}

/// Binds the settlement Role to the settlement ServiceAccount.
pub fn settlement_role_binding(plan: &CommissionPlan) -> Result<RoleBinding, BuildError> {
    let metadata = settlement_meta(plan)?;
    let name = metadata.name.clone().unwrap_or_default();
    let namespace = metadata.namespace.clone();
    Ok(RoleBinding {
        metadata,
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name,
            namespace,
            ..Subject::default()
        }]),
    })
}

/// The CronJob `<plan>-settlement`: the platform's `settle` on the plan's schedule, or
/// suspended while the platform is not installed, run as the plan's settlement
/// ServiceAccount. Plans without a performance fee settle monthly (trading fees only).
pub fn settlement_cron_job(
    plan: &CommissionPlan,
    op: &OperatorConfig,
) -> Result<CronJob, BuildError> {
    let (name, namespace, owner) = plan_identity(plan)?;
    let period = plan.spec.settlement_period();
    // Plain structs with string keys: serialising cannot fail.
    let spec_json = serde_json::to_string(&plan.spec).unwrap_or_default();
    let (image, env) = match &op.platform {
        Some(p) => (
            p.image.clone(),
            vec![
                EnvVar {
                    name: "TRADEWIND_DATABASE_URL".into(),
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: p.database_secret.clone(),
                            key: DATABASE_URL_KEY.into(),
                            optional: Some(false),
                        }),
                        ..EnvVarSource::default()
                    }),
                    ..EnvVar::default()
                },
                EnvVar {
                    name: PLAN_SPEC_ENV.into(),
                    value: Some(spec_json),
                    ..EnvVar::default()
                },
            ]
            .into_iter()
            // A failed run is counted over OTLP as it exits (no scrape would see it).
            .chain(super::telemetry::env(
                op,
                "tradewind-platform",
                &namespace,
                &name,
            ))
            .collect(),
        ),
        None => (op.worker_image.clone(), Vec::new()),
    };
    let plan_key = format!("{namespace}/{name}");
    let labels = settlement_labels(&name);
    Ok(CronJob {
        metadata: ObjectMeta {
            name: Some(settlement_name(&name)),
            namespace: Some(namespace),
            labels: Some(labels.clone()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(CronJobSpec {
            schedule: period.cron_schedule().to_owned(),
            time_zone: Some("Etc/UTC".into()),
            suspend: Some(op.platform.is_none()),
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
                            service_account_name: Some(settlement_name(&name)),
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
                                image: Some(image),
                                args: Some(vec![
                                    "settle".into(),
                                    "--plan".into(),
                                    plan_key,
                                    "--period".into(),
                                    "previous".into(),
                                ]),
                                env: (!env.is_empty()).then_some(env),
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
