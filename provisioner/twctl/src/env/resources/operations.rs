//! Operating the environment: the budget, and the Application Insights connection string
//! kept in Key Vault (never in Helm values or outputs).

use serde_json::{Map, json};

use super::{Builder, Resource, ResourceKind, reference};

/// The Key Vault secret holding Application Insights' connection string.
pub const APP_INSIGHTS_SECRET: &str = "appinsights-connection-string";

/// The budget (resource-group scope) and the connection-string secret.
pub(super) fn resources(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let mut out = Vec::new();
    if let Some(budget) = &s.budget {
        let mut notifications = Map::new();
        for t in &budget.thresholds {
            notifications.insert(
                format!("actual-{t}"),
                json!({"enabled": true, "operator": "GreaterThan", "threshold": t,
                       "thresholdType": "Actual", "contactEmails": budget.contact_emails}),
            );
        }
        if let Some(t) = budget.forecast_threshold {
            notifications.insert(
                format!("forecast-{t}"),
                json!({"enabled": true, "operator": "GreaterThan", "threshold": t,
                       "thresholdType": "Forecasted", "contactEmails": budget.contact_emails}),
            );
        }
        out.push(
            b.child(
                b.ids
                    .resource_group
                    .provider("Microsoft.Consumption", "budgets", &budget.name),
                ResourceKind::Budget,
                &[&b.ids.resource_group],
                json!({"properties": {
                    "category": "Cost",
                    "amount": budget.amount,
                    "timeGrain": "Monthly",
                    "timePeriod": {"startDate": format!("{}T00:00:00Z", budget.start_date)},
                    "notifications": notifications,
                }}),
            ),
        );
    }
    if let Some(ai) = &b.ids.app_insights {
        let mut secret = b.child(
            b.ids.key_vault.child("secrets", APP_INSIGHTS_SECRET),
            ResourceKind::KeyVaultSecret,
            &[&b.ids.key_vault, ai],
            json!({"properties": {
                "value": reference(ai, "/properties/ConnectionString"),
                "contentType": "text/plain",
            }}),
        );
        // ARM never returns a secret's value.
        secret.ignore = vec!["/properties/value".into()];
        out.push(secret);
    }
    out
}
