//! A bot's time from start to first decision, warmed from Cosmos DB and cold
//! (BENCHMARKS.md). The demo bot (EMA 5/15 on 1s BTCUSDT bars) paper-trades the real
//! trade replay at real time (speed 1) from two bars before its first crossover; the
//! warmed worker finds the 15+ bars before that in the market-data container
//! (`@vercel/cosmosdb-server` behind the Entra-checking proxy, tokens from the Azure
//! fake). Measured: process start to its first `OrderSubmitted` event on stdout.
//!
//! ```sh
//! cargo build --release -p tradewind-bot --bin tradewind-bot --example warmup_bench
//! target/release/examples/warmup_bench   # from the repository root
//! ```

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use tradewind_azure::cosmos::{CosmosClient, CosmosOptions};
use tradewind_azure::transport::TransportOptions;
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, TestServer};
use tradewind_core::data::Bar;
use tradewind_core::data::aggregate::BarAggregator;
use tradewind_core::data::load::{L1Event, L1Jsonl};
use tradewind_market_store::market::{MarketData, PARTITION_KEY_PATHS, symbol_key};
use tradewind_store_emulators::Cosmos;

const DATA: &str = "examples/data/binance_spot_btcusdt_l1_trades.jsonl";
const RUNS: usize = 3;

fn bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("tradewind-bot")
}

fn bars() -> Vec<Bar> {
    let file = std::fs::File::open(DATA).expect("run from the repository root");
    let mut agg = BarAggregator::new(1_000_000_000).unwrap();
    let mut out = Vec::new();
    for ev in L1Jsonl::new("replay", BufReader::new(file)) {
        if let L1Event::Trade(t) = ev.unwrap() {
            let p = t.price;
            let bar = Bar {
                ts: t.ts,
                open: p,
                high: p,
                low: p,
                close: p,
                volume: t.size,
            };
            out.extend(agg.push_bar(&bar).unwrap());
        }
    }
    out.extend(agg.flush());
    out
}

/// Seconds from spawning the worker to its first order decision.
fn first_decision(dir: &Path, replay: &Path, env: &[(&str, String)], run: usize) -> f64 {
    let yaml = PathBuf::from("examples/demo/btc-scalper.yaml");
    let loaded = tradewind_crds::bundle::load(&[yaml], None).unwrap();
    let mut v = serde_json::to_value(&loaded.config).unwrap();
    v["bot"]["mode"] = json!("Paper");
    let config = dir.join("bot.json");
    std::fs::write(&config, v.to_string()).unwrap();
    let state = dir.join(format!("state-{}-{run}", env.len()));
    let started = Instant::now();
    let mut child = Command::new(bin())
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .args(["--metrics-addr", "127.0.0.1:0", "--kubernetes", "off"])
        .args([
            "--market-data",
            "replay",
            "--replay-speed",
            "1",
            "--replay-file",
        ])
        .arg(replay)
        .env_remove("KUBECONFIG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("build the release binary first (see the docs)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let secs = loop {
        match lines.next() {
            Some(Ok(l)) => {
                let e: Value = serde_json::from_str(&l).unwrap_or_default();
                if e["kind"] == "OrderSubmitted" {
                    break started.elapsed().as_secs_f64();
                }
            }
            _ => panic!("the worker ended without an order"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    secs
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("tw-warmup-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bars = bars();
    // The first crossover of the whole replay: the bar of its first order, found by the
    // same worker over the whole replay, unpaced.
    let whole = Command::new(bin())
        .args([
            "backtest",
            "-f",
            "examples/demo/btc-scalper.yaml",
            "--data",
            DATA,
            "--out",
        ])
        .arg(dir.join("bt"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(whole.success());
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("bt/report.json")).unwrap()).unwrap();
    let first_trade = report["trades"][0]["entryTime"]
        .as_str()
        .unwrap()
        .to_string();
    let first = tradewind_core::data::time::parse_iso8601(&first_trade).unwrap();
    let at = bars.iter().position(|b| b.ts >= first).unwrap();
    let split = bars[at - 2].ts;
    let text = std::fs::read_to_string(DATA).unwrap();
    let late: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).unwrap()["ts"]
                .as_i64()
                .unwrap()
                >= split
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let replay = dir.join("late.jsonl");
    std::fs::write(&replay, late).unwrap();

    let fake = TestServer::start().expect("azure fake");
    let cosmos = Cosmos::start(fake.handle().clone());
    let http = tradewind_store_emulators::plain_http();
    for (path, body) in [
        ("/dbs", json!({"id": "tradewind"})),
        (
            "/dbs/tradewind/colls",
            json!({"id": "marketdata", "partitionKey": {"paths": PARTITION_KEY_PATHS, "kind": "MultiHash", "version": 2}}),
        ),
    ] {
        http.post(format!("{}{path}", cosmos.backend()))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
    }
    let client = CosmosClient::new(
        &cosmos.endpoint("twmarket"),
        fake.handle().connection().credential.clone(),
        &TransportOptions {
            extra_ca_pem: Some(cosmos.ca_pem().as_bytes().to_vec()),
        },
        CosmosOptions::default(),
    )
    .unwrap();
    let md = MarketData::new(client, "tradewind", "marketdata");
    let symbol = symbol_key("binance-spot", "BTCUSDT");
    for b in &bars[..at - 2] {
        md.write_bar(&symbol, 1, b).await.unwrap();
    }
    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        format!("{}{}", fake.handle().ca_pem(), cosmos.ca_pem()),
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
            "TRADEWIND_MARKETDATA_COSMOS_ENDPOINT",
            cosmos.endpoint("twmarket"),
        ),
    ];
    let mut warm = Vec::new();
    let mut cold = Vec::new();
    for run in 0..RUNS {
        warm.push(first_decision(&dir, &replay, &env, run));
        cold.push(first_decision(&dir, &replay, &[], run));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "start to first decision (median of {RUNS}): warmed from Cosmos DB {:.2} s, cold {:.2} s \
         (replay at real time from 2 bars before the first crossover; 1s bars, EMA 5/15)",
        median(&mut warm),
        median(&mut cold)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
