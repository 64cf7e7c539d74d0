//! OpenAPI schemas of the served kinds: the built-ins from k8s-openapi's `schemars`
//! implementations (the same definitions kube-apiserver publishes, named
//! `io.k8s.api.apps.v1.Deployment` …) and each CRD version's `openAPIV3Schema`, with
//! `x-kubernetes-group-version-kind` on every kind — what `kubectl explain` and
//! `fieldValidation=Strict` read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::registry::ResourceDef;

/// Definitions of the built-in kinds, and which definition is which kind.
struct Builtins {
    v3: Map<String, Value>,
    v2: Map<String, Value>,
    /// (group, version, kind) → definition name.
    kinds: BTreeMap<(String, String, String), String>,
}

fn add<T: JsonSchema>(
    v3: &mut SchemaGenerator,
    v2: &mut SchemaGenerator,
    kinds: &mut BTreeMap<(String, String, String), String>,
    gvk: (&str, &str, &str),
) {
    v3.subschema_for::<T>();
    v2.subschema_for::<T>();
    kinds.insert(
        (gvk.0.into(), gvk.1.into(), gvk.2.into()),
        T::schema_name().into_owned(),
    );
}

fn builtins() -> &'static Builtins {
    static B: OnceLock<Builtins> = OnceLock::new();
    B.get_or_init(|| {
        use k8s_openapi::api::{
            apps, autoscaling, batch, coordination, core, events, networking, policy, rbac,
        };
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
        let mut g3 = SchemaSettings::openapi3().into_generator();
        let mut g2 = SchemaSettings::draft07().into_generator();
        let mut k = BTreeMap::new();
        let (a, b, c) = (&mut g3, &mut g2, &mut k);
        add::<core::v1::Namespace>(a, b, c, ("", "v1", "Namespace"));
        add::<core::v1::ConfigMap>(a, b, c, ("", "v1", "ConfigMap"));
        add::<core::v1::Secret>(a, b, c, ("", "v1", "Secret"));
        add::<core::v1::ServiceAccount>(a, b, c, ("", "v1", "ServiceAccount"));
        add::<core::v1::Service>(a, b, c, ("", "v1", "Service"));
        add::<core::v1::Pod>(a, b, c, ("", "v1", "Pod"));
        add::<core::v1::Event>(a, b, c, ("", "v1", "Event"));
        add::<core::v1::PersistentVolumeClaim>(a, b, c, ("", "v1", "PersistentVolumeClaim"));
        add::<events::v1::Event>(a, b, c, ("events.k8s.io", "v1", "Event"));
        add::<apps::v1::Deployment>(a, b, c, ("apps", "v1", "Deployment"));
        add::<apps::v1::ReplicaSet>(a, b, c, ("apps", "v1", "ReplicaSet"));
        add::<apps::v1::StatefulSet>(a, b, c, ("apps", "v1", "StatefulSet"));
        add::<apps::v1::DaemonSet>(a, b, c, ("apps", "v1", "DaemonSet"));
        add::<core::v1::ReplicationController>(a, b, c, ("", "v1", "ReplicationController"));
        add::<k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService>(
            a,
            b,
            c,
            ("apiregistration.k8s.io", "v1", "APIService"),
        );
        add::<networking::v1::Ingress>(a, b, c, ("networking.k8s.io", "v1", "Ingress"));
        add::<autoscaling::v2::HorizontalPodAutoscaler>(
            a,
            b,
            c,
            ("autoscaling", "v2", "HorizontalPodAutoscaler"),
        );
        add::<k8s_openapi::api::discovery::v1::EndpointSlice>(
            a,
            b,
            c,
            ("discovery.k8s.io", "v1", "EndpointSlice"),
        );
        add::<core::v1::Endpoints>(a, b, c, ("", "v1", "Endpoints"));
        add::<core::v1::Node>(a, b, c, ("", "v1", "Node"));
        add::<rbac::v1::Role>(a, b, c, ("rbac.authorization.k8s.io", "v1", "Role"));
        add::<rbac::v1::RoleBinding>(a, b, c, ("rbac.authorization.k8s.io", "v1", "RoleBinding"));
        add::<rbac::v1::ClusterRole>(a, b, c, ("rbac.authorization.k8s.io", "v1", "ClusterRole"));
        add::<rbac::v1::ClusterRoleBinding>(
            a,
            b,
            c,
            ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
        );
        add::<coordination::v1::Lease>(a, b, c, ("coordination.k8s.io", "v1", "Lease"));
        add::<batch::v1::Job>(a, b, c, ("batch", "v1", "Job"));
        add::<batch::v1::CronJob>(a, b, c, ("batch", "v1", "CronJob"));
        add::<networking::v1::NetworkPolicy>(a, b, c, ("networking.k8s.io", "v1", "NetworkPolicy"));
        add::<policy::v1::PodDisruptionBudget>(a, b, c, ("policy", "v1", "PodDisruptionBudget"));
        add::<apiext::CustomResourceDefinition>(
            a,
            b,
            c,
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        );
        add::<autoscaling::v1::Scale>(a, b, c, ("autoscaling", "v1", "Scale"));
        let mut v3 = g3.take_definitions(true);
        let mut v2 = g2.take_definitions(true);
        for ((g, v, kind), name) in &k {
            let gvk = json!([{"group": g, "version": v, "kind": kind}]);
            for defs in [&mut v3, &mut v2] {
                if let Some(d) = defs.get_mut(name).and_then(Value::as_object_mut) {
                    d.insert("x-kubernetes-group-version-kind".into(), gvk.clone());
                }
            }
        }
        Builtins { v3, v2, kinds: k }
    })
}

/// `dev.tradewind.v1alpha1.TradingBot` for group `tradewind.dev`: the name kube-apiserver
/// gives a CRD version's schema.
fn crd_def_name(def: &ResourceDef) -> String {
    let mut parts: Vec<&str> = def.group.split('.').collect();
    parts.reverse();
    format!("{}.{}.{}", parts.join("."), def.version, def.kind)
}

/// A CRD version's schema as published: its `openAPIV3Schema` with `apiVersion`, `kind`
/// and `metadata` (ObjectMeta) added.
fn crd_schema(def: &ResourceDef, refs: &str) -> Option<Value> {
    let mut s = def
        .crd
        .as_ref()?
        .schema
        .clone()
        .unwrap_or(json!({"type": "object"}));
    let obj = s.as_object_mut()?;
    let props = obj.entry("properties").or_insert_with(|| json!({}));
    props["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
    props["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
    props["metadata"] = json!({"$ref": format!("{refs}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
        "description": "Standard object's metadata."});
    obj.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([{"group": def.group, "version": def.version, "kind": def.kind}]),
    );
    Some(s)
}

fn collect_refs(v: &Value, into: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Some(r) = x.as_str()
                {
                    into.push(r.rsplit('/').next().unwrap_or("").to_owned());
                } else {
                    collect_refs(x, into);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, into)),
        _ => {}
    }
}

/// The definitions that `roots` need, from `all` plus `extra` (CRD schemas).
fn closure(
    roots: Vec<String>,
    all: &Map<String, Value>,
    extra: &Map<String, Value>,
) -> Map<String, Value> {
    let mut seen = BTreeSet::new();
    let mut out = Map::new();
    let mut todo = roots;
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(d) = extra.get(&n).or_else(|| all.get(&n)) {
            collect_refs(d, &mut todo);
            out.insert(n, d.clone());
        }
    }
    out
}

/// `components.schemas` for one group version's document: its kinds and what they use.
pub fn v3_schemas<'a>(defs: impl Iterator<Item = &'a ResourceDef>) -> Map<String, Value> {
    let b = builtins();
    let mut extra = Map::new();
    let mut roots = Vec::new();
    for d in defs {
        if d.crd.is_some() {
            if let Some(s) = crd_schema(d, "#/components/schemas/") {
                let n = crd_def_name(d);
                extra.insert(n.clone(), s);
                roots.push(n);
            }
        } else if let Some(n) = b
            .kinds
            .get(&(d.group.clone(), d.version.clone(), d.kind.clone()))
        {
            roots.push(n.clone());
        }
        if d.scale().is_some() {
            roots.push("io.k8s.api.autoscaling.v1.Scale".into());
        }
    }
    closure(roots, &b.v3, &extra)
}

/// The `/openapi/v2` (Swagger 2.0) document: every served kind's definition.
pub fn v2_document<'a>(defs: impl Iterator<Item = &'a ResourceDef>) -> Value {
    let b = builtins();
    let mut definitions = b.v2.clone();
    for d in defs {
        if d.crd.is_some()
            && let Some(s) = crd_schema(d, "#/definitions/")
        {
            definitions.insert(crd_def_name(d), s);
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": {},
        "definitions": definitions,
    })
}

/// The paths of fields in `obj` that the kind's schema does not know (as
/// `fieldValidation=Strict` reports them: `spec.replicaz`), for built-in kinds. CRDs are
/// checked against their own schema by the caller.
pub fn unknown_fields(group: &str, version: &str, kind: &str, obj: &Value) -> Vec<String> {
    let b = builtins();
    let Some(name) = b
        .kinds
        .get(&(group.to_owned(), version.to_owned(), kind.to_owned()))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(schema) = b.v3.get(name) {
        walk(&b.v3, schema, obj, "", &mut out);
    }
    out
}

/// Unknown fields of a custom resource against its version's `openAPIV3Schema`
/// (`apiVersion`, `kind` and `metadata` are always known).
pub fn unknown_fields_in(schema: &Value, obj: &Value) -> Vec<String> {
    let mut body = obj.clone();
    if let Some(m) = body.as_object_mut() {
        for k in ["apiVersion", "kind", "metadata"] {
            m.remove(k);
        }
    }
    let mut out = Vec::new();
    walk(&Map::new(), schema, &body, "", &mut out);
    out
}

fn resolve<'a>(defs: &'a Map<String, Value>, mut s: &'a Value) -> &'a Value {
    for _ in 0..8 {
        let r = s
            .get("$ref")
            .and_then(Value::as_str)
            .or_else(|| s.pointer("/allOf/0/$ref").and_then(Value::as_str));
        match r.and_then(|r| defs.get(r.rsplit('/').next().unwrap_or(""))) {
            Some(d) => s = d,
            None => break,
        }
    }
    s
}

fn walk(defs: &Map<String, Value>, schema: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    let schema = resolve(defs, schema);
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, x) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match props.get(k) {
                        Some(s) => walk(defs, s, x, &p, out),
                        None => out.push(p),
                    }
                }
            } else if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, x) in m {
                    walk(defs, ap, x, &format!("{path}.{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for (i, x) in a.iter().enumerate() {
                    walk(defs, items, x, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_schema_is_published_with_its_kind() {
        let b = builtins();
        let d = &b.v3["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            d["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        let spec = resolve(&b.v3, &d["properties"]["spec"]);
        assert_eq!(spec["properties"]["replicas"]["type"], "integer");
    }

    #[test]
    fn unknown_fields_are_found_with_their_paths() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"replicaz": 1, "template": {"spec": {"containers": [{"name": "c", "imagez": "i"}]}}}});
        assert_eq!(
            unknown_fields("apps", "v1", "Deployment", &obj),
            vec![
                "spec.replicaz".to_owned(),
                "spec.template.spec.containers[0].imagez".to_owned()
            ]
        );
        let ok = json!({"metadata": {"name": "x"}, "data": {"k": "v"}});
        assert!(unknown_fields("", "v1", "ConfigMap", &ok).is_empty());
    }
}
