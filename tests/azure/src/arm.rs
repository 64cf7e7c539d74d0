//! Azure Resource Manager: path parsing, the verbs, long-running operations, faults.

use serde_json::{Map, Value, json};

use crate::state::{Audience, OpKind, OpStatus, Operation, State, Stored};
use crate::types::{self, DeleteMode, Headers, PutMode, TypeSpec};
use crate::util::{Reply, arm_error, norm_location, now_rfc3339, random_uuid, uuid_from};

/// An ARM request, already split up by the server.
pub(crate) struct ArmRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

/// What a path addresses.
enum Target {
    /// A long-running operation's status (`result == false`) or result URL.
    Operation {
        id: String,
        result: bool,
    },
    /// One resource (or resource group).
    Resource(Addr),
    /// A collection: all children of `type_key` directly under `parent_key`.
    Collection {
        type_key: String,
        parent_key: String,
    },
    Unknown,
}

/// A parsed resource address.
struct Addr {
    type_key: String,
    /// Scope segments before `/providers/` (empty for resource groups).
    scope: String,
    /// Names after each type segment, original case.
    names: Vec<String>,
    sub: String,
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn parse(path: &str) -> Target {
    let segs = segments(path);
    let n = segs.len();
    if n >= 2 {
        let kind = segs[n - 2].to_ascii_lowercase();
        if kind == "operationstatuses" || kind == "operationresults" {
            return Target::Operation {
                id: segs[n - 1].to_owned(),
                result: kind == "operationresults",
            };
        }
    }
    if n < 2 || !segs[0].eq_ignore_ascii_case("subscriptions") {
        return Target::Unknown;
    }
    let sub = segs[1].to_owned();
    let Some(p) = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    else {
        return match n {
            3 if segs[2].eq_ignore_ascii_case("resourcegroups") => Target::Collection {
                type_key: "microsoft.resources/resourcegroups".into(),
                parent_key: format!("/subscriptions/{sub}").to_ascii_lowercase(),
            },
            4 if segs[2].eq_ignore_ascii_case("resourcegroups") => Target::Resource(Addr {
                type_key: "microsoft.resources/resourcegroups".into(),
                scope: format!("/subscriptions/{sub}"),
                names: vec![segs[3].to_owned()],
                sub,
            }),
            _ => Target::Unknown,
        };
    };
    if p + 2 > n || p < 2 {
        return Target::Unknown;
    }
    let scope = canonical_scope(&segs[..p]);
    let ns = segs[p + 1];
    let rest = &segs[p + 2..];
    let types: Vec<&str> = rest.iter().step_by(2).copied().collect();
    let names: Vec<String> = rest
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| (*s).to_owned())
        .collect();
    let type_key = format!("{ns}/{}", types.join("/")).to_ascii_lowercase();
    if types.is_empty() {
        return Target::Unknown;
    }
    if names.len() < types.len() {
        // A collection: build the parent from the named pairs.
        let parent_key = if names.is_empty() {
            scope.to_ascii_lowercase()
        } else {
            let mut id = format!("{scope}/providers/{ns}");
            for (t, nm) in types.iter().zip(&names) {
                id.push_str(&format!("/{t}/{nm}"));
            }
            id.to_ascii_lowercase()
        };
        return Target::Collection {
            type_key,
            parent_key,
        };
    }
    Target::Resource(Addr {
        type_key,
        scope,
        names,
        sub,
    })
}

/// `/subscriptions/{s}/resourceGroups/{rg}/...` with ARM's spelling of the fixed segments.
fn canonical_scope(segs: &[&str]) -> String {
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        out.push('/');
        if i == 0 && s.eq_ignore_ascii_case("subscriptions") {
            out.push_str("subscriptions");
        } else if i == 2 && s.eq_ignore_ascii_case("resourcegroups") {
            out.push_str("resourceGroups");
        } else if s.eq_ignore_ascii_case("providers") {
            out.push_str("providers");
        } else {
            out.push_str(s);
        }
    }
    out
}

/// A resource address resolved against its type.
struct Res {
    spec: &'static TypeSpec,
    id: String,
    key: String,
    name: String,
    sub: String,
    /// Resource group name when the resource lives in one.
    rg: Option<String>,
    /// Lower-case id of the parent that must exist (`None`: the subscription).
    parent: Option<(String, String)>,
    scope: String,
}

fn resolve(st: &State, a: &Addr, spec: &'static TypeSpec) -> Res {
    let display: Vec<&str> = spec.display.split('/').collect();
    let name = a.names.last().cloned().unwrap_or_default();
    let scope_segs = segments(&a.scope);
    let rg = if scope_segs.len() >= 4 && scope_segs[2].eq_ignore_ascii_case("resourcegroups") {
        Some(scope_segs[3].to_owned())
    } else {
        None
    };
    if spec.display == "Microsoft.Resources/resourceGroups" {
        let id = format!("/subscriptions/{}/resourceGroups/{name}", a.sub);
        return Res {
            spec,
            key: id.to_ascii_lowercase(),
            id,
            name: name.clone(),
            sub: a.sub.clone(),
            rg: Some(name),
            parent: None,
            scope: a.scope.clone(),
        };
    }
    // A scope that is itself a resource keeps its stored spelling.
    let scope = st
        .resources
        .get(&a.scope.to_ascii_lowercase())
        .map(|r| r.id.clone())
        .unwrap_or_else(|| a.scope.clone());
    let build = |upto: usize| {
        let mut id = format!("{scope}/providers/{}", display[0]);
        for (t, nm) in display[1..].iter().zip(&a.names).take(upto) {
            id.push_str(&format!("/{t}/{nm}"));
        }
        id
    };
    let id = build(a.names.len());
    let mut parent_len = a.names.len() - 1;
    // blobServices/default is implicit: the container's parent is the account.
    if parent_len > 0 && display[parent_len].eq_ignore_ascii_case("blobServices") {
        parent_len -= 1;
    }
    let parent = if parent_len > 0 {
        Some((
            build(parent_len).to_ascii_lowercase(),
            a.names[parent_len - 1].clone(),
        ))
    } else if scope_segs.len() > 2 {
        let pname = scope_segs
            .last()
            .map(|s| (*s).to_owned())
            .unwrap_or_default();
        Some((scope.to_ascii_lowercase(), pname))
    } else {
        None
    };
    Res {
        spec,
        key: id.to_ascii_lowercase(),
        id,
        name,
        sub: a.sub.clone(),
        rg,
        parent,
        scope,
    }
}

/// Handles one request to `management.localhost`.
pub(crate) fn handle(st: &mut State, req: &ArmRequest<'_>) -> Reply {
    if let Some(r) = check_auth(st, req.authorization) {
        return r;
    }
    if let Some(r) = injected_fault(st) {
        return r;
    }
    if req.method == "POST" {
        return post(st, req);
    }
    let target = parse(req.path);
    if let Target::Operation { id, result } = &target {
        return poll(st, id, *result);
    }
    let Some(api_version) = crate::util::query_get(req.query, "api-version") else {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    match target {
        Target::Resource(a) => {
            let Some(spec) = types::spec(&a.type_key) else {
                return unknown_type(&a.type_key, &api_version);
            };
            if let Some(r) = check_version(spec, &api_version) {
                return r;
            }
            let res = resolve(st, &a, spec);
            match req.method {
                "GET" => get(st, &res),
                "PUT" => put(st, &res, req.body, &api_version),
                "PATCH" => patch(st, &res, req.body),
                "DELETE" => delete(st, &res, &api_version),
                m => arm_error(
                    405,
                    "MethodNotAllowed",
                    format!("The requested resource does not support http method '{m}'."),
                ),
            }
        }
        Target::Collection {
            type_key,
            parent_key,
        } => {
            let Some(spec) = types::spec(&type_key) else {
                return unknown_type(&type_key, &api_version);
            };
            if let Some(r) = check_version(spec, &api_version) {
                return r;
            }
            if req.method != "GET" {
                return arm_error(
                    405,
                    "MethodNotAllowed",
                    format!(
                        "The requested resource does not support http method '{}'.",
                        req.method
                    ),
                );
            }
            let prefix = format!("{parent_key}/");
            let value: Vec<Value> = st
                .resources
                .iter()
                .filter(|(k, r)| r.type_key == type_key && k.starts_with(&prefix))
                .filter(|(k, _)| {
                    // Direct children only, except role assignments (listed at and below a scope).
                    type_key == "microsoft.authorization/roleassignments"
                        || k[prefix.len()..].split('/').count() <= 4
                })
                .map(|(_, r)| r.body.clone())
                .collect();
            Reply::json(200, &json!({ "value": value }))
        }
        Target::Operation { .. } | Target::Unknown => arm_error(
            404,
            "NotFound",
            format!("No route for '{}' in the Azure fake.", req.path),
        ),
    }
}

/// Resource actions (`POST {id}/{action}`): Cosmos DB `failoverPriorityChange` and a
/// storage account's customer-initiated `failover`, each a long-running operation.
fn post(st: &mut State, req: &ArmRequest<'_>) -> Reply {
    let Some(api_version) = crate::util::query_get(req.query, "api-version") else {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    let (path, action) = req
        .path
        .trim_end_matches('/')
        .rsplit_once('/')
        .unwrap_or(("", ""));
    let Target::Resource(a) = parse(path) else {
        return arm_error(
            404,
            "NotFound",
            format!("No action route for '{}'.", req.path),
        );
    };
    let Some(spec) = types::spec(&a.type_key) else {
        return unknown_type(&a.type_key, &api_version);
    };
    if let Some(r) = check_version(spec, &api_version) {
        return r;
    }
    let res = resolve(st, &a, spec);
    let Some(stored) = st.resources.get(&res.key) else {
        return not_found(&res);
    };
    let mut body = stored.body.clone();
    let input: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
    let headers = match (spec.display, action.to_ascii_lowercase().as_str()) {
        ("Microsoft.DocumentDB/databaseAccounts", "failoverprioritychange") => {
            if let Err(msg) = cosmos_failover(&mut body, &input) {
                return arm_error(400, "BadRequest", msg);
            }
            Headers::Both
        }
        ("Microsoft.Storage/storageAccounts", "failover") => {
            let sku = body
                .pointer("/sku/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !(sku.contains("GRS") || sku.contains("GZRS")) {
                return arm_error(
                    400,
                    "FailoverNotSupported",
                    format!(
                        "Failover is not supported for the account's SKU '{sku}'; it needs geo-redundant storage."
                    ),
                );
            }
            // After a failover the account is locally redundant in the former secondary.
            body["sku"]["name"] = json!(
                sku.replace("RAGZRS", "ZRS")
                    .replace("GZRS", "ZRS")
                    .replace("RAGRS", "LRS")
                    .replace("GRS", "LRS")
            );
            body["properties"]["lastGeoFailoverTime"] = json!(now_rfc3339());
            Headers::Location
        }
        _ => {
            return arm_error(
                400,
                "InvalidAction",
                format!(
                    "The action '{action}' is not supported on '{}' by the Azure fake.",
                    spec.display
                ),
            );
        }
    };
    if let Some(s) = st.resources.get_mut(&res.key) {
        s.body = body.clone();
    }
    let op = start_op(st, &res, OpKind::Put);
    let ns = spec.display.split('/').next().unwrap_or("");
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .map(norm_location)
        .unwrap_or_else(|| "global".into());
    let ra = st.config.retry_after_secs.to_string();
    lro_headers(
        Reply::empty(202),
        st,
        headers,
        &res.sub,
        ns,
        &location,
        &op,
        &api_version,
    )
    .header("retry-after", ra)
}

/// Applies `failoverPolicies` to an account: every region once, priorities 0..n.
fn cosmos_failover(body: &mut Value, input: &Value) -> Result<(), String> {
    let policies = input
        .get("failoverPolicies")
        .and_then(Value::as_array)
        .ok_or("failoverPolicies is required")?;
    let mut wanted: Vec<(String, u64)> = Vec::new();
    for p in policies {
        let name = p
            .get("locationName")
            .and_then(Value::as_str)
            .ok_or("locationName is required")?;
        let prio = p
            .get("failoverPriority")
            .and_then(Value::as_u64)
            .ok_or("failoverPriority is required")?;
        wanted.push((norm_location(name), prio));
    }
    let locations = body
        .pointer_mut("/properties/locations")
        .and_then(Value::as_array_mut)
        .ok_or("the account has no locations")?;
    let mut prios: Vec<u64> = wanted.iter().map(|w| w.1).collect();
    prios.sort_unstable();
    if wanted.len() != locations.len() || prios.iter().enumerate().any(|(i, p)| *p != i as u64) {
        return Err(
            "failoverPolicies must name every region of the account once, with priorities 0..n"
                .into(),
        );
    }
    for l in locations.iter_mut() {
        let name = l
            .get("locationName")
            .and_then(Value::as_str)
            .map(norm_location)
            .unwrap_or_default();
        let Some((_, prio)) = wanted.iter().find(|w| w.0 == name) else {
            return Err(format!(
                "the account has no region in failoverPolicies for {name}"
            ));
        };
        l["failoverPriority"] = json!(prio);
    }
    let locs = locations.clone();
    let write: Vec<Value> = locs
        .iter()
        .filter(|l| l["failoverPriority"] == 0)
        .cloned()
        .collect();
    body["properties"]["writeLocations"] = json!(write);
    body["properties"]["failoverPolicies"] = json!(locs
        .iter()
        .map(|l| json!({"id": l["id"], "locationName": l["locationName"], "failoverPriority": l["failoverPriority"]}))
        .collect::<Vec<_>>());
    Ok(())
}

fn unknown_type(type_key: &str, api_version: &str) -> Reply {
    let (ns, ty) = type_key.split_once('/').unwrap_or((type_key, ""));
    arm_error(
        400,
        "InvalidResourceType",
        format!(
            "The resource type '{ty}' could not be found in the namespace '{ns}' for api version '{api_version}'."
        ),
    )
}

fn check_version(spec: &TypeSpec, v: &str) -> Option<Reply> {
    if spec.versions.contains(&v) {
        return None;
    }
    let (ns, ty) = spec.display.split_once('/').unwrap_or((spec.display, ""));
    Some(arm_error(
        400,
        "InvalidApiVersionParameter",
        format!(
            "The api-version '{v}' is invalid. The supported versions for resource type '{ty}' in namespace '{ns}' are '{}'.",
            spec.versions.join(",")
        ),
    ))
}

/// `None` when the bearer token was issued for the management audience.
fn check_auth(st: &State, authorization: Option<&str>) -> Option<Reply> {
    let www = "Bearer authorization_uri=\"https://login.localhost/\", error=\"invalid_token\"";
    let Some(token) = bearer(authorization) else {
        return Some(
            arm_error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
            .header("www-authenticate", www),
        );
    };
    match st.tokens.get(token) {
        Some(t) if t.audience == Audience::Management => None,
        Some(_) => Some(
            arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid: it was issued for a different audience than Azure Resource Manager.",
            )
            .header("www-authenticate", www),
        ),
        None => Some(
            arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            )
            .header("www-authenticate", www),
        ),
    }
}

/// The token of an `Authorization: Bearer ...` header.
pub(crate) fn bearer(h: Option<&str>) -> Option<&str> {
    let h = h?.trim();
    let (scheme, token) = h.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

fn injected_fault(st: &mut State) -> Option<Reply> {
    if let Some((n, secs)) = st.throttle {
        st.throttle = (n > 1).then(|| (n - 1, secs));
        return Some(
            arm_error(
                429,
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:01:00. For more information, see - https://aka.ms/srpthrottlinglimits",
            )
            .header("retry-after", secs.to_string()),
        );
    }
    let (status, left) = st.failures.pop_front()?;
    if left > 1 {
        st.failures.push_front((status, left - 1));
    }
    let code = match status {
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "InjectedFault",
    };
    Some(arm_error(
        status,
        code,
        format!("Injected fault ({status}) from the Azure fake."),
    ))
}

fn not_found(res: &Res) -> Reply {
    if res.spec.display == "Microsoft.Resources/resourceGroups" {
        return rg_not_found(&res.name);
    }
    arm_error(
        404,
        "ResourceNotFound",
        format!(
            "The Resource '{}/{}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            res.spec.display,
            res.name,
            res.rg.as_deref().unwrap_or("")
        ),
    )
}

fn rg_not_found(rg: &str) -> Reply {
    arm_error(
        404,
        "ResourceGroupNotFound",
        format!("Resource group '{rg}' could not be found."),
    )
}

/// 404 when the resource group or the parent resource is missing.
fn check_parents(st: &State, res: &Res) -> Option<Reply> {
    if res.spec.display == "Microsoft.Resources/resourceGroups" {
        return None;
    }
    if let Some(rg) = &res.rg {
        let rg_key = format!("/subscriptions/{}/resourcegroups/{rg}", res.sub).to_ascii_lowercase();
        if !st.resources.contains_key(&rg_key) {
            return Some(rg_not_found(rg));
        }
    }
    let (pkey, pname) = res.parent.as_ref()?;
    if st.resources.contains_key(pkey) || is_live_secret(st, pkey) {
        return None;
    }
    if segments(pkey).len() <= 4 {
        return None;
    }
    Some(arm_error(
        404,
        "ParentResourceNotFound",
        format!(
            "Can not perform requested operation on nested resource. Parent resource '{pname}' not found."
        ),
    ))
}

/// Whether a lower-case id `.../providers/microsoft.keyvault/vaults/{v}/secrets/{s}`
/// names a secret the vault's data plane holds (not soft-deleted): ARM knows secrets as
/// resources too, so they are scopes for role assignments.
fn is_live_secret(st: &State, key: &str) -> bool {
    let segs = segments(key);
    let n = segs.len();
    n >= 6
        && segs[n - 5] == "microsoft.keyvault"
        && segs[n - 4] == "vaults"
        && segs[n - 2] == "secrets"
        && st
            .secrets
            .get(segs[n - 3])
            .and_then(|vault| vault.get(segs[n - 1]))
            .is_some_and(|secret| secret.deleted.is_none())
}

/// Cosmos DB refuses a SQL role assignment whose scope or role definition is not in the
/// account (400 BadRequest).
fn sql_role_assignment_invalid(res: &Res, new: &Value) -> Option<Reply> {
    let account = res
        .id
        .to_ascii_lowercase()
        .split("/sqlroleassignments/")
        .next()
        .unwrap_or_default()
        .to_owned();
    let field = |f: &str| {
        new.pointer(&format!("/properties/{f}"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    for f in ["scope", "roleDefinitionId", "principalId"] {
        let Some(v) = field(f) else {
            return Some(arm_error(
                400,
                "BadRequest",
                format!("The {f} of a SQL role assignment is required."),
            ));
        };
        if f != "principalId" && v != account && !v.starts_with(&format!("{account}/")) {
            return Some(arm_error(
                400,
                "BadRequest",
                format!("The provided {f} [{v}] is not within the database account [{account}]."),
            ));
        }
    }
    None
}

fn get(st: &State, res: &Res) -> Reply {
    if let Some(r) = check_parents(st, res) {
        return r;
    }
    match st.resources.get(&res.key) {
        Some(s) => Reply::json(200, &s.body),
        None => not_found(res),
    }
}

fn put(st: &mut State, res: &Res, body: &[u8], api_version: &str) -> Reply {
    let mut new: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return arm_error(
                    400,
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized.",
                );
            }
        }
    };
    if let Err((code, msg)) = types::check_name(res.spec.name_rule, &res.name) {
        return arm_error(400, code, msg);
    }
    if let Some(r) = check_parents(st, res) {
        return r;
    }
    let existing = st.resources.get(&res.key).map(|s| s.body.clone());
    if res.spec.tracked {
        let Some(loc) = new
            .get("location")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return arm_error(
                400,
                "LocationRequired",
                "The location property is required for this definition.",
            );
        };
        if let Some(old) = existing
            .as_ref()
            .and_then(|e| e.get("location"))
            .and_then(Value::as_str)
            && norm_location(old) != norm_location(&loc)
        {
            if res.spec.display == "Microsoft.Resources/resourceGroups" {
                return arm_error(
                    409,
                    "InvalidResourceGroupLocation",
                    format!(
                        "Invalid resource group location '{loc}'. The Resource group already exists in location '{old}'."
                    ),
                );
            }
            return arm_error(
                400,
                "InvalidResourceLocation",
                format!(
                    "The resource '{}' already exists in location '{old}' in resource group '{}'. A resource with the same name cannot be created in location '{loc}'. Please select a new resource name.",
                    res.name,
                    res.rg.as_deref().unwrap_or("")
                ),
            );
        }
    }
    if let Some(r) = immutable_change(res, existing.as_ref(), &new) {
        return r;
    }
    if res.spec.display == "Microsoft.Authorization/roleAssignments"
        && let Some(r) = role_assignment_conflict(st, res, existing.as_ref(), &new)
    {
        return r;
    }
    if res.spec.display == "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments"
        && let Some(r) = sql_role_assignment_invalid(res, &new)
    {
        return r;
    }
    if let Some(obj) = new.as_object_mut() {
        // Read-only envelope fields are the server's.
        obj.remove("id");
        obj.remove("name");
        obj.remove("type");
    }
    crate::computed::fill(
        st,
        res.spec,
        &res.id,
        &res.name,
        &res.scope,
        &mut new,
        existing.as_ref(),
    );
    let creating = existing.is_none();
    let ns = res.spec.display.split('/').next().unwrap_or("");
    let location = new
        .get("location")
        .and_then(Value::as_str)
        .map(norm_location)
        .unwrap_or_else(|| "global".into());
    let ra = st.config.retry_after_secs.to_string();
    let (status, state, headers, empty) = match res.spec.put {
        PutMode::Sync {
            create,
            update,
            state,
        } => (
            if creating { create } else { update },
            state.then_some("Succeeded"),
            None,
            false,
        ),
        PutMode::Async {
            create,
            update,
            create_state,
            update_state,
            headers,
        } => (
            if creating { create } else { update },
            Some(if creating { create_state } else { update_state }),
            Some(headers),
            false,
        ),
        PutMode::Accepted { headers } => (202, None, Some(headers), true),
        PutMode::LocationCreate if creating => {
            (202, Some("Creating"), Some(Headers::Location), true)
        }
        PutMode::LocationCreate => (200, Some("Succeeded"), None, false),
    };
    if let Some(s) = state {
        set_state(&mut new, s);
    }
    st.resources.insert(
        res.key.clone(),
        Stored {
            id: res.id.clone(),
            type_key: res.spec.key(),
            body: new.clone(),
        },
    );
    let mut reply = if empty {
        Reply::empty(status)
    } else {
        Reply::json(status, &new)
    };
    if let Some(h) = headers {
        let op = start_op(st, res, OpKind::Put);
        reply = lro_headers(reply, st, h, &res.sub, ns, &location, &op, api_version)
            .header("retry-after", ra);
    }
    reply
}

/// Changes the real services refuse.
fn immutable_change(res: &Res, existing: Option<&Value>, new: &Value) -> Option<Reply> {
    let old = existing?;
    if res.spec.display == "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers" {
        let pk = |v: &Value| {
            v.pointer("/properties/resource/partitionKey/paths")
                .cloned()
        };
        if pk(old) != pk(new) {
            return Some(arm_error(
                400,
                "BadRequest",
                "Document collection partition key cannot be changed.",
            ));
        }
    }
    if res.spec.display == "Microsoft.Storage/storageAccounts" {
        let kind = |v: &Value| v.get("kind").and_then(Value::as_str).map(str::to_owned);
        if kind(new).is_some() && kind(old) != kind(new) {
            return Some(arm_error(
                409,
                "OperationNotAllowed",
                "Changing the kind of a storage account is not supported by this operation.",
            ));
        }
    }
    None
}

fn role_assignment_conflict(
    st: &State,
    res: &Res,
    existing: Option<&Value>,
    new: &Value,
) -> Option<Reply> {
    let field = |v: &Value, f: &str| {
        v.pointer(&format!("/properties/{f}"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    // Role definition ids may be given at subscription or tenant scope.
    let role = |v: &Value| {
        field(v, "roleDefinitionId").map(|r| r.rsplit('/').next().unwrap_or("").to_owned())
    };
    if let Some(old) = existing
        && (role(old) != role(new) || field(old, "principalId") != field(new, "principalId"))
    {
        return Some(arm_error(
            400,
            "RoleAssignmentUpdateNotPermitted",
            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        ));
    }
    let scope = res.scope.to_ascii_lowercase();
    let dup = st.resources.iter().any(|(k, r)| {
        *k != res.key
            && r.type_key == "microsoft.authorization/roleassignments"
            && field(&r.body, "scope").as_deref() == Some(scope.as_str())
            && role(&r.body) == role(new)
            && field(&r.body, "principalId") == field(new, "principalId")
    });
    dup.then(|| {
        arm_error(
            409,
            "RoleAssignmentExists",
            "The role assignment already exists.",
        )
    })
}

fn set_state(body: &mut Value, state: &str) {
    if let Some(obj) = body.as_object_mut() {
        let props = obj
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(p) = props.as_object_mut() {
            p.insert("provisioningState".into(), Value::String(state.into()));
        }
    }
}

fn patch(st: &mut State, res: &Res, body: &[u8]) -> Reply {
    if !res.spec.patch {
        return arm_error(
            405,
            "MethodNotAllowed",
            "The requested resource does not support http method 'PATCH'.",
        );
    }
    let Ok(p @ Value::Object(_)) = serde_json::from_slice::<Value>(body) else {
        return arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    if let Some(r) = check_parents(st, res) {
        return r;
    }
    let Some(existing) = st.resources.get(&res.key).map(|s| s.body.clone()) else {
        return not_found(res);
    };
    let mut new = existing.clone();
    crate::util::merge_patch(&mut new, &p);
    // PATCH replaces the whole tag set.
    if let (Some(tags), Some(obj)) = (p.get("tags"), new.as_object_mut()) {
        obj.insert("tags".into(), tags.clone());
    }
    crate::computed::fill(
        st,
        res.spec,
        &res.id,
        &res.name,
        &res.scope,
        &mut new,
        Some(&existing),
    );
    if existing.pointer("/properties/provisioningState").is_some() {
        set_state(&mut new, "Succeeded");
    }
    if let Some(s) = st.resources.get_mut(&res.key) {
        s.body = new.clone();
    }
    Reply::json(200, &new)
}

fn delete(st: &mut State, res: &Res, api_version: &str) -> Reply {
    let Some(existing) = st.resources.get(&res.key).map(|s| s.body.clone()) else {
        return Reply::empty(204);
    };
    match res.spec.delete {
        DeleteMode::Sync { body } => {
            st.remove_tree(&res.key);
            if body {
                Reply::json(200, &existing)
            } else {
                Reply::empty(200)
            }
        }
        DeleteMode::Async { headers } => {
            if let Some(s) = st.resources.get_mut(&res.key) {
                set_state(&mut s.body, "Deleting");
            }
            let op = start_op(st, res, OpKind::Delete);
            let ns = res.spec.display.split('/').next().unwrap_or("");
            let location = existing
                .get("location")
                .and_then(Value::as_str)
                .map(norm_location)
                .unwrap_or_else(|| "global".into());
            let ra = st.config.retry_after_secs.to_string();
            lro_headers(
                Reply::empty(202),
                st,
                headers,
                &res.sub,
                ns,
                &location,
                &op,
                api_version,
            )
            .header("retry-after", ra)
        }
    }
}

fn start_op(st: &mut State, res: &Res, kind: OpKind) -> String {
    let id = random_uuid();
    let lower = res.id.to_ascii_lowercase();
    let failure = st
        .op_failures
        .iter()
        .position(|f| lower.contains(&f.id_contains.to_ascii_lowercase()))
        .map(|i| st.op_failures.remove(i))
        .map(|f| (f.code, f.message));
    st.ops.insert(
        id.clone(),
        Operation {
            resource_key: res.key.clone(),
            resource_id: res.id.clone(),
            kind,
            polls: 0,
            failure,
            status: OpStatus::InProgress,
            start: now_rfc3339(),
            end: None,
        },
    );
    id
}

#[allow(clippy::too_many_arguments)]
fn lro_headers(
    mut reply: Reply,
    st: &State,
    h: Headers,
    sub: &str,
    ns: &str,
    location: &str,
    op: &str,
    api_version: &str,
) -> Reply {
    let base = format!("https://management.localhost:{}", st.port);
    let (status_url, result_url) = if ns.eq_ignore_ascii_case("Microsoft.Resources") {
        // Resource group deletes point at the subscription's operationresults.
        let u =
            format!("{base}/subscriptions/{sub}/operationresults/{op}?api-version={api_version}");
        (u.clone(), u)
    } else {
        let p = format!("{base}/subscriptions/{sub}/providers/{ns}/locations/{location}");
        (
            format!("{p}/operationStatuses/{op}?api-version={api_version}"),
            format!("{p}/operationResults/{op}?api-version={api_version}"),
        )
    };
    if matches!(h, Headers::AsyncOperation | Headers::Both) {
        reply = reply.header("azure-asyncoperation", status_url);
    }
    if matches!(h, Headers::Location | Headers::Both) {
        reply = reply.header("location", result_url);
    }
    reply
}

/// One poll of an operation: advances it unless held, then answers.
fn poll(st: &mut State, id: &str, result: bool) -> Reply {
    let lro_polls = st.config.lro_polls;
    let Some(mut op) = st.ops.get(id).cloned() else {
        return arm_error(
            404,
            "OperationNotFound",
            format!("The operation '{id}' could not be found."),
        );
    };
    if op.status == OpStatus::InProgress && !st.held(&op.resource_id) {
        if op.polls >= lro_polls {
            finish(st, &mut op);
        } else {
            op.polls += 1;
        }
    }
    st.ops.insert(id.to_owned(), op.clone());
    let ra = st.config.retry_after_secs.to_string();
    if result {
        return match op.status {
            OpStatus::InProgress => Reply::empty(202).header("retry-after", ra),
            OpStatus::Failed => {
                let (code, msg) = op.failure.clone().unwrap_or_default();
                arm_error(400, &code, msg)
            }
            OpStatus::Succeeded => match (op.kind, st.resources.get(&op.resource_key)) {
                (OpKind::Put, Some(r)) => Reply::json(200, &r.body),
                _ => Reply::empty(204),
            },
        };
    }
    let status = match op.status {
        OpStatus::InProgress => "InProgress",
        OpStatus::Succeeded => "Succeeded",
        OpStatus::Failed => "Failed",
    };
    let mut body = json!({"id": id, "name": id, "status": status, "startTime": op.start});
    if let Some(end) = &op.end {
        body["endTime"] = json!(end);
    }
    if let (OpStatus::Failed, Some((code, msg))) = (op.status, &op.failure) {
        body["error"] = json!({"code": code, "message": msg});
    }
    let mut reply = Reply::json(200, &body);
    if op.status == OpStatus::InProgress {
        reply = reply.header("retry-after", ra);
    }
    reply
}

fn finish(st: &mut State, op: &mut Operation) {
    op.end = Some(now_rfc3339());
    let failed = op.failure.is_some();
    op.status = if failed {
        OpStatus::Failed
    } else {
        OpStatus::Succeeded
    };
    match (op.kind, failed) {
        (OpKind::Delete, false) => st.remove_tree(&op.resource_key),
        _ => {
            if let Some(r) = st.resources.get_mut(&op.resource_key)
                && (r.body.pointer("/properties/provisioningState").is_some() || failed)
            {
                set_state(&mut r.body, if failed { "Failed" } else { "Succeeded" });
            }
        }
    }
    tracing::debug!(resource = %op.resource_id, ?op.status, "long-running operation ended");
}

/// A derived, stable id for server-computed GUID fields.
pub(crate) fn derived(id: &str, what: &str) -> String {
    uuid_from(&format!("{}#{what}", id.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_and_scoped_paths() {
        let Target::Resource(a) = parse(
            "/subscriptions/s/resourcegroups/rg/providers/Microsoft.Storage/storageAccounts/acct/blobServices/default/containers/c",
        ) else {
            panic!("resource expected");
        };
        assert_eq!(
            a.type_key,
            "microsoft.storage/storageaccounts/blobservices/containers"
        );
        assert_eq!(a.names, ["acct", "default", "c"]);
        assert_eq!(a.scope, "/subscriptions/s/resourceGroups/rg");
        let Target::Resource(b) = parse(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/providers/Microsoft.Authorization/roleAssignments/g",
        ) else {
            panic!("resource expected");
        };
        assert_eq!(b.type_key, "microsoft.authorization/roleassignments");
        assert_eq!(
            b.scope,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v"
        );
        assert!(matches!(
            parse(
                "/subscriptions/s/providers/Microsoft.ServiceBus/locations/westus/operationStatuses/x"
            ),
            Target::Operation { result: false, .. }
        ));
        assert!(matches!(
            parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ServiceBus/namespaces/ns/topics"
            ),
            Target::Collection { .. }
        ));
    }
}
