//! The environment spec: a versioned YAML document (`apiVersion: tradewind.dev/v1alpha1`,
//! `kind: Environment`) describing one Tradewind environment on Azure. Parsing is strict
//! (unknown fields are errors naming their path) and every name is checked against Azure's
//! rules before anything talks to Azure. Field reference: provisioner/README.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use tradewind_azure::names::{self, Kind};

mod cluster;
mod data;
mod identities;
mod locations;
mod messaging;
mod monitoring;

pub use cluster::{AcrSku, AcrSpec, AksSpec, AksTier, NodePoolSpec, PoolMode};
pub use data::{Consistency, CosmosSpec, KeyVaultSpec, StorageSpec, VaultSku};
pub use identities::{IdentitiesSpec, IdentitySpec, ServiceAccountRef};
pub use messaging::{EventHubsSpec, MessagingSku, ServiceBusSpec};
pub use monitoring::MonitoringSpec;

/// The only `apiVersion` this version of twctl reads.
pub const API_VERSION: &str = "tradewind.dev/v1alpha1";
/// The only `kind`.
pub const KIND: &str = "Environment";

/// A spec that cannot be used; every variant names the field.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not YAML at all.
    #[error("{file}: not valid YAML: {message}")]
    Yaml {
        /// File name.
        file: String,
        /// Parser message (with line and column).
        message: String,
    },
    /// YAML that does not fit the schema (unknown field, wrong type, missing field).
    #[error("{file}: {path}: {message}")]
    Schema {
        /// File name.
        file: String,
        /// Field path, e.g. `spec.aks.nodePools[0].vmSize`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value the schema accepts but Azure or Tradewind would not.
    #[error("{file}: {path}: {message}")]
    Invalid {
        /// File name.
        file: String,
        /// Field path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The file could not be read.
    #[error("{file}: {message}")]
    Io {
        /// File name.
        file: String,
        /// OS error.
        message: String,
    },
}

/// The whole document.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Environment {
    /// Must be `tradewind.dev/v1alpha1`.
    pub api_version: String,
    /// Must be `Environment`.
    pub kind: String,
    /// Name of the environment.
    pub metadata: Metadata,
    /// What to provision.
    pub spec: EnvironmentSpec,
}

/// `metadata`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Environment name (used in tags and confirmation prompts).
    pub name: String,
}

/// Which Azure cloud.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum CloudName {
    /// Azure public cloud.
    #[default]
    AzurePublic,
    /// Azure operated by 21Vianet.
    AzureChina,
    /// Azure Government.
    AzureUSGovernment,
}

impl CloudName {
    /// The name as [`tradewind_azure::cloud::AzureCloud::named`] takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AzurePublic => "AzurePublic",
            Self::AzureChina => "AzureChina",
            Self::AzureUSGovernment => "AzureUSGovernment",
        }
    }

    /// DNS suffixes used when a live body lacks an endpoint: (cosmos, vault, servicebus).
    pub fn suffixes(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::AzurePublic => (
                "documents.azure.com",
                "vault.azure.net",
                "servicebus.windows.net",
            ),
            Self::AzureChina => (
                "documents.azure.cn",
                "vault.azure.cn",
                "servicebus.chinacloudapi.cn",
            ),
            Self::AzureUSGovernment => (
                "documents.azure.us",
                "vault.usgovcloudapi.net",
                "servicebus.usgovcloudapi.net",
            ),
        }
    }
}

/// `spec`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentSpec {
    /// Subscription everything is created in (GUID).
    pub subscription_id: String,
    /// Entra tenant of the subscription (GUID); Key Vault needs it.
    pub tenant_id: String,
    /// Azure region, e.g. `westeurope`.
    pub location: String,
    /// Azure cloud (default `AzurePublic`).
    #[serde(default)]
    pub cloud: CloudName,
    /// Tags put on every taggable resource (plus `tradewind.dev/environment`).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The resource group.
    pub resource_group: ResourceGroupSpec,
    /// The AKS cluster the operator and workers run on.
    pub aks: AksSpec,
    /// The container registry images are pulled from.
    pub acr: AcrSpec,
    /// Cosmos DB (NoSQL) account and database for bot state.
    pub cosmos: CosmosSpec,
    /// Key Vault for exchange API keys.
    pub key_vault: KeyVaultSpec,
    /// Service Bus namespace for bot events and notifications.
    pub service_bus: ServiceBusSpec,
    /// Event Hubs namespace for market-data fan-out (optional).
    #[serde(default)]
    pub event_hubs: Option<EventHubsSpec>,
    /// Storage account for reports and backtest data (optional).
    #[serde(default)]
    pub storage: Option<StorageSpec>,
    /// Log Analytics and Application Insights (optional).
    #[serde(default)]
    pub monitoring: Option<MonitoringSpec>,
    /// The operator's and the workers' user-assigned identities.
    pub identities: IdentitiesSpec,
}

/// `spec.resourceGroup`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceGroupSpec {
    /// Resource group name.
    pub name: String,
    /// True (default): twctl creates the group and `destroy` deletes it with everything in
    /// it. False: the group must exist; `destroy` deletes only the resources of this spec.
    #[serde(default = "yes")]
    pub owned: bool,
}

fn yes() -> bool {
    true
}

impl Environment {
    /// Reads and validates a spec file.
    pub fn load(path: &std::path::Path) -> Result<Self, SpecError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Self::parse(&file, &text)
    }

    /// Parses and validates spec text; `file` only labels errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, SpecError> {
        // YAML → JSON value → typed, so errors carry the field path.
        let value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| SpecError::Yaml {
                file: file.to_string(),
                message: e.to_string(),
            })?;
        let env: Environment = serde_path_to_error::deserialize(&value).map_err(|e| {
            let path = e.path().to_string();
            SpecError::Schema {
                file: file.to_string(),
                path: if path == "." {
                    "(document)".into()
                } else {
                    path
                },
                message: e.into_inner().to_string(),
            }
        })?;
        env.validate(file)?;
        Ok(env)
    }

    /// Checks what the types cannot: versions, names, ranges, combinations; each resource
    /// family checks its own part.
    pub fn validate(&self, file: &str) -> Result<(), SpecError> {
        let c = Check { file };
        if self.api_version != API_VERSION {
            return Err(c.invalid(
                "apiVersion",
                format!(
                    "{:?} is not supported (expected {API_VERSION})",
                    self.api_version
                ),
            ));
        }
        if self.kind != KIND {
            return Err(c.invalid("kind", format!("{:?} (expected {KIND})", self.kind)));
        }
        let s = &self.spec;
        if s.metadata_name_ok(&self.metadata.name).is_err() {
            return Err(c.invalid(
                "metadata.name",
                "must be 1-63 lower-case letters, digits and hyphens",
            ));
        }
        for (path, value) in [
            ("spec.subscriptionId", &s.subscription_id),
            ("spec.tenantId", &s.tenant_id),
        ] {
            if !is_guid(value) {
                return Err(c.invalid(path, format!("{value:?} is not a GUID")));
            }
        }
        if s.location.trim().is_empty() {
            return Err(c.invalid("spec.location", "must not be empty"));
        }
        locations::check(&s.location).map_err(|m| c.invalid("spec.location", m))?;
        c.name(
            "spec.resourceGroup.name",
            Kind::ResourceGroup,
            &s.resource_group.name,
        )?;
        s.identities.check(&c)?;
        s.aks.check(&c)?;
        s.acr.check(&c)?;
        s.cosmos.check(&c)?;
        s.key_vault.check(&c)?;
        if let Some(st) = &s.storage {
            st.check(&c)?;
        }
        s.service_bus.check(&c)?;
        if let Some(eh) = &s.event_hubs {
            eh.check(&c)?;
        }
        if let Some(m) = &s.monitoring {
            m.check(&c)?;
        }
        Ok(())
    }
}

/// Checks against one spec file: its errors name the file and the field.
struct Check<'a> {
    file: &'a str,
}

impl Check<'_> {
    fn invalid(&self, path: &str, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            file: self.file.to_string(),
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// Azure's naming rules for `kind`.
    fn name(&self, path: &str, kind: Kind, value: &str) -> Result<(), SpecError> {
        names::check(kind, value).map_err(|e| self.invalid(path, e.to_string()))
    }

    /// Every item of a list once: `items` are (index, key) and the error names the
    /// second occurrence and the first (two node pools of one name would be one pool in
    /// Azure, the second silently overwriting the first).
    fn unique<'v>(
        &self,
        path: &str,
        items: impl IntoIterator<Item = &'v str>,
    ) -> Result<(), SpecError> {
        let mut seen: Vec<&str> = Vec::new();
        for (i, key) in items.into_iter().enumerate() {
            if let Some(first) = seen.iter().position(|k| *k == key) {
                return Err(self.invalid(
                    &format!("{path}[{i}]"),
                    format!("{key:?} is already at {path}[{first}]"),
                ));
            }
            seen.push(key);
        }
        Ok(())
    }

    /// `value` within `range`.
    fn within(
        &self,
        path: &str,
        value: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<(), SpecError> {
        if range.contains(&value) {
            return Ok(());
        }
        Err(self.invalid(
            path,
            format!("{value} is not in {}..={}", range.start(), range.end()),
        ))
    }
}

impl EnvironmentSpec {
    fn metadata_name_ok(&self, name: &str) -> Result<(), ()> {
        let ok = (1..=63).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if ok { Ok(()) } else { Err(()) }
    }
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> String {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        std::fs::read_to_string(format!("{dir}/../../examples/environments/{name}.yaml"))
            .expect("example exists")
    }

    #[test]
    fn examples_parse() {
        for name in ["dev", "prod"] {
            let env = Environment::parse(name, &example(name)).unwrap();
            assert_eq!(env.metadata.name, name);
        }
    }

    #[test]
    fn unknown_fields_name_their_path() {
        let text = example("dev").replace("vmSize:", "vmSiz:");
        let err = Environment::parse("dev.yaml", &text)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("dev.yaml: spec.aks.nodePools[0].vmSiz: unknown field `vmSiz`"),
            "{err}"
        );
    }

    /// twctl accepted location `mars-north-1`, a location holding `"/../x?api-version=1`
    /// (sent to ARM), duplicate node pools, containers and service accounts; each is now
    /// refused before any request, naming the field.
    #[test]
    fn unknown_locations_and_duplicates_are_refused() {
        let text = example("dev");
        let refused = |edited: String| {
            Environment::parse("dev.yaml", &edited)
                .unwrap_err()
                .to_string()
        };
        for bad in [
            "mars-north-1",
            "\"westeurope/../x?api-version=1\"",
            "West Europe",
        ] {
            let err = refused(text.replace("location: westeurope", &format!("location: {bad}")));
            assert!(err.starts_with("dev.yaml: spec.location: "), "{err}");
        }
        let err = refused(text.replace("location: westeurope", "location: West Europe"));
        assert!(err.contains("\"westeurope\""), "{err}");
        let err = refused(text.replace("[reports, backtests]", "[reports, reports]"));
        assert_eq!(
            err,
            "dev.yaml: spec.storage.containers[1]: \"reports\" is already at spec.storage.containers[0]"
        );
        let err = refused(text.replace(
            "        - {namespace: tradewind-bots, name: tradewind-worker}",
            "        - {namespace: tradewind-bots, name: tradewind-worker}\n        - {namespace: tradewind-bots, name: tradewind-worker}",
        ));
        assert!(
            err.starts_with("dev.yaml: spec.identities.worker.serviceAccounts[1]: "),
            "{err}"
        );
        let pool = "      - name: system\n        mode: System\n        vmSize: Standard_D2s_v5\n        minCount: 1\n        maxCount: 3\n        autoscaling: true\n";
        assert!(text.contains(pool));
        let err = refused(text.replacen(pool, &format!("{pool}{pool}"), 1));
        assert!(
            err.starts_with("dev.yaml: spec.aks.nodePools[1]: \"system\" is already"),
            "{err}"
        );
    }

    #[test]
    fn bad_names_and_ranges_are_refused() {
        let text = example("dev");
        let env = Environment::parse("dev", &text).unwrap();
        let bad_vault = text.replace(
            &format!("name: {}", env.spec.key_vault.name),
            "name: kv_bad!",
        );
        let err = Environment::parse("dev.yaml", &bad_vault)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("dev.yaml: spec.keyVault.name: "), "{err}");
        assert!(err.contains("kv_bad!"), "{err}");
        let bad_retention =
            text.replace("softDeleteRetentionDays: 7", "softDeleteRetentionDays: 3");
        let err = Environment::parse("dev.yaml", &bad_retention)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "dev.yaml: spec.keyVault.softDeleteRetentionDays: 3 is not in 7..=90"
        );
        let bad_version = text.replace("tradewind.dev/v1alpha1", "tradewind.dev/v9");
        let err = Environment::parse("dev.yaml", &bad_version)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("dev.yaml: apiVersion: "), "{err}");
    }

    #[test]
    fn guids() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("72f988bf-86f1-41af-91ab-2d7cd011db4"));
    }
}
