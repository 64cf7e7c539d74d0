//! A real `nats-server` with JetStream for tests: a child process on a free port of
//! 127.0.0.1 with its store in a temporary directory, ready when it says so on its log
//! (no sleeps). `restart` brings it back on the same port and store.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A running `nats-server -js`.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: PathBuf,
}

impl NatsServer {
    /// Starts a server on a free port with a new store directory. Panics (a test's
    /// setup) when `nats-server` is not installed (`tools/prereqs.sh` installs it).
    pub fn start() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let store = std::env::temp_dir().join(format!(
            "tradewind-nats-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&store);
        std::fs::create_dir_all(&store).expect("creating the NATS store directory");
        let mut server = Self {
            child: None,
            port: 0,
            store,
        };
        server.spawn(None);
        server
    }

    fn spawn(&mut self, port: Option<u16>) {
        let port_arg = port.map(|p| p.to_string()).unwrap_or_else(|| "-1".into());
        let mut child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port_arg, "-sd"])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting nats-server (install it: tools/prereqs.sh)");
        let stderr = child.stderr.take().expect("piped");
        let mut lines = BufReader::new(stderr).lines();
        let mut bound = None;
        for line in lines.by_ref() {
            let line = line.expect("reading nats-server's log");
            if let Some(addr) = line.split("Listening for client connections on ").nth(1) {
                bound = addr.trim().rsplit(':').next().and_then(|p| p.parse().ok());
            }
            if line.contains("Server is ready") {
                break;
            }
        }
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.port = bound.expect("nats-server exited before it was ready");
        self.child = Some(child);
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn(Some(self.port));
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
