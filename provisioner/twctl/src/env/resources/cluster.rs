//! The cluster family: the AKS cluster and the registry it pulls from.

use serde_json::{Value, json};

use super::{Builder, Resource, ResourceKind};
use crate::env::spec::{AcrSku, AksTier, PoolMode};

/// The registry; no admin user.
pub(super) fn registry(b: &Builder) -> Resource {
    let sku = match b.spec().acr.sku {
        AcrSku::Basic => "Basic",
        AcrSku::Standard => "Standard",
        AcrSku::Premium => "Premium",
    };
    b.top(
        &b.ids.acr,
        ResourceKind::ContainerRegistry,
        json!({"sku": {"name": sku}, "properties": {"adminUserEnabled": false}}),
    )
}

/// The cluster: OIDC issuer and workload identity always on; the autoscaler owns each
/// autoscaled pool's `count`.
pub(super) fn cluster(b: &Builder) -> Resource {
    let aks = &b.spec().aks;
    let mut ignore = Vec::new();
    let pools: Vec<Value> = aks
        .node_pools
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut pool = json!({
                "name": p.name,
                "mode": match p.mode { PoolMode::System => "System", PoolMode::User => "User" },
                "vmSize": p.vm_size,
                "count": p.min_count,
                "osType": "Linux",
                "type": "VirtualMachineScaleSets",
                "enableAutoScaling": p.autoscaling,
            });
            if p.autoscaling {
                pool["minCount"] = json!(p.min_count);
                pool["maxCount"] = json!(p.max_count);
                ignore.push(format!("/properties/agentPoolProfiles/{i}/count"));
            }
            if !p.zones.is_empty() {
                pool["availabilityZones"] = json!(p.zones);
            }
            pool
        })
        .collect();
    let tier = match aks.tier {
        AksTier::Free => "Free",
        AksTier::Standard => "Standard",
    };
    let mut r = b.top(
        &b.ids.aks,
        ResourceKind::ManagedCluster,
        json!({
            "sku": {"name": "Base", "tier": tier},
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "kubernetesVersion": aks.kubernetes_version,
                "dnsPrefix": aks.dns_prefix.clone().unwrap_or_else(|| aks.name.clone()),
                "enableRBAC": true,
                "agentPoolProfiles": pools,
                "oidcIssuerProfile": {"enabled": true},
                "securityProfile": {"workloadIdentity": {"enabled": true}},
            }
        }),
    );
    r.ignore = ignore;
    r
}
