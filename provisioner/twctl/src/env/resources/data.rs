//! The data family: the Cosmos DB account and database, the Key Vault, and the storage
//! account with its containers.

use serde_json::json;

use super::{Builder, Resource, ResourceKind};
use crate::env::spec::{Consistency, VaultSku};

/// The account and its SQL database.
pub(super) fn cosmos(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let c = &s.cosmos;
    let mut props = json!({
        "databaseAccountOfferType": "Standard",
        "consistencyPolicy": {"defaultConsistencyLevel": match c.consistency {
            Consistency::Eventual => "Eventual",
            Consistency::ConsistentPrefix => "ConsistentPrefix",
            Consistency::Session => "Session",
            Consistency::BoundedStaleness => "BoundedStaleness",
            Consistency::Strong => "Strong",
        }},
        "locations": [{"locationName": s.location, "failoverPriority": 0, "isZoneRedundant": c.zone_redundant}],
    });
    if c.serverless {
        props["capabilities"] = json!([{"name": "EnableServerless"}]);
    }
    let account = b.top(
        &b.ids.cosmos,
        ResourceKind::CosmosAccount,
        json!({"kind": "GlobalDocumentDB", "properties": props}),
    );
    let mut db = json!({"properties": {"resource": {"id": c.database}}});
    if let Some(max) = c.autoscale_max_throughput {
        db["properties"]["options"] = json!({"autoscaleSettings": {"maxThroughput": max}});
    }
    let database = Resource {
        id: b.ids.cosmos.child("sqlDatabases", &c.database),
        kind: ResourceKind::CosmosDatabase,
        depends_on: vec![b.ids.cosmos.clone()],
        desired: db,
        // Throughput lives in a separate throughputSettings resource; GET does not echo it.
        ignore: vec!["/properties/options".into()],
    };
    vec![account, database]
}

/// The vault, RBAC-authorised.
pub(super) fn key_vault(b: &Builder) -> Resource {
    let s = b.spec();
    let kv = &s.key_vault;
    let mut vault = json!({
        "tenantId": s.tenant_id,
        "sku": {"family": "A", "name": match kv.sku { VaultSku::Standard => "standard", VaultSku::Premium => "premium" }},
        "enableRbacAuthorization": kv.rbac_authorization,
        "enableSoftDelete": true,
        "softDeleteRetentionInDays": kv.soft_delete_retention_days,
        "accessPolicies": [],
    });
    // Purge protection cannot be switched off, and ARM refuses `false` once it is on.
    if kv.purge_protection {
        vault["enablePurgeProtection"] = json!(true);
    }
    b.top(
        &b.ids.key_vault,
        ResourceKind::KeyVault,
        json!({"properties": vault}),
    )
}

/// The storage account and its private containers, if the spec has storage.
pub(super) fn storage(b: &Builder) -> Vec<Resource> {
    let (Some(id), Some(st)) = (&b.ids.storage, &b.spec().storage) else {
        return vec![];
    };
    let account = b.top(
        id,
        ResourceKind::StorageAccount,
        json!({
            "sku": {"name": st.sku},
            "kind": "StorageV2",
            "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false, "supportsHttpsTrafficOnly": true}
        }),
    );
    let containers = st.containers.iter().map(|c| Resource {
        id: id.child("blobServices", "default").child("containers", c),
        kind: ResourceKind::BlobContainer,
        depends_on: vec![id.clone()],
        desired: json!({"properties": {"publicAccess": "None"}}),
        ignore: vec![],
    });
    std::iter::once(account).chain(containers).collect()
}
