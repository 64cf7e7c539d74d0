//! The chart installs into the test API server with the real Helm engine, the operator
//! its Deployment describes (args and env taken from the installed Deployment, two
//! replicas electing a leader) brings the examples to Ready, and the chart's RBAC grants
//! exactly what that operator used: every request it made is allowed by the rendered
//! rules, and every rule element was needed by some request (or by the worker Roles the
//! operator writes, which Kubernetes lets it write only if it holds their permissions).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tradewind_apiserver::TestServer;
use tradewind_deploy_tests::proxy::Proxy;
use tradewind_deploy_tests::rbac::{self, Request};
use tradewind_deploy_tests::*;

const RELEASE: &str = "tradewind";
const RELEASE_NS: &str = "tradewind-system";
const BOTS_NS: &str = "trading";

struct Env {
    _server: TestServer,
    kubeconfig: PathBuf,
    /// The operator's kubeconfig: through the recording proxy.
    operator_kubeconfig: PathBuf,
    proxy: Proxy,
    dir: PathBuf,
}

fn env(tag: &str) -> Env {
    let server = TestServer::start().expect("test API server");
    let dir = std::env::temp_dir().join(format!("tw-deploy-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let url = server.url();
    let proxy = Proxy::start(url.trim_start_matches("http://").trim_end_matches('/'));
    let operator_kubeconfig = dir.join("operator-kubeconfig");
    std::fs::write(
        &operator_kubeconfig,
        server
            .kubeconfig_yaml()
            .replace(url.trim_end_matches('/'), &proxy.url),
    )
    .unwrap();
    Env {
        _server: server,
        kubeconfig,
        operator_kubeconfig,
        proxy,
        dir,
    }
}

/// The operator's args and env as the installed Deployment gives them to the container,
/// with the downward-API fields resolved for pod `pod`. The metrics address is the one
/// thing changed: two local processes cannot both bind 0.0.0.0:8080.
fn container_command(deployment: &Value, pod: &str) -> (Vec<String>, Vec<(String, String)>) {
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let mut env = Vec::new();
    for e in c["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap().to_owned();
        let value = if let Some(v) = e["value"].as_str() {
            v.to_owned()
        } else {
            match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.name") => pod.to_owned(),
                Some("metadata.namespace") => deployment["metadata"]["namespace"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                other => panic!("unexpected env source {other:?} for {name}"),
            }
        };
        let value = if name == "TRADEWIND_METRICS_ADDR" {
            "127.0.0.1:0".to_owned()
        } else {
            value
        };
        env.push((name, value));
    }
    (args, env)
}

fn ready(obj: &Value) -> bool {
    condition(obj, "Ready").is_some_and(|c| c["status"] == "True")
}

fn bot_reason(kc: &Path, name: &str) -> String {
    let b = get_json(kc, &["tradingbot", name, "-n", BOTS_NS]);
    condition(&b, "Ready").map_or(String::new(), |c| c["reason"].as_str().unwrap().to_owned())
}

/// Installs the chart, runs its operator through a bot's whole life and compares the
/// requests with the rendered RBAC.
fn install_run_and_compare(tag: &str, mut values: Value) {
    // The test API server does not serve admissionregistration.k8s.io: the credentials
    // admission policy is checked as rendered (tests/chart.rs), not installed here.
    values["credentialsPolicy"] = json!({"enabled": false});
    let e = env(tag);
    let kc = &e.kubeconfig;
    kubectl(kc, &["create", "namespace", BOTS_NS]);

    // Install with Helm: CRDs from crds/, then every object; then wait for the Deployment
    // to be available (the test server simulates its pods).
    let chart = chart_dir();
    let rel = chart_py(&[
        "install",
        kc.to_str().unwrap(),
        chart.to_str().unwrap(),
        &values.to_string(),
        RELEASE,
        RELEASE_NS,
    ]);
    assert_eq!(rel["status"], "deployed", "{rel}");
    for crd in ["tradingbots", "strategies", "commissionplans"] {
        let c = get_json(kc, &["crd", &format!("{crd}.tradewind.dev")]);
        assert!(
            condition(&c, "Established").is_some_and(|c| c["status"] == "True"),
            "CRD {crd} from the chart's crds/ is established"
        );
    }
    kubectl(
        kc,
        &[
            "wait",
            "--for=condition=Available",
            "deployment/tradewind",
            "-n",
            RELEASE_NS,
            "--timeout=60s",
        ],
    );
    let deployment = get_json(kc, &["deployment", RELEASE, "-n", RELEASE_NS]);
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(deployment["status"]["availableReplicas"], 2);

    // The two replicas the Deployment describes, as processes.
    let pods = ["tradewind-7d9f-a", "tradewind-7d9f-b"];
    let _ops: Vec<Operator> = pods
        .iter()
        .map(|pod| {
            let (args, env) = container_command(&deployment, pod);
            start_operator(&e.operator_kubeconfig, &args, &env)
        })
        .collect();
    eventually(60, "a replica holds the leader Lease", || {
        let out = kubectl_output(
            kc,
            &[
                "get",
                "lease",
                "tradewind-operator",
                "-n",
                RELEASE_NS,
                "-o",
                "json",
            ],
        );
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout)
                .is_ok_and(|l| pods.iter().any(|p| l["spec"]["holderIdentity"] == *p))
    });

    // A bot whose Strategy does not exist yet: a Warning Event is created.
    let paper = std::fs::read_to_string(repo().join("examples/bots/paper.yaml")).unwrap();
    let v: Value = serde_saphyr::from_str(&paper).unwrap();
    let (bot, strategy) = (
        v["metadata"]["name"].as_str().unwrap(),
        v["spec"]["strategyRef"]["name"].as_str().unwrap(),
    );
    let orphan = paper
        .replacen(&format!("name: {bot}\n"), "name: orphan\n", 1)
        .replacen(&format!("name: {strategy}\n"), "name: later\n", 1);
    assert!(orphan.contains("name: orphan\n") && orphan.contains("name: later\n"));
    let later = example_strategy_renamed(strategy, "later");
    kubectl(
        kc,
        &[
            "apply",
            "-n",
            BOTS_NS,
            "-f",
            "examples/strategies/",
            "-f",
            "examples/commission-plans/",
            "-f",
            "examples/bots/",
        ],
    );
    kubectl_stdin(kc, &["apply", "-n", BOTS_NS, "-f", "-"], &orphan);
    eventually(60, "the orphan bot reports StrategyNotFound", || {
        bot_reason(kc, "orphan") == "StrategyNotFound"
    });
    eventually(60, "each example plan has its settlement Role", || {
        ["flat-10bps", "tiered-with-referrals"].iter().all(|plan| {
            kubectl_output(
                kc,
                &["get", "role", &format!("{plan}-settlement"), "-n", BOTS_NS],
            )
            .status
            .success()
        })
    });
    eventually(60, "every example bot is Ready", || {
        let bots = get_json(kc, &["tradingbots", "-n", BOTS_NS]);
        let items = bots["items"].as_array().unwrap();
        items.len() == 4 && items.iter().filter(|b| ready(b)).count() == 3
    });
    // The Strategy appears (the bot becomes Ready), goes away again (the same Warning
    // again: the event recorder patches the Event's series) and comes back.
    kubectl_stdin(kc, &["apply", "-n", BOTS_NS, "-f", "-"], &later);
    eventually(60, "the orphan bot is Ready", || {
        bot_reason(kc, "orphan") == "Reconciled"
    });
    kubectl(kc, &["delete", "strategy", "later", "-n", BOTS_NS]);
    eventually(60, "StrategyNotFound again", || {
        bot_reason(kc, "orphan") == "StrategyNotFound"
    });
    kubectl_stdin(kc, &["apply", "-n", BOTS_NS, "-f", "-"], &later);
    eventually(60, "Ready again", || {
        bot_reason(kc, "orphan") == "Reconciled"
    });
    let events = get_json(kc, &["events.v1.events.k8s.io", "-n", BOTS_NS]);
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|ev| ev["reason"] == "StrategyNotFound"
                && ev["series"]["count"].as_i64().unwrap_or(0) >= 2),
        "the repeated Warning became an Event series: {events}"
    );
    // The paper bot turned Backtest: its worker's objects are deleted.
    kubectl(
        kc,
        &[
            "patch",
            "tradingbot",
            bot,
            "-n",
            BOTS_NS,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"mode":"Backtest"}}"#,
        ],
    );
    eventually(60, "the Backtest bot's worker is gone", || {
        bot_reason(kc, bot) == "BacktestOnly"
            && !kubectl_output(
                kc,
                // The ConfigMap is the last of them to go.
                &["get", "configmap", &format!("{bot}-config"), "-n", BOTS_NS],
            )
            .status
            .success()
    });
    // Given market data, the Backtest bot runs as a Job; given other data, as another Job
    // (the first deleted) and its pods are read for their summary.
    let job_of = |kc: &Path| {
        get_json(
            kc,
            &[
                "jobs",
                "-n",
                BOTS_NS,
                "-l",
                &format!("app.kubernetes.io/instance={bot},app.kubernetes.io/component=backtest"),
            ],
        )["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["metadata"]["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let mut first = Vec::new();
    for url in ["https://example.com/a.csv", "https://example.com/b.csv"] {
        kubectl(
            kc,
            &[
                "patch",
                "tradingbot",
                bot,
                "-n",
                BOTS_NS,
                "--type",
                "merge",
                "-p",
                &json!({"spec": {"backtest": {"data": {"url": url}}}}).to_string(),
            ],
        );
        eventually(60, "one backtest Job, of the current data", || {
            let jobs = job_of(kc);
            jobs.len() == 1 && jobs != first && bot_reason(kc, bot) == "BacktestRunning"
        });
        first = job_of(kc);
    }
    // Suspend one bot, then delete them all (the finalizer runs).
    kubectl(
        kc,
        &[
            "patch",
            "tradingbot",
            "orphan",
            "-n",
            BOTS_NS,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ],
    );
    eventually(60, "the bot is Suspended", || {
        bot_reason(kc, "orphan") == "Suspended"
    });
    let operator_roles = get_json(
        kc,
        &[
            "roles",
            "-n",
            BOTS_NS,
            "-l",
            "app.kubernetes.io/managed-by=tradewind-operator",
        ],
    );
    kubectl(
        kc,
        &[
            "delete",
            "tradingbots",
            "--all",
            "-n",
            BOTS_NS,
            "--wait=false",
        ],
    );
    eventually(60, "the bots are gone (finalizer removed)", || {
        get_json(kc, &["tradingbots", "-n", BOTS_NS])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    });

    // What the operator asked for, plus what the Roles it wrote delegate.
    let mut reqs: Vec<Request> = e.proxy.seen().iter().flat_map(rbac::requests).collect();
    let roles = operator_roles["items"].as_array().unwrap();
    let settlement =
        |r: &&Value| r["metadata"]["labels"]["app.kubernetes.io/name"] == "tradewind-settlement";
    assert_eq!(
        roles.iter().filter(|r| !settlement(r)).count(),
        2,
        "one worker Role per bot that runs a worker (not the two Backtest bots)"
    );
    assert_eq!(
        roles.iter().filter(settlement).count(),
        2,
        "one settlement Role per CommissionPlan (the two examples)"
    );
    for role in roles {
        for rule in role["rules"].as_array().unwrap() {
            for verb in rule["verbs"].as_array().unwrap() {
                for res in rule["resources"].as_array().unwrap() {
                    for name in rule["resourceNames"].as_array().unwrap() {
                        reqs.push(Request {
                            verb: verb.as_str().unwrap().into(),
                            group: rule["apiGroups"][0].as_str().unwrap().into(),
                            resource: res.as_str().unwrap().into(),
                            namespace: Some(BOTS_NS.into()),
                            name: Some(name.as_str().unwrap().into()),
                        });
                    }
                }
            }
        }
    }
    reqs.sort();
    reqs.dedup();
    // The proxy saw the operator's own traffic: its watches, its leader Lease, its Events.
    let saw = |verb: &str, resource: &str, ns: Option<&str>| {
        reqs.iter()
            .any(|q| q.verb == verb && q.resource == resource && q.namespace.as_deref() == ns)
    };
    let scope = values["watchNamespace"].as_str().map(|_| BOTS_NS);
    assert!(saw("watch", "tradingbots", scope), "{reqs:#?}");
    assert!(saw("patch", "leases", Some(RELEASE_NS)), "{reqs:#?}");
    assert!(
        saw("create", "events", Some(BOTS_NS)) && saw("patch", "events", Some(BOTS_NS)),
        "{reqs:#?}"
    );
    eprintln!(
        "{} distinct RBAC requests by the operator (and its worker Roles)",
        reqs.len()
    );

    let objects = render(&values, RELEASE, RELEASE_NS).expect("renders");
    let rules = rbac::rules(&objects);
    let missing = rbac::missing(&rules, &reqs);
    assert!(
        missing.is_empty(),
        "requests the chart's RBAC does not allow:\n{missing:#?}"
    );
    let unused = rbac::unused(&rules, &reqs);
    assert!(unused.is_empty(), "grants nothing needed:\n{unused:#?}");

    // Uninstall removes the operator's objects; the CRDs stay (Helm never deletes crds/).
    let gone = chart_py(&["uninstall", kc.to_str().unwrap(), RELEASE, RELEASE_NS]);
    assert_eq!(gone["status"], "uninstalled");
    assert!(
        !kubectl_output(kc, &["get", "deployment", RELEASE, "-n", RELEASE_NS])
            .status
            .success()
    );
    get_json(kc, &["crd", "tradingbots.tradewind.dev"]);
    let _ = std::fs::remove_dir_all(&e.dir);
}

#[test]
fn cluster_wide_install_runs_the_operator_with_exactly_its_rbac() {
    install_run_and_compare("cluster", json!({}));
}

#[test]
fn namespace_scoped_install_runs_the_operator_with_roles_only() {
    let values = json!({"watchNamespace": BOTS_NS});
    let objects = render(&values, RELEASE, RELEASE_NS).expect("renders");
    assert!(of_kind(&objects, "ClusterRole").is_empty());
    assert!(of_kind(&objects, "ClusterRoleBinding").is_empty());
    install_run_and_compare("namespaced", values);
}
