//! The resource model: an environment spec becomes a list of [`Resource`]s, each with its
//! ID, what it depends on, and the body we want ARM to hold for the pinned api-version.
//! Values known only once another resource exists (the AKS OIDC issuer, an identity's
//! principal ID) are [`reference`] placeholders, resolved by [`resolve`] from the
//! dependency's live body at apply time. Everything here is pure.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::spec::{AcrSku, AksTier, Consistency, Environment, PoolMode, VaultSku};
use crate::arm::ResourceId;

/// What kind of Azure resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum ResourceKind {
    /// Resource group.
    ResourceGroup,
    /// User-assigned managed identity.
    UserAssignedIdentity,
    /// Log Analytics workspace.
    LogAnalyticsWorkspace,
    /// Application Insights component.
    ApplicationInsights,
    /// Container registry.
    ContainerRegistry,
    /// AKS managed cluster.
    ManagedCluster,
    /// Cosmos DB account.
    CosmosAccount,
    /// Cosmos DB SQL database.
    CosmosDatabase,
    /// Key Vault.
    KeyVault,
    /// Service Bus namespace.
    ServiceBusNamespace,
    /// Event Hubs namespace.
    EventHubsNamespace,
    /// Storage account.
    StorageAccount,
    /// Blob container.
    BlobContainer,
    /// Federated identity credential.
    FederatedCredential,
    /// Azure RBAC role assignment.
    RoleAssignment,
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// One resource of the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Its ID (also its PUT path).
    pub id: ResourceId,
    /// Kind.
    pub kind: ResourceKind,
    /// Resources that must exist first.
    pub depends_on: Vec<ResourceId>,
    /// The body we PUT; may hold [`reference`] placeholders.
    pub desired: Value,
    /// JSON pointers (`*` matches any array index) the diff skips: write-only fields ARM
    /// does not return, or fields something else owns (the autoscaler's node count).
    pub ignore: Vec<String>,
}

impl Resource {
    /// A short label: `Kind name`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.id.name())
    }
}

const REF_KEY: &str = "$twRef";

/// A placeholder for a value read from another resource's live body:
/// `{"$twRef": {"id": ..., "pointer": ...}}`.
pub fn reference(id: &ResourceId, pointer: &str) -> Value {
    json!({ REF_KEY: { "id": id.as_str(), "pointer": pointer } })
}

/// A reference that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer} of {id} is not known (the resource does not exist yet or has no such field)")]
pub struct Unresolved {
    /// The resource read from.
    pub id: String,
    /// JSON pointer into its body.
    pub pointer: String,
}

fn as_ref(v: &Value) -> Option<(&str, &str)> {
    let r = v.as_object()?.get(REF_KEY)?;
    Some((r.get("id")?.as_str()?, r.get("pointer")?.as_str()?))
}

/// Replaces every placeholder in `desired` with the value at its pointer in the live body
/// `lookup` gives for its ID.
pub fn resolve<'a>(
    desired: &Value,
    lookup: &impl Fn(&ResourceId) -> Option<&'a Value>,
) -> Result<Value, Unresolved> {
    if let Some((id, pointer)) = as_ref(desired) {
        let rid = ResourceId::parse(id).map_err(|_| Unresolved {
            id: id.to_string(),
            pointer: pointer.to_string(),
        })?;
        return lookup(&rid)
            .and_then(|body| body.pointer(pointer))
            .filter(|v| !v.is_null())
            .cloned()
            .ok_or_else(|| Unresolved {
                id: id.to_string(),
                pointer: pointer.to_string(),
            });
    }
    Ok(match desired {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), resolve(v, lookup)?);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| resolve(v, lookup))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// Replaces unresolvable placeholders with `"(known after apply)"`, for display.
pub fn resolve_for_display<'a>(
    desired: &Value,
    lookup: &impl Fn(&ResourceId) -> Option<&'a Value>,
) -> Value {
    if as_ref(desired).is_some() {
        return resolve(desired, lookup)
            .unwrap_or_else(|_| Value::String(KNOWN_AFTER_APPLY.into()));
    }
    match desired {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), resolve_for_display(v, lookup)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve_for_display(v, lookup)).collect()),
        other => other.clone(),
    }
}

/// Shown for a value that exists only once a dependency does.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// Built-in Azure role definitions we assign (GUIDs are the same in every cloud).
pub mod roles {
    /// Pull images from a registry.
    pub const ACR_PULL: (&str, &str) = ("AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d");
    /// Read secret contents.
    pub const KEY_VAULT_SECRETS_USER: (&str, &str) = (
        "Key Vault Secrets User",
        "4633458b-17de-408a-b874-0445c86b69e6",
    );
    /// Manage secrets.
    pub const KEY_VAULT_SECRETS_OFFICER: (&str, &str) = (
        "Key Vault Secrets Officer",
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    );
    /// Manage a Cosmos account's databases and containers through ARM.
    pub const DOCUMENTDB_ACCOUNT_CONTRIBUTOR: (&str, &str) = (
        "DocumentDB Account Contributor",
        "5bd9cd88-fe45-4216-938b-f97437e15450",
    );
    /// Send to Service Bus entities.
    pub const SERVICE_BUS_DATA_SENDER: (&str, &str) = (
        "Azure Service Bus Data Sender",
        "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
    );
    /// Receive from Service Bus entities.
    pub const SERVICE_BUS_DATA_RECEIVER: (&str, &str) = (
        "Azure Service Bus Data Receiver",
        "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
    );
    /// Manage a resource (scoped to the Service Bus namespace, so the operator can create
    /// per-bot topics and subscriptions through ARM).
    pub const CONTRIBUTOR: (&str, &str) = ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c");
    /// Manage an identity's federated credentials (scoped to the worker identity, so the
    /// operator can federate each bot's ServiceAccount with it).
    pub const MANAGED_IDENTITY_CONTRIBUTOR: (&str, &str) = (
        "Managed Identity Contributor",
        "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
    );
    /// Read and write blobs.
    pub const STORAGE_BLOB_DATA_CONTRIBUTOR: (&str, &str) = (
        "Storage Blob Data Contributor",
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    );
    /// Receive from Event Hubs.
    pub const EVENT_HUBS_DATA_RECEIVER: (&str, &str) = (
        "Azure Event Hubs Data Receiver",
        "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
    );
}

/// A deterministic role-assignment name: a UUID (RFC 9562 version 8) from SHA-256 of
/// scope, role and principal, so a re-apply PUTs the same assignment instead of a second
/// one (ARM refuses duplicates under another name with 409 RoleAssignmentExists). The
/// principal is named by the resource it belongs to (known before it exists).
pub fn role_assignment_name(scope: &ResourceId, role_guid: &str, principal: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        scope.as_str().to_ascii_lowercase(),
        role_guid.to_string(),
        principal.to_ascii_lowercase(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// IDs of the environment's main resources, for outputs and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// Resource group.
    pub resource_group: ResourceId,
    /// AKS.
    pub aks: ResourceId,
    /// ACR.
    pub acr: ResourceId,
    /// Cosmos account.
    pub cosmos: ResourceId,
    /// Key Vault.
    pub key_vault: ResourceId,
    /// Service Bus namespace.
    pub service_bus: ResourceId,
    /// Event Hubs namespace.
    pub event_hubs: Option<ResourceId>,
    /// Storage account.
    pub storage: Option<ResourceId>,
    /// Log Analytics workspace.
    pub log_analytics: Option<ResourceId>,
    /// Application Insights.
    pub app_insights: Option<ResourceId>,
    /// Operator identity.
    pub operator_identity: ResourceId,
    /// Worker identity.
    pub worker_identity: ResourceId,
}

impl Ids {
    /// The IDs an environment's resources get.
    pub fn of(env: &Environment) -> Self {
        let s = &env.spec;
        let rg = ResourceId::resource_group(&s.subscription_id, &s.resource_group.name);
        let p = |ns: &str, t: &str, n: &str| rg.provider(ns, t, n);
        Self {
            aks: p("Microsoft.ContainerService", "managedClusters", &s.aks.name),
            acr: p("Microsoft.ContainerRegistry", "registries", &s.acr.name),
            cosmos: p(
                "Microsoft.DocumentDB",
                "databaseAccounts",
                &s.cosmos.account,
            ),
            key_vault: p("Microsoft.KeyVault", "vaults", &s.key_vault.name),
            service_bus: p(
                "Microsoft.ServiceBus",
                "namespaces",
                &s.service_bus.namespace,
            ),
            event_hubs: s
                .event_hubs
                .as_ref()
                .map(|e| p("Microsoft.EventHub", "namespaces", &e.namespace)),
            storage: s
                .storage
                .as_ref()
                .map(|st| p("Microsoft.Storage", "storageAccounts", &st.account)),
            log_analytics: s.monitoring.as_ref().map(|m| {
                p(
                    "Microsoft.OperationalInsights",
                    "workspaces",
                    &m.log_analytics,
                )
            }),
            app_insights: s
                .monitoring
                .as_ref()
                .and_then(|m| m.application_insights.as_ref())
                .map(|a| p("Microsoft.Insights", "components", a)),
            operator_identity: p(
                "Microsoft.ManagedIdentity",
                "userAssignedIdentities",
                &s.identities.operator.name,
            ),
            worker_identity: p(
                "Microsoft.ManagedIdentity",
                "userAssignedIdentities",
                &s.identities.worker.name,
            ),
            resource_group: rg,
        }
    }
}

/// The environment's resources, dependencies before dependents.
pub fn build(env: &Environment) -> Vec<Resource> {
    let s = &env.spec;
    let ids = Ids::of(env);
    let rg = ids.resource_group.clone();
    let mut tags: BTreeMap<String, String> = s.tags.clone();
    tags.insert(
        "tradewind.dev/environment".into(),
        env.metadata.name.clone(),
    );
    let tags = json!(tags);
    let location = s.location.clone();
    let tracked = |extra: Value| {
        let mut body = json!({"location": location, "tags": tags});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        body
    };
    let mut out = Vec::new();
    let top = |id: &ResourceId, kind, desired, ignore: Vec<String>| Resource {
        id: id.clone(),
        kind,
        depends_on: vec![rg.clone()],
        desired,
        ignore,
    };

    // A group the spec does not own is only read: its tags and location are not ours.
    out.push(Resource {
        id: rg.clone(),
        kind: ResourceKind::ResourceGroup,
        depends_on: vec![],
        desired: if s.resource_group.owned {
            json!({"location": s.location, "tags": tags})
        } else {
            json!({})
        },
        ignore: vec![],
    });

    // Identities first: they have no dependency but the group and others wait on them.
    for id in [&ids.operator_identity, &ids.worker_identity] {
        out.push(top(
            id,
            ResourceKind::UserAssignedIdentity,
            tracked(json!({})),
            vec![],
        ));
    }

    if let (Some(la), Some(m)) = (&ids.log_analytics, &s.monitoring) {
        out.push(top(
            la,
            ResourceKind::LogAnalyticsWorkspace,
            tracked(json!({"properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": m.retention_days}})),
            vec![],
        ));
        if let Some(ai) = &ids.app_insights {
            let mut r = top(
                ai,
                ResourceKind::ApplicationInsights,
                tracked(json!({
                    "kind": "web",
                    "properties": {"Application_Type": "web", "WorkspaceResourceId": la.as_str()}
                })),
                vec![],
            );
            r.depends_on.push(la.clone());
            out.push(r);
        }
    }

    out.push(top(
        &ids.acr,
        ResourceKind::ContainerRegistry,
        tracked(json!({
            "sku": {"name": match s.acr.sku { AcrSku::Basic => "Basic", AcrSku::Standard => "Standard", AcrSku::Premium => "Premium" }},
            "properties": {"adminUserEnabled": false}
        })),
        vec![],
    ));

    // AKS: OIDC issuer and workload identity always on; the autoscaler owns `count`.
    let mut ignore = Vec::new();
    let pools: Vec<Value> = s
        .aks
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
    out.push(top(
        &ids.aks,
        ResourceKind::ManagedCluster,
        tracked(json!({
            "sku": {"name": "Base", "tier": match s.aks.tier { AksTier::Free => "Free", AksTier::Standard => "Standard" }},
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "kubernetesVersion": s.aks.kubernetes_version,
                "dnsPrefix": s.aks.dns_prefix.clone().unwrap_or_else(|| s.aks.name.clone()),
                "enableRBAC": true,
                "agentPoolProfiles": pools,
                "oidcIssuerProfile": {"enabled": true},
                "securityProfile": {"workloadIdentity": {"enabled": true}},
            }
        })),
        ignore,
    ));

    let mut cosmos_props = json!({
        "databaseAccountOfferType": "Standard",
        "consistencyPolicy": {"defaultConsistencyLevel": match s.cosmos.consistency {
            Consistency::Eventual => "Eventual",
            Consistency::ConsistentPrefix => "ConsistentPrefix",
            Consistency::Session => "Session",
            Consistency::BoundedStaleness => "BoundedStaleness",
            Consistency::Strong => "Strong",
        }},
        "locations": [{"locationName": s.location, "failoverPriority": 0, "isZoneRedundant": s.cosmos.zone_redundant}],
    });
    if s.cosmos.serverless {
        cosmos_props["capabilities"] = json!([{"name": "EnableServerless"}]);
    }
    out.push(top(
        &ids.cosmos,
        ResourceKind::CosmosAccount,
        tracked(json!({"kind": "GlobalDocumentDB", "properties": cosmos_props})),
        vec![],
    ));
    let db_id = ids.cosmos.child("sqlDatabases", &s.cosmos.database);
    let mut db = json!({"properties": {"resource": {"id": s.cosmos.database}}});
    if let Some(max) = s.cosmos.autoscale_max_throughput {
        db["properties"]["options"] = json!({"autoscaleSettings": {"maxThroughput": max}});
    }
    out.push(Resource {
        id: db_id,
        kind: ResourceKind::CosmosDatabase,
        depends_on: vec![ids.cosmos.clone()],
        desired: db,
        // Throughput lives in a separate throughputSettings resource; GET does not echo it.
        ignore: vec!["/properties/options".into()],
    });

    let mut vault = json!({
        "tenantId": s.tenant_id,
        "sku": {"family": "A", "name": match s.key_vault.sku { VaultSku::Standard => "standard", VaultSku::Premium => "premium" }},
        "enableRbacAuthorization": s.key_vault.rbac_authorization,
        "enableSoftDelete": true,
        "softDeleteRetentionInDays": s.key_vault.soft_delete_retention_days,
        "accessPolicies": [],
    });
    // Purge protection cannot be switched off, and ARM refuses `false` once it is on.
    if s.key_vault.purge_protection {
        vault["enablePurgeProtection"] = json!(true);
    }
    out.push(top(
        &ids.key_vault,
        ResourceKind::KeyVault,
        tracked(json!({"properties": vault})),
        vec![],
    ));

    let mut sb_sku = json!({"name": s.service_bus.sku.name(), "tier": s.service_bus.sku.name()});
    if let Some(c) = s.service_bus.capacity {
        sb_sku["capacity"] = json!(c);
    }
    out.push(top(
        &ids.service_bus,
        ResourceKind::ServiceBusNamespace,
        tracked(json!({"sku": sb_sku, "properties": {"minimumTlsVersion": "1.2"}})),
        vec![],
    ));

    if let (Some(id), Some(eh)) = (&ids.event_hubs, &s.event_hubs) {
        out.push(top(
            id,
            ResourceKind::EventHubsNamespace,
            tracked(json!({
                "sku": {"name": eh.sku.name(), "tier": eh.sku.name(), "capacity": eh.capacity},
                "properties": {"minimumTlsVersion": "1.2"}
            })),
            vec![],
        ));
    }

    if let (Some(id), Some(st)) = (&ids.storage, &s.storage) {
        out.push(top(
            id,
            ResourceKind::StorageAccount,
            tracked(json!({
                "sku": {"name": st.sku},
                "kind": "StorageV2",
                "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false, "supportsHttpsTrafficOnly": true}
            })),
            vec![],
        ));
        for c in &st.containers {
            out.push(Resource {
                id: id.child("blobServices", "default").child("containers", c),
                kind: ResourceKind::BlobContainer,
                depends_on: vec![id.clone()],
                desired: json!({"properties": {"publicAccess": "None"}}),
                ignore: vec![],
            });
        }
    }

    // Federated credentials: the issuer is the cluster's, known once AKS exists.
    for (identity, spec) in [
        (&ids.operator_identity, &s.identities.operator),
        (&ids.worker_identity, &s.identities.worker),
    ] {
        for sa in &spec.service_accounts {
            out.push(Resource {
                id: identity.child("federatedIdentityCredentials", &sa.credential_name()),
                kind: ResourceKind::FederatedCredential,
                depends_on: vec![identity.clone(), ids.aks.clone()],
                desired: json!({"properties": {
                    "issuer": reference(&ids.aks, "/properties/oidcIssuerProfile/issuerURL"),
                    "subject": sa.subject(),
                    "audiences": ["api://AzureADTokenExchange"],
                }}),
                ignore: vec![],
            });
        }
    }

    // Role assignments: who may do what, each on the narrowest scope.
    let principal_id = |identity: &ResourceId| reference(identity, "/properties/principalId");
    let mut grants: Vec<(ResourceId, (&str, &str), ResourceId, Value)> = vec![
        (
            ids.acr.clone(),
            roles::ACR_PULL,
            ids.aks.clone(),
            reference(
                &ids.aks,
                "/properties/identityProfile/kubeletidentity/objectId",
            ),
        ),
        (
            ids.key_vault.clone(),
            roles::KEY_VAULT_SECRETS_OFFICER,
            ids.operator_identity.clone(),
            principal_id(&ids.operator_identity),
        ),
        (
            ids.key_vault.clone(),
            roles::KEY_VAULT_SECRETS_USER,
            ids.worker_identity.clone(),
            principal_id(&ids.worker_identity),
        ),
        (
            ids.cosmos.clone(),
            roles::DOCUMENTDB_ACCOUNT_CONTRIBUTOR,
            ids.operator_identity.clone(),
            principal_id(&ids.operator_identity),
        ),
        (
            ids.service_bus.clone(),
            roles::CONTRIBUTOR,
            ids.operator_identity.clone(),
            principal_id(&ids.operator_identity),
        ),
        (
            ids.worker_identity.clone(),
            roles::MANAGED_IDENTITY_CONTRIBUTOR,
            ids.operator_identity.clone(),
            principal_id(&ids.operator_identity),
        ),
        (
            ids.service_bus.clone(),
            roles::SERVICE_BUS_DATA_SENDER,
            ids.worker_identity.clone(),
            principal_id(&ids.worker_identity),
        ),
        (
            ids.service_bus.clone(),
            roles::SERVICE_BUS_DATA_RECEIVER,
            ids.worker_identity.clone(),
            principal_id(&ids.worker_identity),
        ),
    ];
    if let Some(st) = &ids.storage {
        grants.push((
            st.clone(),
            roles::STORAGE_BLOB_DATA_CONTRIBUTOR,
            ids.worker_identity.clone(),
            principal_id(&ids.worker_identity),
        ));
    }
    if let Some(eh) = &ids.event_hubs {
        grants.push((
            eh.clone(),
            roles::EVENT_HUBS_DATA_RECEIVER,
            ids.worker_identity.clone(),
            principal_id(&ids.worker_identity),
        ));
    }
    for (scope, (_, role), principal_owner, principal) in grants {
        let name = role_assignment_name(&scope, role, principal_owner.as_str());
        out.push(Resource {
            id: scope.provider("Microsoft.Authorization", "roleAssignments", &name),
            kind: ResourceKind::RoleAssignment,
            depends_on: vec![scope.clone(), principal_owner.clone()],
            desired: json!({"properties": {
                "roleDefinitionId": format!(
                    "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                    s.subscription_id
                ),
                "principalId": principal,
                "principalType": "ServicePrincipal",
            }}),
            ignore: vec![],
        });
    }
    out
}

/// A cycle or a dangling dependency (a bug in [`build`], never user input).
#[derive(Debug, thiserror::Error)]
#[error("resource graph: {0}")]
pub struct GraphError(String);

/// Kahn's algorithm, stable in input order: indices of `resources`, dependencies first.
pub fn topological_order(resources: &[Resource]) -> Result<Vec<usize>, GraphError> {
    let index: HashMap<&ResourceId, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (&r.id, i))
        .collect();
    let mut done = HashSet::new();
    let mut order = Vec::new();
    while order.len() < resources.len() {
        let before = order.len();
        for (i, r) in resources.iter().enumerate() {
            if done.contains(&i) {
                continue;
            }
            let mut ready = true;
            for d in &r.depends_on {
                let j = *index
                    .get(d)
                    .ok_or_else(|| GraphError(format!("{} depends on unknown {}", r.id, d)))?;
                ready &= done.contains(&j);
            }
            if ready {
                done.insert(i);
                order.push(i);
            }
        }
        if order.len() == before {
            return Err(GraphError("dependency cycle".into()));
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Environment {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        Environment::load(std::path::Path::new(&format!(
            "{dir}/../examples/environments/dev.yaml"
        )))
        .unwrap()
    }

    #[test]
    fn graph_is_ordered_and_every_type_is_pinned() {
        let resources = build(&dev());
        let order = topological_order(&resources).unwrap();
        assert_eq!(order.len(), resources.len());
        let pos: HashMap<_, _> = order
            .iter()
            .enumerate()
            .map(|(p, &i)| (&resources[i].id, p))
            .collect();
        for r in &resources {
            for d in &r.depends_on {
                assert!(pos[d] < pos[&r.id], "{} before {}", d, r.id);
            }
            assert!(
                crate::arm::api_versions::for_type(&r.id.resource_type()).is_some(),
                "{}",
                r.id.resource_type()
            );
        }
        let ids: HashSet<_> = resources
            .iter()
            .map(|r| r.id.as_str().to_ascii_lowercase())
            .collect();
        assert_eq!(ids.len(), resources.len(), "no duplicate IDs");
    }

    #[test]
    fn references_resolve_from_live_bodies() {
        let resources = build(&dev());
        let fic = resources
            .iter()
            .find(|r| r.kind == ResourceKind::FederatedCredential)
            .unwrap();
        let aks_id = Ids::of(&dev()).aks;
        let aks = json!({"properties": {"oidcIssuerProfile": {"issuerURL": "https://oidc/x/"}}});
        let got = resolve(&fic.desired, &|id: &ResourceId| {
            (id == &aks_id).then_some(&aks)
        })
        .unwrap();
        assert_eq!(got["properties"]["issuer"], "https://oidc/x/");
        let err = resolve(&fic.desired, &|_: &ResourceId| None).unwrap_err();
        assert_eq!(err.pointer, "/properties/oidcIssuerProfile/issuerURL");
        let shown = resolve_for_display(&fic.desired, &|_: &ResourceId| None);
        assert_eq!(shown["properties"]["issuer"], KNOWN_AFTER_APPLY);
    }

    #[test]
    fn role_assignment_names_are_stable_uuids() {
        let scope = ResourceId::resource_group("s", "g");
        let a = role_assignment_name(&scope, roles::ACR_PULL.1, "/x");
        assert_eq!(a, role_assignment_name(&scope, roles::ACR_PULL.1, "/X"));
        assert_ne!(
            a,
            role_assignment_name(&scope, roles::KEY_VAULT_SECRETS_USER.1, "/x")
        );
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
    }
}
