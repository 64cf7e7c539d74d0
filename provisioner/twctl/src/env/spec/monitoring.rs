//! The monitoring family: Log Analytics and Application Insights.

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError};

/// `spec.monitoring`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Log Analytics workspace name.
    pub log_analytics: String,
    /// Days logs are kept (30–730).
    #[serde(default = "thirty")]
    pub retention_days: u32,
    /// Workspace-based Application Insights component name (optional).
    #[serde(default)]
    pub application_insights: Option<String>,
}

fn thirty() -> u32 {
    30
}

impl MonitoringSpec {
    /// Names and retention.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name(
            "spec.monitoring.logAnalytics",
            Kind::LogAnalyticsWorkspace,
            &self.log_analytics,
        )?;
        if let Some(ai) = &self.application_insights {
            c.name(
                "spec.monitoring.applicationInsights",
                Kind::ApplicationInsights,
                ai,
            )?;
        }
        c.within(
            "spec.monitoring.retentionDays",
            self.retention_days,
            30..=730,
        )
    }
}
