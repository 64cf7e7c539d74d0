//! The workload controllers and the node: Deployment → ReplicaSet → Pod, the scheduler
//! (every pod goes to the one node), and the kubelet's simulated half (pods whose image
//! is not mapped to an executable). Pods whose images are mapped go to the process
//! kubelet ([`super::kubelet`]).
//!
//! Driven by watches on the store, like informers: a change marks the objects it
//! concerns dirty and only those are reconciled; decisions are in
//! [`crate::semantics::workload`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::Shared;
use super::kubelet::{Kubelet, NODE_NAME};
use super::registry::GroupResource;
use super::store::{DeleteOpts, State, WatchMsg, WriteCtx};
use super::util;
use crate::semantics::workload::{
    self as wl, ContainerRun, ContainerState, HASH_LABEL, REVISION, RsView,
};

type Key = (String, String);

fn gr(group: &str, resource: &str) -> GroupResource {
    GroupResource {
        group: group.into(),
        resource: resource.into(),
    }
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn key_of(v: &Value) -> Key {
    (
        s(v, "/metadata/namespace").to_owned(),
        s(v, "/metadata/name").to_owned(),
    )
}

/// The controlling owner's (kind, name, uid), if any.
fn controller_of(v: &Value) -> Option<(String, String, String)> {
    v.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .map(|r| {
            (
                s(r, "/kind").to_owned(),
                s(r, "/name").to_owned(),
                s(r, "/uid").to_owned(),
            )
        })
}

fn owner_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!([{"apiVersion": api_version, "kind": kind, "name": s(owner, "/metadata/name"),
            "uid": s(owner, "/metadata/uid"), "controller": true, "blockOwnerDeletion": true}])
}

/// What the loop watches and what is dirty.
struct Loop {
    shared: Arc<Shared>,
    kubelet: Arc<Kubelet>,
    delay: Duration,
    watches: Vec<(GroupResource, UnboundedReceiver<WatchMsg>)>,
    deployments: BTreeSet<Key>,
    replicasets: BTreeSet<Key>,
    jobs: BTreeSet<Key>,
    claims: BTreeSet<Key>,
    pods: BTreeSet<Key>,
    /// Simulated pods: (uid → when first seen), to start their containers after `delay`.
    simulated: HashMap<String, Instant>,
    timers: Vec<(Instant, Key)>,
    /// Finished Jobs with `ttlSecondsAfterFinished`, re-examined when due.
    job_timers: Vec<(Instant, Key)>,
    /// Rollouts in progress, re-examined when their progress deadline could pass.
    dep_timers: HashMap<Key, Instant>,
}

/// Runs the controllers until the server shuts down; `delay` is how long a simulated
/// container takes to become ready.
pub async fn run(shared: Arc<Shared>, kubelet: Arc<Kubelet>, delay: Duration) {
    let mut l = Loop {
        shared: shared.clone(),
        kubelet,
        delay,
        watches: Vec::new(),
        deployments: BTreeSet::new(),
        replicasets: BTreeSet::new(),
        jobs: BTreeSet::new(),
        claims: BTreeSet::new(),
        pods: BTreeSet::new(),
        simulated: HashMap::new(),
        timers: Vec::new(),
        job_timers: Vec::new(),
        dep_timers: HashMap::new(),
    };
    let mut shutdown = shared.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        l.drain();
        l.reconcile().await;
    }
}

/// How many objects one hold of the store's lock reconciles: the lock is a blocking
/// mutex, so a long hold stalls every request (and the accept loop) on the runtime.
const BATCH: usize = 64;

impl Loop {
    /// Collects dirty keys from the watches (re-watching, with a full resync, when the
    /// server closed them) and from due timers.
    fn drain(&mut self) {
        let wanted = [
            gr("apps", "deployments"),
            gr("apps", "replicasets"),
            gr("", "pods"),
            gr("batch", "jobs"),
            gr("", "persistentvolumeclaims"),
        ];
        let closed =
            self.watches.len() != wanted.len() || self.watches.iter().any(|(_, rx)| rx.is_closed());
        if closed {
            let mut st = self.shared.lock();
            self.watches.clear();
            for g in &wanted {
                self.watches.push((g.clone(), st.subscribe(g)));
            }
            for (ns, name, ..) in st.heads(&wanted[0]) {
                self.deployments.insert((ns, name));
            }
            for (ns, name, ..) in st.heads(&wanted[1]) {
                self.replicasets.insert((ns, name));
            }
            for (ns, name, ..) in st.heads(&wanted[2]) {
                self.pods.insert((ns, name));
            }
            for (ns, name, ..) in st.heads(&wanted[3]) {
                self.jobs.insert((ns, name));
            }
            for (ns, name, ..) in st.heads(&wanted[4]) {
                self.claims.insert((ns, name));
            }
        }
        for (g, rx) in &mut self.watches {
            while let Ok(WatchMsg::Event(ev)) = rx.try_recv() {
                let k = key_of(&ev.object);
                let owner = controller_of(&ev.object);
                match g.resource.as_str() {
                    "deployments" => {
                        self.deployments.insert(k);
                    }
                    "replicasets" => {
                        if let Some((kind, name, _)) = owner
                            && kind == "Deployment"
                        {
                            self.deployments.insert((k.0.clone(), name));
                        }
                        self.replicasets.insert(k);
                    }
                    "jobs" => {
                        self.jobs.insert(k);
                    }
                    "persistentvolumeclaims" => {
                        self.claims.insert(k);
                    }
                    _ => {
                        match owner {
                            Some((kind, name, _)) if kind == "ReplicaSet" => {
                                self.replicasets.insert((k.0.clone(), name));
                            }
                            Some((kind, name, _)) if kind == "Job" => {
                                self.jobs.insert((k.0.clone(), name));
                            }
                            _ => {}
                        }
                        self.pods.insert(k);
                    }
                }
            }
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|(t, _)| *t <= now);
        self.timers = later;
        for (_, k) in due {
            self.pods.insert(k);
        }
        let (due, later): (Vec<_>, Vec<_>) =
            self.job_timers.drain(..).partition(|(t, _)| *t <= now);
        self.job_timers = later;
        for (_, k) in due {
            self.jobs.insert(k);
        }
        let due: Vec<Key> = self
            .dep_timers
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            self.dep_timers.remove(&k);
            self.deployments.insert(k);
        }
    }

    async fn reconcile(&mut self) {
        let pods: Vec<Key> = std::mem::take(&mut self.pods).into_iter().collect();
        let rss: Vec<Key> = std::mem::take(&mut self.replicasets).into_iter().collect();
        let deps: Vec<Key> = std::mem::take(&mut self.deployments).into_iter().collect();
        let jobs: Vec<Key> = std::mem::take(&mut self.jobs).into_iter().collect();
        let claims: Vec<Key> = std::mem::take(&mut self.claims).into_iter().collect();
        if pods.is_empty()
            && rss.is_empty()
            && deps.is_empty()
            && jobs.is_empty()
            && claims.is_empty()
        {
            return;
        }
        let shared = self.shared.clone();
        for chunk in pods.chunks(BATCH) {
            {
                let mut st = shared.lock();
                for k in chunk {
                    self.pod(&mut st, k);
                }
            }
            tokio::task::yield_now().await;
        }
        for chunk in rss.chunks(BATCH) {
            {
                let mut st = shared.lock();
                for k in chunk {
                    replicaset(&mut st, k);
                }
            }
            tokio::task::yield_now().await;
        }
        for chunk in deps.chunks(BATCH) {
            {
                let mut st = shared.lock();
                for k in chunk {
                    if let Some(due) = deployment(&mut st, k) {
                        self.dep_timers.insert(k.clone(), due);
                    }
                }
            }
            tokio::task::yield_now().await;
        }
        let mut st = shared.lock();
        for k in &claims {
            bind_claim(&mut st, k);
        }
        for k in &jobs {
            if let Some(due) = job(&mut st, k) {
                self.job_timers.push((due, k.clone()));
            }
        }
    }

    /// Scheduler and kubelet for one pod.
    fn pod(&mut self, st: &mut State, k: &Key) {
        let pods = gr("", "pods");
        let Some(pod) = st.one(&pods, &k.0, &k.1) else {
            self.kubelet.pod_gone(k);
            return;
        };
        let uid = s(&pod, "/metadata/uid").to_owned();
        if s(&pod, "/spec/nodeName").is_empty() {
            let mut bound = pod.clone();
            bound["spec"]["nodeName"] = json!(NODE_NAME);
            st.write_object(&pods, &k.0, &k.1, bound, "default-scheduler");
            return;
        }
        if self.kubelet.runs(&pod) {
            self.kubelet.sync(&self.shared, st, &pod);
            return;
        }
        // Simulated: no process; ready `delay` after the kubelet first saw it.
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            self.simulated.remove(&uid);
            st.finish_pod_deletion(&k.0, &k.1, &uid);
            return;
        }
        if matches!(s(&pod, "/status/phase"), "Succeeded" | "Failed") {
            return;
        }
        let now = Instant::now();
        let seen = *self.simulated.entry(uid.clone()).or_insert(now);
        let failing = deployment_of(st, &pod).is_some_and(|d| st.failing_deployments.contains(&d));
        let started = now.duration_since(seen) >= self.delay && !failing;
        if !started && !failing {
            self.timers.push((seen + self.delay, k.clone()));
        }
        let start_time = match s(&pod, "/status/startTime") {
            "" => util::now_rfc3339(),
            t => t.to_owned(),
        };
        let containers: Vec<ContainerRun> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let mut run = ContainerRun::creating(s(c, "/name"), s(c, "/image"));
                if started {
                    run.state = ContainerState::Running {
                        started_at: start_time.clone(),
                    };
                    run.ready = true;
                    run.id = format!("simulated://{}", s(c, "/name"));
                }
                run
            })
            .collect();
        let message = format!(
            "simulated: no image of this pod is mapped to an executable ({}), so no process runs; its containers are reported running and ready",
            self.kubelet.unmapped_images(&pod).join(", ")
        );
        let status = wl::pod_status(
            &pod,
            &containers,
            &simulated_ip(&uid),
            "127.0.0.1",
            &start_time,
            Some(&message),
            &util::now_rfc3339(),
        );
        st.write_status(&pods, &k.0, &k.1, status);
    }
}

/// A stable made-up pod IP for a simulated pod (nothing listens there).
fn simulated_ip(uid: &str) -> String {
    let h = uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (h >> 8) % 256, h % 254 + 1)
}

/// The (namespace, name) of the Deployment that owns a pod through its ReplicaSet.
fn deployment_of(st: &State, pod: &Value) -> Option<Key> {
    let (kind, rs_name, _) = controller_of(pod)?;
    if kind != "ReplicaSet" {
        return None;
    }
    let ns = s(pod, "/metadata/namespace");
    let rs = st.one(&gr("apps", "replicasets"), ns, &rs_name)?;
    let (kind, name, _) = controller_of(&rs)?;
    (kind == "Deployment").then(|| (ns.to_owned(), name))
}

/// The ReplicaSet controller: as many live pods as `spec.replicas`, and its status.
fn replicaset(st: &mut State, k: &Key) {
    let rs_gr = gr("apps", "replicasets");
    let pods_gr = gr("", "pods");
    let Some(rs) = st.one(&rs_gr, &k.0, &k.1) else {
        return;
    };
    if rs.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let uid = s(&rs, "/metadata/uid").to_owned();
    let owned: Vec<Value> = st
        .with_prefix(&pods_gr, &k.0, &format!("{}-", k.1))
        .into_iter()
        .filter(|p| controller_of(p).is_some_and(|(_, _, u)| u == uid))
        .collect();
    let live: Vec<&Value> = owned
        .iter()
        .filter(|p| {
            p.pointer("/metadata/deletionTimestamp").is_none()
                && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
        })
        .collect();
    let want = wl::desired_replicas(&rs) as usize;
    let Some(pod_def) = st.registry.find("", "v1", "pods").cloned() else {
        return;
    };
    if live.len() < want {
        let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
        for _ in live.len()..want {
            let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": template.get("metadata").cloned().unwrap_or(json!({})),
                "spec": template.get("spec").cloned().unwrap_or(json!({}))});
            pod["metadata"]["generateName"] = json!(format!("{}-", k.1));
            pod["metadata"]["namespace"] = json!(k.0);
            pod["metadata"]["ownerReferences"] = owner_ref(&rs, "apps/v1", "ReplicaSet");
            let ctx = WriteCtx {
                field_manager: Some("replicaset-controller".into()),
                ..WriteCtx::default()
            };
            if let Err(e) = st.create(&pod_def, Some(&k.0), pod, &ctx) {
                tracing::warn!(%e, "creating a pod of {}/{}", k.0, k.1);
                break;
            }
        }
    } else if live.len() > want {
        // Not-ready pods go first, then the newest.
        let mut victims: Vec<&Value> = live.clone();
        victims.sort_by_key(|p| {
            (
                wl::pod_ready(p),
                std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_owned()),
            )
        });
        for p in victims.into_iter().take(live.len() - want) {
            let name = s(p, "/metadata/name").to_owned();
            if let Err(e) = st.delete(&pod_def, Some(&k.0), &name, &DeleteOpts::default()) {
                tracing::warn!(%e, "deleting pod {}/{name}", k.0);
            }
        }
    }
    let all: Vec<Value> = st
        .with_prefix(&pods_gr, &k.0, &format!("{}-", k.1))
        .into_iter()
        .filter(|p| {
            controller_of(p).is_some_and(|(_, _, u)| u == uid)
                && p.pointer("/metadata/deletionTimestamp").is_none()
                && !matches!(s(p, "/status/phase"), "Succeeded" | "Failed")
        })
        .collect();
    let refs: Vec<&Value> = all.iter().collect();
    st.write_status(&rs_gr, &k.0, &k.1, wl::replicaset_status(&rs, &refs));
}

/// The Deployment controller: one ReplicaSet per template (found by its
/// `pod-template-hash`), revisions, one rollout step, old ReplicaSets beyond
/// `revisionHistoryLimit` removed, and the status.
fn deployment(st: &mut State, k: &Key) -> Option<Instant> {
    let dep_gr = gr("apps", "deployments");
    let rs_gr = gr("apps", "replicasets");
    let dep = st.one(&dep_gr, &k.0, &k.1)?;
    if dep.pointer("/metadata/deletionTimestamp").is_some() {
        return None;
    }
    let rs_def = st.registry.find("apps", "v1", "replicasets").cloned()?;
    let uid = s(&dep, "/metadata/uid").to_owned();
    let template = dep.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let hash = wl::template_hash(&template);
    let owned = |st: &State| -> Vec<Value> {
        st.with_prefix(&rs_gr, &k.0, &format!("{}-", k.1))
            .into_iter()
            .filter(|r| controller_of(r).is_some_and(|(_, _, u)| u == uid))
            .collect()
    };
    let mut rss = owned(st);
    let revision = |r: &Value| -> i64 {
        r.pointer(&format!(
            "/metadata/annotations/{}",
            REVISION.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
    };
    let max_rev = rss.iter().map(revision).max().unwrap_or(0);
    let rs_name = format!("{}-{hash}", k.1);
    let new_idx = rss.iter().position(|r| s(r, "/metadata/name") == rs_name);
    let paused = dep.pointer("/spec/paused") == Some(&json!(true));
    let rev = match new_idx {
        None if !paused => {
            let mut t = template.clone();
            t["metadata"]["labels"][HASH_LABEL] = json!(hash);
            let mut selector = dep.pointer("/spec/selector").cloned().unwrap_or(json!({}));
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or(json!({}));
            labels[HASH_LABEL] = json!(hash);
            let desired = wl::desired_replicas(&dep);
            let initial =
                if rss.iter().all(|r| wl::desired_replicas(r) == 0) && !wl::is_recreate(&dep) {
                    desired
                } else {
                    0
                };
            let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": k.0, "labels": labels,
                    "annotations": {REVISION: (max_rev + 1).to_string(),
                        "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                        "deployment.kubernetes.io/max-replicas": desired.to_string()},
                    "ownerReferences": owner_ref(&dep, "apps/v1", "Deployment")},
                "spec": {"replicas": initial, "selector": selector, "template": t,
                    "minReadySeconds": dep.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0))}});
            let ctx = WriteCtx {
                field_manager: Some("deployment-controller".into()),
                ..WriteCtx::default()
            };
            if let Err(e) = st.create(&rs_def, Some(&k.0), rs, &ctx) {
                tracing::warn!(%e, "creating ReplicaSet {}/{rs_name}", k.0);
                return None;
            }
            rss = owned(st);
            max_rev + 1
        }
        Some(i) if revision(&rss[i]) < max_rev && !paused => {
            // Rolled back to an older template: its ReplicaSet becomes the newest revision.
            let mut r = rss[i].clone();
            r["metadata"]["annotations"][REVISION] = json!((max_rev + 1).to_string());
            st.write_object(&rs_gr, &k.0, &rs_name, r, "deployment-controller");
            rss = owned(st);
            max_rev + 1
        }
        _ => max_rev,
    };
    if rev > 0 && revision(&dep) != rev {
        let mut d = dep.clone();
        d["metadata"]["annotations"][REVISION] = json!(rev.to_string());
        st.write_object(&dep_gr, &k.0, &k.1, d, "deployment-controller");
    }
    let views: Vec<RsView> = rss.iter().map(RsView::of).collect();
    let new = views.iter().find(|v| v.name == rs_name).cloned();
    let old: Vec<RsView> = views
        .iter()
        .filter(|v| v.name != rs_name)
        .cloned()
        .collect();
    if let Some(n) = &new
        && !paused
    {
        for (name, replicas) in wl::plan_rollout(&dep, n, &old) {
            if let Some(mut r) = rss.iter().find(|r| s(r, "/metadata/name") == name).cloned() {
                r["spec"]["replicas"] = json!(replicas);
                st.write_object(&rs_gr, &k.0, &name, r, "deployment-controller");
            }
        }
    }
    // History: old, scaled-down ReplicaSets beyond the limit go, oldest first.
    let limit = dep
        .pointer("/spec/revisionHistoryLimit")
        .and_then(Value::as_i64)
        .unwrap_or(10)
        .max(0) as usize;
    let mut spent: Vec<&Value> = rss
        .iter()
        .filter(|r| {
            s(r, "/metadata/name") != rs_name
                && wl::desired_replicas(r) == 0
                && r.pointer("/status/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    == 0
        })
        .collect();
    if spent.len() > limit {
        spent.sort_by_key(|r| revision(r));
        let extra = spent.len() - limit;
        for r in spent.into_iter().take(extra) {
            let _ = st.delete(
                &rs_def,
                Some(&k.0),
                s(r, "/metadata/name"),
                &DeleteOpts::default(),
            );
        }
    }
    let dep = st.one(&dep_gr, &k.0, &k.1)?;
    let now = util::now_unix();
    let failed = st.failing_deployments.contains(k)
        || wl::progress_deadline_exceeded(&dep, new.as_ref(), &views, now);
    let status = wl::deployment_status(
        &dep,
        new.as_ref(),
        &views,
        failed,
        &util::format_rfc3339(now),
    );
    st.write_status(&dep_gr, &k.0, &k.1, status);
    // Look again when the progress deadline could pass.
    (!failed && !wl::rollout_complete(wl::desired_replicas(&dep), new.as_ref(), &views)).then(
        || {
            let deadline = dep
                .pointer("/spec/progressDeadlineSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(600)
                .max(0) as u64;
            Instant::now() + Duration::from_secs(deadline + 1)
        },
    )
}

/// The Job controller: pods per [`wl::job_step`] (Indexed pods get their index as an
/// annotation, a label and `JOB_COMPLETION_INDEX`), its status, and deletion
/// `ttlSecondsAfterFinished` after it finished. Returns when to look again for the TTL.
fn job(st: &mut State, k: &Key) -> Option<Instant> {
    let jobs_gr = gr("batch", "jobs");
    let pods_gr = gr("", "pods");
    let job = st.one(&jobs_gr, &k.0, &k.1)?;
    if job.pointer("/metadata/deletionTimestamp").is_some() {
        return None;
    }
    let uid = s(&job, "/metadata/uid").to_owned();
    let owned: Vec<Value> = st
        .with_prefix(&pods_gr, &k.0, &format!("{}-", k.1))
        .into_iter()
        .filter(|p| controller_of(p).is_some_and(|(_, _, u)| u == uid))
        .collect();
    let refs: Vec<&Value> = owned.iter().collect();
    let now = util::now_rfc3339();
    let step = wl::job_step(&job, &refs, &now);
    let pod_def = st.registry.find("", "v1", "pods").cloned()?;
    let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
    for index in &step.create {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": template.get("metadata").cloned().unwrap_or(json!({})),
            "spec": template.get("spec").cloned().unwrap_or(json!({}))});
        let labels = &mut pod["metadata"]["labels"];
        for l in ["batch.kubernetes.io/job-name", "job-name"] {
            labels[l] = json!(k.1);
        }
        for l in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
            labels[l] = json!(uid);
        }
        match index {
            Some(i) => {
                pod["metadata"]["generateName"] = json!(format!("{}-{i}-", k.1));
                pod["metadata"]["annotations"][wl::COMPLETION_INDEX] = json!(i.to_string());
                pod["metadata"]["labels"][wl::COMPLETION_INDEX] = json!(i.to_string());
                if let Some(cs) = pod
                    .pointer_mut("/spec/containers")
                    .and_then(Value::as_array_mut)
                {
                    for c in cs {
                        let env = c
                            .as_object_mut()
                            .map(|m| m.entry("env").or_insert_with(|| json!([])));
                        if let Some(Value::Array(env)) = env {
                            env.push(json!({"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef":
                                {"fieldPath": format!("metadata.annotations['{}']", wl::COMPLETION_INDEX)}}}));
                        }
                    }
                }
            }
            None => pod["metadata"]["generateName"] = json!(format!("{}-", k.1)),
        }
        pod["metadata"]["namespace"] = json!(k.0);
        pod["metadata"]["ownerReferences"] = owner_ref(&job, "batch/v1", "Job");
        let ctx = WriteCtx {
            field_manager: Some("job-controller".into()),
            ..WriteCtx::default()
        };
        if let Err(e) = st.create(&pod_def, Some(&k.0), pod, &ctx) {
            tracing::warn!(%e, "creating a pod of Job {}/{}", k.0, k.1);
            break;
        }
    }
    for name in &step.delete {
        let _ = st.delete(&pod_def, Some(&k.0), name, &DeleteOpts::default());
    }
    st.write_status(&jobs_gr, &k.0, &k.1, step.status.clone());
    // TTL after finishing (Complete or Failed).
    let ttl = job
        .pointer("/spec/ttlSecondsAfterFinished")
        .and_then(Value::as_i64)?;
    let finished_at = step
        .status
        .pointer("/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
        .and_then(|c| c["lastTransitionTime"].as_str())
        .and_then(util::parse_rfc3339)?;
    let left = finished_at + ttl - util::now_unix();
    if left <= 0 {
        let def = st.registry.find("batch", "v1", "jobs").cloned()?;
        let opts = DeleteOpts {
            propagation: super::store::Propagation::Foreground,
            ..DeleteOpts::default()
        };
        let _ = st.delete(&def, Some(&k.0), &k.1, &opts);
        None
    } else {
        Some(Instant::now() + Duration::from_secs(left as u64))
    }
}

/// Every PersistentVolumeClaim is bound at once (the kubelet gives each claim a directory
/// of its own): `phase: Bound` with the requested capacity and access modes.
fn bind_claim(st: &mut State, k: &Key) {
    let claims = gr("", "persistentvolumeclaims");
    let Some(pvc) = st.one(&claims, &k.0, &k.1) else {
        return;
    };
    if s(&pvc, "/status/phase") == "Bound" || pvc.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let mut status = json!({"phase": "Bound"});
    if let Some(m) = pvc.pointer("/spec/accessModes") {
        status["accessModes"] = m.clone();
    }
    if let Some(r) = pvc.pointer("/spec/resources/requests/storage") {
        status["capacity"] = json!({"storage": r});
    }
    st.write_status(&claims, &k.0, &k.1, status);
}
