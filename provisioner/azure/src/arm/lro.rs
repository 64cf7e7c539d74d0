//! Long-running operations, as decisions on what ARM said (pure; the client does the I/O).
//! Contract: learn.microsoft.com/azure/azure-resource-manager/management/async-operations.

use serde_json::Value;

use super::error::{ErrorDetail, ErrorEnvelope};

/// Where to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollTarget {
    /// The `Azure-AsyncOperation` status monitor (preferred when present).
    AsyncOperation(String),
    /// The `Location` URL: 202 while running, then 200 (resource) or 204.
    Location(String),
    /// No header, but a non-terminal provisioningState: re-read the resource.
    Resource,
}

/// What the first response of a write means.
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    /// Done; carries the final body for PUT/PATCH when ARM sent one.
    Done,
    /// Running; poll here.
    Poll(PollTarget),
    /// Already failed (provisioningState Failed/Canceled in the response).
    Failed(String, ErrorDetail),
}

/// The state of an operation as one poll reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum PollState {
    /// Still going; the state name if known.
    Running(String),
    /// Finished well.
    Succeeded,
    /// Finished badly: `Failed`/`Canceled` and ARM's error.
    Failed(String, ErrorDetail),
}

fn is_terminal(state: &str) -> bool {
    ["succeeded", "failed", "canceled"].contains(&state.to_ascii_lowercase().as_str())
}

/// The resource's `properties.provisioningState`, if any.
pub fn provisioning_state(body: &Value) -> Option<&str> {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

fn failed(state: &str, body: &Value) -> PollState {
    let error = body
        .get("error")
        .and_then(|e| serde_json::from_value::<ErrorDetail>(e.clone()).ok())
        .unwrap_or_else(|| ErrorDetail {
            code: state.to_string(),
            message: "the operation ended without an error body".into(),
            ..Default::default()
        });
    PollState::Failed(state.to_string(), error)
}

/// Classifies the first response (status 200/201/202/204) of a PUT, PATCH or DELETE.
pub fn started(
    status: u16,
    async_operation: Option<&str>,
    location: Option<&str>,
    body: Option<&Value>,
) -> Started {
    let header_target = async_operation
        .map(|u| PollTarget::AsyncOperation(u.to_string()))
        .or_else(|| location.map(|u| PollTarget::Location(u.to_string())));
    let state = body.and_then(provisioning_state);
    match state {
        Some(s) if s.eq_ignore_ascii_case("failed") || s.eq_ignore_ascii_case("canceled") => {
            let PollState::Failed(s, e) = failed(s, body.unwrap_or(&Value::Null)) else {
                unreachable!()
            };
            return Started::Failed(s, e);
        }
        Some(s) if !is_terminal(s) => {
            return Started::Poll(header_target.unwrap_or(PollTarget::Resource));
        }
        _ => {}
    }
    match (status, header_target) {
        // 202 is always "accepted, still running"; 201 with a monitor header is too.
        (202, Some(t)) => Started::Poll(t),
        (202, None) => Started::Poll(PollTarget::Resource),
        (201, Some(t @ PollTarget::AsyncOperation(_))) if state.is_none() => Started::Poll(t),
        _ => Started::Done,
    }
}

/// Reads an Azure-AsyncOperation status body: `{"status": ..., "error": {...}}`.
pub fn async_operation_state(body: &Value) -> PollState {
    let status = body.get("status").and_then(Value::as_str).unwrap_or("");
    if status.eq_ignore_ascii_case("succeeded") {
        PollState::Succeeded
    } else if status.eq_ignore_ascii_case("failed") || status.eq_ignore_ascii_case("canceled") {
        failed(status, body)
    } else {
        PollState::Running(if status.is_empty() { "Unknown" } else { status }.to_string())
    }
}

/// Reads a Location poll: 202 running, 200/201/204 done, anything else an error.
pub fn location_state(status: u16, body: Option<&Value>) -> PollState {
    match status {
        202 => PollState::Running("Accepted".into()),
        200 | 201 | 204 => match body.and_then(provisioning_state) {
            Some(s) if s.eq_ignore_ascii_case("failed") || s.eq_ignore_ascii_case("canceled") => {
                failed(s, body.unwrap_or(&Value::Null))
            }
            _ => PollState::Succeeded,
        },
        other => {
            let error = body
                .and_then(|b| serde_json::from_value::<ErrorEnvelope>(b.clone()).ok())
                .and_then(|e| e.error)
                .unwrap_or_else(|| ErrorDetail {
                    code: format!("HTTP{other}"),
                    message: "polling the operation failed".into(),
                    ..Default::default()
                });
            PollState::Failed("Failed".into(), error)
        }
    }
}

/// Reads a resource re-read during polling.
pub fn resource_state(body: &Value) -> PollState {
    match provisioning_state(body) {
        None => PollState::Succeeded,
        Some(s) if s.eq_ignore_ascii_case("succeeded") => PollState::Succeeded,
        Some(s) if is_terminal(s) => failed(s, body),
        Some(s) => PollState::Running(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_response_classification() {
        let creating = json!({"properties": {"provisioningState": "Creating"}});
        let done = json!({"properties": {"provisioningState": "Succeeded"}});
        assert_eq!(
            started(
                201,
                Some("https://m/op"),
                Some("https://m/loc"),
                Some(&creating)
            ),
            Started::Poll(PollTarget::AsyncOperation("https://m/op".into()))
        );
        assert_eq!(
            started(200, None, None, Some(&creating)),
            Started::Poll(PollTarget::Resource)
        );
        assert_eq!(started(200, None, None, Some(&done)), Started::Done);
        // A body without provisioningState means finished (the async-operations doc).
        assert_eq!(started(200, None, None, Some(&json!({}))), Started::Done);
        assert_eq!(
            started(202, None, Some("https://m/loc"), None),
            Started::Poll(PollTarget::Location("https://m/loc".into()))
        );
        assert_eq!(started(204, None, None, None), Started::Done);
        let f = json!({"properties": {"provisioningState": "Failed"}});
        assert!(
            matches!(started(200, None, None, Some(&f)), Started::Failed(s, _) if s == "Failed")
        );
    }

    #[test]
    fn polls() {
        assert_eq!(
            async_operation_state(&json!({"status": "InProgress"})),
            PollState::Running("InProgress".into())
        );
        assert_eq!(
            async_operation_state(&json!({"status": "Succeeded"})),
            PollState::Succeeded
        );
        let PollState::Failed(state, error) = async_operation_state(
            &json!({"status": "Failed", "error": {"code": "QuotaExceeded", "message": "no cores"}}),
        ) else {
            panic!("expected failure")
        };
        assert_eq!(
            (state.as_str(), error.summary().as_str()),
            ("Failed", "QuotaExceeded: no cores")
        );
        assert_eq!(
            location_state(202, None),
            PollState::Running("Accepted".into())
        );
        assert_eq!(location_state(204, None), PollState::Succeeded);
        assert!(matches!(location_state(500, None), PollState::Failed(..)));
        assert_eq!(
            resource_state(&json!({"properties": {"provisioningState": "Updating"}})),
            PollState::Running("Updating".into())
        );
    }
}
