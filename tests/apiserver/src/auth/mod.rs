//! Authentication and authorisation, as kube-apiserver does them for ServiceAccounts.
//!
//! - **Who**: a request without an `Authorization` header is the admin (the kubeconfig
//!   [`crate::kubeconfig_yaml`] writes): user [`ADMIN_USER`] in `system:masters`, allowed
//!   everything, as before. A request with `Authorization: Bearer <ServiceAccount token>`
//!   is that ServiceAccount: `system:serviceaccount:NS:NAME` in the groups
//!   `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`.
//!   Any other credential, a bad signature, an expired token, a foreign issuer or
//!   audience, or a token whose ServiceAccount (or bound pod) is gone or was recreated,
//!   is a 401 `Unauthorized` Status. `Authorization: Bearer <Authority::admin_token>` is
//!   the admin too (HTTPS kubeconfigs). Either may impersonate another user with the
//!   `Impersonate-*` headers (`kubectl --as`), if RBAC grants it `impersonate`.
//! - **Tokens** ([`token`]): ES256 JWTs signed by a key generated at start, with the claims
//!   kube-apiserver writes; issuer [`ISSUER`], which is also the default audience. The
//!   public key is served at `/openid/v1/jwks` and `/.well-known/openid-configuration`.
//! - **RBAC** ([`rbac`]): every ServiceAccount request (resources, subresources, lists and
//!   watches, non-resource paths) is checked against the stored Roles, ClusterRoles and
//!   their bindings, and denied with kube-apiserver's 403 Status. The bootstrap
//!   ClusterRoles that let any authenticated user read discovery and ask about itself
//!   (`system:discovery`, `system:basic-user`, `system:public-info-viewer`,
//!   `system:service-account-issuer-discovery`) are created at start, with
//!   `cluster-admin` and `system:auth-delegator`.
//! - **Reviews** ([`review`]): TokenRequest (`kubectl create token`), TokenReview,
//!   SelfSubjectReview (`kubectl auth whoami`), SelfSubjectAccessReview (`kubectl auth
//!   can-i`), SelfSubjectRulesReview (`can-i --list`), SubjectAccessReview and
//!   LocalSubjectAccessReview.
//! - **Per namespace**: a `default` ServiceAccount and a `kube-root-ca.crt` ConfigMap (the
//!   cluster CA) in every namespace, at start and whenever a namespace is created.
//! - **TLS**: client-go sends credentials only over TLS, so the server also speaks HTTPS on
//!   its port (the first byte of a connection tells), with a serving certificate for
//!   `127.0.0.1`, the bind address, [`KUBERNETES_SERVICE_IP`], `localhost` and the
//!   `kubernetes.default.svc…` names, signed by the cluster CA.
//!
//! For the kubelet: [`pod_token`] mints the projected token of a pod (bound to the pod,
//! so it stops working when the pod is deleted), and [`Authority::root_ca_pem`] is the
//! `ca.crt` to mount beside it.

pub mod rbac;
pub mod review;
pub mod token;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

use crate::server::error::ApiError;
use crate::server::registry::{GroupResource, ResourceDef};
use crate::server::store::{State, WriteCtx};
use crate::server::{Shared, util};
pub use rbac::{Attributes, Target, UserInfo};
pub use token::{Claims, TokenError};

/// The token issuer, and the API server's own audience (kube-apiserver's default).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The `kubernetes` Service's usual cluster IP; the serving certificate covers it, so pods
/// whose `KUBERNETES_SERVICE_HOST` is this address reach the server over verified TLS.
pub const KUBERNETES_SERVICE_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 96, 0, 1);
/// The user a request without credentials is.
pub const ADMIN_USER: &str = "kubernetes-admin";
/// The group whose members are allowed everything without RBAC.
pub const MASTERS: &str = "system:masters";
/// Lifetime of a TokenRequest that names none (kube-apiserver's default).
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Shortest lifetime a TokenRequest may ask for.
pub const MIN_EXPIRATION_SECONDS: i64 = 600;

/// Errors setting up the keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token signing key.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The CA, the serving certificate or the TLS configuration.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// The server's identity material: token signing key, cluster CA and TLS configuration.
pub struct Authority {
    signer: token::Signer,
    admin_token: String,
    root_ca_pem: String,
    tls: Arc<rustls::ServerConfig>,
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    base_ips: Vec<IpAddr>,
    /// Serving configurations for local addresses the first certificate does not cover
    /// (a pod's gateway, which is its `KUBERNETES_SERVICE_HOST`), signed when first used.
    per_address: std::sync::Mutex<BTreeMap<IpAddr, Arc<rustls::ServerConfig>>>,
}

/// A serving certificate for the in-cluster names and `ips`, signed by `issuer`.
fn serving_config(
    issuer: &Issuer<'static, KeyPair>,
    ca_der: &CertificateDer<'static>,
    ips: &[IpAddr],
) -> Result<Arc<rustls::ServerConfig>, AuthError> {
    let mut leaf = CertificateParams::new(
        [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .map_err(tls_err)?;
    for ip in ips {
        leaf.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    leaf.distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let leaf_cert = leaf.signed_by(&leaf_key, issuer).map_err(tls_err)?;
    let chain = vec![
        CertificateDer::from(leaf_cert.der().to_vec()),
        ca_der.clone(),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(tls_err)?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(tls_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("signer", &self.signer)
            .finish()
    }
}

fn tls_err(e: impl std::fmt::Display) -> AuthError {
    AuthError::Tls(e.to_string())
}

impl Authority {
    /// Generates the signing key, a CA, and a serving certificate for loopback, the
    /// in-cluster names and `ips`.
    pub fn generate(ips: &[IpAddr]) -> Result<Self, AuthError> {
        let signer = token::Signer::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "tradewind-test-apiserver-ca");
        ca_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_key = KeyPair::generate().map_err(tls_err)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_err)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let mut base_ips: Vec<IpAddr> = vec![
            std::net::Ipv4Addr::LOCALHOST.into(),
            KUBERNETES_SERVICE_IP.into(),
        ];
        base_ips.extend(ips.iter().filter(|ip| !ip.is_unspecified()));
        base_ips.dedup();
        let ca_der = CertificateDer::from(ca_cert.der().to_vec());
        let tls = serving_config(&issuer, &ca_der, &base_ips)?;
        Ok(Self {
            signer,
            admin_token: format!("admin-{}{}", util::new_uid(), util::new_uid()).replace('-', ""),
            root_ca_pem: ca_cert.pem(),
            tls,
            issuer,
            ca_der,
            base_ips,
            per_address: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// The cluster CA certificate (PEM): `ca.crt` of `kube-root-ca.crt` and of projected
    /// ServiceAccount volumes; it signed the server's TLS certificate.
    pub fn root_ca_pem(&self) -> &str {
        &self.root_ca_pem
    }

    /// The TLS configuration the listener uses for HTTPS connections.
    pub fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.clone()
    }

    /// The TLS configuration for a connection accepted on `local`: the first certificate
    /// when it covers that address, else one that also names it (a pod reaches the server
    /// at its network's gateway address and verifies the certificate against it).
    pub fn tls_config_for(&self, local: IpAddr) -> Arc<rustls::ServerConfig> {
        if local.is_loopback() || self.base_ips.contains(&local) {
            return self.tls.clone();
        }
        let mut cache = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&local) {
            return c.clone();
        }
        let mut ips = self.base_ips.clone();
        ips.push(local);
        match serving_config(&self.issuer, &self.ca_der, &ips) {
            Ok(c) => {
                cache.insert(local, c.clone());
                c
            }
            Err(e) => {
                tracing::error!(%local, "serving certificate: {e}");
                self.tls.clone()
            }
        }
    }

    /// A static bearer token that authenticates as the admin (for HTTPS kubeconfigs:
    /// client-go prompts for a password when a TLS server is given no credentials).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The token signer (signature checks, JWKS).
    pub fn signer(&self) -> &token::Signer {
        &self.signer
    }
}

/// The admin: everything allowed.
pub fn admin() -> UserInfo {
    UserInfo {
        username: ADMIN_USER.into(),
        groups: vec![MASTERS.into(), "system:authenticated".into()],
        ..UserInfo::default()
    }
}

/// A ServiceAccount's username.
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// 401 as kube-apiserver answers it.
pub fn unauthorized() -> ApiError {
    ApiError::new(401, "Unauthorized", "Unauthorized")
}

fn gr(group: &str, resource: &str) -> GroupResource {
    GroupResource {
        group: group.into(),
        resource: resource.into(),
    }
}

fn uid_of(v: &Value) -> &str {
    v.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Checks a token's signature and claims against `audiences` (empty: the API server's)
/// and that its ServiceAccount and bound objects still exist with the same uids. Returns
/// the user and the audiences it was accepted for.
pub fn review_token(
    shared: &Shared,
    token: &str,
    audiences: &[String],
) -> Result<(UserInfo, Vec<String>), TokenError> {
    let claims = shared.auth.signer.verify(token)?;
    let accepted: Vec<String> = if audiences.is_empty() {
        vec![ISSUER.to_owned()]
    } else {
        audiences.to_vec()
    };
    let auds = claims.validate(ISSUER, &accepted, util::now_unix())?;
    let k = &claims.kubernetes;
    let st = shared.lock();
    let gone = |what: &str| TokenError::Malformed(format!("{what} no longer exists"));
    let sa = st
        .one(
            &gr("", "serviceaccounts"),
            &k.namespace,
            &k.serviceaccount.name,
        )
        .ok_or_else(|| gone("the ServiceAccount"))?;
    if uid_of(&sa) != k.serviceaccount.uid {
        return Err(gone("the ServiceAccount"));
    }
    let mut extra = BTreeMap::new();
    if let Some(pod) = &k.pod {
        // As kube-apiserver: a pod being deleted keeps its tokens through its grace
        // period (its deletionTimestamp) and one more minute, so it can shut down cleanly.
        let now = util::now_unix();
        let p = st
            .one(&gr("", "pods"), &k.namespace, &pod.name)
            .filter(|p| uid_of(p) == pod.uid)
            .filter(|p| {
                p.pointer("/metadata/deletionTimestamp")
                    .and_then(Value::as_str)
                    .and_then(util::parse_rfc3339)
                    .is_none_or(|t| t >= now - 60)
            })
            .ok_or_else(|| gone("the pod the token is bound to"))?;
        extra.insert(
            "authentication.kubernetes.io/pod-name".into(),
            vec![pod.name.clone()],
        );
        extra.insert(
            "authentication.kubernetes.io/pod-uid".into(),
            vec![pod.uid.clone()],
        );
        if let Some(node) = p.pointer("/spec/nodeName").and_then(Value::as_str) {
            extra.insert(
                "authentication.kubernetes.io/node-name".into(),
                vec![node.to_owned()],
            );
        }
    }
    if let Some(secret) = &k.secret {
        st.one(&gr("", "secrets"), &k.namespace, &secret.name)
            .filter(|s| uid_of(s) == secret.uid)
            .ok_or_else(|| gone("the Secret the token is bound to"))?;
    }
    if let Some(jti) = &claims.jti {
        extra.insert(
            "authentication.kubernetes.io/credential-id".into(),
            vec![format!("JTI={jti}")],
        );
    }
    let ns = &k.namespace;
    Ok((
        UserInfo {
            username: service_account_username(ns, &k.serviceaccount.name),
            uid: k.serviceaccount.uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
            extra,
        },
        auds,
    ))
}

/// The user a request acts as: the one its `Authorization` header names (none: the
/// admin; a bad one: 401), or the one it impersonates with `Impersonate-User` (and
/// `Impersonate-Group`, `Impersonate-Uid`, `Impersonate-Extra-*`), if allowed to (403).
pub fn authenticate(shared: &Shared, headers: &hyper::HeaderMap) -> Result<UserInfo, ApiError> {
    let authorization = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let actor = if authorization.is_empty() {
        admin()
    } else {
        let token = authorization
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(unauthorized)?;
        if token == shared.auth.admin_token {
            return impersonate(shared, admin(), headers);
        }
        review_token(shared, token, &[])
            .map(|(user, _)| user)
            .map_err(|e| {
                tracing::debug!(%e, "bearer token rejected");
                unauthorized()
            })?
    };
    impersonate(shared, actor, headers)
}

/// Applies the impersonation headers, each checked with the `impersonate` verb on
/// `users`, `serviceaccounts`, `groups`, `uids` or `userextras/KEY`, as kube-apiserver does.
fn impersonate(
    shared: &Shared,
    actor: UserInfo,
    headers: &hyper::HeaderMap,
) -> Result<UserInfo, ApiError> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    };
    let user = values("impersonate-user").into_iter().next();
    let groups = values("impersonate-group");
    let uid = values("impersonate-uid").into_iter().next();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("impersonate-extra-")
            && let Ok(v) = value.to_str()
        {
            extra
                .entry(util::percent_decode(key))
                .or_default()
                .push(v.to_owned());
        }
    }
    let Some(username) = user else {
        if groups.is_empty() && uid.is_none() && extra.is_empty() {
            return Ok(actor);
        }
        return Err(ApiError::bad_request(
            "requested impersonation of groups, a uid or extras without impersonating a user",
        ));
    };
    let check = |group: &str, resource: &str, namespace: &str, name: &str| {
        authorize(
            shared,
            &actor,
            &Attributes {
                verb: "impersonate".into(),
                target: Target::Resource {
                    group: group.into(),
                    resource: resource.into(),
                    subresource: String::new(),
                    namespace: namespace.into(),
                    name: name.into(),
                },
            },
        )
    };
    let service_account = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    match service_account {
        Some((ns, name)) => check("", "serviceaccounts", ns, name)?,
        None => check("", "users", "", &username)?,
    }
    for g in &groups {
        check("", "groups", "", g)?;
    }
    if let Some(u) = &uid {
        check("authentication.k8s.io", "uids", "", u)?;
    }
    for (key, vals) in &extra {
        for v in vals {
            check("authentication.k8s.io", &format!("userextras/{key}"), "", v)?;
        }
    }
    let mut all_groups = groups;
    let mut add = |g: String| {
        if !all_groups.contains(&g) {
            all_groups.push(g);
        }
    };
    if let Some((ns, _)) = service_account {
        add("system:serviceaccounts".into());
        add(format!("system:serviceaccounts:{ns}"));
    }
    if username != "system:anonymous" {
        add("system:authenticated".into());
    }
    Ok(UserInfo {
        username,
        uid: uid.unwrap_or_default(),
        groups: all_groups,
        extra,
    })
}

/// Authorisation attributes of a resource request. `field_selector` names the object of
/// a list or watch when it is `metadata.name=X`, as kube-apiserver reads it.
pub fn resource_request(
    verb: &str,
    def: &ResourceDef,
    subresource: Option<&str>,
    namespace: Option<&str>,
    name: Option<&str>,
    field_selector: Option<&str>,
) -> Attributes {
    let name = match (name, verb) {
        (Some(n), _) => n.to_owned(),
        (None, "list" | "watch") => field_selector
            .and_then(|f| f.strip_prefix("metadata.name="))
            .filter(|n| !n.contains(','))
            .unwrap_or("")
            .to_owned(),
        _ => String::new(),
    };
    Attributes {
        verb: verb.into(),
        target: Target::Resource {
            group: def.group.clone(),
            resource: def.plural.clone(),
            subresource: subresource.unwrap_or("").into(),
            namespace: namespace.unwrap_or("").into(),
            name,
        },
    }
}

/// The Roles and bindings that can apply in `namespace`.
pub fn policy(st: &State, namespace: &str) -> rbac::Policy {
    // Only the namespace's Roles are copied: every request made with a token asks.
    let rbac = "rbac.authorization.k8s.io";
    rbac::Policy {
        cluster_roles: st.all(&gr(rbac, "clusterroles")),
        cluster_role_bindings: st.all(&gr(rbac, "clusterrolebindings")),
        roles: if namespace.is_empty() {
            Vec::new()
        } else {
            st.in_namespace(&gr(rbac, "roles"), namespace)
        },
        role_bindings: if namespace.is_empty() {
            Vec::new()
        } else {
            st.in_namespace(&gr(rbac, "rolebindings"), namespace)
        },
    }
}

/// Whether `user` may do `a` (members of `system:masters` may do anything).
pub fn allowed(shared: &Shared, user: &UserInfo, a: &Attributes) -> bool {
    if user.groups.iter().any(|g| g == MASTERS) {
        return true;
    }
    let ns = match &a.target {
        Target::Resource { namespace, .. } => namespace.as_str(),
        Target::Path(_) => "",
    };
    let p = policy(&shared.lock(), ns);
    p.allows(user, a)
}

/// `Ok` if `user` may do `a`, else kube-apiserver's 403 Forbidden Status.
pub fn authorize(shared: &Shared, user: &UserInfo, a: &Attributes) -> Result<(), ApiError> {
    if allowed(shared, user, a) {
        return Ok(());
    }
    let (message, details) = rbac::forbidden(&user.username, a);
    tracing::debug!(user = %user.username, "{message}");
    Err(ApiError {
        details: Some(details),
        ..ApiError::new(403, "Forbidden", message)
    })
}

/// Whether `path` (split into segments) addresses an API resource rather than a
/// non-resource URL such as `/api`, `/apis/apps/v1` or `/version`.
fn is_resource_path(segs: &[&str]) -> bool {
    matches!(segs, ["api", _, _, ..] | ["apis", _, _, _, ..])
}

/// RBAC on a non-resource path (`/api`, `/apis/g/v`, `/version`, `/openapi/v3`, ...);
/// resource paths pass (they are checked once resolved).
pub fn authorize_path(
    shared: &Shared,
    user: &UserInfo,
    method: &str,
    path: &str,
) -> Result<(), ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if is_resource_path(&segs) {
        return Ok(());
    }
    authorize(
        shared,
        user,
        &Attributes {
            verb: method.to_ascii_lowercase(),
            target: Target::Path(path.to_owned()),
        },
    )
}

/// What a token is minted for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenSpec {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount.
    pub service_account: String,
    /// Audiences (empty: the API server's).
    pub audiences: Vec<String>,
    /// Lifetime in seconds.
    pub expiration_seconds: i64,
    /// The object the token is bound to: (kind `Pod` or `Secret`, name, uid or empty).
    pub bound: Option<(String, String, String)>,
}

/// A minted token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// Expiry, seconds since the epoch.
    pub expires: i64,
    /// Its audiences.
    pub audiences: Vec<String>,
}

/// Mints a ServiceAccount token (the TokenRequest API's work). The ServiceAccount and
/// the bound object must exist (404 otherwise; 409-like Conflict if a given uid is stale).
pub fn issue(shared: &Shared, spec: &TokenSpec) -> Result<IssuedToken, ApiError> {
    if spec.expiration_seconds < MIN_EXPIRATION_SECONDS {
        return Err(ApiError::invalid(
            "TokenRequest",
            &spec.service_account,
            &[(
                "spec.expirationSeconds".into(),
                format!(
                    "Invalid value: {}: may not specify a duration less than 10 minutes",
                    spec.expiration_seconds
                ),
            )],
        ));
    }
    let (sa_uid, bound) = {
        let st = shared.lock();
        let sa = st
            .one(
                &gr("", "serviceaccounts"),
                &spec.namespace,
                &spec.service_account,
            )
            .ok_or_else(|| ApiError::not_found("", "serviceaccounts", &spec.service_account))?;
        let bound = match &spec.bound {
            None => None,
            Some((kind, name, uid)) => {
                let resource = match kind.as_str() {
                    "Pod" => "pods",
                    "Secret" => "secrets",
                    other => {
                        return Err(ApiError::invalid(
                            "TokenRequest",
                            &spec.service_account,
                            &[(
                                "spec.boundObjectRef.kind".into(),
                                format!(
                                    "Unsupported value: {other:?}: supported values: \"Pod\", \"Secret\""
                                ),
                            )],
                        ));
                    }
                };
                let obj = st
                    .one(&gr("", resource), &spec.namespace, name)
                    .ok_or_else(|| ApiError::not_found("", resource, name))?;
                let actual = uid_of(&obj).to_owned();
                if !uid.is_empty() && *uid != actual {
                    return Err(ApiError::new(
                        409,
                        "Conflict",
                        format!(
                            "Operation cannot be fulfilled on {resource} \"{name}\": the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
                        ),
                    ));
                }
                Some((
                    kind.clone(),
                    token::ObjectRef {
                        name: name.clone(),
                        uid: actual,
                    },
                ))
            }
        };
        (uid_of(&sa).to_owned(), bound)
    };
    let now = util::now_unix();
    let audiences = if spec.audiences.is_empty() {
        vec![ISSUER.to_owned()]
    } else {
        spec.audiences.clone()
    };
    let (pod, secret) = match bound {
        Some((k, r)) if k == "Pod" => (Some(r), None),
        Some((_, r)) => (None, Some(r)),
        None => (None, None),
    };
    let claims = Claims {
        aud: audiences.clone(),
        exp: now + spec.expiration_seconds,
        iat: now,
        iss: ISSUER.into(),
        jti: Some(util::new_uid()),
        kubernetes: token::KubernetesClaim {
            namespace: spec.namespace.clone(),
            serviceaccount: token::ObjectRef {
                name: spec.service_account.clone(),
                uid: sa_uid,
            },
            pod,
            secret,
            node: None,
        },
        nbf: now,
        sub: service_account_username(&spec.namespace, &spec.service_account),
    };
    let token = shared
        .auth
        .signer
        .sign(&claims)
        .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
    Ok(IssuedToken {
        token,
        expires: claims.exp,
        audiences,
    })
}

/// The kubelet's projected ServiceAccount token for a pod: bound to the pod (it stops
/// authenticating once the pod is deleted), for `audiences` (empty: the API server) and
/// `expiration_seconds` (the projected volume's `expirationSeconds`, at least 600).
/// Mount it beside [`Authority::root_ca_pem`] as `ca.crt` and the namespace.
pub fn pod_token(
    shared: &Shared,
    namespace: &str,
    service_account: &str,
    pod_name: &str,
    pod_uid: &str,
    audiences: &[String],
    expiration_seconds: i64,
) -> Result<IssuedToken, ApiError> {
    issue(
        shared,
        &TokenSpec {
            namespace: namespace.into(),
            service_account: service_account.into(),
            audiences: audiences.to_vec(),
            expiration_seconds,
            bound: Some(("Pod".into(), pod_name.into(), pod_uid.into())),
        },
    )
}

/// Creates the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap in a new
/// namespace (as kube-controller-manager's controllers do), leaving existing ones.
pub fn seed_namespace(st: &mut State, root_ca_pem: &str, namespace: &str) {
    let objects = [
        (
            "serviceaccounts",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
        ),
        (
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                "data": {"ca.crt": root_ca_pem}}),
        ),
    ];
    for (plural, obj) in objects {
        let Some(def) = st.registry.find("", "v1", plural).cloned() else {
            continue;
        };
        match st.create(&def, Some(namespace), obj, &WriteCtx::default()) {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => tracing::warn!(%e, namespace, plural, "seeding the namespace"),
        }
    }
}

/// The bootstrap ClusterRoles and ClusterRoleBindings (as kube-apiserver's RBAC
/// bootstrap policy names them, reduced to what this server serves).
pub fn bootstrap_policy() -> Vec<(&'static str, Value)> {
    let discovery = [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
    ];
    let public = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
    let issuer = [
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration/",
        "/openid/v1/jwks",
        "/openid/v1/jwks/",
    ];
    let role = |name: &str, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "rules": rules})
    };
    let binding = |name: &str, groups: &[&str]| {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
            .collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": subjects})
    };
    vec![
        (
            "clusterroles",
            role(
                "cluster-admin",
                json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                       {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
            ),
        ),
        ("clusterrolebindings", binding("cluster-admin", &[MASTERS])),
        (
            "clusterroles",
            role(
                "system:discovery",
                json!([{"nonResourceURLs": discovery, "verbs": ["get"]}]),
            ),
        ),
        (
            "clusterrolebindings",
            binding("system:discovery", &["system:authenticated"]),
        ),
        (
            "clusterroles",
            role(
                "system:basic-user",
                json!([{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
                       {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}]),
            ),
        ),
        (
            "clusterrolebindings",
            binding("system:basic-user", &["system:authenticated"]),
        ),
        (
            "clusterroles",
            role(
                "system:public-info-viewer",
                json!([{"nonResourceURLs": public, "verbs": ["get"]}]),
            ),
        ),
        (
            "clusterrolebindings",
            binding(
                "system:public-info-viewer",
                &["system:authenticated", "system:unauthenticated"],
            ),
        ),
        (
            "clusterroles",
            role(
                "system:service-account-issuer-discovery",
                json!([{"nonResourceURLs": issuer, "verbs": ["get"]}]),
            ),
        ),
        (
            "clusterrolebindings",
            binding(
                "system:service-account-issuer-discovery",
                &["system:serviceaccounts"],
            ),
        ),
        (
            "clusterroles",
            role(
                "system:auth-delegator",
                json!([{"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
                       {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]),
            ),
        ),
    ]
}

/// Sets a fresh store up: the review resources in discovery, the bootstrap RBAC policy,
/// and, with `namespace_defaults`, the `default` ServiceAccount and `kube-root-ca.crt` of
/// every namespace (new namespaces get theirs when created: see [`State::root_ca_pem`]).
pub fn bootstrap(st: &mut State, authority: &Authority, namespace_defaults: bool) {
    st.registry.resources.extend(review::resources());
    for (plural, obj) in bootstrap_policy() {
        let Some(def) = st
            .registry
            .find("rbac.authorization.k8s.io", "v1", plural)
            .cloned()
        else {
            continue;
        };
        if let Err(e) = st.create(&def, None, obj, &WriteCtx::default()) {
            tracing::warn!(%e, "creating the bootstrap RBAC policy");
        }
    }
    if !namespace_defaults {
        return;
    }
    st.root_ca_pem = Some(authority.root_ca_pem.clone().into());
    let namespaces: Vec<String> = st
        .all(&gr("", "namespaces"))
        .iter()
        .filter_map(|n| n.pointer("/metadata/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    for ns in namespaces {
        seed_namespace(st, &authority.root_ca_pem, &ns);
    }
}

/// A kubeconfig for `server_https` (`https://127.0.0.1:PORT`) that trusts the cluster
/// CA and authenticates with `token`, namespace `namespace`.
pub fn token_kubeconfig_yaml(
    server_https: &str,
    root_ca_pem: &str,
    token: &str,
    namespace: &str,
) -> String {
    let ca = crate::server::protobuf::base64(root_ca_pem.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: tradewind-test\n  cluster:\n    server: {server_https}\n    certificate-authority-data: {ca}\ncontexts:\n- name: tradewind-test\n  context:\n    cluster: tradewind-test\n    user: token\n    namespace: {namespace}\ncurrent-context: tradewind-test\nusers:\n- name: token\n  user:\n    token: {token}\npreferences: {{}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::pki_types::pem::PemObject as _;

    /// A TLS handshake in memory against the serving certificate, for `name`.
    fn handshake(authority: &Authority, name: &str) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        let ca =
            CertificateDer::from_pem_slice(authority.root_ca_pem().as_bytes()).expect("CA PEM");
        roots.add(ca).expect("CA added");
        let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let server_name = ServerName::try_from(name.to_owned()).expect("server name");
        let mut client = rustls::ClientConnection::new(Arc::new(client_config), server_name)?;
        let mut server = rustls::ServerConnection::new(authority.tls_config())?;
        for _ in 0..10 {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).expect("client writes");
            server.read_tls(&mut buf.as_slice()).expect("server reads");
            server.process_new_packets()?;
            let mut buf = Vec::new();
            server.write_tls(&mut buf).expect("server writes");
            client.read_tls(&mut buf.as_slice()).expect("client reads");
            client.process_new_packets()?;
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
        }
        Err(rustls::Error::General("handshake did not finish".into()))
    }

    #[test]
    fn the_serving_certificate_is_trusted_through_the_root_ca_for_cluster_names() {
        let a = Authority::generate(&[]).expect("authority");
        for name in [
            "127.0.0.1",
            "10.96.0.1",
            "localhost",
            "kubernetes.default.svc",
        ] {
            handshake(&a, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(handshake(&a, "example.com").is_err());
    }
}
