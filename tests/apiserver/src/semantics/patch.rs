//! The three patch formats of `PATCH` requests (server-side apply lives in `apply`):
//!
//! - JSON merge patch (RFC 7386, `application/merge-patch+json`): [`merge_patch`];
//! - JSON patch (RFC 6902, `application/json-patch+json`): [`json_patch()`], a thin wrapper
//!   over the `json-patch` crate mapping its errors to a `Status`-ready message;
//! - strategic merge patch (`application/strategic-merge-patch+json`, built-in kinds
//!   only): [`strategic_merge_patch`], after `k8s.io/apimachinery/pkg/util/strategicpatch`,
//!   with the patch merge keys of the kinds this server serves in
//!   [`builtin_list_strategy`].

use serde_json::{Map, Value};

/// Why a patch could not be applied. [`PatchError::code`] and [`PatchError::reason`]
/// give the HTTP status and `Status.reason` the real API server answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// Strategic merge patch sent for a kind that has no Go struct behind it (custom
    /// resources, unknown kinds): the real server rejects the media type.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )]
    StrategicMergeUnsupported,
    /// The patch document is malformed (not a JSON patch array, bad directive, ...).
    #[error("{0}")]
    BadPatch(String),
    /// A JSON patch operation failed (missing path, failed `test`, ...).
    #[error("the server rejected our request due to an error in our request: {0}")]
    JsonPatchFailed(String),
}

impl PatchError {
    /// HTTP status code of the `Status` to answer with.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::StrategicMergeUnsupported => 415,
            PatchError::BadPatch(_) => 400,
            PatchError::JsonPatchFailed(_) => 422,
        }
    }

    /// `Status.reason` to answer with.
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::StrategicMergeUnsupported => "UnsupportedMediaType",
            PatchError::BadPatch(_) => "BadRequest",
            PatchError::JsonPatchFailed(_) => "Invalid",
        }
    }
}

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` deletes a
/// key, anything else (arrays included) replaces. Never fails.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        _ => patch.clone(),
    }
}

/// Applies an RFC 6902 JSON patch (an array of operations, `test` included) to `target`.
/// All-or-nothing: on error nothing is applied.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: json_patch::Patch = serde_json::from_value(lenient_null_tests(target, patch))
        .map_err(|e| PatchError::BadPatch(format!("invalid JSON patch: {e}")))?;
    let mut doc = target.clone();
    json_patch::patch(&mut doc, &ops).map_err(|e| PatchError::JsonPatchFailed(e.to_string()))?;
    Ok(doc)
}

/// The real API server applies JSON patches with evanphx/json-patch, whose `test` op
/// treats a missing path as `null`: `{"op":"test","path":"/metadata/finalizers","value":null}`
/// passes on an object without finalizers (kube-rs' finalizer helper relies on this).
/// RFC 6902 says it fails, so such ops are dropped before applying.
fn lenient_null_tests(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Array(ops) => Value::Array(
            ops.iter()
                .filter(|op| {
                    let is_null_test = op.get("op").and_then(Value::as_str) == Some("test")
                        && op.get("value").is_some_and(Value::is_null);
                    let missing = op
                        .get("path")
                        .and_then(Value::as_str)
                        .is_some_and(|p| target.pointer(p).is_none());
                    !(is_null_test && missing)
                })
                .cloned()
                .collect(),
        ),
        other => other.clone(),
    }
}

/// How a list field of a built-in kind merges, from the Go struct tags
/// (`patchStrategy`, `patchMergeKey`) of the real types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// A list of objects merged item by item on this key field.
    Merge {
        /// The patch merge key (also the server-side apply list-map key).
        key: &'static str,
    },
    /// A list of scalars merged as a set (union), e.g. `metadata.finalizers`.
    MergePrimitive,
    /// Replaced as a whole (no patch strategy on the field).
    Atomic,
}

/// Built-in kinds served by the test API server, by `kind` (group is checked by
/// [`is_builtin`]). Strategic merge patch is defined for these only.
const BUILTIN: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "ServiceAccount"),
    ("", "Service"),
    ("", "Event"),
    ("", "Pod"),
    ("events.k8s.io", "Event"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("networking.k8s.io", "Ingress"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("", "Endpoints"),
    ("", "Node"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("coordination.k8s.io", "Lease"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("policy", "PodDisruptionBudget"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
];

/// Whether `apiVersion`/`kind` is one of the built-in kinds (so strategic merge patch
/// and the merge-key table apply), rather than a custom resource.
pub fn is_builtin(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    BUILTIN.iter().any(|(g, k)| *g == group && *k == kind)
}

/// Where the pod spec sits in a kind that embeds a pod template.
fn pod_spec_prefix(kind: &str) -> &'static [&'static str] {
    match kind {
        "Deployment" | "Job" | "StatefulSet" | "DaemonSet" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "Pod" => &["spec"],
        _ => &[],
    }
}

/// The merge strategy of the list at `path` (field names from the object root, list
/// items not counted) in built-in `kind`. Lists not in the table are atomic, as they
/// are in the real types: e.g. `tolerations`, RBAC `rules` and `subjects`, NetworkPolicy
/// `ingress`/`egress`, `command`/`args` have no patch strategy and are replaced whole.
pub fn builtin_list_strategy(kind: &str, path: &[&str]) -> ListStrategy {
    use ListStrategy::{Atomic, Merge, MergePrimitive};
    // ObjectMeta lists, at the root or in an embedded template.
    match path {
        [.., "metadata", "finalizers"] => return MergePrimitive,
        [.., "metadata", "ownerReferences"] => return Merge { key: "uid" },
        ["status", "conditions"] => return Merge { key: "type" },
        _ => {}
    }
    let prefix = pod_spec_prefix(kind);
    if !prefix.is_empty() && path.len() > prefix.len() && path.starts_with(prefix) {
        return match &path[prefix.len()..] {
            ["containers" | "initContainers" | "ephemeralContainers"] => Merge { key: "name" },
            ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
                Merge { key: "name" }
            }
            ["hostAliases"] => Merge { key: "ip" },
            ["topologySpreadConstraints"] => Merge { key: "topologyKey" },
            [
                "containers" | "initContainers" | "ephemeralContainers",
                field,
            ] => match *field {
                "env" => Merge { key: "name" },
                "ports" => Merge {
                    key: "containerPort",
                },
                "volumeMounts" => Merge { key: "mountPath" },
                "volumeDevices" => Merge { key: "devicePath" },
                _ => Atomic,
            },
            _ => Atomic,
        };
    }
    match (kind, path) {
        ("Service", ["spec", "ports"]) => Merge { key: "port" },
        ("ServiceAccount", ["secrets"]) => Merge { key: "name" },
        _ => Atomic,
    }
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch to `original`, a built-in object (its `apiVersion`
/// and `kind` select the merge keys).
///
/// Rules, as in the real server: maps merge recursively and `null` deletes; lists with a
/// merge key merge item by item (`$patch: delete` in an item deletes the matching item,
/// `$patch: replace` in an item replaces the whole list); merge lists of scalars are
/// unions; other lists are replaced; `$patch: replace` in a map replaces the map and
/// `$patch: delete` empties it; `$retainKeys` drops the original's keys not listed;
/// `$deleteFromPrimitiveList/<field>` removes values from a scalar list and
/// `$setElementOrder/<field>` orders the merged list. Custom resources get
/// [`PatchError::StrategicMergeUnsupported`].
pub fn strategic_merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let api_version = original
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = original.get("kind").and_then(Value::as_str).unwrap_or("");
    if !is_builtin(api_version, kind) {
        return Err(PatchError::StrategicMergeUnsupported);
    }
    let Value::Object(p) = patch else {
        return Err(PatchError::BadPatch(
            "strategic merge patch must be a JSON object".into(),
        ));
    };
    let o = original.as_object().cloned().unwrap_or_default();
    let mut path = Vec::new();
    merge_map(kind, o, p, &mut path).map(Value::Object)
}

fn bad(msg: impl Into<String>) -> PatchError {
    PatchError::BadPatch(msg.into())
}

fn merge_map(
    kind: &str,
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    path: &mut Vec<String>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => Ok(strip_directives(patch)),
            Some("delete") => Ok(Map::new()),
            Some("merge") => {
                let mut rest = patch.clone();
                rest.remove(DIRECTIVE);
                merge_map(kind, original, &rest, path)
            }
            _ => Err(bad(format!(
                "invalid patch type {directive} in {}",
                at(path)
            ))),
        };
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let Some(list) = retain.as_array() else {
            return Err(bad(format!("$retainKeys must be a list at {}", at(path))));
        };
        let keep: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        for k in patch.keys() {
            if !k.starts_with('$') && !keep.contains(&k.as_str()) {
                return Err(bad(format!(
                    "the patch has field {k} which is not in $retainKeys at {}",
                    at(path)
                )));
            }
        }
        original.retain(|k, _| keep.contains(&k.as_str()));
    }
    let mut deletions = Vec::new();
    for (key, pv) in patch {
        if key == RETAIN_KEYS || key.starts_with(SET_ORDER) {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_PRIMITIVE) {
            deletions.push((field, pv));
            continue;
        }
        if key.starts_with('$') {
            return Err(bad(format!("unknown directive {key} at {}", at(path))));
        }
        if pv.is_null() {
            original.remove(key);
            continue;
        }
        path.push(key.clone());
        let order = patch
            .get(&format!("{SET_ORDER}{key}"))
            .and_then(Value::as_array);
        let merged = match (original.remove(key), pv) {
            (Some(Value::Object(o)), Value::Object(p)) => {
                Value::Object(merge_map(kind, o, p, path)?)
            }
            (Some(Value::Array(o)), Value::Array(p)) => {
                Value::Array(merge_list(kind, o, p, order, path)?)
            }
            // Missing or of another type: the patch value wins (cleaned of directives
            // and nulls, as the server does for values with nothing to merge into).
            (_, pv) => clean(pv),
        };
        path.pop();
        original.insert(key.clone(), merged);
    }
    // An order with no list sent alongside still reorders the original list.
    for (key, order) in patch {
        let Some(field) = key.strip_prefix(SET_ORDER) else {
            continue;
        };
        let Some(order) = order.as_array() else {
            return Err(bad(format!("{key} must be a list at {}", at(path))));
        };
        if patch.contains_key(field) {
            continue;
        }
        path.push(field.to_owned());
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        let list_key = match builtin_list_strategy(kind, &names) {
            ListStrategy::Merge { key } => Some(key),
            ListStrategy::MergePrimitive => None,
            ListStrategy::Atomic => {
                path.pop();
                continue;
            }
        };
        path.pop();
        if let Some(Value::Array(list)) = original.get_mut(field) {
            let server = list.clone();
            *list = normalize_order(std::mem::take(list), order, &server, list_key);
        }
    }
    // Deletions after merges: the list sent alongside is merged first.
    for (field, values) in deletions {
        let Some(values) = values.as_array() else {
            return Err(bad(format!(
                "{DELETE_PRIMITIVE}{field} must be a list at {}",
                at(path)
            )));
        };
        if let Some(Value::Array(list)) = original.get_mut(field) {
            list.retain(|v| !values.contains(v));
        }
    }
    Ok(original)
}

fn at(path: &[String]) -> String {
    if path.is_empty() {
        ".".into()
    } else {
        format!(".{}", path.join("."))
    }
}

/// A patch value with no original to merge into: drop nulls and directives.
fn clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip_directives(m)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| i.get(DIRECTIVE).is_none())
                .map(clean)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn strip_directives(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| (k.clone(), clean(v)))
        .collect()
}

fn merge_list(
    kind: &str,
    original: Vec<Value>,
    patch: &[Value],
    order: Option<&Vec<Value>>,
    path: &[String],
) -> Result<Vec<Value>, PatchError> {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    let strategy = builtin_list_strategy(kind, &names);
    let server_order = original.clone();
    let merged = match strategy {
        ListStrategy::Atomic => return Ok(patch.iter().map(clean).collect()),
        ListStrategy::MergePrimitive => {
            let mut out = original;
            for v in patch {
                if v.is_object() || v.is_array() {
                    return Err(bad(format!("expected a list of scalars at {}", at(path))));
                }
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            out
        }
        ListStrategy::Merge { key } => {
            let mut out = original;
            let mut items = Vec::new();
            for item in patch {
                let Value::Object(m) = item else {
                    return Err(bad(format!("expected a list of objects at {}", at(path))));
                };
                match m.get(DIRECTIVE).and_then(Value::as_str) {
                    Some("replace") => {
                        // The rest of the patch list becomes the list.
                        return Ok(patch
                            .iter()
                            .filter(|i| i.get(DIRECTIVE).is_none())
                            .map(clean)
                            .collect());
                    }
                    Some("delete") => {
                        let k = m.get(key).ok_or_else(|| no_key(key, path))?;
                        out.retain(|o| o.get(key) != Some(k));
                    }
                    Some(other) => {
                        return Err(bad(format!("invalid patch type {other} at {}", at(path))));
                    }
                    None if m.contains_key(DIRECTIVE) => {
                        return Err(bad(format!("invalid patch type at {}", at(path))));
                    }
                    None => items.push(m),
                }
            }
            let mut path = path.to_vec();
            for m in items {
                let k = m.get(key).ok_or_else(|| no_key(key, &path))?;
                match out.iter().position(|o| o.get(key) == Some(k)) {
                    Some(i) => {
                        let o = out[i].as_object().cloned().unwrap_or_default();
                        out[i] = Value::Object(merge_map(kind, o, m, &mut path)?);
                    }
                    None => out.push(Value::Object(strip_directives(m))),
                }
            }
            out
        }
    };
    let key = match strategy {
        ListStrategy::Merge { key } => Some(key),
        _ => None,
    };
    // Order as the real server does: items named by the patch (or $setElementOrder)
    // in that order, server-only items interleaved at their live positions.
    let patch_order: Vec<Value> = match order {
        Some(o) => o.clone(),
        None => patch
            .iter()
            .filter(|i| i.get(DIRECTIVE).is_none())
            .cloned()
            .collect(),
    };
    Ok(normalize_order(merged, &patch_order, &server_order, key))
}

fn no_key(key: &str, path: &[String]) -> PatchError {
    bad(format!(
        "map in list at {} does not contain declared merge key: {key}",
        at(path)
    ))
}

/// Identity of a list item for ordering: its merge key value, or itself for scalars.
fn identity<'a>(item: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(k) => item.get(k),
        None => Some(item),
    }
}

fn index_in(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let id = identity(item, key)?;
    list.iter().position(|o| identity(o, key) == Some(id))
}

/// `normalizeElementOrder` + `mergeSortedSlice` of strategicpatch.
fn normalize_order(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (mut patch_items, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|i| index_in(patch_order, i, key).is_some());
    patch_items.sort_by_key(|i| index_in(patch_order, i, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|i| index_in(server_order, i, key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let (mut l, mut r) = (
        server_only.into_iter().peekable(),
        patch_items.into_iter().peekable(),
    );
    loop {
        let take_left = match (l.peek(), r.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => match (
                index_in(server_order, a, key),
                index_in(server_order, b, key),
            ) {
                (Some(x), Some(y)) => x < y,
                _ => false,
            },
        };
        let next = if take_left { l.next() } else { r.next() };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod lenient_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_null_test_on_a_missing_path_passes_like_the_real_server() {
        let obj = json!({"metadata": {"name": "a"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}
        ]);
        assert_eq!(
            json_patch(&obj, &patch).unwrap()["metadata"]["finalizers"],
            json!(["x"])
        );
        // A null test on a path that exists still compares.
        let obj = json!({"metadata": {"finalizers": ["y"]}});
        assert!(json_patch(&obj, &patch).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // RFC 7386, Appendix A: every example.
    #[test]
    fn merge_patch_rfc7386_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            assert_eq!(merge_patch(&target, &patch), expected, "{target} + {patch}");
        }
    }

    #[test]
    fn merge_patch_replaces_lists_and_deletes_labels() {
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"l": [1, 2]}});
        let out = merge_patch(
            &obj,
            &json!({"metadata": {"labels": {"a": null}}, "spec": {"l": [3]}}),
        );
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"b": "2"}}, "spec": {"l": [3]}})
        );
    }

    #[test]
    fn json_patch_ops_including_test() {
        let obj = json!({"spec": {"replicas": 1, "l": [1]}});
        let p = json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/l/-", "value": 2},
            {"op": "remove", "path": "/spec/l/0"}
        ]);
        assert_eq!(
            json_patch(&obj, &p).unwrap(),
            json!({"spec": {"replicas": 3, "l": [2]}})
        );
    }

    #[test]
    fn json_patch_failed_test_is_all_or_nothing_422() {
        let obj = json!({"spec": {"replicas": 1}});
        let p = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "test", "path": "/spec/replicas", "value": 1}
        ]);
        let err = json_patch(&obj, &p).unwrap_err();
        assert_eq!(err.code(), 422);
        assert_eq!(err.reason(), "Invalid");
        assert!(err.to_string().contains("/1"), "{err}");
    }

    #[test]
    fn json_patch_bad_document_and_bad_path() {
        let obj = json!({});
        assert_eq!(
            json_patch(&obj, &json!({"op": "add"})).unwrap_err().code(),
            400
        );
        let e = json_patch(&obj, &json!([{"op": "remove", "path": "/nope"}])).unwrap_err();
        assert_eq!(e.code(), 422);
    }

    fn deployment(containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}}})
    }

    fn containers(v: &Value) -> &Value {
        &v["spec"]["template"]["spec"]["containers"]
    }

    // The Kubernetes docs' example ("Update API Objects in Place Using kubectl patch"):
    // patching a Deployment's containers by name adds the second container, and the
    // page shows the patched item first (items named by the patch come before
    // server-only items that have no live position to compare with).
    #[test]
    fn smp_containers_merge_by_name_docs_example() {
        let live = deployment(json!([{"name": "patch-demo-ctr", "image": "nginx"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "patch-demo-ctr-2", "image": "redis"}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(
            containers(&out),
            &json!([{"name": "patch-demo-ctr-2", "image": "redis"},
                    {"name": "patch-demo-ctr", "image": "nginx"}])
        );
        // The same patch as a JSON merge patch replaces the list.
        let merged = merge_patch(&live, &patch);
        assert_eq!(
            containers(&merged),
            &json!([{"name": "patch-demo-ctr-2", "image": "redis"}])
        );
    }

    // Same docs page: tolerations have no patch strategy, so they are replaced.
    #[test]
    fn smp_tolerations_are_replaced_docs_example() {
        let mut live = deployment(json!([{"name": "c", "image": "nginx"}]));
        live["spec"]["template"]["spec"]["tolerations"] =
            json!([{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}]);
        let patch = json!({"spec": {"template": {"spec": {"tolerations": [
            {"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["tolerations"],
            json!([{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}])
        );
    }

    #[test]
    fn smp_merges_matching_item_fields_and_nested_env_ports_mounts() {
        let live = deployment(json!([{"name": "c", "image": "a:1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 80}],
            "volumeMounts": [{"mountPath": "/x", "name": "v"}]}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a:2",
            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
            "ports": [{"containerPort": 443}],
            "volumeMounts": [{"mountPath": "/x", "readOnly": true}]}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        let c = &containers(&out)[0];
        assert_eq!(c["image"], "a:2");
        assert_eq!(
            c["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])
        );
        assert_eq!(
            c["ports"],
            json!([{"containerPort": 443}, {"containerPort": 80}])
        );
        assert_eq!(
            c["volumeMounts"],
            json!([{"mountPath": "/x", "name": "v", "readOnly": true}])
        );
    }

    #[test]
    fn smp_patch_delete_directive_in_list_item() {
        let live = deployment(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(containers(&out), &json!([{"name": "b", "image": "y"}]));
    }

    #[test]
    fn smp_patch_replace_directive_in_list() {
        let live = deployment(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"$patch": "replace"}, {"name": "c", "image": "z"}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(containers(&out), &json!([{"name": "c", "image": "z"}]));
    }

    #[test]
    fn smp_patch_replace_and_delete_directive_in_map() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1", "b": "2"}});
        let out = strategic_merge_patch(&live, &json!({"data": {"$patch": "replace", "c": "3"}}))
            .unwrap();
        assert_eq!(out["data"], json!({"c": "3"}));
        let out = strategic_merge_patch(&live, &json!({"data": {"$patch": "delete"}})).unwrap();
        assert_eq!(out["data"], json!({}));
        let err = strategic_merge_patch(&live, &json!({"data": {"$patch": "bogus"}})).unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn smp_null_deletes_field() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {"a": "1", "b": "2"}}});
        let out =
            strategic_merge_patch(&live, &json!({"metadata": {"labels": {"a": null}}})).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
    }

    #[test]
    fn smp_finalizers_union_and_delete_from_primitive_list() {
        let live =
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"finalizers": ["a", "b"]}});
        let out =
            strategic_merge_patch(&live, &json!({"metadata": {"finalizers": ["c", "a"]}})).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let out = strategic_merge_patch(
            &live,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        )
        .unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn smp_set_element_order_orders_the_list() {
        let live = deployment(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        // kubectl's 3-way patch: only b changes, but the order says c, b, a.
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
            "containers": [{"name": "b", "image": "new"}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(
            containers(&out),
            &json!([{"name": "c"}, {"name": "b", "image": "new"}, {"name": "a"}])
        );
    }

    // What `kubectl apply` (client-side) sends to drop container b and change a.
    #[test]
    fn smp_kubectl_three_way_patch() {
        let live = deployment(json!([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]));
        let patch = json!({"metadata": {"annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"name": "a", "image": "3"}, {"$patch": "delete", "name": "b"}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(containers(&out), &json!([{"name": "a", "image": "3"}]));
        assert_eq!(
            out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{}"
        );
    }

    #[test]
    fn smp_set_element_order_alone_reorders() {
        let live = deployment(json!([{"name": "a"}, {"name": "b"}]));
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(containers(&out), &json!([{"name": "b"}, {"name": "a"}]));
        let bad = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": 1}}}});
        assert_eq!(strategic_merge_patch(&live, &bad).unwrap_err().code(), 400);
    }

    #[test]
    fn smp_server_only_items_keep_their_place() {
        let live = deployment(json!([{"name": "a"}, {"name": "server"}, {"name": "b"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "x": 1}, {"name": "b"}, {"name": "new"}]}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        let names: Vec<&str> = containers(&out)
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "server", "b", "new"]);
    }

    #[test]
    fn smp_retain_keys_drops_other_original_keys() {
        // Deployment strategy switching from RollingUpdate to Recreate, as kubectl sends it.
        let mut live = deployment(json!([]));
        live["spec"]["strategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let bad = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}});
        assert_eq!(strategic_merge_patch(&live, &bad).unwrap_err().code(), 400);
    }

    #[test]
    fn smp_missing_merge_key_is_bad_request() {
        let live = deployment(json!([{"name": "a"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let err = strategic_merge_patch(&live, &patch).unwrap_err();
        assert_eq!(err.code(), 400);
        assert!(err.to_string().contains("merge key: name"), "{err}");
    }

    #[test]
    fn smp_owner_references_by_uid_and_conditions_by_type() {
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
            "status": {"conditions": [{"type": "Available", "status": "False"}, {"type": "Progressing", "status": "True"}]}});
        let patch = json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]},
            "status": {"conditions": [{"type": "Available", "status": "True"}]}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(
            out["metadata"]["ownerReferences"].as_array().unwrap().len(),
            2
        );
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}])
        );
    }

    #[test]
    fn smp_atomic_lists_replace_rbac_rules() {
        let live = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "rules": [{"verbs": ["get"], "resources": ["pods"], "apiGroups": [""]}]});
        let patch =
            json!({"rules": [{"verbs": ["list"], "resources": ["secrets"], "apiGroups": [""]}]});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(out["rules"], patch["rules"]);
    }

    #[test]
    fn smp_cronjob_and_service_keys() {
        let live = json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "a", "image": "1"}]}}}}}});
        let patch = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b"}]}}}}}});
        let out = strategic_merge_patch(&live, &patch).unwrap();
        assert_eq!(
            out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let svc = json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80, "name": "http"}]}});
        let out =
            strategic_merge_patch(&svc, &json!({"spec": {"ports": [{"port": 443}]}})).unwrap();
        assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn smp_on_custom_resource_is_415() {
        let cr = json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "TradingBot", "spec": {}});
        let err = strategic_merge_patch(&cr, &json!({"spec": {"a": 1}})).unwrap_err();
        assert_eq!(err, PatchError::StrategicMergeUnsupported);
        assert_eq!(err.code(), 415);
        assert_eq!(err.reason(), "UnsupportedMediaType");
        // A CRD-defined kind named like a built-in in another group is not built-in.
        assert!(!is_builtin("example.com/v1", "Deployment"));
        assert!(is_builtin("apps/v1", "Deployment"));
        assert!(is_builtin("v1", "ConfigMap"));
    }

    #[test]
    fn smp_new_value_is_cleaned_of_directives_and_nulls() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        let out = strategic_merge_patch(&live, &json!({"data": {"a": "1", "b": null}})).unwrap();
        assert_eq!(out["data"], json!({"a": "1"}));
    }

    #[test]
    fn table_defaults_to_atomic() {
        assert_eq!(
            builtin_list_strategy("Deployment", &["spec", "template", "spec", "tolerations"]),
            ListStrategy::Atomic
        );
        assert_eq!(
            builtin_list_strategy("Job", &["spec", "template", "spec", "containers"]),
            ListStrategy::Merge { key: "name" }
        );
        assert_eq!(
            builtin_list_strategy(
                "Job",
                &["spec", "template", "spec", "initContainers", "volumeMounts"]
            ),
            ListStrategy::Merge { key: "mountPath" }
        );
        assert_eq!(
            builtin_list_strategy("ConfigMap", &["metadata", "finalizers"]),
            ListStrategy::MergePrimitive
        );
        assert_eq!(
            builtin_list_strategy("ClusterRole", &["rules"]),
            ListStrategy::Atomic
        );
    }
}
