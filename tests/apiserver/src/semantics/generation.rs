//! `metadata.generation` and status-subresource rules, after the update strategies of
//! the real registry (`customresource/strategy.go`, `status_strategy.go` and the
//! built-in strategies that behave the same).

use serde_json::Value;

/// Whether an update changes the object's desired state: anything outside `metadata`
/// and `status` (for built-ins that is `spec`; for custom resources every other
/// top-level field counts too, as in the real CRD strategy).
pub fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

/// The generation an update stores: the old one plus one when the spec changed or
/// deletion has just started (`deletionTimestamp` newly set, as the real server does
/// for custom resources and most built-ins); otherwise unchanged. A missing old
/// generation counts as 1 (every object starts at 1 on create).
pub fn next_generation(old: &Value, new: &Value) -> i64 {
    let current = old
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let deleting = |v: &Value| {
        v.pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
    };
    if spec_changed(old, new) || (!deleting(old) && deleting(new)) {
        current.saturating_add(1)
    } else {
        current
    }
}

/// Create of a resource with a status subresource: the status sent is dropped. Also the
/// configuration to server-side apply to such a resource's main endpoint (status is a
/// reset field there).
pub fn strip_status_on_create(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.as_object_mut() {
        m.remove("status");
    }
    out
}

/// Only what a `/status` write may touch: `apiVersion`, `kind`, `metadata` and `status`.
/// For server-side apply through `/status`, apply this to the configuration first (the
/// real server's reset fields), so the applier does not own spec fields it cannot set.
pub fn status_part(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.as_object_mut() {
        m.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
    }
    out
}

/// Update of the main resource when the status subresource is enabled: the status sent
/// is ignored and the stored one kept (removed if there was none).
pub fn strip_status_for_main_resource(old: &Value, new: &Value) -> Value {
    let mut out = new.clone();
    if let Some(m) = out.as_object_mut() {
        match old.get("status") {
            Some(s) => {
                m.insert("status".into(), s.clone());
            }
            None => {
                m.remove("status");
            }
        }
    }
    out
}

/// Update through `/status`: only `status` changes. The result is the old object with
/// the new status (removed if the request has none) and the request's
/// `metadata.managedFields` (already updated by the field manager for this write);
/// everything else sent, metadata included, is ignored.
pub fn keep_only_status(old: &Value, new: &Value) -> Value {
    let mut out = old.clone();
    let Some(m) = out.as_object_mut() else {
        return out;
    };
    match new.get("status") {
        Some(s) => {
            m.insert("status".into(), s.clone());
        }
        None => {
            m.remove("status");
        }
    }
    let managed = new.pointer("/metadata/managedFields").cloned();
    if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
        match managed {
            Some(mf) => {
                meta.insert("managedFields".into(), mf);
            }
            None => {
                meta.remove("managedFields");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Value {
        json!({"apiVersion": "x/v1", "kind": "K",
               "metadata": {"name": "a", "generation": 3, "labels": {"a": "1"}},
               "spec": {"n": 1}, "status": {"phase": "Running"}})
    }

    #[test]
    fn spec_change_bumps_generation() {
        let mut new = obj();
        new["spec"]["n"] = json!(2);
        assert!(spec_changed(&obj(), &new));
        assert_eq!(next_generation(&obj(), &new), 4);
    }

    #[test]
    fn metadata_and_status_changes_do_not() {
        let mut new = obj();
        new["metadata"]["labels"]["b"] = json!("2");
        new["status"]["phase"] = json!("Failed");
        assert!(!spec_changed(&obj(), &new));
        assert_eq!(next_generation(&obj(), &new), 3);
    }

    #[test]
    fn other_top_level_fields_count_as_spec() {
        let old = json!({"metadata": {"generation": 1}, "data": {"a": "1"}});
        let new = json!({"metadata": {"generation": 1}, "data": {"a": "2"}});
        assert!(spec_changed(&old, &new));
        assert_eq!(next_generation(&old, &new), 2);
    }

    #[test]
    fn deletion_start_bumps_generation_once() {
        let mut new = obj();
        new["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(next_generation(&obj(), &new), 4);
        assert_eq!(next_generation(&new, &new), 3);
    }

    #[test]
    fn missing_generation_counts_as_one() {
        let old = json!({"spec": {"a": 1}});
        assert_eq!(next_generation(&old, &json!({"spec": {"a": 2}})), 2);
        assert_eq!(next_generation(&old, &old), 1);
    }

    #[test]
    fn status_part_keeps_identity_and_status() {
        let out = status_part(&obj());
        assert!(out.get("spec").is_none());
        assert_eq!(out["status"], json!({"phase": "Running"}));
        assert_eq!(out["metadata"]["name"], "a");
        assert_eq!(out["kind"], "K");
    }

    #[test]
    fn create_drops_status() {
        assert!(strip_status_on_create(&obj()).get("status").is_none());
    }

    #[test]
    fn main_resource_update_keeps_stored_status() {
        let mut new = obj();
        new["status"] = json!({"phase": "Hacked"});
        new["spec"]["n"] = json!(9);
        let out = strip_status_for_main_resource(&obj(), &new);
        assert_eq!(out["status"], json!({"phase": "Running"}));
        assert_eq!(out["spec"]["n"], 9);
        let mut old = obj();
        old.as_object_mut().unwrap().remove("status");
        assert!(
            strip_status_for_main_resource(&old, &new)
                .get("status")
                .is_none()
        );
    }

    #[test]
    fn status_update_changes_only_status_and_managed_fields() {
        let mut new = obj();
        new["status"] = json!({"phase": "Done"});
        new["spec"]["n"] = json!(9);
        new["metadata"]["labels"] = json!({"x": "y"});
        new["metadata"]["managedFields"] = json!([{"manager": "m"}]);
        let out = keep_only_status(&obj(), &new);
        assert_eq!(out["status"], json!({"phase": "Done"}));
        assert_eq!(out["spec"]["n"], 1);
        assert_eq!(out["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(out["metadata"]["managedFields"], json!([{"manager": "m"}]));
        let mut none = obj();
        none.as_object_mut().unwrap().remove("status");
        assert!(keep_only_status(&obj(), &none).get("status").is_none());
    }
}
