//! The resources the server serves: built-in kinds and those registered by CRDs, and the
//! discovery documents describing them.

use std::sync::Arc;

use serde_json::{Value, json};
use tradewind_crds::validation::SchemaSet;

/// Storage identity of a resource: API group and plural name (shared by all versions).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    /// API group; empty for the core group.
    pub group: String,
    /// Plural resource name, e.g. `deployments`.
    pub resource: String,
}

/// What a served CRD version adds to a resource definition.
#[derive(Clone, Debug)]
pub struct CrdInfo {
    /// Name of the CRD that serves this resource.
    pub crd_name: String,
    /// `additionalPrinterColumns` of this version.
    pub printer_columns: Vec<Value>,
    /// The version's `openAPIV3Schema`, if any (for defaulting and pruning).
    pub schema: Option<Value>,
    /// Validators (schema + CEL) built from the CRD, if the schema compiled.
    pub validator: Option<Arc<SchemaSet>>,
    /// The version's `subresources.scale`, if declared.
    pub scale: Option<ScalePaths>,
}

/// Where a resource keeps what its `scale` subresource shows (JSON pointers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalePaths {
    /// `specReplicasPath`, e.g. `/spec/replicas`.
    pub spec_replicas: String,
    /// `statusReplicasPath`, e.g. `/status/replicas`.
    pub status_replicas: String,
    /// `labelSelectorPath` (a string in the object), if any. Built-ins use `None` and
    /// serialise `spec.selector` instead.
    pub label_selector: Option<String>,
}

impl ScalePaths {
    /// From a CRD's `subresources.scale` (JSONPaths like `.spec.replicas`).
    pub fn from_crd(scale: &Value) -> Option<Self> {
        let ptr = |k: &str| {
            scale
                .get(k)
                .and_then(Value::as_str)
                .map(|p| p.trim_start_matches('.').replace('.', "/"))
                .map(|p| format!("/{p}"))
        };
        Some(Self {
            spec_replicas: ptr("specReplicasPath")?,
            status_replicas: ptr("statusReplicasPath")?,
            label_selector: ptr("labelSelectorPath"),
        })
    }
}

/// One served resource at one group version.
#[derive(Clone, Debug)]
pub struct ResourceDef {
    /// API group (empty for core).
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Plural name.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names (`cm`, `deploy`, ...).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Whether the `status` subresource exists.
    pub has_status: bool,
    /// Set for resources served from a CRD.
    pub crd: Option<CrdInfo>,
}

/// The verbs every served resource supports.
pub const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceDef {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage identity.
    pub fn gr(&self) -> GroupResource {
        GroupResource {
            group: self.group.clone(),
            resource: self.plural.clone(),
        }
    }

    /// The `APIResource` entry of `/api/v1` or `/apis/{group}/{version}`.
    pub fn api_resource(&self) -> Value {
        json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": VERBS,
            "shortNames": self.short_names,
            "categories": self.categories,
            "storageVersionHash": "",
        })
    }

    /// The `status` subresource entry, if it exists.
    pub fn status_resource(&self) -> Option<Value> {
        self.has_status.then(|| {
            json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            })
        })
    }

    /// The aggregated-discovery (`apidiscovery.k8s.io/v2`) entry.
    pub fn discovery_resource(&self) -> Value {
        let mut r = json!({
            "resource": self.plural,
            "responseKind": {"group": self.group, "version": self.version, "kind": self.kind},
            "scope": if self.namespaced { "Namespaced" } else { "Cluster" },
            "singularResource": self.singular,
            "verbs": VERBS,
        });
        if !self.short_names.is_empty() {
            r["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            r["categories"] = json!(self.categories);
        }
        if self.has_status {
            r["subresources"] = json!([{
                "subresource": "status",
                "responseKind": {"group": self.group, "version": self.version, "kind": self.kind},
                "verbs": ["get", "patch", "update"],
            }]);
        }
        if self.scale().is_some() {
            let scale = json!({"subresource": "scale",
                "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                "verbs": ["get", "patch", "update"]});
            match r["subresources"].as_array_mut() {
                Some(subs) => subs.push(scale),
                None => r["subresources"] = json!([scale]),
            }
        }
        if self.has_log()
            && let Some(subs) = r["subresources"].as_array_mut()
        {
            subs.push(json!({"subresource": "log",
                "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get"]}));
        }
        r
    }

    /// The `scale` subresource's paths, if this resource serves one (Deployments,
    /// ReplicaSets, and CRDs declaring `subresources.scale`).
    pub fn scale(&self) -> Option<ScalePaths> {
        if let Some(crd) = &self.crd {
            return crd.scale.clone();
        }
        (self.group == "apps"
            && matches!(
                self.plural.as_str(),
                "deployments" | "replicasets" | "statefulsets"
            ))
        .then(|| ScalePaths {
            spec_replicas: "/spec/replicas".into(),
            status_replicas: "/status/replicas".into(),
            label_selector: None,
        })
    }

    /// The `scale` subresource's `APIResource` entry, if it exists.
    pub fn scale_resource(&self) -> Option<Value> {
        self.scale().map(|_| {
            json!({
                "name": format!("{}/scale", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            })
        })
    }

    /// Whether this is core/v1 Pods, which serve the `log` subresource.
    pub fn has_log(&self) -> bool {
        self.group.is_empty() && self.plural == "pods" && self.crd.is_none()
    }
}

/// The built-in resources, in discovery order.
pub fn builtins() -> Vec<ResourceDef> {
    // (group, version, plural, singular, kind, namespaced, short names, status, categories)
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        bool,
        &'static [&'static str],
        bool,
        &'static [&'static str],
    );
    const ROWS: &[Row] = &[
        (
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            false,
            &["ns"],
            true,
            &[],
        ),
        (
            "",
            "v1",
            "configmaps",
            "configmap",
            "ConfigMap",
            true,
            &["cm"],
            false,
            &[],
        ),
        (
            "",
            "v1",
            "secrets",
            "secret",
            "Secret",
            true,
            &[],
            false,
            &[],
        ),
        (
            "",
            "v1",
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            true,
            &["sa"],
            false,
            &[],
        ),
        (
            "",
            "v1",
            "services",
            "service",
            "Service",
            true,
            &["svc"],
            true,
            &["all"],
        ),
        (
            "",
            "v1",
            "pods",
            "pod",
            "Pod",
            true,
            &["po"],
            true,
            &["all"],
        ),
        (
            "",
            "v1",
            "events",
            "event",
            "Event",
            true,
            &["ev"],
            false,
            &[],
        ),
        (
            "events.k8s.io",
            "v1",
            "events",
            "event",
            "Event",
            true,
            &["ev"],
            false,
            &[],
        ),
        (
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            true,
            &["deploy"],
            true,
            &["all"],
        ),
        (
            "apps",
            "v1",
            "replicasets",
            "replicaset",
            "ReplicaSet",
            true,
            &["rs"],
            true,
            &["all"],
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "roles",
            "role",
            "Role",
            true,
            &[],
            false,
            &[],
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "rolebinding",
            "RoleBinding",
            true,
            &[],
            false,
            &[],
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "clusterrole",
            "ClusterRole",
            false,
            &[],
            false,
            &[],
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
            false,
            &[],
            false,
            &[],
        ),
        (
            "",
            "v1",
            "persistentvolumeclaims",
            "persistentvolumeclaim",
            "PersistentVolumeClaim",
            true,
            &["pvc"],
            true,
            &[],
        ),
        (
            "coordination.k8s.io",
            "v1",
            "leases",
            "lease",
            "Lease",
            true,
            &[],
            false,
            &[],
        ),
        (
            "apps",
            "v1",
            "statefulsets",
            "statefulset",
            "StatefulSet",
            true,
            &["sts"],
            true,
            &["all"],
        ),
        (
            "",
            "v1",
            "replicationcontrollers",
            "replicationcontroller",
            "ReplicationController",
            true,
            &["rc"],
            true,
            &["all"],
        ),
        (
            "apiregistration.k8s.io",
            "v1",
            "apiservices",
            "apiservice",
            "APIService",
            false,
            &[],
            true,
            &["api-extensions"],
        ),
        (
            "apps",
            "v1",
            "daemonsets",
            "daemonset",
            "DaemonSet",
            true,
            &["ds"],
            true,
            &["all"],
        ),
        (
            "networking.k8s.io",
            "v1",
            "ingresses",
            "ingress",
            "Ingress",
            true,
            &["ing"],
            true,
            &[],
        ),
        (
            "autoscaling",
            "v2",
            "horizontalpodautoscalers",
            "horizontalpodautoscaler",
            "HorizontalPodAutoscaler",
            true,
            &["hpa"],
            true,
            &["all"],
        ),
        (
            "discovery.k8s.io",
            "v1",
            "endpointslices",
            "endpointslice",
            "EndpointSlice",
            true,
            &[],
            false,
            &[],
        ),
        (
            "",
            "v1",
            "endpoints",
            "endpoints",
            "Endpoints",
            true,
            &["ep"],
            false,
            &[],
        ),
        ("", "v1", "nodes", "node", "Node", false, &["no"], true, &[]),
        (
            "batch",
            "v1",
            "jobs",
            "job",
            "Job",
            true,
            &[],
            true,
            &["all"],
        ),
        (
            "batch",
            "v1",
            "cronjobs",
            "cronjob",
            "CronJob",
            true,
            &["cj"],
            true,
            &["all"],
        ),
        (
            "networking.k8s.io",
            "v1",
            "networkpolicies",
            "networkpolicy",
            "NetworkPolicy",
            true,
            &["netpol"],
            false,
            &[],
        ),
        (
            "policy",
            "v1",
            "poddisruptionbudgets",
            "poddisruptionbudget",
            "PodDisruptionBudget",
            true,
            &["pdb"],
            true,
            &[],
        ),
        (
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
            true,
            &["api-extensions"],
        ),
    ];
    ROWS.iter()
        .map(|&(g, v, p, s, k, ns, short, status, cats)| ResourceDef {
            group: g.into(),
            version: v.into(),
            plural: p.into(),
            singular: s.into(),
            kind: k.into(),
            namespaced: ns,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: cats.iter().map(|s| s.to_string()).collect(),
            has_status: status,
            crd: None,
        })
        .collect()
}

/// The served resources, built-ins first, then CRD-served ones.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Every served (group, version, resource).
    pub resources: Vec<ResourceDef>,
}

impl Registry {
    /// A registry with the built-ins.
    pub fn with_builtins() -> Self {
        Self {
            resources: builtins(),
        }
    }

    /// The definition served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceDef> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// Any served version of a storage resource (for events and GC).
    pub fn find_gr(&self, gr: &GroupResource) -> Option<&ResourceDef> {
        self.resources
            .iter()
            .find(|r| r.group == gr.group && r.plural == gr.resource)
    }

    /// The definition for an `apiVersion` and `kind` (for owner references).
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceDef> {
        self.resources
            .iter()
            .find(|r| r.api_version() == api_version && r.kind == kind)
    }

    /// Groups in discovery order, each with its versions (first is preferred).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            if r.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    if !versions.contains(&r.version) {
                        versions.push(r.version.clone());
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        out
    }

    /// Resources of one group version.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a ResourceDef> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.group == group && r.version == version)
    }

    /// `APIResourceList` for one group version, or `None` if it is not served.
    pub fn api_resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let mut resources = Vec::new();
        for r in self.in_group_version(group, version) {
            resources.push(r.api_resource());
            if let Some(s) = r.status_resource() {
                resources.push(s);
            }
            if let Some(s) = r.scale_resource() {
                resources.push(s);
            }
            if r.has_log() {
                resources.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
            }
        }
        if resources.is_empty() {
            return None;
        }
        let gv = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }))
    }

    /// The `/openapi/v2` document (definitions of every served kind).
    pub fn openapi_v2(&self) -> Value {
        super::openapi::v2_document(self.resources.iter())
    }

    /// `APIGroupList` for `/apis`.
    pub fn api_group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .into_iter()
            .map(|(g, versions)| group_json(&g, &versions))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `APIGroup` for `/apis/{group}`.
    pub fn api_group(&self, group: &str) -> Option<Value> {
        self.groups()
            .into_iter()
            .find(|(g, _)| g == group)
            .map(|(g, versions)| {
                let mut v = group_json(&g, &versions);
                v["kind"] = json!("APIGroup");
                v["apiVersion"] = json!("v1");
                v
            })
    }

    /// Aggregated discovery (`APIGroupDiscoveryList`, v2) for `/api` (core) or `/apis`.
    pub fn aggregated(&self, core: bool) -> Value {
        let groups: Vec<(String, Vec<String>)> = if core {
            vec![(String::new(), vec!["v1".to_owned()])]
        } else {
            self.groups()
        };
        let items: Vec<Value> = groups
            .into_iter()
            .map(|(g, versions)| {
                let versions: Vec<Value> = versions
                    .iter()
                    .map(|v| {
                        let resources: Vec<Value> = self
                            .in_group_version(&g, v)
                            .map(ResourceDef::discovery_resource)
                            .collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
                json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
            })
            .collect();
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        })
    }

    /// The `/openapi/v3` index: one entry per served group version.
    pub fn openapi_v3_root(&self) -> Value {
        let mut paths = serde_json::Map::new();
        paths.insert(
            "api/v1".into(),
            json!({"serverRelativeURL": format!("/openapi/v3/api/v1?hash={}", self.gv_hash("", "v1"))}),
        );
        for (g, versions) in self.groups() {
            for v in versions {
                paths.insert(
                    format!("apis/{g}/{v}"),
                    json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash={}", self.gv_hash(&g, &v))}),
                );
            }
        }
        json!({ "paths": paths })
    }

    fn gv_hash(&self, group: &str, version: &str) -> String {
        let names: Vec<String> = self
            .in_group_version(group, version)
            .map(|r| {
                // A CRD's new schema must change the hash, or clients keep a stale copy.
                let schema = r.crd.as_ref().and_then(|c| c.schema.as_ref());
                format!(
                    "{}:{}:{}",
                    r.plural,
                    r.kind,
                    schema.map(Value::to_string).unwrap_or_default()
                )
            })
            .collect();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in names.join(",").bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016X}")
    }

    /// The OpenAPI v3 document for one group version: every resource's paths with the
    /// query parameters the server honours (kubectl checks `fieldValidation` on the PATCH
    /// operation to decide on server-side validation), and the schemas of its kinds.
    pub fn openapi_v3_gv(&self, group: &str, version: &str) -> Option<Value> {
        let mut paths = serde_json::Map::new();
        for r in self.in_group_version(group, version) {
            let prefix = if group.is_empty() {
                format!("/api/{version}")
            } else {
                format!("/apis/{group}/{version}")
            };
            let base = if r.namespaced {
                format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
            } else {
                format!("{prefix}/{}", r.plural)
            };
            let gvk = json!({"group": group, "version": version, "kind": r.kind});
            let param = |n: &str| json!({"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
            let write_params: Vec<Value> = ["dryRun", "fieldManager", "fieldValidation"]
                .iter()
                .map(|n| param(n))
                .collect();
            let mut patch_params = write_params.clone();
            patch_params.push(json!({"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}));
            let responses = json!({"200": {"description": "OK"}});
            let op = |action: &str, params: &Vec<Value>| {
                json!({
                    "operationId": format!("{action}{}", r.kind),
                    "parameters": params,
                    "responses": responses,
                    "x-kubernetes-action": action,
                    "x-kubernetes-group-version-kind": gvk,
                })
            };
            paths.insert(
                base.clone(),
                json!({"get": op("list", &vec![]), "post": op("post", &write_params)}),
            );
            paths.insert(
                format!("{base}/{{name}}"),
                json!({"get": op("get", &vec![]), "put": op("put", &write_params), "patch": op("patch", &patch_params), "delete": op("delete", &vec![param("dryRun")])}),
            );
            if r.has_status {
                paths.insert(
                    format!("{base}/{{name}}/status"),
                    json!({"get": op("get", &vec![]), "put": op("put", &write_params), "patch": op("patch", &patch_params)}),
                );
            }
        }
        if paths.is_empty() {
            return None;
        }
        Some(json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": paths,
            "components": {"schemas": super::openapi::v3_schemas(self.in_group_version(group, version))},
        }))
    }
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_have_scopes_and_short_names() {
        let reg = Registry::with_builtins();
        let deploy = reg.find("apps", "v1", "deployments").expect("deployments");
        assert!(deploy.namespaced && deploy.has_status);
        assert_eq!(deploy.short_names, vec!["deploy"]);
        assert!(!reg.find("", "v1", "namespaces").expect("ns").namespaced);
        let list = reg.api_resource_list("apps", "v1").expect("apps/v1");
        assert_eq!(list["resources"][1]["name"], "deployments/status");
        let agg = reg.aggregated(false);
        assert!(
            agg["items"]
                .as_array()
                .expect("items")
                .iter()
                .any(|g| g["metadata"]["name"] == "policy")
        );
    }
}
