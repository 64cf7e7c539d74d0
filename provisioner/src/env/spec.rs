//! The environment spec: a versioned YAML document (`apiVersion: tradewind.dev/v1alpha1`,
//! `kind: Environment`) describing one Tradewind environment on Azure. Parsing is strict
//! (unknown fields are errors naming their path) and every name is checked against Azure's
//! rules before anything talks to Azure. Field reference: provisioner/README.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::names::{self, Kind};

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
    /// The name as [`crate::cloud::AzureCloud::named`] takes it.
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

/// AKS cluster tier.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum AksTier {
    /// No SLA.
    #[default]
    Free,
    /// Uptime SLA.
    Standard,
}

/// `spec.aks`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AksSpec {
    /// Cluster name.
    pub name: String,
    /// Kubernetes version, e.g. `1.33`. Tradewind supports 1.33 and newer.
    pub kubernetes_version: String,
    /// DNS prefix of the API server (default: the cluster name).
    #[serde(default)]
    pub dns_prefix: Option<String>,
    /// `Free` or `Standard` (uptime SLA).
    #[serde(default)]
    pub tier: AksTier,
    /// Node pools; exactly one must be `System`. The OIDC issuer and workload identity are
    /// always enabled (the identities below depend on them).
    pub node_pools: Vec<NodePoolSpec>,
}

/// Node pool mode.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum PoolMode {
    /// Runs system pods.
    #[default]
    System,
    /// Workloads only.
    User,
}

/// `spec.aks.nodePools[]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePoolSpec {
    /// Pool name (1–12 lower-case letters and digits, starting with a letter).
    pub name: String,
    /// `System` or `User`.
    #[serde(default)]
    pub mode: PoolMode,
    /// VM size, e.g. `Standard_D2s_v5`.
    pub vm_size: String,
    /// Minimum node count (also the initial count).
    pub min_count: u32,
    /// Maximum node count.
    pub max_count: u32,
    /// Cluster autoscaler between min and max (default true). False: fixed at `minCount`.
    #[serde(default = "yes")]
    pub autoscaling: bool,
    /// Availability zones, e.g. `["1", "2", "3"]` (empty: no zone pinning).
    #[serde(default)]
    pub zones: Vec<String>,
}

/// `spec.acr`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcrSpec {
    /// Registry name (5–50 letters and digits, globally unique).
    pub name: String,
    /// `Basic`, `Standard` or `Premium`.
    pub sku: AcrSku,
}

/// ACR SKU.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum AcrSku {
    /// Basic.
    Basic,
    /// Standard.
    Standard,
    /// Premium (zone redundancy, private link).
    Premium,
}

/// Cosmos default consistency.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Eventual.
    Eventual,
    /// Consistent prefix.
    ConsistentPrefix,
    /// Session (default).
    #[default]
    Session,
    /// Bounded staleness.
    BoundedStaleness,
    /// Strong.
    Strong,
}

/// `spec.cosmos`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CosmosSpec {
    /// Account name (3–44 lower-case letters, digits, hyphens; globally unique).
    pub account: String,
    /// SQL database name (default `tradewind`).
    #[serde(default = "tradewind")]
    pub database: String,
    /// Default consistency level.
    #[serde(default)]
    pub consistency: Consistency,
    /// Serverless capacity mode. Exactly one of `serverless: true` and
    /// `autoscaleMaxThroughput` must be given.
    #[serde(default)]
    pub serverless: bool,
    /// Provisioned autoscale throughput shared by the database's containers (RU/s, a
    /// multiple of 1000, at least 1000). Applied when the database is created.
    #[serde(default)]
    pub autoscale_max_throughput: Option<u32>,
    /// Zone-redundant account in the primary region.
    #[serde(default)]
    pub zone_redundant: bool,
}

fn tradewind() -> String {
    "tradewind".into()
}

/// Key Vault SKU.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum VaultSku {
    /// Standard.
    #[default]
    Standard,
    /// Premium (HSM-backed keys).
    Premium,
}

/// `spec.keyVault`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyVaultSpec {
    /// Vault name (3–24 letters, digits, hyphens; globally unique).
    pub name: String,
    /// `standard` or `premium`.
    #[serde(default)]
    pub sku: VaultSku,
    /// Azure RBAC for data-plane access (default true; the role assignments below need it).
    #[serde(default = "yes")]
    pub rbac_authorization: bool,
    /// Days a deleted vault or secret is kept (7–90, default 90). Fixed at creation.
    #[serde(default = "ninety")]
    pub soft_delete_retention_days: u32,
    /// Purge protection: deleted secrets cannot be purged before retention ends. Cannot be
    /// turned off once on.
    #[serde(default)]
    pub purge_protection: bool,
}

fn ninety() -> u32 {
    90
}

/// Service Bus / Event Hubs SKU.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum MessagingSku {
    /// Basic (Service Bus Basic has no topics: not accepted for Service Bus).
    Basic,
    /// Standard.
    Standard,
    /// Premium.
    Premium,
}

impl MessagingSku {
    fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "Basic",
            Self::Standard => "Standard",
            Self::Premium => "Premium",
        }
    }
}

/// `spec.serviceBus`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceBusSpec {
    /// Namespace name (6–50 letters, digits, hyphens; globally unique).
    pub namespace: String,
    /// `Standard` or `Premium` (topics need at least Standard).
    pub sku: MessagingSku,
    /// Messaging units for Premium (1, 2, 4, 8 or 16).
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// `spec.eventHubs`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventHubsSpec {
    /// Namespace name (6–50 letters, digits, hyphens; globally unique).
    pub namespace: String,
    /// `Basic`, `Standard` or `Premium`.
    pub sku: MessagingSku,
    /// Throughput units (Basic/Standard, 1–40) or processing units (Premium).
    #[serde(default = "one")]
    pub capacity: u32,
}

fn one() -> u32 {
    1
}

/// `spec.storage`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StorageSpec {
    /// Account name (3–24 lower-case letters and digits; globally unique).
    pub account: String,
    /// SKU, e.g. `Standard_LRS`, `Standard_ZRS`, `Standard_GZRS`.
    pub sku: String,
    /// Private blob containers to create.
    #[serde(default)]
    pub containers: Vec<String>,
}

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

/// `spec.identities`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IdentitiesSpec {
    /// The operator's identity.
    pub operator: IdentitySpec,
    /// The workers' identity.
    pub worker: IdentitySpec,
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

    /// Checks what the types cannot: versions, names, ranges, combinations.
    pub fn validate(&self, file: &str) -> Result<(), SpecError> {
        let invalid = |path: &str, message: String| SpecError::Invalid {
            file: file.to_string(),
            path: path.to_string(),
            message,
        };
        if self.api_version != API_VERSION {
            return Err(invalid(
                "apiVersion",
                format!(
                    "{:?} is not supported (expected {API_VERSION})",
                    self.api_version
                ),
            ));
        }
        if self.kind != KIND {
            return Err(invalid(
                "kind",
                format!("{:?} (expected {KIND})", self.kind),
            ));
        }
        let s = &self.spec;
        if s.metadata_name_ok(&self.metadata.name).is_err() {
            return Err(invalid(
                "metadata.name",
                "must be 1-63 lower-case letters, digits and hyphens".into(),
            ));
        }
        for (path, value) in [
            ("spec.subscriptionId", &s.subscription_id),
            ("spec.tenantId", &s.tenant_id),
        ] {
            if !is_guid(value) {
                return Err(invalid(path, format!("{value:?} is not a GUID")));
            }
        }
        if s.location.trim().is_empty() {
            return Err(invalid("spec.location", "must not be empty".into()));
        }
        let name = |path: &str, kind: Kind, value: &str| {
            names::check(kind, value).map_err(|e| invalid(path, e.to_string()))
        };
        name(
            "spec.resourceGroup.name",
            Kind::ResourceGroup,
            &s.resource_group.name,
        )?;
        name("spec.aks.name", Kind::ManagedCluster, &s.aks.name)?;
        name("spec.acr.name", Kind::ContainerRegistry, &s.acr.name)?;
        name(
            "spec.cosmos.account",
            Kind::CosmosAccount,
            &s.cosmos.account,
        )?;
        name(
            "spec.cosmos.database",
            Kind::CosmosDatabase,
            &s.cosmos.database,
        )?;
        name("spec.keyVault.name", Kind::KeyVault, &s.key_vault.name)?;
        name(
            "spec.serviceBus.namespace",
            Kind::ServiceBusNamespace,
            &s.service_bus.namespace,
        )?;
        if let Some(eh) = &s.event_hubs {
            name(
                "spec.eventHubs.namespace",
                Kind::EventHubsNamespace,
                &eh.namespace,
            )?;
            if eh.capacity == 0 || eh.capacity > 40 {
                return Err(invalid(
                    "spec.eventHubs.capacity",
                    format!("{} is not in 1..=40", eh.capacity),
                ));
            }
        }
        if let Some(st) = &s.storage {
            name("spec.storage.account", Kind::StorageAccount, &st.account)?;
            for (i, c) in st.containers.iter().enumerate() {
                name(
                    &format!("spec.storage.containers[{i}]"),
                    Kind::BlobContainer,
                    c,
                )?;
            }
        }
        if let Some(m) = &s.monitoring {
            name(
                "spec.monitoring.logAnalytics",
                Kind::LogAnalyticsWorkspace,
                &m.log_analytics,
            )?;
            if let Some(ai) = &m.application_insights {
                name(
                    "spec.monitoring.applicationInsights",
                    Kind::ApplicationInsights,
                    ai,
                )?;
            }
            if !(30..=730).contains(&m.retention_days) {
                return Err(invalid(
                    "spec.monitoring.retentionDays",
                    format!("{} is not in 30..=730", m.retention_days),
                ));
            }
        }
        for (role, id) in [
            ("operator", &s.identities.operator),
            ("worker", &s.identities.worker),
        ] {
            name(
                &format!("spec.identities.{role}.name"),
                Kind::UserAssignedIdentity,
                &id.name,
            )?;
            if id.service_accounts.len() > 20 {
                return Err(invalid(
                    &format!("spec.identities.{role}.serviceAccounts"),
                    "an identity takes at most 20 federated credentials".into(),
                ));
            }
            for (i, sa) in id.service_accounts.iter().enumerate() {
                name(
                    &format!("spec.identities.{role}.serviceAccounts[{i}]"),
                    Kind::FederatedCredential,
                    &sa.credential_name(),
                )?;
            }
        }
        if s.identities.operator.name == s.identities.worker.name {
            return Err(invalid(
                "spec.identities.worker.name",
                "must differ from the operator's identity".into(),
            ));
        }
        // AKS
        if s.aks.node_pools.is_empty() {
            return Err(invalid(
                "spec.aks.nodePools",
                "at least one pool is needed".into(),
            ));
        }
        if !s.aks.node_pools.iter().any(|p| p.mode == PoolMode::System) {
            return Err(invalid(
                "spec.aks.nodePools",
                "one pool must have mode System".into(),
            ));
        }
        for (i, p) in s.aks.node_pools.iter().enumerate() {
            let path = format!("spec.aks.nodePools[{i}]");
            let ok_name = (1..=12).contains(&p.name.len())
                && p.name.starts_with(|c: char| c.is_ascii_lowercase())
                && p.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !ok_name {
                return Err(invalid(
                    &format!("{path}.name"),
                    format!(
                        "{:?}: 1-12 lower-case letters and digits, starting with a letter",
                        p.name
                    ),
                ));
            }
            if p.min_count == 0 && p.mode == PoolMode::System {
                return Err(invalid(
                    &format!("{path}.minCount"),
                    "a System pool needs at least 1 node".into(),
                ));
            }
            if p.min_count > p.max_count || p.max_count > 1000 {
                return Err(invalid(
                    &format!("{path}.maxCount"),
                    format!(
                        "{} must be in minCount ({})..=1000",
                        p.max_count, p.min_count
                    ),
                ));
            }
        }
        if !s
            .aks
            .kubernetes_version
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid(
                "spec.aks.kubernetesVersion",
                format!("{:?} is not a version like 1.33", s.aks.kubernetes_version),
            ));
        }
        // Cosmos
        match (s.cosmos.serverless, s.cosmos.autoscale_max_throughput) {
            (true, Some(_)) => {
                return Err(invalid(
                    "spec.cosmos.autoscaleMaxThroughput",
                    "a serverless account has no provisioned throughput".into(),
                ));
            }
            (false, None) => {
                return Err(invalid(
                    "spec.cosmos",
                    "set serverless: true or autoscaleMaxThroughput".into(),
                ));
            }
            (false, Some(t)) if t < 1000 || t % 1000 != 0 => {
                return Err(invalid(
                    "spec.cosmos.autoscaleMaxThroughput",
                    format!("{t} must be a multiple of 1000, at least 1000"),
                ));
            }
            _ => {}
        }
        if s.cosmos.serverless && s.cosmos.zone_redundant {
            return Err(invalid(
                "spec.cosmos.zoneRedundant",
                "serverless accounts cannot be zone-redundant".into(),
            ));
        }
        // Key Vault
        if !(7..=90).contains(&s.key_vault.soft_delete_retention_days) {
            return Err(invalid(
                "spec.keyVault.softDeleteRetentionDays",
                format!(
                    "{} is not in 7..=90",
                    s.key_vault.soft_delete_retention_days
                ),
            ));
        }
        if !s.key_vault.rbac_authorization {
            return Err(invalid(
                "spec.keyVault.rbacAuthorization",
                "must be true: Tradewind grants secret access with Azure RBAC role assignments"
                    .into(),
            ));
        }
        // Service Bus
        if s.service_bus.sku == MessagingSku::Basic {
            return Err(invalid(
                "spec.serviceBus.sku",
                "Basic has no topics; use Standard or Premium".into(),
            ));
        }
        match (s.service_bus.sku, s.service_bus.capacity) {
            (MessagingSku::Premium, Some(c)) if ![1, 2, 4, 8, 16].contains(&c) => {
                return Err(invalid(
                    "spec.serviceBus.capacity",
                    format!("{c} is not 1, 2, 4, 8 or 16"),
                ));
            }
            (MessagingSku::Standard, Some(_)) => {
                return Err(invalid(
                    "spec.serviceBus.capacity",
                    "only Premium namespaces have messaging units".into(),
                ));
            }
            _ => {}
        }
        Ok(())
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

impl MessagingSku {
    /// The SKU name in ARM bodies.
    pub fn name(self) -> &'static str {
        self.as_str()
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
        std::fs::read_to_string(format!("{dir}/../examples/environments/{name}.yaml"))
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
