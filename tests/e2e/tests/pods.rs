//! The operator and a Paper bot's worker as real processes in pods of the test API server
//! (its process kubelet): the chart installed with Helm, the operator pod running from its
//! own binary under the chart's ServiceAccount and RBAC, the example Paper bot's worker pod
//! under the ServiceAccount and Role the operator wrote, holding its Lease and writing its
//! performance into the TradingBot's status; `kubectl logs`, a killed worker restarted,
//! suspension stopping the pod, deletion collecting it. Market data is the replayed sample
//! (`--market-data replay`), set by a wrapper the image map points at.
//!
//! Skipped with a printed reason when not root, or without kubectl, bwrap, ip or nsenter.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::json;
use tradewind_deploy_tests::{chart_dir, repo, require_python};

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
    let data = repo().join("examples/data/binance_spot_ethusdt_l1_trades.jsonl");
    let wrapper = dir.join("tradewind-bot.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexport TRADEWIND_MARKET_DATA=replay TRADEWIND_REPLAY_FILE={} TRADEWIND_REPLAY_SPEED=5 TRADEWIND_STATUS_INTERVAL_SECONDS=1\nexec {} \"$@\"\n",
            data.display(),
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
        .args(["tradewind", "tradewind-system"])
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
    k.wait(
        "tradewind-system",
        "deployment/tradewind",
        "condition=Available",
    );
    let id = k.get(
        "tradewind-system",
        "pods",
        "{.items[0].status.containerStatuses[0].containerID}",
    );
    assert!(id.starts_with("process://"), "{id}");

    // The example Paper bot: its worker pod runs, holds the Lease, reports performance.
    k.ok(&[
        "apply",
        "-n",
        "trading",
        "-f",
        "examples/strategies/",
        "-f",
        "examples/commission-plans/",
        "-f",
        "examples/bots/paper.yaml",
    ]);
    k.wait("trading", "tradingbot/eth-rsi-paper", "condition=Ready");
    k.wait(
        "trading",
        "pods -l app.kubernetes.io/instance=eth-rsi-paper",
        "condition=Ready",
    );
    let pod = k.get(
        "trading",
        "pods -l app.kubernetes.io/instance=eth-rsi-paper",
        "{.items[0].metadata.name}",
    );
    let id = k.get(
        "trading",
        &format!("pod/{pod}"),
        "{.status.containerStatuses[0].containerID}",
    );
    assert!(id.starts_with("process://"), "{id}");
    k.wait(
        "trading",
        "tradingbot/eth-rsi-paper",
        "jsonpath={.status.performance.equity}=5000.00",
    );
    assert_eq!(
        k.get(
            "trading",
            "lease/eth-rsi-paper-lease",
            "{.spec.holderIdentity}"
        ),
        pod
    );
    let logs = k.ok(&["logs", "-n", "trading", &pod]);
    assert!(logs.contains(r#""kind":"Started""#), "{logs}");

    // kill -9 of the worker's process: the kubelet restarts it in the same pod.
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
    let previous = k.ok(&["logs", "-n", "trading", &pod, "--previous"]);
    assert!(previous.contains(r#""kind":"Started""#), "{previous}");

    // Suspended: the worker pod goes; deleted: the bot's children and pods go.
    k.ok(&[
        "patch",
        "-n",
        "trading",
        "tradingbot/eth-rsi-paper",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    k.wait("trading", &format!("pod/{pod}"), "delete");
    k.ok(&[
        "delete",
        "-n",
        "trading",
        "tradingbot/eth-rsi-paper",
        "--timeout=60s",
    ]);
    tradewind_deploy_tests::eventually(60, "the bot's children to be collected", || {
        k.ok(&["get", "-n", "trading", "deploy,pods", "-o", "name"])
            .trim()
            .is_empty()
    });

    // One rule removed from the worker's Role (the operator stopped first, so it does not
    // put it back): the restarted worker is refused with kube-apiserver's 403.
    k.ok(&["apply", "-n", "trading", "-f", "examples/bots/paper.yaml"]);
    k.wait("trading", "tradingbot/eth-rsi-paper", "condition=Ready");
    k.wait(
        "trading",
        "pods -l app.kubernetes.io/instance=eth-rsi-paper",
        "condition=Ready",
    );
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
        "role/eth-rsi-paper-worker",
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
    let pod = k.get(
        "trading",
        "pods -l app.kubernetes.io/instance=eth-rsi-paper",
        "{.items[0].metadata.name}",
    );
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
