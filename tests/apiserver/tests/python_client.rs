//! Proofs against the Python `kubernetes` client and the Helm engine (PyPI
//! `helm-python-sdk`, which bundles Helm's Go SDK), both installed by `make test` into
//! `~/.cache/tradewind-venv` from requirements-test.txt. Each is skipped, with a printed
//! reason, when no Python with the package is found.

use std::path::{Path, PathBuf};
use std::process::Command;

use tradewind_apiserver::{Config, TestServer};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

/// A Python that can import `module`: `$TRADEWIND_PYTHON`, the project venv, or
/// `python3`.
fn python(module: &str) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("TRADEWIND_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cache/tradewind-venv/bin/python"));
    }
    candidates.push(PathBuf::from("python3"));
    candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", &format!("import kubernetes, {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn python_kubernetes_client_create_list_watch_patch() {
    let Some(py) = python("kubernetes") else {
        eprintln!(
            "SKIPPED: no Python with the `kubernetes` package (pip install -r requirements-test.txt)"
        );
        return;
    };
    // The script counts the ConfigMaps of its namespace: no kube-root-ca.crt.
    let server = TestServer::start_with(Config {
        namespace_defaults: false,
        ..Config::default()
    })
    .expect("server");
    run_script(&server, &py, "python_client.py", &[], "python");
    assert!(server.count("watch", "configmaps") >= 1);
    assert!(server.count("patch", "configmaps") >= 1);
}

#[test]
fn python_kubernetes_client_as_a_service_account() {
    let Some(py) = python("kubernetes") else {
        eprintln!(
            "SKIPPED: no Python with the `kubernetes` package (pip install -r requirements-test.txt)"
        );
        return;
    };
    let server = TestServer::start().expect("server");
    post(
        &server,
        "/api/v1/namespaces",
        r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pyauth"}}"#,
    );
    post(
        &server,
        "/api/v1/namespaces/pyauth/serviceaccounts",
        r#"{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}"#,
    );
    let token = server
        .create_token("pyauth", "reader", &[], 3600)
        .expect("token");
    let dir = std::env::temp_dir().join(format!("tw-apiserver-pyauth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sa_kubeconfig = dir.join("sa-kubeconfig");
    std::fs::write(
        &sa_kubeconfig,
        server.token_kubeconfig_yaml(&token, "pyauth"),
    )
    .expect("sa kubeconfig");
    run_script(&server, &py, "python_auth.py", &[&sa_kubeconfig], "pyauth");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A plain-HTTP POST as the admin, asserting 201.
fn post(server: &TestServer, path: &str, body: &str) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 201"), "POST {path}: {out}");
}

/// Runs `clients/<script> KUBECONFIG args...` and asserts it prints OK.
fn run_script(server: &TestServer, py: &Path, script: &str, args: &[&Path], tag: &str) {
    let dir = std::env::temp_dir().join(format!("tw-apiserver-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let clients = manifest_dir().join("clients");
    let out = Command::new(py)
        .arg(clients.join(script))
        .arg(&kubeconfig)
        .args(args.iter().map(|a| clients.join(a)))
        .env("HOME", &dir)
        .output()
        .expect("python runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn helm_install_upgrade_uninstall_with_status_wait() {
    let Some(py) = python("helm_python") else {
        eprintln!("SKIPPED: no Python with `helm_python` (pip install -r requirements-test.txt)");
        return;
    };
    let server = TestServer::start().expect("server");
    run_script(
        &server,
        &py,
        "helm_client.py",
        &[Path::new("charts/tiny")],
        "helm",
    );
    // Helm's release storage went through client-go's protobuf-encoded Secret writes.
    assert!(server.count("create", "secrets") >= 2);
    assert!(server.count("watch", "configmaps") + server.count("watch", "services") >= 1);
}
