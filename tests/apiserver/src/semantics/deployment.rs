//! The status a Deployment controller would write, for the simulator: counters and the
//! `Available` and `Progressing` conditions with the real reasons and messages
//! (`pkg/controller/deployment/util/deployment_util.go`).

use serde_json::{Map, Value, json};

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

/// The status of `deployment` once its pods are `ready` (or not yet), or after its
/// rollout `failed` (pods never ready, progress deadline exceeded); `now` is the RFC
/// 3339 time of this reconcile.
///
/// - `observedGeneration` = `metadata.generation`; `replicas` = `updatedReplicas` =
///   `spec.replicas` (default 1); `readyReplicas` = `availableReplicas` = replicas when
///   ready and not failed, else 0, with `unavailableReplicas` for the rest. Counters
///   that are 0 are omitted, as the real API serializes them (`omitempty`): read a
///   missing counter as 0.
/// - `Available` is True when available pods reach `replicas - maxUnavailable`
///   (`spec.strategy.rollingUpdate.maxUnavailable`, default 25% rounded down; 0 for
///   `Recreate`), so always with 0 replicas.
/// - `Progressing` is True/`NewReplicaSetAvailable` when ready, True/`ReplicaSetUpdated`
///   while waiting, False/`ProgressDeadlineExceeded` when failed.
/// - A condition's `lastTransitionTime` moves only when its status changes;
///   `lastUpdateTime` moves when its reason or message changes.
pub fn simulate_status(deployment: &Value, ready: bool, failed: bool, now: &str) -> Value {
    let name = deployment
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let replicas = deployment
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0);
    let available = if ready && !failed { replicas } else { 0 };
    let min_available = replicas - max_unavailable(deployment, replicas);
    let rs = format!(
        "{name}-{}",
        template_hash(deployment.pointer("/spec/template"))
    );

    let mut status = Map::new();
    if let Some(g) = deployment
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
    {
        status.insert("observedGeneration".into(), json!(g));
    }
    let mut counter = |k: &str, v: i64| {
        if v != 0 {
            status.insert(k.into(), json!(v));
        }
    };
    counter("replicas", replicas);
    counter("updatedReplicas", replicas);
    counter("readyReplicas", available);
    counter("availableReplicas", available);
    counter("unavailableReplicas", replicas - available);

    let (a_status, a_reason, a_msg) = if available >= min_available {
        (
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
        )
    };
    let (p_status, p_reason, p_msg) = if failed {
        (
            "False",
            PROGRESS_DEADLINE_EXCEEDED,
            format!("ReplicaSet \"{rs}\" has timed out progressing."),
        )
    } else if available == replicas {
        (
            "True",
            NEW_RS_AVAILABLE,
            format!("ReplicaSet \"{rs}\" has successfully progressed."),
        )
    } else {
        (
            "True",
            RS_UPDATED,
            format!("ReplicaSet \"{rs}\" is progressing."),
        )
    };
    let old = deployment
        .pointer("/status/conditions")
        .and_then(Value::as_array);
    let conditions = vec![
        condition(old, "Available", a_status, a_reason, a_msg, now),
        condition(old, "Progressing", p_status, p_reason, &p_msg, now),
    ];
    status.insert("conditions".into(), Value::Array(conditions));
    Value::Object(status)
}

fn condition(
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

/// `maxUnavailable` resolved against `replicas` (percentages round down, as the real
/// controller does for maxUnavailable).
fn max_unavailable(deployment: &Value, replicas: i64) -> i64 {
    let strategy = deployment.pointer("/spec/strategy");
    if strategy.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("Recreate") {
        return 0;
    }
    let raw = strategy.and_then(|s| s.pointer("/rollingUpdate/maxUnavailable"));
    let value = match raw {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => percent_of(s, replicas).unwrap_or(0),
        _ => replicas / 4,
    };
    value.clamp(0, replicas)
}

fn percent_of(s: &str, replicas: i64) -> Option<i64> {
    let p: i64 = s.strip_suffix('%')?.trim().parse().ok()?;
    Some(replicas.saturating_mul(p) / 100)
}

/// A stable `pod-template-hash`-like suffix (FNV-1a of the template, in the
/// alphabet of the real one), so the ReplicaSet name in messages is stable.
fn template_hash(template: Option<&Value>) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let text = template.map(Value::to_string).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::new();
    for _ in 0..10 {
        out.push(char::from(ALPHABET[(h % 27) as usize]));
        h /= 27;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "2026-01-01T00:00:00Z";
    const T2: &str = "2026-01-01T00:05:00Z";

    fn dep(replicas: Option<i64>) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "generation": 2},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        if let Some(r) = replicas {
            d["spec"]["replicas"] = json!(r);
        }
        d
    }

    fn cond<'a>(status: &'a Value, kind: &str) -> &'a Value {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == kind)
            .unwrap()
    }

    #[test]
    fn ready_deployment() {
        let s = simulate_status(&dep(Some(3)), true, false, T1);
        assert_eq!(s["observedGeneration"], 2);
        for k in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            assert_eq!(s[k], 3, "{k}");
        }
        assert!(s.get("unavailableReplicas").is_none());
        let a = cond(&s, "Available");
        assert_eq!(
            (a["status"].as_str(), a["reason"].as_str()),
            (Some("True"), Some("MinimumReplicasAvailable"))
        );
        assert_eq!(a["message"], "Deployment has minimum availability.");
        let p = cond(&s, "Progressing");
        assert_eq!(
            (p["status"].as_str(), p["reason"].as_str()),
            (Some("True"), Some("NewReplicaSetAvailable"))
        );
        assert!(
            p["message"]
                .as_str()
                .unwrap()
                .starts_with("ReplicaSet \"web-")
        );
        assert!(
            p["message"]
                .as_str()
                .unwrap()
                .ends_with("\" has successfully progressed.")
        );
    }

    #[test]
    fn default_replicas_is_one_and_not_ready() {
        let s = simulate_status(&dep(None), false, false, T1);
        assert_eq!(s["replicas"], 1);
        assert!(s.get("readyReplicas").is_none());
        assert!(s.get("availableReplicas").is_none());
        assert_eq!(s["unavailableReplicas"], 1);
        assert_eq!(
            cond(&s, "Available")["reason"],
            "MinimumReplicasUnavailable"
        );
        assert_eq!(cond(&s, "Available")["status"], "False");
        assert_eq!(cond(&s, "Progressing")["reason"], "ReplicaSetUpdated");
    }

    #[test]
    fn zero_replicas_is_available_with_no_counters() {
        let s = simulate_status(&dep(Some(0)), false, false, T1);
        assert!(s.get("availableReplicas").is_none());
        assert!(s.get("replicas").is_none());
        assert_eq!(cond(&s, "Available")["status"], "True");
        assert_eq!(cond(&s, "Progressing")["reason"], "NewReplicaSetAvailable");
    }

    #[test]
    fn failed_rollout() {
        let s = simulate_status(&dep(Some(2)), true, true, T1);
        assert!(s.get("readyReplicas").is_none());
        let p = cond(&s, "Progressing");
        assert_eq!(
            (p["status"].as_str(), p["reason"].as_str()),
            (Some("False"), Some("ProgressDeadlineExceeded"))
        );
        assert!(
            p["message"]
                .as_str()
                .unwrap()
                .ends_with("has timed out progressing.")
        );
        assert_eq!(cond(&s, "Available")["status"], "False");
    }

    #[test]
    fn max_unavailable_allows_availability_without_ready_pods() {
        let mut d = dep(Some(4));
        d["spec"]["strategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}});
        assert_eq!(
            cond(&simulate_status(&d, false, false, T1), "Available")["status"],
            "True"
        );
        d["spec"]["strategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}});
        assert_eq!(
            cond(&simulate_status(&d, false, false, T1), "Available")["status"],
            "False"
        );
        d["spec"]["strategy"] = json!({"type": "Recreate"});
        assert_eq!(max_unavailable(&d, 4), 0);
        assert_eq!(
            max_unavailable(&dep(Some(4)), 4),
            1,
            "25% of 4 rounded down"
        );
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let mut d = dep(Some(1));
        d["status"] = simulate_status(&d, false, false, T1);
        // Still not ready later: nothing moves.
        let same = simulate_status(&d, false, false, T2);
        assert_eq!(cond(&same, "Available")["lastTransitionTime"], T1);
        assert_eq!(cond(&same, "Progressing")["lastUpdateTime"], T1);
        // Ready: Available flips (transition moves); Progressing stays True but its
        // reason changes (update time moves, transition time does not).
        let ready = simulate_status(&d, true, false, T2);
        assert_eq!(cond(&ready, "Available")["lastTransitionTime"], T2);
        assert_eq!(cond(&ready, "Progressing")["lastTransitionTime"], T1);
        assert_eq!(cond(&ready, "Progressing")["lastUpdateTime"], T2);
    }

    #[test]
    fn hash_is_stable_and_template_dependent() {
        let a = template_hash(Some(&json!({"a": 1})));
        assert_eq!(a, template_hash(Some(&json!({"a": 1}))));
        assert_ne!(a, template_hash(Some(&json!({"a": 2}))));
        assert_eq!(a.len(), 10);
    }

    #[test]
    fn garbage_input_does_not_panic() {
        let s = simulate_status(&json!("nonsense"), true, false, T1);
        assert_eq!(s["replicas"], 1);
        let s = simulate_status(&json!({"spec": {"replicas": -5}}), true, false, T1);
        assert!(s.get("replicas").is_none());
    }
}
