//! The feed writes what it publishes to market data at rest: two `tradewind-bot feed`
//! replicas (a real `nats-server -js`, the Binance mock replaying a day boundary) write
//! every closed bar once into the market-data container (`@vercel/cosmosdb-server`
//! behind the proxy that checks the tests/azure fake's Entra tokens), the latest ticker
//! and book snapshots, and archive the finished day's bars and trades to Blob Storage
//! (Azurite over HTTPS) — identical to the exchange's. One of each server: one test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tradewind_azure::blob::{BlobClient, BlobOptions};
use tradewind_azure::cosmos::{CosmosClient, CosmosOptions, Query};
use tradewind_azure::transport::TransportOptions;
use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT};
use tradewind_binance_mock::{MockConfig, Speed, TestServer};
use tradewind_core::data::archive::Day;
use tradewind_feed::testing::NatsServer;
use tradewind_market_store::archive::Archive;
use tradewind_market_store::market::{MarketData, PARTITION_KEY_PATHS, symbol_key};
use tradewind_store_emulators::{Azurite, Cosmos};

const NANOS: i64 = 1_000_000_000;

fn root() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run through cargo")).join("../..")
}

/// The example replay moved by whole seconds so that a UTC midnight falls 100 s in.
fn shifted_data(dir: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(root().join("examples/data/binance_spot_btcusdt_l1_trades.jsonl"))
            .unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let mid = first["ts"].as_i64().unwrap() / NANOS + 100;
    let shift = ((mid / 86_400 + 1) * 86_400 - mid) * NANOS;
    let out: String = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["ts"] = json!(v["ts"].as_i64().unwrap() + shift);
            format!("{v}\n")
        })
        .collect();
    let path = dir.join("binance_spot_btcusdt_l1_trades.jsonl");
    std::fs::write(&path, out).unwrap();
    path
}

struct Proc {
    child: Child,
    err: PathBuf,
}

impl Proc {
    fn start(dir: &Path, label: &str, args: &[String], env: &[(&str, String)]) -> Self {
        let err = dir.join(format!("{label}.err"));
        let mut c = Command::new(env!("CARGO_BIN_EXE_tradewind-bot"));
        c.args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&err).unwrap()));
        for (k, v) in env {
            c.env(k, v);
        }
        Self {
            child: c.spawn().unwrap(),
            err,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn until<F: Future<Output = bool>>(secs: u64, what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_feed_replicas_store_every_bar_once_and_archive_the_finished_day() {
    let dir = std::env::temp_dir().join(format!("tw-feed-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = shifted_data(&dir);
    let trades = tradewind_bot::run::feed::Replay::trades(&data).unwrap();
    let bars = tradewind_core::data::aggregate::bars_from_trades(&trades, NANOS).unwrap();
    let first_day = Day::of(trades[0].ts);
    assert_eq!(Day::of(trades.last().unwrap().ts), Day(first_day.0 + 1));
    let day_bars: Vec<i64> = bars
        .iter()
        .filter(|b| Day::of(b.ts) == first_day)
        .map(|b| b.ts)
        .collect();
    let day_trades: Vec<_> = trades
        .iter()
        .filter(|t| Day::of(t.ts) == first_day)
        .cloned()
        .collect();

    let nats = NatsServer::start();
    let mock = TestServer::start_with(MockConfig {
        start_paused: true,
        speed: Speed::Multiplier(20.0),
        ..MockConfig::default().with_data(&data).unwrap()
    })
    .unwrap();
    let fake = tradewind_azure_fake::TestServer::start().expect("azure fake");
    let cosmos = Cosmos::start(fake.handle().clone());
    let azurite = Azurite::start();

    // The market-data container as the environment creates it, and the archive container.
    let http = tradewind_store_emulators::plain_http();
    for (path, body) in [
        ("/dbs".to_string(), json!({"id": "tradewind"})),
        (
            "/dbs/tradewind/colls".to_string(),
            json!({"id": "marketdata", "defaultTtl": -1,
                   "partitionKey": {"paths": PARTITION_KEY_PATHS, "kind": "MultiHash", "version": 2}}),
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
    let credential = fake.handle().connection().credential.clone();
    let blob = BlobClient::new(
        &azurite.endpoint("devstoreaccount1"),
        credential.clone(),
        &TransportOptions {
            extra_ca_pem: Some(azurite.ca_pem().as_bytes().to_vec()),
        },
        BlobOptions::default(),
    )
    .unwrap();
    blob.create_container("archive").await.unwrap();
    let cosmos_client = CosmosClient::new(
        &cosmos.endpoint("twmarket"),
        credential,
        &TransportOptions {
            extra_ca_pem: Some(cosmos.ca_pem().as_bytes().to_vec()),
        },
        CosmosOptions::default(),
    )
    .unwrap();
    let md = MarketData::new(cosmos_client.clone(), "tradewind", "marketdata");

    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        format!(
            "{}{}{}",
            fake.handle().ca_pem(),
            cosmos.ca_pem(),
            azurite.ca_pem()
        ),
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
        (
            "TRADEWIND_MARKETDATA_ARCHIVE",
            "blob://devstoreaccount1/archive".to_string(),
        ),
        (
            "TRADEWIND_BLOB_ENDPOINT",
            azurite.endpoint("devstoreaccount1"),
        ),
    ];
    let args: Vec<String> = [
        "feed",
        "--symbol",
        "BTCUSDT",
        "--interval",
        "1s",
        "--nats-url",
        &nats.url(),
        "--binance-rest",
        &mock.rest_base(),
        "--binance-ws",
        &mock.ws_base(),
        "--metrics-addr",
        "127.0.0.1:0",
    ]
    .into_iter()
    .chain(tradewind_feed::testing::SMALL_STREAM_FLAGS)
    .map(String::from)
    .collect();
    let a = Proc::start(&dir, "feed-a", &args, &env);
    let b = Proc::start(&dir, "feed-b", &args, &env);
    until(60, "both feeds connected", || async {
        mock.market_connections() == 4
    })
    .await;
    mock.resume();
    until(120, "the end of the data", || async {
        mock.remaining() == 0
    })
    .await;

    // Every closed bar once in the container, both days.
    let symbol = symbol_key("binance-spot", "BTCUSDT");
    let after = bars.last().unwrap().ts + NANOS;
    let want: Vec<i64> = bars.iter().map(|b| b.ts).collect();
    until(60, "every bar in the market-data container", || async {
        md.last_bars(&symbol, 1, want.len() + 10, after)
            .await
            .is_ok_and(|got| got.len() >= want.len())
    })
    .await;
    let stored = md
        .last_bars(&symbol, 1, want.len() + 10, after)
        .await
        .unwrap();
    assert_eq!(stored, bars, "every bar once, as the exchange closed it");

    // The latest ticker and book snapshots (one per 10 s of exchange time, the same ids
    // from both replicas).
    let ticker = md
        .ticker(&symbol)
        .await
        .unwrap()
        .expect("a ticker document");
    assert_eq!(ticker["type"], "ticker");
    // Books are keyed by their depth update's time (the mock stamps depth with its own
    // clock, not the replay's): the ticker's day.
    let last_day = Day::of(ticker["ts_ms"].as_i64().unwrap() * 1_000_000).to_string();
    let books = cosmos_client
        .query(
            "tradewind",
            "marketdata",
            Some(&[Value::from(symbol.as_str()), Value::from(last_day.as_str())]),
            &Query::new(
                "SELECT c.id FROM c WHERE c.symbol = @symbol AND c.day = @day AND c.type = 'book'",
            )
            .param("@symbol", symbol.as_str())
            .param("@day", last_day.as_str()),
            None,
        )
        .await
        .unwrap();
    assert!(!books.is_empty());
    let mut ids: Vec<&str> = books.iter().filter_map(|d| d["id"].as_str()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);

    // The finished day archived, bars and trades, exactly.
    let archive = Archive::Blob {
        client: blob,
        container: "archive".into(),
    };
    until(60, "the first day archived", || async {
        archive
            .trades_day("binance-spot", "BTCUSDT", first_day)
            .await
            .is_ok()
            && archive
                .bars_day("binance-spot", "BTCUSDT", 1, first_day)
                .await
                .is_ok()
    })
    .await;
    let archived = archive
        .bars_day("binance-spot", "BTCUSDT", 1, first_day)
        .await
        .unwrap();
    assert_eq!(
        archived.bars.iter().map(|b| b.ts).collect::<Vec<_>>(),
        day_bars
    );
    assert_eq!(
        archived.bars,
        bars.iter()
            .filter(|b| Day::of(b.ts) == first_day)
            .cloned()
            .collect::<Vec<_>>()
    );
    let archived_trades = archive
        .trades_day("binance-spot", "BTCUSDT", first_day)
        .await
        .unwrap();
    assert_eq!(archived_trades, day_trades);
    // The day still running is not archived.
    assert!(
        archive
            .bars_day("binance-spot", "BTCUSDT", 1, Day(first_day.0 + 1))
            .await
            .is_err()
    );
    assert_eq!(cosmos.refused(), 0);
    let logs = format!("{}{}", a.stderr(), b.stderr());
    assert!(logs.contains("day archived"), "{logs}");
    assert!(!logs.contains("not written"), "{logs}");
    assert!(!logs.contains("not archived"), "{logs}");
    let _ = std::fs::remove_dir_all(&dir);
}
