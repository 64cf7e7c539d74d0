//! RBAC evaluation as kube-apiserver's RBAC authorizer does it, as pure functions over
//! Role, ClusterRole, RoleBinding and ClusterRoleBinding objects (JSON as stored):
//! verbs, API groups, resources with `*`, `*/subresource` and `resource/subresource`,
//! resourceNames, nonResourceURLs with a trailing `*`, User/Group/ServiceAccount
//! subjects, and ClusterRole aggregation (evaluated when the role is read).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

/// Who makes a request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// `system:serviceaccount:NS:NAME`, `kubernetes-admin`, ...
    pub username: String,
    /// The ServiceAccount's uid (empty for the admin).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Groups, `system:authenticated` included.
    pub groups: Vec<String>,
    /// Extra attributes (bound pod, credential ID).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// What a request asks to do, as the authorizer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An API resource.
    Resource {
        /// API group (empty for core).
        group: String,
        /// Plural resource name.
        resource: String,
        /// Subresource (`status`, `token`) or empty.
        subresource: String,
        /// Namespace, empty for cluster-scoped or all-namespace requests.
        namespace: String,
        /// Object name, empty for list/create or unnamed requests.
        name: String,
    },
    /// A non-resource URL path (`/api`, `/version`, `/healthz`).
    Path(String),
}

/// A request's verb and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// get, list, watch, create, update, patch, delete, deletecollection (resources);
    /// get, post, put, ... (paths).
    pub verb: String,
    /// The resource or path.
    pub target: Target,
}

/// A PolicyRule, read from a role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// API groups.
    pub api_groups: Vec<String>,
    /// Resources (`res`, `res/sub`, `*`, `*/sub`).
    pub resources: Vec<String>,
    /// Object names (empty: any).
    pub resource_names: Vec<String>,
    /// Non-resource URLs.
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl Rule {
    /// Reads a `PolicyRule` object.
    pub fn from_json(v: &Value) -> Self {
        Self {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
            non_resource_urls: strings(v, "nonResourceURLs"),
        }
    }

    /// Whether this rule allows the request.
    pub fn allows(&self, a: &Attributes) -> bool {
        if !self.verbs.iter().any(|v| v == "*" || *v == a.verb) {
            return false;
        }
        match &a.target {
            Target::Path(path) => self.non_resource_urls.iter().any(|u| {
                u == "*" || u == path || u.strip_suffix('*').is_some_and(|p| path.starts_with(p))
            }),
            Target::Resource {
                group,
                resource,
                subresource,
                name,
                ..
            } => {
                let group_ok = self.api_groups.iter().any(|g| g == "*" || g == group);
                let combined = if subresource.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}/{subresource}")
                };
                let resource_ok = self.resources.iter().any(|r| {
                    r == "*"
                        || *r == combined
                        || (!subresource.is_empty()
                            && r.strip_prefix("*/") == Some(subresource.as_str()))
                });
                let name_ok = self.resource_names.is_empty()
                    || (!name.is_empty() && self.resource_names.contains(name));
                group_ok && resource_ok && name_ok
            }
        }
    }
}

/// The RBAC objects that can apply to one request: all cluster roles and cluster role
/// bindings, and the roles and role bindings of the request's namespace.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Every ClusterRole.
    pub cluster_roles: Vec<Value>,
    /// Every ClusterRoleBinding.
    pub cluster_role_bindings: Vec<Value>,
    /// Roles of the namespace.
    pub roles: Vec<Value>,
    /// RoleBindings of the namespace.
    pub role_bindings: Vec<Value>,
}

fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Whether `labels` satisfy a JSON `LabelSelector` (matchLabels and matchExpressions).
pub fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let ml_ok = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| label(k) == v.as_str()));
    let exprs = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ex_ok = exprs.iter().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values = strings(e, "values");
        match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => label(key).is_some_and(|l| values.iter().any(|v| v == l)),
            "NotIn" => label(key).is_none_or(|l| values.iter().all(|v| v != l)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        }
    });
    ml_ok && ex_ok
}

impl Policy {
    fn rules_of(role: &Value) -> Vec<Rule> {
        role.get("rules")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(Rule::from_json).collect())
            .unwrap_or_default()
    }

    /// A ClusterRole's rules; an aggregated one also has the rules of every ClusterRole
    /// its selectors match (what the aggregation controller would have written).
    pub fn cluster_role_rules(&self, name: &str) -> Vec<Rule> {
        let Some(role) = self.cluster_roles.iter().find(|r| name_of(r) == name) else {
            return Vec::new();
        };
        let mut rules = Self::rules_of(role);
        if let Some(selectors) = role
            .pointer("/aggregationRule/clusterRoleSelectors")
            .and_then(Value::as_array)
        {
            for other in &self.cluster_roles {
                if name_of(other) == name {
                    continue;
                }
                let labels = other
                    .pointer("/metadata/labels")
                    .cloned()
                    .unwrap_or(json!({}));
                if selectors.iter().any(|s| selector_matches(s, &labels)) {
                    for r in Self::rules_of(other) {
                        if !rules.contains(&r) {
                            rules.push(r);
                        }
                    }
                }
            }
        }
        rules
    }

    fn role_ref_rules(&self, binding: &Value, namespaced: bool) -> Vec<Rule> {
        let kind = binding
            .pointer("/roleRef/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = binding
            .pointer("/roleRef/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        match kind {
            "ClusterRole" => self.cluster_role_rules(name),
            "Role" if namespaced => self
                .roles
                .iter()
                .find(|r| name_of(r) == name)
                .map(Self::rules_of)
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Every rule that applies to `user` in `namespace` (empty: cluster-wide rules only).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<Rule> {
        let mut out = Vec::new();
        for b in &self.cluster_role_bindings {
            if binds(b, user, "") {
                out.extend(self.role_ref_rules(b, false));
            }
        }
        if !namespace.is_empty() {
            for b in &self.role_bindings {
                let ns = b
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if ns == namespace && binds(b, user, namespace) {
                    out.extend(self.role_ref_rules(b, true));
                }
            }
        }
        out
    }

    /// Whether RBAC allows the request.
    pub fn allows(&self, user: &UserInfo, a: &Attributes) -> bool {
        let ns = match &a.target {
            Target::Resource { namespace, .. } => namespace.as_str(),
            Target::Path(_) => "",
        };
        self.rules_for(user, ns).iter().any(|r| r.allows(a))
    }
}

/// Whether one of a binding's subjects is `user`; `namespace` is the binding's (a
/// ServiceAccount subject without a namespace means the binding's own).
fn binds(binding: &Value, user: &UserInfo, namespace: &str) -> bool {
    let Some(subjects) = binding.get("subjects").and_then(Value::as_array) else {
        return false;
    };
    subjects.iter().any(|s| {
        let name = s.get("name").and_then(Value::as_str).unwrap_or("");
        match s.get("kind").and_then(Value::as_str).unwrap_or("") {
            "User" => user.username == name,
            "Group" => user.groups.iter().any(|g| g == name),
            "ServiceAccount" => {
                let ns = s
                    .get("namespace")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(namespace);
                !ns.is_empty() && user.username == format!("system:serviceaccount:{ns}:{name}")
            }
            _ => false,
        }
    })
}

/// kube-apiserver's message for a denied request, e.g. `tradingbots.tradewind.dev "x" is
/// forbidden: User "system:serviceaccount:ns:sa" cannot get resource "tradingbots" in API
/// group "tradewind.dev" in the namespace "ns"`, and the Status `details`.
pub fn forbidden(username: &str, a: &Attributes) -> (String, Value) {
    match &a.target {
        Target::Path(path) => (
            format!(
                "forbidden: User {username:?} cannot {} path {path:?}",
                a.verb
            ),
            json!({}),
        ),
        Target::Resource {
            group,
            resource,
            subresource,
            namespace,
            name,
        } => {
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let scope = if namespace.is_empty() {
                "at the cluster scope".to_owned()
            } else {
                format!("in the namespace {namespace:?}")
            };
            let reason = format!(
                "User {username:?} cannot {} resource {combined:?} in API group {group:?} {scope}",
                a.verb
            );
            let qualified = if group.is_empty() {
                resource.clone()
            } else {
                format!("{resource}.{group}")
            };
            let message = if name.is_empty() {
                format!("{qualified} is forbidden: {reason}")
            } else {
                format!("{qualified} {name:?} is forbidden: {reason}")
            };
            let mut details = json!({"kind": resource});
            if !group.is_empty() {
                details["group"] = json!(group);
            }
            if !name.is_empty() {
                details["name"] = json!(name);
            }
            (message, details)
        }
    }
}

/// The rules of `rules` as `SelfSubjectRulesReview` status lists:
/// (resourceRules, nonResourceRules).
pub fn rules_review(rules: &[Rule]) -> (Vec<Value>, Vec<Value>) {
    let mut resource_rules = Vec::new();
    let mut non_resource = Vec::new();
    for r in rules {
        if !r.resources.is_empty() {
            let mut v =
                json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
            if !r.resource_names.is_empty() {
                v["resourceNames"] = json!(r.resource_names);
            }
            resource_rules.push(v);
        }
        if !r.non_resource_urls.is_empty() {
            non_resource.push(json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}));
        }
    }
    (resource_rules, non_resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(ns: &str, name: &str) -> UserInfo {
        UserInfo {
            username: format!("system:serviceaccount:{ns}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
            ..UserInfo::default()
        }
    }

    fn res(verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            target: Target::Resource {
                group: group.into(),
                resource: resource.into(),
                subresource: sub.into(),
                namespace: ns.into(),
                name: name.into(),
            },
        }
    }

    #[test]
    fn rule_matching_follows_kubernetes() {
        let r = Rule::from_json(&json!({
            "apiGroups": ["tradewind.dev"], "resources": ["tradingbots/status"],
            "resourceNames": ["a"], "verbs": ["get", "patch"]}));
        assert!(r.allows(&res(
            "patch",
            "tradewind.dev",
            "tradingbots",
            "status",
            "n",
            "a"
        )));
        assert!(!r.allows(&res("patch", "tradewind.dev", "tradingbots", "", "n", "a")));
        assert!(!r.allows(&res(
            "patch",
            "tradewind.dev",
            "tradingbots",
            "status",
            "n",
            "b"
        )));
        assert!(!r.allows(&res(
            "update",
            "tradewind.dev",
            "tradingbots",
            "status",
            "n",
            "a"
        )));
        // resourceNames never match an unnamed request (list, create).
        assert!(!r.allows(&res(
            "get",
            "tradewind.dev",
            "tradingbots",
            "status",
            "n",
            ""
        )));

        let star =
            Rule::from_json(&json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}));
        assert!(star.allows(&res("delete", "apps", "deployments", "status", "n", "x")));
        let sub = Rule::from_json(
            &json!({"apiGroups": [""], "resources": ["*/status"], "verbs": ["get"]}),
        );
        assert!(sub.allows(&res("get", "", "pods", "status", "n", "x")));
        assert!(!sub.allows(&res("get", "", "pods", "", "n", "x")));

        let urls =
            Rule::from_json(&json!({"nonResourceURLs": ["/apis/*", "/version"], "verbs": ["get"]}));
        let path = |p: &str| Attributes {
            verb: "get".into(),
            target: Target::Path(p.into()),
        };
        assert!(urls.allows(&path("/apis/apps/v1")));
        assert!(urls.allows(&path("/version")));
        assert!(!urls.allows(&path("/version/x")));
        assert!(!urls.allows(&path("/api")));
    }

    #[test]
    fn bindings_roles_and_aggregation() {
        let policy = Policy {
            cluster_roles: vec![
                json!({"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]}}),
                json!({"metadata": {"name": "leases", "labels": {"agg": "true"}},
                       "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get"]}]}),
            ],
            cluster_role_bindings: vec![json!({"metadata": {"name": "b"},
                "roleRef": {"kind": "ClusterRole", "name": "agg"},
                "subjects": [{"kind": "Group", "name": "system:serviceaccounts:team"}]})],
            roles: vec![json!({"metadata": {"name": "r", "namespace": "n"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]})],
            role_bindings: vec![json!({"metadata": {"name": "rb", "namespace": "n"},
                "roleRef": {"kind": "Role", "name": "r"},
                "subjects": [{"kind": "ServiceAccount", "name": "w"}]})],
        };
        let lease = res("get", "coordination.k8s.io", "leases", "", "x", "l");
        assert!(policy.allows(&sa("team", "any"), &lease));
        assert!(!policy.allows(&sa("other", "any"), &lease));
        let cms = res("list", "", "configmaps", "", "n", "");
        assert!(policy.allows(&sa("n", "w"), &cms));
        assert!(!policy.allows(&sa("m", "w"), &cms));
        assert!(!policy.allows(&sa("n", "w"), &res("list", "", "configmaps", "", "m", "")));
    }

    #[test]
    fn forbidden_messages_match_the_api_server() {
        let (m, d) = forbidden(
            "system:serviceaccount:ns:sa",
            &res("get", "tradewind.dev", "tradingbots", "", "ns", "x"),
        );
        assert_eq!(
            m,
            r#"tradingbots.tradewind.dev "x" is forbidden: User "system:serviceaccount:ns:sa" cannot get resource "tradingbots" in API group "tradewind.dev" in the namespace "ns""#
        );
        assert_eq!(
            d,
            json!({"kind": "tradingbots", "group": "tradewind.dev", "name": "x"})
        );
        let (m, _) = forbidden("u", &res("list", "", "namespaces", "", "", ""));
        assert_eq!(
            m,
            r#"namespaces is forbidden: User "u" cannot list resource "namespaces" in API group "" at the cluster scope"#
        );
        let (m, _) = forbidden(
            "u",
            &res("patch", "tradewind.dev", "tradingbots", "status", "n", "b"),
        );
        assert!(
            m.contains(r#"cannot patch resource "tradingbots/status" in API group"#),
            "{m}"
        );
        let (m, _) = forbidden(
            "u",
            &Attributes {
                verb: "get".into(),
                target: Target::Path("/metrics".into()),
            },
        );
        assert_eq!(m, r#"forbidden: User "u" cannot get path "/metrics""#);
    }
}
