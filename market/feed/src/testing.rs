//! A real `nats-server` with JetStream for tests: a child process on a free port of
//! 127.0.0.1 with its store in a temporary directory, ready when it says so on its log
//! (no sleeps). `restart` brings it back on the same port and store.
//!
//! The server's JetStream store is capped at [`MAX_FILE_STORE`] and tests use
//! [`small_retention`] streams: a stream's byte limit is reserved up front, so the
//! production TICKS limit (2 GiB) would fail with "insufficient storage resources" on a
//! test machine with little free disk.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Retention;

/// The JetStream file store a test server may use (bytes).
pub const MAX_FILE_STORE: u64 = 512 << 20;

/// Stream limits for tests: 16 MiB of klines, 64 MiB of trades and depth (a few shards
/// fit in [`MAX_FILE_STORE`]).
pub fn small_retention() -> Retention {
    Retention {
        bars_max_bytes: 16 << 20,
        ticks_max_bytes: 64 << 20,
        ..Retention::default()
    }
}

/// The `tradewind-bot feed` flags that give [`small_retention`].
pub const SMALL_STREAM_FLAGS: [&str; 4] = ["--bars-max-mib", "16", "--ticks-max-mib", "64"];

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
        // Only a configuration file can cap the store.
        let config = self.store.with_extension("conf");
        std::fs::write(
            &config,
            format!(
                "jetstream {{\n  store_dir: {:?}\n  max_file_store: {MAX_FILE_STORE}\n  max_memory_store: {}\n}}\n",
                self.store.display().to_string(),
                64u64 << 20
            ),
        )
        .expect("writing the NATS configuration");
        let mut child = Command::new("nats-server")
            .args(["-c"])
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &port_arg])
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
        let _ = std::fs::remove_file(self.store.with_extension("conf"));
    }
}
