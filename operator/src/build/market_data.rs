//! The shared market-data feeds: one Deployment per (market, symbol) shard of the
//! Paper and Live bots, running `tradewind-bot feed` from the worker image, and what a
//! worker is told to read from (the NATS URL and subject prefix).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use tradewind_crds::contract::{MAX_LABEL, MAX_NAME, bounded_name, env};
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
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// What a worker is told: where the feed is (empty without market data).
pub fn worker_env(op: &OperatorConfig) -> Vec<EnvVar> {
    op.market_data
        .as_ref()
        .map(|m| {
            vec![
                value_env(env::NATS_URL, &m.nats_url),
                value_env(env::FEED_SUBJECT_PREFIX, &m.subject_prefix),
            ]
        })
        .unwrap_or_default()
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
        env: Some(vec![
            value_env(env::NATS_URL, &m.nats_url),
            value_env(env::FEED_SUBJECT_PREFIX, &m.subject_prefix),
        ]),
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
}
