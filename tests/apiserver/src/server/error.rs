//! API errors, rendered as real `Status` objects with the right reason and HTTP code.

use serde_json::{Value, json};

/// An error the API answers with: a `Status` object and its HTTP code.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code (404, 409, 422, ...).
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `Conflict`, ...).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Optional `details` (name, group, kind, causes).
    pub details: Option<Value>,
}

impl ApiError {
    /// A generic error with the given code, reason and message.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404 NotFound for `resource` (e.g. `configmaps` or `deployments.apps`) named `name`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        let gr = qualified(group, resource);
        Self {
            details: Some(json!({"name": name, "group": group, "kind": resource})),
            ..Self::new(404, "NotFound", format!("{gr} \"{name}\" not found"))
        }
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        let gr = qualified(group, resource);
        Self {
            details: Some(json!({"name": name, "group": group, "kind": resource})),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{gr} \"{name}\" already exists"),
            )
        }
    }

    /// 409 Conflict for a stale resourceVersion.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        let gr = qualified(group, resource);
        Self {
            details: Some(json!({"name": name, "group": group, "kind": resource})),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {gr} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                ),
            )
        }
    }

    /// 409 Conflict with a custom message (e.g. server-side apply conflicts).
    pub fn conflict_message(message: impl Into<String>, causes: Vec<Value>) -> Self {
        Self {
            details: Some(json!({ "causes": causes })),
            ..Self::new(409, "Conflict", message)
        }
    }

    /// 422 Invalid, with one cause per `(field, message)`.
    pub fn invalid(kind: &str, name: &str, causes: &[(String, String)]) -> Self {
        let text: Vec<String> = causes
            .iter()
            .map(|(f, m)| {
                if f.is_empty() {
                    m.clone()
                } else {
                    format!("{f}: {m}")
                }
            })
            .collect();
        let message = format!("{kind} \"{name}\" is invalid: {}", text.join(", "));
        let causes: Vec<Value> = causes
            .iter()
            .map(|(f, m)| json!({"reason": "FieldValueInvalid", "message": m, "field": f}))
            .collect();
        Self {
            details: Some(json!({"name": name, "kind": kind, "causes": causes})),
            ..Self::new(422, "Invalid", message)
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 410 Gone / Expired for a resourceVersion older than the watch history.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {content_type:?}"
            ),
        )
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = d.clone();
        }
        status
    }
}

impl ApiError {
    /// The `Status` as kube-apiserver writes it: its fields in the Go struct's order
    /// (`kind`, `apiVersion`, `metadata`, `status`, `message`, `reason`, `details`, `code`),
    /// empty `details` fields left out, and a trailing newline. Clients print it verbatim
    /// (e.g. the Python client's `FailToCreateError`), so the bytes matter.
    pub fn to_status_body(&self) -> Vec<u8> {
        let mut out =
            String::from(r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","#);
        out.push_str(&format!(
            r#""message":{},"reason":{},"#,
            Value::from(self.message.as_str()),
            Value::from(self.reason)
        ));
        if let Some(d) = &self.details {
            out.push_str(r#""details":"#);
            out.push_str(&ordered(
                d,
                &[
                    "name",
                    "group",
                    "kind",
                    "uid",
                    "causes",
                    "retryAfterSeconds",
                ],
            ));
            out.push(',');
        }
        out.push_str(&format!("\"code\":{}}}\n", self.code));
        out.into_bytes()
    }
}

/// `v` as compact JSON with an object's keys in `order` first (the rest after, sorted),
/// empty strings, arrays and objects left out as Go's `omitempty` does; a `causes`
/// entry's keys in `StatusCause` order.
fn ordered(v: &Value, order: &[&str]) -> String {
    let Some(map) = v.as_object() else {
        return v.to_string();
    };
    let empty = |v: &Value| match v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Null => true,
        _ => false,
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by_key(|k| {
        (
            order.iter().position(|o| o == k).unwrap_or(order.len()),
            (*k).clone(),
        )
    });
    let fields: Vec<String> = keys
        .into_iter()
        .filter(|k| !empty(&map[*k]))
        .map(|k| {
            let value = match (k.as_str(), &map[k]) {
                ("causes", Value::Array(items)) => format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|c| ordered(c, &["reason", "message", "field"]))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                (_, v) => v.to_string(),
            };
            format!("{}:{value}", Value::from(k.as_str()))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}
