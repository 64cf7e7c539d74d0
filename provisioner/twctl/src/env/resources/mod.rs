//! The resource model: an environment spec becomes a list of [`Resource`]s, each with its
//! ID, what it depends on, and the body we want ARM to hold for the pinned api-version.
//! Values known only once another resource exists (the AKS OIDC issuer, an identity's
//! principal ID) are [`reference`] placeholders, resolved by [`resolve`] from the
//! dependency's live body at apply time. Everything here is pure.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};
use tradewind_azure::arm::ResourceId;

use super::spec::{Environment, EnvironmentSpec};

mod access;
mod cluster;
mod data;
mod database;
mod edge;
mod identities;
mod messaging;
mod monitoring;
mod network;
mod operations;

pub use edge::{API_ID, policy_xml};
pub use monitoring::{ALERTS, AlertRule};
pub use operations::APP_INSIGHTS_SECRET;

pub use access::{role_assignment_name, roles};

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
    /// Cosmos DB SQL container.
    CosmosContainer,
    /// PostgreSQL flexible server.
    PostgresServer,
    /// A database in it.
    PostgresDatabase,
    /// An Entra administrator of it.
    PostgresAdministrator,
    /// A server firewall rule.
    PostgresFirewallRule,
    /// Virtual network (with its subnets).
    VirtualNetwork,
    /// Network security group.
    NetworkSecurityGroup,
    /// DDoS protection plan.
    DdosProtectionPlan,
    /// Private endpoint.
    PrivateEndpoint,
    /// Private DNS zone.
    PrivateDnsZone,
    /// Link of a private DNS zone to the VNet.
    PrivateDnsZoneLink,
    /// A private endpoint's DNS zone group (its A records).
    PrivateDnsZoneGroup,
    /// API Management service.
    ApiManagement,
    /// An API in it.
    ApiManagementApi,
    /// An API's policy.
    ApiManagementPolicy,
    /// A named value.
    ApiManagementNamedValue,
    /// Front Door profile.
    FrontDoorProfile,
    /// Front Door endpoint.
    FrontDoorEndpoint,
    /// Front Door origin group.
    FrontDoorOriginGroup,
    /// Front Door origin.
    FrontDoorOrigin,
    /// Front Door route.
    FrontDoorRoute,
    /// Front Door security policy (attaches the WAF policy).
    FrontDoorSecurityPolicy,
    /// Front Door WAF policy.
    WafPolicy,
    /// Cost budget.
    Budget,
    /// Monitor action group.
    ActionGroup,
    /// Log search alert rule.
    AlertRule,
    /// A Key Vault secret written through ARM.
    KeyVaultSecret,
    /// A registry geo-replica.
    RegistryReplication,
    /// A Cosmos DB data-plane (SQL) role assignment.
    CosmosSqlRoleAssignment,
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
    /// When the last segment of the ID is only known from a dependency's live body (a
    /// PostgreSQL administrator is named by the identity's object ID): a [`reference`];
    /// `id` then carries a placeholder name and [`Resource::concrete_id`] the real one.
    pub name_from: Option<Value>,
}

impl Resource {
    /// A short label: `Kind name`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.id.name())
    }

    /// The ID ARM knows the resource by: `id`, or with its name read through `name_from`.
    pub fn concrete_id<'a>(
        &self,
        lookup: &impl Fn(&ResourceId) -> Option<&'a Value>,
    ) -> Result<ResourceId, Unresolved> {
        let Some(from) = &self.name_from else {
            return Ok(self.id.clone());
        };
        let name = resolve(from, lookup)?;
        let unresolved = || Unresolved {
            id: self.id.to_string(),
            pointer: "(name)".into(),
        };
        let name = name.as_str().ok_or_else(unresolved)?;
        let kind = self
            .id
            .as_str()
            .rsplit('/')
            .nth(1)
            .ok_or_else(unresolved)?
            .to_string();
        let parent = self.id.parent().ok_or_else(unresolved)?;
        Ok(parent.child(&kind, name))
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
    /// Platform identity (the ledger's).
    pub platform_identity: Option<ResourceId>,
    /// PostgreSQL server.
    pub postgres: Option<ResourceId>,
    /// Virtual network.
    pub vnet: Option<ResourceId>,
    /// API Management.
    pub apim: Option<ResourceId>,
    /// Front Door profile.
    pub front_door: Option<ResourceId>,
    /// Action group.
    pub action_group: Option<ResourceId>,
    /// The market-data feeds' identity.
    pub feed_identity: Option<ResourceId>,
    /// The telemetry collector's identity.
    pub collector_identity: Option<ResourceId>,
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
            platform_identity: s.identities.platform.as_ref().map(|i| {
                p(
                    "Microsoft.ManagedIdentity",
                    "userAssignedIdentities",
                    &i.name,
                )
            }),
            postgres: s
                .postgres
                .as_ref()
                .map(|pg| p("Microsoft.DBforPostgreSQL", "flexibleServers", &pg.server)),
            vnet: s
                .network
                .as_ref()
                .map(|n| p("Microsoft.Network", "virtualNetworks", &n.vnet)),
            apim: s
                .api_management
                .as_ref()
                .map(|a| p("Microsoft.ApiManagement", "service", &a.name)),
            front_door: s
                .front_door
                .as_ref()
                .map(|f| p("Microsoft.Cdn", "profiles", &f.profile)),
            action_group: s
                .alerts
                .as_ref()
                .map(|a| p("Microsoft.Insights", "actionGroups", &a.action_group)),
            feed_identity: s.identities.feed.as_ref().map(|i| {
                p(
                    "Microsoft.ManagedIdentity",
                    "userAssignedIdentities",
                    &i.name,
                )
            }),
            collector_identity: s.identities.collector.as_ref().map(|i| {
                p(
                    "Microsoft.ManagedIdentity",
                    "userAssignedIdentities",
                    &i.name,
                )
            }),
            resource_group: rg,
        }
    }
}

/// What every family's builder shares: the spec, the IDs, and the tags and location
/// every tracked resource carries.
struct Builder<'a> {
    env: &'a Environment,
    ids: Ids,
    tags: Value,
}

impl<'a> Builder<'a> {
    fn new(env: &'a Environment) -> Self {
        let mut tags: BTreeMap<String, String> = env.spec.tags.clone();
        tags.insert(
            "tradewind.dev/environment".into(),
            env.metadata.name.clone(),
        );
        Self {
            env,
            ids: Ids::of(env),
            tags: json!(tags),
        }
    }

    /// The spec.
    fn spec(&self) -> &'a EnvironmentSpec {
        &self.env.spec
    }

    /// A tracked resource's body: location and tags, then `extra`'s fields.
    fn tracked(&self, extra: Value) -> Value {
        let mut body = json!({"location": self.spec().location, "tags": self.tags});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        body
    }

    /// A resource whose location is `global` (DNS zones, Front Door, action groups).
    fn global(&self, id: &ResourceId, kind: ResourceKind, extra: Value) -> Resource {
        let mut r = self.top(id, kind, extra);
        r.desired["location"] = json!("global");
        r
    }

    /// A child resource (no location or tags) depending on `parents`.
    fn child(
        &self,
        id: ResourceId,
        kind: ResourceKind,
        parents: &[&ResourceId],
        desired: Value,
    ) -> Resource {
        Resource {
            id,
            kind,
            depends_on: parents.iter().map(|p| (*p).clone()).collect(),
            desired,
            ignore: vec![],
            name_from: None,
        }
    }

    /// Whether the environment is private (`spec.network`).
    fn private(&self) -> bool {
        self.spec().network.is_some()
    }

    /// In a private environment, `publicNetworkAccess: Disabled` in `properties`; a public
    /// one leaves the service's default (enabled) alone.
    fn lock_down(&self, properties: &mut Value) {
        if self.private() {
            properties["publicNetworkAccess"] = json!("Disabled");
        }
    }

    /// A tracked resource directly in the group.
    fn top(&self, id: &ResourceId, kind: ResourceKind, extra: Value) -> Resource {
        Resource {
            id: id.clone(),
            kind,
            depends_on: vec![self.ids.resource_group.clone()],
            desired: self.tracked(extra),
            ignore: vec![],
            name_from: None,
        }
    }

    /// The group. One the spec does not own is only read: its tags and location are not
    /// ours.
    fn resource_group(&self) -> Resource {
        let s = self.spec();
        Resource {
            id: self.ids.resource_group.clone(),
            kind: ResourceKind::ResourceGroup,
            depends_on: vec![],
            desired: if s.resource_group.owned {
                json!({"location": s.location, "tags": self.tags})
            } else {
                json!({})
            },
            ignore: vec![],
            name_from: None,
        }
    }
}

/// The environment's resources, dependencies before dependents; each resource family
/// builds its own.
pub fn build(env: &Environment) -> Vec<Resource> {
    let b = Builder::new(env);
    let mut out = vec![b.resource_group()];
    // Identities first: they have no dependency but the group and others wait on them.
    out.extend(identities::identities(&b));
    out.extend(monitoring::resources(&b));
    out.extend(network::resources(&b));
    out.push(cluster::registry(&b));
    out.extend(cluster::replication(&b));
    out.push(cluster::cluster(&b));
    out.extend(data::cosmos(&b));
    out.push(data::key_vault(&b));
    out.push(messaging::service_bus(&b));
    out.extend(messaging::event_hubs(&b));
    out.extend(data::storage(&b));
    out.extend(data::market_data(&b));
    out.extend(database::postgres(&b));
    out.extend(network::private_endpoints(&b));
    out.extend(edge::api_management(&b));
    out.extend(edge::front_door(&b));
    out.extend(operations::resources(&b));
    out.extend(monitoring::alerts(&b));
    out.extend(identities::federated_credentials(&b));
    out.extend(access::role_assignments(&b));
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
            "{dir}/../../examples/environments/dev.yaml"
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
                tradewind_azure::arm::api_versions::for_type(&r.id.resource_type()).is_some(),
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
