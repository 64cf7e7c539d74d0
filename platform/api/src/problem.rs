//! Errors as RFC 9457 problem details (`application/problem+json`): a stable `type`, the
//! status, a `detail` in words and, for bad input, the `field` at fault. A problem never
//! carries a token, a key's secret or a signature.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tradewind_ledger::LedgerError;

/// The media type of a problem document.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// What kind of problem: `https://tradewind.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind, for people.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened and what to do, in words.
    pub detail: String,
    /// The request field at fault (a JSON path, a query parameter or a header), if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Why a request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No usable credentials (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known in the account but its role or scope does not allow this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such object for this caller: other accounts' objects are answered so too (404).
    #[error("{0}")]
    NotFound(String),
    /// No such method on this path (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A field that cannot be used (422), or a request that does not parse (400).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
        /// 400 (does not parse) or 422 (parses, refused).
        status: u16,
    },
    /// The object exists already or changed under the caller (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit (413).
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests: try again after this many seconds (429).
    #[error("too many requests from this {what}: retry after {retry_after} s")]
    RateLimited {
        /// `API key`, `user` or `client address`.
        what: &'static str,
        /// Seconds.
        retry_after: u64,
    },
    /// The ledger or the Kubernetes API cannot answer now (503).
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// A 422 naming the field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            reason: reason.into(),
            status: 422,
        }
    }

    /// A 400 naming the field (the request does not parse).
    pub fn malformed(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            reason: reason.into(),
            status: 400,
        }
    }

    /// The problem document.
    pub fn problem(&self) -> Problem {
        let (status, code, title) = match self {
            ApiError::Unauthenticated(_) => (401, "unauthenticated", "Unauthenticated"),
            ApiError::Forbidden(_) => (403, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (404, "not-found", "Not found"),
            ApiError::MethodNotAllowed(_) => (405, "method-not-allowed", "Method not allowed"),
            ApiError::Invalid { status: 400, .. } => (400, "malformed", "Malformed request"),
            ApiError::Invalid { .. } => (422, "invalid", "Invalid request"),
            ApiError::Conflict(_) => (409, "conflict", "Conflict"),
            ApiError::TooLarge(_) => (413, "too-large", "Request too large"),
            ApiError::UnsupportedMediaType(_) => {
                (415, "unsupported-media-type", "Unsupported media type")
            }
            ApiError::RateLimited { .. } => (429, "rate-limited", "Too many requests"),
            ApiError::Unavailable(_) => (503, "unavailable", "Unavailable"),
        };
        let (field, detail) = match self {
            ApiError::Invalid { field, reason, .. } => (Some(field.clone()), reason.clone()),
            other => (None, other.to_string()),
        };
        Problem {
            kind: format!("https://tradewind.dev/problems/{code}"),
            title: title.into(),
            status,
            detail,
            field,
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Invalid { field, reason } => ApiError::invalid(field, reason),
            LedgerError::UnknownAccount { account, context } => {
                ApiError::NotFound(format!("no account {account:?}{context}"))
            }
            // The database or its data: the operator reads the log, the caller retries.
            other => {
                tracing::error!(error = %other, "the ledger failed an API request");
                ApiError::Unavailable("the ledger cannot answer now; retry later".into())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        match &self {
            ApiError::Unauthenticated(_) => {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RateLimited { retry_after, .. } => {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        r
    }
}

/// The field a serde_json error names, as best it can be read from its message
/// (`unknown field `x``, `missing field `y``), else `body`.
pub fn json_field(e: &serde_json::Error) -> String {
    named_field(&e.to_string()).unwrap_or_else(|| "body".into())
}

/// The field a deserializer's message names (`unknown field `x``, `missing field `y``).
pub fn named_field(text: &str) -> Option<String> {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = text.split(marker).nth(1)
            && let Some(name) = rest.split('`').next()
        {
            return Some(name.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_names_the_field_and_the_reason() {
        let p = ApiError::invalid("scope", "\"god\" is not one of read, trade, admin").problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.field.as_deref(), Some("scope"));
        assert!(p.detail.contains("god"));
        assert_eq!(p.kind, "https://tradewind.dev/problems/invalid");
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            a: u8,
        }
        let e = serde_json::from_str::<T>(r#"{"a":1,"bogus":2}"#).unwrap_err();
        assert_eq!(json_field(&e), "bogus");
        let e = serde_json::from_str::<T>(r#"{}"#).unwrap_err();
        assert_eq!(json_field(&e), "a");
        let e = serde_json::from_str::<T>(r#"{"a":"x"}"#).unwrap_err();
        assert_eq!(json_field(&e), "body");
    }
}
