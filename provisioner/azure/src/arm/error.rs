//! ARM errors, typed: what failed (operation and resource) and why (ARM's code and message).

use serde::Deserialize;

/// The body ARM sends with a failure: `{"error": {...}}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ErrorEnvelope {
    /// The error.
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

/// ARM's ErrorDetail (common-types v5): every field is optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `ResourceGroupNotFound`.
    #[serde(default)]
    pub code: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// The element in error, if the service names one.
    #[serde(default)]
    pub target: Option<String>,
    /// Nested causes.
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

impl ErrorDetail {
    /// `code: message`, with target and nested details appended.
    pub fn summary(&self) -> String {
        let mut s = match (&self.code, &self.message) {
            (c, m) if c.is_empty() => m.clone(),
            (c, m) if m.is_empty() => c.clone(),
            (c, m) => format!("{c}: {m}"),
        };
        if let Some(t) = self.target.as_deref().filter(|t| !t.is_empty()) {
            s.push_str(&format!(" (target {t})"));
        }
        if !self.details.is_empty() {
            let inner: Vec<String> = self.details.iter().map(ErrorDetail::summary).collect();
            s.push_str(&format!(" [{}]", inner.join("; ")));
        }
        s
    }
}

/// Parses an ARM error body; falls back to the HTTP status when the body is not one.
pub fn parse_error_body(status: u16, body: &[u8]) -> ErrorDetail {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(ErrorEnvelope { error: Some(e) }) if !(e.code.is_empty() && e.message.is_empty()) => e,
        _ => ErrorDetail {
            code: format!("HTTP{status}"),
            message: String::from_utf8_lossy(body).chars().take(300).collect(),
            ..Default::default()
        },
    }
}

/// An azure_core error with its causes, outermost first: azure_core wraps the useful part
/// (e.g. Entra's AADSTS message) in a generic context. None of them carries a token or a
/// client secret; Entra's error bodies do not echo them.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A failed Resource Manager call.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// ARM answered with an error status.
    #[error("{method} {id}: HTTP {status}: {}", .error.summary())]
    Api {
        /// HTTP method.
        method: &'static str,
        /// Resource the call was about.
        id: String,
        /// HTTP status.
        status: u16,
        /// ARM's error.
        error: Box<ErrorDetail>,
    },
    /// A long-running operation ended Failed or Canceled.
    #[error("{method} {id}: operation {state}: {}", .error.summary())]
    OperationFailed {
        /// HTTP method that started it.
        method: &'static str,
        /// Resource.
        id: String,
        /// `Failed` or `Canceled`.
        state: String,
        /// ARM's error.
        error: Box<ErrorDetail>,
    },
    /// A long-running operation did not finish in time.
    #[error("{method} {id}: operation still {state} after {seconds} s (timeout)")]
    Timeout {
        /// HTTP method.
        method: &'static str,
        /// Resource.
        id: String,
        /// Last state seen.
        state: String,
        /// The timeout.
        seconds: u64,
    },
    /// The request never got an HTTP answer (connection, TLS, token acquisition).
    #[error("{method} {id}: {message}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Resource.
        id: String,
        /// Cause (azure_core's message; tokens are never part of it).
        message: String,
    },
    /// The response could not be understood.
    #[error("{method} {id}: unexpected response: {message}")]
    Decode {
        /// HTTP method.
        method: &'static str,
        /// Resource.
        id: String,
        /// What was wrong.
        message: String,
    },
    /// We have no api-version pinned for this resource type.
    #[error("{id}: no api-version is pinned for resource type {resource_type}")]
    UnknownType {
        /// Resource.
        id: String,
        /// Its type.
        resource_type: String,
    },
}

impl ArmError {
    /// ARM's error code, when ARM gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { error, .. } | Self::OperationFailed { error, .. } => Some(&error.code),
            _ => None,
        }
    }

    /// HTTP status, when there was a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_error_bodies_become_readable_errors() {
        let body = br#"{"error":{"code":"InvalidTemplate","message":"Bad","target":"properties.x",
            "details":[{"code":"Inner","message":"why"}],"additionalInfo":[{"type":"t","info":{}}]}}"#;
        let e = ArmError::Api {
            method: "PUT",
            id: "/subscriptions/s/resourceGroups/g".into(),
            status: 400,
            error: Box::new(parse_error_body(400, body)),
        };
        assert_eq!(
            e.to_string(),
            "PUT /subscriptions/s/resourceGroups/g: HTTP 400: InvalidTemplate: Bad (target properties.x) [Inner: why]"
        );
        assert_eq!(e.code(), Some("InvalidTemplate"));
        let plain = parse_error_body(502, b"<html>bad gateway</html>");
        assert_eq!(plain.summary(), "HTTP502: <html>bad gateway</html>");
    }
}
