//! Binance `SIGNED` request signatures: lowercase hex HMAC-SHA256 of `totalParams`
//! (the query string concatenated with the request body, without the `signature` pair).

use ring::hmac;

/// Lowercase hex HMAC-SHA256 of `payload` keyed with `secret`, as Binance signs.
pub fn sign(secret: &str, payload: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, payload.as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `true` when `signature` (hex, any case) is the HMAC-SHA256 of `payload` under `secret`.
/// Constant-time comparison.
pub fn verify(secret: &str, payload: &str, signature: &str) -> bool {
    let Some(bytes) = decode_hex(signature) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, payload.as_bytes(), &bytes).is_ok()
}

/// Removes every `signature=...` pair from a raw `a=1&b=2` string, keeping the rest
/// byte for byte, and returns `(rest, signature)`.
pub fn split_signature(raw: &str) -> (String, Option<String>) {
    let mut sig = None;
    let rest: Vec<&str> = raw
        .split('&')
        .filter(|p| match p.strip_prefix("signature=") {
            Some(s) => {
                sig = Some(s.to_owned());
                false
            }
            None => true,
        })
        .collect();
    (rest.join("&"), sig)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // https://github.com/binance/binance-spot-api-docs/blob/master/rest-api.md
    // "SIGNED Endpoint Examples for POST /api/v3/order" (also fixtures/signed-examples.json).
    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn documented_vectors() {
        let q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign(SECRET, q),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        // Example 3: query and body concatenated with no '&'.
        let mixed = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            sign(SECRET, mixed),
            "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
        );
        assert!(verify(
            SECRET,
            q,
            "C8DB56825AE71D6D79447849E617115F4A920FA2ACDCAB2B053C4B2838BD6B71"
        ));
        assert!(!verify(SECRET, q, "00"));
        assert!(!verify(SECRET, q, "zz"));
    }

    #[test]
    fn splits_signature_out() {
        let (rest, sig) = split_signature("a=1&signature=abc&b=2");
        assert_eq!(rest, "a=1&b=2");
        assert_eq!(sig.as_deref(), Some("abc"));
        assert_eq!(split_signature("").0, "");
    }
}
