//! The ledger's database: Azure Database for PostgreSQL – Flexible Server, signed in to
//! with Microsoft Entra ID only (no password exists).

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError, is_guid};

/// Compute tier of the server.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum PostgresTier {
    /// B-series, cheap; no high availability.
    Burstable,
    /// D-series.
    GeneralPurpose,
    /// E-series.
    MemoryOptimized,
}

impl PostgresTier {
    /// As ARM spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Burstable => "Burstable",
            Self::GeneralPurpose => "GeneralPurpose",
            Self::MemoryOptimized => "MemoryOptimized",
        }
    }
}

/// High-availability mode.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum HighAvailability {
    /// One server.
    #[default]
    Disabled,
    /// A standby in the same zone.
    SameZone,
    /// A standby in another zone of the region.
    ZoneRedundant,
}

impl HighAvailability {
    /// As ARM spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "Disabled",
            Self::SameZone => "SameZone",
            Self::ZoneRedundant => "ZoneRedundant",
        }
    }
}

/// Kind of Entra principal.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum PrincipalType {
    /// A user.
    User,
    /// A group (its members sign in as administrators).
    Group,
    /// An application or managed identity.
    ServicePrincipal,
}

/// An extra Entra administrator of the server (a person or a DBA group).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EntraAdministrator {
    /// Object ID (GUID) of the principal.
    pub object_id: String,
    /// Its name as PostgreSQL shows it (user principal name, group or app name).
    pub principal_name: String,
    /// User, Group or ServicePrincipal.
    pub principal_type: PrincipalType,
}

/// `spec.postgres`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostgresSpec {
    /// Server name (3–63 lower-case letters, digits, hyphens; globally unique).
    pub server: String,
    /// PostgreSQL major version (13–17, default 16).
    #[serde(default = "sixteen")]
    pub version: String,
    /// Compute SKU, e.g. `Standard_B1ms`, `Standard_D4ds_v5`.
    pub sku: String,
    /// Tier of that SKU.
    pub tier: PostgresTier,
    /// Storage in GiB: one of the sizes Azure offers (32 … 32767).
    #[serde(default = "thirty_two")]
    pub storage_size_gb: u32,
    /// The ledger's database (default `ledger`).
    #[serde(default = "ledger")]
    pub database: String,
    /// Days of backups kept for point-in-time restore (7–35, default 7).
    #[serde(default = "seven")]
    pub backup_retention_days: u32,
    /// Backups copied to the paired region (set at creation only).
    #[serde(default)]
    pub geo_redundant_backup: bool,
    /// `Disabled`, `SameZone` or `ZoneRedundant`.
    #[serde(default)]
    pub high_availability: HighAvailability,
    /// Entra administrators besides the platform's identity.
    #[serde(default)]
    pub administrators: Vec<EntraAdministrator>,
}

fn sixteen() -> String {
    "16".into()
}
fn thirty_two() -> u32 {
    32
}
fn ledger() -> String {
    "ledger".into()
}
fn seven() -> u32 {
    7
}

/// Storage sizes (GiB) Flexible Server offers.
pub const STORAGE_SIZES_GB: &[u32] = &[32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767];

impl PostgresSpec {
    /// Names, version, sizes and what the tier allows.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.postgres.server", Kind::PostgresServer, &self.server)?;
        c.name(
            "spec.postgres.database",
            Kind::PostgresDatabase,
            &self.database,
        )?;
        if !["13", "14", "15", "16", "17"].contains(&self.version.as_str()) {
            return Err(c.invalid(
                "spec.postgres.version",
                format!(
                    "{:?} is not a supported major version (13-17)",
                    self.version
                ),
            ));
        }
        if !self.sku.starts_with("Standard_") || self.sku.len() < 11 {
            return Err(c.invalid(
                "spec.postgres.sku",
                format!(
                    "{:?} is not a Flexible Server SKU (e.g. Standard_B1ms, Standard_D4ds_v5)",
                    self.sku
                ),
            ));
        }
        if !STORAGE_SIZES_GB.contains(&self.storage_size_gb) {
            return Err(c.invalid(
                "spec.postgres.storageSizeGb",
                format!(
                    "{} is not a size Azure offers ({STORAGE_SIZES_GB:?})",
                    self.storage_size_gb
                ),
            ));
        }
        c.within(
            "spec.postgres.backupRetentionDays",
            self.backup_retention_days,
            7..=35,
        )?;
        if self.tier == PostgresTier::Burstable
            && self.high_availability != HighAvailability::Disabled
        {
            return Err(c.invalid(
                "spec.postgres.highAvailability",
                "the Burstable tier has no high availability (use GeneralPurpose)",
            ));
        }
        for (i, a) in self.administrators.iter().enumerate() {
            if !is_guid(&a.object_id) {
                return Err(c.invalid(
                    &format!("spec.postgres.administrators[{i}].objectId"),
                    format!("{:?} is not a GUID", a.object_id),
                ));
            }
            if a.principal_name.trim().is_empty() {
                return Err(c.invalid(
                    &format!("spec.postgres.administrators[{i}].principalName"),
                    "must not be empty",
                ));
            }
        }
        c.unique(
            "spec.postgres.administrators",
            self.administrators.iter().map(|a| a.object_id.as_str()),
        )
    }
}
