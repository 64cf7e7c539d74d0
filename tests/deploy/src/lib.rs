//! Helpers for the tests of what ships (`tests/`): the Helm chart rendered, linted and
//! installed with the real Helm engine, its RBAC compared with the requests a real
//! operator makes, and the Argo CD Lua health checks run by a real Lua interpreter.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    manifest_dir().join("../..")
}

/// The chart.
pub fn chart_dir() -> PathBuf {
    repo().join("charts/tradewind")
}

/// A Python that imports `helm_python`, `kubernetes` and `yaml`: `$TRADEWIND_PYTHON`
/// (set by `make test`), the project venv, or `python3`.
pub fn python() -> Option<PathBuf> {
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
            .args(["-c", "import helm_python, kubernetes, yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The Python to drive Helm with. `make test` always provides one (requirements-test.txt),
/// so its absence is a failure, not a skip.
pub fn require_python() -> PathBuf {
    python().expect(
        "no Python with helm-python-sdk: run through `make test`, or pip install -r requirements-test.txt and set TRADEWIND_PYTHON",
    )
}

/// Runs `clients/chart.py args...` and returns its JSON output.
pub fn chart_py(args: &[&str]) -> Value {
    let py = require_python();
    let home = std::env::temp_dir().join(format!("tw-deploy-helm-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("helm home");
    let out = Command::new(&py)
        .arg(manifest_dir().join("clients/chart.py"))
        .args(args)
        // Helm keeps its cache and config under HOME; keep it out of the user's.
        .env("HOME", &home)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chart.py {} failed:\n{stdout}\n{}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("chart.py printed no JSON ({e}):\n{stdout}"))
}

/// The chart rendered with `values` by Helm: `Ok(objects)` or `Err(Helm's message)`.
pub fn render(values: &Value, release: &str, namespace: &str) -> Result<Vec<Value>, String> {
    let chart = chart_dir();
    let out = chart_py(&[
        "render",
        chart.to_str().unwrap(),
        &values.to_string(),
        release,
        namespace,
    ]);
    match out.get("error") {
        Some(e) => Err(e["message"].as_str().unwrap_or_default().to_owned()),
        None => Ok(out["objects"].as_array().cloned().unwrap_or_default()),
    }
}

/// The objects of `kind` among `objects`.
pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// The single object of `kind`; panics when there is not exactly one.
pub fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(objects, kind);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind}, got {}",
        found.len()
    );
    found[0]
}

/// The operator binary cargo built next to this test binary, or `$TRADEWIND_OPERATOR_BIN`.
pub fn operator_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TRADEWIND_OPERATOR_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test>-<hash> → target/<profile>/tradewind-operator
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("tradewind-operator");
    assert!(
        bin.exists(),
        "operator binary not found at {} (cargo build -p tradewind-operator, or set TRADEWIND_OPERATOR_BIN)",
        bin.display()
    );
    bin
}

/// `kubectl --kubeconfig K args...` from the repository root; panics on failure.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = kubectl_output(kubeconfig, args);
    assert!(
        out.status.success(),
        "kubectl {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl` without the success check.
pub fn kubectl_output(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .current_dir(repo())
        .output()
        .expect("kubectl is installed")
}

/// `kubectl get ... -o json` parsed.
pub fn get_json(kubeconfig: &Path, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&kubectl(kubeconfig, &a)).expect("kubectl printed JSON")
}

/// Polls `f` every 200 ms until it holds; panics after `secs`.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The condition `type_` of an object's status.
pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// A running operator process, killed on drop.
pub struct Operator(pub std::process::Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tradewind-operator args` with `env` (and nothing else from the chart's world).
pub fn start_operator(kubeconfig: &Path, args: &[String], env: &[(String, String)]) -> Operator {
    let log = std::env::temp_dir().join(format!(
        "tw-deploy-operator-{}-{}.log",
        std::process::id(),
        env.iter()
            .find(|(k, _)| k == "POD_NAME")
            .map_or("op", |(_, v)| v.as_str())
    ));
    let child = Command::new(operator_bin())
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("KUBECONFIG", kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("operator log"))
        .spawn()
        .expect("operator starts");
    Operator(child)
}

pub mod proxy;
pub mod rbac;

/// `kubectl ... -f -` with `stdin` as the input.
pub fn kubectl_stdin(kubeconfig: &Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The example Strategy named `name`, renamed to `new_name`, as YAML.
pub fn example_strategy_renamed(name: &str, new_name: &str) -> String {
    for entry in std::fs::read_dir(repo().join("examples/strategies")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        let needle = format!("name: {name}\n");
        if text.contains(&needle) {
            return text.replace(&needle, &format!("name: {new_name}\n"));
        }
    }
    panic!("no example Strategy named {name}");
}
