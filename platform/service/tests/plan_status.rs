//! `tradewind-platform settle` writes the last settlement into its CommissionPlan's status
//! against the test API server, which enforces RBAC with ServiceAccount tokens: as the
//! settlement Job's ServiceAccount (with the Role and RoleBinding the operator builds) it
//! may patch its own plan's status and is refused for another plan's; an "already
//! settled" run writes the same values again; outside a cluster, or with `--no-status`,
//! it leaves the status alone and still succeeds.

use std::path::PathBuf;
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use tradewind_apiserver::TestServer;
use tradewind_crds::{CommissionPlan, manifests};
use tradewind_ledger::FAULT_ENV;
use tradewind_operator::build;

const NS: &str = "trading";
const SPEC: &str = r#"{"tradingFees":{"tiers":[{"minVolume30d":"0","makerBps":"10","takerBps":"10"}]},"distribution":[{"recipient":"Platform","shareBps":10000}]}"#;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn settle(db: &str, plan: &str, extra: &[&str]) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tradewind-platform"))
        .args(["--database-url", db])
        .args(["settle", "--plan", plan, "--now", "2026-12-01T00:00:05Z"])
        .args(extra)
        .env("TRADEWIND_PLAN_SPEC", SPEC)
        .env_remove(FAULT_ENV)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("run tradewind-platform");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

async fn status(plans: &Api<CommissionPlan>, name: &str) -> Value {
    serde_json::to_value(plans.get(name).await.unwrap().status).unwrap()
}

#[tokio::test]
async fn settle_patches_its_own_plans_status_and_no_other() {
    let dir = std::env::temp_dir().join(format!(
        "tradewind-platform-status-{}-{}",
        std::process::id(),
        tradewind_ledger::accounts::now_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let dir = Scratch(dir);
    let db = format!("sqlite:{}", dir.0.join("ledger.db").display());

    let server = TestServer::start().expect("server");
    let admin = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for (_, crd) in manifests::all() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(NS.into()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await
        .unwrap();
    let plans: Api<CommissionPlan> = Api::namespaced(admin.clone(), NS);
    // Two plans, each with the settlement identity the operator gives it.
    for name in ["flat", "other"] {
        let plan: CommissionPlan = serde_json::from_value(json!({
            "apiVersion": "tradewind.dev/v1alpha1", "kind": "CommissionPlan",
            "metadata": {"name": name, "namespace": NS},
            "spec": serde_json::from_str::<Value>(SPEC).unwrap(),
        }))
        .unwrap();
        let plan = plans.create(&PostParams::default(), &plan).await.unwrap();
        Api::<ServiceAccount>::namespaced(admin.clone(), NS)
            .create(
                &PostParams::default(),
                &build::settlement_service_account(&plan).unwrap(),
            )
            .await
            .unwrap();
        Api::<Role>::namespaced(admin.clone(), NS)
            .create(
                &PostParams::default(),
                &build::settlement_role(&plan).unwrap(),
            )
            .await
            .unwrap();
        Api::<RoleBinding>::namespaced(admin.clone(), NS)
            .create(
                &PostParams::default(),
                &build::settlement_role_binding(&plan).unwrap(),
            )
            .await
            .unwrap();
    }
    let token = server
        .create_token(NS, &build::settlement_name("flat"), &[], 3600)
        .expect("the Job's token");
    let kubeconfig = dir.0.join("job.kubeconfig");
    std::fs::write(&kubeconfig, server.token_kubeconfig_yaml(&token, NS)).unwrap();
    let as_job = ["--status-kubeconfig", kubeconfig.to_str().unwrap()];

    // The Job's run: settles November, then writes the plan's status.
    let (out, stderr) = settle(&db, "trading/flat", &as_job);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("status.lastSettlement of CommissionPlan trading/flat updated"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["tradingFees"]
            .as_str()
            .map(|f| f.trim_end_matches(['0', '.'])),
        Some("")
    );
    let expected = json!({
        "periodStart": "2026-11-01T00:00:00Z",
        "periodEnd": "2026-12-01T00:00:00Z",
        "currency": "USDT",
        "tradingFees": summary["tradingFees"],
        "performanceFees": summary["performanceFees"],
        "byRecipientClass": {},
        "accountsCharged": 0,
        "charges": 0,
        "settledAt": summary["settledAt"],
    });
    let shown = status(&plans, "flat").await;
    assert_eq!(shown["lastSettlement"], expected, "{shown}");
    let plan = plans.get("flat").await.unwrap();
    assert!(
        plan.metadata
            .managed_fields
            .unwrap_or_default()
            .iter()
            .any(|m| m.manager.as_deref() == Some("tradewind-settlement")
                && m.subresource.as_deref() == Some("status")),
        "written under its own field manager, on the status subresource"
    );

    // Run again: already settled, the same values written again.
    let (out, stderr) = settle(&db, "trading/flat", &as_job);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("was already settled"), "{stderr}");
    assert!(stderr.contains("updated"), "{stderr}");
    assert_eq!(status(&plans, "flat").await["lastSettlement"], expected);

    // Another plan's status: refused (403), said, and that plan's status untouched.
    let (out, stderr) = settle(&db, "trading/other", &as_job);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the status of CommissionPlan trading/other was not updated")
            && stderr.contains("403"),
        "{stderr}"
    );
    assert_eq!(status(&plans, "other").await["lastSettlement"], Value::Null);

    // Outside a cluster, or told not to: the settlement is reported, the status left
    // alone, and the exit is 0.
    let (out, stderr) = settle(&db, "trading/other", &[]);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("not running in a cluster")
            && stderr.contains("the CommissionPlan's status was not updated"),
        "{stderr}"
    );
    let (out, stderr) = settle(&db, "trading/other", &["--no-status"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("--no-status"), "{stderr}");
    assert_eq!(status(&plans, "other").await["lastSettlement"], Value::Null);
}

fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// Root (from /proc, no libc call) and the process kubelet's tools.
fn pods_possible() -> bool {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
            .unwrap_or(false)
    });
    let missing: Vec<&str> = ["bwrap", "ip", "nsenter"]
        .into_iter()
        .filter(|p| !have(p))
        .collect();
    if !root || !missing.is_empty() {
        eprintln!(
            "SKIPPED: the process kubelet needs root (root: {root}) and bwrap, ip, nsenter (missing: {missing:?})"
        );
        return false;
    }
    true
}

/// The operator's settlement CronJob, run for real: its Job's pod (the platform image
/// mapped to this build's `tradewind-platform`) gets the plan's ServiceAccount token,
/// `ca.crt` and `KUBERNETES_SERVICE_HOST/PORT` from the process kubelet, as in a cluster,
/// settles the previous period and writes `status.lastSettlement` through the in-cluster
/// configuration (no kubeconfig anywhere).
#[tokio::test]
async fn the_settlement_cronjobs_pod_writes_the_plans_status_in_cluster() {
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    use k8s_openapi::api::core::v1::{Pod, Secret};
    use kube::api::{ListParams, LogParams};
    use kube::runtime::wait::await_condition;
    use tradewind_commission::{Period, PeriodKind};
    use tradewind_core::data::time::format_iso8601;

    if !pods_possible() {
        return;
    }
    let config = tradewind_apiserver::Config {
        kubelet: tradewind_apiserver::KubeletConfig {
            images: tradewind_apiserver::ImageMap::parse(&format!(
                "tradewind-platform:*={}",
                env!("CARGO_BIN_EXE_tradewind-platform")
            ))
            .expect("image map"),
            ..tradewind_apiserver::KubeletConfig::default()
        },
        ..tradewind_apiserver::Config::default()
    };
    let server = TestServer::start_with(config).expect("server");
    let admin = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for (_, crd) in manifests::all() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let plans: Api<CommissionPlan> = Api::namespaced(admin.clone(), NS);
    let plan: CommissionPlan = serde_json::from_value(json!({
        "apiVersion": "tradewind.dev/v1alpha1", "kind": "CommissionPlan",
        "metadata": {"name": "flat", "namespace": NS},
        "spec": serde_json::from_str::<Value>(SPEC).unwrap(),
    }))
    .unwrap();
    let plan = plans.create(&PostParams::default(), &plan).await.unwrap();
    // What the operator creates for the plan when the platform is installed.
    let op = build::OperatorConfig {
        platform: Some(build::Platform {
            image: "tradewind-platform:test".into(),
            database_secret: "ledger-database".into(),
        }),
        ..build::OperatorConfig::default()
    };
    let pp = PostParams::default();
    Api::<ServiceAccount>::namespaced(admin.clone(), NS)
        .create(&pp, &build::settlement_service_account(&plan).unwrap())
        .await
        .unwrap();
    Api::<Role>::namespaced(admin.clone(), NS)
        .create(&pp, &build::settlement_role(&plan).unwrap())
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), NS)
        .create(&pp, &build::settlement_role_binding(&plan).unwrap())
        .await
        .unwrap();
    // The ledger: SQLite in the pod's own /tmp (a real installation names PostgreSQL
    // here; what this test exercises is the Job's identity and in-cluster client).
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "ledger-database", "namespace": NS},
        "stringData": {build::DATABASE_URL_KEY: "sqlite:/tmp/ledger.db"},
    }))
    .unwrap();
    Api::<Secret>::namespaced(admin.clone(), NS)
        .create(&pp, &secret)
        .await
        .unwrap();
    let cron = build::settlement_cron_job(&plan, &op).unwrap();
    assert_eq!(cron.spec.as_ref().unwrap().suspend, Some(false));
    let cron = Api::<CronJob>::namespaced(admin.clone(), NS)
        .create(&pp, &cron)
        .await
        .unwrap();
    // A run now, as `kubectl create job --from=cronjob/…` makes it: the CronJob's
    // jobTemplate, owned by the CronJob.
    let template = cron.spec.clone().unwrap().job_template;
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": "flat-settlement-manual",
            "namespace": NS,
            "labels": template.metadata.as_ref().and_then(|m| m.labels.clone()),
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob",
                "name": cron.metadata.name, "uid": cron.metadata.uid,
                "controller": true,
            }],
        },
        "spec": template.spec,
    }))
    .unwrap();
    let jobs: Api<Job> = Api::namespaced(admin.clone(), NS);
    jobs.create(&pp, &job).await.unwrap();
    let finished = |j: Option<&Job>| {
        j.and_then(|j| j.status.as_ref())
            .is_some_and(|s| s.succeeded.unwrap_or(0) > 0 || s.failed.unwrap_or(0) > 3)
    };
    // A bound on a hang, not a wait: the condition ends it.
    let done = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        await_condition(jobs.clone(), "flat-settlement-manual", finished),
    )
    .await
    .expect("the settlement Job finishes")
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NS);
    let mut logs = String::new();
    for p in pods.list(&ListParams::default()).await.unwrap() {
        let of_job = p
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "Job" && o.name == "flat-settlement-manual");
        if !of_job {
            continue;
        }
        let name = p.metadata.name.unwrap_or_default();
        logs += &pods
            .logs(&name, &LogParams::default())
            .await
            .unwrap_or_default();
    }
    assert!(
        done.as_ref()
            .and_then(|j| j.status.as_ref())
            .and_then(|s| s.succeeded)
            == Some(1),
        "the settlement Job failed: {logs}"
    );
    assert!(
        logs.contains("status.lastSettlement of CommissionPlan trading/flat updated"),
        "{logs}"
    );
    // The previous Monthly period (the plan has no performance fee), as the pod's clock
    // saw it.
    let start =
        Period::containing(PeriodKind::Monthly, tradewind_ledger::accounts::now_nanos()).start;
    let previous = Period::containing(PeriodKind::Monthly, start - 1);
    let shown = status(&plans, "flat").await;
    let last = &shown["lastSettlement"];
    assert_eq!(
        (last["periodStart"].as_str(), last["periodEnd"].as_str()),
        (
            Some(format_iso8601(previous.start).as_str()),
            Some(format_iso8601(previous.end).as_str())
        ),
        "{shown}"
    );
    assert_eq!(last["charges"], 0, "{shown}");
    let plan = plans.get("flat").await.unwrap();
    assert!(
        plan.metadata
            .managed_fields
            .unwrap_or_default()
            .iter()
            .any(|m| m.manager.as_deref() == Some("tradewind-settlement")
                && m.subresource.as_deref() == Some("status")),
        "written by the Job under its field manager: {shown}"
    );
}
