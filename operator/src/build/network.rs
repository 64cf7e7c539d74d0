//! The metrics Service and the NetworkPolicy: the worker may resolve names, speak HTTPS
//! (exchanges, Azure) and reach the platform's port; nothing may reach it but the
//! monitoring namespace the platform engineer names, on the metrics port (a bot's equity
//! and PnL are its owner's).

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tradewind_crds::TradingBot;
use tradewind_crds::contract::METRICS_PORT_NAME;

use super::{BuildError, METRICS_PORT, Names, OperatorConfig, child_meta, selector_labels};

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

/// The TCP port of the platform's URL, when it is not 443 (which HTTPS already opens).
fn platform_port(op: &OperatorConfig) -> Option<i32> {
    let url = op.platform_url.as_deref()?;
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let explicit = host_port
        .rsplit_once(':')
        .filter(|(host, _)| !host.ends_with(']') || host.starts_with('['))
        .and_then(|(_, p)| p.parse::<i32>().ok());
    let port = explicit.unwrap_or(if scheme == "http" { 80 } else { 443 });
    (port != 443).then_some(port)
}

/// Ports of the NATS servers in the operator's `--nats-url` (4222 when not given).
fn nats_ports(op: &OperatorConfig) -> Vec<i32> {
    let Some(m) = &op.market_data else {
        return Vec::new();
    };
    let mut ports: Vec<i32> = m
        .nats_url
        .split(',')
        .map(|u| {
            let rest = u.trim().split_once("://").map_or(u.trim(), |(_, r)| r);
            let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let host_port = host_port.split('/').next().unwrap_or(host_port);
            host_port
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse().ok())
                .unwrap_or(4222)
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Egress: DNS (UDP and TCP 53), HTTPS (TCP 443) anywhere, and the platform's port when
/// the platform is installed elsewhere than on 443, and NATS's with the market-data feed. Ingress: the metrics port, from the
/// scrapers' namespace (and pods) only; without scrapers, nothing.
pub fn network_policy(bot: &TradingBot, op: &OperatorConfig) -> Result<NetworkPolicy, BuildError> {
    let mut egress = vec![
        NetworkPolicyEgressRule {
            ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
            ..NetworkPolicyEgressRule::default()
        },
        NetworkPolicyEgressRule {
            ports: Some(vec![port("TCP", 443)]),
            ..NetworkPolicyEgressRule::default()
        },
    ];
    // The shared market-data feed's NATS port(s).
    for p in nats_ports(op) {
        egress.push(NetworkPolicyEgressRule {
            ports: Some(vec![port("TCP", p)]),
            ..NetworkPolicyEgressRule::default()
        });
    }
    // The OTLP endpoint's port, when telemetry is on and it is not 443.
    if let Some(p) = super::telemetry::port(op)
        && Some(p) != platform_port(op)
    {
        egress.push(NetworkPolicyEgressRule {
            ports: Some(vec![port("TCP", p)]),
            ..NetworkPolicyEgressRule::default()
        });
    }
    if let Some(p) = platform_port(op) {
        egress.push(NetworkPolicyEgressRule {
            ports: Some(vec![port("TCP", p)]),
            ..NetworkPolicyEgressRule::default()
        });
    }
    let ingress = op
        .metrics_scrapers
        .as_ref()
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
            egress: Some(egress),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_port_is_read_from_its_url() {
        let at = |url: &str| {
            platform_port(&OperatorConfig {
                platform_url: Some(url.into()),
                ..OperatorConfig::default()
            })
        };
        assert_eq!(at("http://tradewind-platform.tw.svc:8080"), Some(8080));
        assert_eq!(at("http://tradewind-platform.tw.svc/"), Some(80));
        assert_eq!(at("https://platform.example.com"), None);
        assert_eq!(at("https://platform.example.com:8443/x"), Some(8443));
        assert_eq!(at("http://[fd00::1]:9000"), Some(9000));
        assert_eq!(at("http://[fd00::1]"), Some(80));
        assert_eq!(platform_port(&OperatorConfig::default()), None);
    }
}
