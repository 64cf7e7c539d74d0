//! The edge: API Management with the platform API imported from its OpenAPI document and a
//! rate-limit-by-key policy, and Front Door (WAF policy attached) with API Management as
//! its only origin. API Management accepts only requests carrying this Front Door's ID.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Builder, Resource, ResourceKind, reference};
use crate::env::spec::{ApimSku, FrontDoorSku, RateLimitKey, WafMode};

/// The API's ID in API Management.
pub const API_ID: &str = "tradewind-platform";
/// The named value holding the Front Door ID the policy checks.
pub const FRONT_DOOR_ID_VALUE: &str = "frontdoor-id";

/// The inbound policy: only via Front Door (when there is one), then `rate-limit-by-key`.
pub fn policy_xml(front_door: bool, calls: u32, period: u32, key: RateLimitKey) -> String {
    let counter = match (key, front_door) {
        (RateLimitKey::Subscription, _) => "@(context.Subscription.Id)",
        // Behind Front Door the TCP peer is Front Door; it passes the client's address.
        (RateLimitKey::ClientIp, true) => {
            "@(context.Request.Headers.GetValueOrDefault(&quot;X-Azure-ClientIP&quot;, context.Request.IpAddress))"
        }
        (RateLimitKey::ClientIp, false) => "@(context.Request.IpAddress)",
    };
    let check = if front_door {
        format!(
            "<check-header name=\"X-Azure-FDID\" failed-check-httpcode=\"403\" failed-check-error-message=\"Requests must come through Front Door\" ignore-case=\"true\"><value>{{{{{FRONT_DOOR_ID_VALUE}}}}}</value></check-header>"
        )
    } else {
        String::new()
    };
    format!(
        "<policies><inbound><base />{check}<rate-limit-by-key calls=\"{calls}\" renewal-period=\"{period}\" counter-key=\"{counter}\" /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"
    )
}

/// The service, the API, the policy and (with Front Door) the named value.
pub(super) fn api_management(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let (Some(id), Some(a)) = (&b.ids.apim, &s.api_management) else {
        return vec![];
    };
    let capacity = if a.sku == ApimSku::Consumption {
        0
    } else {
        a.capacity
    };
    let mut props = json!({"publisherEmail": a.publisher_email, "publisherName": a.publisher_name});
    if let Some(vnet) = &b.ids.vnet {
        // External mode: the gateway has a public address (Front Door's origin) and
        // reaches the platform's private address inside the VNet.
        props["virtualNetworkType"] = json!("External");
        props["virtualNetworkConfiguration"] =
            json!({"subnetResourceId": vnet.child("subnets", "apim").as_str()});
    }
    let mut body =
        json!({"sku": {"name": a.sku.as_str(), "capacity": capacity}, "properties": props});
    if !a.zones.is_empty() {
        body["zones"] = json!(a.zones);
    }
    let mut service = b.top(id, ResourceKind::ApiManagement, body);
    if let Some(vnet) = &b.ids.vnet {
        service.depends_on.push(vnet.clone());
    }
    let mut out = vec![service];

    // The document: inline from a file, or a link API Management fetches. ARM does not
    // return either, so a digest in the description makes a changed document an update.
    let (format, value) = match (&a.open_api.document, &a.open_api.url) {
        (Some(doc), _) => ("openapi+json", doc.clone()),
        (None, Some(url)) => ("openapi+json-link", url.clone()),
        (None, None) => ("openapi+json-link", String::new()),
    };
    let digest: String = Sha256::digest(value.as_bytes())
        .iter()
        .take(8)
        .map(|x| format!("{x:02x}"))
        .collect();
    let api_id = id.child("apis", API_ID);
    let mut api = b.child(
        api_id.clone(),
        ResourceKind::ApiManagementApi,
        &[id],
        json!({"properties": {
            "displayName": "Tradewind platform API",
            "description": format!("Imported by twctl from the platform's OpenAPI document (sha256 {digest}…)"),
            "path": a.path,
            "protocols": ["https"],
            "serviceUrl": a.backend_url,
            "subscriptionRequired": true,
            "format": format,
            "value": value,
        }}),
    );
    api.ignore = vec!["/properties/format".into(), "/properties/value".into()];
    out.push(api);

    let mut policy_deps = vec![&api_id];
    let named_value = id.child("namedValues", FRONT_DOOR_ID_VALUE);
    if let Some(fd) = &b.ids.front_door {
        out.push(b.child(
            named_value.clone(),
            ResourceKind::ApiManagementNamedValue,
            &[id, fd],
            json!({"properties": {
                "displayName": FRONT_DOOR_ID_VALUE,
                "value": reference(fd, "/properties/frontDoorId"),
                "secret": false,
            }}),
        ));
        policy_deps.push(&named_value);
    }
    out.push(b.child(
        api_id.child("policies", "policy"),
        ResourceKind::ApiManagementPolicy,
        &policy_deps,
        json!({"properties": {
            "format": "xml",
            "value": policy_xml(
                b.ids.front_door.is_some(),
                a.rate_limit.calls,
                a.rate_limit.renewal_period_seconds,
                a.rate_limit.key,
            ),
        }}),
    ));
    out
}

/// The WAF policy, the profile, its endpoint, origin group, origin (API Management),
/// route, and the security policy attaching the WAF to the endpoint.
pub(super) fn front_door(b: &Builder) -> Vec<Resource> {
    let s = b.spec();
    let (Some(profile), Some(f), Some(apim), Some(a)) = (
        &b.ids.front_door,
        &s.front_door,
        &b.ids.apim,
        &s.api_management,
    ) else {
        return vec![];
    };
    let rg = &b.ids.resource_group;
    let waf_id = rg.provider(
        "Microsoft.Network",
        "FrontDoorWebApplicationFirewallPolicies",
        &f.waf_policy,
    );
    let mut waf_props = json!({
        "policySettings": {
            "enabledState": "Enabled",
            "mode": match f.waf_mode { WafMode::Prevention => "Prevention", WafMode::Detection => "Detection" },
        },
        "customRules": {"rules": [{
            "name": "RateLimitPerClientIp",
            "priority": 100,
            "enabledState": "Enabled",
            "ruleType": "RateLimitRule",
            "rateLimitDurationInMinutes": 1,
            "rateLimitThreshold": f.rate_limit_per_minute,
            "matchConditions": [{"matchVariable": "RequestUri", "operator": "Any", "negateCondition": false, "matchValue": []}],
            "action": "Block",
        }]},
    });
    if f.sku == FrontDoorSku::Premium {
        // Managed rule sets (OWASP-based default rules, bad bots) need Premium.
        waf_props["managedRules"] = json!({"managedRuleSets": [
            {"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.1", "ruleSetAction": "Block"},
            {"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.1"},
        ]});
    }
    let mut out = vec![b.global(
        &waf_id,
        ResourceKind::WafPolicy,
        json!({"sku": {"name": f.sku.as_str()}, "properties": waf_props}),
    )];
    out.push(b.global(
        profile,
        ResourceKind::FrontDoorProfile,
        json!({"sku": {"name": f.sku.as_str()}, "properties": {"originResponseTimeoutSeconds": 60}}),
    ));
    let endpoint = profile.child("afdEndpoints", &f.endpoint);
    let mut ep = b.global(
        &endpoint,
        ResourceKind::FrontDoorEndpoint,
        json!({"properties": {"enabledState": "Enabled"}}),
    );
    ep.depends_on = vec![profile.clone()];
    out.push(ep);
    let group = profile.child("originGroups", "apim");
    out.push(b.child(
        group.clone(),
        ResourceKind::FrontDoorOriginGroup,
        &[profile],
        json!({"properties": {
            "loadBalancingSettings": {"sampleSize": 4, "successfulSamplesRequired": 3, "additionalLatencyInMilliseconds": 50},
            // API Management's own health endpoint.
            "healthProbeSettings": {"probePath": "/status-0123456789abcdef", "probeRequestType": "HEAD", "probeProtocol": "Https", "probeIntervalInSeconds": 100},
            "sessionAffinityState": "Disabled",
        }}),
    ));
    let host = format!("{}.azure-api.net", a.name);
    let origin = group.child("origins", "apim");
    out.push(b.child(
        origin.clone(),
        ResourceKind::FrontDoorOrigin,
        &[&group, apim],
        json!({"properties": {
            "hostName": host,
            "originHostHeader": host,
            "httpPort": 80,
            "httpsPort": 443,
            "priority": 1,
            "weight": 1000,
            "enabledState": "Enabled",
            "enforceCertificateNameCheck": true,
        }}),
    ));
    out.push(b.child(
        endpoint.child("routes", "api"),
        ResourceKind::FrontDoorRoute,
        &[&endpoint, &group, &origin],
        json!({"properties": {
            "originGroup": {"id": group.as_str()},
            "supportedProtocols": ["Https"],
            "patternsToMatch": ["/*"],
            "forwardingProtocol": "HttpsOnly",
            "linkToDefaultDomain": "Enabled",
            "httpsRedirect": "Enabled",
            "enabledState": "Enabled",
        }}),
    ));
    out.push(b.child(
        profile.child("securityPolicies", "waf"),
        ResourceKind::FrontDoorSecurityPolicy,
        &[profile, &endpoint, &waf_id],
        json!({"properties": {"parameters": {
            "type": "WebApplicationFirewall",
            "wafPolicy": {"id": waf_id.as_str()},
            "associations": [{"domains": [{"id": endpoint.as_str()}], "patternsToMatch": ["/*"]}],
        }}}),
    ));
    out
}
