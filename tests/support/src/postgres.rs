//! A real PostgreSQL server for tests (feature `postgres`): Debian's `postgresql`
//! package's `initdb` and `pg_ctl` in a temporary directory — as the unprivileged user
//! `nobody` when the tests run as root, since PostgreSQL refuses root. Stopped and
//! removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// PostgreSQL's programs: `TRADEWIND_PG_BIN`, else Debian's /usr/lib/postgresql/<major>/bin.
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("TRADEWIND_PG_BIN") {
        return dir.into();
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.pop().filter(|d| d.join("initdb").exists()).expect(
        "PostgreSQL is not installed (Debian package `postgresql`; `make prereqs` installs it)",
    )
}

fn is_root() -> bool {
    // The owner of /proc/self is the effective user.
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

/// Runs a PostgreSQL program, as `nobody` when we are root.
fn pg(program: &Path, args: &[&str]) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd.args(args).output().expect("run a PostgreSQL program");
    assert!(
        out.status.success(),
        "{} {args:?}: {}\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running PostgreSQL server on `127.0.0.1` (superuser `postgres`).
pub struct PgServer {
    bin: PathBuf,
    data: String,
    port: u16,
    dir: PathBuf,
}

impl PgServer {
    /// A server that trusts every connection (any password or none).
    pub fn start() -> PgServer {
        Self::start_with(None)
    }

    /// A server that checks passwords on TCP (SCRAM-SHA-256), as a managed server does;
    /// the superuser's is `superuser_password`.
    pub fn start_with_passwords(superuser_password: &str) -> PgServer {
        Self::start_with(Some(superuser_password))
    }

    fn start_with(superuser_password: Option<&str>) -> PgServer {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!(
            "tradewind-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            // nobody must own the data directory (PostgreSQL checks).
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        }
        let data = dir.join("data").display().to_string();
        let sock = dir.display().to_string();
        let mut args = vec![
            "-D".to_owned(),
            data.clone(),
            "-U".into(),
            "postgres".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-sync".into(),
            "-N".into(),
        ];
        match superuser_password {
            None => args.extend(["-A".into(), "trust".into()]),
            Some(password) => {
                let file = dir.join("pwfile");
                std::fs::write(&file, password).unwrap();
                if is_root() {
                    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
                }
                args.extend([
                    "--auth-local=trust".into(),
                    "--auth-host=scram-sha-256".into(),
                    format!("--pwfile={}", file.display()),
                ]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pg(&bin.join("initdb"), &args);
        // A free port: bound and released (the window before postgres binds is tiny,
        // and a clash fails loudly at start).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = format!(
            "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=50"
        );
        let log = dir.join("log").display().to_string();
        // `-w -t 60`: pg_ctl returns once the server accepts connections (bounded).
        pg(
            &bin.join("pg_ctl"),
            &[
                "-D", &data, "-l", &log, "-o", &opts, "-w", "-t", "60", "start",
            ],
        );
        PgServer {
            bin,
            data,
            port,
            dir,
        }
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` as the superuser, without a password.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        pg(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data, "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
