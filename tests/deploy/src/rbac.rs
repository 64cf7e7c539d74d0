//! A small RBAC evaluator for the chart's rules: which request each rule allows, so the
//! test can say both "every request the operator made is allowed" and "every granted
//! (verb, group, resource) was needed by some request".

use std::collections::BTreeSet;

use serde_json::Value;

use crate::proxy::Seen;

/// A request in RBAC terms.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// API group ("" for core).
    pub group: String,
    /// Resource, with `/subresource` when there is one.
    pub resource: String,
    /// None for a cluster-wide request.
    pub namespace: Option<String>,
    /// The object's name, when the request names one.
    pub name: Option<String>,
}

/// The RBAC requests behind one HTTP request. Server-side apply (`PATCH` with
/// `application/apply-patch+yaml`) creates the object when it is missing, and Kubernetes
/// then also authorizes `create`; so an apply counts as both — except on a subresource
/// (`/status`), which can only change an object that exists.
pub fn requests(seen: &Seen) -> Vec<Request> {
    let parts: Vec<&str> = seen.path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, _v, rest @ ..] => (*g, rest),
        _ => return Vec::new(), // discovery, /version: not resources
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let (resource, name, sub) = match rest {
        [r] => (*r, None, None),
        [r, n] => (*r, Some((*n).to_owned()), None),
        [r, n, s] => (*r, Some((*n).to_owned()), Some(*s)),
        _ => return Vec::new(),
    };
    let watch = seen
        .query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match (seen.method.as_str(), name.is_some()) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (m, _) => panic!("unexpected request {m} {}", seen.path),
    };
    let resource = match sub {
        Some(s) => format!("{resource}/{s}"),
        None => resource.to_owned(),
    };
    let one = |verb: &str| Request {
        verb: verb.to_owned(),
        group: group.to_owned(),
        resource: resource.clone(),
        namespace: namespace.clone(),
        name: name.clone(),
    };
    let mut out = vec![one(verb)];
    if verb == "patch" && sub.is_none() && seen.content_type.starts_with("application/apply-patch")
    {
        out.push(one("create"));
    }
    out
}

/// One rule of a Role (namespaced) or ClusterRole (namespace None).
#[derive(Clone, Debug)]
pub struct Rule {
    /// Which Role/ClusterRole it comes from.
    pub origin: String,
    /// None: a ClusterRole bound cluster-wide.
    pub namespace: Option<String>,
    /// apiGroups.
    pub groups: Vec<String>,
    /// resources.
    pub resources: Vec<String>,
    /// verbs.
    pub verbs: Vec<String>,
    /// resourceNames (empty: any).
    pub names: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The rules of every Role and ClusterRole among `objects`.
pub fn rules(objects: &[Value]) -> Vec<Rule> {
    let mut out = Vec::new();
    for o in objects {
        let namespace = match o["kind"].as_str() {
            Some("Role") => Some(o["metadata"]["namespace"].as_str().unwrap().to_owned()),
            Some("ClusterRole") => None,
            _ => continue,
        };
        let origin = format!(
            "{} {}",
            o["kind"].as_str().unwrap(),
            o["metadata"]["name"].as_str().unwrap_or_default()
        );
        for r in o["rules"].as_array().into_iter().flatten() {
            out.push(Rule {
                origin: origin.clone(),
                namespace: namespace.clone(),
                groups: strings(&r["apiGroups"]),
                resources: strings(&r["resources"]),
                verbs: strings(&r["verbs"]),
                names: strings(&r["resourceNames"]),
            });
        }
    }
    out
}

/// Whether `rule` allows `verb` on `group/resource` for `req` (the verb, group and
/// resource given separately so a rule can be checked element by element).
fn allows(rule: &Rule, verb: &str, group: &str, resource: &str, req: &Request) -> bool {
    let scope_ok = match (&rule.namespace, &req.namespace) {
        (None, _) => true,
        (Some(rn), Some(qn)) => rn == qn,
        (Some(_), None) => false,
    };
    let name_ok = rule.names.is_empty()
        || req
            .name
            .as_ref()
            .is_some_and(|n| rule.names.contains(n) && req.verb != "create");
    verb == req.verb
        && group == req.group
        && resource == req.resource
        && rule.verbs.iter().any(|v| v == verb)
        && rule.groups.iter().any(|g| g == group)
        && rule.resources.iter().any(|r| r == resource)
        && scope_ok
        && name_ok
}

/// Requests no rule allows.
pub fn missing(rules: &[Rule], reqs: &[Request]) -> Vec<Request> {
    reqs.iter()
        .filter(|q| {
            !rules
                .iter()
                .any(|r| allows(r, &q.verb, &q.group, &q.resource, q))
        })
        .cloned()
        .collect()
}

/// (origin, verb, group, resource) grants that no request needed.
pub fn unused(rules: &[Rule], reqs: &[Request]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in rules {
        for g in &r.groups {
            for res in &r.resources {
                for v in &r.verbs {
                    if !reqs.iter().any(|q| allows(r, v, g, res, q)) {
                        out.insert(format!("{}: {v} {g}/{res}", r.origin));
                    }
                }
            }
        }
    }
    out
}
