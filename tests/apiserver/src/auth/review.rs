//! The authentication and authorization endpoints: TokenRequest
//! (`serviceaccounts/NAME/token`), TokenReview, SelfSubjectReview,
//! SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
//! LocalSubjectAccessReview, and the OIDC discovery documents. Bodies come as JSON or,
//! from client-go's typed clients (kubectl), as protobuf.

use serde_json::{Map, Value, json};

use super::rbac::{self, Attributes, Target, UserInfo};
use super::{ISSUER, MASTERS, TokenSpec};
use crate::server::Shared;
use crate::server::error::ApiError;
use crate::server::protobuf::{Wire, fields, string};
use crate::server::registry::ResourceDef;
use crate::server::util;

const AUTHN: &str = "authentication.k8s.io";
const AUTHZ: &str = "authorization.k8s.io";

/// The review kinds, as served resources (for discovery; requests never reach storage).
pub fn resources() -> Vec<ResourceDef> {
    let def = |group: &str, plural: &str, kind: &str, namespaced: bool| ResourceDef {
        group: group.into(),
        version: "v1".into(),
        plural: plural.into(),
        singular: kind.to_ascii_lowercase(),
        kind: kind.into(),
        namespaced,
        short_names: Vec::new(),
        categories: Vec::new(),
        has_status: false,
        crd: None,
    };
    vec![
        def(AUTHN, "tokenreviews", "TokenReview", false),
        def(AUTHN, "selfsubjectreviews", "SelfSubjectReview", false),
        def(
            AUTHZ,
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            false,
        ),
        def(
            AUTHZ,
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
            false,
        ),
        def(AUTHZ, "subjectaccessreviews", "SubjectAccessReview", false),
        def(
            AUTHZ,
            "localsubjectaccessreviews",
            "LocalSubjectAccessReview",
            true,
        ),
    ]
}

/// Appends `s` to the string array `key` of `m`.
fn push(m: &mut Map<String, Value>, key: &str, s: String) {
    if let Some(a) = m
        .entry(key.to_owned())
        .or_insert_with(|| json!([]))
        .as_array_mut()
    {
        a.push(json!(s));
    }
}

fn pb_strings(b: &[u8], map: &[(u64, &str)], repeated: &[u64]) -> Result<Value, ApiError> {
    let mut m = Map::new();
    for (f, w) in fields(b)? {
        let Wire::Bytes(v) = w else { continue };
        let Some((_, key)) = map.iter().find(|(n, _)| *n == f) else {
            continue;
        };
        let s = string(v)?;
        if repeated.contains(&f) {
            push(&mut m, key, s);
        } else if !s.is_empty() {
            m.insert((*key).into(), json!(s));
        }
    }
    Ok(Value::Object(m))
}

fn pb_attributes(b: &[u8], non_resource: bool) -> Result<Value, ApiError> {
    if non_resource {
        pb_strings(b, &[(1, "path"), (2, "verb")], &[])
    } else {
        pb_strings(
            b,
            &[
                (1, "namespace"),
                (2, "verb"),
                (3, "group"),
                (4, "version"),
                (5, "resource"),
                (6, "subresource"),
                (7, "name"),
            ],
            &[],
        )
    }
}

/// Decodes the protobuf spec of a review kind into its JSON form.
fn pb_spec(kind: &str, b: &[u8]) -> Result<Value, ApiError> {
    let mut spec = Map::new();
    for (f, w) in fields(b)? {
        match (kind, f, w) {
            ("TokenRequest", 1, Wire::Bytes(v)) => {
                push(&mut spec, "audiences", string(v)?);
            }
            ("TokenRequest", 3, Wire::Bytes(v)) => {
                spec.insert(
                    "boundObjectRef".into(),
                    pb_strings(
                        v,
                        &[(1, "kind"), (2, "apiVersion"), (3, "name"), (4, "uid")],
                        &[],
                    )?,
                );
            }
            ("TokenRequest", 4, Wire::Varint(x)) => {
                spec.insert("expirationSeconds".into(), json!(x));
            }
            ("TokenReview", 1, Wire::Bytes(v)) => {
                spec.insert("token".into(), json!(string(v)?));
            }
            ("TokenReview", 2, Wire::Bytes(v)) => {
                push(&mut spec, "audiences", string(v)?);
            }
            ("SelfSubjectRulesReview", 1, Wire::Bytes(v)) => {
                spec.insert("namespace".into(), json!(string(v)?));
            }
            (
                "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview",
                1 | 2,
                Wire::Bytes(v),
            ) => {
                let key = if f == 1 {
                    "resourceAttributes"
                } else {
                    "nonResourceAttributes"
                };
                spec.insert(key.into(), pb_attributes(v, f == 2)?);
            }
            ("SubjectAccessReview" | "LocalSubjectAccessReview", 3, Wire::Bytes(v)) => {
                spec.insert("user".into(), json!(string(v)?));
            }
            ("SubjectAccessReview" | "LocalSubjectAccessReview", 4, Wire::Bytes(v)) => {
                push(&mut spec, "groups", string(v)?);
            }
            ("SubjectAccessReview" | "LocalSubjectAccessReview", 6, Wire::Bytes(v)) => {
                spec.insert("uid".into(), json!(string(v)?));
            }
            _ => {}
        }
    }
    Ok(Value::Object(spec))
}

/// The request body as JSON (protobuf bodies of the review kinds decoded).
fn body_json(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if content_type.contains("protobuf") {
        let inner = body.strip_prefix(b"k8s\0").ok_or_else(|| {
            ApiError::bad_request("malformed protobuf body: missing k8s envelope")
        })?;
        let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
        for (f, w) in fields(inner)? {
            match (f, w) {
                (1, Wire::Bytes(tm)) => {
                    for (tf, tw) in fields(tm)? {
                        match (tf, tw) {
                            (1, Wire::Bytes(v)) => api_version = string(v)?,
                            (2, Wire::Bytes(v)) => kind = string(v)?,
                            _ => {}
                        }
                    }
                }
                (2, Wire::Bytes(v)) => raw = v,
                _ => {}
            }
        }
        let mut spec = json!({});
        for (f, w) in fields(raw)? {
            if let (2, Wire::Bytes(v)) = (f, w) {
                spec = pb_spec(&kind, v)?;
            }
        }
        return Ok(json!({"apiVersion": api_version, "kind": kind, "metadata": {}, "spec": spec}));
    }
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding the body: {e}")))
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn strings_at(v: &Value, ptr: &str) -> Vec<String> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The attributes a SubjectAccessReview-like spec asks about.
fn spec_attributes(spec: &Value, namespace_override: Option<&str>) -> Result<Attributes, ApiError> {
    if let Some(ra) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        let verb = str_at(ra, "/verb");
        let ns = namespace_override.unwrap_or(str_at(ra, "/namespace"));
        return Ok(Attributes {
            verb: verb.into(),
            target: Target::Resource {
                group: str_at(ra, "/group").into(),
                resource: str_at(ra, "/resource").into(),
                subresource: str_at(ra, "/subresource").into(),
                namespace: ns.into(),
                name: str_at(ra, "/name").into(),
            },
        });
    }
    if let Some(nra) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        return Ok(Attributes {
            verb: str_at(nra, "/verb").into(),
            target: Target::Path(str_at(nra, "/path").into()),
        });
    }
    Err(ApiError::invalid(
        "SubjectAccessReview",
        "",
        &[(
            "spec.resourceAttributes".into(),
            "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
        )],
    ))
}

fn review_response(group: &str, kind: &str, req: &Value, status: Value) -> (u16, Value) {
    let mut out = json!({
        "kind": kind,
        "apiVersion": format!("{group}/v1"),
        "metadata": {"creationTimestamp": null},
        "spec": req.get("spec").cloned().unwrap_or(json!({})),
        "status": status,
    });
    if let Some(ns) = req.pointer("/metadata/namespace") {
        out["metadata"]["namespace"] = ns.clone();
    }
    (201, out)
}

fn access_status(shared: &Shared, user: &UserInfo, a: &Attributes) -> Value {
    let allowed = super::allowed(shared, user, a);
    let mut s = json!({"allowed": allowed});
    if allowed && !user.groups.iter().any(|g| g == MASTERS) {
        s["reason"] = json!("RBAC: allowed by a role binding");
    }
    s
}

fn create_attrs(group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
    Attributes {
        verb: "create".into(),
        target: Target::Resource {
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
        },
    }
}

/// Serves the endpoints of this module for `user`; `None` if `path` is none of them.
pub fn serve(
    shared: &Shared,
    user: &UserInfo,
    method: &str,
    path: &str,
    body: &[u8],
    content_type: &str,
) -> Option<Result<(u16, Value), ApiError>> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let post_only = |f: &dyn Fn() -> Result<(u16, Value), ApiError>| {
        if method == "POST" {
            f()
        } else {
            Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method} {path})"
            )))
        }
    };
    let answer = match segs.as_slice() {
        [".well-known", "openid-configuration"] => Ok((
            200,
            json!({
                "issuer": ISSUER,
                "jwks_uri": format!("https://{}/openid/v1/jwks", shared.addr),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }),
        )),
        ["openid", "v1", "jwks"] => Ok((200, shared.auth.signer().jwks())),
        [
            "api",
            "v1",
            "namespaces",
            ns,
            "serviceaccounts",
            name,
            "token",
        ] => post_only(&|| token_request(shared, user, ns, name, body, content_type)),
        ["apis", AUTHN, "v1", "tokenreviews"] => post_only(&|| {
            super::authorize(
                shared,
                user,
                &create_attrs(AUTHN, "tokenreviews", "", "", ""),
            )?;
            let req = body_json(body, content_type)?;
            let token = str_at(&req, "/spec/token");
            let auds = strings_at(&req, "/spec/audiences");
            let status = match super::review_token(shared, token, &auds) {
                Ok((u, audiences)) => {
                    json!({"authenticated": true, "user": u, "audiences": audiences})
                }
                Err(e) => {
                    json!({"authenticated": false, "user": {}, "error": format!("[invalid bearer token, {e}]")})
                }
            };
            Ok(review_response(AUTHN, "TokenReview", &req, status))
        }),
        ["apis", AUTHN, "v1", "selfsubjectreviews"] => post_only(&|| {
            super::authorize(
                shared,
                user,
                &create_attrs(AUTHN, "selfsubjectreviews", "", "", ""),
            )?;
            let req = body_json(body, content_type)?;
            let (code, mut out) =
                review_response(AUTHN, "SelfSubjectReview", &req, json!({"userInfo": user}));
            if let Some(o) = out.as_object_mut() {
                o.remove("spec");
            }
            Ok((code, out))
        }),
        ["apis", AUTHZ, "v1", "selfsubjectaccessreviews"] => post_only(&|| {
            super::authorize(
                shared,
                user,
                &create_attrs(AUTHZ, "selfsubjectaccessreviews", "", "", ""),
            )?;
            let req = body_json(body, content_type)?;
            let a = spec_attributes(req.get("spec").unwrap_or(&Value::Null), None)?;
            Ok(review_response(
                AUTHZ,
                "SelfSubjectAccessReview",
                &req,
                access_status(shared, user, &a),
            ))
        }),
        ["apis", AUTHZ, "v1", "selfsubjectrulesreviews"] => post_only(&|| {
            super::authorize(
                shared,
                user,
                &create_attrs(AUTHZ, "selfsubjectrulesreviews", "", "", ""),
            )?;
            let req = body_json(body, content_type)?;
            let ns = str_at(&req, "/spec/namespace");
            let rules = if user.groups.iter().any(|g| g == MASTERS) {
                vec![
                    rbac::Rule {
                        verbs: vec!["*".into()],
                        api_groups: vec!["*".into()],
                        resources: vec!["*".into()],
                        resource_names: Vec::new(),
                        non_resource_urls: Vec::new(),
                    },
                    rbac::Rule {
                        verbs: vec!["*".into()],
                        non_resource_urls: vec!["*".into()],
                        ..rbac::Rule::default()
                    },
                ]
            } else {
                super::policy(&shared.lock(), ns).rules_for(user, ns)
            };
            let (resource_rules, non_resource_rules) = rbac::rules_review(&rules);
            Ok(review_response(
                AUTHZ,
                "SelfSubjectRulesReview",
                &req,
                json!({
                    "resourceRules": resource_rules,
                    "nonResourceRules": non_resource_rules,
                    "incomplete": false,
                }),
            ))
        }),
        ["apis", AUTHZ, "v1", "subjectaccessreviews"] => {
            post_only(&|| subject_access_review(shared, user, body, content_type, None))
        }
        [
            "apis",
            AUTHZ,
            "v1",
            "namespaces",
            ns,
            "localsubjectaccessreviews",
        ] => post_only(&|| subject_access_review(shared, user, body, content_type, Some(ns))),
        _ => return None,
    };
    Some(answer)
}

fn subject_access_review(
    shared: &Shared,
    user: &UserInfo,
    body: &[u8],
    content_type: &str,
    namespace: Option<&str>,
) -> Result<(u16, Value), ApiError> {
    let (resource, kind) = match namespace {
        Some(_) => ("localsubjectaccessreviews", "LocalSubjectAccessReview"),
        None => ("subjectaccessreviews", "SubjectAccessReview"),
    };
    super::authorize(
        shared,
        user,
        &create_attrs(AUTHZ, resource, "", namespace.unwrap_or(""), ""),
    )?;
    let req = body_json(body, content_type)?;
    let spec = req.get("spec").cloned().unwrap_or(Value::Null);
    let a = spec_attributes(&spec, namespace)?;
    let subject = UserInfo {
        username: str_at(&spec, "/user").into(),
        uid: str_at(&spec, "/uid").into(),
        groups: strings_at(&spec, "/groups"),
        ..UserInfo::default()
    };
    Ok(review_response(
        AUTHZ,
        kind,
        &req,
        access_status(shared, &subject, &a),
    ))
}

fn token_request(
    shared: &Shared,
    user: &UserInfo,
    ns: &str,
    name: &str,
    body: &[u8],
    content_type: &str,
) -> Result<(u16, Value), ApiError> {
    super::authorize(
        shared,
        user,
        &create_attrs("", "serviceaccounts", "token", ns, name),
    )?;
    let req = body_json(body, content_type)?;
    let spec = req.get("spec").cloned().unwrap_or(json!({}));
    let expiration_seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => super::DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v.as_i64().filter(|s| *s > 0).ok_or_else(|| {
            ApiError::invalid(
                "TokenRequest",
                name,
                &[(
                    "spec.expirationSeconds".into(),
                    format!("Invalid value: {v}: must be a positive number of seconds"),
                )],
            )
        })?,
    };
    let bound = spec
        .get("boundObjectRef")
        .filter(|b| !str_at(b, "/kind").is_empty())
        .map(|b| {
            (
                str_at(b, "/kind").to_owned(),
                str_at(b, "/name").to_owned(),
                str_at(b, "/uid").to_owned(),
            )
        });
    let issued = super::issue(
        shared,
        &TokenSpec {
            namespace: ns.into(),
            service_account: name.into(),
            audiences: strings_at(&spec, "/audiences"),
            expiration_seconds,
            bound,
        },
    )?;
    let mut out_spec = json!({
        "audiences": issued.audiences,
        "expirationSeconds": expiration_seconds,
        "boundObjectRef": spec.get("boundObjectRef").cloned().unwrap_or(Value::Null),
    });
    if out_spec["boundObjectRef"].is_null() {
        out_spec["boundObjectRef"] = Value::Null;
    }
    Ok((
        201,
        json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": util::now_rfc3339()},
            "spec": out_spec,
            "status": {"token": issued.token, "expirationTimestamp": util::format_rfc3339(issued.expires)},
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_kubectls_protobuf_bodies() {
        // Captured from `kubectl create token foo -n ns1 --duration 20m` and
        // `kubectl auth can-i get pods -n ns1` (client-go v1.32).
        let token_request = b"k8s\x00\n(\n\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x12\x1d\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x03 \xb0\t\x1a\x04\n\x00\x12\x00\x1a\x00\"\x00";
        let v = body_json(token_request, "application/vnd.kubernetes.protobuf").expect("decodes");
        assert_eq!(v["kind"], "TokenRequest");
        assert_eq!(v["spec"], json!({"expirationSeconds": 1200}));
        let ssar = b"k8s\x00\n2\n\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview\x128\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x1a\n\x18\n\x03ns1\x12\x03get\x1a\x00\"\x00*\x04pods2\x00:\x00\x1a\x08\x08\x00\x12\x00\x1a\x00 \x00\x1a\x00\"\x00";
        let v = body_json(ssar, "application/vnd.kubernetes.protobuf").expect("decodes");
        assert_eq!(
            v["spec"],
            json!({"resourceAttributes": {"namespace": "ns1", "verb": "get", "resource": "pods"}})
        );
        let a = spec_attributes(&v["spec"], None).expect("attributes");
        assert_eq!(
            a.target,
            Target::Resource {
                group: String::new(),
                resource: "pods".into(),
                subresource: String::new(),
                namespace: "ns1".into(),
                name: String::new()
            }
        );
    }
}
