//! The shared market-data feeds: one Deployment per (market, symbol) shard of the
//! Paper and Live bots, running `tradewind-bot feed` from the worker image, and what a
//! worker is told to read from (the NATS URL and subject prefix).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, HTTPGetAction,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tradewind_crds::contract::{
    MAX_LABEL, MAX_NAME, METRICS_PORT, METRICS_PORT_NAME, bounded_name, env,
};
use tradewind_crds::{Timeframe, TradingBot};

use super::OperatorConfig;

/// Label on every feed Deployment (and its pods), so the operator finds its feeds.
pub const FEED_COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// Its value.
pub const FEED_COMPONENT: &str = "market-data-feed";
/// Label naming the feed's symbol.
pub const FEED_SYMBOL_LABEL: &str = "tradewind.dev/feed-symbol";
/// Label naming the feed's market (`spot`, `spot-testnet`).
pub const FEED_MARKET_LABEL: &str = "tradewind.dev/feed-market";
/// Non-root UID/GID of the worker image.
const RUN_AS: i64 = 65532;

/// Where the feeds run and publish (the operator's `--nats-url` and related flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketData {
    /// NATS server(s) the feeds publish to and the workers read from.
    pub nats_url: String,
    /// Subject prefix.
    pub subject_prefix: String,
    /// Namespace of the feed Deployments.
    pub namespace: String,
    /// Replicas of each feed: two publish the same facts (JetStream keeps one), so a
    /// feed's restart or a node's loss drops no bar.
    pub replicas: i32,
    /// The market-data container the feeds write and Paper and Live workers warm up
    /// from; `None`: nothing is stored and workers start cold.
    pub cosmos: Option<MarketDataCosmos>,
    /// Where the feeds archive whole days: `blob://{account}/{container}`, or
    /// `archive:{dir}` on [`MarketData::archive_claim`]; `None`: no archive.
    pub archive: Option<String>,
    /// Blob service endpoint override for a `blob://` archive.
    pub blob_endpoint: Option<String>,
    /// PersistentVolumeClaim mounted at an `archive:{dir}` archive's directory
    /// (ReadWriteMany: both replicas write the same days).
    pub archive_claim: Option<String>,
    /// ServiceAccount the feed pods run as, federated (workload identity) with the
    /// identity that may write the container and the archive; `None`: the namespace's
    /// default account and no Azure sign-in.
    pub service_account: Option<String>,
}

/// The market-data container in Cosmos DB.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketDataCosmos {
    /// Account endpoint (`https://{account}.documents.azure.com:443/`).
    pub endpoint: String,
    /// Database.
    pub database: String,
    /// Container.
    pub container: String,
}

fn cosmos_env(c: &MarketDataCosmos) -> [EnvVar; 3] {
    [
        value_env(env::MARKETDATA_COSMOS_ENDPOINT, &c.endpoint),
        value_env(env::MARKETDATA_COSMOS_DATABASE, &c.database),
        value_env(env::MARKETDATA_COSMOS_CONTAINER, &c.container),
    ]
}

/// The shard a bot's market data comes from: (market, symbol).
pub fn shard_of(bot: &TradingBot) -> Option<(&'static str, String)> {
    let symbol = bot.spec.symbols.first()?;
    let market = if bot.spec.venue.testnet {
        "spot-testnet"
    } else {
        "spot"
    };
    Some((market, symbol.to_ascii_uppercase()))
}

/// The feed Deployment's name: `tw-feed-<market>-<symbol>`, lower case.
pub fn feed_name(market: &str, symbol: &str) -> String {
    bounded_name(
        &format!("tw-feed-{market}-{}", symbol.to_ascii_lowercase()),
        MAX_NAME.min(MAX_LABEL),
    )
}

/// Every strategy timeframe, as the feed's `--interval` list: a feed serves every bot
/// of its symbol whatever its timeframe, so it never changes with the bots.
pub fn intervals() -> String {
    [
        Timeframe::S1,
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::H1,
        Timeframe::H4,
        Timeframe::D1,
    ]
    .iter()
    .filter_map(|t| serde_json::to_value(t).ok())
    .filter_map(|v| v.as_str().map(str::to_owned))
    .collect::<Vec<_>>()
    .join(",")
}

fn value_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

/// What a worker is told: where the feed is and the market-data container it warms
/// up from (empty without market data).
pub fn worker_env(op: &OperatorConfig) -> Vec<EnvVar> {
    op.market_data
        .as_ref()
        .map(|m| {
            let mut env = vec![
                value_env(env::NATS_URL, &m.nats_url),
                value_env(env::FEED_SUBJECT_PREFIX, &m.subject_prefix),
            ];
            env.extend(m.cosmos.iter().flat_map(cosmos_env));
            env
        })
        .unwrap_or_default()
}

/// Where an `archive:{dir}` archive is mounted from its claim.
fn archive_dir(m: &MarketData) -> Option<(&str, &str)> {
    let dir = m.archive.as_deref()?.strip_prefix("archive:")?;
    Some((dir, m.archive_claim.as_deref()?))
}

fn http_probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(METRICS_PORT_NAME.into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

/// The feed Deployment of `(market, symbol)`; `None` without market data.
pub fn feed_deployment(market: &str, symbol: &str, op: &OperatorConfig) -> Option<Deployment> {
    let m = op.market_data.as_ref()?;
    let name = feed_name(market, symbol);
    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "tradewind-feed".to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "tradewind-operator".to_owned(),
        ),
        (FEED_COMPONENT_LABEL.to_owned(), FEED_COMPONENT.to_owned()),
        (FEED_MARKET_LABEL.to_owned(), market.to_owned()),
        (
            FEED_SYMBOL_LABEL.to_owned(),
            bounded_name(&symbol.to_ascii_lowercase(), MAX_LABEL),
        ),
    ]);
    let selector = BTreeMap::from([
        (FEED_COMPONENT_LABEL.to_owned(), FEED_COMPONENT.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), name.clone()),
    ]);
    let mut pod_labels = labels.clone();
    pod_labels.extend(selector.clone());
    if m.service_account.is_some() {
        // The workload-identity webhook gives the pod its federated token.
        pod_labels.insert(super::rbac::WORKLOAD_IDENTITY_USE.into(), "true".into());
    }
    let mut args = vec![
        "feed".to_owned(),
        "--symbol".to_owned(),
        symbol.to_owned(),
        "--interval".to_owned(),
        intervals(),
    ];
    if market == "spot-testnet" {
        args.push("--testnet".into());
    }
    let container = Container {
        name: "feed".into(),
        image: Some(op.worker_image.clone()),
        args: Some(args),
        env: Some(
            [
                value_env(env::NATS_URL, &m.nats_url),
                value_env(env::FEED_SUBJECT_PREFIX, &m.subject_prefix),
            ]
            .into_iter()
            .chain(m.cosmos.iter().flat_map(cosmos_env))
            .chain(
                m.archive
                    .iter()
                    .map(|a| value_env(env::MARKETDATA_ARCHIVE, a)),
            )
            .chain(
                m.blob_endpoint
                    .iter()
                    .map(|b| value_env(env::BLOB_ENDPOINT, b)),
            )
            .collect(),
        ),
        ports: Some(vec![ContainerPort {
            name: Some(METRICS_PORT_NAME.into()),
            container_port: i32::from(METRICS_PORT),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(http_probe("/healthz", 10)),
        readiness_probe: Some(http_probe("/readyz", 5)),
        volume_mounts: archive_dir(m).map(|(dir, _)| {
            vec![VolumeMount {
                name: "archive".into(),
                mount_path: dir.into(),
                ..VolumeMount::default()
            }]
        }),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".into(), Quantity("50m".into())),
                ("memory".into(), Quantity("64Mi".into())),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".into(),
                Quantity("192Mi".into()),
            )])),
            ..ResourceRequirements::default()
        }),
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
        ..Container::default()
    };
    Some(Deployment {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(m.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(m.replicas),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            revision_history_limit: Some(3),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(RUN_AS),
                        run_as_group: Some(RUN_AS),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    service_account_name: m.service_account.clone(),
                    volumes: archive_dir(m).map(|(_, claim)| {
                        vec![Volume {
                            name: "archive".into(),
                            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                claim_name: claim.into(),
                                ..PersistentVolumeClaimVolumeSource::default()
                            }),
                            ..Volume::default()
                        }]
                    }),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> OperatorConfig {
        OperatorConfig {
            market_data: Some(MarketData {
                nats_url: "nats://nats.tradewind-system:4222".into(),
                subject_prefix: "tw.md".into(),
                namespace: "tradewind-system".into(),
                replicas: 2,
                ..MarketData::default()
            }),
            ..OperatorConfig::default()
        }
    }

    #[test]
    fn one_feed_per_symbol_with_every_timeframe() {
        let d = feed_deployment("spot", "BTCUSDT", &op()).unwrap();
        assert_eq!(d.metadata.name.as_deref(), Some("tw-feed-spot-btcusdt"));
        assert_eq!(d.metadata.namespace.as_deref(), Some("tradewind-system"));
        let spec = d.spec.unwrap();
        assert_eq!(spec.replicas, Some(2));
        let pod = spec.template.spec.unwrap();
        let c = &pod.containers[0];
        assert_eq!(
            c.image.as_deref(),
            Some("ghcr.io/tradewind-dev/tradewind-bot:0.1.0")
        );
        assert_eq!(
            c.args.as_deref().unwrap(),
            [
                "feed",
                "--symbol",
                "BTCUSDT",
                "--interval",
                "1s,1m,5m,15m,1h,4h,1d"
            ]
        );
        let env: Vec<_> = c
            .env
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap()))
            .collect();
        assert_eq!(
            env,
            [
                ("TRADEWIND_NATS_URL", "nats://nats.tradewind-system:4222"),
                ("TRADEWIND_FEED_SUBJECT_PREFIX", "tw.md")
            ]
        );
        // The selector matches the pods.
        let selector = spec.selector.match_labels.unwrap();
        let labels = spec.template.metadata.unwrap().labels.unwrap();
        assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));
        let testnet = feed_deployment("spot-testnet", "ETHUSDT", &op()).unwrap();
        assert_eq!(
            testnet.metadata.name.as_deref(),
            Some("tw-feed-spot-testnet-ethusdt")
        );
        assert!(
            testnet.spec.unwrap().template.spec.unwrap().containers[0]
                .args
                .as_ref()
                .unwrap()
                .contains(&"--testnet".to_owned())
        );
    }

    #[test]
    fn without_market_data_nothing_is_built_or_told() {
        assert!(feed_deployment("spot", "BTCUSDT", &OperatorConfig::default()).is_none());
        assert!(worker_env(&OperatorConfig::default()).is_empty());
        assert_eq!(worker_env(&op()).len(), 2);
    }

    fn names(env: &[EnvVar]) -> Vec<(&str, &str)> {
        env.iter()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn the_store_reaches_workers_and_feeds_and_feeds_are_probed() {
        let mut op = op();
        let m = op.market_data.as_mut().unwrap();
        m.cosmos = Some(MarketDataCosmos {
            endpoint: "https://twcosmos.documents.azure.com:443/".into(),
            database: "tradewind".into(),
            container: "marketdata".into(),
        });
        m.archive = Some("blob://twstore/marketdata-archive".into());
        m.service_account = Some("tradewind-feed".into());
        let store = [
            (
                "TRADEWIND_MARKETDATA_COSMOS_ENDPOINT",
                "https://twcosmos.documents.azure.com:443/",
            ),
            ("TRADEWIND_MARKETDATA_COSMOS_DATABASE", "tradewind"),
            ("TRADEWIND_MARKETDATA_COSMOS_CONTAINER", "marketdata"),
        ];
        let w = worker_env(&op);
        assert_eq!(names(&w)[2..], store);

        let d = feed_deployment("spot", "BTCUSDT", &op).unwrap();
        let t = d.spec.unwrap().template;
        assert_eq!(
            t.metadata.unwrap().labels.unwrap()["azure.workload.identity/use"],
            "true"
        );
        let pod = t.spec.unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("tradewind-feed"));
        assert!(pod.volumes.is_none());
        let c = &pod.containers[0];
        let env = names(c.env.as_ref().unwrap());
        assert_eq!(env[2..5], store);
        assert_eq!(
            env[5],
            (
                "TRADEWIND_MARKETDATA_ARCHIVE",
                "blob://twstore/marketdata-archive"
            )
        );
        assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 9090);
        let path = |p: &Option<Probe>| p.as_ref().unwrap().http_get.as_ref().unwrap().path.clone();
        assert_eq!(path(&c.liveness_probe).as_deref(), Some("/healthz"));
        assert_eq!(path(&c.readiness_probe).as_deref(), Some("/readyz"));

        // Without Azure: a volume directory from a claim.
        let m = op.market_data.as_mut().unwrap();
        m.cosmos = None;
        m.service_account = None;
        m.archive = Some("archive:/var/lib/tradewind/archive".into());
        m.archive_claim = Some("feed-archive".into());
        assert_eq!(worker_env(&op).len(), 2);
        let pod = feed_deployment("spot", "BTCUSDT", &op)
            .unwrap()
            .spec
            .unwrap()
            .template
            .spec
            .unwrap();
        let volume = &pod.volumes.as_ref().unwrap()[0];
        assert_eq!(
            volume.persistent_volume_claim.as_ref().unwrap().claim_name,
            "feed-archive"
        );
        assert_eq!(
            pod.containers[0].volume_mounts.as_ref().unwrap()[0].mount_path,
            "/var/lib/tradewind/archive"
        );
    }
}
