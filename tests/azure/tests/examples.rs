//! Conformance: every copied REST example (tests/azure/fixtures) is replayed against the
//! fake; the status must be one the example lists, and every key of the example response
//! must be present with the same JSON type, except the keys listed here as not modelled.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::Arm;
use reqwest::Method;
use serde_json::{Value, json};
use tradewind_azure_fake::TestServer;

const RG: &str = "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}";

/// (fixture, method, path template, fixture whose request body seeds the resource first).
fn cases() -> Vec<(&'static str, &'static str, String, Option<&'static str>)> {
    let p = |s: &str| format!("{RG}/providers/{s}");
    let cosmos = p("Microsoft.DocumentDB/databaseAccounts/{accountName}");
    let db = format!("{cosmos}/sqlDatabases/{{databaseName}}");
    let coll = format!("{db}/containers/{{containerName}}");
    let ns = p("Microsoft.ServiceBus/namespaces/{namespaceName}");
    let topic = format!("{ns}/topics/{{topicName}}");
    let sub = format!("{topic}/subscriptions/{{subscriptionName}}");
    let vault = p("Microsoft.KeyVault/vaults/{vaultName}");
    let sa = p("Microsoft.Storage/storageAccounts/{accountName}");
    let acr = p("Microsoft.ContainerRegistry/registries/{registryName}");
    let aks = p("Microsoft.ContainerService/managedClusters/{resourceName}");
    let uai = p("Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}");
    let fic =
        format!("{uai}/federatedIdentityCredentials/{{federatedIdentityCredentialResourceName}}");
    // The SQL role assignment examples name the account `myAccountName`, which Cosmos DB
    // itself refuses (lower case only); its scope and role definition compare
    // case-insensitively, so the lower-case account stands in.
    let sql_ra = p(
        "Microsoft.DocumentDB/databaseAccounts/myaccountname/sqlRoleAssignments/{roleAssignmentId}",
    );
    let pg = p("Microsoft.DBforPostgreSQL/flexibleServers/{serverName}");
    vec![
        (
            "resources/2025-03-01/CreateResourceGroup.json",
            "PUT",
            RG.into(),
            None,
        ),
        (
            "resources/2025-04-01/ForceDeleteVMsInResourceGroup.json",
            "DELETE",
            RG.into(),
            Some("resources/2025-03-01/CreateResourceGroup.json"),
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBDatabaseAccountCreateMin.json",
            "PUT",
            cosmos.clone(),
            None,
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlDatabaseCreateUpdate.json",
            "PUT",
            db.clone(),
            None,
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlDatabaseGet.json",
            "GET",
            db.clone(),
            Some("cosmos-db/2025-04-15/CosmosDBSqlDatabaseCreateUpdate.json"),
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlDatabaseDelete.json",
            "DELETE",
            db.clone(),
            Some("cosmos-db/2025-04-15/CosmosDBSqlDatabaseCreateUpdate.json"),
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlContainerCreateUpdate.json",
            "PUT",
            coll.clone(),
            None,
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlContainerGet.json",
            "GET",
            coll.clone(),
            Some("cosmos-db/2025-04-15/CosmosDBSqlContainerCreateUpdate.json"),
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlContainerDelete.json",
            "DELETE",
            coll.clone(),
            Some("cosmos-db/2025-04-15/CosmosDBSqlContainerCreateUpdate.json"),
        ),
        (
            "servicebus/2024-01-01/SBNameSpaceCreate.json",
            "PUT",
            ns.clone(),
            None,
        ),
        (
            "servicebus/2024-01-01/SBNameSpaceGet.json",
            "GET",
            ns.clone(),
            Some("servicebus/2024-01-01/SBNameSpaceCreate.json"),
        ),
        (
            "servicebus/2024-01-01/SBNameSpaceDelete.json",
            "DELETE",
            ns.clone(),
            Some("servicebus/2024-01-01/SBNameSpaceCreate.json"),
        ),
        (
            "servicebus/2024-01-01/SBTopicCreate.json",
            "PUT",
            topic.clone(),
            None,
        ),
        (
            "servicebus/2024-01-01/SBTopicGet.json",
            "GET",
            topic.clone(),
            Some("servicebus/2024-01-01/SBTopicCreate.json"),
        ),
        (
            "servicebus/2024-01-01/SBTopicDelete.json",
            "DELETE",
            topic.clone(),
            Some("servicebus/2024-01-01/SBTopicCreate.json"),
        ),
        (
            "servicebus/2024-01-01/SBSubscriptionCreate.json",
            "PUT",
            sub.clone(),
            None,
        ),
        (
            "servicebus/2024-01-01/SBSubscriptionGet.json",
            "GET",
            sub.clone(),
            Some("servicebus/2024-01-01/SBSubscriptionCreate.json"),
        ),
        (
            "servicebus/2024-01-01/SBSubscriptionDelete.json",
            "DELETE",
            sub.clone(),
            Some("servicebus/2024-01-01/SBSubscriptionCreate.json"),
        ),
        (
            "keyvault-mgmt/2025-05-01/createVault.json",
            "PUT",
            vault.clone(),
            None,
        ),
        (
            "keyvault-mgmt/2025-05-01/getVault.json",
            "GET",
            vault.clone(),
            Some("keyvault-mgmt/2025-05-01/createVault.json"),
        ),
        (
            "keyvault-mgmt/2025-05-01/deleteVault.json",
            "DELETE",
            vault.clone(),
            Some("keyvault-mgmt/2025-05-01/createVault.json"),
        ),
        (
            "storage/2025-06-01/StorageAccountCreate.json",
            "PUT",
            sa.clone(),
            None,
        ),
        (
            "storage/2025-06-01/StorageAccountGetProperties.json",
            "GET",
            sa.clone(),
            Some("storage/2025-06-01/StorageAccountCreate.json"),
        ),
        (
            "storage/2025-06-01/BlobContainersPut.json",
            "PUT",
            format!("{sa}/blobServices/default/containers/{{containerName}}"),
            None,
        ),
        (
            "containerregistry/2025-04-01/RegistryCreate.json",
            "PUT",
            acr.clone(),
            None,
        ),
        (
            "containerregistry/2025-04-01/RegistryGet.json",
            "GET",
            acr.clone(),
            Some("containerregistry/2025-04-01/RegistryCreate.json"),
        ),
        (
            "containerservice/2025-10-01/ManagedClustersCreate_SecurityProfile.json",
            "PUT",
            aks.clone(),
            None,
        ),
        (
            "containerservice/2025-10-01/ManagedClustersGet.json",
            "GET",
            aks.clone(),
            Some("containerservice/2025-10-01/ManagedClustersCreate_SecurityProfile.json"),
        ),
        (
            "msi/2026-05-31/IdentityCreate.json",
            "PUT",
            uai.clone(),
            None,
        ),
        (
            "msi/2026-05-31/FederatedIdentityCredentialCreate.json",
            "PUT",
            fic.clone(),
            None,
        ),
        (
            "msi/2024-11-30/IdentityCreate.json",
            "PUT",
            uai.clone(),
            None,
        ),
        (
            "msi/2024-11-30/FederatedIdentityCredentialCreate.json",
            "PUT",
            fic.clone(),
            None,
        ),
        (
            "authorization/2022-04-01/RoleAssignments_CreateById.json",
            "PUT",
            "/{roleAssignmentId}".into(),
            None,
        ),
        (
            "authorization/2022-04-01/RoleAssignments_CreateForResourceGroup.json",
            "PUT",
            "/{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}"
                .into(),
            None,
        ),
        (
            "operationalinsights/2025-07-01/WorkspacesCreate.json",
            "PUT",
            p("Microsoft.OperationalInsights/workspaces/{workspaceName}"),
            None,
        ),
        (
            "applicationinsights/2020-02-02/ComponentsCreate.json",
            "PUT",
            p("Microsoft.Insights/components/{resourceName}"),
            None,
        ),
        (
            "eventhub/2024-01-01/EHNameSpaceCreate.json",
            "PUT",
            p("Microsoft.EventHub/namespaces/{namespaceName}"),
            None,
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlRoleAssignmentCreateUpdate.json",
            "PUT",
            sql_ra.clone(),
            None,
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlRoleAssignmentGet.json",
            "GET",
            sql_ra.clone(),
            Some("cosmos-db/2025-04-15/CosmosDBSqlRoleAssignmentCreateUpdate.json"),
        ),
        (
            "cosmos-db/2025-04-15/CosmosDBSqlRoleAssignmentDelete.json",
            "DELETE",
            sql_ra.clone(),
            Some("cosmos-db/2025-04-15/CosmosDBSqlRoleAssignmentCreateUpdate.json"),
        ),
        (
            "postgresql/2025-08-01/ServersCreateInMicrosoftOwnedVirtualNetworkWithZoneRedundantHighAvailability.json",
            "PUT",
            pg.clone(),
            None,
        ),
        (
            "postgresql/2025-08-01/DatabasesCreate.json",
            "PUT",
            format!("{pg}/databases/{{databaseName}}"),
            None,
        ),
        (
            "postgresql/2025-08-01/AdministratorsMicrosoftEntraAdd.json",
            "PUT",
            format!("{pg}/administrators/{{objectId}}"),
            None,
        ),
    ]
}

/// Example response keys (JSON pointers, array indexes as `0`) the fake does not model.
fn not_modelled(file: &str) -> &'static [&'static str] {
    // Read-only or defaulted properties of features the fake does not simulate
    // (networking, encryption, replication, SKU tiers, AKS node pools), and example
    // responses carrying fields their requests never set (tags, user identities).
    match file {
        "cosmos-db/2025-04-15/CosmosDBDatabaseAccountCreateMin.json" => &[
            "/properties/analyticalStorageConfiguration",
            "/properties/apiProperties",
            "/properties/backupPolicy",
            "/properties/cors",
            "/properties/disableKeyBasedMetadataWriteAccess",
            "/properties/enableAnalyticalStorage",
            "/properties/enableFreeTier",
            "/properties/ipRules",
            "/properties/keysMetadata",
            "/properties/minimalTlsVersion",
            "/properties/networkAclBypass",
            "/properties/networkAclBypassResourceIds",
            "/tags",
        ],
        "cosmos-db/2025-04-15/CosmosDBSqlContainerGet.json" => &["/properties/options"],
        "servicebus/2024-01-01/SBNameSpaceCreate.json" => &[
            "/properties/disableLocalAuth",
            "/properties/minimumTlsVersion",
        ],
        "servicebus/2024-01-01/SBNameSpaceGet.json" => &[
            "/properties/disableLocalAuth",
            "/properties/minimumTlsVersion",
            "/properties/privateEndpointConnections",
        ],
        "servicebus/2024-01-01/SBTopicCreate.json" => &[
            "/properties/autoDeleteOnIdle",
            "/properties/defaultMessageTimeToLive",
            "/properties/duplicateDetectionHistoryTimeWindow",
            "/properties/enableBatchedOperations",
            "/properties/enablePartitioning",
            "/properties/maxMessageSizeInKilobytes",
            "/properties/maxSizeInMegabytes",
            "/properties/requiresDuplicateDetection",
            "/properties/supportOrdering",
        ],
        "servicebus/2024-01-01/SBTopicGet.json" => &[
            "/properties/autoDeleteOnIdle",
            "/properties/defaultMessageTimeToLive",
            "/properties/duplicateDetectionHistoryTimeWindow",
            "/properties/enableBatchedOperations",
            "/properties/enablePartitioning",
            "/properties/maxMessageSizeInKilobytes",
            "/properties/maxSizeInMegabytes",
            "/properties/requiresDuplicateDetection",
            "/properties/supportOrdering",
        ],
        "servicebus/2024-01-01/SBSubscriptionCreate.json" => &[
            "/properties/autoDeleteOnIdle",
            "/properties/deadLetteringOnFilterEvaluationExceptions",
            "/properties/deadLetteringOnMessageExpiration",
            "/properties/defaultMessageTimeToLive",
            "/properties/forwardDeadLetteredMessagesTo",
            "/properties/forwardTo",
            "/properties/lockDuration",
            "/properties/maxDeliveryCount",
            "/properties/requiresSession",
        ],
        "servicebus/2024-01-01/SBSubscriptionGet.json" => &[
            "/properties/autoDeleteOnIdle",
            "/properties/deadLetteringOnFilterEvaluationExceptions",
            "/properties/deadLetteringOnMessageExpiration",
            "/properties/defaultMessageTimeToLive",
            "/properties/forwardDeadLetteredMessagesTo",
            "/properties/forwardTo",
            "/properties/lockDuration",
            "/properties/maxDeliveryCount",
            "/properties/requiresSession",
        ],
        "keyvault-mgmt/2025-05-01/createVault.json" => &["/properties/hsmPoolResourceId", "/tags"],
        "keyvault-mgmt/2025-05-01/getVault.json" => &["/properties/hsmPoolResourceId", "/tags"],
        "storage/2025-06-01/StorageAccountCreate.json" => &[
            "/properties/encryption/services/blob/lastEnabledTime",
            "/properties/encryption/services/file/lastEnabledTime",
            "/properties/keyCreationTime",
            "/properties/primaryEndpoints/internetEndpoints",
            "/properties/primaryEndpoints/microsoftEndpoints",
            "/properties/secondaryLocation",
            "/properties/statusOfSecondary",
            "/properties/supportsHttpsTrafficOnly",
            "/sku/tier",
        ],
        "storage/2025-06-01/StorageAccountGetProperties.json" => &[
            "/properties/accountMigrationInProgress",
            "/properties/encryption/services/blob/lastEnabledTime",
            "/properties/encryption/services/file/lastEnabledTime",
            "/properties/geoPriorityReplicationStatus",
            "/properties/geoReplicationStats",
            "/properties/isSkuConversionBlocked",
            "/properties/keyCreationTime",
            "/properties/networkAcls",
            "/properties/primaryEndpoints/internetEndpoints",
            "/properties/primaryEndpoints/microsoftEndpoints",
            "/properties/secondaryLocation",
            "/properties/statusOfSecondary",
            "/properties/supportsHttpsTrafficOnly",
            "/sku/tier",
        ],
        "containerregistry/2025-04-01/RegistryCreate.json" => &[
            "/properties/anonymousPullEnabled",
            "/properties/dataEndpointEnabled",
            "/properties/dataEndpointHostNames",
            "/properties/encryption",
            "/properties/networkRuleBypassOptions",
            "/properties/networkRuleSet",
            "/properties/policies",
            "/properties/privateEndpointConnections",
            "/properties/publicNetworkAccess",
            "/properties/status",
            "/properties/zoneRedundancy",
            "/sku/tier",
        ],
        "containerregistry/2025-04-01/RegistryGet.json" => &[
            "/properties/anonymousPullEnabled",
            "/properties/dataEndpointEnabled",
            "/properties/dataEndpointHostNames",
            "/properties/encryption",
            "/properties/networkRuleBypassOptions",
            "/properties/networkRuleSet",
            "/properties/policies",
            "/properties/privateEndpointConnections",
            "/properties/publicNetworkAccess",
            "/properties/status",
            "/properties/zoneRedundancy",
            "/sku/tier",
        ],
        "containerservice/2025-10-01/ManagedClustersCreate_SecurityProfile.json" => &[
            "/properties/agentPoolProfiles/0/currentOrchestratorVersion",
            "/properties/agentPoolProfiles/0/maxPods",
            "/properties/agentPoolProfiles/0/orchestratorVersion",
            "/properties/agentPoolProfiles/0/provisioningState",
            "/properties/diskEncryptionSetID",
            "/properties/enableRBAC",
            "/properties/networkProfile/dnsServiceIP",
            "/properties/networkProfile/ipFamilies",
            "/properties/networkProfile/loadBalancerProfile/allocatedOutboundPorts",
            "/properties/networkProfile/loadBalancerProfile/effectiveOutboundIPs",
            "/properties/networkProfile/loadBalancerProfile/idleTimeoutInMinutes",
            "/properties/networkProfile/networkPlugin",
            "/properties/networkProfile/podCidr",
            "/properties/networkProfile/podCidrs",
            "/properties/networkProfile/serviceCidr",
            "/properties/networkProfile/serviceCidrs",
            "/properties/servicePrincipalProfile",
            "/properties/windowsProfile",
        ],
        "containerservice/2025-10-01/ManagedClustersGet.json" => &[
            "/eTag",
            "/properties/agentPoolProfiles/0/availabilityZones",
            "/properties/agentPoolProfiles/0/currentOrchestratorVersion",
            "/properties/agentPoolProfiles/0/eTag",
            "/properties/agentPoolProfiles/0/maxPods",
            "/properties/agentPoolProfiles/0/nodeImageVersion",
            "/properties/agentPoolProfiles/0/orchestratorVersion",
            "/properties/agentPoolProfiles/0/provisioningState",
            "/properties/agentPoolProfiles/0/upgradeSettings",
            "/properties/diskEncryptionSetID",
            "/properties/enableRBAC",
            "/properties/networkProfile/dnsServiceIP",
            "/properties/networkProfile/ipFamilies",
            "/properties/networkProfile/loadBalancerProfile/allocatedOutboundPorts",
            "/properties/networkProfile/loadBalancerProfile/effectiveOutboundIPs",
            "/properties/networkProfile/loadBalancerProfile/idleTimeoutInMinutes",
            "/properties/networkProfile/loadBalancerProfile/outboundIPs",
            "/properties/networkProfile/networkPlugin",
            "/properties/networkProfile/podCidr",
            "/properties/networkProfile/podCidrs",
            "/properties/networkProfile/serviceCidr",
            "/properties/networkProfile/serviceCidrs",
            "/properties/servicePrincipalProfile",
            "/properties/upgradeSettings",
        ],
        "msi/2026-05-31/IdentityCreate.json" => &["/properties/assignmentRestrictions"],
        "operationalinsights/2025-07-01/WorkspacesCreate.json" => &[
            "/properties/publicNetworkAccessForIngestion",
            "/properties/publicNetworkAccessForQuery",
        ],
        "applicationinsights/2020-02-02/ComponentsCreate.json" => &[
            "/properties/DisableIpMasking",
            "/properties/HockeyAppId",
            "/properties/HockeyAppToken",
            "/properties/IngestionMode",
            "/properties/SamplingPercentage",
            "/properties/publicNetworkAccessForIngestion",
            "/properties/publicNetworkAccessForQuery",
            "/tags",
        ],
        "eventhub/2024-01-01/EHNameSpaceCreate.json" => &[
            "/identity/userAssignedIdentities//subscriptions/SampleSubscription/resourceGroups/ResurceGroupSample/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ud1/clientId",
            "/identity/userAssignedIdentities//subscriptions/SampleSubscription/resourceGroups/ResurceGroupSample/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ud1/principalId",
            "/identity/userAssignedIdentities//subscriptions/SampleSubscription/resourceGroups/ResurceGroupSample/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ud2/clientId",
            "/identity/userAssignedIdentities//subscriptions/SampleSubscription/resourceGroups/ResurceGroupSample/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ud2/principalId",
            "/properties/disableLocalAuth",
            "/properties/encryption/keyVaultProperties/0/keyVersion",
            "/properties/encryption/requireInfrastructureEncryption",
            "/properties/isAutoInflateEnabled",
            "/properties/kafkaEnabled",
            "/properties/maximumThroughputUnits",
            "/properties/zoneRedundant",
            "/sku",
            "/tags",
        ],
        _ => &[],
    }
}

fn fixtures() -> PathBuf {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    PathBuf::from(dir).join("fixtures")
}

fn load(file: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(file)).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn fill(template: &str, params: &Value) -> String {
    let mut out = template.to_owned();
    if let Some(map) = params.as_object() {
        for (k, v) in map {
            if let Some(s) = v.as_str() {
                out = out.replace(&format!("{{{k}}}"), s);
            }
        }
    }
    out.replace("//", "/")
}

/// The request body: the example's one object-valued parameter.
fn body_of(params: &Value) -> Option<Value> {
    params
        .as_object()?
        .values()
        .find(|v| v.is_object())
        .cloned()
}

/// Minimal bodies for parents the example assumes exist.
fn parent_body(type_segment: &str, name: &str) -> Value {
    match type_segment.to_ascii_lowercase().as_str() {
        "databaseaccounts" => {
            json!({"location": "westus", "properties": {"databaseAccountOfferType": "Standard", "locations": [{"locationName": "westus", "failoverPriority": 0}]}})
        }
        "sqldatabases" => json!({"properties": {"resource": {"id": name}}}),
        "topics" | "subscriptions" => json!({"properties": {}}),
        "flexibleservers" => {
            json!({"location": "eastus", "sku": {"name": "Standard_B1ms", "tier": "Burstable"}, "properties": {"version": "16"}})
        }
        _ => {
            json!({"location": "westus", "sku": {"name": "Standard"}, "properties": {"tenantId": "00000000-0000-0000-0000-000000000000", "sku": {"family": "A", "name": "standard"}, "accessPolicies": []}})
        }
    }
}

/// Creates the resource group and the parent resources of `path`.
async fn ensure_parents(arm: &Arm, path: &str, api: &str) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() >= 4 && segs[2].eq_ignore_ascii_case("resourcegroups") && segs.len() > 4 {
        let rg = format!("/{}", segs[..4].join("/"));
        let r = arm
            .send(
                Method::PUT,
                &rg,
                Some("2025-04-01"),
                Some(&json!({"location": "westus"})),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{rg}: {r:?}");
    }
    let Some(p) = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    else {
        return;
    };
    let pairs = (segs.len() - p - 2) / 2;
    for i in 1..pairs {
        let end = p + 2 + 2 * i;
        if segs[end - 2].eq_ignore_ascii_case("blobServices") {
            continue;
        }
        let id = format!("/{}", segs[..end].join("/"));
        let body = parent_body(segs[end - 2], segs[end - 1]);
        let r = arm.send(Method::PUT, &id, Some(api), Some(&body)).await;
        assert!((200..=202).contains(&r.status), "parent {id}: {r:?}");
        if r.header("azure-asyncoperation").is_some() || r.header("location").is_some() {
            arm.wait(&r).await;
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Walks the example; records missing keys and type mismatches.
fn walk(
    example: &Value,
    actual: &Value,
    at: &str,
    missing: &mut BTreeSet<String>,
    wrong: &mut Vec<String>,
) {
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{at}/{k}");
                match a.get(k) {
                    None => {
                        missing.insert(p);
                    }
                    Some(av) => walk(ev, av, &p, missing, wrong),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(ev), Some(av)) = (e.first(), a.first()) {
                walk(ev, av, &format!("{at}/0"), missing, wrong);
            }
        }
        (Value::Null, _) => {}
        (e, a) if json_type(e) != json_type(a) => {
            wrong.push(format!(
                "{at}: example {} vs fake {}",
                json_type(e),
                json_type(a)
            ));
        }
        _ => {}
    }
}

async fn replay(
    fake: &TestServer,
    arm: &Arm,
    file: &str,
    method: &str,
    template: &str,
    seed: Option<&str>,
) -> (u16, BTreeSet<String>, Vec<String>) {
    let ex = load(file);
    let params = &ex["parameters"];
    let api = params["api-version"]
        .as_str()
        .expect("api-version")
        .to_owned();
    let path = fill(template, params);
    ensure_parents(arm, &path, &api).await;
    if let Some(seed) = seed {
        let body = body_of(&load(seed)["parameters"]).unwrap_or_else(|| json!({}));
        let r = arm.send(Method::PUT, &path, Some(&api), Some(&body)).await;
        assert!((200..=202).contains(&r.status), "seed {file}: {r:?}");
        if r.header("azure-asyncoperation").is_some()
            || (r.status == 202 && r.header("location").is_some())
        {
            arm.wait(&r).await;
        }
    }
    let body = if method == "PUT" {
        body_of(params)
    } else {
        None
    };
    let m = Method::from_bytes(method.as_bytes()).expect("method");
    let r = arm.send(m, &path, Some(&api), body.as_ref()).await;
    let listed: Vec<u16> = ex["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .map(|k| k.parse().expect("status"))
        .collect();
    assert!(
        listed.contains(&r.status),
        "{file}: status {} not in {listed:?}: {:?}",
        r.status,
        r.body
    );
    // Let long-running operations finish, then read what a client would read.
    let mut actual = r.body.clone();
    if r.header("azure-asyncoperation").is_some() || r.header("location").is_some() {
        let done = arm.wait(&r).await;
        assert!(
            done.status < 300 && done.body.get("error").is_none(),
            "{file}: {done:?}"
        );
        if method == "PUT" && actual.is_null() {
            actual = arm.send(Method::GET, &path, Some(&api), None).await.body;
        }
    }
    if method == "DELETE" {
        assert!(
            fake.resource(&path).is_none(),
            "{file}: still there after delete"
        );
        let again = arm.send(Method::GET, &path, Some(&api), None).await;
        assert_eq!(again.status, 404, "{file}");
        return (r.status, BTreeSet::new(), Vec::new());
    }
    let responses = &ex["responses"];
    let expected = responses[r.status.to_string()]["body"]
        .as_object()
        .filter(|o| !o.is_empty())
        .map(|o| Value::Object(o.clone()))
        .unwrap_or_else(|| responses["200"]["body"].clone());
    let mut missing = BTreeSet::new();
    let mut wrong = Vec::new();
    walk(&expected, &actual, "", &mut missing, &mut wrong);
    (r.status, missing, wrong)
}

#[tokio::test]
async fn every_arm_example_replays_with_its_status_and_shape() {
    let fake = TestServer::start().expect("fake");
    let arm = Arm::new(&fake).await;
    let mut report = Vec::new();
    for (file, method, template, seed) in cases() {
        let (status, missing, wrong) = replay(&fake, &arm, file, method, &template, seed).await;
        assert!(wrong.is_empty(), "{file}: type mismatches {wrong:?}");
        let allowed: BTreeSet<String> =
            not_modelled(file).iter().map(|s| (*s).to_owned()).collect();
        let unexpected: Vec<&String> = missing.difference(&allowed).collect();
        if !unexpected.is_empty() {
            report.push(format!("{file} ({status}): {unexpected:?}"));
        }
    }
    assert!(
        report.is_empty(),
        "keys missing from the fake's responses:\n{}",
        report.join("\n")
    );
}
