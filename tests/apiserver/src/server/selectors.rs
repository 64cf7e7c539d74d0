//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and field selectors on
//! `metadata.name`, `metadata.namespace` and the fields the real server supports per kind
//! (Events by `involvedObject.*`, Secrets by `type`, Pods by `spec.nodeName`, ...).

use serde_json::Value;

use super::error::ApiError;

#[derive(Clone, Debug, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector(Vec<Req>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn set_values(s: &str) -> Result<Vec<String>, ApiError> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to parse requirement: expected (values), got {s:?}"
            ))
        })?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

impl LabelSelector {
    /// Parses a selector string such as `app=web,tier in (a,b),!legacy`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let req = if let Some(key) = part.strip_prefix('!') {
                Req::NotExists(key.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once(" notin ") {
                Req::NotIn(k.trim().into(), set_values(v)?)
            } else if let Some((k, v)) = part.split_once(" in ") {
                Req::In(k.trim().into(), set_values(v)?)
            } else if part.contains(' ') || part.contains('(') {
                return Err(ApiError::bad_request(format!(
                    "unable to parse requirement: {part:?}"
                )));
            } else {
                Req::Exists(part)
            };
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::Ne(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// The field labels kube-apiserver accepts for a built-in resource beyond
/// `metadata.name` and `metadata.namespace` (its `AddFieldLabelConversionFunc`s).
pub fn extra_field_labels(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "namespaces") => &["status.phase"],
        ("", "services") => &["spec.clusterIP", "spec.type"],
        ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        _ => &[],
    }
}

/// A field's value as the real server compares it: a string, with Go's zero value for
/// what is absent.
fn field_value(object: &Value, key: &str) -> String {
    let pointer = match key {
        "source" => "/source/component".to_owned(),
        k => format!("/{}", k.replace('.', "/")),
    };
    match object.pointer(&pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => match key {
            "spec.hostNetwork" => "false".into(),
            "status.replicas" | "status.successful" => "0".into(),
            _ => String::new(),
        },
        Some(v) => v.to_string(),
    }
}

/// A parsed field selector over `metadata.name`, `metadata.namespace` and the kind's
/// supported field labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `metadata.name=x,metadata.namespace!=y`; other fields are rejected as the
    /// real server rejects unsupported field labels.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        Self::parse_for(s, &[])
    }

    /// Parses a selector that may also use the `extra` field labels.
    pub fn parse_for(s: &str, extra: &[&str]) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let (k, eq, v) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector: {part:?}"
                )));
            };
            let k = k.trim();
            if k != "metadata.name" && k != "metadata.namespace" && !extra.contains(&k) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
            reqs.push((k.to_owned(), eq, v.trim().to_owned()));
        }
        Ok(Self(reqs))
    }

    /// Whether an object satisfies every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        self.0
            .iter()
            .all(|(k, eq, v)| (field_value(object, k) == *v) == *eq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns1", "labels": labels}})
    }

    #[test]
    fn label_operators() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("tier in (front, back)", true),
            ("tier notin (front)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing,app=web", true),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).expect(sel).matches(&o),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("a in b").is_err());
    }

    #[test]
    fn field_selectors() {
        let o = obj(json!({}));
        assert!(
            FieldSelector::parse("metadata.name=a")
                .expect("ok")
                .matches(&o)
        );
        assert!(
            !FieldSelector::parse("metadata.namespace!=ns1")
                .expect("ok")
                .matches(&o)
        );
        assert!(FieldSelector::parse("spec.x=1").is_err());
    }

    #[test]
    fn kind_specific_field_selectors() {
        let ev = json!({"metadata": {"name": "e", "namespace": "ns1"},
            "involvedObject": {"kind": "Pod", "name": "p", "uid": "u1"},
            "reason": "Started", "type": "Normal", "source": {"component": "kubelet"}});
        let sel = |s: &str| FieldSelector::parse_for(s, extra_field_labels("", "events"));
        assert!(
            sel("involvedObject.kind=Pod,involvedObject.name=p,involvedObject.uid=u1")
                .expect("ok")
                .matches(&ev)
        );
        assert!(!sel("type=Warning").expect("ok").matches(&ev));
        assert!(
            sel("source=kubelet,reason!=Killing")
                .expect("ok")
                .matches(&ev)
        );
        let e = FieldSelector::parse_for("type=x", extra_field_labels("", "configmaps"))
            .expect_err("configmaps have no type");
        assert_eq!(e.message, "field label not supported: type");
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}});
        let pods = |s: &str| FieldSelector::parse_for(s, extra_field_labels("", "pods"));
        assert!(
            pods("spec.nodeName=n1,spec.hostNetwork=false")
                .expect("ok")
                .matches(&pod)
        );
        assert!(pods("status.phase=").expect("ok").matches(&pod));
        let rs = json!({"status": {"replicas": 3}});
        let rss = FieldSelector::parse_for(
            "status.replicas=3",
            extra_field_labels("apps", "replicasets"),
        );
        assert!(rss.expect("ok").matches(&rs));
    }
}
