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
    b.lock_down(&mut props);
    if c.serverless {
        props["capabilities"] = json!([{"name": "EnableServerless"}]);
    }
    let secondary = s
        .disaster_recovery
        .as_ref()
        .and_then(|dr| dr.secondary(&s.location));
    if let Some(second) = &secondary {
        props["locations"]
            .as_array_mut()
            .expect("locations is an array")
            .push(json!({"locationName": second, "failoverPriority": 1, "isZoneRedundant": false}));
        // Service-managed failover: Cosmos DB promotes the secondary on a regional outage.
        props["enableAutomaticFailover"] = json!(true);
    }
    let mut account = b.top(
        &b.ids.cosmos,
        ResourceKind::CosmosAccount,
        json!({"kind": "GlobalDocumentDB", "properties": props}),
    );
    if secondary.is_some() {
        // `twctl env failover` swaps priorities through failoverPriorityChange; apply keeps
        // what ARM holds instead of swapping back.
        account.ignore = vec!["/properties/locations/*/failoverPriority".into()];
    }
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
        name_from: None,
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
    b.lock_down(&mut vault);
    if b.private() {
        vault["networkAcls"] = json!({"defaultAction": "Deny", "bypass": "AzureServices"});
    }
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
    let mut props = json!({"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false, "supportsHttpsTrafficOnly": true});
    b.lock_down(&mut props);
    let account = b.top(
        id,
        ResourceKind::StorageAccount,
        json!({"sku": {"name": st.sku}, "kind": "StorageV2", "properties": props}),
    );
    let containers = st.containers.iter().map(|c| Resource {
        id: id.child("blobServices", "default").child("containers", c),
        kind: ResourceKind::BlobContainer,
        depends_on: vec![id.clone()],
        desired: json!({"properties": {"publicAccess": "None"}}),
        ignore: vec![],
        name_from: None,
    });
    std::iter::once(account).chain(containers).collect()
}

/// The market-data container (hierarchical partition key, TTL) in the environment's
/// database, and the archive's blob container.
pub(super) fn market_data(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let Some(md) = &s.market_data else {
        return vec![];
    };
    let db = b.ids.cosmos.child("sqlDatabases", &s.cosmos.database);
    let partition_key = if md.partition_key_paths.len() == 1 {
        json!({"paths": md.partition_key_paths, "kind": "Hash", "version": 2})
    } else {
        json!({"paths": md.partition_key_paths, "kind": "MultiHash", "version": 2})
    };
    let container = Resource {
        id: db.child("containers", &md.container),
        kind: ResourceKind::CosmosContainer,
        depends_on: vec![db.clone()],
        desired: json!({"properties": {"resource": {
            "id": md.container,
            "partitionKey": partition_key,
            "defaultTtl": u64::from(md.ttl_days) * 86_400,
        }, "options": {}}}),
        ignore: vec!["/properties/options".into()],
        name_from: None,
    };
    let mut out = vec![container];
    if let Some(st) = &b.ids.storage {
        out.push(Resource {
            id: st
                .child("blobServices", "default")
                .child("containers", &md.archive_container),
            kind: ResourceKind::BlobContainer,
            depends_on: vec![st.clone()],
            desired: json!({"properties": {"publicAccess": "None"}}),
            ignore: vec![],
            name_from: None,
        });
    }
    out
}
