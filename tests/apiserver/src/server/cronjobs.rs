//! The CronJob controller's shell: once a second it applies
//! [`crate::semantics::cronjob::cronjob_step`] to every CronJob — creating its Jobs
//! (owned by it, so garbage collection removes them), deleting replaced and surplus
//! ones, and writing its status. The decisions depend only on the stored objects and
//! the time, so a test drives it by setting `status.lastScheduleTime`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Shared;
use super::registry::GroupResource;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{DeleteOpts, State, WriteCtx};
use super::util;
use crate::semantics::cronjob::cronjob_step;

fn gr(group: &str, resource: &str) -> GroupResource {
    GroupResource {
        group: group.into(),
        resource: resource.into(),
    }
}

/// Runs until the server shuts down.
pub async fn run(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let mut st = shared.lock();
        let now = util::now_unix();
        for (ns, name, ..) in st.heads(&gr("batch", "cronjobs")) {
            reconcile(&mut st, &ns, &name, now);
        }
    }
}

/// One CronJob at `now` (Unix seconds).
pub fn reconcile(st: &mut State, ns: &str, name: &str, now: i64) {
    let cronjobs = gr("batch", "cronjobs");
    let Some(cj) = st.one(&cronjobs, ns, name) else {
        return;
    };
    let uid = cj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let controlled_by_it = |j: &Value| {
        j.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|rs| {
                rs.iter()
                    .any(|r| r["controller"] == true && r["uid"] == uid.as_str())
            })
    };
    let Some(job_def) = st.registry.find("batch", "v1", "jobs").cloned() else {
        return;
    };
    // Every Job it controls, whatever its name (`kubectl create job --from=cronjob/x`).
    let jobs: Vec<Value> = st
        .list(
            &job_def,
            Some(ns),
            &LabelSelector::default(),
            &FieldSelector::default(),
        )
        .into_iter()
        .filter(|j| controlled_by_it(j) && j.pointer("/metadata/deletionTimestamp").is_none())
        .collect();
    let refs: Vec<&Value> = jobs.iter().collect();
    let mut step = cronjob_step(&cj, &refs, now);
    if let Some(e) = &step.error {
        tracing::debug!(%e, "CronJob {ns}/{name} cannot be scheduled");
    }
    for j in &step.delete {
        let opts = DeleteOpts {
            propagation: super::store::Propagation::Background,
            ..DeleteOpts::default()
        };
        let _ = st.delete(&job_def, Some(ns), j, &opts);
    }
    if let Some(mut job) = step.create.take() {
        job["metadata"]["namespace"] = json!(ns);
        job["metadata"]["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "CronJob",
            "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
        let ctx = WriteCtx {
            field_manager: Some("cronjob-controller".into()),
            ..WriteCtx::default()
        };
        match st.create(&job_def, Some(ns), job, &ctx) {
            Ok(created) => {
                let r = json!({"apiVersion": "batch/v1", "kind": "Job",
                    "name": created.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
                    "namespace": ns,
                    "uid": created.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
                    "resourceVersion": created.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)});
                match step.status.get_mut("active").and_then(Value::as_array_mut) {
                    Some(a) => a.push(r),
                    None => step.status["active"] = json!([r]),
                }
            }
            Err(e) => {
                tracing::warn!(%e, "creating a Job of CronJob {ns}/{name}");
                // Not scheduled after all: keep the old lastScheduleTime so it is retried.
                match cj.pointer("/status/lastScheduleTime") {
                    Some(t) => step.status["lastScheduleTime"] = t.clone(),
                    None => {
                        if let Some(m) = step.status.as_object_mut() {
                            m.remove("lastScheduleTime");
                        }
                    }
                }
            }
        }
    }
    st.write_status(&cronjobs, ns, name, step.status);
}
