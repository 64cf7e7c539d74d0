//! The Deployment controller's condition reasons and the rule for its condition times
//! (`pkg/controller/deployment/util/deployment_util.go`); the status itself is computed
//! in [`super::workload`].

use serde_json::{Value, json};

/// Reason of `Available=True`.
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
/// Reason of `Available=False`.
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
/// Reason of `Progressing=True` once the new ReplicaSet is available.
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
/// Reason of `Progressing=True` while the rollout goes on.
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
/// Reason of `Progressing=False` when the rollout failed.
pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";

/// A Deployment condition of `kind`; `lastTransitionTime` moves only when its status
/// changes, `lastUpdateTime` when its reason or message changes.
pub fn condition(
    old: Option<&Vec<Value>>,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
) -> Value {
    let prev = old.and_then(|l| {
        l.iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    });
    let field = |k: &str| prev.and_then(|p| p.get(k)).and_then(Value::as_str);
    let same_status = field("status") == Some(status);
    let same_text =
        same_status && field("reason") == Some(reason) && field("message") == Some(message);
    let transition = match field("lastTransitionTime") {
        Some(t) if same_status => t,
        _ => now,
    };
    let update = match field("lastUpdateTime") {
        Some(t) if same_text => t,
        _ => now,
    };
    json!({"type": kind, "status": status, "lastUpdateTime": update,
           "lastTransitionTime": transition, "reason": reason, "message": message})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let first = condition(
            None,
            "Available",
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "m",
            "T1",
        );
        let old = vec![first];
        let same = condition(
            Some(&old),
            "Available",
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "m",
            "T2",
        );
        assert_eq!(same["lastTransitionTime"], "T1");
        assert_eq!(same["lastUpdateTime"], "T1");
        let reworded = condition(
            Some(&old),
            "Available",
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "n",
            "T2",
        );
        assert_eq!(reworded["lastTransitionTime"], "T1");
        assert_eq!(reworded["lastUpdateTime"], "T2");
        let flipped = condition(
            Some(&old),
            "Available",
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            "m",
            "T2",
        );
        assert_eq!(flipped["lastTransitionTime"], "T2");
    }
}
