//! The monitoring family: the Log Analytics workspace and Application Insights on it.

use serde_json::json;

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
/// binaries export OpenTelemetry metrics there as `AppMetrics` rows named after their
/// Prometheus names) that fires when it returns any row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertRule {
    /// Name suffix (`{environment}-{suffix}`).
    pub suffix: &'static str,
    /// What a person sees.
    pub title: &'static str,
    /// 0 (critical) – 4 (verbose).
    pub severity: u8,
    /// The query; `{lag}` is replaced by the feed-lag threshold in seconds.
    pub query: &'static str,
}

/// The alerts a person must see.
pub const ALERTS: &[AlertRule] = &[
    AlertRule {
        suffix: "bot-halted",
        title: "A trading bot halted",
        severity: 1,
        query: "AppMetrics | where Name == 'tradewind_bot_halted' | summarize halted = max(Max) by bot = tostring(Properties['bot']) | where halted > 0",
    },
    AlertRule {
        suffix: "reconcile-errors",
        title: "The operator fails to reconcile",
        severity: 2,
        query: "AppMetrics | where Name startswith 'tradewind_operator_reconcile_errors' | summarize errors = sum(Sum) by kind = tostring(Properties['kind']) | where errors > 0",
    },
    AlertRule {
        suffix: "settlement-failed",
        title: "A settlement failed",
        severity: 1,
        query: "AppMetrics | where Name startswith 'tradewind_platform_settlement_failures' | summarize failures = sum(Sum) | where failures > 0",
    },
    AlertRule {
        suffix: "feed-lag",
        title: "Market data is late",
        severity: 2,
        query: "AppMetrics | where Name == 'tradewind_bot_feed_lag_seconds' | summarize lag = max(Max) by feed = tostring(Properties['feed']) | where lag > {lag}",
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
                    "query": rule.query.replace("{lag}", &a.feed_lag_seconds.to_string()),
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
