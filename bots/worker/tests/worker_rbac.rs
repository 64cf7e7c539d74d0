//! The worker's least privilege, enforced: the test API server checks RBAC for requests
//! made with a ServiceAccount token, the Role and its binding are rendered by the
//! operator's own builder, and the worker's own status reporter and Lease guard run with
//! a token of the worker's ServiceAccount. A Role missing a rule fails here; one granting
//! too much fails the "cannot" half.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::json;
use tradewind_apiserver::TestServer;
use tradewind_bot::run::lease::LeaseGuard;
use tradewind_bot::run::status::{ConditionReport, StatusReporter, StatusSnapshot};
use tradewind_core::fixed::Money;
use tradewind_crds::{TradingBot, manifests};
use tradewind_operator::build::{self, Names, OperatorConfig};

const NS: &str = "default";

fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

fn paper_bot(name: &str) -> TradingBot {
    let path = manifest_dir().join("../../examples/bots/paper.yaml");
    let docs = tradewind_crds::validation::load_documents(&path).expect("example");
    let mut bot: TradingBot =
        serde_json::from_value(docs.into_iter().next().expect("doc").value).expect("bot");
    bot.metadata.name = Some(name.into());
    bot.metadata.namespace = Some(NS.into());
    bot
}

/// Creates `obj` as the admin and returns it as stored.
async fn admin_create<K>(client: &Client, obj: &K) -> K
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), obj)
        .await
        .expect("admin create")
}

/// Asserts a 403 whose message is kube-apiserver's.
fn forbidden<T: std::fmt::Debug>(r: Result<T, kube::Error>, message: &str) {
    match r {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"), "{s:?}");
            assert_eq!(s.message, message);
        }
        other => panic!("expected 403 {message:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_token_does_what_the_worker_needs_and_nothing_else() {
    let server = TestServer::start().expect("server");
    let admin =
        Client::try_from(kube::Config::new(server.url().parse().expect("url"))).expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for (_, crd) in manifests::all() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("crd");
    }
    let bot = paper_bot("alpha");
    let other = paper_bot("beta");
    for b in [&bot, &other] {
        // The builders need the stored bot (its uid is the children's owner).
        let b = &admin_create(&admin, b).await;
        let op = OperatorConfig::default();
        admin_create(&admin, &build::service_account(b, &op).expect("sa")).await;
        admin_create(&admin, &build::role(b).expect("role")).await;
        admin_create(&admin, &build::role_binding(b).expect("binding")).await;
        admin_create(&admin, &build::lease(b).expect("lease")).await;
    }
    admin_create(
        &admin,
        &serde_json::from_value::<Secret>(
            json!({"metadata": {"name": "binance-credentials"}, "stringData": {"apiKey": "k"}}),
        )
        .expect("secret"),
    )
    .await;

    let names = Names("alpha");
    let token = server
        .create_token(NS, &names.worker(), &[], 3600)
        .expect("worker token");
    let kubeconfig =
        Kubeconfig::from_yaml(&server.token_kubeconfig_yaml(&token, NS)).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    assert_eq!(config.cluster_url.scheme_str(), Some("https"));
    let worker = Client::try_from(config).expect("worker client");
    let user = format!("system:serviceaccount:{NS}:alpha-worker");

    // What the worker does: read its bot, report its status (the worker's own reporter:
    // get status, then server-side apply), and hold its Lease (get + update).
    let bots = Api::<TradingBot>::namespaced(worker.clone(), NS);
    bots.get("alpha").await.expect("get own TradingBot");
    let mut reporter = StatusReporter::new(bots.clone(), "alpha", Duration::ZERO);
    let snap = StatusSnapshot {
        equity: Money::parse("10000").expect("money"),
        realized_pnl: Money::parse("0").expect("money"),
        unrealized_pnl: Money::parse("0").expect("money"),
        fees: Money::parse("0").expect("money"),
        drawdown_percent: "0".into(),
        positions: Vec::new(),
        trading: ConditionReport::new(true, "Trading", "trading ETHUSDT"),
        halted: ConditionReport::new(false, "WithinLimits", "risk limits hold"),
    };
    assert!(
        reporter
            .report(&snap)
            .await
            .expect("status report under the worker's Role")
    );
    let status = Api::<TradingBot>::namespaced(admin.clone(), NS)
        .get_status("alpha")
        .await
        .expect("status");
    let status = serde_json::to_value(status.status).expect("json");
    assert_eq!(status["performance"]["equity"], "10000.00", "{status}");
    let (guard, mut held) = LeaseGuard::start(
        worker.clone(),
        NS,
        &names.lease(),
        "alpha-pod",
        Duration::from_secs(15),
    );
    // Bounded only so that a denied Lease fails the test instead of hanging it.
    tokio::time::timeout(Duration::from_secs(30), held.wait_for(|h| *h))
        .await
        .expect("the worker takes its Lease")
        .expect("lease channel");
    guard.release().await.expect("release the Lease");

    // What it must not do.
    forbidden(
        bots.get("beta").await,
        &format!(
            r#"tradingbots.tradewind.dev "beta" is forbidden: User "{user}" cannot get resource "tradingbots" in API group "tradewind.dev" in the namespace "{NS}""#
        ),
    );
    forbidden(
        bots.get_status("beta").await,
        &format!(
            r#"tradingbots.tradewind.dev "beta" is forbidden: User "{user}" cannot get resource "tradingbots/status" in API group "tradewind.dev" in the namespace "{NS}""#
        ),
    );
    forbidden(
        bots.patch_status(
            "beta",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Failed"}})),
        )
        .await,
        &format!(
            r#"tradingbots.tradewind.dev "beta" is forbidden: User "{user}" cannot patch resource "tradingbots/status" in API group "tradewind.dev" in the namespace "{NS}""#
        ),
    );
    forbidden(
        bots.patch(
            "alpha",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await,
        &format!(
            r#"tradingbots.tradewind.dev "alpha" is forbidden: User "{user}" cannot patch resource "tradingbots" in API group "tradewind.dev" in the namespace "{NS}""#
        ),
    );
    forbidden(
        bots.list(&ListParams::default()).await,
        &format!(
            r#"tradingbots.tradewind.dev is forbidden: User "{user}" cannot list resource "tradingbots" in API group "tradewind.dev" in the namespace "{NS}""#
        ),
    );
    let secrets = Api::<Secret>::namespaced(worker.clone(), NS);
    forbidden(
        secrets.get("binance-credentials").await,
        &format!(
            r#"secrets "binance-credentials" is forbidden: User "{user}" cannot get resource "secrets" in API group "" in the namespace "{NS}""#
        ),
    );
    forbidden(
        secrets.list(&ListParams::default()).await,
        &format!(
            r#"secrets is forbidden: User "{user}" cannot list resource "secrets" in API group "" in the namespace "{NS}""#
        ),
    );
    let leases = Api::<Lease>::namespaced(worker.clone(), NS);
    let beta_lease = Names("beta").lease();
    forbidden(
        leases.get(&beta_lease).await,
        &format!(
            r#"leases.coordination.k8s.io "{beta_lease}" is forbidden: User "{user}" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "{NS}""#
        ),
    );
    forbidden(
        leases
            .create(
                &PostParams::default(),
                &serde_json::from_value::<Lease>(json!({"metadata": {"name": "squat"}}))
                    .expect("lease"),
            )
            .await,
        &format!(
            r#"leases.coordination.k8s.io is forbidden: User "{user}" cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "{NS}""#
        ),
    );
    forbidden(
        Api::<Lease>::namespaced(worker.clone(), "kube-system")
            .get(&names.lease())
            .await,
        &format!(
            r#"leases.coordination.k8s.io "{}" is forbidden: User "{user}" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "kube-system""#,
            names.lease()
        ),
    );
}
