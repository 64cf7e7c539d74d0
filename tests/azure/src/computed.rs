//! Server-computed, read-only fields per resource type. Endpoints point back at the fake.

use serde_json::{Map, Value, json};

use crate::arm::derived;
use crate::state::State;
use crate::types::TypeSpec;
use crate::util::{norm_location, now_rfc3339};

fn props(body: &mut Value) -> &mut Map<String, Value> {
    if !body.get("properties").is_some_and(Value::is_object) {
        body["properties"] = json!({});
    }
    body["properties"]
        .as_object_mut()
        .expect("properties was just made an object")
}

/// Keeps `key` from the previous body (creation times), else sets `v`.
fn keep_or(p: &mut Map<String, Value>, old: Option<&Value>, key: &str, v: Value) {
    let prev = old
        .and_then(|o| o.pointer(&format!("/properties/{key}")))
        .cloned();
    p.insert(key.into(), prev.unwrap_or(v));
}

/// Fills `id`, `name`, `type` and the type's read-only fields into `body`.
pub(crate) fn fill(
    st: &State,
    spec: &TypeSpec,
    id: &str,
    name: &str,
    scope: &str,
    body: &mut Value,
    old: Option<&Value>,
) {
    let port = st.port;
    let tenant = st.tenant();
    let now = now_rfc3339();
    let sub = id.split('/').nth(2).unwrap_or("").to_owned();
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .map(norm_location)
        .unwrap_or_default();
    body["id"] = json!(id);
    body["name"] = json!(name);
    body["type"] = json!(spec.display);
    // System-assigned identities get a principal.
    if let Some(ident) = body.get_mut("identity").and_then(Value::as_object_mut)
        && ident
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.to_ascii_lowercase().contains("systemassigned"))
    {
        ident.insert("principalId".into(), json!(derived(id, "principal")));
        ident.insert("tenantId".into(), json!(tenant));
    }
    if spec.tracked || spec.display.starts_with("Microsoft.DocumentDB") {
        let created = old
            .and_then(|o| o.pointer("/systemData/createdAt"))
            .cloned()
            .unwrap_or_else(|| json!(now));
        body["systemData"] = json!({
            "createdBy": "tradewind-azure-fake",
            "createdByType": "Application",
            "createdAt": created,
            "lastModifiedBy": "tradewind-azure-fake",
            "lastModifiedByType": "Application",
            "lastModifiedAt": now,
        });
    }
    match spec.display {
        "Microsoft.DocumentDB/databaseAccounts" => {
            if body.get("kind").is_none() {
                body["kind"] = json!("GlobalDocumentDB");
            }
            let p = props(body);
            p.insert(
                "documentEndpoint".into(),
                json!(format!("https://{name}.documents.localhost:{port}/")),
            );
            keep_or(p, old, "instanceId", json!(derived(id, "instance")));
            p.entry("databaseAccountOfferType")
                .or_insert(json!("Standard"));
            p.entry("consistencyPolicy").or_insert(json!({
                "defaultConsistencyLevel": "Session",
                "maxIntervalInSeconds": 5,
                "maxStalenessPrefix": 100
            }));
            let locs: Vec<Value> = p
                .get("locations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut l| {
                    let ln = l
                        .get("locationName")
                        .and_then(Value::as_str)
                        .map(norm_location)
                        .unwrap_or_default();
                    l["id"] = json!(format!("{name}-{ln}"));
                    l["documentEndpoint"] =
                        json!(format!("https://{name}-{ln}.documents.localhost:{port}/"));
                    l["provisioningState"] = json!("Succeeded");
                    l
                })
                .collect();
            let failover: Vec<Value> = locs
                .iter()
                .map(|l| {
                    json!({"id": l["id"], "locationName": l["locationName"], "failoverPriority": l["failoverPriority"]})
                })
                .collect();
            p.insert("locations".into(), json!(locs));
            p.insert("readLocations".into(), json!(locs));
            p.insert("writeLocations".into(), json!(locs));
            p.insert("failoverPolicies".into(), json!(failover));
        }
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases"
        | "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers" => {
            let is_db = spec.display.ends_with("sqlDatabases");
            let p = props(body);
            p.remove("options");
            let mut r = p.get("resource").cloned().unwrap_or_else(|| json!({}));
            r["id"] = r.get("id").cloned().unwrap_or_else(|| json!(name));
            r["_rid"] = json!(derived(id, "rid")[..8].to_owned());
            r["_ts"] = json!(crate::util::now_unix());
            r["_etag"] = json!(format!("\"{}\"", derived(id, &now)));
            if is_db {
                r["_colls"] = json!("colls/");
                r["_users"] = json!("users/");
            } else if r.get("partitionKey").is_none() {
                r["partitionKey"] = json!({"paths": ["/_partitionKey"], "kind": "Hash"});
            }
            p.insert("resource".into(), r);
        }
        "Microsoft.KeyVault/vaults" => {
            let p = props(body);
            p.insert(
                "vaultUri".into(),
                json!(format!("https://{name}.vault.localhost:{port}/")),
            );
            p.entry("tenantId").or_insert(json!(tenant));
        }
        "Microsoft.ServiceBus/namespaces" | "Microsoft.EventHub/namespaces" => {
            let p = props(body);
            p.insert(
                "serviceBusEndpoint".into(),
                json!(format!("https://{name}.servicebus.localhost:{port}/")),
            );
            p.insert(
                "metricId".into(),
                json!(format!("{sub}:{}", name.to_ascii_lowercase())),
            );
            p.insert("status".into(), json!("Active"));
            keep_or(p, old, "createdAt", json!(now));
            p.insert("updatedAt".into(), json!(now));
        }
        "Microsoft.ServiceBus/namespaces/topics" => {
            let subs = st
                .resources
                .values()
                .filter(|r| {
                    r.type_key == "microsoft.servicebus/namespaces/topics/subscriptions"
                        && r.id
                            .to_ascii_lowercase()
                            .starts_with(&format!("{}/", id.to_ascii_lowercase()))
                })
                .count();
            let p = props(body);
            keep_or(p, old, "createdAt", json!(now));
            p.insert("updatedAt".into(), json!(now));
            p.insert("accessedAt".into(), json!(now));
            p.insert("status".into(), json!("Active"));
            p.insert("sizeInBytes".into(), json!(0));
            p.insert("subscriptionCount".into(), json!(subs));
        }
        "Microsoft.ServiceBus/namespaces/topics/subscriptions" => {
            let queued = crate::state::sb_queue_key(id)
                .and_then(|k| st.queues.get(&k))
                .map_or(0, |q| q.len());
            let p = props(body);
            keep_or(p, old, "createdAt", json!(now));
            p.insert("updatedAt".into(), json!(now));
            p.insert("accessedAt".into(), json!(now));
            p.insert("status".into(), json!("Active"));
            p.insert("messageCount".into(), json!(queued));
            p.insert(
                "countDetails".into(),
                json!({"activeMessageCount": queued, "deadLetterMessageCount": 0, "scheduledMessageCount": 0, "transferMessageCount": 0, "transferDeadLetterMessageCount": 0}),
            );
        }
        "Microsoft.Storage/storageAccounts" => {
            let loc = body.get("location").cloned().unwrap_or(json!(location));
            let p = props(body);
            let ep = |svc: &str| json!(format!("https://{name}.{svc}.localhost:{port}/"));
            p.insert(
                "primaryEndpoints".into(),
                json!({"blob": ep("blob"), "queue": ep("queue"), "table": ep("table"), "file": ep("file"), "dfs": ep("dfs"), "web": ep("web")}),
            );
            p.insert("primaryLocation".into(), loc);
            p.insert("statusOfPrimary".into(), json!("available"));
            keep_or(p, old, "creationTime", json!(now));
        }
        "Microsoft.Storage/storageAccounts/blobServices/containers" => {
            body["etag"] = json!(format!(
                "\"0x{}\"",
                &derived(id, &now)[..8].to_ascii_uppercase()
            ));
            let p = props(body);
            p.entry("publicAccess").or_insert(json!("None"));
            p.insert("lastModifiedTime".into(), json!(now));
            p.insert("leaseStatus".into(), json!("Unlocked"));
            p.insert("leaseState".into(), json!("Available"));
            p.insert("hasImmutabilityPolicy".into(), json!(false));
            p.insert("hasLegalHold".into(), json!(false));
            p.insert("deleted".into(), json!(false));
            p.insert("remainingRetentionDays".into(), json!(0));
        }
        "Microsoft.ContainerRegistry/registries" => {
            let p = props(body);
            p.insert(
                "loginServer".into(),
                json!(format!("{}.azurecr.localhost", name.to_ascii_lowercase())),
            );
            keep_or(p, old, "creationDate", json!(now));
            p.entry("adminUserEnabled").or_insert(json!(false));
        }
        "Microsoft.ContainerService/managedClusters" => {
            let rg = scope.split('/').nth(4).unwrap_or("").to_owned();
            let p = props(body);
            let prefix = p
                .get("dnsPrefix")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_owned();
            let hash = &derived(id, "fqdn")[..8];
            p.insert(
                "fqdn".into(),
                json!(format!("{prefix}-{hash}.hcp.{location}.azmk8s.localhost")),
            );
            p.insert(
                "azurePortalFQDN".into(),
                json!(format!(
                    "{prefix}-{hash}.portal.hcp.{location}.azmk8s.localhost"
                )),
            );
            p.entry("nodeResourceGroup")
                .or_insert(json!(format!("MC_{rg}_{name}_{location}")));
            if let Some(v) = p.get("kubernetesVersion").cloned() {
                p.insert("currentKubernetesVersion".into(), v);
            }
            p.insert("powerState".into(), json!({"code": "Running"}));
            p.insert("maxAgentPools".into(), json!(100));
            let node_rg = p["nodeResourceGroup"].as_str().unwrap_or("").to_owned();
            p.insert(
                "identityProfile".into(),
                json!({"kubeletidentity": {
                    "resourceId": format!("/subscriptions/{sub}/resourcegroups/{node_rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool"),
                    "clientId": derived(id, "kubelet-client"),
                    "objectId": derived(id, "kubelet-object"),
                }}),
            );
            let oidc_enabled = p
                .get("oidcIssuerProfile")
                .and_then(|o| o.get("enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if oidc_enabled {
                p["oidcIssuerProfile"]["issuerURL"] = json!(format!(
                    "https://{location}.oic.localhost:{port}/{}/",
                    derived(id, "oidc")
                ));
            }
        }
        "Microsoft.ManagedIdentity/userAssignedIdentities" => {
            let p = props(body);
            p.insert("principalId".into(), json!(derived(id, "principal")));
            p.insert("clientId".into(), json!(derived(id, "client")));
            p.insert("tenantId".into(), json!(tenant));
            p.entry("isolationScope").or_insert(json!("None"));
        }
        "Microsoft.Authorization/roleAssignments" => {
            if let Some(o) = body.as_object_mut() {
                o.remove("location");
                o.remove("tags");
            }
            let p = props(body);
            p.insert("scope".into(), json!(scope));
            p.entry("principalType")
                .or_insert(json!("ServicePrincipal"));
            keep_or(p, old, "createdOn", json!(now));
            p.insert("updatedOn".into(), json!(now));
            keep_or(p, old, "createdBy", json!(derived("fake", "caller")));
            p.insert("updatedBy".into(), json!(derived("fake", "caller")));
        }
        "Microsoft.OperationalInsights/workspaces" => {
            let p = props(body);
            p.insert("customerId".into(), json!(derived(id, "customer")));
            keep_or(p, old, "createdDate", json!(now));
            p.insert("modifiedDate".into(), json!(now));
        }
        "Microsoft.Insights/components" => {
            let ikey = derived(id, "ikey");
            let app = derived(id, "app");
            let p = props(body);
            p.insert("InstrumentationKey".into(), json!(ikey));
            p.insert("AppId".into(), json!(app));
            p.insert("ApplicationId".into(), json!(name));
            p.insert("Name".into(), json!(name));
            p.insert("TenantId".into(), json!(sub));
            keep_or(p, old, "CreationDate", json!(now));
            p.insert(
                "ConnectionString".into(),
                json!(format!("InstrumentationKey={ikey};IngestionEndpoint=https://{location}.in.applicationinsights.localhost:{port}/;LiveEndpoint=https://{location}.livediagnostics.monitor.localhost:{port}/;ApplicationId={app}")),
            );
        }
        "Microsoft.DBforPostgreSQL/flexibleServers" => {
            let p = props(body);
            p.insert(
                "fullyQualifiedDomainName".into(),
                json!(format!("{name}.postgres.database.localhost")),
            );
            p.insert("state".into(), json!("Ready"));
            p.entry("minorVersion").or_insert(json!("0"));
        }
        "Microsoft.KeyVault/vaults/secrets" => {
            // ARM never returns a secret's value.
            let vault = scope_vault(id);
            let p = props(body);
            p.remove("value");
            p.insert(
                "secretUri".into(),
                json!(format!(
                    "https://{vault}.vault.localhost:{port}/secrets/{name}"
                )),
            );
        }
        "Microsoft.ApiManagement/service" => {
            let p = props(body);
            p.insert(
                "gatewayUrl".into(),
                json!(format!("https://{name}.azure-api.localhost")),
            );
            p.insert(
                "developerPortalUrl".into(),
                json!(format!("https://{name}.developer.azure-api.localhost")),
            );
            keep_or(p, old, "createdAtUtc", json!(now));
        }
        "Microsoft.ApiManagement/service/namedValues" => {
            // Secret named values are never returned; plain ones are.
            let p = props(body);
            if p.get("secret").and_then(Value::as_bool) == Some(true) {
                p.remove("value");
            }
        }
        "Microsoft.Cdn/profiles" => {
            let p = props(body);
            keep_or(p, old, "frontDoorId", json!(derived(id, "frontdoor")));
        }
        "Microsoft.Cdn/profiles/afdEndpoints" => {
            let hash = &derived(id, "host")[..8];
            let p = props(body);
            p.insert(
                "hostName".into(),
                json!(format!("{name}-{hash}.z01.azurefd.localhost")),
            );
        }
        "Microsoft.Network/virtualNetworks" => {
            if let Some(subnets) = body
                .pointer_mut("/properties/subnets")
                .and_then(Value::as_array_mut)
            {
                for s in subnets {
                    let sn = s
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    s["id"] = json!(format!("{id}/subnets/{sn}"));
                    if s.get("properties").is_some_and(Value::is_object) {
                        s["properties"]["provisioningState"] = json!("Succeeded");
                    }
                }
            }
        }
        "Microsoft.Network/privateDnsZones" => {
            let p = props(body);
            p.insert("numberOfRecordSets".into(), json!(1));
        }
        _ => {}
    }
}

/// The vault name of a secret's ID.
fn scope_vault(id: &str) -> String {
    let segs: Vec<&str> = id.split('/').collect();
    segs.iter()
        .position(|s| s.eq_ignore_ascii_case("vaults"))
        .and_then(|i| segs.get(i + 1))
        .map(|s| (*s).to_owned())
        .unwrap_or_default()
}
