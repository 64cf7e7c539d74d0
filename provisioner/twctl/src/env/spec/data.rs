//! The data family: Cosmos DB, Key Vault and the storage account.

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError, yes};

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

impl CosmosSpec {
    /// Names, and exactly one capacity mode.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.cosmos.account", Kind::CosmosAccount, &self.account)?;
        c.name("spec.cosmos.database", Kind::CosmosDatabase, &self.database)?;
        match (self.serverless, self.autoscale_max_throughput) {
            (true, Some(_)) => {
                return Err(c.invalid(
                    "spec.cosmos.autoscaleMaxThroughput",
                    "a serverless account has no provisioned throughput",
                ));
            }
            (false, None) => {
                return Err(c.invalid(
                    "spec.cosmos",
                    "set serverless: true or autoscaleMaxThroughput",
                ));
            }
            (false, Some(t)) if t < 1000 || t % 1000 != 0 => {
                return Err(c.invalid(
                    "spec.cosmos.autoscaleMaxThroughput",
                    format!("{t} must be a multiple of 1000, at least 1000"),
                ));
            }
            _ => {}
        }
        if self.serverless && self.zone_redundant {
            return Err(c.invalid(
                "spec.cosmos.zoneRedundant",
                "serverless accounts cannot be zone-redundant",
            ));
        }
        Ok(())
    }
}

impl KeyVaultSpec {
    /// Name, retention, and RBAC (the role assignments grant secret access).
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.keyVault.name", Kind::KeyVault, &self.name)?;
        c.within(
            "spec.keyVault.softDeleteRetentionDays",
            self.soft_delete_retention_days,
            7..=90,
        )?;
        if !self.rbac_authorization {
            return Err(c.invalid(
                "spec.keyVault.rbacAuthorization",
                "must be true: Tradewind grants secret access with Azure RBAC role assignments",
            ));
        }
        Ok(())
    }
}

impl StorageSpec {
    /// The account's and the containers' names.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.storage.account", Kind::StorageAccount, &self.account)?;
        for (i, container) in self.containers.iter().enumerate() {
            c.name(
                &format!("spec.storage.containers[{i}]"),
                Kind::BlobContainer,
                container,
            )?;
        }
        c.unique(
            "spec.storage.containers",
            self.containers.iter().map(String::as_str),
        )?;
        Ok(())
    }
}

/// `spec.marketData`: where the market-data feed keeps its data: a Cosmos DB container in
/// the environment's database (latest tickers, closed bars, order-book snapshots) and a
/// blob container of daily archives in the storage account.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MarketDataSpec {
    /// Cosmos DB container (default `market-data`).
    #[serde(default = "market_data")]
    pub container: String,
    /// Hierarchical partition key, 1–3 paths (default `/symbol`, `/day`: one logical
    /// partition per symbol and day, far below the 20 GB a logical partition holds).
    #[serde(default = "partition_paths")]
    pub partition_key_paths: Vec<String>,
    /// Days an item lives (the container's default TTL; default 30).
    #[serde(default = "thirty_days")]
    pub ttl_days: u32,
    /// Blob container of the daily archives (default `market-archive`).
    #[serde(default = "market_archive")]
    pub archive_container: String,
}

fn market_data() -> String {
    "market-data".into()
}
fn partition_paths() -> Vec<String> {
    vec!["/symbol".into(), "/day".into()]
}
fn thirty_days() -> u32 {
    30
}
fn market_archive() -> String {
    "market-archive".into()
}

impl MarketDataSpec {
    /// Names, key paths, TTL, and a storage account for the archive.
    pub(super) fn check(&self, c: &Check, storage: Option<&StorageSpec>) -> Result<(), SpecError> {
        c.name(
            "spec.marketData.container",
            Kind::CosmosContainer,
            &self.container,
        )?;
        if !(1..=3).contains(&self.partition_key_paths.len()) {
            return Err(c.invalid(
                "spec.marketData.partitionKeyPaths",
                "a hierarchical partition key has 1-3 paths",
            ));
        }
        for (i, p) in self.partition_key_paths.iter().enumerate() {
            if !p.starts_with('/') || p.len() < 2 {
                return Err(c.invalid(
                    &format!("spec.marketData.partitionKeyPaths[{i}]"),
                    format!("{p:?} must be a path such as /symbol"),
                ));
            }
        }
        c.unique(
            "spec.marketData.partitionKeyPaths",
            self.partition_key_paths.iter().map(String::as_str),
        )?;
        c.within("spec.marketData.ttlDays", self.ttl_days, 1..=3650)?;
        c.name(
            "spec.marketData.archiveContainer",
            Kind::BlobContainer,
            &self.archive_container,
        )?;
        let Some(st) = storage else {
            return Err(c.invalid(
                "spec.marketData.archiveContainer",
                "the archive lives in the storage account: set spec.storage",
            ));
        };
        if st.containers.contains(&self.archive_container) {
            return Err(c.invalid(
                "spec.marketData.archiveContainer",
                format!(
                    "{:?} is also in spec.storage.containers (name it once)",
                    self.archive_container
                ),
            ));
        }
        Ok(())
    }
}
