//! `tradewind-bot data archive` and `backtest --data` over archived days, in a directory
//! and in Blob Storage (Azurite over HTTPS, signed in through the tests/azure fake's
//! Entra): the same report as from the original file, and a missing or damaged day
//! refused naming the day. One Azurite for the whole binary: one test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tradewind_azure::blob::{BlobClient, BlobOptions};
use tradewind_azure::transport::TransportOptions;
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, TestServer};
use tradewind_store_emulators::Azurite;

const DATA: &str = "examples/data/bitstamp_btcusd_1m.csv";
const FILES: [&str; 2] = [
    "examples/demo/compare/plan.yaml",
    "examples/demo/compare/trend-ema.yaml",
];

fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"))
        .join("../..")
}

fn bot(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tradewind-bot"));
    c.args(args).current_dir(root());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `data archive` to `target`; the range spec of what it wrote.
fn archive(target: &str, env: &[(&str, String)]) -> String {
    let out = ok(&bot(
        &[
            "data",
            "archive",
            "--from",
            DATA,
            "--to",
            target,
            "--timeframe",
            "1m",
        ],
        env,
    ));
    // "... bars in N days (FIRST..LAST) written to ..."
    let range = out
        .split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(r, _)| r.to_string())
        .unwrap_or_else(|| panic!("{out}"));
    let (first, last) = range.split_once("..").unwrap();
    assert!(out.contains("20160 bars in 14 days"), "{out}");
    format!("{target}?from={first}&to={last}")
}

fn report(data: &str, out: &Path, env: &[(&str, String)]) -> serde_json::Value {
    let mut args = vec!["backtest"];
    for f in FILES {
        args.extend(["-f", f]);
    }
    args.extend(["--data", data, "--out", out.to_str().unwrap()]);
    ok(&bot(&args, env));
    let mut r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    r["data"] = serde_json::Value::Null;
    r
}

fn refused(data: &str, env: &[(&str, String)]) -> String {
    let mut args = vec!["backtest"];
    for f in FILES {
        args.extend(["-f", f]);
    }
    args.extend(["--data", data, "--out", "/nonexistent/never-written"]);
    let o = bot(&args, env);
    assert!(!o.status.success());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_days_backtest_like_the_file_and_bad_days_are_named() {
    let dir = std::env::temp_dir().join(format!("tw-backtest-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let expected = report(DATA, &dir.join("file"), &[]);

    // A directory.
    let spec = archive(&format!("archive:{}/bitstamp/BTCUSD", dir.display()), &[]);
    assert_eq!(report(&spec, &dir.join("dir"), &[]), expected);
    let day = dir.join("bitstamp/BTCUSD/bars-1m");
    let mut days: Vec<_> = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    days.sort();
    let middle = days[7].clone();
    let name = middle.file_stem().unwrap().to_str().unwrap().to_string();
    std::fs::remove_file(&middle).unwrap();
    let err = refused(&spec, &[]);
    assert!(
        err.contains(&format!("day {name} is missing from the archive")),
        "{err}"
    );

    // Blob Storage.
    let fake = TestServer::start().expect("azure fake");
    let azurite = Azurite::start();
    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        format!("{}{}", fake.handle().ca_pem(), azurite.ca_pem()),
    )
    .unwrap();
    let env = [
        ("TRADEWIND_AZURE_AUTH", "client-secret".to_string()),
        ("AZURE_TENANT_ID", DEFAULT_TENANT.to_string()),
        ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID.to_string()),
        ("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET.to_string()),
        ("AZURE_AUTHORITY_HOST", fake.handle().authority_host()),
        ("TRADEWIND_EXTRA_CA_FILE", ca.display().to_string()),
        (
            "TRADEWIND_BLOB_ENDPOINT",
            azurite.endpoint("devstoreaccount1"),
        ),
    ];
    let client = BlobClient::new(
        &azurite.endpoint("devstoreaccount1"),
        fake.handle().connection().credential.clone(),
        &TransportOptions {
            extra_ca_pem: Some(azurite.ca_pem().as_bytes().to_vec()),
        },
        BlobOptions::default(),
    )
    .unwrap();
    client.create_container("marketdata").await.unwrap();
    let spec = archive("blob://devstoreaccount1/marketdata/bitstamp/BTCUSD", &env);
    assert_eq!(report(&spec, &dir.join("blob"), &env), expected);
    let key = format!("bitstamp/BTCUSD/bars-1m/{name}.twb");
    let mut bytes = client.get("marketdata", &key).await.unwrap().unwrap();
    bytes[200] ^= 0x01;
    client.put("marketdata", &key, &bytes).await.unwrap();
    let err = refused(&spec, &env);
    assert!(err.contains(&format!("day {name} ({key}): byte ")), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
