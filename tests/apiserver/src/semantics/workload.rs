//! Decisions of the workload controllers and the kubelet, after the real ones
//! (`pkg/controller/deployment`, `pkg/controller/replicaset`, `pkg/kubelet/status`):
//! how far a rollout scales each ReplicaSet, the status a ReplicaSet and a Deployment
//! report from their pods, a pod's phase and conditions from its containers, and the
//! STATUS column `kubectl get pods` prints. Pure: the server feeds in objects and times.

use serde_json::{Map, Value, json};

use super::deployment::condition;

/// Annotation holding a Deployment's (and its ReplicaSets') revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Label the Deployment controller adds to a ReplicaSet and its pods.
pub const HASH_LABEL: &str = "pod-template-hash";

fn int(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

/// `spec.replicas`, default 1, never negative.
pub fn desired_replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0)
}

/// The `pod-template-hash` of a Deployment's pod template (the label itself left out, so
/// a template copied back from a ReplicaSet by `kubectl rollout undo` hashes the same).
pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut t = template.clone();
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove(HASH_LABEL);
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical(&t).to_string().bytes() {
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

/// A template without nulls and empty objects or lists, which Go clients write where
/// others write nothing (`creationTimestamp: null`, `resources: {}`): the same
/// template hashes the same however it was sent.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), canonical(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// An int-or-percent field resolved against `total` (`round_up` for maxSurge).
fn int_or_percent(v: Option<&Value>, total: i64, round_up: bool, default_pct: i64) -> i64 {
    let pct = |p: i64| {
        let n = total.saturating_mul(p);
        if round_up { (n + 99) / 100 } else { n / 100 }
    };
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.trim().parse().ok())
            .map_or(0, pct),
        _ => pct(default_pct),
    }
    .max(0)
}

/// `(maxSurge, maxUnavailable)` of a RollingUpdate Deployment for `replicas` (25% each
/// by default, surge rounded up, unavailable down). Both 0 means 1 unavailable, as the
/// real controller resolves it.
pub fn surge_and_unavailable(deployment: &Value, replicas: i64) -> (i64, i64) {
    let ru = deployment.pointer("/spec/strategy/rollingUpdate");
    let surge = int_or_percent(ru.and_then(|r| r.get("maxSurge")), replicas, true, 25);
    let unavailable = int_or_percent(
        ru.and_then(|r| r.get("maxUnavailable")),
        replicas,
        false,
        25,
    )
    .min(replicas);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// Whether a Deployment uses the Recreate strategy.
pub fn is_recreate(deployment: &Value) -> bool {
    deployment
        .pointer("/spec/strategy/type")
        .and_then(Value::as_str)
        == Some("Recreate")
}

/// What the controllers know of one ReplicaSet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RsView {
    /// Name.
    pub name: String,
    /// `spec.replicas`.
    pub replicas: i64,
    /// Pods that exist (`status.replicas`).
    pub pods: i64,
    /// Ready pods.
    pub ready: i64,
    /// Available pods (ready; `minReadySeconds` is not modelled).
    pub available: i64,
}

impl RsView {
    /// The view of a stored ReplicaSet.
    pub fn of(rs: &Value) -> Self {
        Self {
            name: rs
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            replicas: desired_replicas(rs),
            pods: int(rs, "/status/replicas"),
            ready: int(rs, "/status/readyReplicas"),
            available: int(rs, "/status/availableReplicas"),
        }
    }
}

/// The `spec.replicas` each ReplicaSet should have now, for one step of a rollout
/// (`new` is the ReplicaSet of the current template, `old` the others): only the ones
/// that change are returned.
///
/// - Recreate: old ReplicaSets go to 0; the new one scales up once no old pod is left.
/// - RollingUpdate: the new one grows while all ReplicaSets together stay within
///   `replicas + maxSurge`; old ones shrink first by their unavailable pods, then as far
///   as `replicas - maxUnavailable` available pods allow.
pub fn plan_rollout(deployment: &Value, new: &RsView, old: &[RsView]) -> Vec<(String, i64)> {
    let desired = desired_replicas(deployment);
    let mut out = Vec::new();
    if is_recreate(deployment) {
        for o in old.iter().filter(|o| o.replicas > 0) {
            out.push((o.name.clone(), 0));
        }
        if out.is_empty() && old.iter().all(|o| o.pods == 0) && new.replicas != desired {
            out.push((new.name.clone(), desired));
        }
        return out;
    }
    let (surge, unavailable) = surge_and_unavailable(deployment, desired);
    let old_total: i64 = old.iter().map(|o| o.replicas).sum();
    let mut new_replicas = new.replicas;
    if new_replicas > desired {
        new_replicas = desired;
    } else if new_replicas < desired {
        let room = desired + surge - old_total - new_replicas;
        if room > 0 {
            new_replicas = desired.min(new_replicas + room);
        }
    }
    if new_replicas != new.replicas {
        out.push((new.name.clone(), new_replicas));
    }
    let min_available = desired - unavailable;
    let all_total = old_total + new.replicas;
    let new_unavailable = (new.replicas - new.available).max(0);
    let mut cleanup = (all_total - min_available - new_unavailable).max(0);
    let mut available: i64 = new.available + old.iter().map(|o| o.available).sum::<i64>();
    for o in old.iter().filter(|o| o.replicas > 0) {
        let mut target = o.replicas;
        let unhealthy = (o.replicas - o.available).max(0).min(cleanup);
        target -= unhealthy;
        cleanup -= unhealthy;
        let healthy = (available - min_available).clamp(0, target);
        target -= healthy;
        available -= healthy;
        if target != o.replicas {
            out.push((o.name.clone(), target));
        }
    }
    out
}

/// Whether a Deployment's rollout is complete (what `kubectl rollout status` waits for).
pub fn rollout_complete(desired: i64, new: Option<&RsView>, all: &[RsView]) -> bool {
    let updated = new.map_or(0, |n| n.pods);
    let total: i64 = all.iter().map(|r| r.pods).sum();
    let available: i64 = all.iter().map(|r| r.available).sum();
    updated == desired && total == updated && available >= updated
}

/// The status of a Deployment from its ReplicaSets: counters (0 omitted, as the API
/// serializes them), `observedGeneration` and the `Available`/`Progressing` conditions.
/// `failed` reports `ProgressDeadlineExceeded`.
pub fn deployment_status(
    deployment: &Value,
    new: Option<&RsView>,
    all: &[RsView],
    failed: bool,
    now: &str,
) -> Value {
    let desired = desired_replicas(deployment);
    let name = new.map_or_else(
        || {
            format!(
                "{}-{}",
                deployment
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                template_hash(deployment.pointer("/spec/template").unwrap_or(&Value::Null))
            )
        },
        |n| n.name.clone(),
    );
    let total: i64 = all.iter().map(|r| r.pods).sum();
    let ready: i64 = all.iter().map(|r| r.ready).sum();
    let available: i64 = all.iter().map(|r| r.available).sum();
    let updated = new.map_or(0, |n| n.pods);
    let mut status = Map::new();
    if let Some(g) = deployment
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
    {
        status.insert("observedGeneration".into(), json!(g));
    }
    for (k, v) in [
        ("replicas", total),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        (
            "unavailableReplicas",
            (total.max(desired) - available).max(0),
        ),
    ] {
        if v != 0 {
            status.insert(k.into(), json!(v));
        }
    }
    let unavailable = if is_recreate(deployment) {
        0
    } else {
        surge_and_unavailable(deployment, desired).1
    };
    let (a_status, a_reason, a_msg) = if available >= desired - unavailable {
        (
            "True",
            super::deployment::MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            super::deployment::MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
        )
    };
    let (p_status, p_reason, p_msg) = if failed {
        (
            "False",
            super::deployment::PROGRESS_DEADLINE_EXCEEDED,
            format!("ReplicaSet \"{name}\" has timed out progressing."),
        )
    } else if rollout_complete(desired, new, all) {
        (
            "True",
            super::deployment::NEW_RS_AVAILABLE,
            format!("ReplicaSet \"{name}\" has successfully progressed."),
        )
    } else {
        (
            "True",
            super::deployment::RS_UPDATED,
            format!("ReplicaSet \"{name}\" is progressing."),
        )
    };
    let old = deployment
        .pointer("/status/conditions")
        .and_then(Value::as_array);
    let mut progressing = condition(old, "Progressing", p_status, p_reason, &p_msg, now);
    // Any change of the pod counters is progress: it restarts the deadline.
    let progressed =
        counters(deployment.get("status")) != counters(Some(&Value::Object(status.clone())));
    if progressed && p_reason == super::deployment::RS_UPDATED {
        progressing["lastUpdateTime"] = json!(now);
    }
    status.insert(
        "conditions".into(),
        json!([
            condition(old, "Available", a_status, a_reason, a_msg, now),
            progressing,
        ]),
    );
    Value::Object(status)
}

fn counters(status: Option<&Value>) -> [i64; 4] {
    let get = |k: &str| {
        status
            .and_then(|s| s.get(k))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    [
        get("replicas"),
        get("updatedReplicas"),
        get("readyReplicas"),
        get("availableReplicas"),
    ]
}

/// Whether a rollout made no progress (no change of its pod counters) for
/// `progressDeadlineSeconds` (default 600), judged from the `Progressing` condition's
/// `lastUpdateTime`, which moves on every progress; `now` in Unix seconds.
pub fn progress_deadline_exceeded(
    deployment: &Value,
    new: Option<&RsView>,
    all: &[RsView],
    now: i64,
) -> bool {
    if rollout_complete(desired_replicas(deployment), new, all) {
        return false;
    }
    let computed = deployment_status(deployment, new, all, false, "");
    if counters(deployment.get("status")) != counters(Some(&computed)) {
        return false;
    }
    let deadline = deployment
        .pointer("/spec/progressDeadlineSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(600);
    let progressing = deployment
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|c| c["type"] == "Progressing"));
    let Some(p) = progressing else {
        return false;
    };
    if p["reason"] == super::deployment::PROGRESS_DEADLINE_EXCEEDED {
        return true;
    }
    p["lastUpdateTime"]
        .as_str()
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .is_some_and(|t| now - t.as_second() > deadline)
}

/// The status of a ReplicaSet (or the counters of a Job) from its live pods.
pub fn replicaset_status(rs: &Value, pods: &[&Value]) -> Value {
    let ready = pods.iter().filter(|p| pod_ready(p)).count() as i64;
    let mut status = Map::new();
    status.insert("replicas".into(), json!(pods.len()));
    let labelled = pods.len();
    if labelled > 0 {
        status.insert("fullyLabeledReplicas".into(), json!(labelled));
    }
    if ready > 0 {
        status.insert("readyReplicas".into(), json!(ready));
        status.insert("availableReplicas".into(), json!(ready));
    }
    if let Some(g) = rs.pointer("/metadata/generation").and_then(Value::as_i64) {
        status.insert("observedGeneration".into(), json!(g));
    }
    Value::Object(status)
}

/// Whether a pod's `Ready` condition is True.
pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// A container's state as the kubelet reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// Not running: `ContainerCreating`, `CrashLoopBackOff`, `CreateContainerConfigError`.
    Waiting {
        /// Reason.
        reason: String,
        /// Message.
        message: String,
    },
    /// Running since an RFC 3339 time.
    Running {
        /// Start time.
        started_at: String,
    },
    /// Exited.
    Terminated(Terminated),
}

/// How a container run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terminated {
    /// Exit code (128 + signal when killed by one).
    pub exit_code: i32,
    /// Signal that killed it, if any.
    pub signal: Option<i32>,
    /// `Completed` (exit 0), `Error`, or `StartError`.
    pub reason: String,
    /// Why, when known (e.g. a start error).
    pub message: String,
    /// Start time.
    pub started_at: String,
    /// End time.
    pub finished_at: String,
}

impl Terminated {
    fn to_json(&self) -> Value {
        let mut t = json!({"exitCode": self.exit_code, "reason": self.reason,
            "startedAt": self.started_at, "finishedAt": self.finished_at});
        if let Some(s) = self.signal {
            t["signal"] = json!(s);
        }
        if !self.message.is_empty() {
            t["message"] = json!(self.message);
        }
        t
    }
}

/// One container of a pod as the kubelet sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRun {
    /// Container name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Current state.
    pub state: ContainerState,
    /// The previous run's end, if it ran before.
    pub last: Option<Terminated>,
    /// Restarts so far.
    pub restarts: i64,
    /// Readiness (probe, or running when it has none).
    pub ready: bool,
    /// `containerID` (`process://PID` for a real process, `simulated://...` otherwise).
    pub id: String,
}

impl ContainerRun {
    /// A container not started yet (`ContainerCreating`).
    pub fn creating(name: &str, image: &str) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            state: ContainerState::Waiting {
                reason: "ContainerCreating".into(),
                message: String::new(),
            },
            last: None,
            restarts: 0,
            ready: false,
            id: String::new(),
        }
    }

    fn to_json(&self) -> Value {
        let state = match &self.state {
            ContainerState::Waiting { reason, message } => {
                let mut w = json!({"reason": reason});
                if !message.is_empty() {
                    w["message"] = json!(message);
                }
                json!({"waiting": w})
            }
            ContainerState::Running { started_at } => {
                json!({"running": {"startedAt": started_at}})
            }
            ContainerState::Terminated(t) => json!({"terminated": t.to_json()}),
        };
        let mut c = json!({"name": self.name, "image": self.image, "imageID": "",
            "state": state, "lastState": {}, "ready": self.ready,
            "restartCount": self.restarts,
            "started": matches!(self.state, ContainerState::Running { .. })});
        if let Some(l) = &self.last {
            c["lastState"] = json!({"terminated": l.to_json()});
        }
        if !self.id.is_empty() {
            c["containerID"] = json!(self.id);
        }
        c
    }
}

/// A pod's phase from its containers and `restartPolicy` (the kubelet's `getPhase`).
pub fn pod_phase(restart_policy: &str, containers: &[ContainerRun]) -> &'static str {
    let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in containers {
        match &c.state {
            ContainerState::Running { .. } => running += 1,
            ContainerState::Terminated(t) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            ContainerState::Waiting { .. } if c.last.is_some() => running += 1,
            ContainerState::Waiting { .. } => waiting += 1,
        }
    }
    if waiting > 0 || containers.is_empty() {
        "Pending"
    } else if running > 0 || restart_policy == "Always" {
        "Running"
    } else if stopped == succeeded {
        "Succeeded"
    } else if restart_policy == "OnFailure" {
        "Running"
    } else {
        "Failed"
    }
}

/// A pod's whole `status`: phase, the four conditions, IPs, start time and container
/// statuses; `message` (e.g. that no process runs) goes into `status.message`. Condition
/// times move only when their status changes.
#[allow(clippy::too_many_arguments)]
pub fn pod_status(
    pod: &Value,
    containers: &[ContainerRun],
    pod_ip: &str,
    host_ip: &str,
    start_time: &str,
    message: Option<&str>,
    now: &str,
) -> Value {
    let policy = pod
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always");
    let phase = pod_phase(policy, containers);
    let unready: Vec<&str> = containers
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let old = pod.pointer("/status/conditions").and_then(Value::as_array);
    let cond = |kind: &str, ok: bool, reason: &str, msg: &str| {
        let prev = old.and_then(|l| l.iter().find(|c| c["type"] == kind));
        let status = if ok { "True" } else { "False" };
        let since = match prev {
            Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
            _ => json!(now),
        };
        let mut c = json!({"type": kind, "status": status, "lastProbeTime": null,
            "lastTransitionTime": since});
        if !reason.is_empty() {
            c["reason"] = json!(reason);
            c["message"] = json!(msg);
        }
        c
    };
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let all_ready = unready.is_empty() && !terminal;
    let (reason, msg) = if terminal {
        ("PodCompleted", String::new())
    } else if all_ready {
        ("", String::new())
    } else {
        (
            "ContainersNotReady",
            format!("containers with unready status: [{}]", unready.join(" ")),
        )
    };
    let conditions = json!([
        cond("PodReadyToStartContainers", true, "", ""),
        cond("Initialized", true, "", ""),
        cond("Ready", all_ready, reason, &msg),
        cond("ContainersReady", all_ready, reason, &msg),
        cond("PodScheduled", true, "", ""),
    ]);
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": start_time,
        "qosClass": "BestEffort",
        "containerStatuses": containers.iter().map(ContainerRun::to_json).collect::<Vec<_>>(),
    });
    if !pod_ip.is_empty() {
        status["podIP"] = json!(pod_ip);
        status["podIPs"] = json!([{"ip": pod_ip}]);
    }
    if let Some(m) = message {
        status["message"] = json!(m);
    }
    status
}

/// The STATUS column of `kubectl get pods` (the server's `printPod`).
pub fn pod_display_status(pod: &Value) -> String {
    let mut reason = pod
        .pointer("/status/reason")
        .or_else(|| pod.pointer("/status/phase"))
        .and_then(Value::as_str)
        .unwrap_or("Pending")
        .to_owned();
    let mut running_ready = false;
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in statuses.iter().rev() {
        let s = |p: &str| c.pointer(p).and_then(Value::as_str).unwrap_or("");
        if !s("/state/waiting/reason").is_empty() {
            reason = s("/state/waiting/reason").to_owned();
        } else if c.pointer("/state/terminated").is_some() {
            reason = if !s("/state/terminated/reason").is_empty() {
                s("/state/terminated/reason").to_owned()
            } else if let Some(sig) = c
                .pointer("/state/terminated/signal")
                .and_then(Value::as_i64)
            {
                format!("Signal:{sig}")
            } else {
                format!("ExitCode:{}", int(c, "/state/terminated/exitCode"))
            };
        } else if c.pointer("/state/running").is_some() && c["ready"] == true {
            running_ready = true;
        }
    }
    if reason == "Completed" && running_ready {
        reason = "Running".into();
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".into();
    }
    reason
}

/// Annotation (and label) carrying an Indexed Job pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// What the Job controller does in one step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobStep {
    /// Pods to create: `Some(index)` for Indexed Jobs, `None` otherwise.
    pub create: Vec<Option<i64>>,
    /// Active pods to delete (by name): the Job finished, failed or is suspended.
    pub delete: Vec<String>,
    /// The Job's new status.
    pub status: Value,
}

fn job_index(pod: &Value) -> Option<i64> {
    pod.pointer(&format!(
        "/metadata/annotations/{}",
        COMPLETION_INDEX.replace('/', "~1")
    ))
    .and_then(Value::as_str)
    .and_then(|i| i.parse().ok())
}

/// Indexes as the API writes `completedIndexes`: `0-2,4`.
fn index_ranges(indexes: &[i64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indexes.len() {
        let start = indexes[i];
        let mut end = start;
        while i + 1 < indexes.len() && indexes[i + 1] == end + 1 {
            i += 1;
            end = indexes[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// One step of the Job controller (`pkg/controller/job`) over the Job's pods:
/// `completions` (default 1) successful pods (distinct indexes for Indexed Jobs) complete
/// it; more than `backoffLimit` (default 6) failed pods fail it; otherwise up to
/// `parallelism` (default 1) pods run, never more than remaining completions; `suspend`
/// deletes the active ones. Conditions `Complete`, `Failed` (`BackoffLimitExceeded`) and
/// `Suspended`, with `startTime`, `completionTime`, `active`, `ready`, `succeeded`,
/// `failed` and `completedIndexes`. Indexed with `backoffLimitPerIndex`: an index failed
/// more often is not retried (`failedIndexes`); the Job fails (`FailedIndexes`) once every
/// index succeeded or failed, or at once past `maxFailedIndexes`
/// (`MaxFailedIndexesExceeded`).
pub fn job_step(job: &Value, pods: &[&Value], now: &str) -> JobStep {
    let spec_i = |k: &str, d: i64| {
        job.pointer(&format!("/spec/{k}"))
            .and_then(Value::as_i64)
            .unwrap_or(d)
            .max(0)
    };
    let completions = spec_i("completions", 1);
    let parallelism = spec_i("parallelism", 1);
    let backoff_limit = spec_i("backoffLimit", 6);
    let indexed = job.pointer("/spec/completionMode").and_then(Value::as_str) == Some("Indexed");
    let suspended = job.pointer("/spec/suspend") == Some(&json!(true));
    let phase = |p: &Value| {
        p.pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let active: Vec<&Value> = pods
        .iter()
        .copied()
        .filter(|p| {
            !matches!(phase(p).as_str(), "Succeeded" | "Failed")
                && p.pointer("/metadata/deletionTimestamp").is_none()
        })
        .collect();
    let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
    let mut done: Vec<i64> = Vec::new();
    let mut succeeded = 0;
    for p in pods.iter().filter(|p| phase(p) == "Succeeded") {
        succeeded += 1;
        if let Some(i) = job_index(p).filter(|i| (0..completions).contains(i)) {
            done.push(i);
        }
    }
    done.sort_unstable();
    done.dedup();
    // Indexed with `backoffLimitPerIndex`: an index whose pods failed more often is given
    // up (`failedIndexes`), the others still run; more of them than `maxFailedIndexes`
    // fail the Job at once.
    let per_index = job
        .pointer("/spec/backoffLimitPerIndex")
        .and_then(Value::as_i64)
        .filter(|_| indexed);
    let mut failed_indexes: Vec<i64> = Vec::new();
    if let Some(limit) = per_index {
        let mut counts: std::collections::BTreeMap<i64, i64> = Default::default();
        for p in pods.iter().filter(|p| phase(p) == "Failed") {
            if let Some(i) = job_index(p).filter(|i| (0..completions).contains(i)) {
                *counts.entry(i).or_default() += 1;
            }
        }
        failed_indexes = counts
            .into_iter()
            .filter(|(i, n)| *n > limit && !done.contains(i))
            .map(|(i, _)| i)
            .collect();
    }
    let max_failed_indexes = job
        .pointer("/spec/maxFailedIndexes")
        .and_then(Value::as_i64);
    let complete_count = if indexed {
        done.len() as i64
    } else {
        succeeded
    };
    let old = job.pointer("/status/conditions").and_then(Value::as_array);
    let had =
        |t: &str| old.is_some_and(|l| l.iter().any(|c| c["type"] == t && c["status"] == "True"));
    let finished_before = had("Complete") || had("Failed");
    let mut step = JobStep::default();
    let mut conditions: Vec<Value> = old.cloned().unwrap_or_default();
    let mut set_condition = |kind: &str, reason: &str, message: &str| {
        conditions.retain(|c| c["type"] != kind);
        conditions.push(
            json!({"type": kind, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": now, "lastTransitionTime": now}),
        );
    };
    let mut completion_time = job.pointer("/status/completionTime").cloned();
    if !finished_before {
        if complete_count >= completions {
            set_condition(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            );
            completion_time = Some(json!(now));
            step.delete = active.iter().map(|p| name_of(p)).collect();
        } else if per_index.is_some()
            && max_failed_indexes.is_some_and(|m| failed_indexes.len() as i64 > m)
        {
            set_condition(
                "Failed",
                "MaxFailedIndexesExceeded",
                "Job has exceeded the specified maximal number of failed indexes",
            );
            step.delete = active.iter().map(|p| name_of(p)).collect();
        } else if per_index.is_some()
            && !failed_indexes.is_empty()
            && (complete_count + failed_indexes.len() as i64) >= completions
        {
            set_condition("Failed", "FailedIndexes", "Job has failed indexes");
            step.delete = active.iter().map(|p| name_of(p)).collect();
        } else if failed > backoff_limit {
            set_condition(
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            );
            step.delete = active.iter().map(|p| name_of(p)).collect();
        } else if suspended {
            if !had("Suspended") {
                set_condition("Suspended", "JobSuspended", "Job suspended");
            }
            step.delete = active.iter().map(|p| name_of(p)).collect();
        } else {
            conditions.retain(|c| c["type"] != "Suspended");
            let room = (parallelism - active.len() as i64).max(0);
            if indexed {
                let running: Vec<i64> = active.iter().filter_map(|p| job_index(p)).collect();
                step.create = (0..completions)
                    .filter(|i| {
                        !done.contains(i) && !running.contains(i) && !failed_indexes.contains(i)
                    })
                    .take(room as usize)
                    .map(Some)
                    .collect();
            } else {
                let remaining = completions - succeeded - active.len() as i64;
                step.create = vec![None; room.min(remaining).max(0) as usize];
            }
        }
    }
    let still_active = if step.delete.is_empty() {
        active.len()
    } else {
        0
    } as i64
        + step.create.len() as i64;
    let ready = active.iter().filter(|p| pod_ready(p)).count() as i64;
    let mut status = Map::new();
    status.insert(
        "startTime".into(),
        job.pointer("/status/startTime")
            .cloned()
            .unwrap_or(json!(now)),
    );
    if let Some(t) = completion_time {
        status.insert("completionTime".into(), t);
    }
    if still_active > 0 {
        status.insert("active".into(), json!(still_active));
    }
    status.insert(
        "ready".into(),
        json!(if step.delete.is_empty() { ready } else { 0 }),
    );
    if succeeded > 0 {
        status.insert("succeeded".into(), json!(succeeded));
    }
    if failed > 0 {
        status.insert("failed".into(), json!(failed));
    }
    if indexed {
        status.insert("completedIndexes".into(), json!(index_ranges(&done)));
    }
    if per_index.is_some() {
        status.insert("failedIndexes".into(), json!(index_ranges(&failed_indexes)));
    }
    if !conditions.is_empty() {
        status.insert("conditions".into(), Value::Array(conditions));
    }
    status.insert("uncountedTerminatedPods".into(), json!({}));
    step.status = Value::Object(status);
    step
}

fn name_of(p: &Value) -> String {
    p.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(replicas: i64, strategy: Value) -> Value {
        json!({"metadata": {"name": "web", "generation": 1},
               "spec": {"replicas": replicas, "strategy": strategy,
                        "template": {"metadata": {"labels": {"app": "web"}}}}})
    }

    fn rs(name: &str, replicas: i64, pods: i64, available: i64) -> RsView {
        RsView {
            name: name.into(),
            replicas,
            pods,
            ready: available,
            available,
        }
    }

    #[test]
    fn hash_ignores_its_own_label() {
        let a = json!({"metadata": {"labels": {"app": "x"}}});
        let b = json!({"metadata": {"labels": {"app": "x", "pod-template-hash": "zzz"}}});
        assert_eq!(template_hash(&a), template_hash(&b));
        assert_ne!(
            template_hash(&a),
            template_hash(&json!({"metadata": {"labels": {"app": "y"}}}))
        );
        // As kubectl sends a template back on `rollout undo`.
        let go = json!({"metadata": {"labels": {"app": "x"}, "creationTimestamp": null},
                        "spec": {"containers": [{"name": "c", "resources": {}}]}});
        let plain = json!({"metadata": {"labels": {"app": "x"}},
                           "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(template_hash(&go), template_hash(&plain));
    }

    #[test]
    fn rolling_update_surges_then_drains_old() {
        // 4 replicas, 25%: surge 1, unavailable 1.
        let d = dep(4, json!({"type": "RollingUpdate"}));
        assert_eq!(surge_and_unavailable(&d, 4), (1, 1));
        let plan = plan_rollout(&d, &rs("new", 0, 0, 0), &[rs("old", 4, 4, 4)]);
        // New grows by the surge; one healthy old pod may go (4 available, 3 needed).
        assert_eq!(plan, vec![("new".into(), 1), ("old".into(), 3)]);
        // New pod not ready yet: nothing more may go.
        let plan = plan_rollout(&d, &rs("new", 1, 1, 0), &[rs("old", 3, 3, 3)]);
        assert_eq!(plan, vec![("new".into(), 2)]);
        let plan = plan_rollout(&d, &rs("new", 2, 2, 0), &[rs("old", 3, 3, 3)]);
        assert!(plan.is_empty(), "{plan:?}");
        // Done: old goes to 0 once new is available.
        let plan = plan_rollout(&d, &rs("new", 4, 4, 4), &[rs("old", 1, 1, 1)]);
        assert_eq!(plan, vec![("old".into(), 0)]);
    }

    #[test]
    fn one_replica_rolls_with_surge_one() {
        let d = dep(1, json!({"type": "RollingUpdate"}));
        assert_eq!(surge_and_unavailable(&d, 1), (1, 0));
        let plan = plan_rollout(&d, &rs("new", 0, 0, 0), &[rs("old", 1, 1, 1)]);
        assert_eq!(plan, vec![("new".into(), 1)]);
        // Nothing is available: the old pod stays until the new one is.
        let plan = plan_rollout(&d, &rs("new", 1, 1, 0), &[rs("old", 1, 1, 0)]);
        assert!(plan.is_empty(), "{plan:?}");
        // A crashing old pod is cleaned up once the new one is available.
        let plan = plan_rollout(&d, &rs("new", 1, 1, 1), &[rs("old", 1, 1, 0)]);
        assert_eq!(plan, vec![("old".into(), 0)]);
    }

    #[test]
    fn recreate_drains_before_scaling_up() {
        let d = dep(2, json!({"type": "Recreate"}));
        let plan = plan_rollout(&d, &rs("new", 0, 0, 0), &[rs("old", 2, 2, 2)]);
        assert_eq!(plan, vec![("old".into(), 0)]);
        let plan = plan_rollout(&d, &rs("new", 0, 0, 0), &[rs("old", 0, 1, 0)]);
        assert!(plan.is_empty(), "waits for old pods to go");
        let plan = plan_rollout(&d, &rs("new", 0, 0, 0), &[rs("old", 0, 0, 0)]);
        assert_eq!(plan, vec![("new".into(), 2)]);
    }

    #[test]
    fn progress_deadline_counts_from_the_last_progress() {
        let mut d = dep(1, json!({"type": "RollingUpdate"}));
        d["spec"]["progressDeadlineSeconds"] = json!(60);
        let stuck = rs("web-a", 1, 1, 0);
        let all = std::slice::from_ref(&stuck);
        d["status"] = deployment_status(&d, Some(&stuck), all, false, "2026-01-01T00:00:00Z");
        let start = k8s_openapi::jiff::Timestamp::from_second(0).unwrap();
        let t0: i64 = "2026-01-01T00:00:00Z"
            .parse::<k8s_openapi::jiff::Timestamp>()
            .unwrap()
            .as_second()
            - start.as_second();
        assert!(!progress_deadline_exceeded(&d, Some(&stuck), all, t0 + 59));
        assert!(progress_deadline_exceeded(&d, Some(&stuck), all, t0 + 61));
        // Progress (a pod became available) is not a timeout, and complete never is.
        let done = rs("web-a", 1, 1, 1);
        assert!(!progress_deadline_exceeded(
            &d,
            Some(&done),
            std::slice::from_ref(&done),
            t0 + 999
        ));
    }

    #[test]
    fn deployment_status_from_replicasets() {
        let d = dep(2, json!({"type": "RollingUpdate"}));
        let new = rs("web-a", 2, 2, 1);
        let old = rs("web-b", 1, 1, 1);
        let s = deployment_status(&d, Some(&new), &[new.clone(), old], false, "T");
        assert_eq!(s["replicas"], 3);
        assert_eq!(s["updatedReplicas"], 2);
        assert_eq!(s["availableReplicas"], 2);
        let p = &s["conditions"][1];
        assert_eq!(p["reason"], "ReplicaSetUpdated");
        let done = rs("web-a", 2, 2, 2);
        let s = deployment_status(&d, Some(&done), std::slice::from_ref(&done), false, "T");
        assert_eq!(s["conditions"][1]["reason"], "NewReplicaSetAvailable");
        assert_eq!(s["conditions"][0]["status"], "True");
        assert!(s.get("unavailableReplicas").is_none());
    }

    fn term(code: i32) -> Terminated {
        Terminated {
            exit_code: code,
            signal: None,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: String::new(),
            started_at: "T".into(),
            finished_at: "T".into(),
        }
    }

    #[test]
    fn phases_follow_the_kubelet() {
        let mut c = ContainerRun::creating("c", "i");
        assert_eq!(pod_phase("Always", std::slice::from_ref(&c)), "Pending");
        c.state = ContainerState::Terminated(term(1));
        assert_eq!(pod_phase("Never", std::slice::from_ref(&c)), "Failed");
        assert_eq!(pod_phase("OnFailure", std::slice::from_ref(&c)), "Running");
        c.state = ContainerState::Terminated(term(0));
        assert_eq!(
            pod_phase("OnFailure", std::slice::from_ref(&c)),
            "Succeeded"
        );
        c.state = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: String::new(),
        };
        c.last = Some(term(1));
        assert_eq!(pod_phase("Always", std::slice::from_ref(&c)), "Running");
    }

    #[test]
    fn crash_loop_status_and_printer() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"restartPolicy": "Always"}});
        let mut c = ContainerRun::creating("c", "i");
        c.state = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: "back-off".into(),
        };
        c.last = Some(term(1));
        c.restarts = 2;
        let s = pod_status(&pod, &[c], "10.0.0.2", "127.0.0.1", "T", None, "T");
        assert_eq!(s["phase"], "Running");
        assert_eq!(
            s["containerStatuses"][0]["lastState"]["terminated"]["exitCode"],
            1
        );
        assert_eq!(s["containerStatuses"][0]["restartCount"], 2);
        let ready = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "ContainersNotReady");
        let shown = json!({"metadata": {}, "status": s});
        assert_eq!(pod_display_status(&shown), "CrashLoopBackOff");
        assert!(!pod_ready(&shown));
    }

    fn job_pod(name: &str, phase: &str, index: Option<i64>) -> Value {
        let mut p = json!({"metadata": {"name": name}, "status": {"phase": phase}});
        if let Some(i) = index {
            p["metadata"]["annotations"] = json!({COMPLETION_INDEX: i.to_string()});
        }
        p
    }

    #[test]
    fn job_runs_parallel_pods_up_to_completions() {
        let job = json!({"spec": {"completions": 3, "parallelism": 2}});
        let step = job_step(&job, &[], "T");
        assert_eq!(step.create, vec![None, None]);
        assert_eq!(step.status["active"], 2);
        let a = job_pod("a", "Succeeded", None);
        let b = job_pod("b", "Running", None);
        let step = job_step(&job, &[&a, &b], "T");
        assert_eq!(step.create.len(), 1, "one left to run next to b");
        let c = job_pod("c", "Succeeded", None);
        let d = job_pod("d", "Succeeded", None);
        let step = job_step(&job, &[&a, &c, &d], "T");
        assert!(step.create.is_empty());
        let complete = &step.status["conditions"][0];
        assert_eq!(
            (complete["type"].as_str(), complete["status"].as_str()),
            (Some("Complete"), Some("True"))
        );
        assert_eq!(step.status["succeeded"], 3);
        assert_eq!(step.status["completionTime"], "T");
    }

    #[test]
    fn indexed_job_fills_missing_indexes_and_reports_them() {
        let job =
            json!({"spec": {"completions": 4, "parallelism": 2, "completionMode": "Indexed"}});
        let step = job_step(&job, &[], "T");
        assert_eq!(step.create, vec![Some(0), Some(1)]);
        let p0 = job_pod("j-0", "Succeeded", Some(0));
        let p1 = job_pod("j-1", "Running", Some(1));
        let p2 = job_pod("j-2", "Succeeded", Some(2));
        let step = job_step(&job, &[&p0, &p1, &p2], "T");
        assert_eq!(step.create, vec![Some(3)]);
        assert_eq!(step.status["completedIndexes"], "0,2");
        assert_eq!(index_ranges(&[0, 1, 2, 4, 6, 7]), "0-2,4,6-7");
    }

    #[test]
    fn indexed_job_retries_each_index_on_its_own_and_names_the_failed_ones() {
        let job = json!({"spec": {"completions": 3, "parallelism": 3, "completionMode": "Indexed",
            "backoffLimitPerIndex": 1, "maxFailedIndexes": 3}});
        let f0 = job_pod("j-0-a", "Failed", Some(0));
        let p1 = job_pod("j-1-a", "Succeeded", Some(1));
        let r2 = job_pod("j-2-a", "Running", Some(2));
        let step = job_step(&job, &[&f0, &p1, &r2], "T");
        assert_eq!(step.create, vec![Some(0)], "index 0 retried once");
        assert_eq!(step.status["failedIndexes"], "");
        // Its retry failed too: given up, the others run on.
        let f0b = job_pod("j-0-b", "Failed", Some(0));
        let step = job_step(&job, &[&f0, &f0b, &p1, &r2], "T");
        assert!(step.create.is_empty());
        assert!(step.delete.is_empty(), "index 2 keeps running");
        assert_eq!(step.status["failedIndexes"], "0");
        assert!(step.status.get("conditions").is_none());
        // Every index ended: the Job failed with its failed indexes.
        let p2 = job_pod("j-2-a", "Succeeded", Some(2));
        let step = job_step(&job, &[&f0, &f0b, &p1, &p2], "T");
        let c = &step.status["conditions"][0];
        assert_eq!(
            (c["type"].as_str(), c["reason"].as_str()),
            (Some("Failed"), Some("FailedIndexes"))
        );
        assert_eq!(step.status["completedIndexes"], "1-2");
        // Past maxFailedIndexes: failed at once, the running pods stopped.
        let job = json!({"spec": {"completions": 3, "parallelism": 3, "completionMode": "Indexed",
            "backoffLimitPerIndex": 0, "maxFailedIndexes": 0}});
        let step = job_step(&job, &[&f0, &r2], "T");
        assert_eq!(
            step.status["conditions"][0]["reason"],
            "MaxFailedIndexesExceeded"
        );
        assert_eq!(step.delete, vec!["j-2-a".to_owned()]);
    }

    #[test]
    fn job_fails_past_its_backoff_limit() {
        let job = json!({"spec": {"backoffLimit": 1}});
        let f1 = job_pod("a", "Failed", None);
        let step = job_step(&job, &[&f1], "T");
        assert_eq!(step.create.len(), 1, "one retry allowed");
        let f2 = job_pod("b", "Failed", None);
        let step = job_step(&job, &[&f1, &f2], "T");
        assert!(step.create.is_empty());
        let c = &step.status["conditions"][0];
        assert_eq!(
            (c["type"].as_str(), c["reason"].as_str()),
            (Some("Failed"), Some("BackoffLimitExceeded"))
        );
        assert_eq!(step.status["failed"], 2);
    }

    #[test]
    fn suspended_job_stops_its_pods() {
        let job = json!({"spec": {"suspend": true}});
        let p = job_pod("a", "Running", None);
        let step = job_step(&job, &[&p], "T");
        assert_eq!(step.delete, vec!["a".to_owned()]);
        assert_eq!(step.status["conditions"][0]["type"], "Suspended");
    }

    #[test]
    fn printer_shows_running_completed_and_terminating() {
        let pod = json!({"metadata": {}, "spec": {"restartPolicy": "Never"}});
        let mut c = ContainerRun::creating("c", "i");
        c.state = ContainerState::Running {
            started_at: "T".into(),
        };
        c.ready = true;
        let s = pod_status(&pod, std::slice::from_ref(&c), "", "h", "T", None, "T");
        let mut shown = json!({"metadata": {}, "status": s});
        assert_eq!(pod_display_status(&shown), "Running");
        assert!(pod_ready(&shown));
        shown["metadata"]["deletionTimestamp"] = json!("T");
        assert_eq!(pod_display_status(&shown), "Terminating");
        c.state = ContainerState::Terminated(term(0));
        c.ready = false;
        let s = pod_status(&pod, &[c], "", "h", "T", None, "T");
        assert_eq!(s["phase"], "Succeeded");
        assert_eq!(
            pod_display_status(&json!({"metadata": {}, "status": s})),
            "Completed"
        );
    }
}
