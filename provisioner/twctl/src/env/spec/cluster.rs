//! The cluster family: AKS and the container registry it pulls from.

use serde::{Deserialize, Serialize};
use tradewind_azure::names::Kind;

use super::{Check, SpecError, yes};

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

impl AksSpec {
    /// Name, node pools (one System pool; sizes) and the version's form.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.aks.name", Kind::ManagedCluster, &self.name)?;
        if self.node_pools.is_empty() {
            return Err(c.invalid("spec.aks.nodePools", "at least one pool is needed"));
        }
        if !self.node_pools.iter().any(|p| p.mode == PoolMode::System) {
            return Err(c.invalid("spec.aks.nodePools", "one pool must have mode System"));
        }
        for (i, p) in self.node_pools.iter().enumerate() {
            p.check(c, &format!("spec.aks.nodePools[{i}]"))?;
        }
        c.unique(
            "spec.aks.nodePools",
            self.node_pools.iter().map(|p| p.name.as_str()),
        )?;
        if !self
            .kubernetes_version
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(c.invalid(
                "spec.aks.kubernetesVersion",
                format!("{:?} is not a version like 1.33", self.kubernetes_version),
            ));
        }
        Ok(())
    }
}

impl NodePoolSpec {
    fn check(&self, c: &Check, path: &str) -> Result<(), SpecError> {
        let ok_name = (1..=12).contains(&self.name.len())
            && self.name.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !ok_name {
            return Err(c.invalid(
                &format!("{path}.name"),
                format!(
                    "{:?}: 1-12 lower-case letters and digits, starting with a letter",
                    self.name
                ),
            ));
        }
        if self.min_count == 0 && self.mode == PoolMode::System {
            return Err(c.invalid(
                &format!("{path}.minCount"),
                "a System pool needs at least 1 node",
            ));
        }
        if self.min_count > self.max_count || self.max_count > 1000 {
            return Err(c.invalid(
                &format!("{path}.maxCount"),
                format!(
                    "{} must be in minCount ({})..=1000",
                    self.max_count, self.min_count
                ),
            ));
        }
        Ok(())
    }
}

impl AcrSpec {
    /// The registry's name.
    pub(super) fn check(&self, c: &Check) -> Result<(), SpecError> {
        c.name("spec.acr.name", Kind::ContainerRegistry, &self.name)
    }
}
