//! Access: the role assignments saying who may do what, each on the narrowest scope.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tradewind_azure::arm::ResourceId;

use super::{Builder, Resource, ResourceKind, reference};

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
    /// Create and delete user-assigned identities and their federated credentials
    /// (scoped to the resource group: the operator gives each bot its own identity).
    pub const MANAGED_IDENTITY_CONTRIBUTOR: (&str, &str) = (
        "Managed Identity Contributor",
        "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59",
    );
    /// Assign roles, here only under [`super::BOT_ROLE_CONDITION`] (the three data roles a
    /// bot's identity gets on its own secret and topic).
    pub const RBAC_ADMINISTRATOR: (&str, &str) = (
        "Role Based Access Control Administrator",
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
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

/// Every role assignment the environment needs.
pub(super) fn role_assignments(b: &Builder) -> Vec<Resource> {
    let mut out = Vec::new();
    let principal_id = |identity: &ResourceId| reference(identity, "/properties/principalId");
    let mut grants: Vec<(ResourceId, (&str, &str), ResourceId, Value)> = vec![
        (
            b.ids.acr.clone(),
            roles::ACR_PULL,
            b.ids.aks.clone(),
            reference(
                &b.ids.aks,
                "/properties/identityProfile/kubeletidentity/objectId",
            ),
        ),
        (
            b.ids.key_vault.clone(),
            roles::KEY_VAULT_SECRETS_OFFICER,
            b.ids.operator_identity.clone(),
            principal_id(&b.ids.operator_identity),
        ),
        (
            b.ids.cosmos.clone(),
            roles::DOCUMENTDB_ACCOUNT_CONTRIBUTOR,
            b.ids.operator_identity.clone(),
            principal_id(&b.ids.operator_identity),
        ),
        (
            b.ids.service_bus.clone(),
            roles::CONTRIBUTOR,
            b.ids.operator_identity.clone(),
            principal_id(&b.ids.operator_identity),
        ),
        (
            b.ids.resource_group.clone(),
            roles::MANAGED_IDENTITY_CONTRIBUTOR,
            b.ids.operator_identity.clone(),
            principal_id(&b.ids.operator_identity),
        ),
    ];
    if let Some(platform) = &b.ids.platform_identity {
        // The platform reads the Application Insights connection string from the vault.
        grants.push((
            b.ids.key_vault.clone(),
            roles::KEY_VAULT_SECRETS_USER,
            platform.clone(),
            principal_id(platform),
        ));
    }
    if let (Some(feed), Some(archive)) = (&b.ids.feed_identity, archive_container(b)) {
        // The feeds write the daily archives: that container only, not the account.
        grants.push((
            archive,
            roles::STORAGE_BLOB_DATA_CONTRIBUTOR,
            feed.clone(),
            principal_id(feed),
        ));
    }
    if let (Some(collector), Some(_)) = (&b.ids.collector_identity, &b.ids.app_insights) {
        // The collector reads the Application Insights connection string: that secret
        // only (a secret-scoped assignment), not the vault's other secrets.
        grants.push((
            b.ids
                .key_vault
                .child("secrets", super::operations::APP_INSIGHTS_SECRET),
            roles::KEY_VAULT_SECRETS_USER,
            collector.clone(),
            principal_id(collector),
        ));
    }
    let conditional = [b.ids.key_vault.clone(), b.ids.service_bus.clone()]
        .into_iter()
        .map(|scope| {
            (
                scope,
                roles::RBAC_ADMINISTRATOR,
                b.ids.operator_identity.clone(),
                principal_id(&b.ids.operator_identity),
            )
        });
    for (scope, (_, role), principal_owner, principal) in grants.into_iter().chain(conditional) {
        let name = role_assignment_name(&scope, role, principal_owner.as_str());
        let mut properties = json!({
            "roleDefinitionId": format!(
                "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                b.spec().subscription_id
            ),
            "principalId": principal,
            "principalType": "ServicePrincipal",
        });
        if role == roles::RBAC_ADMINISTRATOR.1 {
            properties["condition"] = json!(BOT_ROLE_CONDITION);
            properties["conditionVersion"] = json!("2.0");
        }
        out.push(Resource {
            id: scope.provider("Microsoft.Authorization", "roleAssignments", &name),
            kind: ResourceKind::RoleAssignment,
            depends_on: vec![scope.clone(), principal_owner.clone()],
            desired: json!({ "properties": properties }),
            ignore: vec![],
            name_from: None,
        });
    }
    out.extend(cosmos_data_access(b));
    out.extend(feed_cosmos_access(b));
    out
}

/// The market-data archive's blob container, when the environment has one.
fn archive_container(b: &Builder) -> Option<ResourceId> {
    let md = b.spec().market_data.as_ref()?;
    Some(
        b.ids
            .storage
            .as_ref()?
            .child("blobServices", "default")
            .child("containers", &md.archive_container),
    )
}

/// Cosmos DB data-plane access for the feeds' identity: the built-in data contributor
/// on the market-data container only (`dbs/{db}/colls/{container}`), so a feed writes
/// bars, tickers and book snapshots there and nowhere else (not the bots' containers).
fn feed_cosmos_access(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let (Some(identity), Some(md)) = (&b.ids.feed_identity, &s.market_data) else {
        return vec![];
    };
    let container = b
        .ids
        .cosmos
        .child("sqlDatabases", &s.cosmos.database)
        .child("containers", &md.container);
    let scope = format!(
        "{}/dbs/{}/colls/{}",
        b.ids.cosmos.as_str(),
        s.cosmos.database,
        md.container
    );
    let name = role_assignment_name(&container, COSMOS_DATA_CONTRIBUTOR, identity.as_str());
    vec![Resource {
        id: b.ids.cosmos.child("sqlRoleAssignments", &name),
        kind: ResourceKind::CosmosSqlRoleAssignment,
        depends_on: vec![container, identity.clone()],
        desired: json!({"properties": {
            "roleDefinitionId": format!(
                "{}/sqlRoleDefinitions/{COSMOS_DATA_CONTRIBUTOR}",
                b.ids.cosmos.as_str()
            ),
            "scope": scope,
            "principalId": reference(identity, "/properties/principalId"),
        }}),
        ignore: vec![],
        name_from: None,
    }]
}

/// The condition on the operator's role-assignment rights: it may assign (and remove)
/// only Key Vault Secrets User and Service Bus Data Sender/Receiver, only to service
/// principals — what each bot's own identity gets on its own secret and topic. With Owner
/// or User Access Administrator a compromised operator could grant itself any role.
pub const BOT_ROLE_CONDITION: &str = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {4633458b-17de-408a-b874-0445c86b69e6, 69a216fc-b8fb-44d8-bc22-1f3c2cd27a39, 4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {4633458b-17de-408a-b874-0445c86b69e6, 69a216fc-b8fb-44d8-bc22-1f3c2cd27a39, 4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0}))";

/// Cosmos DB's built-in data contributor role (data plane: read and write items).
pub const COSMOS_DATA_CONTRIBUTOR: &str = "00000000-0000-0000-0000-000000000002";

/// Cosmos DB data-plane access for the platform (when it has an identity): a SQL role
/// assignment scoped to the environment's database, so it reads and writes items (the
/// market-data container included) with Entra tokens, not keys. A bot's own identity gets
/// its data access from the operator, on its own container only.
fn cosmos_data_access(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let scope = format!("{}/dbs/{}", b.ids.cosmos.as_str(), s.cosmos.database);
    let database = b.ids.cosmos.child("sqlDatabases", &s.cosmos.database);
    b.ids
        .platform_identity
        .iter()
        .map(|identity| {
            let name = role_assignment_name(&database, COSMOS_DATA_CONTRIBUTOR, identity.as_str());
            Resource {
                id: b.ids.cosmos.child("sqlRoleAssignments", &name),
                kind: ResourceKind::CosmosSqlRoleAssignment,
                depends_on: vec![database.clone(), identity.clone()],
                desired: json!({"properties": {
                    "roleDefinitionId": format!(
                        "{}/sqlRoleDefinitions/{COSMOS_DATA_CONTRIBUTOR}",
                        b.ids.cosmos.as_str()
                    ),
                    "scope": scope,
                    "principalId": reference(identity, "/properties/principalId"),
                }}),
                ignore: vec![],
                name_from: None,
            }
        })
        .collect()
}
