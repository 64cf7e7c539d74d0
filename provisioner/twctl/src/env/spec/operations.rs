//! Running the environment: disaster recovery, budgets and the alerts a person must see.

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError, locations};

/// `spec.disasterRecovery`: a secondary region for Cosmos DB, storage, PostgreSQL backups
/// and the registry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DisasterRecoverySpec {
    /// The secondary region (default: the primary's Azure pair).
    #[serde(default)]
    pub secondary_location: Option<String>,
}

impl DisasterRecoverySpec {
    /// The secondary region: the given one, or the pair of `primary`.
    pub fn secondary(&self, primary: &str) -> Option<String> {
        self.secondary_location
            .clone()
            .or_else(|| locations::paired(primary).map(str::to_string))
    }

    pub(super) fn check(&self, c: &Check, primary: &str) -> Result<(), SpecError> {
        let path = "spec.disasterRecovery.secondaryLocation";
        let Some(secondary) = self.secondary(primary) else {
            return Err(c.invalid(
                path,
                format!("{primary} has no Azure pair: name the secondary region"),
            ));
        };
        locations::check(&secondary).map_err(|m| c.invalid(path, m))?;
        if secondary == primary {
            return Err(c.invalid(path, "must differ from spec.location"));
        }
        Ok(())
    }
}

/// `spec.budget`: a monthly cost budget on the resource group (Microsoft.Consumption).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BudgetSpec {
    /// Budget name.
    pub name: String,
    /// Monthly amount in the billing currency, whole units.
    pub amount: u64,
    /// First month, `YYYY-MM-01` (Azure wants the first of a month).
    pub start_date: String,
    /// Alert when actual cost passes these percentages of the amount (default 80, 100).
    #[serde(default = "default_thresholds")]
    pub thresholds: Vec<u32>,
    /// Alert when the forecast passes this percentage (optional).
    #[serde(default)]
    pub forecast_threshold: Option<u32>,
    /// Who is e-mailed.
    pub contact_emails: Vec<String>,
}

fn default_thresholds() -> Vec<u32> {
    vec![80, 100]
}

impl BudgetSpec {
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.budget.name", Kind::Monitoring, &self.name)?;
        if self.amount == 0 {
            return Err(c.invalid("spec.budget.amount", "must be more than 0"));
        }
        let d = self.start_date.as_bytes();
        let digits = |r: std::ops::Range<usize>| d[r].iter().all(u8::is_ascii_digit);
        let ok = d.len() == 10
            && digits(0..4)
            && d[4] == b'-'
            && digits(5..7)
            && &self.start_date[8..] == "01"
            && d[7] == b'-'
            && (1..=12).contains(&self.start_date[5..7].parse::<u32>().unwrap_or(0));
        if !ok {
            return Err(c.invalid(
                "spec.budget.startDate",
                format!(
                    "{:?} must be the first of a month, YYYY-MM-01",
                    self.start_date
                ),
            ));
        }
        if self.thresholds.is_empty() {
            return Err(c.invalid("spec.budget.thresholds", "name at least one percentage"));
        }
        for (i, t) in self.thresholds.iter().enumerate() {
            c.within(&format!("spec.budget.thresholds[{i}]"), *t, 1..=1000)?;
        }
        let keys: Vec<String> = self.thresholds.iter().map(u32::to_string).collect();
        c.unique("spec.budget.thresholds", keys.iter().map(String::as_str))?;
        if let Some(f) = self.forecast_threshold {
            c.within("spec.budget.forecastThreshold", f, 1..=1000)?;
        }
        // Azure takes at most five notifications per budget.
        if self.thresholds.len() + usize::from(self.forecast_threshold.is_some()) > 5 {
            return Err(c.invalid(
                "spec.budget.thresholds",
                "a budget takes at most five notifications (thresholds plus forecast)",
            ));
        }
        if self.contact_emails.is_empty() {
            return Err(c.invalid("spec.budget.contactEmails", "name at least one address"));
        }
        for (i, e) in self.contact_emails.iter().enumerate() {
            if !e.contains('@') {
                return Err(c.invalid(
                    &format!("spec.budget.contactEmails[{i}]"),
                    format!("{e:?} is not an e-mail address"),
                ));
            }
        }
        Ok(())
    }
}

/// `spec.alerts`: an action group and the alert rules on the Log Analytics workspace.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlertsSpec {
    /// Action group name.
    pub action_group: String,
    /// Its short name (1–12 characters, shown in e-mails and SMS).
    pub short_name: String,
    /// Who is e-mailed.
    pub emails: Vec<String>,
    /// Feed lag that fires the feed-lag alert, in seconds (default 30).
    #[serde(default = "thirty")]
    pub feed_lag_seconds: u32,
}

fn thirty() -> u32 {
    30
}

impl AlertsSpec {
    pub(super) fn check(&self, c: &Check, has_workspace: bool) -> Result<(), SpecError> {
        if !has_workspace {
            return Err(c.invalid(
                "spec.alerts",
                "alert rules query the Log Analytics workspace: set spec.monitoring",
            ));
        }
        c.name(
            "spec.alerts.actionGroup",
            Kind::Monitoring,
            &self.action_group,
        )?;
        if self.short_name.is_empty() || self.short_name.chars().count() > 12 {
            return Err(c.invalid("spec.alerts.shortName", "must be 1-12 characters"));
        }
        if self.emails.is_empty() {
            return Err(c.invalid("spec.alerts.emails", "name at least one address"));
        }
        for (i, e) in self.emails.iter().enumerate() {
            if !e.contains('@') {
                return Err(c.invalid(
                    &format!("spec.alerts.emails[{i}]"),
                    format!("{e:?} is not an e-mail address"),
                ));
            }
        }
        c.within(
            "spec.alerts.feedLagSeconds",
            self.feed_lag_seconds,
            1..=3600,
        )
    }
}
