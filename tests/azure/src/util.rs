//! Small helpers: replies, ARM error bodies, identifiers and clocks.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use ring::rand::SecureRandom as _;
use serde_json::{Value, json};

/// A reply before it becomes a hyper response (easy to build from sync handlers).
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    pub fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec(v).unwrap_or_default(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut b = Response::builder().status(self.status);
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Full::new(Bytes::from(self.body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }
}

/// An ARM error body (`{"error":{"code","message"}}`) with a status.
pub(crate) fn arm_error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": code, "message": message.into()}}),
    )
}

/// A stable UUID derived from `seed` (SHA-256, formatted as a version-5-style UUID), so
/// server-computed ids do not change between a PUT and a later GET.
pub(crate) fn uuid_from(seed: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    format_uuid(b)
}

/// A random UUID (version 4).
pub(crate) fn random_uuid() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    format_uuid(b)
}

fn format_uuid(mut b: [u8; 16]) -> String {
    if b[6] >> 4 != 4 {
        b[6] = (b[6] & 0x0f) | 0x50;
    }
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `n` random bytes as lower-case hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    fill_random(&mut b);
    hex(&b)
}

fn fill_random(b: &mut [u8]) {
    // SystemRandom only fails if the OS has no entropy source; fall back to the clock.
    if ring::rand::SystemRandom::new().fill(b).is_err() {
        let seed = format!("{:?}", std::time::SystemTime::now());
        let d = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
        for (i, x) in b.iter_mut().enumerate() {
            *x = d.as_ref()[i % 32];
        }
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Now as RFC 3339 (UTC).
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// Now as Unix seconds (Key Vault's attribute format).
pub(crate) fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Now as an RFC 1123 date (Service Bus `EnqueuedTimeUtc`).
pub(crate) fn now_rfc1123() -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&jiff::Timestamp::now())
        .unwrap_or_default()
}

/// Decoded query pairs.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of a query parameter (name compared case-insensitively).
pub(crate) fn query_get(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// Lower-case, no spaces: how ARM compares locations ("West US" == "westus").
pub(crate) fn norm_location(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Base64url without padding (RFC 4648 §5), as in JWTs.
pub(crate) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648_vectors_without_padding() {
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64url(plain.as_bytes()), encoded);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn derived_uuids_are_stable_and_well_formed() {
        let a = uuid_from("x");
        assert_eq!(a, uuid_from("x"));
        assert_ne!(a, uuid_from("y"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert_eq!(&random_uuid()[14..15], "4");
    }

    #[test]
    fn merge_patch_removes_nulls_and_merges_objects() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}}));
    }

    #[test]
    fn locations_compare_like_arm() {
        assert_eq!(norm_location("West US"), "westus");
    }
}
