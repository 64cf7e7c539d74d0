//! `tradewind-bot run` as a process: paper trading on replayed real Binance trades (equal
//! to the backtest, and after a kill -9 and restart), live trading against the Binance
//! mock (each order sent once, also across a crash between send and acknowledgement),
//! the Lease, a risk halt reported in the TradingBot's status, and clear errors for a bad
//! configuration or bad credentials.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tradewind_crds::TradingBot;
use tradewind_crds::conditions::find;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tradewind_binance_mock::{DEFAULT_API_KEY, DEFAULT_API_SECRET, MockConfig, Speed, TestServer};

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run through cargo"))
}

fn bin() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_BIN_EXE_tradewind-bot").expect("cargo sets it"))
}

fn data() -> PathBuf {
    manifest_dir().join("../../examples/data/binance_spot_btcusdt_l1_trades.jsonl")
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tw-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The demo bot (EMA 5/15 on 1s BTCUSDT bars) resolved as the operator mounts it, in
/// `mode`, with `edit` applied to the resolved JSON.
fn bot_json(dir: &Path, mode: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let yaml = manifest_dir().join("../../examples/demo/btc-scalper.yaml");
    let loaded = tradewind_crds::bundle::load(&[yaml], None).unwrap();
    let mut v = serde_json::to_value(&loaded.config).unwrap();
    v["bot"]["mode"] = Value::String(mode.into());
    if mode == "Live" {
        // As the CRD requires of a Live bot (the worker checks the rules an API server
        // would); the worker itself reads the mounted files.
        v["bot"]["credentials"] = serde_json::json!({"secretRef": {"name": "keys"}});
    }
    v["namespace"] = Value::String("trading".into());
    edit(&mut v);
    let path = dir.join("bot.json");
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

struct Worker {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Worker {
    fn start(dir: &Path, config: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let n = std::fs::read_dir(dir).unwrap().count();
        let out = dir.join(format!("stdout-{n}.jsonl"));
        let err = dir.join(format!("stderr-{n}.txt"));
        let mut cmd = Command::new(bin());
        cmd.arg("run")
            .arg("--config")
            .arg(config)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--credentials-dir")
            .arg(dir.join("credentials"))
            .args(["--metrics-addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("KUBECONFIG")
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&err).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self {
            child: cmd.spawn().unwrap(),
            out,
            err,
        }
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits for the process to exit (failing after `secs`).
    fn wait(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("worker did not exit; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn until(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

fn stopped(events: &[Value]) -> Value {
    events
        .iter()
        .rev()
        .find(|e| e["kind"] == "Stopped")
        .cloned()
        .unwrap_or_else(|| panic!("no Stopped event in {events:?}"))
}

const PAPER_ARGS: &[&str] = &["--kubernetes", "off", "--market-data", "replay"];

mod platform;

/// A paper worker started with `--platform-url` records with the platform every event it
/// publishes, with the token file it is given, before it exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_worker_records_every_event_with_the_platform() {
    let dir = scratch("platform");
    let p = platform::platform(&dir, "btc-scalper-demo").await;
    let config = bot_json(&dir, "Paper", |_| {});
    let (url, token) = (p.url.clone(), p.token_file.display().to_string());
    let events = tokio::task::spawn_blocking(move || {
        let data = data();
        let mut w = Worker::start(
            &dir,
            &config,
            &[
                PAPER_ARGS,
                &[
                    "--replay-file",
                    data.to_str().unwrap(),
                    "--replay-speed",
                    "0",
                    "--platform-url",
                    &url,
                    "--platform-token-file",
                    &token,
                ],
            ]
            .concat(),
            &[],
        );
        assert!(w.wait(60).success(), "{}", w.stderr());
        w.events()
    })
    .await
    .unwrap();
    assert!(count(&events, "Fill") > 0 && count(&events, "EquitySnapshot") > 0);
    let published: Vec<tradewind_events::Event> = events
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(p.ledger.events(), published);
}

/// Paper trading on the replayed trades makes the same decisions and ends with the same
/// equity as `tradewind-bot backtest` on the same file: the same engine code.
#[test]
fn paper_replay_trades_like_the_backtest() {
    let dir = scratch("paper");
    let config = bot_json(&dir, "Paper", |_| {});
    let data = data();
    let mut w = Worker::start(
        &dir,
        &config,
        &[
            PAPER_ARGS,
            &[
                "--replay-file",
                data.to_str().unwrap(),
                "--replay-speed",
                "0",
            ],
        ]
        .concat(),
        &[],
    );
    assert!(w.wait(60).success(), "{}", w.stderr());
    let events = w.events();
    let perf = stopped(&events)["performance"].clone();

    let out = dir.join("backtest");
    let yaml = manifest_dir().join("../../examples/demo/btc-scalper.yaml");
    let status = Command::new(bin())
        .args([
            "backtest",
            "-f",
            yaml.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(perf["fills"].as_u64().unwrap() >= 4, "{perf}");
    assert_eq!(perf["fills"], report["fills"], "{perf}");
    assert_eq!(perf["orders"], report["orders"]);
    assert_eq!(perf["equity"], report["finalEquity"], "{perf}");
    assert_eq!(perf["realizedPnl"], report["realizedPnl"]);
    // Every fill was published as an event, with exact decimal strings.
    assert_eq!(
        count(&events, "Fill") as u64,
        perf["fills"].as_u64().unwrap()
    );
    let fill = events.iter().find(|e| e["kind"] == "Fill").unwrap();
    assert!(fill["price"].as_str().unwrap().contains('.'), "{fill}");
}

/// kill -9 in the middle of a paper session, then a restart on the same volume: the
/// journal replays the engine to where it was, and the session ends exactly as an
/// uninterrupted one.
#[test]
fn a_killed_paper_worker_resumes_from_its_journal() {
    let dir = scratch("paper-kill");
    let config = bot_json(&dir, "Paper", |_| {});
    let data = data();
    let file = data.to_str().unwrap();
    // Uninterrupted reference, in its own state directory.
    let reference_dir = scratch("paper-kill-ref");
    let reference_config = bot_json(&reference_dir, "Paper", |_| {});
    let mut r = Worker::start(
        &reference_dir,
        &reference_config,
        &[PAPER_ARGS, &["--replay-file", file, "--replay-speed", "0"]].concat(),
        &[],
    );
    assert!(r.wait(60).success(), "{}", r.stderr());
    let reference = stopped(&r.events())["performance"].clone();

    // 185 s of data at 40x: about 5 s; killed once the first fill is out.
    let mut w = Worker::start(
        &dir,
        &config,
        &[PAPER_ARGS, &["--replay-file", file, "--replay-speed", "40"]].concat(),
        &[],
    );
    until(30, "a first fill", || count(&w.events(), "Fill") >= 1);
    w.signal("-KILL");
    let status = w.wait(10);
    assert!(!status.success());
    let first = w.events();
    assert_eq!(count(&first, "Stopped"), 0, "killed, not stopped");

    let mut again = Worker::start(
        &dir,
        &config,
        &[PAPER_ARGS, &["--replay-file", file, "--replay-speed", "0"]].concat(),
        &[],
    );
    assert!(again.wait(60).success(), "{}", again.stderr());
    let events = again.events();
    let resumed = events.iter().find(|e| e["kind"] == "Resumed").unwrap();
    assert!(resumed["replayedBars"].as_u64().unwrap() > 0, "{resumed}");
    // What the kill kept back is published again under the same ids; nothing is lost:
    // both runs together hold the session's every sequence number, once per id.
    let mut ids: Vec<(u64, String)> = first
        .iter()
        .chain(&events)
        .map(|e| {
            (
                e["sequence"].as_u64().unwrap(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    ids.sort();
    ids.dedup();
    let sequences: Vec<u64> = ids.iter().map(|(s, _)| *s).collect();
    assert_eq!(sequences, (0..ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(stopped(&events)["performance"], reference);
}

/// The mock, its account holding USDT only (a new live session refuses an account that
/// already holds the bot's base asset).
fn mock() -> TestServer {
    let config = MockConfig::default().with_data(data()).unwrap();
    tradewind_binance_mock::TestServer::start_with(MockConfig {
        speed: Speed::Multiplier(20.0),
        accounts: vec![
            tradewind_binance_mock::Account::new(DEFAULT_API_KEY, DEFAULT_API_SECRET)
                .with_balance("USDT", "10000"),
        ],
        ..config
    })
    .unwrap()
}

fn live_env(dir: &Path, secret: &str) {
    let creds = dir.join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("apiKey"), DEFAULT_API_KEY).unwrap();
    std::fs::write(creds.join("apiSecret"), secret).unwrap();
}

fn live_args(mock: &TestServer) -> Vec<String> {
    vec![
        "--kubernetes".into(),
        "off".into(),
        "--binance-rest".into(),
        mock.rest_base(),
        "--binance-ws".into(),
        mock.ws_base(),
    ]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Every order the mock received came from this bot, under a distinct client order ID,
/// and matches one OrderSubmitted event.
fn assert_each_order_once(mock: &TestServer, submitted: usize) {
    let orders = mock.orders();
    let mut ids: Vec<&str> = orders.iter().map(|o| o.client_order_id.as_str()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a client order ID was used twice: {ids:?}");
    assert!(ids.iter().all(|id| id.starts_with('t')), "{ids:?}");
    assert_eq!(
        n, submitted,
        "orders at the exchange vs OrderSubmitted events"
    );
}

/// A live session: market data and orders through the mock exchange, fills from the user
/// data stream, a clean stop on SIGTERM.
#[test]
fn a_live_session_against_the_mock_exchange() {
    let dir = scratch("live");
    let mock = mock();
    live_env(&dir, DEFAULT_API_SECRET);
    let config = bot_json(&dir, "Live", |_| {});
    let a = live_args(&mock);
    let mut w = Worker::start(&dir, &config, &args(&a), &[]);
    until(60, "an order at the exchange", || mock.order_count() >= 1);
    // Both WebSockets drop and the order book loses a diff: the worker reconnects,
    // reconciles through REST and trades on.
    mock.drop_market_streams();
    mock.drop_user_streams();
    mock.skip_depth_updates(1);
    until(60, "three orders at the exchange", || {
        mock.order_count() >= 3
    });
    until(30, "fills reported", || count(&w.events(), "Fill") >= 3);
    w.signal("-TERM");
    assert!(w.wait(30).success(), "{}", w.stderr());
    let events = w.events();
    assert_each_order_once(&mock, count(&events, "OrderSubmitted"));
    let perf = &stopped(&events)["performance"];
    assert_eq!(
        perf["orders"].as_u64().unwrap() as usize,
        mock.order_count()
    );
    assert!(!w.stderr().contains(DEFAULT_API_SECRET));
}

/// The worker dies after an order reached the exchange but before the acknowledgement
/// came back. The restarted worker finds the order by its client order ID instead of
/// sending it again, and keeps trading.
#[test]
fn a_crash_between_send_and_ack_neither_loses_nor_doubles_an_order() {
    let dir = scratch("live-crash");
    let mock = mock();
    live_env(&dir, DEFAULT_API_SECRET);
    let config = bot_json(&dir, "Live", |_| {});
    let a = live_args(&mock);
    mock.hang_next_order();
    let mut w = Worker::start(&dir, &config, &args(&a), &[]);
    until(60, "the first order to be booked", || {
        mock.order_count() >= 1
    });
    w.signal("-KILL");
    w.wait(10);
    let first_id = mock.orders()[0].client_order_id.clone();
    let before = w.events();

    let mut again = Worker::start(&dir, &config, &args(&a), &[]);
    until(60, "two more orders", || mock.order_count() >= 3);
    again.signal("-TERM");
    assert!(again.wait(30).success(), "{}", again.stderr());
    let orders = mock.orders();
    assert_eq!(
        orders
            .iter()
            .filter(|o| o.client_order_id == first_id)
            .count(),
        1,
        "the order in flight at the crash was sent again"
    );
    // Events published before the kill may be published again (same id): count each once.
    let mut submitted: Vec<Value> = before
        .iter()
        .chain(&again.events())
        .filter(|e| e["kind"] == "OrderSubmitted")
        .map(|e| e["id"].clone())
        .collect();
    submitted.sort_by_key(|id| id.to_string());
    submitted.dedup();
    assert_each_order_once(&mock, submitted.len());
}

/// Bad input stops the worker at start with a message naming what is wrong.
#[test]
fn bad_config_and_bad_credentials_are_clear_errors() {
    let dir = scratch("bad");
    // A field of the wrong type: named by its path.
    let config = bot_json(&dir, "Paper", |v| {
        v["bot"]["capital"]["amount"] = Value::from(5)
    });
    let mut w = Worker::start(&dir, &config, PAPER_ARGS, &[]);
    assert!(!w.wait(20).success());
    assert!(w.stderr().contains("bot.capital.amount"), "{}", w.stderr());

    let config = bot_json(&dir, "Backtest", |_| {});
    let mut w = Worker::start(&dir, &config, PAPER_ARGS, &[]);
    assert!(!w.wait(20).success());
    assert!(
        w.stderr()
            .contains("bot.mode: Backtest bots are run with `tradewind-bot backtest`"),
        "{}",
        w.stderr()
    );

    // Live without credential files: the missing file is named.
    let config = bot_json(&dir, "Live", |_| {});
    let mut w = Worker::start(&dir, &config, &["--kubernetes", "off"], &[]);
    assert!(!w.wait(20).success());
    assert!(
        w.stderr().contains("credentials") && w.stderr().contains("apiKey"),
        "{}",
        w.stderr()
    );

    // A wrong secret: the exchange's refusal, never the secret.
    let mock = mock();
    let wrong = "not-the-secret-0123456789abcdef";
    live_env(&dir, wrong);
    let a = live_args(&mock);
    let mut w = Worker::start(&dir, &config, &args(&a), &[]);
    assert!(!w.wait(30).success());
    let err = w.stderr();
    assert!(err.contains("checking the exchange credentials"), "{err}");
    assert!(err.contains("-1022"), "{err}");
    assert!(!err.contains(wrong), "the secret leaked: {err}");
    assert_eq!(mock.order_count(), 0);
}

/// A test API server with the CRDs, the namespace, the bot (as the operator would have
/// created it) and its Lease; its kubeconfig in `dir`.
async fn cluster(dir: &Path, mode: &str) -> (tradewind_apiserver::TestServer, Client, PathBuf) {
    let server = tradewind_apiserver::TestServer::start().unwrap();
    let kubeconfig = dir.join("kubeconfig.yaml");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let client = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (_, crd) in tradewind_crds::manifests::all() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "trading"}})).unwrap(),
        )
        .await
        .unwrap();
    let yaml = manifest_dir().join("../../examples/demo/btc-scalper.yaml");
    let loaded = tradewind_crds::bundle::load(&[yaml], None).unwrap();
    let mut bot: TradingBot = loaded.bot;
    bot.metadata.namespace = Some("trading".into());
    bot.spec.mode = serde_json::from_value(Value::String(mode.into())).unwrap();
    if mode == "Live" {
        bot.spec.credentials =
            serde_json::from_value(serde_json::json!({"secretRef": {"name": "keys"}})).unwrap();
    }
    Api::<TradingBot>::namespaced(client.clone(), "trading")
        .create(&PostParams::default(), &bot)
        .await
        .unwrap();
    Api::<Lease>::namespaced(client.clone(), "trading")
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                serde_json::json!({"metadata": {"name": "btc-scalper-demo-lease"}, "spec": {}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    (server, client, kubeconfig)
}

/// A risk limit breached in paper trading: the worker halts, says so in the TradingBot's
/// status (Halted=True, Trading=False, performance filled in) under its own field
/// manager, and releases its Lease when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_risk_halt_is_reported_in_the_status_and_the_lease_released() {
    let dir = scratch("halt");
    let (_server, client, kubeconfig) = cluster(&dir, "Paper").await;
    let config = bot_json(&dir, "Paper", |v| {
        v["risk"]["maxDrawdownPercent"] = Value::String("0.05".into());
    });
    let data = data();
    let kc = kubeconfig.to_str().unwrap().to_owned();
    let mut w = Worker::start(
        &dir,
        &config,
        &[
            "--market-data",
            "replay",
            "--replay-file",
            data.to_str().unwrap(),
            "--replay-speed",
            "0",
            "--status-interval-seconds",
            "0",
        ],
        &[("KUBECONFIG", kc.as_str()), ("POD_NAME", "worker-1")],
    );
    let status = tokio::task::spawn_blocking(move || {
        let s = w.wait(60);
        (s, w.events(), w.stderr())
    })
    .await
    .unwrap();
    assert!(status.0.success(), "{}", status.2);
    assert_eq!(count(&status.1, "Halted"), 1, "{:?}", status.1);

    let bot = Api::<TradingBot>::namespaced(client.clone(), "trading")
        .get("btc-scalper-demo")
        .await
        .unwrap();
    let s = bot.status.unwrap();
    let halted = find(&s.conditions, "Halted").expect("Halted condition");
    assert_eq!(
        (halted.status.as_str(), halted.reason.as_str()),
        ("True", "RiskLimit")
    );
    assert!(halted.message.contains("drawdown"), "{}", halted.message);
    assert_eq!(find(&s.conditions, "Trading").unwrap().status, "False");
    let perf = s.performance.expect("performance");
    assert!(perf.equity.is_some() && perf.drawdown_percent.is_some());
    let managers: Vec<String> = bot
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.iter().any(|m| m == "tradewind-bot"),
        "{managers:?}"
    );
    let lease = Api::<Lease>::namespaced(client, "trading")
        .get("btc-scalper-demo-lease")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity),
        None,
        "lease not released"
    );
}

/// A new live session on an account that already holds BTC: no order, an
/// `UnexpectedHoldings` event, the Trading condition False with that reason and what was
/// found; the worker waits for a stop (no crash loop) and leaves no journal behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_worker_on_an_account_holding_the_base_asset_refuses_and_says_so() {
    let dir = scratch("holdings");
    let (_server, client, kubeconfig) = cluster(&dir, "Live").await;
    // The mock's default account holds 1 BTC.
    let mock = tradewind_binance_mock::TestServer::start_with(MockConfig {
        speed: Speed::Multiplier(20.0),
        ..MockConfig::default().with_data(data()).unwrap()
    })
    .unwrap();
    live_env(&dir, DEFAULT_API_SECRET);
    let config = bot_json(&dir, "Live", |_| {});
    let mut a = live_args(&mock);
    a[1] = "auto".into();
    let kc = kubeconfig.to_str().unwrap().to_owned();
    let w = Worker::start(
        &dir,
        &config,
        &args(&a),
        &[("KUBECONFIG", kc.as_str()), ("POD_NAME", "worker-1")],
    );
    // The status is written before the event is published.
    let w = tokio::task::spawn_blocking(move || {
        until(60, "the UnexpectedHoldings event", || {
            count(&w.events(), "UnexpectedHoldings") == 1
        });
        w
    })
    .await
    .unwrap();
    let bot = Api::<TradingBot>::namespaced(client.clone(), "trading")
        .get("btc-scalper-demo")
        .await
        .unwrap();
    let trading = bot
        .status
        .and_then(|s| find(&s.conditions, "Trading").cloned());
    let trading = trading.expect("the Trading condition");
    assert_eq!(
        (trading.status.as_str(), trading.reason.as_str()),
        ("False", "UnexpectedHoldings")
    );
    assert!(trading.message.contains("1 BTC"), "{}", trading.message);
    let (status, events, stderr) = tokio::task::spawn_blocking(move || {
        w.signal("-TERM");
        let mut w = w;
        let s = w.wait(30);
        (s, w.events(), w.stderr())
    })
    .await
    .unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(count(&events, "UnexpectedHoldings"), 1, "{events:?}");
    assert_eq!(count(&events, "Started"), 0, "{events:?}");
    assert_eq!(mock.order_count(), 0);
    assert!(!stderr.contains(DEFAULT_API_SECRET), "the secret leaked");
    // Nothing journaled: the next start looks at the account again.
    let (_, records) =
        tradewind_bot::run::journal::Journal::<tradewind_bot::run::record::Record>::open(
            dir.join("state/btc-scalper-demo.journal"),
        )
        .unwrap();
    assert!(records.is_empty(), "{records:?}");
}

/// Another worker takes the Lease: this one stops sending orders and exits with an
/// error saying why; every order it sent is accounted for in its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_lease_stops_the_worker() {
    let dir = scratch("lease");
    let (_server, client, kubeconfig) = cluster(&dir, "Live").await;
    let mock = mock();
    live_env(&dir, DEFAULT_API_SECRET);
    let config = bot_json(&dir, "Live", |_| {});
    let mut a = live_args(&mock);
    a[1] = "auto".into();
    a.extend(["--lease-seconds".into(), "3".into()]);
    let kc = kubeconfig.to_str().unwrap().to_owned();
    let w = Worker::start(
        &dir,
        &config,
        &args(&a),
        &[("KUBECONFIG", kc.as_str()), ("POD_NAME", "worker-1")],
    );
    let mock = std::sync::Arc::new(mock);
    let m = mock.clone();
    tokio::task::spawn_blocking(move || until(60, "an order", || m.order_count() >= 1))
        .await
        .unwrap();
    // Someone else holds the bot's Lease now.
    let now = k8s_openapi::jiff::Timestamp::now();
    Api::<Lease>::namespaced(client.clone(), "trading")
        .patch(
            "btc-scalper-demo-lease",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {
                "holderIdentity": "worker-2", "leaseDurationSeconds": 60,
                "acquireTime": now.to_string(), "renewTime": now.to_string()}})),
        )
        .await
        .unwrap();
    let (status, events, stderr) = tokio::task::spawn_blocking(move || {
        let mut w = w;
        let s = w.wait(30);
        (s, w.events(), w.stderr())
    })
    .await
    .unwrap();
    assert!(!status.success());
    assert!(stderr.contains("Lease was lost"), "{stderr}");
    assert_each_order_once(&mock, count(&events, "OrderSubmitted"));
    let lease = Api::<Lease>::namespaced(client, "trading")
        .get("btc-scalper-demo-lease")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("worker-2"),
        "the loser must not touch the new holder's Lease"
    );
}

/// In Azure: the exchange credentials come from the bot's Key Vault secret (the operator
/// put them there) and the events also go to the bot's Service Bus topic, both signed in
/// with an Entra ID credential against the Azure fake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_key_vault_and_events_to_service_bus() {
    use tradewind_azure::arm::ResourceId;
    use tradewind_azure::keyvault::Secrets;
    use tradewind_azure_fake::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT};

    let dir = scratch("azure");
    let fake = tradewind_azure_fake::TestServer::start().unwrap();
    let ca = dir.join("fake-ca.pem");
    fake.write_ca(&ca).unwrap();
    let azure = fake.connection();
    let arm = fake.arm_client();
    let g = ResourceId::resource_group("00000000-1111-2222-3333-444444444444", "rg");
    let sb = g.provider("Microsoft.ServiceBus", "namespaces", "sb-tradewind");
    let topic = sb.child("topics", "trading.btc-scalper-demo");
    for (id, body) in [
        (g.clone(), serde_json::json!({"location": "westeurope"})),
        (
            g.provider("Microsoft.KeyVault", "vaults", "kv-tw"),
            serde_json::json!({"location": "westeurope", "properties": {"tenantId": DEFAULT_TENANT,
                "sku": {"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}),
        ),
        (
            sb.clone(),
            serde_json::json!({"location": "westeurope", "sku": {"name": "Standard"}}),
        ),
        (topic.clone(), serde_json::json!({"properties": {}})),
        (
            topic.child("subscriptions", "notifications"),
            serde_json::json!({"properties": {}}),
        ),
    ] {
        arm.put(&id, &body).await.unwrap();
    }
    let vault = fake.vault_url("kv-tw");
    Secrets::new(&vault, azure.credential, &azure.transport)
        .unwrap()
        .ensure(
            "tw-trading-btc-scalper-demo",
            &serde_json::json!({"apiKey": DEFAULT_API_KEY, "apiSecret": DEFAULT_API_SECRET})
                .to_string(),
            "application/json",
            &Default::default(),
        )
        .await
        .unwrap();

    let mock = std::sync::Arc::new(mock());
    let config = bot_json(&dir, "Live", |_| {});
    let a = live_args(&mock);
    let ca_s = ca.to_str().unwrap().to_owned();
    let sb_url = fake.servicebus_url("sb-tradewind");
    let authority = fake.authority_host();
    // No credential files: they must come from Key Vault.
    let w = Worker::start(
        &dir,
        &config,
        &args(&a),
        &[
            ("TRADEWIND_AZURE_AUTH", "client-secret"),
            ("AZURE_TENANT_ID", DEFAULT_TENANT),
            ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID),
            ("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
            ("TRADEWIND_EXTRA_CA_FILE", ca_s.as_str()),
            ("TRADEWIND_KEYVAULT_URI", vault.as_str()),
            ("TRADEWIND_KEYVAULT_SECRET", "tw-trading-btc-scalper-demo"),
            ("TRADEWIND_SERVICEBUS_ENDPOINT", sb_url.as_str()),
            ("TRADEWIND_SERVICEBUS_TOPIC", "trading.btc-scalper-demo"),
        ],
    );
    let m = mock.clone();
    let (events, stderr) = tokio::task::spawn_blocking(move || {
        until(60, "two orders", || m.order_count() >= 2);
        w.signal("-TERM");
        let mut w = w;
        assert!(w.wait(30).success(), "{}", w.stderr());
        (w.events(), w.stderr())
    })
    .await
    .unwrap();
    assert!(!stderr.contains(DEFAULT_API_SECRET) && !stderr.contains(DEFAULT_CLIENT_SECRET));
    // Every event printed also reached the topic's subscription.
    let queued = fake.queued_messages("sb-tradewind", "trading.btc-scalper-demo", "notifications");
    assert_eq!(queued, events.len(), "{stderr}");
}

/// A new journal on a pod whose predecessor left orders open on the exchange (a volume
/// lost with the old pod): nothing could manage them, so the worker cancels the ones
/// carrying its bot's client-order-ID prefix — and only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_left_by_an_earlier_session_are_cancelled_on_a_new_journal() {
    use sha2::Digest;
    use tradewind_bot::venue::binance::{
        BinanceEndpoints, BinanceRest, Credentials, NewOrder, OrderKind,
    };
    let dir = scratch("orphans");
    let mock = mock();
    live_env(&dir, DEFAULT_API_SECRET);
    let config = bot_json(&dir, "Live", |_| {});
    // Without a cluster the worker's UID is "local/<namespace>/<name>"; every session's
    // client order IDs start with `t` and 8 hex digits of its hash. This one is an earlier
    // session's (another session part).
    let digest = sha2::Sha256::digest(b"local/trading/btc-scalper-demo");
    let prefix: String = std::iter::once("t".to_owned())
        .chain(digest[..4].iter().map(|b| format!("{b:02x}")))
        .chain(std::iter::once("abcdef".to_owned()))
        .collect();
    let rest = BinanceRest::new(
        &BinanceEndpoints::custom(mock.rest_base(), mock.ws_base()),
        Some(Credentials::new(DEFAULT_API_KEY, DEFAULT_API_SECRET)),
    )
    .unwrap();
    let resting = |id: String| NewOrder {
        symbol: "BTCUSDT".into(),
        side: tradewind_core::data::Side::Buy,
        kind: OrderKind::Limit {
            price: "10000.00".parse().unwrap(),
            tif: tradewind_core::orders::TimeInForce::Gtc,
        },
        quantity: "0.00100".parse().unwrap(),
        client_order_id: id,
    };
    let ours = format!("{prefix}-999");
    rest.new_order(&resting(ours.clone())).await.unwrap();
    rest.new_order(&resting("web-1".into())).await.unwrap();

    let a = live_args(&mock);
    let w = Worker::start(&dir, &config, &args(&a), &[]);
    let (events, stderr) = tokio::task::spawn_blocking(move || {
        until(60, "the Started event", || {
            count(&w.events(), "Started") == 1
        });
        w.signal("-TERM");
        let mut w = w;
        assert!(w.wait(30).success(), "{}", w.stderr());
        (w.events(), w.stderr())
    })
    .await
    .unwrap();
    let started = events.iter().find(|e| e["kind"] == "Started").unwrap();
    assert_eq!(
        started["cancelledOrphans"],
        serde_json::json!([ours]),
        "{stderr}"
    );
    let open: Vec<String> = rest
        .open_orders("BTCUSDT")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.client_order_id)
        .collect();
    assert_eq!(open, ["web-1"], "another client's order must stay");
}

/// A changed configuration (here the strategy's periods) starts a new session: the old
/// journal is set aside, not replayed under rules it was not written with.
#[test]
fn a_new_configuration_starts_a_new_journal() {
    let dir = scratch("reconfigure");
    let data = data();
    let file = data.to_str().unwrap();
    let first = bot_json(&dir, "Paper", |_| {});
    let mut w = Worker::start(
        &dir,
        &first,
        &[PAPER_ARGS, &["--replay-file", file, "--replay-speed", "0"]].concat(),
        &[],
    );
    assert!(w.wait(60).success(), "{}", w.stderr());
    let changed = bot_json(&dir, "Paper", |v| {
        v["strategy"]["emaCross"]["fastPeriod"] = Value::from(3);
    });
    let mut again = Worker::start(
        &dir,
        &changed,
        &[PAPER_ARGS, &["--replay-file", file, "--replay-speed", "0"]].concat(),
        &[],
    );
    assert!(again.wait(60).success(), "{}", again.stderr());
    let started = again
        .events()
        .into_iter()
        .find(|e| e["kind"] == "Started")
        .unwrap();
    assert_eq!(started["replayedBars"], 0, "the old session was replayed");
    let kept: Vec<String> = std::fs::read_dir(dir.join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("btc-scalper-demo.journal."))
        .collect();
    assert_eq!(kept.len(), 1, "the old journal is kept aside: {kept:?}");
    // The same configuration again resumes its own (new) session.
    let mut third = Worker::start(
        &dir,
        &changed,
        &[PAPER_ARGS, &["--replay-file", file, "--replay-speed", "0"]].concat(),
        &[],
    );
    assert!(third.wait(60).success(), "{}", third.stderr());
    let resumed = third
        .events()
        .into_iter()
        .find(|e| e["kind"] == "Resumed")
        .unwrap();
    assert!(resumed["replayedBars"].as_u64().unwrap() > 0);
}

/// The red-team probes, re-run on the binary: `--replay-speed 1e-30` panicked (exit 101)
/// and a journal recording a config hash that is not ASCII panicked at every start; now
/// the first is a clear error and the second journal is set aside and a session runs.
#[test]
fn crash_probes_are_clear_errors_or_run() {
    use tradewind_bot::run::journal::Journal;
    use tradewind_bot::run::record::Record;
    let dir = scratch("probes");
    let config = bot_json(&dir, "Paper", |_| {});
    let data = data();
    let replay = |speed: &str| -> Vec<String> {
        [
            PAPER_ARGS,
            &[
                "--replay-file",
                data.to_str().unwrap(),
                "--replay-speed",
                speed,
            ],
        ]
        .concat()
        .into_iter()
        .map(str::to_owned)
        .collect()
    };
    let args = replay("1e-30");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut w = Worker::start(&dir, &config, &args, &[]);
    let status = w.wait(60);
    assert_eq!(status.code(), Some(1), "{}", w.stderr());
    assert!(
        w.stderr().contains("--replay-speed 1e-30"),
        "{}",
        w.stderr()
    );
    assert!(!w.stderr().contains("panicked"), "{}", w.stderr());

    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let (mut journal, _) = Journal::<Record>::open(state.join("btc-scalper-demo.journal")).unwrap();
    journal
        .append(&[Record::Started {
            at: "2026-01-01T00:00:00Z".into(),
            mode: "Paper".into(),
            config_hash: "ééééééé/../x".into(),
            session: String::new(),
            cancelled_orphans: Vec::new(),
            snapshots: true,
        }])
        .unwrap();
    drop(journal);
    let args = replay("0");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut w = Worker::start(&dir, &config, &args, &[]);
    assert!(w.wait(60).success(), "{}", w.stderr());
    assert!(state.join("btc-scalper-demo.journal.unrecognised").exists());
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, a paper session that halts exports its
/// metrics over OTLP to a local receiver under the worker's Prometheus names — the halt
/// under the name and attribute the environment's alert rule reads — and `backtest`
/// exports its command span; the exporters flush before the process ends.
#[test]
fn a_halt_and_a_backtest_are_exported_over_otlp() {
    use tradewind_telemetry::names;
    let receiver = tradewind_test_support::otlp::OtlpServer::start().unwrap();
    let endpoint = receiver.endpoint();
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "tradewind-bot"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.instance.id=trading/btc-scalper-demo",
        ),
    ];
    let dir = scratch("otlp");
    let config = bot_json(&dir, "Paper", |v| {
        v["risk"]["maxDrawdownPercent"] = Value::String("0.05".into());
    });
    let data = data();
    let mut w = Worker::start(
        &dir,
        &config,
        &[
            PAPER_ARGS,
            &[
                "--replay-file",
                data.to_str().unwrap(),
                "--replay-speed",
                "0",
            ],
        ]
        .concat(),
        &otel,
    );
    assert!(w.wait(60).success(), "{}", w.stderr());
    assert_eq!(count(&w.events(), "Halted"), 1);
    let halted = receiver.points_of(names::BOT_HALTED);
    let last = halted
        .last()
        .unwrap_or_else(|| panic!("no {} in {:?}", names::BOT_HALTED, receiver.points()));
    assert_eq!((last.kind, last.value), ("gauge", 1.0));
    assert_eq!(last.attribute(names::BOT), Some("trading/btc-scalper-demo"));
    assert!(
        last.resource
            .contains(&("service.name".into(), "tradewind-bot".into())),
        "{:?}",
        last.resource
    );
    // Labelled families that gain their first series after the start (the halt above,
    // fills) are exported too.
    let fills = count(&w.events(), "Fill");
    assert!(fills >= 1, "the drawdown halt follows a fill");
    let exported: f64 = receiver
        .points_of("tradewind_bot_fills")
        .iter()
        .filter(|p| (p.kind, p.monotonic) == ("sum", true))
        .fold(std::collections::HashMap::new(), |mut last, p| {
            last.insert(p.attribute("side").map(str::to_owned), p.value);
            last
        })
        .values()
        .sum();
    assert_eq!(exported, fills as f64, "{:?}", receiver.points());

    let yaml = manifest_dir().join("../../examples/demo/btc-scalper.yaml");
    let status = Command::new(bin())
        .args(["backtest", "-f", yaml.to_str().unwrap(), "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.join("backtest"))
        .envs(otel)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let spans = receiver.spans();
    let backtest = spans
        .iter()
        .find(|s| s.name == "tradewind-bot backtest")
        .unwrap_or_else(|| panic!("no backtest span in {spans:?}"));
    assert_eq!(backtest.attribute("command"), Some("backtest"));
    assert_eq!(
        backtest.resource_attribute("service.instance.id"),
        Some("trading/btc-scalper-demo")
    );
    assert_eq!(receiver.refused(), Vec::<String>::new());
}
