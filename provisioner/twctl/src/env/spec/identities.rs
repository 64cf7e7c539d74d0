//! The identity family: the operator's, the platform's, the market-data feed's and the
//! telemetry collector's user-assigned identities and the service accounts federated with them. (Workers have no environment identity: the
//! operator gives each bot its own.)

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError};

/// `spec.identities`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentitiesSpec {
    /// The operator's identity.
    pub operator: IdentitySpec,
    /// The former shared worker identity: read only to be refused with directions (the
    /// operator now gives every bot its own identity).
    #[serde(default, skip_serializing)]
    pub worker: Option<serde_json::Value>,
    /// The platform service's identity (the ledger): required with `spec.postgres`, whose
    /// Entra administrator it is.
    #[serde(default)]
    pub platform: Option<IdentitySpec>,
    /// The market-data feeds' identity: with `spec.marketData`, it may write the
    /// market-data container and the archive container, and nothing else.
    #[serde(default)]
    pub feed: Option<IdentitySpec>,
    /// The OpenTelemetry Collector's identity: with `spec.monitoring.applicationInsights`,
    /// it may read the Application Insights connection-string secret, and nothing else.
    #[serde(default)]
    pub collector: Option<IdentitySpec>,
}

/// `spec.identities.operator` / `.platform` / `.feed` / `.collector`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentitySpec {
    /// User-assigned identity name.
    pub name: String,
    /// Kubernetes service accounts that may sign in as this identity (one federated
    /// credential each, issuer = the cluster's OIDC issuer). At most 20.
    pub service_accounts: Vec<ServiceAccountRef>,
}

/// A Kubernetes service account.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ServiceAccountRef {
    /// The token subject: `system:serviceaccount:{namespace}:{name}`.
    pub fn subject(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }

    /// The federated credential's name: `{namespace}-{name}`, cut to 120 characters.
    pub fn credential_name(&self) -> String {
        format!("{}-{}", self.namespace, self.name)
            .chars()
            .take(120)
            .collect()
    }
}

impl IdentitiesSpec {
    /// The identities, told apart; the removed shared worker identity refused.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        if self.worker.is_some() {
            return Err(c.invalid(
                "spec.identities.worker",
                "the shared worker identity was removed: the operator gives every bot its own \
                 identity. Delete this block, list the bots' namespaces in spec.botNamespaces \
                 (where the operator may read credential Secrets), and delete the old identity \
                 (README, \"Migrating from the shared worker identity\")",
            ));
        }
        self.operator.check(c, "operator")?;
        if let Some(p) = &self.platform {
            p.check(c, "platform")?;
            if p.name == self.operator.name {
                return Err(c.invalid(
                    "spec.identities.platform.name",
                    "must differ from the operator's identity",
                ));
            }
        }
        if let Some(f) = &self.feed {
            f.check(c, "feed")?;
            let others = std::iter::once(&self.operator).chain(self.platform.as_ref());
            if others.into_iter().any(|o| o.name == f.name) {
                return Err(c.invalid(
                    "spec.identities.feed.name",
                    "must differ from the operator's and the platform's identities (the feed's may write market data only)",
                ));
            }
        }
        if let Some(col) = &self.collector {
            col.check(c, "collector")?;
            let others = std::iter::once(&self.operator)
                .chain(self.platform.as_ref())
                .chain(self.feed.as_ref());
            if others.into_iter().any(|o| o.name == col.name) {
                return Err(c.invalid(
                    "spec.identities.collector.name",
                    "must differ from the other identities (the collector's may read the Application Insights connection string only)",
                ));
            }
        }
        Ok(())
    }
}

impl IdentitySpec {
    fn check(&self, c: &Check, role: &str) -> Result<(), SpecError> {
        c.name(
            &format!("spec.identities.{role}.name"),
            Kind::UserAssignedIdentity,
            &self.name,
        )?;
        if self.service_accounts.len() > 20 {
            return Err(c.invalid(
                &format!("spec.identities.{role}.serviceAccounts"),
                "an identity takes at most 20 federated credentials",
            ));
        }
        for (i, sa) in self.service_accounts.iter().enumerate() {
            c.name(
                &format!("spec.identities.{role}.serviceAccounts[{i}]"),
                Kind::FederatedCredential,
                &sa.credential_name(),
            )?;
        }
        let subjects: Vec<String> = self
            .service_accounts
            .iter()
            .map(|sa| format!("{}/{}", sa.namespace, sa.name))
            .collect();
        c.unique(
            &format!("spec.identities.{role}.serviceAccounts"),
            subjects.iter().map(String::as_str),
        )?;
        Ok(())
    }
}
