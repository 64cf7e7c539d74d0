//! Proof against a client nobody here wrote: the real `kubectl` binary, driven against
//! the server (and the binary) exactly as a person would. Skipped, with a printed
//! reason, only when kubectl is not installed.

mod kubectl_env;
use kubectl_env::Kube;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kubectl_present() -> bool {
    let found = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: kubectl is not installed on this machine");
    }
    found
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: nginx:1
"#;

#[test]
fn kubectl_apply_get_patch_wait_delete() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("basic");
    let cm = k.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {app: web}\ndata:\n  level: info\n");
    let dep = k.write("deploy.yaml", DEPLOYMENT);
    assert!(
        k.ok(&["apply", "-f", &cm, "-f", &dep])
            .contains("configmap/settings created")
    );
    // Client-side apply again with a change: a strategic merge patch computed by kubectl.
    let cm2 = k.write("cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {app: web}\ndata:\n  level: debug\n");
    assert!(k.ok(&["apply", "-f", &cm2]).contains("configured"));
    let yaml = k.ok(&["get", "configmap", "settings", "-o", "yaml"]);
    assert!(
        yaml.contains("level: debug")
            && yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
        "{yaml}"
    );
    assert!(
        yaml.contains("resourceVersion:") && yaml.contains("uid:"),
        "{yaml}"
    );
    // Server-side apply takes the fields over with --force-conflicts.
    let out = k.ok(&["apply", "--server-side", "--force-conflicts", "-f", &cm2]);
    assert!(out.contains("serverside-applied"), "{out}");
    let mf = k.ok(&[
        "get",
        "cm",
        "settings",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
        "--show-managed-fields",
    ]);
    assert!(mf.contains("kubectl"), "{mf}");
    // Patches of each kind.
    k.ok(&[
        "patch",
        "cm",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"extra":"1"}}"#,
    ]);
    k.ok(&["patch", "cm", "settings", "--type", "json", "-p", r#"[{"op":"test","path":"/data/extra","value":"1"},{"op":"replace","path":"/data/extra","value":"2"}]"#]);
    let failed = k.run(&[
        "patch",
        "cm",
        "settings",
        "--type",
        "json",
        "-p",
        r#"[{"op":"test","path":"/data/extra","value":"nope"}]"#,
    ]);
    assert!(!failed.status.success());
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"replicas":3}}"#,
    ]);
    assert_eq!(
        k.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.extra}"]),
        "2"
    );
    // The simulator reports the rollout; kubectl wait sees the condition.
    let out = k.ok(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=20s",
    ]);
    assert!(out.contains("condition met"), "{out}");
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.status.readyReplicas}"
        ]),
        "3"
    );
    let table = k.ok(&["get", "deploy,cm"]);
    assert!(
        table.contains("deployment.apps/web") && table.contains("configmap/settings"),
        "{table}"
    );
    // Typed generators send protobuf bodies (client-go's default for built-ins).
    k.ok(&["create", "configmap", "generated", "--from-literal=a=b"]);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "token",
        "--from-literal=pw=hunter2",
    ]);
    assert_eq!(
        k.ok(&["get", "secret", "token", "-o", "jsonpath={.data.pw}"]),
        "aHVudGVyMg=="
    );
    assert_eq!(
        k.ok(&["get", "cm", "generated", "-o", "jsonpath={.data.a}"]),
        "b"
    );
    k.ok(&["delete", "-f", &cm]);
    let gone = k.run(&["get", "cm", "settings"]);
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("NotFound"),
        "{gone:?}"
    );
    assert!(k.server.count("delete", "configmaps") >= 1);
}

#[test]
fn kubectl_get_watch_streams_changes() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("watch");
    k.ok(&[
        "apply",
        "-f",
        &k.write(
            "a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n",
        ),
    ]);
    let mut child = k
        .cmd(&["get", "configmaps", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl get -w");
    // Wait until the watch is registered, then change things.
    let deadline = Instant::now() + Duration::from_secs(15);
    while k.server.count("watch", "configmaps") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    k.ok(&[
        "apply",
        "-f",
        &k.write(
            "b.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n",
        ),
    ]);
    k.ok(&["delete", "configmap", "first"]);
    std::thread::sleep(Duration::from_millis(700));
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ADDED") && l.contains("first")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ADDED") && l.contains("second")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("DELETED") && l.contains("first")),
        "{text}"
    );
}

#[test]
fn kubectl_crds_examples_printer_columns_and_cel_rejection() {
    if !kubectl_present() {
        return;
    }
    let k = Kube::new("crds");
    let out = k.ok(&["apply", "-f", "crds/manifests/"]);
    assert!(out.contains("tradingbots.tradewind.dev created"), "{out}");
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/tradingbots.tradewind.dev",
        "--timeout=10s",
    ]);
    let out = k.ok(&[
        "apply",
        "-f",
        "examples/strategies/",
        "-f",
        "examples/commission-plans/",
        "-f",
        "examples/bots/",
    ]);
    assert!(
        out.contains("tradingbot.tradewind.dev/eth-rsi-paper created"),
        "{out}"
    );
    let table = k.ok(&["get", "tradingbots"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "MODE", "SYMBOLS", "READY", "EQUITY", "AGE"],
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("eth-rsi-paper")
            && l.contains("Paper")
            && l.contains("ETHUSDT")),
        "{table}"
    );
    // Short names, status subresource and the Ready column from a filter expression.
    k.ok(&["patch", "tradingbot", "eth-rsi-paper", "--subresource", "status", "--type", "merge", "-p",
        r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Running","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#]);
    let row = k.ok(&["get", "tradingbot", "eth-rsi-paper", "--no-headers"]);
    assert!(row.split_whitespace().nth(3) == Some("True"), "{row}");
    let yaml = k.ok(&["get", "tradingbot", "eth-rsi-paper", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: TradingBot") && yaml.contains("apiVersion: tradewind.dev/v1alpha1"),
        "{yaml}"
    );
    // A broken resource is rejected with its CEL message.
    let broken = k.run(&["apply", "-f", "crds/tests/broken/tradingbots.yaml"]);
    assert!(!broken.status.success());
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(
        err.contains("capital.currency must be the quote currency of the symbol"),
        "{err}"
    );
    assert!(err.contains("Invalid"), "{err}");
    // Server-side apply of a custom resource.
    let out = k.ok(&[
        "apply",
        "--server-side",
        "-f",
        "examples/strategies/sma-cross.yaml",
    ]);
    assert!(out.contains("serverside-applied"), "{out}");
}

#[test]
fn binary_writes_kubeconfig_and_serves_until_sigterm() {
    if !kubectl_present() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tw-apiserver-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let _cleanup = TempDir(dir.clone());
    let kubeconfig = dir.join("out.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tradewind-apiserver"))
        .args(["--port", "0", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.as_mut().expect("stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("address line");
    }
    assert!(line.trim().starts_with("http://127.0.0.1:"), "{line}");
    let cfg = std::fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    assert!(cfg.contains(&format!("server: {}", line.trim())), "{cfg}");
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .expect("kubectl");
    let names = String::from_utf8_lossy(&out.stdout);
    assert!(
        names.contains("namespace/default") && names.contains("namespace/kube-system"),
        "{names}"
    );
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exit {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
