//! Request signing for Binance `SIGNED` (TRADE / USER_DATA) endpoints: a lowercase hex
//! HMAC-SHA256 of the exact `totalParams` string (query string followed by body), keyed
//! with the API secret.

use std::fmt;

use ring::hmac;

/// An API key and its secret. `Debug` shows neither; the secret is only read to sign.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Sent as the `X-MBX-APIKEY` header.
    pub api_key: String,
    /// HMAC key; never sent, logged or displayed.
    pub api_secret: String,
}

impl Credentials {
    /// Bundle a key and its secret.
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            api_secret: api_secret.into(),
        }
    }

    /// The API key shortened for logs and errors (first 4 characters), e.g. `vmPU…`.
    pub fn key_hint(&self) -> String {
        redact(&self.api_key)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.key_hint())
            .field("api_secret", &"<redacted>")
            .finish()
    }
}

/// Lowercase hex HMAC-SHA256 of `payload` keyed with `secret`.
pub fn sign(secret: &str, payload: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, payload.as_bytes());
    let mut out = String::with_capacity(64);
    for b in tag.as_ref() {
        use fmt::Write;
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The first four characters of a secret-ish value followed by `…`: enough to tell two
/// keys (or listenKeys) apart in a log, not enough to use one.
pub fn redact(value: &str) -> String {
    let head: String = value.chars().take(4).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    // From Binance's REST API documentation, "SIGNED Endpoint Examples for POST /api/v3/order"
    // (https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md).
    const DOC_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const DOC_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn documented_query_string_example() {
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1\
                     &recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign(DOC_SECRET, query),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn documented_mixed_query_and_body_example() {
        // Example 3: query string and body concatenated with no `&` between them.
        let total = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC\
                     quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign(DOC_SECRET, total),
            "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
        );
    }

    #[test]
    fn debug_hides_key_and_secret() {
        let c = Credentials::new(DOC_KEY, DOC_SECRET);
        let shown = format!("{c:?}");
        assert!(!shown.contains(DOC_SECRET), "{shown}");
        assert!(!shown.contains(DOC_KEY), "{shown}");
        assert!(shown.contains("vmPU…"), "{shown}");
    }
}
