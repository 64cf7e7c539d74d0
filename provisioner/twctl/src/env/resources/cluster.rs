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
    let mut props = json!({"adminUserEnabled": false});
    if b.private() {
        props["publicNetworkAccess"] = json!("Disabled");
        // Trusted Azure services (ACR Tasks, Defender) still reach a private registry.
        props["networkRuleBypassOptions"] = json!("AzureServices");
    }
    b.top(
        &b.ids.acr,
        ResourceKind::ContainerRegistry,
        json!({"sku": {"name": sku}, "properties": props}),
    )
}

/// Geo-replicas of a Premium registry in the secondary region (disaster recovery).
pub(super) fn replication(b: &Builder) -> Option<Resource> {
    let s = b.spec();
    let secondary = s.disaster_recovery.as_ref()?.secondary(&s.location)?;
    if s.acr.sku != AcrSku::Premium {
        return None;
    }
    let mut r = b.top(
        &b.ids.acr.child("replications", &secondary),
        ResourceKind::RegistryReplication,
        json!({"properties": {"regionEndpointEnabled": true}}),
    );
    r.desired["location"] = json!(secondary);
    r.depends_on.push(b.ids.acr.clone());
    Some(r)
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
            if let Some(vnet) = &b.ids.vnet {
                pool["vnetSubnetID"] = json!(vnet.child("subnets", "aks").as_str());
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
    if b.ids.collector_identity.is_some() {
        // The Secrets Store CSI driver's Azure provider: the telemetry collector mounts the
        // Application Insights connection string from Key Vault as its own identity.
        r.desired["properties"]["addonProfiles"] = json!({
            "azureKeyvaultSecretsProvider": {
                "enabled": true,
                "config": {"enableSecretRotation": "true"},
            }
        });
    }
    if let Some(vnet) = &b.ids.vnet {
        // Azure CNI overlay: nodes in the AKS subnet, pods and services in ranges outside
        // the VNet (so they never collide with private endpoint addresses).
        r.desired["properties"]["networkProfile"] = json!({
            "networkPlugin": "azure",
            "networkPluginMode": "overlay",
            "podCidr": crate::env::spec::POD_CIDR,
            "serviceCidr": crate::env::spec::SERVICE_CIDR,
            "dnsServiceIP": "172.16.0.10",
        });
        r.depends_on.push(vnet.clone());
    }
    r.ignore = ignore;
    r
}
