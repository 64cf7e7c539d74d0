//! ServiceAccount tokens: ES256-signed JWTs with the claims kube-apiserver writes, and
//! their verification. Pure apart from key generation and signing randomness.
//!
//! ES256 (ECDSA P-256, SHA-256) rather than RS256: `ring` (already in the tree through
//! rustls) generates P-256 keys but cannot generate RSA keys, and kube-apiserver accepts
//! ECDSA service-account keys as well (its JWKS then holds an `EC` key, as here).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why a token was not accepted (or could not be made).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON header and claims.
    #[error("token is malformed: {0}")]
    Malformed(String),
    /// The header names an algorithm other than ES256.
    #[error("unexpected signing algorithm {0:?} (ES256 expected)")]
    Algorithm(String),
    /// The signature does not match the header and claims.
    #[error("error in cryptographic primitive: the signature does not match")]
    Signature,
    /// `exp` is in the past.
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` is not this server's issuer.
    #[error("token issuer {0:?} is not this server's")]
    Issuer(String),
    /// None of the token's audiences is acceptable.
    #[error("token audiences {0:?} are invalid for the target audiences")]
    Audience(Vec<String>),
    /// Key generation or signing failed.
    #[error("signing failed: {0}")]
    Crypto(String),
}

/// A `{name, uid}` reference inside the `kubernetes.io` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Object name.
    pub name: String,
    /// Object uid.
    pub uid: String,
}

/// The private `kubernetes.io` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount.
    pub serviceaccount: ObjectRef,
    /// The pod the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    /// The Secret the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    /// The Node the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
}

/// The claims of a ServiceAccount token, named and nested as kube-apiserver writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Audiences.
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Unique token ID (reported as `authentication.kubernetes.io/credential-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// ServiceAccount, bound object.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaim,
    /// Not before.
    pub nbf: i64,
    /// `system:serviceaccount:NAMESPACE:NAME`.
    pub sub: String,
}

impl Claims {
    /// Checks issuer, time window (`now` in seconds) and audiences; returns the token's
    /// audiences that are acceptable (`accepted` empty: all are).
    pub fn validate(
        &self,
        issuer: &str,
        accepted: &[String],
        now: i64,
    ) -> Result<Vec<String>, TokenError> {
        if self.iss != issuer {
            return Err(TokenError::Issuer(self.iss.clone()));
        }
        if now >= self.exp {
            return Err(TokenError::Expired);
        }
        // kube-apiserver allows the same minute of clock skew on nbf/iat.
        if self.nbf > now + 60 || self.iat > now + 60 {
            return Err(TokenError::NotYetValid);
        }
        if accepted.is_empty() {
            return Ok(self.aud.clone());
        }
        let both: Vec<String> = self
            .aud
            .iter()
            .filter(|a| accepted.contains(a))
            .cloned()
            .collect();
        if both.is_empty() {
            return Err(TokenError::Audience(self.aud.clone()));
        }
        Ok(both)
    }
}

/// DER prefix of a P-256 `SubjectPublicKeyInfo` before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The server's token signing key (generated at start, never written anywhere).
pub struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Signer {
    /// A fresh P-256 key; its `kid` is the base64url SHA-256 of its public key's DER, as
    /// kube-apiserver derives it.
    pub fn generate() -> Result<Self, TokenError> {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng)
            .map_err(|_| TokenError::Crypto("generating a P-256 key".into()))?;
        let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng)
            .map_err(|e| TokenError::Crypto(format!("loading the P-256 key: {e}")))?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.public_key().as_ref());
        let kid = b64(ring::digest::digest(&ring::digest::SHA256, &spki).as_ref());
        Ok(Self { key, rng, kid })
    }

    /// The key ID written in every token header and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` into a compact JWS.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let header = json!({"alg": "ES256", "kid": self.kid});
        let body = serde_json::to_vec(claims).map_err(|e| TokenError::Crypto(e.to_string()))?;
        let header = serde_json::to_vec(&header).map_err(|e| TokenError::Crypto(e.to_string()))?;
        let input = format!("{}.{}", b64(&header), b64(&body));
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| TokenError::Crypto("ECDSA signing".into()))?;
        Ok(format!("{input}.{}", b64(sig.as_ref())))
    }

    /// Checks the signature and decodes the claims (no time, issuer or audience check:
    /// see [`Claims::validate`]).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed(
                "not three dot-separated parts".into(),
            ));
        };
        let decode = |p: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(p)
                .map_err(|e| TokenError::Malformed(format!("{what}: {e}")))
        };
        let header: Value = serde_json::from_slice(&decode(h, "header")?)
            .map_err(|e| TokenError::Malformed(format!("header: {e}")))?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != "ES256" {
            return Err(TokenError::Algorithm(alg.to_owned()));
        }
        let sig = decode(s, "signature")?;
        signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        )
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| TokenError::Signature)?;
        serde_json::from_slice(&decode(c, "claims")?)
            .map_err(|e| TokenError::Malformed(format!("claims: {e}")))
    }

    /// The public key as a JSON Web Key Set (`/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        let point = self.key.public_key().as_ref();
        // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
        let (x, y) = point
            .get(1..)
            .unwrap_or(&[])
            .split_at(32.min(point.len().saturating_sub(1)));
        json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": self.kid,
            "crv": "P-256",
            "alg": "ES256",
            "x": b64(x),
            "y": b64(y),
        }]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            aud: vec!["https://kubernetes.default.svc.cluster.local".into()],
            exp: now + 3600,
            iat: now,
            iss: "https://kubernetes.default.svc.cluster.local".into(),
            jti: Some("j".into()),
            kubernetes: KubernetesClaim {
                namespace: "ns".into(),
                serviceaccount: ObjectRef {
                    name: "sa".into(),
                    uid: "u".into(),
                },
                pod: None,
                secret: None,
                node: None,
            },
            nbf: now,
            sub: "system:serviceaccount:ns:sa".into(),
        }
    }

    #[test]
    fn signs_verifies_and_rejects_tampering_and_other_keys() {
        let s = Signer::generate().expect("key");
        let c = claims(1_000);
        let t = s.sign(&c).expect("sign");
        assert_eq!(s.verify(&t), Ok(c.clone()));
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').next().expect("header"))
                .expect("b64"),
        )
        .expect("json");
        assert_eq!(header, json!({"alg": "ES256", "kid": s.kid()}));

        // Claims rewritten to another ServiceAccount, signature kept.
        let mut forged = c.clone();
        forged.sub = "system:serviceaccount:ns:admin".into();
        let forged_body = b64(&serde_json::to_vec(&forged).expect("json"));
        let parts: Vec<&str> = t.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], forged_body, parts[2]);
        assert_eq!(s.verify(&tampered), Err(TokenError::Signature));

        let other = Signer::generate().expect("key");
        assert_eq!(other.verify(&t), Err(TokenError::Signature));
        assert!(matches!(s.verify("a.b"), Err(TokenError::Malformed(_))));
        let none_alg = format!("{}.{}.", b64(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(
            s.verify(&none_alg),
            Err(TokenError::Algorithm("none".into()))
        );
    }

    #[test]
    fn validates_issuer_time_and_audience() {
        let c = claims(1_000);
        let iss = c.iss.clone();
        assert_eq!(c.validate(&iss, &[], 1_001), Ok(c.aud.clone()));
        assert_eq!(c.validate(&iss, &[], 4_600), Err(TokenError::Expired));
        assert_eq!(c.validate(&iss, &[], 900), Err(TokenError::NotYetValid));
        assert!(matches!(
            c.validate("https://elsewhere", &[], 1_001),
            Err(TokenError::Issuer(_))
        ));
        assert!(matches!(
            c.validate(&iss, &["ledger".into()], 1_001),
            Err(TokenError::Audience(_))
        ));
    }

    #[test]
    fn jwks_holds_the_p256_point() {
        let s = Signer::generate().expect("key");
        let k = &s.jwks()["keys"][0];
        assert_eq!(k["kty"], "EC");
        assert_eq!(k["crv"], "P-256");
        for coord in ["x", "y"] {
            let raw = URL_SAFE_NO_PAD
                .decode(k[coord].as_str().expect("coordinate"))
                .expect("b64");
            assert_eq!(raw.len(), 32, "{coord}");
        }
    }
}
