//! The identity family: the operator's and the workers' user-assigned identities and
//! the service accounts federated with them.

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError};

/// `spec.identities`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentitiesSpec {
    /// The operator's identity.
    pub operator: IdentitySpec,
    /// The workers' identity.
    pub worker: IdentitySpec,
    /// The platform service's identity (the ledger): required with `spec.postgres`, whose
    /// Entra administrator it is.
    #[serde(default)]
    pub platform: Option<IdentitySpec>,
}

/// `spec.identities.operator` / `.worker`.
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
    /// Both identities, told apart.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        self.operator.check(c, "operator")?;
        self.worker.check(c, "worker")?;
        if self.operator.name == self.worker.name {
            return Err(c.invalid(
                "spec.identities.worker.name",
                "must differ from the operator's identity",
            ));
        }
        if let Some(p) = &self.platform {
            p.check(c, "platform")?;
            if p.name == self.operator.name || p.name == self.worker.name {
                return Err(c.invalid(
                    "spec.identities.platform.name",
                    "must differ from the operator's and the workers' identities",
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
