//! The operator's controllers against the test API server (tests/apiserver): a bot is
//! created, reaches Ready when the simulated Deployment is available, rolls on a Strategy
//! edit, suspends and resumes, waits for a missing reference and recovers, costs a
//! bounded number of writes, makes none in a steady state, and is cleaned up on delete.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use tradewind_apiserver::TestServer;
use tradewind_crds::conditions::{find, types};
use tradewind_crds::validation::load_documents;
use tradewind_crds::{CommissionPlan, Strategy, TradingBot, manifests};
use tradewind_operator::build::{CONFIG_HASH_ANNOTATION, OperatorConfig};
use tradewind_operator::controller::{self, Context, cloud::NoCloud};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

const NS: &str = "default";

/// The resources a bot's worker is made of (without a state volume).
const WORKER_OBJECTS: [&str; 8] = [
    "configmaps",
    "serviceaccounts",
    "leases",
    "roles",
    "rolebindings",
    "deployments",
    "services",
    "networkpolicies",
];

fn example<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = manifest_dir().join("..").join(file);
    serde_json::from_value(load_documents(&path).unwrap().remove(0).value).unwrap()
}

/// A test API server with the CRDs installed and the RSI strategy and tiered plan from
/// the examples created, and a client for it.
async fn cluster() -> (TestServer, Client) {
    let server = TestServer::start().expect("server");
    let client = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (_, crd) in manifests::all() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    Api::<Strategy>::namespaced(client.clone(), NS)
        .create(
            &PostParams::default(),
            &example("examples/strategies/rsi-reversion.yaml"),
        )
        .await
        .unwrap();
    Api::<CommissionPlan>::namespaced(client.clone(), NS)
        .create(
            &PostParams::default(),
            &example("examples/commission-plans/tiered-referral.yaml"),
        )
        .await
        .unwrap();
    (server, client)
}

/// Polls `check` every 50 ms until it returns Some, or fails after `secs`.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the controllers without a cloud until the returned task is aborted.
fn start_operator(client: &Client) -> tokio::task::JoinHandle<()> {
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig::default(),
        Arc::new(NoCloud),
    ));
    tokio::spawn(async move { controller::run(ctx, Some(NS)).await })
}

/// Waits for the example plan's first reconcile (its settlement objects and status), so
/// write counts taken after it are a bot's alone.
async fn plan_reconciled(client: &Client) {
    let plans: Api<CommissionPlan> = Api::namespaced(client.clone(), NS);
    eventually(20, "the plan's first reconcile", || async {
        let status = plans.get("tiered-with-referrals").await.ok()?.status?;
        find(&status.conditions, "SettlementScheduled").map(|_| ())
    })
    .await;
}

fn ready(bot: &TradingBot) -> Option<(String, String)> {
    let c = find(&bot.status.as_ref()?.conditions, types::READY)?;
    Some((c.status.clone(), c.reason.clone()))
}

fn writes(server: &TestServer) -> u64 {
    server
        .handle()
        .counters()
        .iter()
        .filter(|((verb, _), _)| {
            matches!(
                verb.as_str(),
                "create" | "update" | "patch" | "delete" | "deletecollection"
            )
        })
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_reconciled_end_to_end() {
    let (server, client) = cluster().await;
    let strategies: Api<Strategy> = Api::namespaced(client.clone(), NS);
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);

    let operator = start_operator(&client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    plan_reconciled(&client).await;

    // Create → children → Ready, within the write budget.
    server.handle().reset_counters();
    let bot: TradingBot = example("examples/bots/paper.yaml");
    let name = bot.name_any();
    bots.create(&PostParams::default(), &bot).await.unwrap();
    let bot = eventually(20, "the bot to be Ready", || async {
        let b = bots.get(&name).await.ok()?;
        (ready(&b)? == ("True".to_owned(), "Reconciled".to_owned())).then_some(b)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Write budget: one apply per child (8: the seven the design lists plus the worker's
    // Lease, created by the operator so RBAC can name it), the finalizer, and one status
    // patch per real status change (worker unavailable → Ready), 11 at most.
    let h = server.handle();
    for child in WORKER_OBJECTS {
        assert_eq!(h.writes(child), 1, "{child}: {:?}", h.counters());
    }
    assert_eq!(h.count("patch", "tradingbots"), 1, "the finalizer");
    let status_writes = h.count("patch", "tradingbots/status");
    assert!(
        (1..=2).contains(&status_writes),
        "{status_writes} status writes: one per real change (not found yet → unavailable → Ready)"
    );
    assert!(
        9 + status_writes <= 11,
        "more than 11 writes to bring one bot to Ready"
    );
    eprintln!(
        "writes to bring one bot to Ready: 8 children + 1 finalizer + {status_writes} status = {}",
        9 + status_writes
    );
    let d = deployments.get(&format!("{name}-worker")).await.unwrap();
    let owner = &d.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("TradingBot", bot.uid().unwrap().as_str())
    );
    let hash_before = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap()[CONFIG_HASH_ANNOTATION]
        .clone();
    assert_eq!(
        bot.status.as_ref().unwrap().config_hash.as_deref(),
        Some(hash_before.as_str())
    );
    assert!(bot.finalizers().iter().any(|f| f == controller::FINALIZER));

    // Steady state: a reconcile with nothing to change writes nothing.
    server.handle().reset_counters();
    let touch = serde_json::json!({"metadata": {"annotations": {"test.tradewind.dev/touch": "1"}}});
    bots.patch(&name, &PatchParams::default(), &Patch::Merge(&touch))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        writes(&server),
        1,
        "a no-op reconcile made writes: {:?}",
        server.handle().counters()
    );

    // A Strategy edit re-reconciles the bot and rolls the worker.
    let edit = serde_json::json!({"spec": {"rsiReversion": {"period": 21}}});
    strategies
        .patch(
            "rsi-reversion-14",
            &PatchParams::default(),
            &Patch::Merge(&edit),
        )
        .await
        .unwrap();
    eventually(20, "the worker to roll", || async {
        let d = deployments.get(&format!("{name}-worker")).await.ok()?;
        let h = d
            .spec?
            .template
            .metadata?
            .annotations?
            .get(CONFIG_HASH_ANNOTATION)?
            .clone();
        (h != hash_before).then_some(())
    })
    .await;
    let cm = config_maps.get(&format!("{name}-config")).await.unwrap();
    assert!(cm.data.unwrap()["bot.json"].contains("\"period\": 21"));

    // Suspend and resume.
    bots.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({"spec": {"suspend": true}})),
    )
    .await
    .unwrap();
    eventually(20, "Ready False / Suspended and zero replicas", || async {
        let b = bots.get(&name).await.ok()?;
        let d = deployments.get(&format!("{name}-worker")).await.ok()?;
        (ready(&b)? == ("False".to_owned(), "Suspended".to_owned()) && d.spec?.replicas == Some(0))
            .then_some(())
    })
    .await;
    bots.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({"spec": {"suspend": false}})),
    )
    .await
    .unwrap();
    eventually(20, "Ready again after resume", || async {
        let b = bots.get(&name).await.ok()?;
        (ready(&b)?.0 == "True").then_some(())
    })
    .await;

    // A missing Strategy: Ready False naming it, then recovery when it appears.
    let mut late: TradingBot = example("examples/bots/backtest.yaml");
    late.spec.commission_plan_ref = None;
    let late_name = late.name_any();
    bots.create(&PostParams::default(), &late).await.unwrap();
    eventually(20, "StrategyNotFound", || async {
        let b = bots.get(&late_name).await.ok()?;
        let c = find(&b.status.as_ref()?.conditions, types::READY)?.clone();
        (c.reason == "StrategyNotFound" && c.message.contains("sma-cross-10-20")).then_some(())
    })
    .await;
    // A person sees it in `kubectl describe` / `kubectl events` too.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), NS);
    eventually(10, "a StrategyNotFound Event", || async {
        let list = events.list(&Default::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("StrategyNotFound")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref())
                        == Some(late_name.as_str())
                    && e.type_.as_deref() == Some("Warning")
            })
            .then_some(())
    })
    .await;
    strategies
        .create(
            &PostParams::default(),
            &example("examples/strategies/sma-cross.yaml"),
        )
        .await
        .unwrap();
    eventually(20, "recovery once the Strategy exists", || async {
        let b = bots.get(&late_name).await.ok()?;
        (ready(&b)?.0 == "True").then_some(())
    })
    .await;

    // Delete: the finalizer runs, the bot goes, its children are garbage-collected.
    bots.delete(&name, &DeleteParams::default()).await.unwrap();
    eventually(20, "the bot and its children to be gone", || async {
        let gone = bots.get_opt(&name).await.ok()?.is_none()
            && deployments
                .get_opt(&format!("{name}-worker"))
                .await
                .ok()?
                .is_none()
            && config_maps
                .get_opt(&format!("{name}-config"))
                .await
                .ok()?
                .is_none();
        gone.then_some(())
    })
    .await;
    operator.abort();
}

/// GET `path` from a local HTTP server; the body, or an empty string if it is not up.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Two distinct free ports (both listeners are held until both are known).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// Two operator processes against one API server: one leads, the other waits; when the
/// leader dies the standby takes the lease and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_acts_and_a_standby_takes_over() {
    let (server, client) = cluster().await;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);

    let dir = std::env::temp_dir().join(format!("tw-leader-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let spawn = |identity: &str, port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tradewind-operator"))
            .args([
                "run",
                "--namespace",
                NS,
                "--lease-namespace",
                NS,
                "--lease-seconds",
                "3",
            ])
            .args([
                "--identity",
                identity,
                "--metrics-addr",
                &format!("127.0.0.1:{port}"),
            ])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let leading = |port: u16| {
        http_get(port, "/metrics")
            .lines()
            .any(|l| l.trim() == "tradewind_operator_leader 1")
    };
    let reconciled = |port: u16| {
        http_get(port, "/metrics").contains("reconciles_total{controller=\"tradingbot\"}")
    };
    let (port_a, port_b) = free_ports();
    let mut a = spawn("replica-a", port_a);
    eventually(20, "replica a to lead", || async {
        leading(port_a).then_some(())
    })
    .await;
    let mut b = spawn("replica-b", port_b);
    eventually(20, "replica b to serve /readyz as a standby", || async {
        http_get(port_b, "/readyz").contains("200 OK").then_some(())
    })
    .await;

    let bot: TradingBot = example("examples/bots/paper.yaml");
    let name = bot.name_any();
    bots.create(&PostParams::default(), &bot).await.unwrap();
    eventually(20, "the leader to make the bot Ready", || async {
        (ready(&bots.get(&name).await.ok()?)?.0 == "True").then_some(())
    })
    .await;
    let lease = Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(client.clone(), NS)
        .get("tradewind-operator")
        .await
        .ok()
        .and_then(|l| l.spec);
    assert!(
        !leading(port_b),
        "two leaders at once: ports {port_a}/{port_b}, lease {lease:?}, b metrics: {}",
        http_get(port_b, "/metrics")
            .lines()
            .filter(|l| l.contains("leader"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    assert!(!reconciled(port_b), "the standby reconciled a bot");
    assert!(reconciled(port_a));

    // The leader dies; the standby takes the lease once it expires and carries on.
    a.kill().unwrap();
    let _ = a.wait();
    eventually(30, "the standby to take over", || async {
        leading(port_b).then_some(())
    })
    .await;
    let mut second: TradingBot = example("examples/bots/paper.yaml");
    second.metadata.name = Some("eth-rsi-paper-2".into());
    bots.create(&PostParams::default(), &second).await.unwrap();
    eventually(
        20,
        "the new leader to make the second bot Ready",
        || async { (ready(&bots.get("eth-rsi-paper-2").await.ok()?)?.0 == "True").then_some(()) },
    )
    .await;
    b.kill().unwrap();
    let _ = b.wait();
}

/// API faults — 500s on child writes and status patches, dropped watches, a 410 Gone —
/// delay the bots but they converge, with exactly one of each child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_through_api_faults_without_duplicates() {
    let (server, client) = cluster().await;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig::default(),
        Arc::new(NoCloud),
    ));
    let run_ctx = ctx.clone();
    let operator = tokio::spawn(async move { controller::run(run_ctx, Some(NS)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let h = server.handle();
    h.fail_next(Some("patch"), Some("deployments"), 500, 3);
    h.fail_next(Some("patch"), Some("tradingbots/status"), 500, 2);
    h.fail_next(Some("get"), Some("strategies"), 503, 2);
    let template: TradingBot = example("examples/bots/paper.yaml");
    for i in 0..5 {
        let mut b = template.clone();
        b.metadata.name = Some(format!("faulty-{i}"));
        bots.create(&PostParams::default(), &b).await.unwrap();
        if i == 2 {
            h.close_watches();
        }
        if i == 3 {
            h.gone_next_watch();
            h.close_watches();
        }
    }
    eventually(60, "every bot Ready despite the faults", || async {
        let list = bots.list(&Default::default()).await.ok()?;
        (list.items.len() == 5
            && list
                .items
                .iter()
                .all(|b| ready(b).is_some_and(|r| r.0 == "True")))
        .then_some(())
    })
    .await;
    let workers = deployments.list(&Default::default()).await.unwrap().items;
    let mut names: Vec<String> = workers.iter().map(|d| d.name_any()).collect();
    names.sort();
    assert_eq!(
        names,
        (0..5)
            .map(|i| format!("faulty-{i}-worker"))
            .collect::<Vec<_>>()
    );
    for b in bots.list(&Default::default()).await.unwrap().items {
        assert_eq!(
            b.finalizers()
                .iter()
                .filter(|f| *f == controller::FINALIZER)
                .count(),
            1
        );
    }
    // The faults did hit: failed reconciles were counted by the step that failed and
    // retried with backoff.
    let metrics = ctx.metrics.encode();
    for step in ["apply", "status"] {
        assert!(
            metrics.contains(&format!(
                "tradewind_operator_reconcile_errors_total{{controller=\"tradingbot\",reason=\"{step}\"}}"
            )),
            "{step}: {metrics}"
        );
    }
    operator.abort();
}

/// A cloud that records calls and fails the first deletes, to check the finalizer.
#[derive(Default)]
struct RecordingCloud {
    ensures: std::sync::Mutex<Vec<String>>,
    deletes: std::sync::Mutex<Vec<String>>,
    fail_deletes: std::sync::atomic::AtomicU32,
}

impl tradewind_operator::controller::cloud::Cloud for RecordingCloud {
    fn ensure<'a>(
        &'a self,
        bot: &'a TradingBot,
    ) -> tradewind_operator::controller::cloud::CloudFuture<
        'a,
        tradewind_operator::status::CloudState,
    > {
        Box::pin(async move {
            self.ensures.lock().unwrap().push(bot.name_any());
            Ok(tradewind_operator::status::CloudState::Ready {
                cosmos_container_id: Some(format!("/subscriptions/s/cosmos/{}", bot.name_any())),
                key_vault_secret_id: None,
                service_bus_topic_id: None,
                workload_identity_client_id: None,
            })
        })
    }

    fn delete<'a>(
        &'a self,
        bot: &'a TradingBot,
    ) -> tradewind_operator::controller::cloud::CloudFuture<'a, ()> {
        Box::pin(async move {
            use std::sync::atomic::Ordering;
            if self.fail_deletes.load(Ordering::SeqCst) > 0 {
                self.fail_deletes.fetch_sub(1, Ordering::SeqCst);
                return Err(tradewind_operator::controller::cloud::CloudError(
                    "Cosmos DB: 503 ServiceUnavailable".into(),
                ));
            }
            self.deletes.lock().unwrap().push(bot.name_any());
            Ok(())
        })
    }
}

/// Cloud resources: IDs reach the status; delete runs the cleanup (retried, and reported
/// while failing) unless `deletionPolicy: Retain`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_finalizer_cleans_up_cloud_resources_and_says_why_it_waits() {
    let (_server, client) = cluster().await;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let cloud = Arc::new(RecordingCloud::default());
    cloud
        .fail_deletes
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig::default(),
        cloud.clone(),
    ));
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });

    let mut deleted: TradingBot = example("examples/bots/paper.yaml");
    deleted.metadata.name = Some("cloudy".into());
    deleted.spec.cloud =
        serde_json::from_value(serde_json::json!({"cosmos": true, "deletionPolicy": "Delete"}))
            .unwrap();
    let mut retained = deleted.clone();
    retained.metadata.name = Some("kept".into());
    retained.spec.cloud =
        serde_json::from_value(serde_json::json!({"cosmos": true, "deletionPolicy": "Retain"}))
            .unwrap();
    bots.create(&PostParams::default(), &deleted).await.unwrap();
    bots.create(&PostParams::default(), &retained)
        .await
        .unwrap();
    eventually(
        20,
        "both Ready with the cloud resource ID in status",
        || async {
            let b = bots.get("cloudy").await.ok()?;
            let k = bots.get("kept").await.ok()?;
            let id = b
                .status
                .as_ref()?
                .resources
                .as_ref()?
                .cosmos_container_id
                .clone()?;
            (ready(&b)?.0 == "True" && ready(&k)?.0 == "True" && id.ends_with("/cloudy"))
                .then_some(())
        },
    )
    .await;

    // The first cleanup fails and is reported (a Warning Event and the CloudReady
    // condition); the retry succeeds; the bot goes; cleanup ran once.
    bots.delete("cloudy", &DeleteParams::default())
        .await
        .unwrap();
    eventually(30, "the bot to go once cleanup succeeds", || async {
        bots.get_opt("cloudy").await.ok()?.is_none().then_some(())
    })
    .await;
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), NS);
    let warned = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .any(|e| {
            e.reason.as_deref() == Some("CloudCleanupFailed")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("cloudy")
                && e.note.as_deref().is_some_and(|n| n.contains("503"))
        });
    assert!(warned, "no CloudCleanupFailed Event for the failed cleanup");
    // Cleanup is idempotent and may run again while the finalizer's removal is in flight.
    let deletes = cloud.deletes.lock().unwrap().clone();
    assert!(
        !deletes.is_empty() && deletes.iter().all(|d| d == "cloudy"),
        "{deletes:?}"
    );

    // Retain: the bot goes without a cloud delete.
    bots.delete("kept", &DeleteParams::default()).await.unwrap();
    eventually(20, "the retained bot to go", || async {
        bots.get_opt("kept").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(
        cloud.deletes.lock().unwrap().iter().all(|d| d == "cloudy"),
        "Retain must not delete cloud resources"
    );
    operator.abort();
}

/// A cloud whose bots sign in as the identity `client`, or whose ensure fails.
struct IdentityCloud {
    client: std::sync::Mutex<Result<String, String>>,
}

impl tradewind_operator::controller::cloud::Cloud for IdentityCloud {
    fn ensure<'a>(
        &'a self,
        _bot: &'a TradingBot,
    ) -> tradewind_operator::controller::cloud::CloudFuture<
        'a,
        tradewind_operator::status::CloudState,
    > {
        let state = self.client.lock().unwrap().clone();
        Box::pin(async move {
            match state {
                Ok(client) => Ok(tradewind_operator::status::CloudState::Ready {
                    cosmos_container_id: Some("/subscriptions/s/cosmos/c".into()),
                    key_vault_secret_id: None,
                    service_bus_topic_id: None,
                    workload_identity_client_id: Some(client),
                }),
                Err(e) => Err(tradewind_operator::controller::cloud::CloudError(e)),
            }
        })
    }

    fn delete<'a>(
        &'a self,
        _bot: &'a TradingBot,
    ) -> tradewind_operator::controller::cloud::CloudFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// The worker signs in as the identity the cloud step reports: its ServiceAccount carries
/// that client ID. A failed cloud step leaves the running worker as it is (no lost
/// annotation, no rollout); a new identity rolls it onto the new client ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_signs_in_as_its_bots_own_identity() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    let (_server, client) = cluster().await;
    let cloud = Arc::new(IdentityCloud {
        client: std::sync::Mutex::new(Ok("aaaa-bot-identity".into())),
    });
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig::default(),
        cloud.clone(),
    ));
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let mut bot: TradingBot = example("examples/bots/paper.yaml");
    bot.metadata.name = Some("signed".into());
    bot.spec.cloud = serde_json::from_value(serde_json::json!({"cosmos": true})).unwrap();
    bots.create(&PostParams::default(), &bot).await.unwrap();
    let client_of = |sa: &ServiceAccount| {
        sa.annotations()
            .get("azure.workload.identity/client-id")
            .cloned()
    };
    let template_client = |d: &Deployment| {
        d.spec
            .as_ref()?
            .template
            .metadata
            .as_ref()?
            .annotations
            .as_ref()?
            .get("tradewind.dev/workload-identity-client-id")
            .cloned()
    };
    eventually(20, "the worker set up as the bot's identity", || async {
        let sa = sas.get("signed-worker").await.ok()?;
        let d = deployments.get("signed-worker").await.ok()?;
        (client_of(&sa).as_deref() == Some("aaaa-bot-identity")
            && template_client(&d).as_deref() == Some("aaaa-bot-identity"))
        .then_some(())
    })
    .await;
    let before = deployments.get("signed-worker").await.unwrap();

    // The cloud step fails while the bot changes: the status says why, the worker stays
    // as it is — neither the new configuration without its identity nor a lost client ID.
    *cloud.client.lock().unwrap() = Err("identity signed-worker: 403 AuthorizationFailed".into());
    bots.patch(
        "signed",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"risk": {"maxOrderNotional": "900"}}})),
    )
    .await
    .unwrap();
    eventually(20, "CloudReady=False naming the failure", || async {
        let b = bots.get("signed").await.ok()?;
        let c = find(&b.status.as_ref()?.conditions, types::CLOUD_READY)?;
        (c.status == "False" && c.message.contains("403 AuthorizationFailed")).then_some(())
    })
    .await;
    let sa = sas.get("signed-worker").await.unwrap();
    assert_eq!(client_of(&sa).as_deref(), Some("aaaa-bot-identity"));
    let after = deployments.get("signed-worker").await.unwrap();
    assert_eq!(
        after.spec, before.spec,
        "a failed cloud step changed the worker"
    );

    // A new identity (recreated): the ServiceAccount and the pods follow, with the
    // configuration change held back meanwhile.
    *cloud.client.lock().unwrap() = Ok("bbbb-new-identity".into());
    bots.patch(
        "signed",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"poke": "2"}}})),
    )
    .await
    .unwrap();
    let moved = eventually(20, "the worker moved to the new identity", || async {
        let sa = sas.get("signed-worker").await.ok()?;
        let d = deployments.get("signed-worker").await.ok()?;
        (client_of(&sa).as_deref() == Some("bbbb-new-identity")
            && template_client(&d).as_deref() == Some("bbbb-new-identity"))
        .then_some(d)
    })
    .await;
    let hash = |d: &Deployment| {
        d.spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()[CONFIG_HASH_ANNOTATION]
            .clone()
    };
    assert_ne!(
        hash(&moved),
        hash(&before),
        "the held-back change now applies"
    );
    operator.abort();
}

/// The Azure cloud end to end: the operator, the test API server and the Azure fake. A bot
/// asking for Cosmos, Key Vault and Service Bus gets them (its exchange credentials copied
/// from its Secret into Key Vault, never into status) and its own identity, whose client
/// ID its worker's ServiceAccount carries; their IDs reach the status, a resync writes
/// nothing to Azure, and deleting the bot deletes them, its grants and its identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_resources_follow_the_bot() {
    use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
    use serde_json::json;
    use tradewind_azure::arm::ResourceId;
    use tradewind_azure::bot::{BotCloudConfig, BotResources, WorkloadIdentity};
    use tradewind_azure_fake::DEFAULT_TENANT;
    use tradewind_operator::controller::cloud::azure::AzureCloud;

    const SUB: &str = "00000000-1111-2222-3333-444444444444";
    let fake = tradewind_azure_fake::TestServer::start().unwrap();
    let azure = fake.connection();
    let arm = fake.arm_client();
    // The environment `twctl env apply` would have made.
    let g = ResourceId::resource_group(SUB, "rg-tw");
    arm.put(&g, &json!({"location": "westeurope"}))
        .await
        .unwrap();
    let acct = g.provider("Microsoft.DocumentDB", "databaseAccounts", "cosmos-tw");
    for (id, body) in [
        (
            acct.clone(),
            json!({"location": "westeurope", "properties": {"databaseAccountOfferType": "Standard",
                "locations": [{"locationName": "westeurope"}]}}),
        ),
        (
            acct.child("sqlDatabases", "tradewind"),
            json!({"properties": {"resource": {"id": "tradewind"}}}),
        ),
        (
            g.provider("Microsoft.KeyVault", "vaults", "kv-tw"),
            json!({"location": "westeurope", "properties": {"tenantId": DEFAULT_TENANT,
                "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
        ),
        (
            g.provider("Microsoft.ServiceBus", "namespaces", "sb-tradewind"),
            json!({"location": "westeurope", "sku": {"name": "Standard"}}),
        ),
    ] {
        arm.put(&id, &body).await.unwrap();
    }
    let resources = BotResources::new(
        arm,
        azure.credential,
        azure.transport,
        BotCloudConfig {
            subscription_id: SUB.into(),
            resource_group: "rg-tw".into(),
            cosmos_account: "cosmos-tw".into(),
            cosmos_database: "tradewind".into(),
            cosmos_container_max_throughput: None,
            key_vault: "kv-tw".into(),
            key_vault_uri: Some(fake.vault_url("kv-tw")),
            service_bus_namespace: "sb-tradewind".into(),
            workload_identity: Some(WorkloadIdentity {
                issuer: "https://westeurope.oic.localhost/issuer/".into(),
            }),
            market_data: None,
        },
    );

    let (_server, client) = cluster().await;
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig::default(),
        Arc::new(AzureCloud::new(resources, client.clone())),
    ));
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });

    let api_secret = "s3cr3t-value-for-the-exchange";
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "binance-keys"},
                "stringData": {"apiKey": "key-1", "apiSecret": api_secret}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let mut bot: TradingBot = example("examples/bots/paper.yaml");
    bot.metadata.name = Some("azure-bot".into());
    bot.spec.credentials =
        serde_json::from_value(json!({"secretRef": {"name": "binance-keys"}})).unwrap();
    bot.spec.cloud =
        serde_json::from_value(json!({"cosmos": true, "keyVault": true, "serviceBus": true}))
            .unwrap();
    bots.create(&PostParams::default(), &bot).await.unwrap();

    let ready_bot = eventually(30, "Ready with three resource IDs", || async {
        let b = bots.get("azure-bot").await.ok()?;
        let r = b.status.as_ref()?.resources.as_ref()?;
        (ready(&b)?.0 == "True"
            && r.cosmos_container_id.is_some()
            && r.key_vault_secret_id.is_some()
            && r.service_bus_topic_id.is_some())
        .then_some(b)
    })
    .await;
    let r = ready_bot
        .status
        .as_ref()
        .unwrap()
        .resources
        .clone()
        .unwrap();
    let container = r.cosmos_container_id.unwrap();
    let topic = r.service_bus_topic_id.unwrap();
    assert!(
        container.ends_with("/containers/default.azure-bot"),
        "{container}"
    );
    assert!(fake.resource(&container).is_some());
    assert!(fake.resource(&topic).is_some());
    // The worker signs in as the bot's own identity.
    let identities = fake.resources_under(&format!(
        "/subscriptions/{SUB}/resourceGroups/rg-tw/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
    ));
    let identities: Vec<_> = identities
        .iter()
        .filter(|(id, _)| !id.contains("/federatedIdentityCredentials/"))
        .collect();
    assert_eq!(identities.len(), 1, "{identities:?}");
    let (identity, body) = identities[0];
    let client_id = body["properties"]["clientId"].as_str().unwrap().to_owned();
    let sa = Api::<ServiceAccount>::namespaced(client.clone(), NS)
        .get("azure-bot-worker")
        .await
        .unwrap();
    assert_eq!(
        sa.annotations()["azure.workload.identity/client-id"],
        client_id
    );
    let deployment = Api::<Deployment>::namespaced(client.clone(), NS)
        .get("azure-bot-worker")
        .await
        .unwrap();
    let template = deployment.spec.unwrap().template.metadata.unwrap();
    assert_eq!(
        template.labels.unwrap()["azure.workload.identity/use"],
        "true"
    );
    let grants = || {
        fake.resources_under(&format!("/subscriptions/{SUB}"))
            .into_iter()
            .filter(|(id, _)| id.contains("oleAssignments/"))
            .count()
    };
    assert_eq!(grants(), 4);
    let status = serde_json::to_string(&ready_bot.status).unwrap();
    assert!(
        !status.contains(api_secret),
        "the exchange secret reached the status"
    );

    // A steady state reads Azure but does not write to it.
    let before = fake.writes();
    let reads = fake.requests().len();
    bots.patch(
        "azure-bot",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"poke": "1"}}})),
    )
    .await
    .unwrap();
    eventually(
        10,
        "the poked bot to be reconciled (Azure read again)",
        || async { (fake.requests().len() > reads).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.writes(), before, "an unchanged bot wrote to Azure");

    bots.delete("azure-bot", &DeleteParams::default())
        .await
        .unwrap();
    eventually(30, "the bot and its Azure resources to go", || async {
        (bots.get_opt("azure-bot").await.ok()?.is_none()
            && fake.resource(&container).is_none()
            && fake.resource(&topic).is_none()
            && fake.resource(identity).is_none()
            && grants() == 0)
            .then_some(())
    })
    .await;
    operator.abort();
}

/// The worker owns `performance`, `Trading` and `Halted` (server-side apply under its own
/// manager). Operator status writes — from however stale a copy — never carry them back,
/// and a halt the worker reports turns the phase to Halted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_status_fields_survive_operator_writes() {
    use serde_json::json;
    let (_server, client) = cluster().await;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig::default(),
        Arc::new(NoCloud),
    ));
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });
    let bot: TradingBot = example("examples/bots/paper.yaml");
    let name = bot.name_any();
    bots.create(&PostParams::default(), &bot).await.unwrap();
    eventually(20, "Ready", || async {
        (ready(&bots.get(&name).await.ok()?)?.0 == "True").then_some(())
    })
    .await;

    let worker_status = |halted: &str| {
        json!({
            "apiVersion": "tradewind.dev/v1alpha1", "kind": "TradingBot",
            "status": {
                "performance": {"equity": "5012.5", "realizedPnl": "12.5"},
                "conditions": [
                    {"type": "Trading", "status": if halted == "True" { "False" } else { "True" },
                     "reason": "Running", "message": "trading ETHUSDT",
                     "lastTransitionTime": "2026-11-25T00:00:00Z"},
                    {"type": "Halted", "status": halted, "reason": "DrawdownLimit",
                     "message": "drawdown 12% > 10%", "lastTransitionTime": "2026-11-25T00:00:00Z"}
                ]
            }
        })
    };
    bots.patch_status(
        &name,
        &PatchParams::apply("tradewind-bot").force(),
        &Patch::Apply(worker_status("False")),
    )
    .await
    .unwrap();
    // An operator write (the Strategy changes → new config hash → status change).
    let strategies: Api<Strategy> = Api::namespaced(client.clone(), NS);
    strategies
        .patch(
            "rsi-reversion-14",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rsiReversion": {"oversold": 25}}})),
        )
        .await
        .unwrap();
    let before = bots.get(&name).await.unwrap().status.unwrap().config_hash;
    eventually(20, "the operator to write a new config hash", || async {
        let s = bots.get(&name).await.ok()?.status?;
        (s.config_hash != before).then_some(())
    })
    .await;
    let s = bots.get(&name).await.unwrap().status.unwrap();
    assert_eq!(
        s.performance
            .as_ref()
            .and_then(|p| p.equity.as_ref())
            .map(|e| e.to_string()),
        Some("5012.5".to_string()),
        "the operator dropped the worker's performance"
    );
    let types: Vec<&str> = s.conditions.iter().map(|c| c.type_.as_str()).collect();
    for t in ["Ready", "Trading", "Halted"] {
        assert!(types.contains(&t), "{t} missing from {types:?}");
    }

    // The worker halts: the operator shows it in the phase, and keeps the condition.
    bots.patch_status(
        &name,
        &PatchParams::apply("tradewind-bot").force(),
        &Patch::Apply(worker_status("True")),
    )
    .await
    .unwrap();
    eventually(20, "phase Halted", || async {
        let s = bots.get(&name).await.ok()?.status?;
        (s.phase == Some(tradewind_crds::Phase::Halted)
            && find(&s.conditions, types::HALTED)?.status == "True")
            .then_some(())
    })
    .await;
    operator.abort();
}

/// With a state volume configured, each bot's worker gets its claim (owned by the bot)
/// and mounts it; the bot still becomes Ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_volume_claim_is_created_for_each_bot() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use tradewind_operator::build::StateVolume;
    let (_server, client) = cluster().await;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig {
            state_volume: Some(StateVolume {
                storage_class: None,
                size: "1Gi".into(),
            }),
            ..OperatorConfig::default()
        },
        Arc::new(NoCloud),
    ));
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });
    let bot: TradingBot = example("examples/bots/paper.yaml");
    let name = bot.name_any();
    bots.create(&PostParams::default(), &bot).await.unwrap();
    eventually(20, "Ready", || async {
        (ready(&bots.get(&name).await.ok()?)?.0 == "True").then_some(())
    })
    .await;
    let claim = Api::<PersistentVolumeClaim>::namespaced(client.clone(), NS)
        .get(&format!("{name}-state"))
        .await
        .unwrap();
    assert_eq!(
        claim.metadata.owner_references.unwrap()[0].name,
        name,
        "the claim is owned by its bot"
    );
    let deployment = Api::<Deployment>::namespaced(client, NS)
        .get(&format!("{name}-worker"))
        .await
        .unwrap();
    let volumes = deployment
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .volumes
        .unwrap();
    let data = volumes.iter().find(|v| v.name == "data").unwrap();
    assert_eq!(
        data.persistent_volume_claim.as_ref().unwrap().claim_name,
        format!("{name}-state")
    );
    operator.abort();
}

/// A Backtest bot runs no worker (the worker refuses Backtest bots): none is created for
/// a new one, the one a Paper bot had is removed when it turns Backtest, and the status
/// is Ready with a message saying how to run the backtest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backtest_bot_gets_no_worker_and_is_told_how_to_run() {
    use k8s_openapi::api::core::v1::Service;
    use tradewind_crds::Mode;

    let (server, client) = cluster().await;
    let operator = start_operator(&client);
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let backtest_ready = |name: String| {
        let bots = bots.clone();
        async move {
            eventually(20, "Ready for a backtest", || async {
                let b = bots.get(&name).await.ok()?;
                (ready(&b)? == ("True".to_owned(), "BacktestOnly".to_owned())).then_some(b)
            })
            .await
        }
    };
    let told_how_to_run = |b: &TradingBot| {
        let status = b.status.as_ref().unwrap();
        let available = find(&status.conditions, types::AVAILABLE).unwrap();
        assert_eq!(
            (available.status.as_str(), available.reason.as_str()),
            ("False", "BacktestOnly")
        );
        let how = format!(
            "`tradewind-bot backtest -f FILE --data MARKET_DATA --bot {}`",
            b.name_any()
        );
        assert!(available.message.contains(&how), "{}", available.message);
        let ready = find(&status.conditions, types::READY).unwrap();
        assert_eq!(ready.message, available.message);
        assert_eq!(status.phase, Some(tradewind_crds::Phase::Backtest));
        assert_eq!(status.resources.as_ref().unwrap().deployment, None);
    };

    // A new Backtest bot: nothing of a worker is ever written.
    plan_reconciled(&client).await;
    server.handle().reset_counters();
    let mut fresh: TradingBot = example("examples/bots/paper.yaml");
    fresh.metadata.name = Some("backtest-only".into());
    fresh.spec.mode = Mode::Backtest;
    bots.create(&PostParams::default(), &fresh).await.unwrap();
    told_how_to_run(&backtest_ready("backtest-only".into()).await);
    let h = server.handle();
    for child in WORKER_OBJECTS {
        assert_eq!(h.writes(child), 0, "{child}: {:?}", h.counters());
    }

    // A Paper bot has its worker; turned Backtest, the worker and its objects go.
    let paper: TradingBot = example("examples/bots/paper.yaml");
    let name = paper.name_any();
    bots.create(&PostParams::default(), &paper).await.unwrap();
    eventually(20, "the paper bot's worker", || async {
        deployments.get_opt(&format!("{name}-worker")).await.ok()?
    })
    .await;
    bots.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"mode": "Backtest"}})),
    )
    .await
    .unwrap();
    let bot = backtest_ready(name.clone()).await;
    told_how_to_run(&bot);
    eventually(20, "the worker removed", || async {
        deployments
            .get_opt(&format!("{name}-worker"))
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        config_maps
            .get_opt(&format!("{name}-config"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        services
            .get_opt(&format!("{name}-metrics"))
            .await
            .unwrap()
            .is_none()
    );
    operator.abort();
}

/// A Backtest bot asking for cloud resources gets none (nothing of it runs in the
/// cluster); a Paper bot with the same request does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backtest_bot_gets_no_cloud_resources() {
    use tradewind_crds::Mode;

    let (_server, client) = cluster().await;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let cloud = Arc::new(RecordingCloud::default());
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig::default(),
        cloud.clone(),
    ));
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });

    let mut paper: TradingBot = example("examples/bots/paper.yaml");
    paper.metadata.name = Some("cloudy-paper".into());
    paper.spec.cloud =
        serde_json::from_value(serde_json::json!({"cosmos": true, "deletionPolicy": "Delete"}))
            .unwrap();
    let mut backtest = paper.clone();
    backtest.metadata.name = Some("cloudy-backtest".into());
    backtest.spec.mode = Mode::Backtest;
    bots.create(&PostParams::default(), &backtest)
        .await
        .unwrap();
    bots.create(&PostParams::default(), &paper).await.unwrap();
    eventually(
        20,
        "the Backtest bot Ready, the Paper bot's cloud ensured",
        || async {
            let b = bots.get("cloudy-backtest").await.ok()?;
            let ensured = cloud
                .ensures
                .lock()
                .unwrap()
                .contains(&"cloudy-paper".to_owned());
            (ready(&b)?.1 == "BacktestOnly" && ensured).then_some(())
        },
    )
    .await;
    let b = bots.get("cloudy-backtest").await.unwrap();
    let cloud_ready = find(&b.status.as_ref().unwrap().conditions, types::CLOUD_READY).unwrap();
    assert_eq!(cloud_ready.reason, "NotNeeded");
    assert!(
        !cloud
            .ensures
            .lock()
            .unwrap()
            .contains(&"cloudy-backtest".to_owned()),
        "{:?}",
        cloud.ensures.lock().unwrap()
    );
    operator.abort();
}

/// A bot naming an image off the allowlist gets no worker: Ready is False with reason
/// ImageNotAllowed naming `spec.image`; moved onto the allowlist, it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_off_the_allowlist_gets_no_worker() {
    let (_server, client) = cluster().await;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig {
            allowed_images: vec!["registry.example/approved/".into()],
            ..OperatorConfig::default()
        },
        Arc::new(NoCloud),
    ));
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });
    let mut bot: TradingBot = example("examples/bots/paper.yaml");
    bot.spec.image = Some("evil.example/steal:latest".into());
    let name = bot.name_any();
    bots.create(&PostParams::default(), &bot).await.unwrap();
    eventually(20, "ImageNotAllowed", || async {
        let b = bots.get(&name).await.ok()?;
        let c = find(&b.status.as_ref()?.conditions, types::READY)?.clone();
        (c.status == "False"
            && c.reason == "ImageNotAllowed"
            && c.message
                .starts_with("spec.image \"evil.example/steal:latest\""))
        .then_some(())
    })
    .await;
    let deployments = Api::<Deployment>::namespaced(client.clone(), NS);
    assert!(
        deployments
            .get_opt(&format!("{name}-worker"))
            .await
            .unwrap()
            .is_none(),
        "no worker runs the refused image"
    );
    bots.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"image": "registry.example/approved/bot:1"}})),
    )
    .await
    .unwrap();
    eventually(20, "Ready with the allowed image", || async {
        (ready(&bots.get(&name).await.ok()?)?.0 == "True").then_some(())
    })
    .await;
    let d = deployments.get(&format!("{name}-worker")).await.unwrap();
    let image = d.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("registry.example/approved/bot:1"));
    operator.abort();
}

/// Every bot is reconciled periodically without any event, so a bot the controller
/// missed (kube-runtime can drop an object first seen in a relist) is still brought to
/// its state: here a child no event reports — the worker's ConfigMap, which the
/// controller does not watch — comes back after it was deleted, long before the bot's
/// own requeue (five minutes).
#[tokio::test]
async fn every_bot_is_resynced_without_an_event() {
    let (_server, client) = cluster().await;
    let ctx = Arc::new(
        Context::new(client.clone(), OperatorConfig::default(), Arc::new(NoCloud))
            .with_resync(Duration::from_secs(1)),
    );
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let mut bot: TradingBot = example("examples/bots/paper.yaml");
    bot.metadata.name = Some("resynced".into());
    bots.create(&PostParams::default(), &bot).await.unwrap();
    eventually(20, "the bot to be Ready", || async {
        let b = bots.get("resynced").await.ok()?;
        (ready(&b)? == ("True".to_owned(), "Reconciled".to_owned())).then_some(b)
    })
    .await;
    let uid = |cm: ConfigMap| cm.metadata.uid.unwrap_or_default();
    let before = uid(config_maps.get("resynced-config").await.unwrap());
    config_maps
        .delete("resynced-config", &Default::default())
        .await
        .unwrap();
    let after = eventually(20, "the ConfigMap to be written again", || async {
        config_maps.get("resynced-config").await.ok()
    })
    .await;
    assert_ne!(uid(after), before, "a new ConfigMap, written by a resync");
    operator.abort();
}

/// A plan's settlement Job gets its own ServiceAccount, Role and RoleBinding; the last
/// settlement it applies into the plan's status (its own field manager) survives the
/// operator's status writes, and the operator's conditions survive its.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settlement_status_and_the_operators_conditions_survive_each_other() {
    use k8s_openapi::api::batch::v1::CronJob;
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    use serde_json::json;
    let (_server, client) = cluster().await;
    let plans: Api<CommissionPlan> = Api::namespaced(client.clone(), NS);
    let plan = "tiered-with-referrals";
    let job = "tiered-with-referrals-settlement";
    let operator = start_operator(&client);
    let cron_job: CronJob = eventually(20, "the settlement CronJob", || async {
        Api::<CronJob>::namespaced(client.clone(), NS)
            .get(job)
            .await
            .ok()
    })
    .await;
    let pod = cron_job
        .spec
        .unwrap()
        .job_template
        .spec
        .unwrap()
        .template
        .spec
        .unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some(job));
    Api::<ServiceAccount>::namespaced(client.clone(), NS)
        .get(job)
        .await
        .expect("the Job's ServiceAccount");
    let role = Api::<Role>::namespaced(client.clone(), NS)
        .get(job)
        .await
        .expect("its Role");
    assert_eq!(
        role.rules.unwrap()[0].resource_names.as_deref(),
        Some(&[plan.to_owned()][..])
    );
    Api::<RoleBinding>::namespaced(client.clone(), NS)
        .get(job)
        .await
        .expect("its RoleBinding");
    eventually(20, "the SettlementScheduled condition", || async {
        let s = plans.get(plan).await.ok()?.status?;
        find(&s.conditions, "SettlementScheduled").map(|_| ())
    })
    .await;

    // What `tradewind-platform settle` applies after a settlement.
    let settled = |fees: &str| {
        json!({
            "apiVersion": "tradewind.dev/v1alpha1", "kind": "CommissionPlan",
            "metadata": {"name": plan},
            "status": {"lastSettlement": {
                "periodStart": "2026-11-01T00:00:00Z", "periodEnd": "2026-12-01T00:00:00Z",
                "currency": "USDT", "tradingFees": fees, "performanceFees": "0",
                "byRecipientClass": {"platform": fees},
                "accountsCharged": 1, "charges": 2, "settledAt": "2026-12-01T00:00:04Z"
            }}
        })
    };
    plans
        .patch_status(
            plan,
            &PatchParams::apply("tradewind-settlement").force(),
            &Patch::Apply(settled("12.5")),
        )
        .await
        .unwrap();
    // An operator write: a new generation of the plan changes its observedGeneration.
    let generation = plans
        .patch(
            plan,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"currency": "USDC"}})),
        )
        .await
        .unwrap()
        .metadata
        .generation;
    let status = eventually(20, "the operator to observe the new generation", || async {
        let s = plans.get(plan).await.ok()?.status?;
        (s.observed_generation == generation).then_some(s)
    })
    .await;
    let last = status
        .last_settlement
        .expect("the operator dropped lastSettlement");
    assert_eq!(
        last.trading_fees.map(|d| d.to_string()).as_deref(),
        Some("12.5")
    );
    assert_eq!(last.charges, Some(2));
    assert!(find(&status.conditions, "SettlementScheduled").is_some());

    // The next settlement replaces its own fields and leaves the operator's.
    plans
        .patch_status(
            plan,
            &PatchParams::apply("tradewind-settlement").force(),
            &Patch::Apply(settled("20")),
        )
        .await
        .unwrap();
    let s = plans.get(plan).await.unwrap().status.unwrap();
    assert_eq!(
        s.last_settlement
            .and_then(|l| l.trading_fees)
            .map(|d| d.to_string())
            .as_deref(),
        Some("20")
    );
    assert_eq!(s.observed_generation, generation);
    assert!(find(&s.conditions, "SettlementScheduled").is_some());
    assert!(s.bound_bots.is_some());
    operator.abort();
}

/// With the market-data feed configured, a Paper bot's symbol gets one feed Deployment
/// (shared by every bot of that symbol) and the bot's worker is told where to read; the
/// feed goes with the last bot that used it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_of_a_symbol_follows_its_paper_and_live_bots() {
    use tradewind_operator::build::MarketData;
    let (_server, client) = cluster().await;
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig {
            market_data: Some(MarketData {
                nats_url: "nats://nats.tradewind-system:4222".into(),
                subject_prefix: "tw.md".into(),
                namespace: NS.into(),
                replicas: 2,
                ..MarketData::default()
            }),
            ..OperatorConfig::default()
        },
        Arc::new(NoCloud),
    ));
    let operator = tokio::spawn(async move { controller::run(ctx, Some(NS)).await });
    let bot: TradingBot = example("examples/bots/paper.yaml");
    let name = bot.name_any();
    let symbol = bot.spec.symbols[0].to_ascii_lowercase();
    let mut twin = bot.clone();
    twin.metadata.name = Some(format!("{name}-twin"));
    bots.create(&PostParams::default(), &bot).await.unwrap();
    bots.create(&PostParams::default(), &twin).await.unwrap();
    let deployments = Api::<Deployment>::namespaced(client.clone(), NS);
    let feed_name = format!("tw-feed-spot-{symbol}");
    let feed = eventually(20, "the feed Deployment", || async {
        deployments.get_opt(&feed_name).await.ok()?
    })
    .await;
    let args = feed.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert_eq!(
        args[..3],
        [
            "feed".to_owned(),
            "--symbol".into(),
            symbol.to_ascii_uppercase()
        ]
    );
    let worker = eventually(20, "the worker", || async {
        deployments.get_opt(&format!("{name}-worker")).await.ok()?
    })
    .await;
    let env = worker.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    assert!(
        env.iter().any(|e| e.name == "TRADEWIND_NATS_URL"
            && e.value.as_deref() == Some("nats://nats.tradewind-system:4222")),
        "{env:?}"
    );
    // One bot left: the feed stays; none left: it goes.
    bots.delete(&name, &Default::default()).await.unwrap();
    eventually(20, "the first bot gone", || async {
        bots.get_opt(&name).await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(deployments.get_opt(&feed_name).await.unwrap().is_some());
    bots.delete(&format!("{name}-twin"), &Default::default())
        .await
        .unwrap();
    eventually(20, "the feed deleted", || async {
        deployments
            .get_opt(&feed_name)
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    operator.abort();
}

fn strategy_ready(s: &Strategy) -> Option<(String, String)> {
    let c = find(&s.status.as_ref()?.conditions, types::READY)?;
    Some((c.status.clone(), c.message.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_in_a_config_map_is_checked_mounted_and_rechecked_when_it_changes() {
    use k8s_openapi::ByteString;
    use tradewind_core::strategy::model::sha256_hex;
    use tradewind_crds::contract::{MODEL_DIR, MODEL_PATH};
    use tradewind_crds::{KeyReference, ModelArtifact};

    const MODEL: &[u8] = include_bytes!("../../examples/models/spy-gbm.onnx");
    let (server, client) = cluster().await;
    let strategies: Api<Strategy> = Api::namespaced(client.clone(), NS);
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let model_map = |bytes: &[u8]| ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("spy-gbm".into()),
            ..Default::default()
        },
        binary_data: Some(
            [("model.onnx".to_owned(), ByteString(bytes.to_vec()))]
                .into_iter()
                .collect(),
        ),
        ..ConfigMap::default()
    };
    config_maps
        .create(&PostParams::default(), &model_map(MODEL))
        .await
        .unwrap();
    let mut strategy: Strategy = example("examples/models/spy-gbm.yaml");
    let model = strategy.spec.model.as_mut().unwrap();
    model.artifact = ModelArtifact {
        sha256: sha256_hex(MODEL),
        path: None,
        config_map: Some(KeyReference {
            name: "spy-gbm".into(),
            key: "model.onnx".into(),
        }),
        secret: None,
        blob_url: None,
    };
    let name = strategy.name_any();
    strategies
        .create(&PostParams::default(), &strategy)
        .await
        .unwrap();
    let ctx = Arc::new(Context::new(
        client.clone(),
        OperatorConfig::default(),
        Arc::new(NoCloud),
    ));
    let operator = {
        let ctx = ctx.clone();
        tokio::spawn(async move { controller::run(ctx, Some(NS)).await })
    };
    // Waits for the Strategy's Ready to be `status` with a message containing `says`.
    let ready_is = |status: &'static str, says: String| {
        let strategies = strategies.clone();
        let name = name.clone();
        async move {
            eventually(20, &format!("Ready {status} saying {says:?}"), || async {
                let s = strategies.get(&name).await.ok()?;
                let (st, message) = strategy_ready(&s)?;
                (st == status && message.contains(&says)).then_some(message)
            })
            .await
        }
    };

    // Matching: Ready.
    let message = ready_is("True", format!("sha256 {}", sha256_hex(MODEL))).await;
    assert!(message.contains("9 features"), "{message}");

    // Reconciles that change nothing about the model neither read nor load it again
    // (no bot yet: its children's applies read ConfigMaps too).
    let loads = ctx.models.loads();
    server.handle().reset_counters();
    for timeframe in ["15m", "5m"] {
        strategies
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&serde_json::json!({"spec": {"timeframe": timeframe}})),
            )
            .await
            .unwrap();
        let generation = strategies.get(&name).await.unwrap().metadata.generation;
        eventually(20, "the Strategy reconciled", || async {
            let s = strategies.get(&name).await.ok()?;
            (s.status?.observed_generation == generation).then_some(())
        })
        .await;
    }
    assert_eq!(ctx.models.loads(), loads, "the model was loaded again");
    assert_eq!(
        server.handle().count("get", "configmaps"),
        0,
        "the model's ConfigMap was read again: {:?}",
        server.handle().counters()
    );

    // The worker's pod has the key at the file the worker reads.
    let mut bot: TradingBot = example("examples/bots/paper.yaml");
    bot.spec.strategy_ref.name = name.clone();
    let bot_name = bot.name_any();
    bots.create(&PostParams::default(), &bot).await.unwrap();
    let d = eventually(20, "the worker Deployment", || async {
        deployments.get(&format!("{bot_name}-worker")).await.ok()
    })
    .await;
    let pod = d.spec.unwrap().template.spec.unwrap();
    let volume = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == "model")
        .expect("a model volume");
    let source = volume.config_map.expect("from the ConfigMap");
    assert_eq!(source.name, "spy-gbm");
    let item = &source.items.unwrap()[0];
    let mount = pod.containers[0]
        .volume_mounts
        .clone()
        .unwrap()
        .into_iter()
        .find(|m| m.name == "model")
        .expect("the model mounted");
    assert_eq!(item.key, "model.onnx");
    assert_eq!(mount.mount_path, MODEL_DIR);
    assert_eq!(format!("{}/{}", mount.mount_path, item.path), MODEL_PATH);
    assert_eq!(mount.read_only, Some(true));

    // A wrong input width.
    let mut wide = strategies.get(&name).await.unwrap();
    wide.spec.model.as_mut().unwrap().features.push(
        serde_json::from_value(
            serde_json::json!({"name": "ret_48", "kind": "Returns", "period": 48}),
        )
        .unwrap(),
    );
    strategies
        .replace(&name, &PostParams::default(), &wide)
        .await
        .unwrap();
    let message = ready_is("False", "takes 9 features, the Strategy declares 10".into()).await;
    assert!(message.contains(&format!("Strategy {name}")), "{message}");
    assert!(
        message.contains("ConfigMap spy-gbm key model.onnx"),
        "{message}"
    );
    let mut narrow = strategies.get(&name).await.unwrap();
    narrow.spec.model.as_mut().unwrap().features.pop();
    strategies
        .replace(&name, &PostParams::default(), &narrow)
        .await
        .unwrap();
    ready_is("True", "verified".into()).await;

    // The ConfigMap changes to other bytes: re-checked at once (its watch), the digest
    // named; fixed, Ready again.
    let other = [MODEL, b"tampered"].concat();
    config_maps
        .replace("spy-gbm", &PostParams::default(), &{
            let mut cm = config_maps.get("spy-gbm").await.unwrap();
            cm.binary_data = model_map(&other).binary_data;
            cm
        })
        .await
        .unwrap();
    let message = ready_is(
        "False",
        format!("sha256 of the artifact is {}", sha256_hex(&other)),
    )
    .await;
    assert!(message.contains(&format!("Strategy {name}")), "{message}");
    assert!(message.contains(&sha256_hex(MODEL)), "{message}");
    config_maps
        .replace("spy-gbm", &PostParams::default(), &{
            let mut cm = config_maps.get("spy-gbm").await.unwrap();
            cm.binary_data = model_map(MODEL).binary_data;
            cm
        })
        .await
        .unwrap();
    ready_is("True", "verified".into()).await;

    // A missing key, then a missing ConfigMap, each named; recreated, Ready again.
    let mut cm = config_maps.get("spy-gbm").await.unwrap();
    cm.binary_data = Some(
        [("other.onnx".to_owned(), ByteString(MODEL.to_vec()))]
            .into_iter()
            .collect(),
    );
    config_maps
        .replace("spy-gbm", &PostParams::default(), &cm)
        .await
        .unwrap();
    ready_is("False", "has no key \"model.onnx\"".into()).await;
    config_maps
        .delete("spy-gbm", &DeleteParams::default())
        .await
        .unwrap();
    ready_is("False", "ConfigMap spy-gbm not found".into()).await;
    config_maps
        .create(&PostParams::default(), &model_map(MODEL))
        .await
        .unwrap();
    ready_is("True", "verified".into()).await;
    operator.abort();
}

/// A model Secret labelled `tradewind.dev/model` in a namespace the operator watches
/// Secrets in: a change re-checks the Strategy at once (the periodic reconcile is minutes
/// away), without the Strategy changing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_in_a_watched_secret_is_rechecked_when_it_changes() {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;
    use tradewind_core::strategy::model::sha256_hex;
    use tradewind_crds::{KeyReference, ModelArtifact};
    use tradewind_operator::model::SECRET_WATCH_LABEL;

    const MODEL: &[u8] = include_bytes!("../../examples/models/spy-gbm.onnx");
    let (_server, client) = cluster().await;
    let strategies: Api<Strategy> = Api::namespaced(client.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let data = |bytes: &[u8]| {
        Some(
            [("model.onnx".to_owned(), ByteString(bytes.to_vec()))]
                .into_iter()
                .collect(),
        )
    };
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("spy-gbm".into()),
                    labels: Some([(SECRET_WATCH_LABEL.to_owned(), "true".to_owned())].into()),
                    ..Default::default()
                },
                data: data(MODEL),
                ..Secret::default()
            },
        )
        .await
        .unwrap();
    let mut strategy: Strategy = example("examples/models/spy-gbm.yaml");
    strategy.spec.model.as_mut().unwrap().artifact = ModelArtifact {
        sha256: sha256_hex(MODEL),
        path: None,
        config_map: None,
        secret: Some(KeyReference {
            name: "spy-gbm".into(),
            key: "model.onnx".into(),
        }),
        blob_url: None,
    };
    let name = strategy.name_any();
    strategies
        .create(&PostParams::default(), &strategy)
        .await
        .unwrap();
    let ctx = Arc::new(
        Context::new(client.clone(), OperatorConfig::default(), Arc::new(NoCloud))
            .with_model_secret_namespaces(vec![NS.to_owned()]),
    );
    let operator = {
        let ctx = ctx.clone();
        tokio::spawn(async move { controller::run(ctx, Some(NS)).await })
    };
    let ready_is = |status: &'static str, says: String| {
        let strategies = strategies.clone();
        let name = name.clone();
        async move {
            eventually(20, &format!("Ready {status} saying {says:?}"), || async {
                let s = strategies.get(&name).await.ok()?;
                let (st, message) = strategy_ready(&s)?;
                (st == status && message.contains(&says)).then_some(message)
            })
            .await
        }
    };
    ready_is("True", format!("sha256 {}", sha256_hex(MODEL))).await;
    let generation = strategies.get(&name).await.unwrap().metadata.generation;

    // Other bytes in the Secret: re-checked, the digest named; restored, Ready again.
    let other = [MODEL, b"tampered"].concat();
    let mut secret = secrets.get("spy-gbm").await.unwrap();
    secret.data = data(&other);
    secrets
        .replace("spy-gbm", &PostParams::default(), &secret)
        .await
        .unwrap();
    let message = ready_is(
        "False",
        format!("sha256 of the artifact is {}", sha256_hex(&other)),
    )
    .await;
    assert!(message.contains(&format!("Strategy {name}")), "{message}");
    let mut secret = secrets.get("spy-gbm").await.unwrap();
    secret.data = data(MODEL);
    secrets
        .replace("spy-gbm", &PostParams::default(), &secret)
        .await
        .unwrap();
    ready_is("True", "verified".into()).await;
    // Deleted: named at once.
    secrets
        .delete("spy-gbm", &DeleteParams::default())
        .await
        .unwrap();
    ready_is("False", "Secret spy-gbm not found".into()).await;
    assert_eq!(
        strategies.get(&name).await.unwrap().metadata.generation,
        generation,
        "the Strategy itself never changed"
    );
    operator.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_in_blob_storage_is_fetched_checked_and_copied_for_the_workers() {
    use tradewind_azure::blob::{BlobClient, BlobOptions};
    use tradewind_azure::transport::TransportOptions;
    use tradewind_core::strategy::model::sha256_hex;
    use tradewind_crds::ModelArtifact;
    use tradewind_crds::contract::MODEL_FILE;
    use tradewind_operator::model::{ModelBlobs, blob_copy_name};

    const MODEL: &[u8] = include_bytes!("../../examples/models/spy-gbm.onnx");
    let entra = tradewind_azure_fake::TestServer::start().expect("azure fake");
    let azurite = tradewind_store_emulators::Azurite::start();
    let endpoint = azurite.endpoint("devstoreaccount1");
    // The operator's own identity (the fake's Entra signs it in).
    let blob = BlobClient::new(
        &endpoint,
        entra.handle().connection().credential.clone(),
        &TransportOptions {
            extra_ca_pem: Some(azurite.ca_pem().as_bytes().to_vec()),
        },
        BlobOptions::default(),
    )
    .unwrap();
    blob.create_container("models").await.unwrap();
    blob.put("models", "spy/gbm.onnx", MODEL).await.unwrap();

    let (_server, client) = cluster().await;
    let strategies: Api<Strategy> = Api::namespaced(client.clone(), NS);
    let bots: Api<TradingBot> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let mut strategy: Strategy = example("examples/models/spy-gbm.yaml");
    let url = format!("{endpoint}models/spy/gbm.onnx");
    strategy.spec.model.as_mut().unwrap().artifact = ModelArtifact {
        sha256: sha256_hex(MODEL),
        path: None,
        config_map: None,
        secret: None,
        blob_url: Some(url.clone()),
    };
    let name = strategy.name_any();
    strategies
        .create(&PostParams::default(), &strategy)
        .await
        .unwrap();
    let ctx = Arc::new(
        Context::new(client.clone(), OperatorConfig::default(), Arc::new(NoCloud))
            .with_model_blobs(ModelBlobs {
                endpoint: endpoint.clone(),
                client: blob.clone(),
            }),
    );
    let operator = {
        let ctx = ctx.clone();
        tokio::spawn(async move { controller::run(ctx, Some(NS)).await })
    };
    let ready_is = |status: &'static str, says: String| {
        let strategies = strategies.clone();
        let name = name.clone();
        async move {
            eventually(20, &format!("Ready {status} saying {says:?}"), || async {
                let s = strategies.get(&name).await.ok()?;
                let (st, message) = strategy_ready(&s)?;
                (st == status && message.contains(&says)).then_some(message)
            })
            .await
        }
    };
    // Re-read at a reconcile: an edit of the Strategy triggers one.
    let touch = |timeframe: &'static str| {
        let strategies = strategies.clone();
        let name = name.clone();
        async move {
            strategies
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(&serde_json::json!({"spec": {"timeframe": timeframe}})),
                )
                .await
                .unwrap();
        }
    };

    // Matching: Ready, and the checked bytes copied into a ConfigMap the Strategy owns.
    let message = ready_is("True", format!("sha256 {}", sha256_hex(MODEL))).await;
    assert!(message.contains(&format!("blob {url}")), "{message}");
    let copy = config_maps.get(&blob_copy_name(&name)).await.unwrap();
    assert_eq!(copy.binary_data.unwrap()[MODEL_FILE].0, MODEL);
    let owner = &copy.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Strategy", name.as_str())
    );

    // A bot's worker mounts the copy at the file it reads.
    let mut bot: TradingBot = example("examples/bots/paper.yaml");
    bot.spec.strategy_ref.name = name.clone();
    let bot_name = bot.name_any();
    bots.create(&PostParams::default(), &bot).await.unwrap();
    let d = eventually(20, "the worker Deployment", || async {
        deployments.get(&format!("{bot_name}-worker")).await.ok()
    })
    .await;
    let volume = d
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == "model")
        .expect("a model volume");
    let source = volume.config_map.expect("from the copy");
    assert_eq!(source.name, blob_copy_name(&name));
    assert_eq!(source.items.unwrap()[0].key, MODEL_FILE);

    // The blob changes to other bytes: the digest named, the Strategy named.
    let other = [MODEL, b"tampered"].concat();
    blob.put("models", "spy/gbm.onnx", &other).await.unwrap();
    touch("15m").await;
    let message = ready_is(
        "False",
        format!("sha256 of the artifact is {}", sha256_hex(&other)),
    )
    .await;
    assert!(message.contains(&format!("Strategy {name}")), "{message}");
    assert!(message.contains("spec.model.artifact.blobUrl"), "{message}");

    // A missing blob.
    let mut s = strategies.get(&name).await.unwrap();
    s.spec.model.as_mut().unwrap().artifact.blob_url =
        Some(format!("{endpoint}models/absent.onnx"));
    strategies
        .replace(&name, &PostParams::default(), &s)
        .await
        .unwrap();
    let message = ready_is("False", "blob models/absent.onnx not found".into()).await;
    assert!(message.contains(&format!("Strategy {name}")), "{message}");

    // Another storage account is refused before any request.
    let mut s = strategies.get(&name).await.unwrap();
    s.spec.model.as_mut().unwrap().artifact.blob_url =
        Some("https://elsewhere.blob.core.windows.net/models/spy/gbm.onnx".into());
    strategies
        .replace(&name, &PostParams::default(), &s)
        .await
        .unwrap();
    ready_is(
        "False",
        "is not in the environment's storage account".into(),
    )
    .await;

    // Back to the right bytes: Ready again.
    blob.put("models", "spy/gbm.onnx", MODEL).await.unwrap();
    let mut s = strategies.get(&name).await.unwrap();
    s.spec.model.as_mut().unwrap().artifact.blob_url = Some(url.clone());
    strategies
        .replace(&name, &PostParams::default(), &s)
        .await
        .unwrap();
    ready_is("True", "verified".into()).await;
    operator.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_model_without_blob_access_is_refused_naming_the_strategy() {
    use tradewind_core::strategy::model::sha256_hex;
    use tradewind_crds::ModelArtifact;

    const MODEL: &[u8] = include_bytes!("../../examples/models/spy-gbm.onnx");
    let (_server, client) = cluster().await;
    let strategies: Api<Strategy> = Api::namespaced(client.clone(), NS);
    let mut strategy: Strategy = example("examples/models/spy-gbm.yaml");
    strategy.spec.model.as_mut().unwrap().artifact = ModelArtifact {
        sha256: sha256_hex(MODEL),
        path: None,
        config_map: None,
        secret: None,
        blob_url: Some("https://acct.blob.core.windows.net/models/m.onnx".into()),
    };
    let name = strategy.name_any();
    strategies
        .create(&PostParams::default(), &strategy)
        .await
        .unwrap();
    let operator = start_operator(&client);
    let message = eventually(20, "Ready False", || async {
        let s = strategies.get(&name).await.ok()?;
        let (st, message) = strategy_ready(&s)?;
        (st == "False").then_some(message)
    })
    .await;
    assert!(
        message.contains(&format!("Strategy {name}"))
            && message.contains("spec.model.artifact.blobUrl")
            && message.contains("no Blob Storage access"),
        "{message}"
    );
    operator.abort();
}
