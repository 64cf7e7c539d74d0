//! The metrics Service and the NetworkPolicy: the worker may resolve names and speak
//! HTTPS (exchanges, Azure); nothing may reach it but the monitoring namespace the
//! platform engineer names, on the metrics port (a bot's equity and PnL are its owner's).

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tradewind_crds::TradingBot;
use tradewind_crds::contract::METRICS_PORT_NAME;

use super::{BuildError, METRICS_PORT, MetricsScrapers, Names, child_meta, selector_labels};

fn bot_name(bot: &TradingBot) -> &str {
    bot.metadata.name.as_deref().unwrap_or_default()
}

/// ClusterIP Service `<bot>-metrics` on the worker's metrics port.
pub fn metrics_service(bot: &TradingBot) -> Result<Service, BuildError> {
    Ok(Service {
        metadata: child_meta(bot, Names(bot_name(bot)).metrics())?,
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(bot_name(bot))),
            ports: Some(vec![ServicePort {
                name: Some(METRICS_PORT_NAME.into()),
                port: METRICS_PORT,
                target_port: Some(IntOrString::String(METRICS_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

fn port(protocol: &str, port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(port)),
        ..NetworkPolicyPort::default()
    }
}

/// Egress: DNS (UDP and TCP 53) and HTTPS (TCP 443) anywhere. Ingress: the metrics port,
/// from the scrapers' namespace (and pods) only; without scrapers, nothing.
pub fn network_policy(
    bot: &TradingBot,
    scrapers: Option<&MetricsScrapers>,
) -> Result<NetworkPolicy, BuildError> {
    let ingress = scrapers
        .map(|s| {
            vec![NetworkPolicyIngressRule {
                ports: Some(vec![port("TCP", METRICS_PORT)]),
                // One peer: namespace AND pods (two peers would mean either).
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(LabelSelector {
                        match_labels: Some(
                            [(
                                "kubernetes.io/metadata.name".to_owned(),
                                s.namespace.clone(),
                            )]
                            .into(),
                        ),
                        ..LabelSelector::default()
                    }),
                    pod_selector: (!s.pod_labels.is_empty()).then(|| LabelSelector {
                        match_labels: Some(s.pod_labels.clone()),
                        ..LabelSelector::default()
                    }),
                    ..NetworkPolicyPeer::default()
                }]),
            }]
        })
        .unwrap_or_default();
    Ok(NetworkPolicy {
        metadata: child_meta(bot, Names(bot_name(bot)).worker())?,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(bot_name(bot))),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(ingress),
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
                    ..NetworkPolicyEgressRule::default()
                },
                NetworkPolicyEgressRule {
                    ports: Some(vec![port("TCP", 443)]),
                    ..NetworkPolicyEgressRule::default()
                },
            ]),
        }),
    })
}
