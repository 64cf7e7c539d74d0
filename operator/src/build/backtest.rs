//! A Backtest bot's Job: `tradewind-bot backtest` over the data `spec.backtest.data`
//! names, with the bot's resolved configuration in a ConfigMap of the Job's own (so an
//! edit never changes what a running Job reads). The Job's name carries the hash of
//! everything that decides the result (the resolved bot, Strategy and CommissionPlan,
//! the data reference and the image): an edit makes a new Job, an unchanged bot keeps
//! its one. The pod leaves its summary (or its error) as the container's termination
//! message, which [`outcome`] reads back.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar,
    PersistentVolumeClaimVolumeSource, Pod, PodSecurityContext, PodSpec, PodTemplateSpec,
    SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tradewind_crds::contract::backtest::{
    self as contract, CLAIMS_DIR, COMPONENT, COMPONENT_LABEL, CONTAINER, TERMINATION_LOG,
};
use tradewind_crds::contract::{CONFIG_DIR, CONFIG_FILE, CONFIG_PATH, env as worker_env};
use tradewind_crds::resolved::BotConfig;
use tradewind_crds::sweep::{COMBINATIONS_FILE, SliceReport, SweepPlan};
use tradewind_crds::{BacktestData, BacktestReports, BacktestSummary, TradingBot};

use super::{BuildError, bot_labels, child_meta, config_hash};

/// User and group the backtest runs as (the worker image's non-root user).
const RUN_AS: i64 = 65532;
/// Scratch space (reports before an upload, a downloaded file): the root is read-only.
const SCRATCH_DIR: &str = "/tmp";
/// Retries of a failed pod before the Job fails (a bad configuration fails every time,
/// a lost node once).
const BACKOFF_LIMIT: i32 = 2;
/// Retries of a sweep's failed index (its pod failed as a whole: unreadable data, a lost
/// node) before the index is given up and its combinations reported missing. A failing
/// combination does not fail its pod: it is reported by name.
const BACKOFF_LIMIT_PER_INDEX: i32 = 1;

/// A Backtest bot's Job and the ConfigMap it reads.
#[derive(Clone, Debug, PartialEq)]
pub struct BacktestJob {
    /// The resolved configuration, named like the Job.
    pub config_map: ConfigMap,
    /// The Job.
    pub job: Job,
    /// The hash in the Job's name.
    pub hash: String,
    /// Where the reports will be, if the bot asks for them.
    pub report: Option<String>,
    /// A sweep's plan (the Job is then Indexed, one slice of it per index).
    pub sweep: Option<SweepPlan>,
}

/// Value of `app.kubernetes.io/name` on a bot's backtest Jobs and pods: not the worker's,
/// so the worker's Service and NetworkPolicy never select a backtest pod.
const BACKTEST_NAME: &str = "tradewind-backtest";

/// Labels of a bot's backtest Jobs (and their ConfigMaps and pods): the bot's, under
/// their own name, and the component.
pub fn backtest_labels(bot: &str) -> BTreeMap<String, String> {
    let mut l = bot_labels(bot);
    l.insert(
        tradewind_crds::contract::labels::NAME.into(),
        BACKTEST_NAME.into(),
    );
    l.insert(COMPONENT_LABEL.into(), COMPONENT.into());
    l
}

/// The label selector of a bot's backtest Jobs.
pub fn backtest_selector(bot: &str) -> String {
    backtest_labels(bot)
        .iter()
        .filter(|(k, _)| {
            *k == tradewind_crds::contract::labels::INSTANCE
                || *k == COMPONENT_LABEL
                || *k == tradewind_crds::contract::labels::MANAGED_BY
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Where a claim is mounted in the backtest's pod.
fn claim_dir(claim: &str) -> String {
    format!("{CLAIMS_DIR}/{claim}")
}

/// The `--data` of the data reference, and the claim it reads (if any).
fn data_arg(data: &BacktestData) -> (String, Option<&str>) {
    if let Some(a) = &data.archive {
        return (a.clone(), None);
    }
    if let Some(u) = &data.url {
        return (u.clone(), None);
    }
    let Some(v) = &data.volume else {
        // CEL makes this unreachable; an empty --data fails with a clear message.
        return (String::new(), None);
    };
    let path = format!("{}/{}", claim_dir(&v.claim_name), v.path);
    // A range of archived days under the path.
    let arg = if v.path.contains('?') {
        format!("archive:{path}")
    } else {
        path
    };
    (arg, Some(v.claim_name.as_str()))
}

/// `(--out, --report-to, the claim written, the location shown in the status)`.
fn report_args(
    reports: Option<&BacktestReports>,
    bot: &str,
    job: &str,
) -> (String, Option<String>, Option<String>, Option<String>) {
    let scratch = format!("{SCRATCH_DIR}/reports");
    match reports {
        Some(BacktestReports {
            volume: Some(v), ..
        }) => {
            let rel = format!("{}/{bot}/{job}", v.path.trim_end_matches('/'));
            (
                format!("{}/{rel}", claim_dir(&v.claim_name)),
                None,
                Some(v.claim_name.clone()),
                Some(format!("pvc://{}/{rel}/", v.claim_name)),
            )
        }
        Some(BacktestReports { blob: Some(b), .. }) => {
            let to = format!("{}/{bot}/{job}", b.trim_end_matches('/'));
            (scratch, Some(to.clone()), None, Some(format!("{to}/")))
        }
        _ => (scratch, None, None, None),
    }
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

/// Builds the Job of a Backtest bot whose `spec.backtest.data` is set (`None` otherwise).
pub fn backtest_job(
    bot: &TradingBot,
    cfg: &BotConfig,
    image: &str,
) -> Result<Option<BacktestJob>, BuildError> {
    let Some(spec) = bot.spec.backtest.as_ref() else {
        return Ok(None);
    };
    let Some(data) = spec.data.as_ref() else {
        return Ok(None);
    };
    let name = bot
        .metadata
        .name
        .as_deref()
        .ok_or(BuildError::MissingMetadata("name"))?;
    // The resolved configuration holds the bot's spec (data and reports included), the
    // Strategy's and the CommissionPlan's: with the image, everything that decides.
    let hash = config_hash(cfg, image)?;
    let job_name = contract::job_name(name, &hash);
    let labels = backtest_labels(name);
    let mut meta = child_meta(bot, job_name.clone())?;
    meta.labels = Some(labels.clone());

    let json =
        serde_json::to_string_pretty(cfg).map_err(|e| BuildError::Serialise(e.to_string()))?;
    let mut files = BTreeMap::from([(CONFIG_FILE.to_owned(), json)]);
    // A sweep: its combinations, checked against the Strategy, in the ConfigMap; the
    // Job's indexes are its slices.
    let sweep = match &spec.sweep {
        Some(sweep) => {
            let combinations = tradewind_crds::sweep::check(sweep, &cfg.strategy)?;
            let (plan, slices) = SweepPlan::new(sweep, combinations);
            let json =
                serde_json::to_string(&plan).map_err(|e| BuildError::Serialise(e.to_string()))?;
            files.insert(COMBINATIONS_FILE.to_owned(), json);
            Some((plan, slices as i32, sweep.parallelism))
        }
        None => None,
    };
    let config_map = ConfigMap {
        metadata: meta.clone(),
        data: Some(files),
        ..ConfigMap::default()
    };

    let (data_arg, data_claim) = data_arg(data);
    let (out, report_to, report_claim, report) =
        report_args(spec.reports.as_ref(), name, &job_name);
    // Each claim once, writable only when the reports go there.
    let mut claims: BTreeMap<String, bool> = BTreeMap::new();
    if let Some(c) = data_claim {
        claims.insert(c.to_owned(), true);
    }
    if let Some(c) = report_claim {
        claims.insert(c, false);
    }
    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: job_name.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "scratch".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "scratch".into(),
            mount_path: SCRATCH_DIR.into(),
            ..VolumeMount::default()
        },
    ];
    for (i, (claim, read_only)) in claims.iter().enumerate() {
        let volume = format!("claim-{i}");
        volumes.push(Volume {
            name: volume.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: Some(*read_only),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: volume,
            mount_path: claim_dir(claim),
            read_only: Some(*read_only),
            ..VolumeMount::default()
        });
    }
    let mut vars = vec![
        env(worker_env::CONFIG, CONFIG_PATH),
        env(contract::env::DATA, data_arg),
        env(contract::env::OUT, out),
        env(contract::env::SUMMARY_FILE, TERMINATION_LOG),
    ];
    if let Some(to) = report_to {
        vars.push(env(contract::env::REPORT_TO, to));
    }
    if sweep.is_some() {
        vars.push(env(
            contract::env::SWEEP,
            format!("{CONFIG_DIR}/{COMBINATIONS_FILE}"),
        ));
    }
    let container = Container {
        name: CONTAINER.into(),
        image: Some(image.to_owned()),
        args: Some(vec!["backtest".into()]),
        env: Some(vars),
        resources: bot.spec.resources.clone(),
        termination_message_path: Some(TERMINATION_LOG.into()),
        // The summary or the error is written there; a crash before that leaves the log.
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let job = Job {
        metadata: meta,
        spec: Some(JobSpec {
            backoff_limit: sweep.is_none().then_some(BACKOFF_LIMIT),
            // A sweep: one index per slice, each retried on its own; every index runs
            // even when others failed for good, so the results say which are missing.
            completion_mode: sweep.as_ref().map(|_| "Indexed".to_owned()),
            completions: sweep.as_ref().map(|(_, n, _)| *n),
            parallelism: sweep.as_ref().map(|(_, n, p)| (*p).clamp(1, *n)),
            backoff_limit_per_index: sweep.as_ref().map(|_| BACKOFF_LIMIT_PER_INDEX),
            max_failed_indexes: sweep.as_ref().map(|(_, n, _)| *n),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    // A failed run is a new pod (its own termination message), counted
                    // by the backoff limit.
                    restart_policy: Some("Never".into()),
                    // It calls no Kubernetes API.
                    automount_service_account_token: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(RUN_AS),
                        run_as_group: Some(RUN_AS),
                        fs_group: Some(RUN_AS),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    };
    Ok(Some(BacktestJob {
        config_map,
        job,
        hash,
        report,
        sweep: sweep.map(|(plan, _, _)| plan),
    }))
}

/// Where a backtest Job stands, from the Job and its pods.
#[derive(Clone, Debug, PartialEq)]
pub enum BacktestRun {
    /// Not finished yet.
    Running {
        /// The Job.
        job: String,
    },
    /// Finished; its summary.
    Succeeded(Box<BacktestSummary>),
    /// Failed for good; why, from the pod.
    Failed {
        /// The Job.
        job: String,
        /// What the pod said (its error), or the Job's reason.
        message: String,
    },
}

fn condition_true(job: &Job, type_: &str) -> Option<(String, String)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| {
            (
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

/// The termination message and exit code of the backtest container of `pod`.
fn terminated(pod: &Pod) -> Option<(i32, String)> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let t = statuses
        .iter()
        .find(|s| s.name == CONTAINER)?
        .state
        .as_ref()?
        .terminated
        .as_ref()?;
    Some((t.exit_code, t.message.clone().unwrap_or_default()))
}

/// Reads the outcome of `job` from it and its pods; `report` is where its reports go.
pub fn outcome(job: &Job, pods: &[Pod], report: Option<&str>) -> BacktestRun {
    let name = job.metadata.name.clone().unwrap_or_default();
    let by_time = |p: &&Pod| {
        p.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_default()
    };
    if condition_true(job, "Complete").is_some() {
        let message = pods
            .iter()
            .filter(|p| terminated(p).is_some_and(|(code, _)| code == 0))
            .max_by_key(by_time)
            .and_then(terminated)
            .map(|(_, m)| m);
        return match message.as_deref().map(parse_summary) {
            Some(Ok(mut summary)) => {
                summary.job = Some(name);
                summary.report = report.map(str::to_owned);
                BacktestRun::Succeeded(Box::new(summary))
            }
            Some(Err(e)) => BacktestRun::Failed {
                job: name,
                message: format!("the pod's summary is unreadable: {e}"),
            },
            None => BacktestRun::Failed {
                job: name,
                message: "the Job completed but its pod left no summary".into(),
            },
        };
    }
    if let Some((reason, message)) = condition_true(job, "Failed") {
        let said = pods
            .iter()
            .filter(|p| terminated(p).is_some_and(|(code, m)| code != 0 && !m.trim().is_empty()))
            .max_by_key(by_time)
            .and_then(terminated)
            .map(|(_, m)| last_lines(&m));
        let message = match said {
            Some(m) => m,
            None => format!("{reason}: {message}"),
        };
        return BacktestRun::Failed { job: name, message };
    }
    BacktestRun::Running { job: name }
}

/// The completion index of a sweep's pod.
fn index_of(pod: &Pod) -> Option<usize> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(contract::COMPLETION_INDEX_ANNOTATION)?
        .parse()
        .ok()
}

/// Reads the outcome of a sweep's Indexed Job: each index's report from its succeeded
/// pod; once the Job finished, the ranking, the failed combinations and those of
/// indexes that failed for good (missing). Failed only when no index reported.
pub fn sweep_outcome(
    job: &Job,
    pods: &[Pod],
    plan: &SweepPlan,
    report: Option<&str>,
) -> BacktestRun {
    let name = job.metadata.name.clone().unwrap_or_default();
    let failed = condition_true(job, "Failed");
    let finished = failed.is_some() || condition_true(job, "Complete").is_some();
    if !finished {
        return BacktestRun::Running { job: name };
    }
    let slices = job
        .spec
        .as_ref()
        .and_then(|s| s.completions)
        .unwrap_or_default()
        .max(0) as usize;
    let mut reports: BTreeMap<usize, SliceReport> = BTreeMap::new();
    for pod in pods {
        let (Some(index), Some((0, message))) = (index_of(pod), terminated(pod)) else {
            continue;
        };
        if let Ok(r) = serde_json::from_str::<SliceReport>(message.trim()) {
            reports.insert(index, r);
        }
    }
    let missing: Vec<usize> = (0..slices).filter(|i| !reports.contains_key(i)).collect();
    if reports.is_empty() {
        let said = pods
            .iter()
            .filter(|p| terminated(p).is_some_and(|(code, m)| code != 0 && !m.trim().is_empty()))
            .filter_map(terminated)
            .map(|(_, m)| last_lines(&m))
            .next();
        let message = match (said, failed) {
            (Some(m), _) => m,
            (None, Some((reason, message))) => format!("{reason}: {message}"),
            (None, None) => "the Job completed but its pods left no results".into(),
        };
        return BacktestRun::Failed { job: name, message };
    }
    let reports: Vec<SliceReport> = reports.into_values().collect();
    let outcome = tradewind_crds::sweep::outcome(
        &plan.combinations,
        plan.per_slice,
        &reports,
        &missing,
        plan.metric,
        plan.top,
    );
    BacktestRun::Succeeded(Box::new(BacktestSummary {
        job: Some(name),
        report: report.map(str::to_owned),
        sweep: Some(outcome),
        ..BacktestSummary::default()
    }))
}

/// A termination message as a summary.
pub fn parse_summary(message: &str) -> Result<BacktestSummary, serde_json::Error> {
    serde_json::from_str(message.trim())
}

/// The end of a (log) message: a failed pod's error is its last line, and a condition
/// message must stay short.
fn last_lines(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.len() <= 1024 {
        return tail;
    }
    let mut cut = tail.len() - 1024;
    while !tail.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &tail[cut..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStatus, PodStatus,
    };

    const STRATEGY: &str = r#"
apiVersion: tradewind.dev/v1alpha1
kind: Strategy
metadata: {name: sma, namespace: research}
spec:
  type: SmaCross
  timeframe: 1m
  smaCross: {fastPeriod: 5, slowPeriod: 20}
"#;

    fn bot(backtest: &str) -> TradingBot {
        let yaml = format!(
            r#"
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata: {{name: btc-bt, namespace: research, uid: 6a9c3e0e-0000-4000-8000-000000000001}}
spec:
  mode: Backtest
  strategyRef: {{name: sma}}
  accountRef: {{name: alice}}
  venue: {{exchange: Binance}}
  symbols: [BTCUSDT]
  capital: {{amount: "10000", currency: USDT}}
  backtest: {backtest}
"#
        );
        serde_saphyr::from_str(&yaml).unwrap()
    }

    fn resolve(bot: &TradingBot) -> BotConfig {
        let strategy: tradewind_crds::Strategy = serde_saphyr::from_str(STRATEGY).unwrap();
        tradewind_crds::resolved::resolve(bot, &strategy, None).unwrap()
    }

    fn build(b: &TradingBot) -> BacktestJob {
        backtest_job(b, &resolve(b), "tradewind-bot:1")
            .unwrap()
            .unwrap()
    }

    fn env_of(job: &Job) -> BTreeMap<String, String> {
        job.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn no_job_without_data() {
        let b = bot("{fillModel: NextBarOpen}");
        assert_eq!(backtest_job(&b, &resolve(&b), "img").unwrap(), None);
    }

    #[test]
    fn a_volume_backtest_reads_its_claim_and_writes_reports_to_another() {
        let b = bot(
            "{data: {volume: {claimName: market, path: btc/2024.csv}}, reports: {volume: {claimName: results, path: runs/}}}",
        );
        let j = build(&b);
        let name = j.job.metadata.name.clone().unwrap();
        assert_eq!(name, format!("btc-bt-bt-{}", j.hash));
        assert_eq!(j.config_map.metadata.name.as_deref(), Some(name.as_str()));
        let env = env_of(&j.job);
        assert_eq!(
            env[contract::env::DATA],
            "/var/lib/tradewind/claims/market/btc/2024.csv"
        );
        assert_eq!(
            env[contract::env::OUT],
            format!("/var/lib/tradewind/claims/results/runs/btc-bt/{name}")
        );
        assert_eq!(env[contract::env::SUMMARY_FILE], TERMINATION_LOG);
        assert!(!env.contains_key(contract::env::REPORT_TO));
        assert_eq!(
            j.report.as_deref(),
            Some(format!("pvc://results/runs/btc-bt/{name}/").as_str())
        );
        let pod = j.job.spec.as_ref().unwrap().template.spec.clone().unwrap();
        let claims: Vec<(String, bool)> = pod
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .map(|c| (c.claim_name.clone(), c.read_only.unwrap_or(false)))
            .collect();
        assert_eq!(
            claims,
            vec![("market".into(), true), ("results".into(), false)]
        );
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let c = &pod.containers[0];
        assert_eq!(c.termination_message_path.as_deref(), Some(TERMINATION_LOG));
        assert_eq!(c.args.as_deref(), Some(&["backtest".to_owned()][..]));
        // The owner is the bot; the labels find the bot's Jobs.
        let owner = &j.job.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "TradingBot");
        assert_eq!(owner.controller, Some(true));
        let labels = j.job.metadata.labels.clone().unwrap();
        for pair in backtest_selector("btc-bt").split(',') {
            let (k, v) = pair.split_once('=').unwrap();
            assert_eq!(labels.get(k).map(String::as_str), Some(v), "{pair}");
        }
    }

    #[test]
    fn one_claim_for_data_and_reports_is_mounted_once_writable() {
        let b = bot(
            "{data: {volume: {claimName: lab, path: 'archive/binance/BTCUSDT?from=2024-01-01&to=2024-01-31'}}, reports: {volume: {claimName: lab, path: out}}}",
        );
        let j = build(&b);
        let env = env_of(&j.job);
        assert_eq!(
            env[contract::env::DATA],
            "archive:/var/lib/tradewind/claims/lab/archive/binance/BTCUSDT?from=2024-01-01&to=2024-01-31"
        );
        let pod = j.job.spec.as_ref().unwrap().template.spec.clone().unwrap();
        let claims: Vec<_> = pod
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.persistent_volume_claim.clone())
            .collect();
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].read_only, Some(false));
    }

    #[test]
    fn blob_data_and_reports_pass_through() {
        let b = bot(
            "{data: {archive: 'blob://acct/md/binance/BTCUSDT?from=2024-01-01&to=2024-12-31'}, reports: {blob: 'blob://acct/reports/'}}",
        );
        let j = build(&b);
        let name = j.job.metadata.name.clone().unwrap();
        let env = env_of(&j.job);
        assert_eq!(
            env[contract::env::DATA],
            "blob://acct/md/binance/BTCUSDT?from=2024-01-01&to=2024-12-31"
        );
        assert_eq!(
            env[contract::env::REPORT_TO],
            format!("blob://acct/reports/btc-bt/{name}")
        );
        assert_eq!(env[contract::env::OUT], "/tmp/reports");
    }

    #[test]
    fn the_hash_moves_with_the_bot_the_strategy_and_the_data_only() {
        let b = bot("{data: {url: 'https://example.com/a.csv'}}");
        let base = build(&b).hash;
        assert_eq!(build(&b).hash, base, "an unchanged bot keeps its Job");
        // Metadata that decides nothing (a label) keeps it.
        let mut labelled = b.clone();
        labelled.metadata.labels = Some(BTreeMap::from([("team".into(), "x".into())]));
        assert_eq!(build(&labelled).hash, base);
        // The data.
        let other = bot("{data: {url: 'https://example.com/b.csv'}}");
        assert_ne!(build(&other).hash, base);
        // The bot's spec.
        let mut more = b.clone();
        more.spec.capital.amount = serde_json::from_value(serde_json::json!("20000")).unwrap();
        assert_ne!(build(&more).hash, base);
        // The Strategy.
        let mut strategy: tradewind_crds::Strategy = serde_saphyr::from_str(STRATEGY).unwrap();
        strategy.spec.sma_cross.as_mut().unwrap().fast_period = 6;
        let cfg = tradewind_crds::resolved::resolve(&b, &strategy, None).unwrap();
        let edited = backtest_job(&b, &cfg, "tradewind-bot:1").unwrap().unwrap();
        assert_ne!(edited.hash, base);
        // The image.
        let image = backtest_job(&b, &resolve(&b), "tradewind-bot:2")
            .unwrap()
            .unwrap();
        assert_ne!(image.hash, base);
    }

    fn job(condition: Option<(&str, &str)>) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("btc-bt-bt-00".into()),
                ..ObjectMeta::default()
            },
            status: Some(JobStatus {
                conditions: condition.map(|(t, r)| {
                    vec![JobCondition {
                        type_: t.into(),
                        status: "True".into(),
                        reason: Some(r.into()),
                        message: Some("Job has reached the specified backoff limit".into()),
                        ..JobCondition::default()
                    }]
                }),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    fn pod(code: i32, message: &str) -> Pod {
        Pod {
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: CONTAINER.into(),
                    state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code: code,
                            message: Some(message.into()),
                            ..ContainerStateTerminated::default()
                        }),
                        ..ContainerState::default()
                    }),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn a_completed_job_gives_the_pods_summary() {
        let summary = r#"{"bars":1440,"trades":7,"finalEquity":"10123.45","sharpe":"1.2"}"#;
        let run = outcome(
            &job(Some(("Complete", "CompletionsReached"))),
            &[pod(1, "error: boom"), pod(0, summary)],
            Some("pvc://r/x/"),
        );
        let BacktestRun::Succeeded(s) = run else {
            panic!("{run:?}")
        };
        assert_eq!(s.bars, 1440);
        assert_eq!(s.trades, 7);
        assert_eq!(s.final_equity.as_deref(), Some("10123.45"));
        assert_eq!(s.job.as_deref(), Some("btc-bt-bt-00"));
        assert_eq!(s.report.as_deref(), Some("pvc://r/x/"));
    }

    #[test]
    fn a_failed_job_says_what_the_pod_said() {
        let run = outcome(
            &job(Some(("Failed", "BackoffLimitExceeded"))),
            &[pod(1, "reading the data\nerror: data.csv: no such file\n")],
            None,
        );
        assert_eq!(
            run,
            BacktestRun::Failed {
                job: "btc-bt-bt-00".into(),
                message: "reading the data | error: data.csv: no such file".into()
            }
        );
        // No message: the Job's reason.
        let run = outcome(&job(Some(("Failed", "DeadlineExceeded"))), &[], None);
        let BacktestRun::Failed { message, .. } = run else {
            panic!()
        };
        assert!(message.starts_with("DeadlineExceeded: "), "{message}");
        // An unreadable summary is a failure, not a silent empty status.
        let run = outcome(
            &job(Some(("Complete", "CompletionsReached"))),
            &[pod(0, "not json")],
            None,
        );
        assert!(matches!(run, BacktestRun::Failed { .. }), "{run:?}");
        assert_eq!(
            outcome(&job(None), &[], None),
            BacktestRun::Running {
                job: "btc-bt-bt-00".into()
            }
        );
    }

    const SWEEP: &str = "{data: {url: 'https://example.com/a.csv'}, reports: {volume: {claimName: results, path: runs}}, sweep: {parameters: [{name: fastPeriod, from: '5', to: '10', step: '5'}, {name: slowPeriod, values: ['20', '30']}], metric: totalReturn, parallelism: 2, top: 3}}";

    #[test]
    fn a_sweep_is_one_indexed_job_with_its_plan_in_the_config_map() {
        let b = bot(SWEEP);
        let j = build(&b);
        let spec = j.job.spec.clone().unwrap();
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        // 4 combinations at parallelism 2: two slices of two.
        assert_eq!(spec.completions, Some(2));
        assert_eq!(spec.parallelism, Some(2));
        assert_eq!(spec.backoff_limit_per_index, Some(BACKOFF_LIMIT_PER_INDEX));
        // Every index runs even when others failed for good.
        assert_eq!(spec.max_failed_indexes, Some(2));
        assert_eq!(spec.backoff_limit, None);
        let env = env_of(&j.job);
        assert_eq!(
            env[contract::env::SWEEP],
            format!("{CONFIG_DIR}/{COMBINATIONS_FILE}")
        );
        let data = j.config_map.data.clone().unwrap();
        let plan: SweepPlan = serde_json::from_str(&data[COMBINATIONS_FILE]).unwrap();
        assert_eq!(Some(&plan), j.sweep.as_ref());
        assert_eq!(plan.per_slice, 2);
        assert_eq!(plan.top, 3);
        assert_eq!(plan.combinations.len(), 4);
        assert_eq!(plan.slice(1)[0]["fastPeriod"], "10");
        // A plain backtest of the same bot is another Job.
        let plain = build(&bot("{data: {url: 'https://example.com/a.csv'}}"));
        assert_ne!(plain.hash, j.hash);
        assert_eq!(plain.job.spec.unwrap().completion_mode, None);
        assert!(plain.sweep.is_none());
    }

    #[test]
    fn a_sweep_of_a_parameter_the_strategy_lacks_is_refused_by_name() {
        let b = bot(
            "{data: {url: 'https://example.com/a.csv'}, sweep: {parameters: [{name: oversold, values: ['30']}]}}",
        );
        let err = backtest_job(&b, &resolve(&b), "img").unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.backtest.sweep: sweep parameter oversold: a SmaCross Strategy has no such parameter"
        );
    }

    fn indexed_pod(index: usize, code: i32, message: &str) -> Pod {
        let mut p = pod(code, message);
        p.metadata.annotations = Some(BTreeMap::from([(
            contract::COMPLETION_INDEX_ANNOTATION.to_owned(),
            index.to_string(),
        )]));
        p
    }

    fn with_completions(mut j: Job, n: i32) -> Job {
        j.spec = Some(JobSpec {
            completions: Some(n),
            ..JobSpec::default()
        });
        j
    }

    #[test]
    fn a_sweeps_outcome_ranks_its_slices_and_names_the_missing() {
        let b = bot(SWEEP);
        let plan = build(&b).sweep.unwrap();
        let report = |index: u32, value: &str| SliceReport {
            index,
            combinations: 2,
            completed: 1,
            top: vec![tradewind_crds::SweepResult {
                parameters: plan.slice(index as usize)[1].clone(),
                value: Some(value.into()),
                ..Default::default()
            }],
            failed: vec![tradewind_crds::SweepFailure {
                parameters: plan.slice(index as usize)[0].clone(),
                error: "fastPeriod must be smaller than slowPeriod".into(),
            }],
        };
        let ok = |i: u32, v: &str| indexed_pod(i as usize, 0, &report(i, v).message(4096));
        // Still running: nothing read.
        let running = with_completions(job(None), 2);
        assert!(matches!(
            sweep_outcome(&running, &[ok(0, "0.1")], &plan, None),
            BacktestRun::Running { .. }
        ));
        // Complete: both slices ranked together.
        let done = with_completions(job(Some(("Complete", "CompletionsReached"))), 2);
        let run = sweep_outcome(
            &done,
            &[ok(0, "0.1"), ok(1, "0.3")],
            &plan,
            Some("pvc://r/x/"),
        );
        let BacktestRun::Succeeded(s) = run else {
            panic!("{run:?}")
        };
        let o = s.sweep.unwrap();
        assert_eq!((o.combinations, o.completed), (4, 2));
        assert_eq!(o.ranking[0].value.as_deref(), Some("0.3"));
        assert_eq!(o.failed.len(), 2);
        assert!(o.missing.is_empty());
        assert_eq!(s.report.as_deref(), Some("pvc://r/x/"));
        // Index 1 failed for good (its pod's error, no report): its combinations missing.
        let failed = with_completions(job(Some(("Failed", "FailedIndexes"))), 2);
        let run = sweep_outcome(
            &failed,
            &[
                ok(0, "0.1"),
                indexed_pod(1, 1, "error: data.csv: no such file"),
            ],
            &plan,
            None,
        );
        let BacktestRun::Succeeded(s) = run else {
            panic!("{run:?}")
        };
        let o = s.sweep.unwrap();
        assert_eq!(o.missing, plan.slice(1).to_vec());
        // No index reported: the sweep failed, with a pod's error.
        let run = sweep_outcome(
            &failed,
            &[indexed_pod(1, 1, "error: data.csv: no such file")],
            &plan,
            None,
        );
        assert_eq!(
            run,
            BacktestRun::Failed {
                job: "btc-bt-bt-00".into(),
                message: "error: data.csv: no such file".into()
            }
        );
    }
}
