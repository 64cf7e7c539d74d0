//! What the workers and the settlement jobs are told about OpenTelemetry: the OTLP
//! endpoint the operator was given, their service name and resource attributes (which
//! bot or plan), and delta temporality for counters (what the environment's alert rules
//! sum over their window).

use k8s_openapi::api::core::v1::EnvVar;

use super::OperatorConfig;

/// Where the operator's children export traces and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Telemetry {
    /// The OTLP/HTTP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`), e.g.
    /// `http://otel-collector.monitoring:4318`.
    pub otlp_endpoint: String,
}

fn value_env(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    }
}

/// The OpenTelemetry variables of one child: `service` names the program, `instance` the
/// bot or plan (`namespace/name`). Empty without telemetry.
pub fn env(op: &OperatorConfig, service: &str, namespace: &str, instance: &str) -> Vec<EnvVar> {
    let Some(t) = &op.telemetry else {
        return Vec::new();
    };
    vec![
        value_env("OTEL_EXPORTER_OTLP_ENDPOINT", t.otlp_endpoint.clone()),
        value_env("OTEL_SERVICE_NAME", service.to_owned()),
        value_env(
            "OTEL_RESOURCE_ATTRIBUTES",
            format!(
                "service.namespace=tradewind,k8s.namespace.name={namespace},service.instance.id={namespace}/{instance}"
            ),
        ),
        value_env(
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "delta".to_owned(),
        ),
    ]
}

/// The endpoint's TCP port when it is not 443 (which the workers' egress already opens).
pub fn port(op: &OperatorConfig) -> Option<i32> {
    let url = &op.telemetry.as_ref()?.otlp_endpoint;
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let explicit = authority
        .rsplit_once(':')
        .filter(|(host, _)| !host.ends_with(']') || host.starts_with('['))
        .and_then(|(_, p)| p.parse::<i32>().ok());
    let port = explicit.unwrap_or(if scheme == "http" { 80 } else { 443 });
    (port != 443).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(endpoint: &str) -> OperatorConfig {
        OperatorConfig {
            telemetry: Some(Telemetry {
                otlp_endpoint: endpoint.into(),
            }),
            ..OperatorConfig::default()
        }
    }

    #[test]
    fn children_export_where_the_operator_was_told_naming_themselves() {
        assert!(
            env(
                &OperatorConfig::default(),
                "tradewind-bot",
                "trading",
                "btc"
            )
            .is_empty()
        );
        let vars: Vec<(String, String)> = env(
            &op("http://otel-collector.monitoring:4318"),
            "tradewind-bot",
            "trading",
            "btc",
        )
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
        assert_eq!(
            vars,
            [
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "http://otel-collector.monitoring:4318"
                ),
                ("OTEL_SERVICE_NAME", "tradewind-bot"),
                (
                    "OTEL_RESOURCE_ATTRIBUTES",
                    "service.namespace=tradewind,k8s.namespace.name=trading,service.instance.id=trading/btc"
                ),
                ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn the_egress_opens_the_endpoints_port_unless_https_has_it() {
        assert_eq!(
            port(&op("http://otel-collector.monitoring:4318")),
            Some(4318)
        );
        assert_eq!(port(&op("http://collector")), Some(80));
        assert_eq!(port(&op("https://collector/otlp")), None);
        assert_eq!(port(&op("https://[::1]:4318")), Some(4318));
        assert_eq!(port(&OperatorConfig::default()), None);
    }
}
