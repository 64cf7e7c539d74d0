//! The `tradewind-azure-fake` binary: prints its endpoints, writes the CA, serves until
//! SIGTERM.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_prints_endpoints_writes_the_ca_and_serves() {
    // Cargo sets CARGO_BIN_EXE_<name> for integration tests at run time too.
    let exe = std::env::var("CARGO_BIN_EXE_tradewind-azure-fake")
        .expect("CARGO_BIN_EXE_tradewind-azure-fake");
    let dir = std::env::temp_dir().join(format!("tw-azure-fake-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = dir.join("ca.pem");
    let mut child = Command::new(exe)
        .args(["--port", "0", "--ca-out"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let arm = lines.next().expect("line").expect("utf-8");
    let authority = lines.next().expect("line").expect("utf-8");
    let port: u16 = lines
        .next()
        .expect("line")
        .expect("utf-8")
        .trim_start_matches("port=")
        .parse()
        .expect("port");
    assert_eq!(
        arm,
        format!("arm_endpoint=https://management.localhost:{port}")
    );
    assert_eq!(
        authority,
        format!("authority_host=https://login.localhost:{port}")
    );
    let pem = std::fs::read_to_string(&ca).expect("CA written");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let http = common::http_client_for_pem(&pem);
    let r = common::send(http.get(format!("https://management.localhost:{port}/subscriptions/s/resourceGroups/rg?api-version=2025-04-01"))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], "AuthenticationFailed");
    // SIGTERM: the binary exits cleanly.
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
