//! The monitoring family: the Log Analytics workspace and Application Insights on it.

use serde_json::json;
use tradewind_telemetry::names;

use super::{Builder, Resource, ResourceKind};

/// The workspace and the component, if the spec has monitoring.
pub(super) fn resources(b: &Builder) -> Vec<Resource> {
    let (Some(la), Some(m)) = (&b.ids.log_analytics, &b.spec().monitoring) else {
        return vec![];
    };
    let mut out = vec![b.top(
        la,
        ResourceKind::LogAnalyticsWorkspace,
        json!({"properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": m.retention_days}}),
    )];
    if let Some(ai) = &b.ids.app_insights {
        let mut r = b.top(
            ai,
            ResourceKind::ApplicationInsights,
            json!({
                "kind": "web",
                "properties": {"Application_Type": "web", "WorkspaceResourceId": la.as_str()}
            }),
        );
        r.depends_on.push(la.clone());
        out.push(r);
    }
    out
}

/// An alert rule: a log search over the workspace (Application Insights' tables: the
/// programs export OpenTelemetry metrics there as `AppMetrics` rows named after their
/// Prometheus families, `tradewind_telemetry::names`) that fires when it returns any row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRule {
    /// Name suffix (`{environment}-{suffix}`).
    pub suffix: &'static str,
    /// What a person sees.
    pub title: &'static str,
    /// 0 (critical) – 4 (verbose).
    pub severity: u8,
    /// The metric it reads (one of `tradewind_telemetry::names`).
    pub metric: &'static str,
    /// The attribute it groups by, if any.
    pub by: Option<&'static str>,
    /// The query; `{metric}` and `{by}` are replaced by the fields above, `{lag}` by the
    /// feed-lag threshold in seconds.
    pub query: &'static str,
}

impl AlertRule {
    /// The log search, with the threshold `lag_seconds`.
    pub fn query(&self, lag_seconds: u32) -> String {
        self.query
            .replace("{metric}", self.metric)
            .replace("{by}", self.by.unwrap_or(""))
            .replace("{lag}", &lag_seconds.to_string())
    }
}

/// The alerts a person must see.
pub const ALERTS: &[AlertRule] = &[
    AlertRule {
        suffix: "bot-halted",
        title: "A trading bot halted",
        severity: 1,
        metric: names::BOT_HALTED,
        by: Some(names::BOT),
        query: "AppMetrics | where Name == '{metric}' | summarize halted = max(Max) by {by} = tostring(Properties['{by}']) | where halted > 0",
    },
    AlertRule {
        suffix: "reconcile-errors",
        title: "The operator fails to reconcile",
        severity: 2,
        metric: names::OPERATOR_RECONCILE_ERRORS,
        by: Some(names::CONTROLLER),
        // Counters are exported as deltas (the chart sets
        // OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta): the window's sum is
        // what failed within it.
        query: "AppMetrics | where Name == '{metric}' | summarize errors = sum(Sum) by {by} = tostring(Properties['{by}']) | where errors > 0",
    },
    AlertRule {
        suffix: "settlement-failed",
        title: "A settlement failed",
        severity: 1,
        metric: names::PLATFORM_SETTLEMENT_FAILURES,
        by: Some(names::PLAN),
        // Each failed run exports its own count of 1 as it exits.
        query: "AppMetrics | where Name == '{metric}' | summarize failures = sum(Sum) by {by} = tostring(Properties['{by}']) | where failures > 0",
    },
    AlertRule {
        suffix: "feed-lag",
        title: "Market data is late",
        severity: 2,
        metric: names::BOT_FEED_LAG,
        by: Some(names::FEED),
        query: "AppMetrics | where Name == '{metric}' | summarize lag = max(Max) by {by} = tostring(Properties['{by}']) | where lag > {lag}",
    },
];

/// The action group and one log search alert rule per [`ALERTS`] entry.
pub(super) fn alerts(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let (Some(ag), Some(a), Some(la)) = (&b.ids.action_group, &s.alerts, &b.ids.log_analytics)
    else {
        return vec![];
    };
    let receivers: Vec<_> = a
        .emails
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"name": format!("email-{i}"), "emailAddress": e, "useCommonAlertSchema": true}))
        .collect();
    let mut out = vec![b.global(
        ag,
        ResourceKind::ActionGroup,
        json!({"properties": {"groupShortName": a.short_name, "enabled": true, "emailReceivers": receivers}}),
    )];
    for rule in ALERTS {
        let id = b.ids.resource_group.provider(
            "Microsoft.Insights",
            "scheduledQueryRules",
            &format!("{}-{}", b.env.metadata.name, rule.suffix),
        );
        let mut r = b.top(
            &id,
            ResourceKind::AlertRule,
            json!({"kind": "LogAlert", "properties": {
                "displayName": rule.title,
                "severity": rule.severity,
                "enabled": true,
                "evaluationFrequency": "PT5M",
                "windowSize": "PT5M",
                "scopes": [la.as_str()],
                "criteria": {"allOf": [{
                    "query": rule.query(a.feed_lag_seconds),
                    "timeAggregation": "Count",
                    "operator": "GreaterThan",
                    "threshold": 0,
                    "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
                }]},
                "autoMitigate": true,
                "actions": {"actionGroups": [ag.as_str()]},
            }}),
        );
        r.depends_on.extend([la.clone(), ag.clone()]);
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each rule reads exactly the metric the programs export under the shared name, by
    /// the attribute they set; the four a person must see are all there.
    #[test]
    fn each_rule_reads_an_exported_metric_by_its_exact_name() {
        let metrics: Vec<&str> = ALERTS.iter().map(|r| r.metric).collect();
        assert_eq!(
            metrics,
            [
                names::BOT_HALTED,
                names::OPERATOR_RECONCILE_ERRORS,
                names::PLATFORM_SETTLEMENT_FAILURES,
                names::BOT_FEED_LAG,
            ]
        );
        for rule in ALERTS {
            let q = rule.query(15);
            assert!(
                q.starts_with(&format!("AppMetrics | where Name == '{}' |", rule.metric)),
                "{q}"
            );
            if let Some(by) = rule.by {
                assert!(q.contains(&format!("tostring(Properties['{by}'])")), "{q}");
            }
            assert!(!q.contains('{') && !q.contains("startswith"), "{q}");
        }
        assert!(ALERTS[3].query(15).ends_with("where lag > 15"));
    }
}
