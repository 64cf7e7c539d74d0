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
