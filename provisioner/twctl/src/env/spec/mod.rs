//! The environment spec: a versioned YAML document (`apiVersion: tradewind.dev/v1alpha1`,
//! `kind: Environment`) describing one Tradewind environment on Azure. Parsing is strict
//! (unknown fields are errors naming their path) and every name is checked against Azure's
//! rules before anything talks to Azure. Field reference: provisioner/README.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use tradewind_azure::names::{self, Kind};

mod cluster;
mod data;
mod database;
mod edge;
mod identities;
pub mod locations;
mod messaging;
mod monitoring;
mod network;
mod operations;

pub use cluster::{AcrSku, AcrSpec, AksSpec, AksTier, NodePoolSpec, PoolMode};
pub use data::{Consistency, CosmosSpec, KeyVaultSpec, MarketDataSpec, StorageSpec, VaultSku};
pub use database::{
    EntraAdministrator, HighAvailability, PostgresSpec, PostgresTier, PrincipalType,
};
pub use edge::{
    ApiManagementSpec, ApimSku, FrontDoorSku, FrontDoorSpec, OpenApiSource, RateLimitKey,
    RateLimitSpec, WafMode,
};
pub use identities::{IdentitiesSpec, IdentitySpec, ServiceAccountRef};
pub use messaging::{EventHubsSpec, MessagingSku, ServiceBusSpec};
pub use monitoring::MonitoringSpec;
pub use network::{Cidr, NetworkSpec, POD_CIDR, SERVICE_CIDR};
pub use operations::{AlertsSpec, BudgetSpec, DisasterRecoverySpec};

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
    /// The operator's and the platform's user-assigned identities.
    pub identities: IdentitiesSpec,
    /// Namespaces the bots run in: the operator may read their credential Secrets there
    /// (the chart's `credentialNamespaces`). Empty: nowhere.
    #[serde(default)]
    pub bot_namespaces: Vec<String>,
    /// The market-data container and archive (optional).
    #[serde(default)]
    pub market_data: Option<MarketDataSpec>,
    /// The ledger's PostgreSQL flexible server (optional).
    #[serde(default)]
    pub postgres: Option<PostgresSpec>,
    /// Private networking (optional; absent: public endpoints).
    #[serde(default)]
    pub network: Option<NetworkSpec>,
    /// API Management in front of the platform API (optional).
    #[serde(default)]
    pub api_management: Option<ApiManagementSpec>,
    /// Front Door with a WAF policy in front of API Management (optional).
    #[serde(default)]
    pub front_door: Option<FrontDoorSpec>,
    /// A secondary region (optional).
    #[serde(default)]
    pub disaster_recovery: Option<DisasterRecoverySpec>,
    /// A monthly budget with alerts (optional).
    #[serde(default)]
    pub budget: Option<BudgetSpec>,
    /// Alert rules and who they reach (optional).
    #[serde(default)]
    pub alerts: Option<AlertsSpec>,
}

/// Storage SKUs that keep a copy in the paired region.
pub const GEO_REDUNDANT_STORAGE: &[&str] = &[
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
];

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
        let mut env = Self::parse(&file, &text)?;
        env.read_documents(&file, path.parent().unwrap_or(std::path::Path::new(".")))?;
        Ok(env)
    }

    /// Reads the files the spec names (the OpenAPI document), relative to `base`, and
    /// checks they are what they claim to be.
    pub fn read_documents(&mut self, file: &str, base: &std::path::Path) -> Result<(), SpecError> {
        let Some(apim) = &mut self.spec.api_management else {
            return Ok(());
        };
        let Some(name) = &apim.open_api.file else {
            return Ok(());
        };
        let path = "spec.apiManagement.openApi.file";
        let invalid = |message: String| SpecError::Invalid {
            file: file.to_string(),
            path: path.to_string(),
            message,
        };
        let full = base.join(name);
        let text = std::fs::read_to_string(&full)
            .map_err(|e| invalid(format!("{}: {e}", full.display())))?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| invalid(format!("{}: not JSON: {e}", full.display())))?;
        if !doc.get("openapi").is_some_and(serde_json::Value::is_string)
            || !doc.get("paths").is_some_and(serde_json::Value::is_object)
        {
            return Err(invalid(format!(
                "{}: not an OpenAPI 3 document (no \"openapi\" version or \"paths\")",
                full.display()
            )));
        }
        apim.open_api.document = Some(text);
        Ok(())
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
        for (i, ns) in s.bot_namespaces.iter().enumerate() {
            let label = !ns.is_empty()
                && ns.len() <= 63
                && ns
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !ns.starts_with('-')
                && !ns.ends_with('-');
            if !label {
                return Err(c.invalid(
                    &format!("spec.botNamespaces[{i}]"),
                    format!("{ns:?} is not a namespace name (1-63 lower-case letters, digits and hyphens)"),
                ));
            }
        }
        c.unique(
            "spec.botNamespaces",
            s.bot_namespaces.iter().map(String::as_str),
        )?;
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
        s.check_topology(&c)
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
    /// The parts beyond the core services, and what they ask of each other.
    fn check_topology(&self, c: &Check) -> Result<(), SpecError> {
        if let Some(md) = &self.market_data {
            md.check(c, self.storage.as_ref())?;
        }
        if self.identities.feed.is_some() && self.market_data.is_none() {
            return Err(c.invalid(
                "spec.identities.feed",
                "needs spec.marketData: the feed's identity may write its container and archive only",
            ));
        }
        if let Some(pg) = &self.postgres {
            pg.check(c)?;
            if self.identities.platform.is_none() {
                return Err(c.invalid(
                    "spec.identities.platform",
                    "required with spec.postgres: the ledger signs in to PostgreSQL as this identity",
                ));
            }
        }
        if let Some(n) = &self.network {
            n.check(c)?;
            if self.cloud != CloudName::AzurePublic {
                return Err(c.invalid(
                    "spec.cloud",
                    "private networking knows the private DNS zone names of AzurePublic only",
                ));
            }
            if self.acr.sku != AcrSku::Premium {
                return Err(c.invalid(
                    "spec.acr.sku",
                    "a registry behind a private endpoint must be Premium",
                ));
            }
            if self.service_bus.sku != MessagingSku::Premium {
                return Err(c.invalid(
                    "spec.serviceBus.sku",
                    "a namespace behind a private endpoint must be Premium",
                ));
            }
        }
        if let Some(a) = &self.api_management {
            a.check(c, self.network.is_some())?;
            if let Some(n) = &self.network
                && n.apim_subnet.is_none()
            {
                return Err(c.invalid(
                    "spec.network.apimSubnet",
                    "required with spec.apiManagement: the gateway reaches the platform inside the VNet",
                ));
            }
        }
        if let Some(f) = &self.front_door {
            f.check(c)?;
            if self.api_management.is_none() {
                return Err(c.invalid(
                    "spec.frontDoor",
                    "Front Door's origin is API Management: set spec.apiManagement",
                ));
            }
        }
        if let Some(dr) = &self.disaster_recovery {
            dr.check(c, &self.location)?;
            if self.cosmos.serverless {
                return Err(c.invalid(
                    "spec.cosmos.serverless",
                    "a serverless account runs in one region only; disaster recovery needs provisioned throughput",
                ));
            }
            if let Some(st) = &self.storage
                && !GEO_REDUNDANT_STORAGE.contains(&st.sku.as_str())
            {
                return Err(c.invalid(
                    "spec.storage.sku",
                    format!(
                        "{:?} keeps no copy in the secondary region; use one of {GEO_REDUNDANT_STORAGE:?}",
                        st.sku
                    ),
                ));
            }
            if let Some(pg) = &self.postgres
                && !pg.geo_redundant_backup
            {
                return Err(c.invalid(
                    "spec.postgres.geoRedundantBackup",
                    "must be true with spec.disasterRecovery (geo-restore into the secondary region)",
                ));
            }
        }
        if let Some(b) = &self.budget {
            b.check(c)?;
        }
        if let Some(a) = &self.alerts {
            a.check(c, self.monitoring.is_some())?;
        }
        let app_insights = self
            .monitoring
            .as_ref()
            .is_some_and(|m| m.application_insights.is_some());
        if self.identities.collector.is_some() && !app_insights {
            return Err(c.invalid(
                "spec.identities.collector",
                "needs spec.monitoring.applicationInsights: the collector's identity may read its connection string only",
            ));
        }
        Ok(())
    }

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
            "        - {namespace: tradewind-system, name: tradewind-operator}",
            "        - {namespace: tradewind-system, name: tradewind-operator}\n        - {namespace: tradewind-system, name: tradewind-operator}",
        ));
        assert!(
            err.starts_with("dev.yaml: spec.identities.operator.serviceAccounts[1]: "),
            "{err}"
        );
        let err = refused(text.replace("botNamespaces: [tradewind-bots]", "botNamespaces: [a, a]"));
        assert_eq!(
            err,
            "dev.yaml: spec.botNamespaces[1]: \"a\" is already at spec.botNamespaces[0]"
        );
        let err = refused(text.replace("botNamespaces: [tradewind-bots]", "botNamespaces: [Bots]"));
        assert!(
            err.starts_with("dev.yaml: spec.botNamespaces[0]: \"Bots\""),
            "{err}"
        );
        // The removed shared worker identity: refused, naming the field and what to do.
        let err = refused(text.replace(
            "  identities:\n",
            "  identities:\n    worker:\n      name: tradewind-dev-worker\n      serviceAccounts: []\n",
        ));
        assert!(
            err.starts_with(
                "dev.yaml: spec.identities.worker: the shared worker identity was removed"
            ),
            "{err}"
        );
        assert!(err.contains("spec.botNamespaces"), "{err}");
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

    /// Every new part of the topology refuses bad input naming the field.
    #[test]
    fn topology_fields_are_checked_naming_the_field() {
        let prod = example("prod");
        let refused = |from: &str, to: &str| {
            assert!(prod.contains(from), "prod.yaml has no {from:?}");
            Environment::parse("prod.yaml", &prod.replacen(from, to, 1))
                .unwrap_err()
                .to_string()
        };
        for (from, to, path) in [
            (
                "server: tradewind-prod-pg",
                "server: Tradewind_PG",
                "spec.postgres.server",
            ),
            ("version: \"16\"", "version: \"9\"", "spec.postgres.version"),
            ("sku: Standard_D4ds_v5", "sku: D4", "spec.postgres.sku"),
            (
                "storageSizeGb: 256",
                "storageSizeGb: 100",
                "spec.postgres.storageSizeGb",
            ),
            (
                "backupRetentionDays: 35",
                "backupRetentionDays: 36",
                "spec.postgres.backupRetentionDays",
            ),
            (
                "tier: GeneralPurpose",
                "tier: Burstable",
                "spec.postgres.highAvailability",
            ),
            (
                "objectId: 6f1b7a9e-2c4d-4e8f-9a1b-3c5d7e9f1a2b",
                "objectId: nope",
                "spec.postgres.administrators[0].objectId",
            ),
            (
                "geoRedundantBackup: true",
                "geoRedundantBackup: false",
                "spec.postgres.geoRedundantBackup",
            ),
            (
                "addressSpace: 10.40.0.0/16",
                "addressSpace: 10.40.0.1/16",
                "spec.network.addressSpace",
            ),
            (
                "addressSpace: 10.40.0.0/16",
                "addressSpace: 172.16.0.0/12",
                "spec.network.addressSpace",
            ),
            (
                "aksSubnet: 10.40.0.0/20",
                "aksSubnet: 10.41.0.0/20",
                "spec.network.aksSubnet",
            ),
            (
                "privateEndpointSubnet: 10.40.16.0/24",
                "privateEndpointSubnet: 10.40.8.0/24",
                "spec.network.privateEndpointSubnet",
            ),
            (
                "apimSubnet: 10.40.17.0/27",
                "apimSubnet: 10.40.17.0/30",
                "spec.network.apimSubnet",
            ),
            (
                "    apimSubnet: 10.40.17.0/27\n",
                "",
                "spec.network.apimSubnet",
            ),
            (
                "name: tradewindprodacr\n    sku: Premium",
                "name: tradewindprodacr\n    sku: Standard",
                "spec.acr.sku",
            ),
            (
                "sku: Premium\n    capacity: 2\n  eventHubs",
                "sku: Standard\n  eventHubs",
                "spec.serviceBus.sku",
            ),
            ("cloud: AzurePublic", "cloud: AzureChina", "spec.cloud"),
            (
                "capacity: 2\n    zones",
                "capacity: 3\n    zones",
                "spec.apiManagement.capacity",
            ),
            (
                "publisherEmail: platform-team@tradewind.example",
                "publisherEmail: nobody",
                "spec.apiManagement.publisherEmail",
            ),
            (
                "url: https://api.tradewind.example/api/v1/openapi.json",
                "url: http://api.tradewind.example/openapi.json",
                "spec.apiManagement.openApi.url",
            ),
            (
                "backendUrl: http://10.40.15.250",
                "backendUrl: 10.40.15.250",
                "spec.apiManagement.backendUrl",
            ),
            (
                "calls: 600",
                "calls: 0",
                "spec.apiManagement.rateLimit.calls",
            ),
            (
                "sku: Premium\n    capacity: 2\n    zones",
                "sku: Consumption\n    capacity: 2\n    zones",
                "spec.apiManagement.sku",
            ),
            (
                "wafPolicy: tradewindprodwaf",
                "wafPolicy: waf-prod",
                "spec.frontDoor.wafPolicy",
            ),
            (
                "rateLimitPerMinute: 1200",
                "rateLimitPerMinute: 5",
                "spec.frontDoor.rateLimitPerMinute",
            ),
            (
                "disasterRecovery: {}",
                "disasterRecovery: {secondaryLocation: westeurope}",
                "spec.disasterRecovery.secondaryLocation",
            ),
            (
                "disasterRecovery: {}",
                "disasterRecovery: {secondaryLocation: atlantis}",
                "spec.disasterRecovery.secondaryLocation",
            ),
            (
                "sku: Standard_GZRS",
                "sku: Standard_ZRS",
                "spec.storage.sku",
            ),
            ("amount: 25000", "amount: 0", "spec.budget.amount"),
            (
                "startDate: \"2026-12-01\"",
                "startDate: \"2026-12-15\"",
                "spec.budget.startDate",
            ),
            (
                "thresholds: [50, 80, 100]",
                "thresholds: [50, 50]",
                "spec.budget.thresholds[1]",
            ),
            (
                "thresholds: [50, 80, 100]",
                "thresholds: [10, 20, 30, 40, 50]",
                "spec.budget.thresholds",
            ),
            (
                "finance@tradewind.example]",
                "finance]",
                "spec.budget.contactEmails[1]",
            ),
            (
                "shortName: tw-prod",
                "shortName: tradewind-production",
                "spec.alerts.shortName",
            ),
            (
                "feedLagSeconds: 15",
                "feedLagSeconds: 0",
                "spec.alerts.feedLagSeconds",
            ),
            ("ttlDays: 30", "ttlDays: 0", "spec.marketData.ttlDays"),
            (
                "partitionKeyPaths: [/symbol, /day]",
                "partitionKeyPaths: [symbol]",
                "spec.marketData.partitionKeyPaths[0]",
            ),
            (
                "archiveContainer: market-archive",
                "archiveContainer: reports",
                "spec.marketData.archiveContainer",
            ),
            (
                "    platform:\n      name: tradewind-prod-platform",
                "    platform:\n      name: tradewind-prod-operator",
                "spec.identities.platform.name",
            ),
            (
                "    collector:\n      name: tradewind-prod-collector",
                "    collector:\n      name: tradewind-prod-feed",
                "spec.identities.collector.name",
            ),
            (
                "    feed:\n      name: tradewind-prod-feed",
                "    feed:\n      name: tradewind-prod-platform",
                "spec.identities.feed.name",
            ),
        ] {
            let err = refused(from, to);
            assert!(
                err.starts_with(&format!("prod.yaml: {path}: ")),
                "{from:?} → {to:?}: {err}"
            );
        }
        // Unknown fields in the new sections name their path too.
        let err = refused("ddosProtection: true", "ddosProtecion: true");
        assert!(
            err.starts_with("prod.yaml: spec.network.ddosProtecion: unknown field"),
            "{err}"
        );
        let err = refused("wafMode: Prevention", "wafMode: Block");
        assert!(
            err.starts_with("prod.yaml: spec.frontDoor.wafMode: "),
            "{err}"
        );
        // Without the platform identity PostgreSQL has no one to sign in as.
        let no_platform = prod.replace(
            "    platform:\n      name: tradewind-prod-platform\n      serviceAccounts:\n        - {namespace: tradewind-system, name: tradewind-platform}\n",
            "",
        );
        let err = Environment::parse("prod.yaml", &no_platform)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("prod.yaml: spec.identities.platform: "),
            "{err}"
        );
        // The feed's identity may write market data only: none without spec.marketData.
        let start = prod.find("  marketData:\n").unwrap();
        let end = prod.find("  postgres:\n").unwrap();
        let no_market_data = format!("{}{}", &prod[..start], &prod[end..]);
        let err = Environment::parse("prod.yaml", &no_market_data)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("prod.yaml: spec.identities.feed: "),
            "{err}"
        );
        // The collector's identity reads the connection string only: none without
        // Application Insights.
        let no_app_insights = prod.replace("    applicationInsights: tradewind-prod-ai\n", "");
        let err = Environment::parse("prod.yaml", &no_app_insights)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("prod.yaml: spec.identities.collector: "),
            "{err}"
        );
        // Alerts need the workspace.
        let dev = example("dev");
        let start = dev.find("  monitoring:").unwrap();
        let end = dev.find("  identities:").unwrap();
        let no_monitoring = format!("{}{}", &dev[..start], &dev[end..]);
        let err = Environment::parse("dev.yaml", &no_monitoring)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("dev.yaml: spec.alerts: "), "{err}");
    }

    #[test]
    fn openapi_file_is_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("twctl-openapi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = example("dev").replace(
            "url: https://platform.dev.tradewind.example/api/v1/openapi.json",
            "file: openapi.json",
        );
        std::fs::write(dir.join("env.yaml"), &spec).unwrap();
        let err = Environment::load(&dir.join("env.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.apiManagement.openApi.file: "), "{err}");
        std::fs::write(dir.join("openapi.json"), "{\"swagger\": \"2.0\"}").unwrap();
        let err = Environment::load(&dir.join("env.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an OpenAPI 3 document"), "{err}");
        let doc = r#"{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}"#;
        std::fs::write(dir.join("openapi.json"), doc).unwrap();
        let env = Environment::load(&dir.join("env.yaml")).unwrap();
        let apim = env.spec.api_management.as_ref().unwrap();
        assert_eq!(apim.open_api.document.as_deref(), Some(doc));
        let both = spec.replace(
            "file: openapi.json",
            "file: openapi.json\n      url: https://x.example/o.json",
        );
        let err = Environment::parse("dev.yaml", &both)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("dev.yaml: spec.apiManagement.openApi: "),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn guids() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(!is_guid("72f988bf-86f1-41af-91ab-2d7cd011db4"));
    }
}
