//! Server-side printing: the `meta.k8s.io/v1` `Table` format kubectl asks for, with a
//! CRD's `additionalPrinterColumns` evaluated by a small JSONPath subset.

use serde_json::{Value, json};

use super::registry::ResourceDef;
use super::util;

/// Evaluates a simple JSONPath (`.a.b`, `.a[0]`, `.a[*].b`, `.a[?(@.k=="v")].b`) and
/// returns every match.
pub fn jsonpath(obj: &Value, path: &str) -> Vec<Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let path = path.strip_prefix('$').unwrap_or(path);
    let mut cur = vec![obj.clone()];
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            cur = cur.iter().filter_map(|v| v.get(key).cloned()).collect();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Vec::new();
            };
            // a filter may contain ']' only inside quotes; our filters do not.
            let inner = &r[..end];
            rest = &r[end + 1..];
            let items: Vec<Value> = cur
                .iter()
                .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                .collect();
            if inner == "*" {
                cur = items;
            } else if let Ok(i) = inner.parse::<usize>() {
                cur = cur.iter().filter_map(|v| v.get(i).cloned()).collect();
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (field, want) = match f.split_once("==") {
                    Some((a, b)) => (
                        a.trim(),
                        Some(b.trim().trim_matches(|c| c == '"' || c == '\'')),
                    ),
                    None => (f.trim(), None),
                };
                cur = items
                    .into_iter()
                    .filter(|item| {
                        let got = jsonpath(item, &format!(".{field}"));
                        match want {
                            Some(w) => got.iter().any(|g| match g {
                                Value::String(s) => s == w,
                                other => serde_json::to_string(other).ok().as_deref() == Some(w),
                            }),
                            None => !got.is_empty(),
                        }
                    })
                    .collect();
            } else {
                return Vec::new();
            }
        } else {
            return Vec::new();
        }
    }
    cur
}

fn cell(values: &[Value], ty: &str) -> Value {
    let Some(first) = values.first() else {
        return json!("<none>");
    };
    match ty {
        "date" => match first.as_str().and_then(util::parse_rfc3339) {
            Some(t) => json!(util::human_age(t)),
            None => json!("<invalid>"),
        },
        "integer" | "number" | "boolean" if values.len() == 1 && !first.is_string() => {
            first.clone()
        }
        _ => {
            let parts: Vec<String> = values
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            json!(parts.join(","))
        }
    }
}

/// Where a column's cells come from.
enum Source {
    /// A JSONPath into the object, typed by the column type.
    Path(String),
    /// Computed from the object (built-in printers).
    Computed(fn(&Value) -> Value),
}

struct Column {
    name: String,
    ty: String,
    source: Source,
    description: String,
}

fn col(name: &str, ty: &str, source: Source) -> Column {
    Column {
        name: name.into(),
        ty: ty.into(),
        source,
        description: String::new(),
    }
}

fn int_at(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn count_at(o: &Value, p: &str) -> Value {
    json!(
        o.pointer(p)
            .and_then(Value::as_object)
            .map_or(0, |m| m.len())
    )
}

/// The columns of the real server's printers for a few built-ins.
fn builtin_columns(def: &ResourceDef) -> Vec<Column> {
    match (def.group.as_str(), def.kind.as_str()) {
        ("apps", "Deployment") => vec![
            col(
                "Ready",
                "string",
                Source::Computed(|o| {
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/readyReplicas"),
                        o.pointer("/spec/replicas")
                            .and_then(Value::as_i64)
                            .unwrap_or(1)
                    ))
                }),
            ),
            col(
                "Up-to-date",
                "integer",
                Source::Computed(|o| json!(int_at(o, "/status/updatedReplicas"))),
            ),
            col(
                "Available",
                "integer",
                Source::Computed(|o| json!(int_at(o, "/status/availableReplicas"))),
            ),
        ],
        ("batch", "Job") => vec![
            col(
                "Status",
                "string",
                Source::Computed(|o| {
                    let has = |t: &str| {
                        o.pointer("/status/conditions")
                            .and_then(Value::as_array)
                            .is_some_and(|l| {
                                l.iter().any(|c| c["type"] == t && c["status"] == "True")
                            })
                    };
                    json!(if has("Complete") {
                        "Complete"
                    } else if has("Failed") {
                        "Failed"
                    } else if has("Suspended") {
                        "Suspended"
                    } else {
                        "Running"
                    })
                }),
            ),
            col(
                "Completions",
                "string",
                Source::Computed(|o| {
                    json!(format!(
                        "{}/{}",
                        int_at(o, "/status/succeeded"),
                        o.pointer("/spec/completions")
                            .and_then(Value::as_i64)
                            .unwrap_or(1)
                    ))
                }),
            ),
            col(
                "Duration",
                "string",
                Source::Computed(|o| {
                    let t = |p: &str| {
                        o.pointer(p)
                            .and_then(Value::as_str)
                            .and_then(crate::server::util::parse_rfc3339)
                    };
                    match t("/status/startTime") {
                        Some(start) => {
                            let end = t("/status/completionTime")
                                .unwrap_or_else(crate::server::util::now_unix);
                            json!(crate::server::util::human_age(
                                crate::server::util::now_unix() - (end - start)
                            ))
                        }
                        None => json!(""),
                    }
                }),
            ),
        ],
        ("apps", "ReplicaSet") => vec![
            col(
                "Desired",
                "integer",
                Source::Computed(|o| json!(crate::semantics::workload::desired_replicas(o))),
            ),
            col(
                "Current",
                "integer",
                Source::Computed(|o| json!(int_at(o, "/status/replicas"))),
            ),
            col(
                "Ready",
                "integer",
                Source::Computed(|o| json!(int_at(o, "/status/readyReplicas"))),
            ),
        ],
        ("", "Pod") => vec![
            col(
                "Ready",
                "string",
                Source::Computed(|o| {
                    let cs = o
                        .pointer("/status/containerStatuses")
                        .and_then(Value::as_array);
                    let ready = cs.map_or(0, |c| c.iter().filter(|c| c["ready"] == true).count());
                    let total = o
                        .pointer("/spec/containers")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len);
                    json!(format!("{ready}/{total}"))
                }),
            ),
            col(
                "Status",
                "string",
                Source::Computed(|o| json!(crate::semantics::workload::pod_display_status(o))),
            ),
            col(
                "Restarts",
                "string",
                Source::Computed(|o| {
                    let n: i64 = o
                        .pointer("/status/containerStatuses")
                        .and_then(Value::as_array)
                        .map_or(0, |c| {
                            c.iter().filter_map(|c| c["restartCount"].as_i64()).sum()
                        });
                    json!(n.to_string())
                }),
            ),
        ],
        ("", "Namespace") => vec![col(
            "Status",
            "string",
            Source::Path(".status.phase".into()),
        )],
        ("", "ConfigMap") => vec![col(
            "Data",
            "integer",
            Source::Computed(|o| {
                let n = count_at(o, "/data").as_u64().unwrap_or(0)
                    + count_at(o, "/binaryData").as_u64().unwrap_or(0);
                json!(n)
            }),
        )],
        ("", "Secret") => vec![
            col("Type", "string", Source::Path(".type".into())),
            col(
                "Data",
                "integer",
                Source::Computed(|o| count_at(o, "/data")),
            ),
        ],
        ("", "Service") => vec![
            col("Type", "string", Source::Path(".spec.type".into())),
            col(
                "Cluster-IP",
                "string",
                Source::Path(".spec.clusterIP".into()),
            ),
            col(
                "External-IP",
                "string",
                Source::Computed(|_| json!("<none>")),
            ),
            col(
                "Port(s)",
                "string",
                Source::Computed(|o| {
                    let ports: Vec<String> = o
                        .pointer("/spec/ports")
                        .and_then(Value::as_array)
                        .map(|ps| {
                            ps.iter()
                                .map(|p| {
                                    format!(
                                        "{}/{}",
                                        p.get("port").and_then(Value::as_i64).unwrap_or(0),
                                        p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    json!(if ports.is_empty() {
                        "<none>".to_owned()
                    } else {
                        ports.join(",")
                    })
                }),
            ),
        ],
        ("", "ServiceAccount") => vec![col(
            "Secrets",
            "integer",
            Source::Computed(|o| {
                json!(
                    o.pointer("/secrets")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len)
                )
            }),
        )],
        _ => Vec::new(),
    }
}

fn columns(def: &ResourceDef) -> Vec<Column> {
    let mut cols = vec![Column {
        name: "Name".into(),
        ty: "string".into(),
        source: Source::Path(".metadata.name".into()),
        description: "Name must be unique within a namespace.".into(),
    }];
    let printer = def
        .crd
        .as_ref()
        .map(|c| c.printer_columns.clone())
        .unwrap_or_default();
    if printer.is_empty() {
        cols.extend(builtin_columns(def));
        cols.push(Column {
            name: "Age".into(),
            ty: "date".into(),
            source: Source::Path(".metadata.creationTimestamp".into()),
            description: "CreationTimestamp is a timestamp representing the server time when this object was created.".into(),
        });
    } else {
        for c in printer {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            cols.push(Column {
                name: s("name"),
                ty: s("type"),
                source: Source::Path(s("jsonPath")),
                description: s("description"),
            });
        }
    }
    cols
}

/// Renders objects as a `Table`; `include_object` is `None`, `Metadata` or `Object`.
pub fn to_table(
    def: &ResourceDef,
    objects: &[Value],
    include_object: &str,
    list_meta: Value,
) -> Value {
    let cols = columns(def);
    let defs: Vec<Value> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"name": c.name, "type": c.ty, "format": if i == 0 { "name" } else { "" }, "description": c.description, "priority": 0})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols
                .iter()
                .map(|c| match &c.source {
                    Source::Path(path) => cell(&jsonpath(o, path), &c.ty),
                    Source::Computed(f) => f(o),
                })
                .collect();
            let mut row = json!({"cells": cells});
            match include_object {
                "None" => {}
                "Object" => row["object"] = o.clone(),
                _ => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o.get("metadata").cloned().unwrap_or_else(|| json!({})),
                    })
                }
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_filters() {
        let o = json!({"spec": {"mode": "Paper", "symbols": ["A", "B"]}, "status": {"conditions": [
            {"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(jsonpath(&o, ".spec.mode"), vec![json!("Paper")]);
        assert_eq!(
            jsonpath(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            vec![json!("True")]
        );
        assert_eq!(jsonpath(&o, ".spec.symbols[1]"), vec![json!("B")]);
        assert!(jsonpath(&o, ".status.nothing").is_empty());
        assert_eq!(
            cell(&jsonpath(&o, ".spec.symbols"), "string"),
            json!("[\"A\",\"B\"]")
        );
    }
}
