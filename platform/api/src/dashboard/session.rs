//! Signed cookies: the session (who signed in, until when), the OIDC sign-in's state and
//! PKCE verifier between the redirect and the callback, and the CSRF tokens of forms.
//! Each is `<base64url payload>.<base64url HMAC-SHA256>` under the dashboard's key;
//! nothing in them is secret from the browser, and nothing can be altered by it.

use base64::Engine;
use ring::hmac;
use serde::{Deserialize, Serialize};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The session cookie.
pub const SESSION: &str = "tw_session";
/// The OIDC sign-in in progress.
pub const SIGN_IN: &str = "tw_signin";
/// The sign-in form's CSRF token (before there is a session).
pub const LOGIN_CSRF: &str = "tw_login";

/// Who a session is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "id")]
pub enum Principal {
    /// An OIDC user (the token's subject).
    User(String),
    /// An API key (its id); checked against the ledger on every request, so a revoked
    /// key ends its sessions.
    Key(String),
}

/// A signed-in browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Who.
    pub who: Principal,
    /// Expiry, UNIX seconds.
    pub exp: i64,
    /// Random; the CSRF token is derived from it.
    pub sid: String,
}

/// An OIDC sign-in between the redirect and the callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// The `state` sent to the issuer.
    pub state: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The redirect URI used (the token request repeats it).
    pub redirect: String,
    /// Expiry, UNIX seconds.
    pub exp: i64,
}

/// Signs and checks the dashboard's cookies.
pub struct Signer {
    key: hmac::Key,
}

impl Signer {
    /// A signer with `secret` (at least 32 bytes of randomness).
    pub fn new(secret: &[u8]) -> Self {
        Signer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// `value` signed, under `purpose` (a cookie of one purpose is never taken for
    /// another).
    pub fn seal<T: Serialize>(&self, purpose: &str, value: &T) -> String {
        let payload = B64.encode(serde_json::to_vec(value).unwrap_or_default());
        let tag = hmac::sign(&self.key, format!("{purpose}.{payload}").as_bytes());
        format!("{payload}.{}", B64.encode(tag.as_ref()))
    }

    /// The value of a cookie `seal` made for `purpose`, if its signature holds and it has
    /// not expired by `now` (UNIX seconds).
    pub fn open<T: for<'de> Deserialize<'de> + Expiring>(
        &self,
        purpose: &str,
        text: &str,
        now: i64,
    ) -> Option<T> {
        let (payload, tag) = text.split_once('.')?;
        let tag = B64.decode(tag).ok()?;
        hmac::verify(&self.key, format!("{purpose}.{payload}").as_bytes(), &tag).ok()?;
        let value: T = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        (value.expires() > now).then_some(value)
    }

    /// The CSRF token of forms in a session (or, before one, of the sign-in form's
    /// nonce): an HMAC of its random id, so it needs no storage.
    pub fn csrf(&self, sid: &str) -> String {
        B64.encode(hmac::sign(&self.key, format!("csrf.{sid}").as_bytes()).as_ref())
    }

    /// Whether `token` is the CSRF token of `sid` (compared in constant time).
    pub fn csrf_ok(&self, sid: &str, token: &str) -> bool {
        B64.decode(token)
            .is_ok_and(|t| hmac::verify(&self.key, format!("csrf.{sid}").as_bytes(), &t).is_ok())
    }
}

/// A value with an expiry.
pub trait Expiring {
    /// UNIX seconds.
    fn expires(&self) -> i64;
}

impl Expiring for Session {
    fn expires(&self) -> i64 {
        self.exp
    }
}

impl Expiring for SignIn {
    fn expires(&self) -> i64 {
        self.exp
    }
}

/// A login-form nonce (never expires by itself; the cookie is a session cookie).
#[derive(Serialize, Deserialize)]
pub struct Nonce(pub String);

impl Expiring for Nonce {
    fn expires(&self) -> i64 {
        i64::MAX
    }
}

/// A `Set-Cookie` value: HttpOnly, Secure, SameSite=Lax, the whole site; `max_age`
/// seconds (`None`: until the browser closes; `Some(0)`: deleted).
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> String {
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=Lax{age}")
}

/// A cookie's value from a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A random URL-safe token of `n` bytes.
pub fn random_token<const N: usize>() -> String {
    B64.encode(crate::random::<N>())
}

/// The PKCE S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(exp: i64) -> Session {
        Session {
            who: Principal::User("alice".into()),
            exp,
            sid: "s1".into(),
        }
    }

    #[test]
    fn a_sealed_cookie_opens_only_unaltered_unexpired_and_for_its_purpose() {
        let s = Signer::new(&[7; 32]);
        let sealed = s.seal(SESSION, &session(100));
        assert_eq!(s.open::<Session>(SESSION, &sealed, 99), Some(session(100)));
        assert_eq!(s.open::<Session>(SESSION, &sealed, 100), None, "expired");
        assert_eq!(s.open::<Session>(SIGN_IN, &sealed, 99), None, "purpose");
        let (payload, tag) = sealed.split_once('.').unwrap();
        let forged = B64.encode(
            serde_json::to_vec(&Session {
                who: Principal::User("root".into()),
                ..session(100)
            })
            .unwrap(),
        );
        assert_eq!(
            s.open::<Session>(SESSION, &format!("{forged}.{tag}"), 99),
            None
        );
        assert!(s.open::<Session>(SESSION, payload, 99).is_none());
        let other = Signer::new(&[8; 32]);
        assert_eq!(other.open::<Session>(SESSION, &sealed, 99), None, "key");
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let s = Signer::new(&[7; 32]);
        let t = s.csrf("s1");
        assert!(s.csrf_ok("s1", &t));
        assert!(!s.csrf_ok("s2", &t));
        assert!(!s.csrf_ok("s1", "nonsense"));
    }

    #[test]
    fn pkce_challenge_is_rfc7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn cookies_are_found_among_others_and_set_safely() {
        let mut h = axum::http::HeaderMap::new();
        h.append("cookie", "a=1; tw_session=xyz.abc".parse().unwrap());
        assert_eq!(cookie(&h, SESSION), Some("xyz.abc"));
        assert_eq!(cookie(&h, "b"), None);
        let c = set_cookie(SESSION, "v", Some(60));
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(c.contains(attr), "{c}");
        }
    }
}
