//! What apply leaves for the next step (pure): Helm values for the operator chart, resource
//! IDs and endpoints, and the command that fetches AKS credentials. No keys, connection
//! strings or instrumentation keys are ever part of them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Value, json};

use super::resources::Ids;
use super::spec::Environment;
use tradewind_azure::arm::ResourceId;

/// A value the outputs need is missing from a live body.
#[derive(Debug, thiserror::Error)]
#[error("outputs: {what} of {id} is not known (has the resource been applied?)")]
pub struct OutputError {
    /// Which value.
    pub what: &'static str,
    /// The resource.
    pub id: String,
}

/// Everything apply reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    /// Environment name.
    pub environment: String,
    /// Resource IDs by role (`aks`, `cosmos`, ...).
    pub resource_ids: BTreeMap<String, String>,
    /// Service endpoints.
    pub endpoints: BTreeMap<String, String>,
    /// Client IDs of the environment's identities (operator, platform, feed, collector).
    pub identity_client_ids: BTreeMap<String, String>,
    /// The AKS OIDC issuer URL.
    pub oidc_issuer_url: Option<String>,
    /// `az aks get-credentials ...`.
    pub aks_credentials_command: String,
    /// Helm values for the operator chart.
    pub helm_values: Value,
}

fn field<'a>(
    bodies: &'a HashMap<ResourceId, Value>,
    id: &ResourceId,
    pointer: &str,
) -> Option<&'a str> {
    bodies.get(id)?.pointer(pointer)?.as_str()
}

/// Builds the outputs from the live bodies apply ended with.
pub fn outputs(
    env: &Environment,
    bodies: &HashMap<ResourceId, Value>,
) -> Result<Outputs, OutputError> {
    let s = &env.spec;
    let ids = Ids::of(env);
    let need = |id: &ResourceId, pointer: &str, what: &'static str| {
        field(bodies, id, pointer)
            .map(str::to_string)
            .ok_or_else(|| OutputError {
                what,
                id: id.to_string(),
            })
    };
    let (cosmos_dns, vault_dns, sb_dns) = s.cloud.suffixes();
    // Endpoints as ARM reports them; the cloud's documented form when a body lacks one.
    let cosmos_endpoint = field(bodies, &ids.cosmos, "/properties/documentEndpoint")
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://{}.{cosmos_dns}:443/", s.cosmos.account));
    let vault_uri = field(bodies, &ids.key_vault, "/properties/vaultUri")
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://{}.{vault_dns}/", s.key_vault.name));
    let sb_endpoint = field(bodies, &ids.service_bus, "/properties/serviceBusEndpoint")
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://{}.{sb_dns}:443/", s.service_bus.namespace));
    let login_server = need(&ids.acr, "/properties/loginServer", "loginServer")?;
    let operator_client = need(&ids.operator_identity, "/properties/clientId", "clientId")?;
    let oidc =
        field(bodies, &ids.aks, "/properties/oidcIssuerProfile/issuerURL").map(str::to_string);

    let mut resource_ids = BTreeMap::new();
    let mut put = |k: &str, id: &ResourceId| {
        resource_ids.insert(k.to_string(), id.to_string());
    };
    put("resourceGroup", &ids.resource_group);
    put("aks", &ids.aks);
    put("acr", &ids.acr);
    put("cosmos", &ids.cosmos);
    put("keyVault", &ids.key_vault);
    put("serviceBus", &ids.service_bus);
    put("operatorIdentity", &ids.operator_identity);
    for (k, id) in [
        ("eventHubs", &ids.event_hubs),
        ("storage", &ids.storage),
        ("logAnalytics", &ids.log_analytics),
        ("applicationInsights", &ids.app_insights),
    ] {
        if let Some(id) = id {
            put(k, id);
        }
    }
    for (k, id) in [
        ("platformIdentity", &ids.platform_identity),
        ("postgres", &ids.postgres),
        ("virtualNetwork", &ids.vnet),
        ("apiManagement", &ids.apim),
        ("frontDoor", &ids.front_door),
        ("actionGroup", &ids.action_group),
        ("feedIdentity", &ids.feed_identity),
        ("collectorIdentity", &ids.collector_identity),
    ] {
        if let Some(id) = id {
            put(k, id);
        }
    }
    let mut endpoints = BTreeMap::from([
        ("cosmos".to_string(), cosmos_endpoint.clone()),
        ("keyVault".to_string(), vault_uri.clone()),
        ("serviceBus".to_string(), sb_endpoint.clone()),
        ("acrLoginServer".to_string(), login_server.clone()),
    ]);
    if let Some(fqdn) = field(bodies, &ids.aks, "/properties/fqdn") {
        endpoints.insert("aksApiServer".into(), format!("https://{fqdn}:443"));
    }
    if let Some(st) = &ids.storage
        && let Some(blob) = field(bodies, st, "/properties/primaryEndpoints/blob")
    {
        endpoints.insert("blob".into(), blob.to_string());
    }

    let blob_endpoint = endpoints.get("blob").cloned();
    let mut extra = serde_json::Map::new();
    if let Some(md) = &s.market_data {
        extra.insert(
            "marketData".into(),
            json!({
                "cosmosContainer": md.container,
                "partitionKeyPaths": md.partition_key_paths,
                "archiveContainer": md.archive_container,
                "blobEndpoint": blob_endpoint,
            }),
        );
    }
    if let (Some(st), Some(blob)) = (&s.storage, &blob_endpoint) {
        extra.insert(
            "storage".into(),
            json!({"account": st.account, "blobEndpoint": blob}),
        );
    }
    let mut platform_client = None;
    if let Some(pid) = &ids.platform_identity {
        let client = need(pid, "/properties/clientId", "clientId")?;
        extra.insert(
            "platformIdentity".into(),
            json!({"clientId": client, "name": pid.name()}),
        );
        platform_client = Some(client);
    }
    let mut feed_client = None;
    if let (Some(fid), Some(spec)) = (&ids.feed_identity, &s.identities.feed) {
        let client = need(fid, "/properties/clientId", "clientId")?;
        // The chart annotates the feeds' ServiceAccount with it (workload identity).
        extra.insert(
            "feedIdentity".into(),
            json!({
                "clientId": client,
                "name": fid.name(),
                "serviceAccount": spec.service_accounts.first().map(|sa| sa.name.clone()).unwrap_or_default(),
            }),
        );
        feed_client = Some(client);
    }
    let mut collector_client = None;
    if let (Some(cid), Some(spec)) = (&ids.collector_identity, &s.identities.collector) {
        let client = need(cid, "/properties/clientId", "clientId")?;
        // The chart annotates the collector's ServiceAccount with it (workload identity).
        extra.insert(
            "collectorIdentity".into(),
            json!({
                "clientId": client,
                "name": cid.name(),
                "serviceAccount": spec.service_accounts.first().map(|sa| sa.name.clone()).unwrap_or_default(),
            }),
        );
        collector_client = Some(client);
    }
    if let (Some(id), Some(pg), Some(pid)) = (&ids.postgres, &s.postgres, &ids.platform_identity) {
        let host = need(
            id,
            "/properties/fullyQualifiedDomainName",
            "fullyQualifiedDomainName",
        )?;
        endpoints.insert("postgres".into(), host.clone());
        // The user is the identity's name (its Entra administrator principal name); the
        // password is an Entra token the ledger fetches, so the URL holds no secret.
        let user = pid.name();
        extra.insert(
            "postgres".into(),
            json!({
                "host": host,
                "port": 5432,
                "database": pg.database,
                "user": user,
                "sslmode": "require",
                "url": format!("postgres://{user}@{host}:5432/{}?sslmode=require", pg.database),
            }),
        );
    }
    if ids.app_insights.is_some() {
        extra.insert(
            "applicationInsights".into(),
            json!({"connectionStringSecret": {
                "vaultUri": vault_uri,
                "name": super::resources::APP_INSIGHTS_SECRET,
            }}),
        );
    }
    if let Some(apim) = &ids.apim
        && let Some(gw) = field(bodies, apim, "/properties/gatewayUrl")
    {
        endpoints.insert("apiManagementGateway".into(), gw.to_string());
    }
    if let (Some(fd), Some(f)) = (&ids.front_door, &s.front_door)
        && let Some(host) = field(
            bodies,
            &fd.child("afdEndpoints", &f.endpoint),
            "/properties/hostName",
        )
    {
        endpoints.insert("frontDoor".into(), format!("https://{host}"));
    }

    // The bots' namespaces: where the operator may read credential Secrets (the chart
    // grants it per namespace, never cluster-wide).
    let credential_namespaces: std::collections::BTreeSet<&str> =
        s.bot_namespaces.iter().map(String::as_str).collect();
    let mut helm_values = json!({
        "azure": {
            "enabled": true,
            "cloud": s.cloud.as_str(),
            "subscriptionId": s.subscription_id,
            "tenantId": s.tenant_id,
            "resourceGroup": s.resource_group.name,
            "cosmos": {"account": s.cosmos.account, "database": s.cosmos.database, "endpoint": cosmos_endpoint},
            "keyVault": {"name": s.key_vault.name, "uri": vault_uri},
            "serviceBus": {"namespace": s.service_bus.namespace, "endpoint": sb_endpoint},
            "oidcIssuer": oidc.clone().unwrap_or_default(),
        },
        "image": {"registry": login_server},
        // The chart's ServiceAccount must be the one the operator identity federates.
        "serviceAccount": {
            "name": s.identities.operator.service_accounts.first().map(|sa| sa.name.clone()).unwrap_or_default(),
            "annotations": {"azure.workload.identity/client-id": operator_client},
        },
        "podLabels": {"azure.workload.identity/use": "true"},
        "credentialNamespaces": credential_namespaces,
    });
    // A private environment's API Management reaches the platform's API on an internal
    // load balancer at the backend URL's address and port.
    if let (Some(_), Some(apim)) = (&s.network, &s.api_management) {
        let (ip, port) = internal_load_balancer(&apim.backend_url);
        helm_values["platform"] = json!({"serve": {"api": {"internalLoadBalancer": {
            "enabled": true,
            "port": port,
            "loadBalancerIP": ip.unwrap_or_default(),
        }}}});
    }
    if collector_client.is_some() {
        // The chart's collector reads the connection string from the vault as that
        // identity (the cluster's CSI add-on is on), and the programs export to it.
        helm_values["telemetry"] =
            json!({"collector": {"enabled": true, "keyVault": {"enabled": true}}});
    }
    if let Some(azure) = helm_values.get_mut("azure").and_then(Value::as_object_mut) {
        azure.extend(extra);
        if let Some(cosmos) = azure.get_mut("cosmos").and_then(Value::as_object_mut)
            && let Some(md) = &s.market_data
        {
            cosmos.insert("marketDataContainer".into(), json!(md.container));
        }
    }
    let mut identity_client_ids = BTreeMap::from([("operator".to_string(), operator_client)]);
    if let Some(c) = platform_client {
        identity_client_ids.insert("platform".into(), c);
    }
    if let Some(c) = feed_client {
        identity_client_ids.insert("feed".into(), c);
    }
    if let Some(c) = collector_client {
        identity_client_ids.insert("collector".into(), c);
    }
    Ok(Outputs {
        environment: env.metadata.name.clone(),
        resource_ids,
        endpoints,
        identity_client_ids,
        oidc_issuer_url: oidc,
        aks_credentials_command: credentials_command(env),
        helm_values,
    })
}

/// The internal load balancer's address (when the backend URL names an IPv4 address)
/// and port (the URL's, else its scheme's).
pub fn internal_load_balancer(backend_url: &str) -> (Option<String>, u16) {
    let (scheme, rest) = backend_url
        .split_once("://")
        .unwrap_or(("https", backend_url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.starts_with('[') => (h, p.parse().ok()),
        _ => (authority, None),
    };
    let port = port.unwrap_or(if scheme == "http" { 80 } else { 443 });
    let ip = host
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|ip| ip.to_string());
    (ip, port)
}

/// `az aks get-credentials --resource-group X --name Y` (with the subscription, so it works
/// whatever `az account show` says).
pub fn credentials_command(env: &Environment) -> String {
    format!(
        "az aks get-credentials --subscription {} --resource-group {} --name {}",
        env.spec.subscription_id, env.spec.resource_group.name, env.spec.aks.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_internal_load_balancer_takes_the_backend_urls_address_and_port() {
        assert_eq!(
            internal_load_balancer("http://10.40.15.250"),
            (Some("10.40.15.250".into()), 80)
        );
        assert_eq!(
            internal_load_balancer("https://10.40.15.250:8081/api"),
            (Some("10.40.15.250".into()), 8081)
        );
        assert_eq!(
            internal_load_balancer("https://platform.internal.example"),
            (None, 443)
        );
    }
}
