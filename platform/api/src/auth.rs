//! Who is calling, and what they may do in an account.
//!
//! Two kinds of callers: people with an OpenID Connect bearer token (checked against the
//! issuer's JWKS: signature, issuer, audience, expiry), and programs with an API key,
//! every request signed with HMAC-SHA256 (see [`string_to_sign`]). Access to an account
//! is a [`Level`]; a caller with none is told the account does not exist.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::{digest, hmac};
use tokio::sync::{Mutex, RwLock};
use tradewind_ledger::accounts::Role;
use tradewind_ledger::api::{ApiKey, KeyScope};

use crate::problem::ApiError;

/// The headers of a signed request.
pub mod headers {
    /// The key's id.
    pub const KEY: &str = "tw-key";
    /// UNIX seconds when the request was signed.
    pub const TIMESTAMP: &str = "tw-timestamp";
    /// A value the key never used before (8 to 64 letters, digits, `-`, `_`).
    pub const NONCE: &str = "tw-nonce";
    /// Lowercase hex HMAC-SHA256 of [`super::string_to_sign`].
    pub const SIGNATURE: &str = "tw-signature";
}

/// What a caller may do in an account, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Read everything of the account.
    Read,
    /// Also create, change, suspend, resume and delete bots.
    Trade,
    /// Also manage members and API keys (an owner).
    Manage,
    /// A platform admin: everything, in every account, and the referral tree.
    Admin,
}

impl Level {
    /// The spelling in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Trade => "trade",
            Level::Manage => "manage",
            Level::Admin => "admin",
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A person, by the identity provider's subject.
    User {
        /// `sub`.
        subject: String,
        /// A platform admin.
        admin: bool,
    },
    /// A program, by its API key.
    Key {
        /// The key's id.
        id: String,
        /// Its account (`None`: a platform admin's key).
        account: Option<String>,
        /// Its scope.
        scope: KeyScope,
    },
}

impl Caller {
    /// What the rate limit and the logs call the caller.
    pub fn label(&self) -> String {
        match self {
            Caller::User { subject, .. } => format!("user:{subject}"),
            Caller::Key { id, .. } => format!("key:{id}"),
        }
    }

    /// Who created what: a subject or `key:<id>`.
    pub fn actor(&self) -> String {
        match self {
            Caller::User { subject, .. } => subject.clone(),
            Caller::Key { id, .. } => format!("key:{id}"),
        }
    }

    /// A person whose identity was verified (an OIDC token, a dashboard session): a
    /// platform admin when the ledger says so.
    pub async fn user(
        ledger: &tradewind_ledger::Ledger,
        subject: String,
    ) -> Result<Caller, ApiError> {
        let admin = ledger.is_admin(&subject).await?;
        Ok(Caller::User { subject, admin })
    }

    /// Whether the caller is a platform admin.
    pub fn is_admin(&self) -> bool {
        match self {
            Caller::User { admin, .. } => *admin,
            Caller::Key { account, scope, .. } => account.is_none() && *scope == KeyScope::Admin,
        }
    }
}

impl From<ApiKey> for Caller {
    /// A program, by a key whose request (or session) was verified.
    fn from(key: ApiKey) -> Self {
        Caller::Key {
            id: key.id,
            account: key.account,
            scope: key.scope,
        }
    }
}

/// The caller's level in `account`, given its membership role there (users) — `None`:
/// no access, and the account is answered as not found.
pub fn level(caller: &Caller, account: &str, role: Option<Role>) -> Option<Level> {
    if caller.is_admin() {
        return Some(Level::Admin);
    }
    match caller {
        Caller::User { .. } => role.map(|r| match r {
            Role::Owner => Level::Manage,
            Role::Trader => Level::Trade,
            Role::Viewer => Level::Read,
        }),
        Caller::Key {
            account: Some(own),
            scope,
            ..
        } if own == account => Some(match scope {
            KeyScope::Read => Level::Read,
            KeyScope::Trade => Level::Trade,
            KeyScope::Admin => Level::Manage,
        }),
        Caller::Key { .. } => None,
    }
}

/// Whether a caller at `have` may do what needs `need` in `account`: no access at all is
/// a 404 (the account's existence is not disclosed), too low a level a 403.
pub fn authorise(have: Option<Level>, need: Level, account: &str) -> Result<Level, ApiError> {
    match have {
        None => Err(ApiError::NotFound(format!("no account {account:?}"))),
        Some(h) if h >= need => Ok(h),
        Some(h) => Err(ApiError::Forbidden(format!(
            "this needs the {} level in account {account:?}; the caller has {}",
            need.as_str(),
            h.as_str()
        ))),
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

/// What a signed request signs: the timestamp, the nonce, the method, the path, the raw
/// query string (empty when none) and the hex SHA-256 of the body, one per line.
pub fn string_to_sign(
    timestamp: &str,
    nonce: &str,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> String {
    format!(
        "{timestamp}\n{nonce}\n{method}\n{path}\n{query}\n{}",
        sha256_hex(body)
    )
}

/// The key requests are signed with for a secret: its SHA-256, hex (the ledger stores
/// this, never the secret).
pub fn signing_key(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// The signature of `message` with a signing key (hex), lowercase hex.
pub fn sign(signing_key_hex: &str, message: &str) -> String {
    let raw = hex::decode(signing_key_hex).unwrap_or_default();
    let key = hmac::Key::new(hmac::HMAC_SHA256, &raw);
    hex::encode(hmac::sign(&key, message.as_bytes()).as_ref())
}

/// The signed-request headers, as received.
#[derive(Clone, Debug)]
pub struct SignedHeaders<'a> {
    /// [`headers::TIMESTAMP`].
    pub timestamp: &'a str,
    /// [`headers::NONCE`].
    pub nonce: &'a str,
    /// [`headers::SIGNATURE`].
    pub signature: &'a str,
}

/// What of a request is signed besides the headers.
#[derive(Clone, Copy, Debug)]
pub struct Signed<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path, as sent.
    pub path: &'a str,
    /// The raw query string without `?` (empty when none).
    pub query: &'a str,
    /// The body's bytes.
    pub body: &'a [u8],
}

/// Checks a signed request against its stored key at `now` (UNIX seconds): in force,
/// timestamp within `window`, signature right. Returns the request's instant (ns) for
/// the nonce. The nonce's single use is the caller's next step.
pub fn check_signature(
    key: &ApiKey,
    h: &SignedHeaders<'_>,
    r: Signed<'_>,
    now: i64,
    window: Duration,
) -> Result<i64, ApiError> {
    if key.revoked_at.is_some() {
        return Err(ApiError::Unauthenticated(format!(
            "API key {} is revoked",
            key.id
        )));
    }
    let ts: i64 = h.timestamp.parse().map_err(|_| {
        ApiError::Unauthenticated(format!(
            "{}: {:?} is not UNIX seconds",
            headers::TIMESTAMP,
            h.timestamp
        ))
    })?;
    let skew = now.abs_diff(ts);
    if skew > window.as_secs() {
        return Err(ApiError::Unauthenticated(format!(
            "{}: the request was signed {skew} s away from the server's clock; the window is {} s",
            headers::TIMESTAMP,
            window.as_secs()
        )));
    }
    let nonce_ok = (8..=64).contains(&h.nonce.len())
        && h.nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !nonce_ok {
        return Err(ApiError::Unauthenticated(format!(
            "{}: 8 to 64 letters, digits, '-' or '_'",
            headers::NONCE
        )));
    }
    let expected = string_to_sign(h.timestamp, h.nonce, r.method, r.path, r.query, r.body);
    let raw = hex::decode(&key.signing_key).unwrap_or_default();
    let sig = hex::decode(h.signature)
        .map_err(|_| ApiError::Unauthenticated(format!("{}: not hex", headers::SIGNATURE)))?;
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, &raw),
        expected.as_bytes(),
        &sig,
    )
    .map_err(|_| {
        ApiError::Unauthenticated(
            "the signature does not match the request (method, path, query, body, timestamp, nonce)"
                .into(),
        )
    })?;
    Ok(ts.saturating_mul(1_000_000_000))
}

/// Where and how OIDC tokens are checked.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// The issuer (`iss`), e.g. `https://login.microsoftonline.com/<tenant>/v2.0`.
    pub issuer: String,
    /// The audience (`aud`) the API's tokens carry (its client id or App ID URI).
    pub audience: String,
    /// The JWKS URL; `None`: from the issuer's discovery document.
    pub jwks_url: Option<String>,
    /// Leeway on `exp` and `nbf`.
    pub leeway: Duration,
    /// The shortest time between two JWKS fetches (an unknown `kid` refetches).
    pub min_refresh: Duration,
}

/// A cached JWKS: keys by `kid`, refetched when a token names one it lacks.
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Option<Algorithm>)>>,
    last_fetch: Mutex<Option<Instant>>,
}

#[derive(serde::Deserialize)]
struct Claims {
    sub: String,
}

#[derive(serde::Deserialize)]
struct Discovery {
    jwks_uri: String,
}

impl Oidc {
    /// A verifier; the JWKS is fetched at the first token.
    pub fn new(config: OidcConfig, http: reqwest::Client) -> Self {
        Oidc {
            config,
            http,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<(), String> {
        let url = match &self.config.jwks_url {
            Some(u) => u.clone(),
            None => {
                let d = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer.trim_end_matches('/')
                );
                let resp = self.http.get(&d).send().await.map_err(|e| e.to_string())?;
                let body = resp.bytes().await.map_err(|e| e.to_string())?;
                serde_json::from_slice::<Discovery>(&body)
                    .map_err(|e| format!("{d}: {e}"))?
                    .jwks_uri
            }
        };
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk))
            else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            keys.insert(kid, (key, alg));
        }
        tracing::info!(keys = keys.len(), %url, "OIDC: JWKS fetched");
        *self.keys.write().await = keys;
        Ok(())
    }

    /// Refetches the JWKS unless it was fetched within `min_refresh`.
    async fn refresh(&self) -> Result<(), ApiError> {
        let mut last = self.last_fetch.lock().await;
        if let Some(t) = *last
            && t.elapsed() < self.config.min_refresh
        {
            return Ok(());
        }
        *last = Some(Instant::now());
        self.fetch().await.map_err(|e| {
            tracing::warn!(error = %e, "OIDC: the JWKS cannot be fetched");
            ApiError::Unavailable("the identity provider's keys cannot be fetched now".into())
        })
    }

    /// The subject of a valid token.
    pub async fn verify(&self, token: &str) -> Result<String, ApiError> {
        let bad = |why: String| ApiError::Unauthenticated(format!("bearer token: {why}"));
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| bad(format!("not a signed JWT ({e})")))?;
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| bad("its header names no key (kid)".into()))?;
        let mut found = self.keys.read().await.get(&kid).cloned();
        if found.is_none() {
            // Key rotation: a new kid is fetched once, then refused if still unknown.
            self.refresh().await?;
            found = self.keys.read().await.get(&kid).cloned();
        }
        let (key, alg) = found.ok_or_else(|| bad(format!("key {kid:?} is not the issuer's")))?;
        if alg.is_some_and(|a| a != header.alg) {
            return Err(bad(format!(
                "algorithm {:?} is not key {kid:?}'s",
                header.alg
            )));
        }
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&[&self.config.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = self.config.leeway.as_secs();
        v.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            bad(match e.kind() {
                K::ExpiredSignature => "expired".into(),
                K::InvalidIssuer => format!("not issued by {}", self.config.issuer),
                K::InvalidAudience => format!("not for audience {}", self.config.audience),
                K::InvalidSignature => "the signature does not verify".into(),
                K::ImmatureSignature => "not valid yet (nbf)".into(),
                K::MissingRequiredClaim(c) => format!("claim {c} is missing"),
                other => format!("{other:?}"),
            })
        })?;
        if data.claims.sub.is_empty() {
            return Err(bad("claim sub is empty".into()));
        }
        Ok(data.claims.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scope: KeyScope, account: Option<&str>) -> ApiKey {
        ApiKey {
            id: "twk_1".into(),
            account: account.map(Into::into),
            scope,
            name: "ci".into(),
            signing_key: signing_key("s3cret"),
            created_by: "alice".into(),
            created_at: 0,
            revoked_at: None,
        }
    }

    #[test]
    fn levels_by_role_scope_and_account() {
        let user = Caller::User {
            subject: "a".into(),
            admin: false,
        };
        assert_eq!(level(&user, "acme", Some(Role::Owner)), Some(Level::Manage));
        assert_eq!(level(&user, "acme", Some(Role::Viewer)), Some(Level::Read));
        assert_eq!(level(&user, "acme", None), None);
        let k = Caller::Key {
            id: "k".into(),
            account: Some("acme".into()),
            scope: KeyScope::Trade,
        };
        assert_eq!(level(&k, "acme", None), Some(Level::Trade));
        assert_eq!(level(&k, "other", None), None);
        let platform = Caller::Key {
            id: "k".into(),
            account: None,
            scope: KeyScope::Admin,
        };
        assert_eq!(level(&platform, "any", None), Some(Level::Admin));
        assert!(matches!(
            authorise(None, Level::Read, "x"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            authorise(Some(Level::Read), Level::Trade, "x"),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn a_signature_binds_every_part_and_the_window() {
        let k = key(KeyScope::Read, Some("acme"));
        let msg = string_to_sign("1000", "nonce-0001", "GET", "/api/v1/me", "", b"");
        let sig = sign(&k.signing_key, &msg);
        let h = SignedHeaders {
            timestamp: "1000",
            nonce: "nonce-0001",
            signature: &sig,
        };
        let w = Duration::from_secs(30);
        // The request as signed, checked at `now` with key `k`.
        let check = |k: &ApiKey, (method, path, query, body): (&str, &str, &str, &[u8]), now| {
            check_signature(
                k,
                &h,
                Signed {
                    method,
                    path,
                    query,
                    body,
                },
                now,
                w,
            )
        };
        let signed = ("GET", "/api/v1/me", "", &b""[..]);
        assert!(check(&k, signed, 1010).is_ok());
        // Another path, query, body or method: refused.
        for other in [
            ("GET", "/api/v1/mf", "", &b""[..]),
            ("GET", "/api/v1/me", "a=1", &b""[..]),
            ("GET", "/api/v1/me", "", &b"x"[..]),
            ("POST", "/api/v1/me", "", &b""[..]),
        ] {
            assert!(check(&k, other, 1010).is_err(), "{other:?}");
        }
        // Stale, or from the future.
        let e = check(&k, signed, 1031).unwrap_err();
        assert!(e.to_string().contains("window"), "{e}");
        assert!(check(&k, signed, 969).is_err());
        // Revoked.
        let mut r = k.clone();
        r.revoked_at = Some(1);
        let e = check(&r, signed, 1010).unwrap_err();
        assert!(e.to_string().contains("revoked"), "{e}");
    }
}
