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
