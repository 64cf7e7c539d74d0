//! The worker Deployment: one replica (zero when suspended), `Recreate` so two workers
//! never trade the same account during a rollout, locked-down pods, and the config hash
//! on the pod template so a configuration change rolls the worker.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, KeyToPath, ObjectFieldSelector, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ProjectedVolumeSource,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext,
    ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tradewind_crds::contract::{
    self, API_KEY_FILE, API_SECRET_FILE, CONFIG_DIR, CONFIG_FILE, CONFIG_PATH, CREDENTIALS_DIR,
    METRICS_PORT_NAME, STATE_DIR, env,
};
use tradewind_crds::{Mode, TradingBot};

use super::rbac::{WORKLOAD_IDENTITY_POD_ANNOTATION, WORKLOAD_IDENTITY_USE};
use super::{BuildError, Names, OperatorConfig, child_meta, selector_labels};

/// Port of the worker's /metrics, /healthz and /readyz, as Kubernetes spells ports.
pub const METRICS_PORT: i32 = contract::METRICS_PORT as i32;
/// Non-root UID/GID of the worker image (distroless "nonroot").
const RUN_AS: i64 = 65532;
/// Pod-template annotation carrying the configuration hash.
pub const CONFIG_HASH_ANNOTATION: &str = "tradewind.dev/config-hash";

fn probe(path: &str, initial_delay: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(METRICS_PORT_NAME.into()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(10),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".into(), Quantity("50m".into())),
            ("memory".into(), Quantity("64Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".into(),
            Quantity("256Mi".into()),
        )])),
        ..ResourceRequirements::default()
    }
}

fn value_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

/// Where the worker finds the Azure resources its bot asked for and uses (`spec.cloud`):
/// the Key Vault secret with the exchange credentials, the Service Bus topic for events
/// and the Cosmos DB container for its orders, fills and equity snapshots.
fn azure_env(bot: &TradingBot, op: &OperatorConfig) -> Vec<EnvVar> {
    let (Some(azure), Some(cloud)) = (&op.azure, &bot.spec.cloud) else {
        return Vec::new();
    };
    let name = bot.metadata.name.clone().unwrap_or_default();
    let bot_ref = tradewind_azure::bot::BotRef {
        namespace: bot.metadata.namespace.clone().unwrap_or_default(),
        service_account: Names(&name).worker(),
        name,
    };
    // Names that break Azure's rules are reported by the cloud step; no env for them.
    let Ok(names) = tradewind_azure::bot::names_for(&bot_ref) else {
        return Vec::new();
    };
    let mut env = Vec::new();
    if let (true, Some(uri)) = (cloud.key_vault, &azure.key_vault_uri) {
        env.push(value_env(env::KEYVAULT_URI, uri));
        env.push(value_env(env::KEYVAULT_SECRET, &names.secret));
    }
    if let (true, Some(endpoint)) = (cloud.service_bus, &azure.service_bus_endpoint) {
        env.push(value_env(env::SERVICEBUS_ENDPOINT, endpoint));
        env.push(value_env(env::SERVICEBUS_TOPIC, &names.topic));
    }
    if let (true, Some(endpoint)) = (cloud.cosmos, &azure.cosmos_endpoint) {
        env.push(value_env(env::BOT_COSMOS_ENDPOINT, endpoint));
        env.push(value_env(env::BOT_COSMOS_DATABASE, &azure.cosmos_database));
        env.push(value_env(env::BOT_COSMOS_CONTAINER, &names.container));
    }
    env
}

fn env_from_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The worker Deployment `<bot>-worker`.
pub fn deployment(
    bot: &TradingBot,
    image: &str,
    config_hash: &str,
    op: &OperatorConfig,
    model: Option<&tradewind_crds::ModelArtifact>,
) -> Result<Deployment, BuildError> {
    let name = bot.metadata.name.as_deref().unwrap_or_default();
    let names = Names(name);
    let pod_labels = selector_labels(name);
    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: names.config_map(),
                items: Some(vec![KeyToPath {
                    key: CONFIG_FILE.into(),
                    path: CONFIG_FILE.into(),
                    ..KeyToPath::default()
                }]),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "data".into(),
            empty_dir: op
                .state_volume
                .is_none()
                .then(EmptyDirVolumeSource::default),
            persistent_volume_claim: op.state_volume.as_ref().map(|_| {
                PersistentVolumeClaimVolumeSource {
                    claim_name: names.state(),
                    read_only: None,
                }
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "data".into(),
            mount_path: STATE_DIR.into(),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        },
    ];
    if let (Mode::Live, Some(creds)) = (bot.spec.mode, &bot.spec.credentials) {
        let s = &creds.secret_ref;
        volumes.push(Volume {
            name: "credentials".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(s.name.clone()),
                items: Some(vec![
                    KeyToPath {
                        key: s.api_key_key.clone(),
                        path: API_KEY_FILE.into(),
                        ..KeyToPath::default()
                    },
                    KeyToPath {
                        key: s.api_secret_key.clone(),
                        path: API_SECRET_FILE.into(),
                        ..KeyToPath::default()
                    },
                ]),
                default_mode: Some(0o400),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "credentials".into(),
            mount_path: CREDENTIALS_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    // A Model strategy's ConfigMap or Secret key (or Blob copy), at the file the worker reads.
    if let Some(a) = model {
        let item = |key: &str| {
            Some(vec![KeyToPath {
                key: key.to_owned(),
                path: contract::MODEL_FILE.into(),
                ..KeyToPath::default()
            }])
        };
        // A Blob Storage model: the copy the operator checked (see `crate::model`).
        let blob_copy = a.blob_url.as_ref().map(|_| tradewind_crds::KeyReference {
            name: crate::model::blob_copy_name(&bot.spec.strategy_ref.name),
            key: contract::MODEL_FILE.into(),
        });
        let volume = match (a.config_map.as_ref().or(blob_copy.as_ref()), &a.secret) {
            (Some(r), _) => Some(Volume {
                name: "model".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: r.name.clone(),
                    items: item(&r.key),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            }),
            (None, Some(r)) => Some(Volume {
                name: "model".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(r.name.clone()),
                    items: item(&r.key),
                    default_mode: Some(0o400),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            }),
            _ => None,
        };
        if let Some(v) = volume {
            volumes.push(v);
            mounts.push(VolumeMount {
                name: "model".into(),
                mount_path: contract::MODEL_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            });
        }
    }
    // With the platform installed: a token only the platform accepts (its audience),
    // rotated by the kubelet, and where to send the events.
    let mut platform_env = Vec::new();
    if let Some(url) = &op.platform_url {
        volumes.push(Volume {
            name: "platform-token".into(),
            projected: Some(ProjectedVolumeSource {
                sources: Some(vec![VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        audience: Some(tradewind_ingest::AUDIENCE.into()),
                        expiration_seconds: Some(tradewind_ingest::TOKEN_EXPIRATION_SECONDS),
                        path: tradewind_ingest::TOKEN_FILE.into(),
                    }),
                    ..VolumeProjection::default()
                }]),
                default_mode: Some(0o400),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "platform-token".into(),
            mount_path: tradewind_ingest::TOKEN_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        platform_env.push(value_env(tradewind_ingest::env::PLATFORM_URL, url));
        platform_env.push(value_env(
            tradewind_ingest::env::PLATFORM_TOKEN_FILE,
            tradewind_ingest::TOKEN_PATH,
        ));
    }
    let container = Container {
        name: "worker".into(),
        image: Some(image.to_owned()),
        args: Some(vec!["run".into(), "--config".into(), CONFIG_PATH.into()]),
        env: Some(
            [
                env_from_field(env::POD_NAME, "metadata.name"),
                env_from_field(env::POD_NAMESPACE, "metadata.namespace"),
            ]
            .into_iter()
            .chain(azure_env(bot, op))
            .chain(platform_env)
            .chain(super::market_data::worker_env(op))
            .chain(super::telemetry::env(
                op,
                "tradewind-bot",
                bot.metadata.namespace.as_deref().unwrap_or_default(),
                name,
            ))
            .collect(),
        ),
        ports: Some(vec![ContainerPort {
            name: Some(METRICS_PORT_NAME.into()),
            container_port: METRICS_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(probe("/healthz", 10)),
        readiness_probe: Some(probe("/readyz", 2)),
        resources: Some(bot.spec.resources.clone().unwrap_or_else(default_resources)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    Ok(Deployment {
        metadata: child_meta(bot, names.worker())?,
        spec: Some(DeploymentSpec {
            replicas: Some(if bot.spec.suspend { 0 } else { 1 }),
            selector: LabelSelector {
                match_labels: Some(selector_labels(name)),
                ..LabelSelector::default()
            },
            // Never two workers for one account, not even during a rollout.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            revision_history_limit: Some(3),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([(
                        CONFIG_HASH_ANNOTATION.into(),
                        config_hash.to_owned(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(names.worker()),
                    automount_service_account_token: Some(true),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(RUN_AS),
                        run_as_group: Some(RUN_AS),
                        fs_group: Some(RUN_AS),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    // Time to cancel open orders and flush the store on SIGTERM.
                    termination_grace_period_seconds: Some(30),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}

/// Labels the worker's pods for the workload identity webhook and records the identity's
/// client ID on the template (a new identity rolls them; an unchanged one changes nothing).
pub(super) fn use_workload_identity(d: &mut Deployment, client_id: &str) {
    let Some(meta) = d.spec.as_mut().and_then(|s| s.template.metadata.as_mut()) else {
        return;
    };
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(WORKLOAD_IDENTITY_USE.into(), "true".into());
    meta.annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(WORKLOAD_IDENTITY_POD_ANNOTATION.into(), client_id.into());
}
