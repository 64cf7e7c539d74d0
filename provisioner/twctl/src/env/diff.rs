//! Desired against live, on the fields we declare only (pure). ARM echoes what we sent plus
//! read-only fields; those extra fields are not changes. Locations compare the way ARM does
//! ("West US" = "westus"), resource IDs case-insensitively.

use serde_json::Value;

/// One field that differs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// JSON pointer of the field, e.g. `/properties/retentionInDays`.
    pub path: String,
    /// Live value (`null` when absent).
    pub old: Value,
    /// Desired value.
    pub new: Value,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} → {}", self.path, self.old, self.new)
    }
}

fn norm_location(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn ignored(path: &str, ignore: &[String]) -> bool {
    ignore.iter().any(|pattern| {
        let p: Vec<&str> = pattern.split('/').collect();
        let q: Vec<&str> = path.split('/').collect();
        // A pattern also covers everything below it.
        q.len() >= p.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
    })
}

fn is_location_key(key: &str) -> bool {
    key == "location" || key == "locationName"
}

/// Role definitions come back without the subscription prefix we send.
fn canonical_id(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    match lower.find("/providers/microsoft.authorization/roledefinitions/") {
        Some(i) => lower[i..].to_string(),
        None => lower,
    }
}

fn scalar_equal(key: &str, desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::String(d), Value::String(l)) if is_location_key(key) => {
            norm_location(d) == norm_location(l)
        }
        (Value::String(d), Value::String(l)) if d.starts_with('/') && l.starts_with('/') => {
            canonical_id(d) == canonical_id(l)
        }
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        _ => desired == live,
    }
}

fn walk(
    path: &str,
    key: &str,
    desired: &Value,
    live: &Value,
    ignore: &[String],
    out: &mut Vec<Change>,
) {
    if ignored(path, ignore) {
        return;
    }
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => {
            for (k, dv) in d {
                let child = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                // ARM property names are case-insensitive (App Insights returns some with
                // other casing than documented).
                let lv = l
                    .get(k)
                    .or_else(|| {
                        l.iter()
                            .find(|(lk, _)| lk.eq_ignore_ascii_case(k))
                            .map(|(_, v)| v)
                    })
                    .unwrap_or(&Value::Null);
                walk(&child, k, dv, lv, ignore, out);
            }
        }
        // Arrays of objects: same length, each element a subset of its live counterpart
        // (ARM adds read-only fields to list items too). Arrays of scalars: equal as a whole.
        (Value::Array(d), Value::Array(l)) if d.iter().any(Value::is_object) => {
            let mut inner = Vec::new();
            if d.len() == l.len() {
                for (i, (dv, lv)) in d.iter().zip(l).enumerate() {
                    walk(&format!("{path}/{i}"), key, dv, lv, ignore, &mut inner);
                }
            }
            if d.len() != l.len() || !inner.is_empty() {
                out.push(Change {
                    path: path.to_string(),
                    old: live.clone(),
                    new: desired.clone(),
                });
            }
        }
        (Value::Array(d), Value::Array(l)) => {
            if d.len() != l.len() || d.iter().zip(l).any(|(a, b)| !scalar_equal(key, a, b)) {
                out.push(Change {
                    path: path.to_string(),
                    old: live.clone(),
                    new: desired.clone(),
                });
            }
        }
        (Value::Object(d), _) if d.is_empty() && live.is_null() => {}
        _ => {
            if !scalar_equal(key, desired, live) {
                out.push(Change {
                    path: path.to_string(),
                    old: live.clone(),
                    new: desired.clone(),
                });
            }
        }
    }
}

/// The declared fields of `desired` whose live value differs; empty means no write.
pub fn diff(desired: &Value, live: &Value, ignore: &[String]) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", "", desired, live, ignore, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_compare_ignores_read_only_fields() {
        let desired = json!({"location": "westus", "tags": {"a": "1"}, "properties": {"retentionInDays": 30}});
        let live = json!({"id": "/x", "location": "West US", "tags": {"a": "1", "b": "2"},
            "properties": {"retentionInDays": 30, "provisioningState": "Succeeded", "customerId": "c"}});
        assert!(diff(&desired, &live, &[]).is_empty());
    }

    #[test]
    fn changes_name_the_field() {
        let desired = json!({"properties": {"retentionInDays": 60, "sku": {"name": "PerGB2018"}}});
        let live = json!({"properties": {"retentionInDays": 30}});
        let changes: Vec<String> = diff(&desired, &live, &[])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            [
                "/properties/retentionInDays: 30 → 60",
                "/properties/sku: null → {\"name\":\"PerGB2018\"}"
            ]
        );
    }

    #[test]
    fn arrays_ids_and_ignored_paths() {
        let desired = json!({"properties": {
            "agentPoolProfiles": [{"name": "sys", "count": 1}],
            "audiences": ["api://AzureADTokenExchange"],
            "roleDefinitionId": "/subscriptions/S/providers/Microsoft.Authorization/roleDefinitions/abc",
            "WorkspaceResourceId": "/subscriptions/s/resourceGroups/G/providers/Microsoft.OperationalInsights/workspaces/W",
            "locations": [{"locationName": "southcentralus"}],
        }});
        let live = json!({"properties": {
            "agentPoolProfiles": [{"name": "sys", "count": 3, "maxPods": 110}],
            "audiences": ["api://AzureADTokenExchange"],
            "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/abc",
            "workspaceResourceId": "/subscriptions/s/resourcegroups/g/providers/microsoft.operationalinsights/workspaces/w",
            "locations": [{"locationName": "South Central US", "id": "x"}],
        }});
        let ignore = vec!["/properties/agentPoolProfiles/*/count".to_string()];
        assert_eq!(diff(&desired, &live, &ignore), vec![]);
        let changes = diff(&desired, &live, &[]);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "/properties/agentPoolProfiles");
        let more = json!({"properties": {"audiences": ["a", "b"]}});
        assert_eq!(diff(&more, &live, &[]).len(), 1);
    }
}
