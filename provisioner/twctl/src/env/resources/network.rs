//! Private networking: the VNet with its subnets and their NSGs, an optional DDoS
//! protection plan, and for each data service a private endpoint, its private DNS zone,
//! the zone's link to the VNet and the endpoint's DNS zone group (its A record).

use serde_json::{Value, json};
use tradewind_azure::arm::ResourceId;

use super::{Builder, Resource, ResourceKind};

/// The NSG of a subnet.
fn nsg_id(b: &Builder, vnet: &str, subnet: &str) -> ResourceId {
    b.ids.resource_group.provider(
        "Microsoft.Network",
        "networkSecurityGroups",
        &format!("{vnet}-{subnet}-nsg"),
    )
}

/// An inbound allow rule.
fn allow(name: &str, priority: u32, source: &str, destination: &str, port: &str) -> Value {
    json!({"name": name, "properties": {
        "priority": priority,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp",
        "sourceAddressPrefix": source,
        "sourcePortRange": "*",
        "destinationAddressPrefix": destination,
        "destinationPortRange": port,
    }})
}

/// The VNet, one NSG per subnet, and the DDoS plan when switched on.
pub(super) fn resources(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let (Some(vnet_id), Some(n)) = (&b.ids.vnet, &s.network) else {
        return vec![];
    };
    let mut out = Vec::new();
    let mut subnets = Vec::new();
    let mut deps = vec![b.ids.resource_group.clone()];
    for (name, cidr) in n.subnets() {
        let nsg = nsg_id(b, &n.vnet, name);
        // API Management in a VNet (external mode) needs its management endpoint and the
        // load balancer; clients reach it on 443, only from Front Door when there is one.
        let rules = if name == "apim" {
            let clients = if s.front_door.is_some() {
                "AzureFrontDoor.Backend"
            } else {
                "Internet"
            };
            vec![
                allow(
                    "ApiManagement",
                    100,
                    "ApiManagement",
                    "VirtualNetwork",
                    "3443",
                ),
                allow(
                    "AzureLoadBalancer",
                    110,
                    "AzureLoadBalancer",
                    "VirtualNetwork",
                    "6390",
                ),
                allow("Clients", 120, clients, "VirtualNetwork", "443"),
            ]
        } else {
            vec![]
        };
        out.push(b.top(
            &nsg,
            ResourceKind::NetworkSecurityGroup,
            json!({"properties": {"securityRules": rules}}),
        ));
        let mut props = json!({
            "addressPrefix": cidr,
            "networkSecurityGroup": {"id": nsg.as_str()},
        });
        if name == "private-endpoints" {
            // NSGs apply to private endpoints only with network policies on.
            props["privateEndpointNetworkPolicies"] = json!("Enabled");
        }
        subnets.push(json!({"name": name, "properties": props}));
        deps.push(nsg);
    }
    let mut vnet_props = json!({
        "addressSpace": {"addressPrefixes": [n.address_space]},
        "subnets": subnets,
    });
    if n.ddos_protection {
        let plan = b.ids.resource_group.provider(
            "Microsoft.Network",
            "ddosProtectionPlans",
            &format!("{}-ddos", n.vnet),
        );
        out.push(b.top(
            &plan,
            ResourceKind::DdosProtectionPlan,
            json!({"properties": {}}),
        ));
        vnet_props["enableDdosProtection"] = json!(true);
        vnet_props["ddosProtectionPlan"] = json!({"id": plan.as_str()});
        deps.push(plan);
    }
    let mut vnet = b.top(
        vnet_id,
        ResourceKind::VirtualNetwork,
        json!({"properties": vnet_props}),
    );
    vnet.depends_on = deps;
    out.push(vnet);
    out
}

/// A service reached privately: its ID, the private-link group and the DNS zone.
fn targets(b: &Builder) -> Vec<(ResourceId, &'static str, &'static str)> {
    let mut t = vec![
        (
            b.ids.cosmos.clone(),
            "Sql",
            "privatelink.documents.azure.com",
        ),
        (
            b.ids.key_vault.clone(),
            "vault",
            "privatelink.vaultcore.azure.net",
        ),
        (
            b.ids.service_bus.clone(),
            "namespace",
            "privatelink.servicebus.windows.net",
        ),
        (b.ids.acr.clone(), "registry", "privatelink.azurecr.io"),
    ];
    if let Some(st) = &b.ids.storage {
        t.push((st.clone(), "blob", "privatelink.blob.core.windows.net"));
    }
    if let Some(pg) = &b.ids.postgres {
        t.push((
            pg.clone(),
            "postgresqlServer",
            "privatelink.postgres.database.azure.com",
        ));
    }
    t
}

/// Per data service: the private endpoint, its DNS zone, the zone's VNet link and the
/// endpoint's zone group.
pub(super) fn private_endpoints(b: &Builder) -> Vec<Resource> {
    let (Some(vnet), Some(n)) = (&b.ids.vnet, &b.spec().network) else {
        return vec![];
    };
    let subnet = vnet.child("subnets", "private-endpoints");
    let mut out = Vec::new();
    for (service, group, zone) in targets(b) {
        let zone_id = b
            .ids
            .resource_group
            .provider("Microsoft.Network", "privateDnsZones", zone);
        out.push(b.global(
            &zone_id,
            ResourceKind::PrivateDnsZone,
            json!({"properties": {}}),
        ));
        let mut link = b.global(
            &zone_id.child("virtualNetworkLinks", &format!("{}-link", n.vnet)),
            ResourceKind::PrivateDnsZoneLink,
            json!({"properties": {
                "virtualNetwork": {"id": vnet.as_str()},
                "registrationEnabled": false,
            }}),
        );
        link.depends_on = vec![zone_id.clone(), vnet.clone()];
        out.push(link);
        let pe_id = b.ids.resource_group.provider(
            "Microsoft.Network",
            "privateEndpoints",
            &format!("{}-pe", service.name()),
        );
        let mut pe = b.top(
            &pe_id,
            ResourceKind::PrivateEndpoint,
            json!({"properties": {
                "subnet": {"id": subnet.as_str()},
                "privateLinkServiceConnections": [{
                    "name": service.name(),
                    "properties": {"privateLinkServiceId": service.as_str(), "groupIds": [group]},
                }],
            }}),
        );
        pe.depends_on = vec![vnet.clone(), service.clone()];
        out.push(pe);
        out.push(b.child(
            pe_id.child("privateDnsZoneGroups", "default"),
            ResourceKind::PrivateDnsZoneGroup,
            &[&pe_id, &zone_id],
            json!({"properties": {"privateDnsZoneConfigs": [{
                "name": zone.replace('.', "-"),
                "properties": {"privateDnsZoneId": zone_id.as_str()},
            }]}}),
        ));
    }
    out
}
