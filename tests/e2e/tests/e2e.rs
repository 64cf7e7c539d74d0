//! The end-to-end suite (see README.md): kubectl and a real operator process against the
//! cluster `E2E_KUBECONFIG` names, or the test API server when none is given.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

fn repo() -> PathBuf {
    manifest_dir().join("../..")
}

fn operator_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TRADEWIND_OPERATOR_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/e2e-<hash> → target/<profile>/tradewind-operator
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("tradewind-operator")
}

struct Cluster {
    kubeconfig: PathBuf,
    _server: Option<tradewind_apiserver::TestServer>,
}

fn cluster() -> Cluster {
    if let Some(k) = std::env::var_os("E2E_KUBECONFIG") {
        return Cluster {
            kubeconfig: PathBuf::from(k),
            _server: None,
        };
    }
    let server = tradewind_apiserver::TestServer::start().expect("test API server");
    let dir = std::env::temp_dir().join(format!("tradewind-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    Cluster {
        kubeconfig,
        _server: Some(server),
    }
}

fn kubectl(c: &Cluster, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(args)
        .current_dir(repo())
        .output()
        .expect("kubectl is installed")
}

fn ok(c: &Cluster, args: &[&str]) -> String {
    let out = kubectl(c, args);
    assert!(
        out.status.success(),
        "kubectl {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn examples_become_ready_and_are_cleaned_up() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        panic!("kubectl is required for the end-to-end suite");
    }
    let c = cluster();
    ok(&c, &["apply", "--server-side", "-f", "crds/manifests/"]);
    ok(
        &c,
        &[
            "wait",
            "--for=condition=Established",
            "crd/tradingbots.tradewind.dev",
            "crd/strategies.tradewind.dev",
            "crd/commissionplans.tradewind.dev",
            "--timeout=30s",
        ],
    );

    let bin = operator_bin();
    assert!(
        bin.exists(),
        "operator binary not found at {} (build it, or set TRADEWIND_OPERATOR_BIN)",
        bin.display()
    );
    let _operator = Operator(
        Command::new(&bin)
            .args([
                "run",
                "--metrics-addr",
                "127.0.0.1:0",
                "--lease-namespace",
                "default",
            ])
            .env("KUBECONFIG", &c.kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the operator"),
    );

    ok(
        &c,
        &[
            "apply",
            "-f",
            "examples/strategies/",
            "-f",
            "examples/commission-plans/",
            "-f",
            "examples/bots/",
        ],
    );
    ok(
        &c,
        &[
            "wait",
            "--for=condition=Ready",
            "tradingbot",
            "--all",
            "--timeout=60s",
        ],
    );

    // Printer columns: Mode, Symbols, Ready.
    let table = ok(&c, &["get", "tradingbots"]);
    for needle in [
        "MODE",
        "SYMBOLS",
        "READY",
        "btc-grid-live",
        "Live",
        "eth-rsi-paper",
        "Paper",
    ] {
        assert!(table.contains(needle), "{needle} missing from:\n{table}");
    }
    assert_eq!(
        table.lines().skip(1).filter(|l| l.contains("True")).count(),
        3,
        "{table}"
    );

    // Children, labelled and owned.
    let deploys = ok(
        &c,
        &[
            "get",
            "deploy",
            "-l",
            "app.kubernetes.io/managed-by=tradewind-operator",
            "-o",
            "name",
        ],
    );
    // The Paper and Live bots; the Backtest bot runs no worker.
    assert_eq!(deploys.lines().count(), 2, "{deploys}");
    let backtest = ok(
        &c,
        &[
            "get",
            "tradingbot",
            "btc-sma-backtest",
            "-o",
            "jsonpath={.status.phase} {.status.conditions[?(@.type==\"Ready\")].reason}",
        ],
    );
    assert_eq!(backtest, "Backtest BacktestOnly");
    let owner = ok(
        &c,
        &[
            "get",
            "deploy",
            "btc-grid-live-worker",
            "-o",
            "jsonpath={.metadata.ownerReferences[0].kind}",
        ],
    );
    assert_eq!(owner, "TradingBot");
    for kind in [
        "configmap/btc-grid-live-config",
        "serviceaccount/btc-grid-live-worker",
        "role/btc-grid-live-worker",
        "rolebinding/btc-grid-live-worker",
        "service/btc-grid-live-metrics",
        "networkpolicy/btc-grid-live-worker",
    ] {
        ok(&c, &["get", kind]);
    }
    let phase = ok(
        &c,
        &[
            "get",
            "tradingbot",
            "btc-grid-live",
            "-o",
            "jsonpath={.status.phase}",
        ],
    );
    assert_eq!(phase, "Running");

    // Strategy and plan status: bound bots.
    let bound = ok(
        &c,
        &[
            "get",
            "cplan",
            "tiered-with-referrals",
            "-o",
            "jsonpath={.status.boundBots}",
        ],
    );
    assert_eq!(bound, "2");
    ok(
        &c,
        &[
            "wait",
            "--for=condition=Ready",
            "strategy",
            "--all",
            "--timeout=30s",
        ],
    );

    // A bad resource is refused by the API server with the CRD's own message.
    let out = kubectl(&c, &["apply", "-f", "crds/tests/broken/strategies.yaml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lowerPrice must be below upperPrice"));

    // Delete: finalizer runs, children are garbage-collected.
    ok(
        &c,
        &[
            "delete",
            "tradingbot",
            "--all",
            "--wait=true",
            "--timeout=60s",
        ],
    );
    eventually(60, "children to be garbage-collected", || {
        ok(
            &c,
            &[
                "get",
                "deploy,cm",
                "-l",
                "app.kubernetes.io/managed-by=tradewind-operator",
                "-o",
                "name",
            ],
        )
        .trim()
        .is_empty()
    });
}
