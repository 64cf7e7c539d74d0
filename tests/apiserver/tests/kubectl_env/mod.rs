//! kubectl against a test server: one server, kubeconfig and discovery cache per test
//! (shared by the kubectl-driven test binaries).

// Each test binary uses a subset of these.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use tradewind_apiserver::{Config, TestServer};

/// The repository's root, from this package's directory read when the test runs (cargo
/// and nextest set it), not when it was compiled: a test binary reused from another
/// checkout must not read that tree.
pub fn repo_root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"))
        .join("../..")
}

/// A test server and a kubectl configured for it; the temporary directory goes with it.
pub struct Kube {
    pub server: TestServer,
    pub kubeconfig: PathBuf,
    pub dir: PathBuf,
}

impl Drop for Kube {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Kube {
    /// A default server.
    pub fn new(tag: &str) -> Self {
        Self::with_config(tag, Config::default())
    }

    /// A server started with `config`.
    pub fn with_config(tag: &str, config: Config) -> Self {
        let dir = std::env::temp_dir().join(format!("tw-kubectl-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let server = TestServer::start_with(config).expect("server");
        let kubeconfig = dir.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Self {
            server,
            kubeconfig,
            dir,
        }
    }

    /// kubectl with this kubeconfig, run from the repository's root (examples' paths), with
    /// a discovery cache of its own so concurrent tests do not share one.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .current_dir(repo_root())
            .env("KUBECACHEDIR", self.dir.join("cache"));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("kubectl runs")
    }

    /// Runs kubectl and returns its stdout; fails the test with both streams otherwise.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes `text` to `name` in the test's directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("write manifest");
        p.display().to_string()
    }

    /// `kubectl apply -f` of `text`.
    pub fn apply(&self, name: &str, text: &str) {
        let p = self.write(name, text);
        self.ok(&["apply", "-f", &p]);
    }

    /// Runs kubectl and parses its JSON output.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("kubectl printed JSON")
    }
}
