//! The operator and a Paper bot's worker as real processes in pods of the test API server
//! (its process kubelet): the chart installed with Helm, the operator pod running from its
//! own binary under the chart's ServiceAccount and RBAC, the example Paper bot's worker pod
//! under the ServiceAccount and Role the operator wrote, holding its Lease and writing its
//! performance into the TradingBot's status; `kubectl logs`, a killed worker restarted and
//! resuming from the journal on its claim, suspension stopping the pod, deletion
//! collecting it. The chart is installed with Helm's own wait (`legacy`: the Deployment's
//! ReplicaSet and pods ready, as `helm install --wait`).
//!
//! The exchange is `tests/binance` replaying the real BTCUSDT sample: it listens on the
//! host's loopback only, and the server relays its port from each pod's gateway address
//! (`--host-port`); a wrapper the image map points at gives the worker that address.
//!
//! Skipped with a printed reason when not root, or without kubectl, bwrap, ip or nsenter.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use tradewind_binance_mock::{MockConfig, Speed};
use tradewind_deploy_tests::{chart_dir, eventually, repo, require_python};

/// A Paper bot on the `make demo` strategy (EMA 5/15 on one-second bars), which trades on
/// the three-minute sample; the Strategy and CommissionPlan come from examples/demo.
const PAPER_BOT: &str = r#"apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata:
  name: btc-scalper-paper
spec:
  mode: Paper
  strategyRef: {name: btc-ema-5-15-1s}
  commissionPlanRef: {name: binance-base}
  accountRef: {name: demo}
  venue: {exchange: Binance, market: Spot}
  symbols: [BTCUSDT]
  capital: {amount: "10000", currency: USDT}
"#;

/// The bar timestamps in the worker's journal(s) under `dir` (a claim's directory on the
/// host): frames of `[len u32 LE][2 checksums][JSON array of records]`.
fn journal_bars(dir: &Path) -> Vec<i64> {
    let mut bars = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "journal") {
                let bytes = std::fs::read(&path).unwrap_or_default();
                let mut at = 0;
                while at + 12 <= bytes.len() {
                    let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                    let Some(payload) = bytes.get(at + 12..at + 12 + len) else {
                        break;
                    };
                    let records: Vec<Value> = serde_json::from_slice(payload).unwrap_or_default();
                    bars.extend(
                        records
                            .iter()
                            .filter(|r| r["type"] == "bar")
                            .filter_map(|r| r["ts"].as_i64()),
                    );
                    at += 12 + len;
                }
            }
        }
    }
    bars
}

/// The worker's events in `kubectl logs` output (its JSON lines).
fn events(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e.get("kind").is_some() && e.get("sequence").is_some())
        .collect()
}

fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn possible() -> bool {
    // SAFETY: getuid(2) has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let missing: Vec<&str> = ["kubectl", "bwrap", "ip", "nsenter"]
        .into_iter()
        .filter(|p| !have(p))
        .collect();
    if !root || !missing.is_empty() {
        eprintln!(
            "SKIPPED: pods as processes need root (root: {root}) and kubectl, bwrap, ip, nsenter (missing: {missing:?})"
        );
        return false;
    }
    true
}

/// target/<profile>/deps/pods-<hash> → target/<profile>/<name>
fn sibling_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(name);
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}

struct Server(Child, PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: SIGTERM to the server this test started; it stops its pods.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

struct K {
    kc: PathBuf,
}

impl K {
    fn ok(&self, args: &[&str]) -> String {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kc)
            .args(args)
            .current_dir(repo())
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn wait(&self, ns: &str, what: &str, condition: &str) {
        let condition = format!("--for={condition}");
        let mut args = vec!["wait", "-n", ns, &condition, "--timeout=60s"];
        args.extend(what.split_whitespace());
        self.ok(&args);
    }
    fn get(&self, ns: &str, what: &str, path: &str) -> String {
        let format = format!("jsonpath={path}");
        let mut args = vec!["get", "-n", ns, "-o", &format];
        args.extend(what.split_whitespace());
        self.ok(&args)
    }
}

#[test]
fn operator_and_paper_worker_run_as_pods() {
    if !possible() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tw-e2e-pods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The exchange, paused until the worker has subscribed; 3x: the sample in about a
    // minute, so the worker is killed in the middle of it.
    let data = repo().join("examples/data/binance_spot_btcusdt_l1_trades.jsonl");
    let mock = tradewind_binance_mock::TestServer::start_with(MockConfig {
        speed: Speed::Multiplier(3.0),
        start_paused: true,
        ..MockConfig::default().with_data(&data).expect("market data")
    })
    .expect("the exchange mock");
    let port = mock.port();
    let wrapper = dir.join("tradewind-bot.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexport TRADEWIND_MARKET_DATA=binance TRADEWIND_BINANCE_REST=http://$KUBERNETES_SERVICE_HOST:{port} TRADEWIND_BINANCE_WS=ws://$KUBERNETES_SERVICE_HOST:{port} TRADEWIND_STATUS_INTERVAL_SECONDS=1\nexec {} \"$@\"\n",
            sibling_bin("tradewind-bot").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kc = dir.join("kubeconfig");
    let map = format!(
        "*tradewind-operator*={},*tradewind-bot*={}",
        sibling_bin("tradewind-operator").display(),
        wrapper.display()
    );
    let child = Command::new(sibling_bin("tradewind-apiserver"))
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["--image-map", &map, "--crash-backoff-ms", "500"])
        .args(["--host-port", &port.to_string()])
        .arg("--kubelet-dir")
        .arg(dir.join("kubelet"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the test API server");
    let _server = Server(child, dir.clone());
    tradewind_deploy_tests::eventually(30, "the server's kubeconfig", || {
        std::fs::metadata(&kc).is_ok_and(|m| m.len() > 0)
    });
    let k = K { kc: kc.clone() };
    k.ok(&["create", "namespace", "trading"]);

    // The chart, installed with Helm: the operator pod is a process of its own binary.
    let out = Command::new(require_python())
        .arg(repo().join("tests/deploy/clients/chart.py"))
        .arg("install")
        .arg(&kc)
        .arg(chart_dir())
        // No admission policies on the test API server (admissionregistration.k8s.io).
        .arg(
            json!({"replicaCount": 1, "workerState": {"size": "1Mi"}, "credentialsPolicy": {"enabled": false}})
                .to_string(),
        )
        .args(["tradewind", "tradewind-system", "legacy"])
        // Helm keeps its cache and config under HOME.
        .env("HOME", &dir)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chart.py install:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("chart.py's JSON");
    assert_eq!(rel["status"], "deployed", "{rel}");
    // Helm returned only once the operator's Deployment was ready.
    assert_eq!(
        k.get(
            "tradewind-system",
            "deployment/tradewind",
            "{.status.readyReplicas}"
        ),
        "1"
    );
    let id = k.get(
        "tradewind-system",
        "pods",
        "{.items[0].status.containerStatuses[0].containerID}",
    );
    assert!(id.starts_with("process://"), "{id}");

    backtest_runs_as_a_job(&k, &dir);

    // The examples validate; the Paper bot's worker pod runs, holds the Lease, trades
    // on the mock's market data and reports its performance.
    let bot_file = dir.join("paper-bot.yaml");
    std::fs::write(&bot_file, PAPER_BOT).unwrap();
    k.ok(&[
        "apply",
        "-n",
        "trading",
        "-f",
        "examples/strategies/",
        "-f",
        "examples/commission-plans/",
        "-f",
        "examples/demo/btc-scalper.yaml",
        "-f",
        bot_file.to_str().unwrap(),
    ]);
    let bot = "tradingbot/btc-scalper-paper";
    let pods = "pods -l app.kubernetes.io/instance=btc-scalper-paper";
    k.wait("trading", bot, "condition=Ready");
    k.wait("trading", pods, "condition=Ready");
    let pod = k.get("trading", pods, "{.items[0].metadata.name}");
    let id = k.get(
        "trading",
        &format!("pod/{pod}"),
        "{.status.containerStatuses[0].containerID}",
    );
    assert!(id.starts_with("process://"), "{id}");
    assert_eq!(
        k.get(
            "trading",
            "lease/btc-scalper-paper-lease",
            "{.spec.holderIdentity}"
        ),
        pod
    );
    // The worker pod's own credentials (its projected token and the cluster CA, as the
    // kubelet mounted them): its own bot is readable; another bot and any Secret are not.
    let uid = k.get("trading", &format!("pod/{pod}"), "{.metadata.uid}");
    let mut mounted = vec![dir.join("kubelet/pods").join(uid.trim())];
    let mut token_dir = None;
    while let Some(d) = mounted.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                mounted.push(p);
            } else if p.file_name().is_some_and(|n| n == "token") && d.join("ca.crt").is_file() {
                token_dir = Some(d.clone());
            }
        }
    }
    let token_dir = token_dir.expect("the pod's projected ServiceAccount token");
    let token = std::fs::read_to_string(token_dir.join("token")).unwrap();
    let https = std::fs::read_to_string(&kc)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server in the kubeconfig")
        .replace("http://", "https://");
    let as_worker = |args: &[&str]| {
        Command::new("kubectl")
            .args([
                "--kubeconfig",
                "/dev/null",
                "--server",
                &https,
                "--token",
                token.trim(),
            ])
            .arg("--certificate-authority")
            .arg(token_dir.join("ca.crt"))
            .args(["-n", "trading"])
            .args(args)
            .output()
            .expect("kubectl runs")
    };
    let own = as_worker(&["get", bot, "-o", "name"]);
    assert!(own.status.success(), "{own:?}");
    for refused in [
        &["get", "tradingbot/btc-scalper-demo", "-o", "name"][..],
        &["get", "secrets"][..],
    ] {
        let out = as_worker(refused);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("forbidden"),
            "{refused:?} as the worker: {err}"
        );
    }
    eventually(60, "the worker's market streams", || {
        mock.market_connections() >= 1
    });
    mock.resume();
    let mut logs = String::new();
    eventually(90, "a paper fill", || {
        logs = k.ok(&["logs", "-n", "trading", &pod]);
        events(&logs).iter().any(|e| e["kind"] == "Fill")
    });
    assert!(logs.contains(r#""kind":"Started""#), "{logs}");
    eventually(30, "fees in the bot's status", || {
        let fees = k.get("trading", bot, "{.status.performance.fees}");
        fees.chars().any(|c| c.is_ascii_digit() && c != '0')
    });

    // kill -9 of the worker's process (the market paused meanwhile): the kubelet restarts
    // it in the same pod, and it resumes from its journal on the claim.
    mock.pause();
    assert!(mock.remaining() > 0, "the sample ended before the kill");
    let sandbox: u32 = id.trim_start_matches("process://").parse().unwrap();
    let children =
        std::fs::read_to_string(format!("/proc/{sandbox}/task/{sandbox}/children")).unwrap();
    let worker: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: the worker process started by this test's server.
    assert_eq!(unsafe { libc::kill(worker, libc::SIGKILL) }, 0);
    k.wait(
        "trading",
        &format!("pod/{pod}"),
        "jsonpath={.status.containerStatuses[0].restartCount}=1",
    );
    k.wait("trading", &format!("pod/{pod}"), "condition=Ready");
    eventually(60, "the restarted worker to resume", || {
        k.ok(&["logs", "-n", "trading", &pod])
            .contains(r#""kind":"Resumed""#)
    });
    eventually(60, "the restarted worker's market streams", || {
        mock.market_connections() >= 1
    });
    // The rest of the sample faster: what matters now is that it arrives.
    mock.set_speed(Speed::Multiplier(20.0));
    mock.resume();
    let previous = events(&k.ok(&["logs", "-n", "trading", &pod, "--previous"]));
    assert!(previous.iter().any(|e| e["kind"] == "Fill"), "{previous:?}");
    let mut current = Vec::new();
    eventually(
        90,
        "the sample replayed to its end after the restart",
        || {
            current = events(&k.ok(&["logs", "-n", "trading", &pod]));
            mock.remaining() == 0
        },
    );
    let resumed = current
        .iter()
        .find(|e| e["kind"] == "Resumed")
        .unwrap_or_else(|| panic!("no Resumed event after the restart: {current:?}"));
    assert!(
        resumed["replayedBars"].as_u64().unwrap_or(0) > 0,
        "the journal's bars were not replayed: {resumed}"
    );
    assert!(
        !current.iter().any(|e| e["kind"] == "Started"),
        "the restarted worker started a new session instead of resuming"
    );
    // The journal on the claim: the bars of both runs, each once and in order; the
    // restarted worker went on from where the journal ended.
    let replayed = resumed["replayedBars"].as_u64().unwrap_or(0) as usize;
    let claims = dir.join("kubelet/claims/trading");
    let mut bars = Vec::new();
    eventually(60, "bars after the restart in the journal", || {
        bars = journal_bars(&claims);
        bars.len() > replayed
    });
    assert!(
        bars.windows(2).all(|w| w[0] < w[1]),
        "a bar journaled twice or out of order: {bars:?}"
    );
    // Both runs together hold each sequence number once: what the kill held back is
    // published again under the same id, nothing twice under another.
    let mut ids: Vec<(u64, String)> = previous
        .iter()
        .chain(&current)
        .map(|e| {
            (
                e["sequence"].as_u64().unwrap(),
                e["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    ids.sort();
    ids.dedup();
    let sequences: Vec<u64> = ids.iter().map(|(s, _)| *s).collect();
    assert_eq!(sequences, (0..ids.len() as u64).collect::<Vec<_>>());

    // Suspended: the worker pod goes; deleted: the bot's children and pods go.
    k.ok(&[
        "patch",
        "-n",
        "trading",
        bot,
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    k.wait("trading", &format!("pod/{pod}"), "delete");
    k.ok(&["delete", "-n", "trading", bot, "--timeout=60s"]);
    tradewind_deploy_tests::eventually(60, "the bot's children to be collected", || {
        k.ok(&["get", "-n", "trading", "deploy,pods", "-o", "name"])
            .trim()
            .is_empty()
    });

    // One rule removed from the worker's Role (the operator stopped first, so it does not
    // put it back): the restarted worker is refused with kube-apiserver's 403.
    k.ok(&["apply", "-n", "trading", "-f", bot_file.to_str().unwrap()]);
    k.wait("trading", bot, "condition=Ready");
    k.wait("trading", pods, "condition=Ready");
    k.ok(&[
        "patch",
        "-n",
        "tradewind-system",
        "deployment/tradewind",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":0}}"#,
    ]);
    k.wait("tradewind-system", "pods --all", "delete");
    let mut role: serde_json::Value = serde_json::from_str(&k.ok(&[
        "get",
        "-n",
        "trading",
        "role/btc-scalper-paper-worker",
        "-o",
        "json",
    ]))
    .unwrap();
    let rules = role["rules"].as_array_mut().unwrap();
    let before = rules.len();
    rules.retain(|r| {
        !r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "tradingbots/status")
    });
    assert_eq!(rules.len(), before - 1, "{role}");
    let edited = dir.join("role.json");
    std::fs::write(&edited, role.to_string()).unwrap();
    k.ok(&["replace", "-f", edited.to_str().unwrap()]);
    let pod = k.get("trading", pods, "{.items[0].metadata.name}");
    let id = k.get(
        "trading",
        &format!("pod/{pod}"),
        "{.status.containerStatuses[0].containerID}",
    );
    let sandbox: u32 = id.trim_start_matches("process://").parse().unwrap();
    let children =
        std::fs::read_to_string(format!("/proc/{sandbox}/task/{sandbox}/children")).unwrap();
    let worker: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: the worker process started by this test's server.
    assert_eq!(unsafe { libc::kill(worker, libc::SIGKILL) }, 0);
    let mut logs = String::new();
    tradewind_deploy_tests::eventually(60, "the worker to be refused its status", || {
        logs = k.ok(&["logs", "-n", "trading", &pod]);
        let previous = k.ok(&["logs", "-n", "trading", &pod, "--previous"]);
        logs.push_str(&previous);
        if !logs.contains("forbidden") {
            eprintln!("{logs}");
        }
        logs.contains("forbidden")
    });
    assert!(logs.contains("tradingbots/status"), "{logs}");
}

/// The Job's pod really runs `tradewind-bot backtest` over the sample on a claim; the
/// summary lands in the bot's status, the reports on the other claim. Reconciles that
/// change nothing (the Job deleted meanwhile, an annotation) run nothing; an edit runs
/// it again; bad data fails it with the pod's error in the status. The bot goes at the
/// end, and with it its Jobs and their pods.
fn backtest_runs_as_a_job(k: &K, dir: &Path) {
    let ns = "trading";
    // The claims first, with the sample on the data claim (the test kubelet keeps a
    // directory per claim), then the bot.
    let example =
        std::fs::read_to_string(repo().join("examples/backtests/btc-ema-job.yaml")).unwrap();
    let claims: Vec<&str> = example
        .split("\n---\n")
        .filter(|d| d.contains("kind: PersistentVolumeClaim"))
        .collect();
    assert_eq!(claims.len(), 2);
    let claims_file = dir.join("claims.yaml");
    std::fs::write(&claims_file, claims.join("\n---\n")).unwrap();
    k.ok(&["apply", "-n", ns, "-f", claims_file.to_str().unwrap()]);
    let uid = k.get(ns, "pvc/market-data", "{.metadata.uid}");
    let claim = dir
        .join("kubelet/claims")
        .join(ns)
        .join(format!("market-data-{}", uid.trim()));
    std::fs::create_dir_all(&claim).unwrap();
    std::fs::copy(
        repo().join("examples/data/binance_spot_btcusdt_1s_klines.csv"),
        claim.join("binance_spot_btcusdt_1s_klines.csv"),
    )
    .unwrap();
    k.ok(&[
        "apply",
        "-n",
        ns,
        "-f",
        "examples/demo/btc-scalper.yaml",
        "-f",
        "examples/backtests/btc-ema-job.yaml",
    ]);
    let bot = "tradingbot/btc-ema-job";
    let status = |k: &K| -> Value {
        serde_json::from_str(&k.ok(&["get", "-n", ns, bot, "-o", "json"])).unwrap()
    };
    let ready = |s: &Value| -> (String, String, String) {
        let c = s["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready")
            .cloned()
            .unwrap_or_default();
        (
            c["status"].as_str().unwrap_or_default().to_owned(),
            c["reason"].as_str().unwrap_or_default().to_owned(),
            c["message"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let mut s = Value::Null;
    eventually(120, "the backtest Job to finish", || {
        s = status(k);
        matches!(ready(&s).1.as_str(), "BacktestSucceeded" | "BacktestFailed")
    });
    let (ok, reason, message) = ready(&s);
    assert_eq!(
        (ok.as_str(), reason.as_str()),
        ("True", "BacktestSucceeded"),
        "{message}"
    );
    let summary = &s["status"]["backtest"];
    let job = summary["job"]
        .as_str()
        .expect("the Job in the summary")
        .to_owned();
    assert!(summary["bars"].as_u64().unwrap_or(0) > 100, "{summary}");
    assert!(summary["trades"].as_u64().unwrap_or(0) > 0, "{summary}");
    assert!(
        summary["finalEquity"]
            .as_str()
            .is_some_and(|e| e.parse::<f64>().is_ok()),
        "{summary}"
    );
    assert!(
        summary["start"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{summary}"
    );
    let report = format!("pvc://backtest-reports/runs/btc-ema-job/{job}/");
    assert_eq!(summary["report"], report.as_str());
    let reports_uid = k.get(ns, "pvc/backtest-reports", "{.metadata.uid}");
    let out = dir
        .join("kubelet/claims")
        .join(ns)
        .join(format!("backtest-reports-{}", reports_uid.trim()))
        .join("runs/btc-ema-job")
        .join(&job);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["bars"].as_u64(), summary["bars"].as_u64(), "{json}");
    assert!(out.join("report.html").is_file());
    // The pod's termination message is the summary the status holds.
    let pods = format!("pods -l batch.kubernetes.io/job-name={job}");
    let message = k.get(
        ns,
        &pods,
        "{.items[?(@.status.phase==\"Succeeded\")].status.containerStatuses[0].state.terminated.message}",
    );
    let message: Value = serde_json::from_str(&message).expect("a JSON termination message");
    assert_eq!(message["bars"], summary["bars"]);

    // The Job deleted, the bot annotated: nothing runs again (the summary is in the
    // status); then an edit runs a new Job and the old one goes.
    k.ok(&["delete", "-n", ns, &format!("job/{job}"), "--wait=true"]);
    k.ok(&["annotate", "-n", ns, bot, "example.com/touched=1"]);
    k.ok(&[
        "patch",
        "-n",
        ns,
        bot,
        "--type=merge",
        "-p",
        r#"{"spec":{"capital":{"amount":"20000"}}}"#,
    ]);
    let mut second = String::new();
    eventually(120, "the edited bot's backtest to succeed", || {
        s = status(k);
        second = s["status"]["backtest"]["job"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ready(&s).1 == "BacktestSucceeded" && !second.is_empty() && second != job
    });
    let jobs = k.ok(&[
        "get",
        "-n",
        ns,
        "jobs",
        "-l",
        "app.kubernetes.io/instance=btc-ema-job",
        "-o",
        "name",
    ]);
    assert_eq!(jobs.trim(), format!("job.batch/{second}"));
    // One BacktestStarted per Job created: two Jobs, two publications. kube's recorder
    // folds repeats of one reason on one object into a series (the first note kept), so
    // count the occurrences, not the objects.
    let events: Value =
        serde_json::from_str(&k.ok(&["get", "-n", ns, "events.v1.events.k8s.io", "-o", "json"]))
            .unwrap();
    let started: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "BacktestStarted" && e["regarding"]["name"] == "btc-ema-job")
        .collect();
    let occurrences: u64 = started
        .iter()
        .map(|e| e["series"]["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(occurrences, 2, "{started:#?}");
    let notes: Vec<&str> = started.iter().filter_map(|e| e["note"].as_str()).collect();
    assert!(
        notes.contains(&format!("started Job {job}").as_str()),
        "{notes:?}"
    );

    // Data that is not there: the Job fails (its retries too) and the status says why.
    k.ok(&[
        "patch",
        "-n",
        ns,
        bot,
        "--type=merge",
        "-p",
        r#"{"spec":{"backtest":{"data":{"volume":{"claimName":"market-data","path":"missing.csv"}}}}}"#,
    ]);
    eventually(120, "the backtest of missing data to fail", || {
        s = status(k);
        ready(&s).1 == "BacktestFailed"
    });
    let (ok, _, message) = ready(&s);
    assert_eq!(ok, "False");
    assert!(message.contains("missing.csv"), "{message}");
    // No summary of any Job stays behind. (The emptied `backtest` object may remain with
    // its schema defaults, bars and trades 0, after server-side apply drops its fields.)
    assert!(s["status"]["backtest"]["job"].is_null(), "{}", s["status"]);

    k.ok(&["delete", "-n", ns, bot, "--timeout=60s"]);
    eventually(
        60,
        "the backtest Jobs and their pods to be collected",
        || {
            k.ok(&["get", "-n", ns, "jobs,pods", "-o", "name"])
                .trim()
                .is_empty()
        },
    );
}
