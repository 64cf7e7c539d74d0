//! Key Vault secrets data plane (`{vault}.vault.localhost`), soft delete included.
//! Secret values are never logged.

use serde_json::{Value, json};

use crate::state::{Audience, Secret, SecretVersion, State};
use crate::util::{Reply, now_unix, random_hex};

/// api-versions accepted (azure_security_keyvault_secrets 1.0.1 sends 2025-07-01).
pub const KEYVAULT_API_VERSIONS: &[&str] = &[
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
];

const RECOVERY_LEVEL: &str = "Recoverable+Purgeable";
const RETENTION_DAYS: i64 = 90;

fn kv_error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message.into()}}),
    )
}

/// A Key Vault request.
pub(crate) struct KvRequest<'a> {
    pub vault: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
}

/// Handles one Key Vault request.
pub(crate) fn handle(st: &mut State, req: &KvRequest<'_>) -> Reply {
    let vault = req.vault.to_ascii_lowercase();
    if st
        .find_by_name("microsoft.keyvault/vaults", &vault)
        .is_none()
    {
        return kv_error(
            404,
            "VaultNotFound",
            format!("Vault '{vault}' does not exist."),
        );
    }
    let authorized = crate::arm::bearer(req.authorization)
        .and_then(|t| st.tokens.get(t))
        .is_some_and(|t| t.audience == Audience::Vault);
    if !authorized {
        let tenant = st.tenant();
        let challenge = format!(
            "Bearer authorization=\"https://login.localhost:{}/{tenant}\", resource=\"https://vault.localhost\"",
            st.port
        );
        let msg = if req.authorization.is_some() {
            "AKV10022: Invalid audience or token."
        } else {
            "AKV10000: Request is missing a Bearer or PoP token."
        };
        return kv_error(401, "Unauthorized", msg).header("www-authenticate", challenge);
    }
    match crate::util::query_get(req.query, "api-version") {
        None => {
            return kv_error(
                400,
                "BadParameter",
                "The 'api-version' query parameter is missing.",
            );
        }
        Some(v) if !KEYVAULT_API_VERSIONS.contains(&v.as_str()) => {
            return kv_error(
                400,
                "BadParameter",
                format!(
                    "The specified version ({v}) is not recognized. Consider using the latest supported version (2025-07-01)."
                ),
            );
        }
        Some(_) => {}
    }
    let base = format!("https://{}.vault.localhost:{}", req.vault, st.port);
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let store = st.secrets.entry(vault).or_default();
    match (req.method, segs.as_slice()) {
        ("GET", ["secrets"]) => {
            let value: Vec<Value> = store
                .values()
                .filter(|s| s.deleted.is_none())
                .filter_map(|s| s.versions.last().map(|v| item(&base, s, v)))
                .collect();
            Reply::json(200, &json!({"value": value, "nextLink": null}))
        }
        ("PUT", ["secrets", name]) => set(store, &base, name, req.body),
        ("GET", ["secrets", name]) | ("GET", ["secrets", name, ""]) => {
            get(store, &base, name, None)
        }
        ("GET", ["secrets", name, "versions"]) => match live(store, name) {
            Some(s) => {
                let value: Vec<Value> = s
                    .versions
                    .iter()
                    .map(|v| bundle(&base, s, v, false))
                    .collect();
                Reply::json(200, &json!({"value": value, "nextLink": null}))
            }
            None => not_found(name),
        },
        ("GET", ["secrets", name, version]) => get(store, &base, name, Some(version)),
        ("PATCH", ["secrets", name, version]) => update(store, &base, name, version, req.body),
        ("DELETE", ["secrets", name]) => {
            let Some(s) = live(store, name) else {
                return not_found(name);
            };
            let now = now_unix();
            s.deleted = Some((now, now + RETENTION_DAYS * 86400));
            Reply::json(200, &deleted_bundle(&base, s))
        }
        ("GET", ["deletedsecrets"]) => {
            let value: Vec<Value> = store
                .values()
                .filter(|s| s.deleted.is_some())
                .map(|s| deleted_bundle(&base, s))
                .collect();
            Reply::json(200, &json!({"value": value, "nextLink": null}))
        }
        ("GET", ["deletedsecrets", name]) => match deleted(store, name) {
            Some(s) => Reply::json(200, &deleted_bundle(&base, s)),
            None => kv_error(
                404,
                "SecretNotFound",
                format!("Deleted Secret not found: {name}"),
            ),
        },
        ("POST", ["deletedsecrets", name, "recover"]) => match deleted(store, name) {
            Some(s) => {
                s.deleted = None;
                let Some(v) = s.versions.last() else {
                    return not_found(name);
                };
                Reply::json(200, &bundle(&base, s, v, false))
            }
            None => kv_error(
                404,
                "SecretNotFound",
                format!("Deleted Secret not found: {name}"),
            ),
        },
        ("DELETE", ["deletedsecrets", name]) => {
            if deleted(store, name).is_none() {
                return kv_error(
                    404,
                    "SecretNotFound",
                    format!("Deleted Secret not found: {name}"),
                );
            }
            store.remove(&name.to_ascii_lowercase());
            Reply::empty(204)
        }
        _ => kv_error(
            400,
            "BadParameter",
            format!(
                "Operation {} {} is not supported by the fake.",
                req.method, req.path
            ),
        ),
    }
}

fn not_found(name: &str) -> Reply {
    kv_error(
        404,
        "SecretNotFound",
        format!(
            "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
        ),
    )
}

type Store = std::collections::BTreeMap<String, Secret>;

fn live<'a>(store: &'a mut Store, name: &str) -> Option<&'a mut Secret> {
    store
        .get_mut(&name.to_ascii_lowercase())
        .filter(|s| s.deleted.is_none())
}

fn deleted<'a>(store: &'a mut Store, name: &str) -> Option<&'a mut Secret> {
    store
        .get_mut(&name.to_ascii_lowercase())
        .filter(|s| s.deleted.is_some())
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn set(store: &mut Store, base: &str, name: &str, body: &[u8]) -> Reply {
    if !valid_name(name) {
        return kv_error(
            400,
            "BadParameter",
            "The request URI contains an invalid name: secret names may contain only 0-9, a-z, A-Z and -.",
        );
    }
    let Ok(params) = serde_json::from_slice::<Value>(body) else {
        return kv_error(400, "BadParameter", "The request body is not valid JSON.");
    };
    let Some(value) = params.get("value").and_then(Value::as_str) else {
        return kv_error(400, "BadParameter", "Property 'value' is required.");
    };
    let key = name.to_ascii_lowercase();
    if store.get(&key).is_some_and(|s| s.deleted.is_some()) {
        return Reply::json(
            409,
            &json!({"error": {"code": "Conflict", "message": format!("Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can be recovered or purged."), "innererror": {"code": "ObjectIsDeletedButRecoverable"}}}),
        );
    }
    let now = now_unix();
    let version = SecretVersion {
        version: random_hex(16),
        value: value.to_owned(),
        content_type: params
            .get("contentType")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tags: params.get("tags").cloned(),
        enabled: params
            .pointer("/attributes/enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        created: now,
        updated: now,
    };
    let secret = store.entry(key).or_insert_with(|| Secret {
        name: name.to_owned(),
        versions: Vec::new(),
        deleted: None,
    });
    secret.versions.push(version);
    tracing::debug!(secret = %name, "secret set");
    let v = secret.versions.last().expect("just pushed");
    Reply::json(200, &bundle(base, secret, v, true))
}

fn get(store: &mut Store, base: &str, name: &str, version: Option<&str>) -> Reply {
    let Some(s) = live(store, name) else {
        return not_found(name);
    };
    let v = match version {
        None => s.versions.last(),
        Some(ver) => s
            .versions
            .iter()
            .find(|v| v.version.eq_ignore_ascii_case(ver)),
    };
    match v {
        Some(v) if v.enabled => Reply::json(200, &bundle(base, s, v, true)),
        Some(_) => kv_error(
            403,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
        ),
        None => not_found(name),
    }
}

fn update(store: &mut Store, base: &str, name: &str, version: &str, body: &[u8]) -> Reply {
    let Ok(params) = serde_json::from_slice::<Value>(body) else {
        return kv_error(400, "BadParameter", "The request body is not valid JSON.");
    };
    let Some(s) = live(store, name) else {
        return not_found(name);
    };
    let idx = if version.is_empty() {
        s.versions.len().checked_sub(1)
    } else {
        s.versions
            .iter()
            .position(|v| v.version.eq_ignore_ascii_case(version))
    };
    let Some(idx) = idx else {
        return not_found(name);
    };
    let v = &mut s.versions[idx];
    if let Some(ct) = params.get("contentType").and_then(Value::as_str) {
        v.content_type = Some(ct.to_owned());
    }
    if let Some(t) = params.get("tags") {
        v.tags = Some(t.clone());
    }
    if let Some(e) = params
        .pointer("/attributes/enabled")
        .and_then(Value::as_bool)
    {
        v.enabled = e;
    }
    v.updated = now_unix();
    let v = s.versions[idx].clone();
    Reply::json(200, &bundle(base, s, &v, false))
}

fn attributes(v: &SecretVersion) -> Value {
    json!({"enabled": v.enabled, "created": v.created, "updated": v.updated, "recoveryLevel": RECOVERY_LEVEL, "recoverableDays": RETENTION_DAYS})
}

fn bundle(base: &str, s: &Secret, v: &SecretVersion, with_value: bool) -> Value {
    let mut b = json!({
        "id": format!("{base}/secrets/{}/{}", s.name, v.version),
        "attributes": attributes(v),
    });
    if with_value {
        b["value"] = json!(v.value);
    }
    if let Some(ct) = &v.content_type {
        b["contentType"] = json!(ct);
    }
    if let Some(t) = &v.tags {
        b["tags"] = t.clone();
    }
    b
}

fn item(base: &str, s: &Secret, v: &SecretVersion) -> Value {
    let mut b = bundle(base, s, v, false);
    b["id"] = json!(format!("{base}/secrets/{}", s.name));
    b
}

fn deleted_bundle(base: &str, s: &Secret) -> Value {
    let mut b = match s.versions.last() {
        Some(v) => bundle(base, s, v, false),
        None => json!({}),
    };
    let (deleted, purge) = s.deleted.unwrap_or_default();
    b["recoveryId"] = json!(format!("{base}/deletedsecrets/{}", s.name));
    b["deletedDate"] = json!(deleted);
    b["scheduledPurgeDate"] = json!(purge);
    b
}
