//! The Microsoft identity platform v2 token endpoint (client credentials only).

use serde_json::json;

use crate::state::{Audience, State, TokenInfo};
use crate::util::{Reply, base64url, random_hex};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn entra_error(status: u16, error: &str, code: u32, description: &str) -> Reply {
    let trace = crate::util::random_uuid();
    let corr = crate::util::random_uuid();
    Reply::json(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {corr} Timestamp: {}", crate::util::now_rfc3339()),
            "error_codes": [code],
            "timestamp": crate::util::now_rfc3339(),
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": "https://login.localhost/error?code=".to_owned() + &code.to_string(),
        }),
    )
}

/// Which service an audience (`scope` minus `/.default`) names.
pub(crate) fn audience(aud: &str) -> Audience {
    let host = aud
        .split("://")
        .nth(1)
        .unwrap_or(aud)
        .split(['/', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match host.as_str() {
        "management.localhost" | "management.azure.com" | "management.core.windows.net" => {
            Audience::Management
        }
        "vault.localhost" | "vault.azure.net" => Audience::Vault,
        "servicebus.localhost" | "servicebus.azure.net" => Audience::ServiceBus,
        _ => Audience::Other,
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn handle(st: &mut State, method: &str, path: &str, body: &[u8]) -> Reply {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if method != "POST" || segs.len() != 4 || segs[1..] != ["oauth2", "v2.0", "token"] {
        return Reply::json(
            404,
            &json!({"error": "not_found", "error_description": "Only POST /{tenant}/oauth2/v2.0/token is served."}),
        );
    }
    let tenant = segs[0];
    let form: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    if get("grant_type") != "client_credentials" {
        return entra_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let scope = get("scope");
    let Some(first_scope) = scope.split_whitespace().next() else {
        return entra_error(
            400,
            "invalid_request",
            90014,
            "The required field 'scope' is missing from the credential.",
        );
    };
    let client_id = get("client_id");
    if !st
        .config
        .clients
        .iter()
        .any(|c| c.tenant.eq_ignore_ascii_case(tenant))
    {
        return entra_error(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let Some(client) = st
        .config
        .clients
        .iter()
        .find(|c| c.tenant.eq_ignore_ascii_case(tenant) && c.client_id == client_id)
        .cloned()
    else {
        return entra_error(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    let assertion = get("client_assertion");
    if !assertion.is_empty() {
        let jwt_shaped = assertion.split('.').count() == 3
            && assertion.split('.').all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
            });
        if get("client_assertion_type") != ASSERTION_TYPE || !jwt_shaped {
            return entra_error(
                400,
                "invalid_client",
                50027,
                "JWT token is invalid or malformed.",
            );
        }
    } else if get("client_secret") != client.secret {
        return entra_error(
            401,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        );
    }
    let aud = first_scope
        .trim_end_matches("/.default")
        .trim_end_matches('/');
    // Shaped like Entra's v1 access tokens (services such as Azurite decode the claims
    // without checking the signature); the fake itself knows its tokens by value.
    let now = jiff::Timestamp::now().as_second();
    let claims = json!({
        "aud": aud,
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now,
        "nbf": now - 60,
        "exp": now + 3599,
        "tid": tenant,
        "appid": client.client_id,
        "oid": client.client_id,
        "ver": "1.0",
    });
    let token = format!(
        "{}.{}.{}",
        base64url(br#"{"alg":"RS256","typ":"JWT"}"#),
        base64url(claims.to_string().as_bytes()),
        random_hex(32)
    );
    st.tokens.insert(
        token.clone(),
        TokenInfo {
            audience: audience(aud),
            aud: aud.to_string(),
        },
    );
    tracing::debug!(client_id = %client.client_id, audience = %aud, "token issued");
    Reply::json(
        200,
        &json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_are_recognised_by_host() {
        assert_eq!(
            audience("https://management.localhost:4443"),
            Audience::Management
        );
        assert_eq!(
            audience("https://management.azure.com"),
            Audience::Management
        );
        assert_eq!(audience("https://vault.localhost"), Audience::Vault);
        assert_eq!(
            audience("https://servicebus.azure.net"),
            Audience::ServiceBus
        );
        assert_eq!(audience("https://storage.azure.com"), Audience::Other);
    }
}
