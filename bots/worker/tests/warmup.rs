//! A paper worker warms its strategy from the market-data container in Cosmos DB
//! (`@vercel/cosmosdb-server` behind the proxy that checks the tests/azure fake's Entra
//! tokens): started on the replay from bar 16 with the first 15 bars in the store, it
//! trades exactly as a worker that saw the whole replay, and before a cold one can; and
//! it writes its orders, fills and equity snapshots to its own container, once each.
//! One emulator for the whole binary: one test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use tradewind_azure::cosmos::{CosmosClient, CosmosOptions, Query};
use tradewind_azure::transport::TransportOptions;
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, TestServer};
use tradewind_core::data::Bar;
use tradewind_core::data::aggregate::BarAggregator;
use tradewind_core::data::load::{L1Event, L1Jsonl};
use tradewind_market_store::market::{MarketData, PARTITION_KEY_PATHS, symbol_key};
use tradewind_store_emulators::Cosmos;

fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run through cargo")).join("../..")
}

fn data() -> PathBuf {
    root().join("examples/data/binance_spot_btcusdt_l1_trades.jsonl")
}

/// The replay's 1s bars, as the worker builds them from its trades.
fn bars() -> Vec<Bar> {
    let file = std::fs::File::open(data()).unwrap();
    let mut agg = BarAggregator::new(1_000_000_000).unwrap();
    let mut out = Vec::new();
    for ev in L1Jsonl::new("replay", std::io::BufReader::new(file)) {
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

/// The demo bot, resolved, in Paper mode.
fn bot_json(dir: &Path) -> PathBuf {
    let yaml = root().join("examples/demo/btc-scalper.yaml");
    let loaded = tradewind_crds::bundle::load(&[yaml], None).unwrap();
    let mut v = serde_json::to_value(&loaded.config).unwrap();
    v["bot"]["mode"] = Value::String("Paper".into());
    v["namespace"] = Value::String("trading".into());
    let path = dir.join("bot.json");
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

/// Runs a paper worker to the end of `replay`; its events and stderr.
fn run(dir: &Path, name: &str, replay: &Path, env: &[(&str, String)]) -> (Vec<Value>, String) {
    let state = dir.join(name);
    let out = Command::new(env!("CARGO_BIN_EXE_tradewind-bot"))
        .arg("run")
        .arg("--config")
        .arg(bot_json(dir))
        .arg("--state-dir")
        .arg(&state)
        .args(["--metrics-addr", "127.0.0.1:0", "--kubernetes", "off"])
        .args([
            "--market-data",
            "replay",
            "--replay-speed",
            "0",
            "--replay-file",
        ])
        .arg(replay)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // Log lines without their colours.
    let mut stderr = String::new();
    let mut in_escape = false;
    for c in String::from_utf8_lossy(&out.stderr).chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, c) => stderr.push(c),
        }
    }
    assert!(out.status.success(), "{stderr}");
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (events, stderr)
}

fn performance(events: &[Value]) -> Value {
    let stopped = events
        .iter()
        .rev()
        .find(|e| e["kind"] == "Stopped")
        .unwrap();
    let p = &stopped["performance"];
    json!({"fills": p["fills"], "orders": p["orders"], "equity": p["equity"], "realizedPnl": p["realizedPnl"]})
}

fn fills(events: &[Value]) -> Vec<(Value, Value, Value)> {
    events
        .iter()
        .filter(|e| e["kind"] == "Fill")
        .map(|e| (e["ts"].clone(), e["side"].clone(), e["price"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_warms_up_from_cosmos_and_writes_its_container() {
    let dir = std::env::temp_dir().join(format!("tw-warmup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bars = bars();
    // EMA 5/15: a 14-bar lookback, and one bar more for the crossover.
    let history = 15;
    let split = bars[history].ts;

    // The replay from bar 16 on.
    let text = std::fs::read_to_string(data()).unwrap();
    let later: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).unwrap()["ts"]
                .as_i64()
                .unwrap()
                >= split
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let replay = dir.join("later.jsonl");
    std::fs::write(&replay, later).unwrap();

    // The first 15 bars in the market-data container (and a stray later one, which
    // warm-up must not read: it is not history at the replay's start).
    let fake = TestServer::start().expect("azure fake");
    let cosmos = Cosmos::start(fake.handle().clone());
    let http = tradewind_store_emulators::plain_http();
    for (path, body) in [
        ("/dbs".to_string(), json!({"id": "tradewind"})),
        (
            "/dbs/tradewind/colls".to_string(),
            json!({"id": "marketdata", "defaultTtl": -1,
                   "partitionKey": {"paths": PARTITION_KEY_PATHS, "kind": "MultiHash", "version": 2}}),
        ),
        (
            "/dbs/tradewind/colls".to_string(),
            // As the operator creates a bot's container.
            json!({"id": "bot-btc", "partitionKey": {"paths": ["/stream"], "kind": "Hash", "version": 2}}),
        ),
    ] {
        let r = http
            .post(format!("{}{path}", cosmos.backend()))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let transport = TransportOptions {
        extra_ca_pem: Some(cosmos.ca_pem().as_bytes().to_vec()),
    };
    let client = CosmosClient::new(
        &cosmos.endpoint("twmarket"),
        fake.handle().connection().credential.clone(),
        &transport,
        CosmosOptions::default(),
    )
    .unwrap();
    let md = MarketData::new(client.clone(), "tradewind", "marketdata");
    let symbol = symbol_key("binance-spot", "BTCUSDT");
    for b in bars[..history].iter().chain([&bars[history + 1]]) {
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

    let (whole, _) = run(&dir, "whole", &data(), &[]);
    // The warmed worker also writes its orders, fills and snapshots to its container.
    let bot_env: Vec<(&str, String)> = env
        .iter()
        .cloned()
        .chain([
            ("TRADEWIND_BOT_COSMOS_ENDPOINT", cosmos.endpoint("twbots")),
            ("TRADEWIND_BOT_COSMOS_CONTAINER", "bot-btc".to_string()),
        ])
        .collect();
    let (warm, log) = run(&dir, "warm", &replay, &bot_env);
    let (cold, _) = run(&dir, "cold", &replay, &[]);
    assert!(
        log.contains("warm-up bars read from the market-data store"),
        "{log}"
    );
    // Four times the lookback (and one) is asked for; the store holds 15 before bar 16.
    assert!(log.contains("bars=15 wanted=60"), "{log}");
    assert!(!fills(&whole).is_empty());
    assert_eq!(fills(&warm), fills(&whole));
    assert_eq!(performance(&warm), performance(&whole));
    assert_eq!(cosmos.refused(), 0);
    // Bar 16 is long before the replay's first crossover: cold or warm, the EMAs have
    // converged by then.
    assert_eq!(fills(&cold), fills(&whole));

    // Started two bars before the first crossover, with every bar before it in the
    // store: the warmed worker takes the whole run's first trade, the cold one cannot
    // (it waits 16 bars).
    let first =
        tradewind_core::data::time::parse_iso8601(fills(&whole)[0].0.as_str().unwrap()).unwrap();
    let at = bars.iter().position(|b| b.ts >= first).unwrap();
    assert!((17..60).contains(&at), "the first trade at bar {at}");
    let split = bars[at - 2].ts;
    for b in &bars[history..at - 2] {
        md.write_bar(&symbol, 1, b).await.unwrap();
    }
    let later: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).unwrap()["ts"]
                .as_i64()
                .unwrap()
                >= split
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let late = dir.join("late.jsonl");
    std::fs::write(&late, later).unwrap();
    let (warm_late, _) = run(&dir, "warm-late", &late, &env);
    let (cold_late, _) = run(&dir, "cold-late", &late, &[]);
    assert_eq!(fills(&warm_late)[0], fills(&whole)[0]);
    assert_ne!(fills(&cold_late).first(), Some(&fills(&whole)[0]));

    // A restart of the warmed worker replays its journal (warm-up included) and reads
    // nothing more from the store: the same end.
    let documents = |stream: &'static str| {
        let client = client.clone();
        async move {
            let q = Query::new("SELECT * FROM c WHERE c.stream = @s").param("@s", stream);
            client
                .query(
                    "tradewind",
                    "bot-btc",
                    Some(&[Value::from(stream)]),
                    &q,
                    Some(100),
                )
                .await
                .unwrap()
        }
    };
    let kinds = |events: &[Value], of: &[&str]| {
        events
            .iter()
            .filter(|e| of.contains(&e["kind"].as_str().unwrap()))
            .count()
    };
    let (fills_docs, orders_docs, snapshot_docs) = (
        documents("fills").await,
        documents("orders").await,
        documents("snapshots").await,
    );
    assert_eq!(fills_docs.len(), kinds(&warm, &["Fill"]));
    assert!(!fills_docs.is_empty());
    let order_kinds = [
        "OrderSubmitted",
        "OrderAccepted",
        "OrderRefused",
        "OrderRejected",
        "OrderCanceled",
    ];
    assert_eq!(orders_docs.len(), kinds(&warm, &order_kinds));
    assert_eq!(snapshot_docs.len(), kinds(&warm, &["EquitySnapshot"]));
    let fill = warm.iter().find(|e| e["kind"] == "Fill").unwrap();
    let doc = fills_docs
        .iter()
        .find(|d| d["eventId"] == fill["id"])
        .unwrap();
    assert_eq!(
        (&doc["price"], &doc["stream"]),
        (&fill["price"], &json!("fills"))
    );

    let (again, log) = run(&dir, "warm", &replay, &bot_env);
    assert!(!log.contains("warm-up bars read"), "{log}");
    assert_eq!(performance(&again), performance(&whole));
    // A restart writes no document twice.
    assert_eq!(documents("fills").await.len(), fills_docs.len());
    let _ = std::fs::remove_dir_all(&dir);
}
