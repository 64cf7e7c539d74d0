//! The `scale` subresource (`autoscaling/v1` Scale) of Deployments, ReplicaSets and
//! CRDs declaring `subresources.scale`: a view of the object's replica counts and
//! selector; writing it changes only the replicas at `specReplicasPath`.

use serde_json::{Value, json};

use super::Shared;
use super::error::ApiError;
use super::registry::{ResourceDef, ScalePaths};
use super::store::WriteCtx;
use crate::semantics::patch::{json_patch, merge_patch};

/// How a PATCH of the scale is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalePatch {
    /// `merge-patch+json`, and `strategic-merge-patch+json` (the same for a Scale, which
    /// has no lists).
    Merge,
    /// `json-patch+json`.
    Json,
}

/// A label selector (`{matchLabels, matchExpressions}`) as the string the real server
/// puts in `status.selector`: requirements sorted by key.
pub fn selector_string(sel: &Value) -> String {
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let mut values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let text = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        reqs.push((key.to_owned(), text));
    }
    reqs.sort();
    reqs.into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

/// The Scale view of `obj`.
pub fn scale_of(obj: &Value, paths: &ScalePaths) -> Value {
    let meta = &obj["metadata"];
    let mut m = serde_json::Map::new();
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    let replicas = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let selector = match &paths.label_selector {
        Some(p) => obj.pointer(p).and_then(Value::as_str).map(str::to_owned),
        None => obj.pointer("/spec/selector").map(selector_string),
    };
    let mut status = json!({"replicas": replicas(&paths.status_replicas)});
    if let Some(s) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = json!(s);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": replicas(&paths.spec_replicas)},
        "status": status,
    })
}

/// The replicas a Scale body asks for, checked as the real server does.
fn desired_replicas(scale: &Value, name: &str) -> Result<i64, ApiError> {
    let invalid = |msg: String| ApiError::invalid("Scale", name, &[("spec.replicas".into(), msg)]);
    match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => match v.as_i64() {
            Some(n) if n < 0 => Err(invalid(format!(
                "Invalid value: {n}: must be greater than or equal to 0"
            ))),
            Some(n) if n > i64::from(i32::MAX) => Err(invalid(format!(
                "Invalid value: {n}: must be less than or equal to {}",
                i32::MAX
            ))),
            Some(n) => Ok(n),
            None => Err(ApiError::bad_request(format!(
                "Scale in version \"v1\" cannot be handled as a Scale: spec.replicas: {v} is not an integer"
            ))),
        },
    }
}

/// Writes `pointer` in `obj`, creating objects on the way.
fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let map = cur.as_object_mut().expect("just made an object");
        if i + 1 == parts.len() {
            map.insert((*p).to_owned(), value);
            return;
        }
        cur = map.entry((*p).to_owned()).or_insert_with(|| json!({}));
    }
}

/// `GET .../scale`.
pub fn get(
    shared: &Shared,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    let paths = def.scale().ok_or_else(not_found)?;
    let obj = shared.lock().get(def, ns, name)?;
    Ok(scale_of(&obj, &paths))
}

/// `PUT .../scale`: the body's `spec.replicas` (and its resourceVersion, if any, as a
/// precondition) written to the object.
pub fn update(
    shared: &Shared,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    body: &Value,
    ctx: &WriteCtx,
) -> Result<Value, ApiError> {
    let paths = def.scale().ok_or_else(not_found)?;
    if let Some(kind) = body.get("kind").and_then(Value::as_str)
        && kind != "Scale"
    {
        return Err(ApiError::bad_request(format!(
            "the body of the request was in an unknown format: expected kind Scale, got {kind}"
        )));
    }
    if let Some(body_name) = body.pointer("/metadata/name").and_then(Value::as_str)
        && body_name != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let replicas = desired_replicas(body, name)?;
    let mut st = shared.lock();
    let mut obj = st.get(def, ns, name)?;
    if let Some(rv) = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        obj["metadata"]["resourceVersion"] = json!(rv);
    }
    set_pointer(&mut obj, &paths.spec_replicas, json!(replicas));
    let updated = st.update(def, ns, name, obj, false, ctx)?;
    Ok(scale_of(&updated, &paths))
}

/// `PATCH .../scale`: the patch applied to the current Scale, then written as a PUT.
#[allow(clippy::too_many_arguments)]
pub fn patch(
    shared: &Shared,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    kind: ScalePatch,
    body: &[u8],
    ctx: &WriteCtx,
) -> Result<Value, ApiError> {
    let p: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding the patch: {e}")))?;
    let current = get(shared, def, ns, name)?;
    let mut next = match kind {
        ScalePatch::Merge => merge_patch(&current, &p),
        ScalePatch::Json => json_patch(&current, &p)
            .map_err(|e| ApiError::new(e.code(), e.reason(), e.to_string()))?,
    };
    // A patch carries no precondition unless it sets the resourceVersion itself.
    if next.pointer("/metadata/resourceVersion") == current.pointer("/metadata/resourceVersion")
        && let Some(m) = next.get_mut("metadata").and_then(Value::as_object_mut)
    {
        m.remove("resourceVersion");
    }
    update(shared, def, ns, name, &next, ctx)
}

fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_strings_sort_requirements_by_key() {
        let sel = json!({"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]},
                                 {"key": "d", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(&sel), "a=1,b=2,c in (x,y),!d");
    }

    #[test]
    fn scale_view_reads_the_paths() {
        let p = ScalePaths::from_crd(&json!({"specReplicasPath": ".spec.workers",
            "statusReplicasPath": ".status.workers", "labelSelectorPath": ".status.sel"}))
        .unwrap();
        let obj = json!({"metadata": {"name": "x", "resourceVersion": "7"},
            "spec": {"workers": 3}, "status": {"workers": 2, "sel": "app=x"}});
        let s = scale_of(&obj, &p);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"], json!({"replicas": 2, "selector": "app=x"}));
        assert_eq!(s["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn negative_replicas_are_invalid() {
        let e = desired_replicas(&json!({"spec": {"replicas": -1}}), "x").unwrap_err();
        assert_eq!(e.code, 422);
        let mut o = json!({});
        set_pointer(&mut o, "/spec/a/b", json!(1));
        assert_eq!(o, json!({"spec": {"a": {"b": 1}}}));
    }
}
