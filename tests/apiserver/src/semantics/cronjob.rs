//! The CronJob controller's decisions (batch/v1), as kube-controller-manager's
//! cronjob-controller-v2 makes them: which Job to create for the most recent missed
//! schedule (named `{cronjob}-{minutes since the epoch}`), `suspend`,
//! `concurrencyPolicy` Allow/Forbid/Replace, `startingDeadlineSeconds`, the history
//! limits, and `status.active`/`lastScheduleTime`/`lastSuccessfulTime`. Pure: the
//! CronJob, its Jobs and the time are passed in.

use serde_json::{Value, json};

use super::cron::Schedule;

/// The annotation real CronJob Jobs carry: the scheduled time (RFC 3339).
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// What to do for one CronJob now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CronStep {
    /// A Job to create (metadata, spec; ownerReferences and namespace are the shell's).
    pub create: Option<Value>,
    /// Jobs to delete (Replace's running ones, and those beyond the history limits).
    pub delete: Vec<String>,
    /// The CronJob's new status (without the Job created now in `active`).
    pub status: Value,
    /// When to look again (Unix seconds), if a schedule lies ahead.
    pub next: Option<i64>,
    /// Why nothing could be scheduled (an unparseable schedule or time zone).
    pub error: Option<String>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn finished(job: &Value) -> Option<&'static str> {
    let conds = job.pointer("/status/conditions")?.as_array()?;
    ["Complete", "Failed"].into_iter().find(|t| {
        conds
            .iter()
            .any(|c| c["type"] == *t && c["status"] == "True")
    })
}

fn job_ref(job: &Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "name": s(job, "/metadata/name"), "namespace": s(job, "/metadata/namespace"),
        "uid": s(job, "/metadata/uid"), "resourceVersion": s(job, "/metadata/resourceVersion")})
}

/// A time zone the controller can use: UTC only (no time-zone database is bundled).
fn check_time_zone(cj: &Value) -> Result<(), String> {
    match cj.pointer("/spec/timeZone").and_then(Value::as_str) {
        None | Some("UTC" | "Etc/UTC" | "Etc/GMT" | "GMT") => Ok(()),
        Some(tz) => Err(format!(
            "spec.timeZone: {tz:?} is not supported by this test server (only UTC)"
        )),
    }
}

/// The decisions for `cj`, given the Jobs it controls and the time `now` (Unix seconds).
pub fn cronjob_step(cj: &Value, jobs: &[&Value], now: i64) -> CronStep {
    let name = s(cj, "/metadata/name");
    let mut status = cj.get("status").cloned().unwrap_or_else(|| json!({}));
    if !status.is_object() {
        status = json!({});
    }
    let mut step = CronStep::default();

    // Active Jobs, last success, history.
    let mut active: Vec<&Value> = Vec::new();
    let mut succeeded: Vec<&Value> = Vec::new();
    let mut failed: Vec<&Value> = Vec::new();
    for j in jobs {
        match finished(j) {
            None => active.push(j),
            Some("Complete") => succeeded.push(j),
            Some(_) => failed.push(j),
        }
    }
    let last_success = succeeded
        .iter()
        .map(|j| s(j, "/status/completionTime"))
        .chain(std::iter::once(s(&status, "/lastSuccessfulTime")))
        .filter(|t| !t.is_empty())
        .filter_map(|t| crate::server::util::parse_rfc3339(t).map(|u| (u, t)))
        .max_by_key(|(u, _)| *u);
    if let Some((_, t)) = last_success {
        status["lastSuccessfulTime"] = json!(t);
    }
    let limit = |field: &str, default: i64| {
        cj.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_i64)
            .unwrap_or(default)
            .max(0) as usize
    };
    for (mut list, keep) in [
        (succeeded, limit("successfulJobsHistoryLimit", 3)),
        (failed, limit("failedJobsHistoryLimit", 1)),
    ] {
        list.sort_by_key(|j| {
            (
                crate::server::util::parse_rfc3339(s(j, "/status/startTime"))
                    .or_else(|| {
                        crate::server::util::parse_rfc3339(s(j, "/metadata/creationTimestamp"))
                    })
                    .unwrap_or(0),
                s(j, "/metadata/name").to_owned(),
            )
        });
        let extra = list.len().saturating_sub(keep);
        step.delete.extend(
            list[..extra]
                .iter()
                .map(|j| s(j, "/metadata/name").to_owned()),
        );
    }

    let set_active = |status: &mut Value, active: &[&Value]| {
        if active.is_empty() {
            if let Some(m) = status.as_object_mut() {
                m.remove("active");
            }
        } else {
            status["active"] = json!(active.iter().map(|j| job_ref(j)).collect::<Vec<_>>());
        }
    };
    set_active(&mut status, &active);
    step.status = status;

    if cj.pointer("/metadata/deletionTimestamp").is_some() {
        return step;
    }
    let schedule = match check_time_zone(cj)
        .and_then(|()| Schedule::parse(s(cj, "/spec/schedule")).map_err(|e| e.to_string()))
    {
        Ok(sc) => sc,
        Err(e) => {
            step.error = Some(e);
            return step;
        }
    };
    step.next = schedule.next_after(now);
    if cj.pointer("/spec/suspend") == Some(&Value::Bool(true)) {
        return step;
    }

    // The most recent schedule in (earliest, now].
    let parse = crate::server::util::parse_rfc3339;
    let mut earliest = parse(s(cj, "/status/lastScheduleTime"))
        .or_else(|| parse(s(cj, "/metadata/creationTimestamp")))
        .unwrap_or(now);
    let deadline = cj
        .pointer("/spec/startingDeadlineSeconds")
        .and_then(Value::as_i64);
    if let Some(d) = deadline {
        earliest = earliest.max(now - d);
    }
    let mut scheduled = None;
    let mut t = earliest;
    // Bounded: a schedule missed more often than this is taken at its latest time anyway.
    for _ in 0..100_000 {
        match schedule.next_after(t) {
            Some(n) if n <= now => {
                scheduled = Some(n);
                t = n;
            }
            _ => break,
        }
    }
    let Some(when) = scheduled else {
        return step;
    };
    let job_name = format!("{name}-{}", when / 60);
    if jobs.iter().any(|j| s(j, "/metadata/name") == job_name) {
        return step;
    }
    match s(cj, "/spec/concurrencyPolicy") {
        "Forbid" if !active.is_empty() => return step,
        "Replace" => {
            step.delete
                .extend(active.iter().map(|j| s(j, "/metadata/name").to_owned()));
            set_active(&mut step.status, &[]);
        }
        _ => {}
    }
    let template = cj
        .pointer("/spec/jobTemplate")
        .cloned()
        .unwrap_or(json!({}));
    let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
    if !meta.is_object() {
        meta = json!({});
    }
    meta["name"] = json!(job_name);
    meta["annotations"][SCHEDULED_TIMESTAMP] = json!(crate::server::util::format_rfc3339(when));
    step.create = Some(
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or(json!({}))}),
    );
    step.status["lastScheduleTime"] = json!(crate::server::util::format_rfc3339(when));
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        crate::server::util::parse_rfc3339(s).expect(s)
    }

    fn cj(extra: Value) -> Value {
        let mut c = json!({"metadata": {"name": "nightly", "namespace": "ns",
            "creationTimestamp": "2026-03-01T10:00:30Z"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"metadata": {"labels": {"a": "b"}},
                "spec": {"template": {"spec": {"containers": []}}}}}});
        crate::semantics::patch::merge_patch(&c, &extra).clone_into(&mut c);
        c
    }

    fn job(name: &str, done: Option<&str>, start: &str) -> Value {
        let mut j = json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("u-{name}"),
            "creationTimestamp": start}, "status": {"startTime": start}});
        if let Some(d) = done {
            j["status"]["conditions"] = json!([{"type": d, "status": "True"}]);
            j["status"]["completionTime"] = json!(start);
        }
        j
    }

    #[test]
    fn creates_the_most_recent_missed_run_once() {
        let c = cj(json!({}));
        let step = cronjob_step(&c, &[], t("2026-03-01T10:12:00Z"));
        let created = step.create.expect("a job");
        let want = format!("nightly-{}", t("2026-03-01T10:10:00Z") / 60);
        assert_eq!(created["metadata"]["name"], want);
        assert_eq!(created["metadata"]["labels"]["a"], "b");
        assert_eq!(
            created["metadata"]["annotations"][SCHEDULED_TIMESTAMP],
            "2026-03-01T10:10:00Z"
        );
        assert_eq!(step.status["lastScheduleTime"], "2026-03-01T10:10:00Z");
        assert_eq!(step.next, Some(t("2026-03-01T10:15:00Z")));
        // Already created: nothing more.
        let j = job(&want, None, "2026-03-01T10:10:00Z");
        let step = cronjob_step(&c, &[&j], t("2026-03-01T10:12:00Z"));
        assert!(step.create.is_none());
        assert_eq!(step.status["active"][0]["name"], want.as_str());
        // Before the first schedule: nothing, look again at it.
        let step = cronjob_step(&c, &[], t("2026-03-01T10:04:00Z"));
        assert!(step.create.is_none());
        assert_eq!(step.next, Some(t("2026-03-01T10:05:00Z")));
    }

    #[test]
    fn suspend_deadline_and_concurrency() {
        let now = t("2026-03-01T10:12:00Z");
        assert!(
            cronjob_step(&cj(json!({"spec": {"suspend": true}})), &[], now)
                .create
                .is_none()
        );
        // 10:10 is 120 s ago: outside a 60 s deadline, inside a 300 s one.
        let late = cj(json!({"spec": {"startingDeadlineSeconds": 60}}));
        assert!(cronjob_step(&late, &[], now).create.is_none());
        let ok = cj(json!({"spec": {"startingDeadlineSeconds": 300}}));
        assert!(cronjob_step(&ok, &[], now).create.is_some());

        let running = job("nightly-1", None, "2026-03-01T10:05:00Z");
        let forbid = cj(json!({"spec": {"concurrencyPolicy": "Forbid"}}));
        assert!(cronjob_step(&forbid, &[&running], now).create.is_none());
        let allow = cj(json!({"spec": {"concurrencyPolicy": "Allow"}}));
        let step = cronjob_step(&allow, &[&running], now);
        assert!(step.create.is_some() && step.delete.is_empty());
        let replace = cj(json!({"spec": {"concurrencyPolicy": "Replace"}}));
        let step = cronjob_step(&replace, &[&running], now);
        assert!(step.create.is_some());
        assert_eq!(step.delete, vec!["nightly-1".to_owned()]);
        assert!(step.status.get("active").is_none());
    }

    #[test]
    fn history_limits_and_last_success() {
        let c = cj(
            json!({"spec": {"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0},
            "status": {"lastScheduleTime": "2026-03-01T10:10:00Z"}}),
        );
        let a = job("a", Some("Complete"), "2026-03-01T10:00:00Z");
        let b = job("b", Some("Complete"), "2026-03-01T10:05:00Z");
        let f = job("f", Some("Failed"), "2026-03-01T10:06:00Z");
        let step = cronjob_step(&c, &[&b, &a, &f], t("2026-03-01T10:12:00Z"));
        assert_eq!(step.delete, vec!["a".to_owned(), "f".to_owned()]);
        assert_eq!(step.status["lastSuccessfulTime"], "2026-03-01T10:05:00Z");
        assert!(step.create.is_none(), "10:10 was already scheduled");
    }

    #[test]
    fn bad_schedule_or_zone_is_an_error() {
        let step = cronjob_step(&cj(json!({"spec": {"schedule": "61 * * * *"}})), &[], 0);
        assert!(step.error.expect("error").contains("minute out of range"));
        let step = cronjob_step(&cj(json!({"spec": {"timeZone": "Europe/Paris"}})), &[], 0);
        assert!(step.error.expect("error").contains("spec.timeZone"));
    }
}
