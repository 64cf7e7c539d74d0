//! "Diff before write": whether a live object already holds everything we would apply.
//! The operator compares the fields it declares against what the API server returned and
//! skips the write when they match, so a steady-state resync makes no API writes.

use serde_json::Value;

/// Whether every field set in `desired` has the same value in `live`. Maps are compared
/// key by key (extra live keys — defaults, other managers' fields — are fine); lists and
/// scalars must be equal, except that lists of objects are compared item by item with the
/// same rule (the API server adds defaults inside list items too).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            None => dv.is_null(),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (d, l) => d == l,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_live_fields_do_not_count() {
        let desired = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "w", "image": "a"}]}}}});
        let live = json!({"metadata": {"uid": "x"}, "spec": {"replicas": 1, "progressDeadlineSeconds": 600,
            "template": {"spec": {"containers": [{"name": "w", "image": "a", "imagePullPolicy": "IfNotPresent"}]}}}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn a_changed_or_missing_field_counts() {
        let desired = json!({"spec": {"replicas": 0}});
        assert!(!is_subset(&desired, &json!({"spec": {"replicas": 1}})));
        assert!(!is_subset(&desired, &json!({"spec": {}})));
        let desired = json!({"data": {"a": "1"}, "list": [1, 2]});
        assert!(!is_subset(
            &desired,
            &json!({"data": {"a": "1"}, "list": [1, 2, 3]})
        ));
        assert!(!is_subset(
            &desired,
            &json!({"data": {"a": "2"}, "list": [1, 2]})
        ));
        assert!(is_subset(&json!({"a": null}), &json!({})));
    }
}
