//! Structural defaulting and pruning for custom resources, driven by one CRD version's
//! `openAPIV3Schema`, following `k8s.io/apiextensions-apiserver/pkg/apiserver/schema`
//! (`defaulting/algorithm.go` and `pruning/algorithm.go`).
//!
//! Validation (types, enums, CEL) is not here: it lives in
//! `tradewind_crds::validation::SchemaSet`, one implementation shared with the CRD crate.
//!
//! Order in the real server (and expected of callers): decode, [`prune`], [`apply_defaults`],
//! then validate.

use serde_json::Value;

/// Fields the API server keeps at the root of every object and of every
/// `x-kubernetes-embedded-resource`, whatever the schema says.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Fills in `default` values from `schema` into `obj`, at any depth.
///
/// A default is applied where the field is missing, or where it is `null` and the field
/// is not `nullable: true`, and only where the parent object exists (defaults never
/// create parents, except through a default of the parent itself). Defaults are walked
/// through `properties`, array `items` and `additionalProperties` (map values), and
/// the defaults just inserted are themselves defaulted, as in the real server.
///
/// Why not `kube_cel::apply_defaults`: it is close, but it recurses only into the
/// fields the object had before defaulting (so a `default: {}` object never gets its
/// own children's defaults) and it leaves a non-nullable `null` alone, where the API
/// server replaces it with the default. Both matter for objects a real server stores.
pub fn apply_defaults(schema: &Value, obj: &Value) -> Value {
    let mut out = obj.clone();
    default_in_place(schema, &mut out, 0);
    out
}

/// Recursion cap so a hostile, self-similar object cannot overflow the stack.
const MAX_DEPTH: usize = 256;

fn default_in_place(schema: &Value, value: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(props) = props {
                for (key, prop) in props {
                    let Some(default) = prop.get("default") else {
                        continue;
                    };
                    let nullable = prop.get("nullable").and_then(Value::as_bool) == Some(true);
                    match map.get(key) {
                        None => {
                            map.insert(key.clone(), default.clone());
                        }
                        Some(Value::Null) if !nullable => {
                            map.insert(key.clone(), default.clone());
                        }
                        Some(_) => {}
                    }
                }
            }
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in map.iter_mut() {
                if let Some(prop) = props.and_then(|p| p.get(key)) {
                    default_in_place(prop, child, depth + 1);
                } else if let Some(add) = additional {
                    default_in_place(add, child, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for item in items {
                    default_in_place(item_schema, item, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Drops every field the schema does not declare, as the API server does on create and
/// update of a custom resource. Returns the pruned object and the paths removed (sorted,
/// in the server's warning form: `spec.foo`, `spec.items[0].bar`).
///
/// Rules: a node with `x-kubernetes-preserve-unknown-fields: true` keeps its unknown
/// fields (but its declared properties are still pruned below it); `properties` and
/// `additionalProperties` are followed; `apiVersion`, `kind` and `metadata` are kept at
/// the root and inside every `x-kubernetes-embedded-resource` (their metadata is the
/// server's `ObjectMeta` business, not the schema's). A root `apiVersion`/`kind`/
/// `metadata` the schema does not declare is kept silently; the same names deeper down
/// are ordinary fields. Within those `metadata` objects, fields that are not
/// `ObjectMeta` fields are dropped and reported (the real server decodes them into
/// `ObjectMeta`).
pub fn prune(schema: &Value, obj: &Value) -> (Value, Vec<String>) {
    let mut out = obj.clone();
    let mut pruned = Vec::new();
    // The root is always treated as an embedded resource (pruning/algorithm.go does
    // the same with a cloned schema).
    prune_node(Some(schema), &mut out, "", true, &mut pruned, 0);
    pruned.sort();
    (out, pruned)
}

/// The fields of `ObjectMeta`: the real server decodes metadata into it, dropping
/// (and, with strict field validation, reporting) anything else.
const OBJECT_META_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

fn prune_object_meta(
    meta: &mut serde_json::Map<String, Value>,
    path: &str,
    pruned: &mut Vec<String>,
) {
    meta.retain(|k, _| {
        let known = OBJECT_META_FIELDS.contains(&k.as_str());
        if !known {
            pruned.push(join(path, k));
        }
        known
    });
}

fn is_true(schema: Option<&Value>, key: &str) -> bool {
    schema.and_then(|s| s.get(key)).and_then(Value::as_bool) == Some(true)
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn prune_node(
    schema: Option<&Value>,
    value: &mut Value,
    path: &str,
    embedded: bool,
    pruned: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let preserve = is_true(schema, "x-kubernetes-preserve-unknown-fields");
    match value {
        Value::Object(map) => {
            let props = schema
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object);
            let additional = schema
                .and_then(|s| s.get("additionalProperties"))
                .filter(|a| a.is_object());
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if embedded && META_FIELDS.contains(&key.as_str()) {
                    if key == "metadata"
                        && let Some(Value::Object(meta)) = map.get_mut(&key)
                    {
                        prune_object_meta(meta, &join(path, "metadata"), pruned);
                    }
                    continue;
                }
                let child_path = join(path, &key);
                let child_schema = props.and_then(|p| p.get(&key)).or(additional);
                match child_schema {
                    Some(cs) => {
                        if let Some(child) = map.get_mut(&key) {
                            let child_embedded =
                                is_true(Some(cs), "x-kubernetes-embedded-resource");
                            prune_node(
                                Some(cs),
                                child,
                                &child_path,
                                child_embedded,
                                pruned,
                                depth + 1,
                            );
                        }
                    }
                    None if preserve => {}
                    None => {
                        map.remove(&key);
                        pruned.push(child_path);
                    }
                }
            }
        }
        Value::Array(items) => {
            let item_schema = schema
                .and_then(|s| s.get("items"))
                .filter(|i| i.is_object());
            // With no items schema and no preserve flag, every field inside is unknown.
            if item_schema.is_none() && preserve {
                return;
            }
            let item_embedded = is_true(item_schema, "x-kubernetes-embedded-resource");
            for (i, item) in items.iter_mut().enumerate() {
                let item_path = format!("{path}[{i}]");
                prune_node(
                    item_schema,
                    item,
                    &item_path,
                    item_embedded,
                    pruned,
                    depth + 1,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd_like() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "replicas": {"type": "integer", "default": 1},
                        "mode": {"type": "string", "default": "paper"},
                        "nullable": {"type": "string", "nullable": true, "default": "x"},
                        "limits": {
                            "type": "object",
                            "properties": {"maxOrders": {"type": "integer", "default": 10}}
                        },
                        "legs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "side": {"type": "string", "default": "buy"},
                                    "qty": {"type": "number"}
                                }
                            }
                        },
                        "byName": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {"weight": {"type": "number", "default": 1.0}}
                            }
                        },
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                                 "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                        "template": {
                            "type": "object",
                            "x-kubernetes-embedded-resource": true,
                            "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}
                        }
                    }
                },
                "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
            }
        })
    }

    #[test]
    fn default_fills_missing_field() {
        let out = apply_defaults(&crd_like(), &json!({"spec": {"replicas": 3}}));
        assert_eq!(out["spec"]["replicas"], 3);
        assert_eq!(out["spec"]["mode"], "paper");
    }

    #[test]
    fn default_does_not_create_missing_parent_without_its_own_default() {
        let out = apply_defaults(&crd_like(), &json!({"spec": {}}));
        // limits has no default: its child's default must not invent it.
        assert!(out["spec"].get("limits").is_none());
        // status has no default: not created.
        assert!(out.get("status").is_none());
    }

    #[test]
    fn default_of_parent_is_itself_defaulted() {
        // spec: default {} then spec.replicas/mode defaults apply inside it.
        let out = apply_defaults(&crd_like(), &json!({"apiVersion": "x/v1", "kind": "K"}));
        assert_eq!(out["spec"]["replicas"], 1);
        assert_eq!(out["spec"]["mode"], "paper");
    }

    #[test]
    fn default_replaces_non_nullable_null_only() {
        let out = apply_defaults(
            &crd_like(),
            &json!({"spec": {"mode": null, "nullable": null}}),
        );
        assert_eq!(out["spec"]["mode"], "paper");
        assert_eq!(out["spec"]["nullable"], Value::Null);
    }

    #[test]
    fn default_inside_existing_nested_object() {
        let out = apply_defaults(&crd_like(), &json!({"spec": {"limits": {}}}));
        assert_eq!(out["spec"]["limits"]["maxOrders"], 10);
    }

    #[test]
    fn default_array_items() {
        let out = apply_defaults(
            &crd_like(),
            &json!({"spec": {"legs": [{"qty": 1}, {"side": "sell"}]}}),
        );
        assert_eq!(
            out["spec"]["legs"],
            json!([{"qty": 1, "side": "buy"}, {"side": "sell"}])
        );
    }

    #[test]
    fn default_additional_properties_values_but_no_new_entries() {
        let out = apply_defaults(
            &crd_like(),
            &json!({"spec": {"byName": {"a": {}, "b": {"weight": 2}}}}),
        );
        assert_eq!(
            out["spec"]["byName"],
            json!({"a": {"weight": 1.0}, "b": {"weight": 2}})
        );
    }

    #[test]
    fn default_does_not_overwrite_and_leaves_scalars() {
        let schema = json!({"type": "string", "default": "x"});
        assert_eq!(apply_defaults(&schema, &json!("y")), json!("y"));
    }

    #[test]
    fn default_ignores_wrongly_typed_values() {
        // spec is a string: nothing to default into, and no panic.
        let out = apply_defaults(&crd_like(), &json!({"spec": "oops"}));
        assert_eq!(out["spec"], "oops");
    }

    #[test]
    fn prune_drops_unknown_fields_and_reports_paths() {
        let obj = json!({
            "apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"},
            "spec": {"replicas": 1, "bogus": true, "limits": {"maxOrders": 1, "extra": 2}},
            "top": 1
        });
        let (out, paths) = prune(&crd_like(), &obj);
        assert_eq!(paths, vec!["spec.bogus", "spec.limits.extra", "top"]);
        assert_eq!(
            out["spec"],
            json!({"replicas": 1, "limits": {"maxOrders": 1}})
        );
        assert_eq!(out["metadata"], json!({"name": "a"}));
        assert_eq!(out["apiVersion"], "x/v1");
    }

    #[test]
    fn prune_recurses_into_items_with_indexed_paths() {
        let obj = json!({"spec": {"legs": [{"qty": 1, "x": 1}, {"y": 2}]}});
        let (out, paths) = prune(&crd_like(), &obj);
        assert_eq!(paths, vec!["spec.legs[0].x", "spec.legs[1].y"]);
        assert_eq!(out["spec"]["legs"], json!([{"qty": 1}, {}]));
    }

    #[test]
    fn prune_recurses_into_additional_properties() {
        let obj = json!({"spec": {"byName": {"a": {"weight": 1, "junk": 1}}}});
        let (out, paths) = prune(&crd_like(), &obj);
        assert_eq!(paths, vec!["spec.byName.a.junk"]);
        assert_eq!(out["spec"]["byName"], json!({"a": {"weight": 1}}));
    }

    #[test]
    fn prune_preserve_unknown_keeps_unknown_but_prunes_declared_children() {
        let obj =
            json!({"spec": {"free": {"anything": {"deep": 1}, "known": {"a": "x", "b": "y"}}}});
        let (out, paths) = prune(&crd_like(), &obj);
        assert_eq!(paths, vec!["spec.free.known.b"]);
        assert_eq!(
            out["spec"]["free"],
            json!({"anything": {"deep": 1}, "known": {"a": "x"}})
        );
    }

    #[test]
    fn prune_keeps_meta_fields_of_embedded_resource_only() {
        let obj = json!({"spec": {
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}},
                          "spec": {"x": "1", "y": "2"}, "other": 1},
            "limits": {"kind": "not-meta-here"}
        }});
        let (out, paths) = prune(&crd_like(), &obj);
        assert_eq!(
            paths,
            vec![
                "spec.limits.kind",
                "spec.template.other",
                "spec.template.spec.y"
            ]
        );
        assert_eq!(
            out["spec"]["template"]["metadata"],
            json!({"name": "p", "labels": {"a": "b"}})
        );
        assert_eq!(out["spec"]["template"]["kind"], "Pod");
    }

    #[test]
    fn prune_drops_unknown_object_meta_fields_at_root_and_embedded() {
        let obj = json!({"metadata": {"name": "a", "labels": {"x": "y"}, "bogus": 1},
            "spec": {"template": {"metadata": {"name": "p", "clusterName": "c"}}}});
        let (out, paths) = prune(&crd_like(), &obj);
        assert_eq!(
            paths,
            vec!["metadata.bogus", "spec.template.metadata.clusterName"]
        );
        assert_eq!(out["metadata"], json!({"name": "a", "labels": {"x": "y"}}));
        assert_eq!(out["spec"]["template"]["metadata"], json!({"name": "p"}));
    }

    #[test]
    fn prune_schemaless_object_drops_everything_inside() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object"}}});
        let (out, paths) = prune(&schema, &json!({"spec": {"a": 1, "b": [1]}}));
        assert_eq!(paths, vec!["spec.a", "spec.b"]);
        assert_eq!(out["spec"], json!({}));
    }

    #[test]
    fn prune_root_preserve_unknown_keeps_all() {
        let schema = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        let obj = json!({"spec": {"a": 1}, "x": 2});
        let (out, paths) = prune(&schema, &obj);
        assert!(paths.is_empty());
        assert_eq!(out, obj);
    }

    #[test]
    fn prune_then_default_on_tradewind_crd() {
        // The real TradingBot schema: unknown fields go, status conditions survive.
        let crds = tradewind_crds_schema();
        let schema = crds.expect("TradingBot CRD manifest parses");
        let obj = json!({
            "apiVersion": "tradewind.dev/v1alpha1", "kind": "TradingBot",
            "metadata": {"name": "b"},
            "spec": {"unknownField": 1},
            "status": {"conditions": [{"type": "Ready", "status": "True", "bogus": 1,
                "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "R", "message": ""}]}
        });
        let (out, paths) = prune(&schema, &obj);
        assert!(paths.contains(&"spec.unknownField".to_owned()), "{paths:?}");
        assert!(
            paths.contains(&"status.conditions[0].bogus".to_owned()),
            "{paths:?}"
        );
        assert_eq!(out["status"]["conditions"][0]["type"], "Ready");
    }

    /// The first version's schema of the TradingBot CRD manifest, if it parses.
    fn tradewind_crds_schema() -> Option<Value> {
        let text = include_str!("../../../../crds/manifests/tradingbots.yaml");
        let doc: Value = serde_saphyr::from_str(text).ok()?;
        doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            .as_object()
            .map(|m| Value::Object(m.clone()))
    }
}
