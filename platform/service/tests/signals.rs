//! Signals and notifications end to end, through the real programs: `tradewind-platform
//! serve` (ingest and user API over a SQLite ledger, TokenReview against the test API
//! server, the notification dispatcher) and a Paper `tradewind-bot run` on the Binance
//! mock's market data. A signal posted to the bot's webhook reaches the worker, which
//! acts on it once; restarted, it does not act again; a repeat, a wrong secret, a stale
//! signal and another account's path change nothing; no secret reaches a log. The
//! worker's fill and the account's daily summary reach a webhook channel through
//! `serve`'s own dispatcher.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use tradewind_api::auth::{headers, sign, signing_key, string_to_sign};
use tradewind_binance_mock::{MockConfig, Speed, TestServer as Binance};
use tradewind_crds::{Strategy, TradingBot};

const NS: &str = "trading";
const BOT: &str = "sigbot";
const ACCOUNT: &str = "acme";

const MANIFESTS: &str = r#"apiVersion: tradewind.dev/v1alpha1
kind: Strategy
metadata:
  name: tv
spec:
  type: Signal
  timeframe: 1s
  signal:
    actions: [enter, exit]
  sizing:
    type: FixedQuantity
    fixedQuantity:
      quantity: "0.001"
---
apiVersion: tradewind.dev/v1alpha1
kind: TradingBot
metadata:
  name: sigbot
spec:
  mode: Paper
  strategyRef:
    name: tv
  accountRef:
    name: acme
  venue:
    exchange: Binance
    market: Spot
  symbols: [BTCUSDT]
  capital:
    amount: "10000"
    currency: USDT
"#;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tw-platform-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// target/<profile>/deps/signals-<hash> → target/<profile>/<name> (built with the workspace).
fn sibling_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        bin.exists(),
        "{} not built (build the workspace)",
        bin.display()
    );
    bin
}

/// A program with its output in files; killed when dropped.
struct Proc {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Proc {
        let out = dir.join(format!("{name}.out"));
        let err = dir.join(format!("{name}.err"));
        let child = cmd
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
            .spawn()
            .unwrap();
        Proc { child, out, err }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// SIGTERM, and the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "no exit: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it holds (a bounded wait for another process).
async fn until<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The address a log line with `message` names (`127.0.0.1:PORT`).
fn bound(log: &str, message: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains(message))?;
    let at = line.find("127.0.0.1:")?;
    let port: String = line[at + 10..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some(format!("127.0.0.1:{port}"))
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request (the connection closed after it).
fn http(addr: &str, method: &str, target: &str, head: &[(&str, String)], body: &[u8]) -> Answer {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in head {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut r = std::io::BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let status: u16 = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (mut content_type, mut length, mut chunked) = (String::new(), None, false);
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        match k.to_ascii_lowercase().as_str() {
            "content-type" => content_type = v.trim().to_owned(),
            "content-length" => length = Some(v.trim().parse::<usize>().unwrap()),
            "transfer-encoding" => chunked = v.contains("chunked"),
            _ => {}
        }
    }
    let mut raw = Vec::new();
    if let (Some(n), false) = (length, chunked) {
        raw.resize(n, 0);
        r.read_exact(&mut raw).unwrap();
    } else {
        r.read_to_end(&mut raw).unwrap();
        if chunked {
            raw = dechunk(&raw);
        }
    }
    Answer {
        status,
        content_type,
        body: String::from_utf8_lossy(&raw).into_owned(),
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&raw[..nl]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&raw[nl + 2..nl + 2 + n]);
        raw = &raw[nl + 4 + n..];
    }
}

/// The platform admin's API key, signing its requests.
struct Admin {
    api: String,
    id: String,
    key: String,
}

impl Admin {
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            .to_string();
        let nonce = format!("n{}", tradewind_ledger::accounts::now_nanos());
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let sig = sign(
            &self.key,
            &string_to_sign(&ts, &nonce, method, p, q, body.as_bytes()),
        );
        let mut head = vec![
            (headers::KEY, self.id.clone()),
            (headers::TIMESTAMP, ts),
            (headers::NONCE, nonce),
            (headers::SIGNATURE, sig),
        ];
        if !body.is_empty() {
            head.push(("content-type", "application/json".into()));
        }
        http(&self.api, method, path, &head, body.as_bytes())
    }
}

/// A request's headers and JSON body.
type Got = (BTreeMap<String, String>, Value);

/// A webhook receiver: every request it got.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Got>>>);

impl Receiver {
    async fn start(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = self.0.clone();
        tradewind_http::serve_connections(
            listener,
            tradewind_http::Limits::default(),
            move |req: Request<hyper::body::Incoming>| {
                let got = got.clone();
                async move {
                    let head = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    got.lock()
                        .unwrap()
                        .push((head, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                    Ok::<_, Infallible>(
                        Response::builder()
                            .status(StatusCode::OK)
                            .body(Full::new(Bytes::from_static(b"{}")))
                            .unwrap(),
                    )
                }
            },
        );
        addr
    }
}

fn now_iso(offset_secs: i64) -> String {
    tradewind_core::data::time::format_iso8601(
        tradewind_ledger::accounts::now_nanos() + offset_secs * 1_000_000_000,
    )
}

fn fills(worker: &Proc) -> Vec<Value> {
    worker
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "Fill")
        .collect()
}

fn side(fill: &Value) -> String {
    fill["side"].as_str().unwrap_or("").to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_signal_is_acted_on_once_by_a_paper_worker_and_never_again_after_a_restart() {
    let dir = scratch("signals");
    let db = format!("sqlite:{}", dir.join("ledger.db").display());
    let ledger = tradewind_ledger::Ledger::open(&db).await.unwrap();
    ledger.create_account(ACCOUNT, "Acme").await.unwrap();
    ledger.create_account("globex", "Globex").await.unwrap();
    drop(ledger);

    // The cluster: the CRDs, the bot and its Strategy, the worker's ServiceAccount.
    let k8s = tradewind_apiserver::TestServer::start().expect("API server");
    let admin = Client::try_from(kube::Config::new(k8s.url().parse().unwrap())).unwrap();
    for (_, crd) in tradewind_crds::manifests::all() {
        Api::<CustomResourceDefinition>::all(admin.clone())
            .create(&PostParams::default(), &crd)
            .await
            .unwrap();
    }
    let meta = |name: &str| ObjectMeta {
        name: Some(name.into()),
        ..ObjectMeta::default()
    };
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: meta(NS),
                ..Namespace::default()
            },
        )
        .await
        .unwrap();
    let mut docs = MANIFESTS.split("\n---\n");
    let strategy: Strategy = serde_saphyr::from_str(docs.next().unwrap()).unwrap();
    let bot: TradingBot = serde_saphyr::from_str(docs.next().unwrap()).unwrap();
    Api::<Strategy>::namespaced(admin.clone(), NS)
        .create(&PostParams::default(), &strategy)
        .await
        .unwrap();
    Api::<TradingBot>::namespaced(admin.clone(), NS)
        .create(&PostParams::default(), &bot)
        .await
        .unwrap();
    let sa = tradewind_crds::contract::worker_service_account(BOT);
    Api::<ServiceAccount>::namespaced(admin.clone(), NS)
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: meta(&sa),
                ..ServiceAccount::default()
            },
        )
        .await
        .unwrap();
    let token_file = dir.join("platform-token");
    std::fs::write(
        &token_file,
        k8s.create_token(NS, &sa, &[tradewind_ingest::AUDIENCE], 3600)
            .unwrap(),
    )
    .unwrap();
    let kubeconfig = dir.join("kubeconfig");
    k8s.write_kubeconfig(&kubeconfig).unwrap();

    // The platform, with notifications on.
    let notify_key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradewind-platform"));
    cmd.args(["--database-url", &db, "serve"])
        .args(["--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"])
        .args(["--tenancy", "shared", "--shared-namespace", NS])
        .args(["--notify-summary-delay", "0", "--notify-summary-every", "1"])
        .env("KUBECONFIG", &kubeconfig)
        .env("TRADEWIND_NOTIFY_KEY", &notify_key)
        .env("RUST_LOG", "info")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    let mut platform = Proc::spawn(cmd, &dir, "platform");
    let (ingest, api) = until(60, "the platform's ports", || {
        let log = platform.stderr() + &platform.stdout();
        Some((
            bound(&log, "serving the ingest")?,
            bound(&log, "serving the user API")?,
        ))
    })
    .await;
    let out = platform.stdout();
    let words: Vec<&str> = out
        .lines()
        .find(|l| l.contains("admin's API key"))
        .unwrap()
        .split_whitespace()
        .collect();
    let at = |w: &str| words[words.iter().position(|x| *x == w).unwrap() + 1].to_owned();
    let admin_key = Admin {
        api: api.clone(),
        id: at("id"),
        key: signing_key(&at("secret")),
    };

    // A webhook channel for the account (its fills and daily summary).
    let receiver = Receiver::default();
    let hook = receiver.start().await;
    let r = admin_key.send(
        "POST",
        &format!("/api/v1/accounts/{ACCOUNT}/notifications/channels"),
        Some(&json!({"name": "ops", "settings": {"type": "webhook", "url": format!("http://{hook}/tw")}})),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    // The bot's signal secret.
    let r = admin_key.send(
        "POST",
        &format!("/api/v1/accounts/{ACCOUNT}/bots/{BOT}/signal-secret"),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    let hook_path = format!("/api/v1/accounts/{ACCOUNT}/bots/{BOT}/signals");
    let post = |body: String, head: &[(&str, String)]| {
        let mut h = vec![("content-type", "text/plain; charset=utf-8".to_owned())];
        h.extend_from_slice(head);
        http(&api, "POST", &hook_path, &h, body.as_bytes())
    };

    // The worker: Paper on the mock's market data, fetching its signals.
    let binance = Binance::start_with(MockConfig {
        speed: Speed::Multiplier(1.0),
        ..MockConfig::default()
            .with_data(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../examples/data/binance_spot_btcusdt_l1_trades.jsonl"),
            )
            .unwrap()
    })
    .unwrap();
    let loaded = tradewind_crds::bundle::load(&[write(&dir, "bot.yaml", MANIFESTS)], None).unwrap();
    let mut config = serde_json::to_value(&loaded.config).unwrap();
    config["namespace"] = json!(NS);
    let config = write(&dir, "bot.json", &config.to_string());
    let worker = |n: usize| {
        let mut cmd = Command::new(sibling_bin("tradewind-bot"));
        cmd.arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--credentials-dir")
            .arg(dir.join("credentials"))
            .args(["--metrics-addr", "127.0.0.1:0", "--kubernetes", "off"])
            .args(["--binance-rest", &binance.rest_base()])
            .args(["--binance-ws", &binance.ws_base()])
            .args(["--platform-url", &format!("http://{ingest}")])
            .arg("--platform-token-file")
            .arg(&token_file)
            .env_remove("KUBECONFIG")
            // The session's per-bar debug line says a bar priced the strategy.
            .env("RUST_LOG", "info,tradewind_bot::run::session=debug");
        Proc::spawn(cmd, &dir, &format!("worker-{n}"))
    };
    let mut first = worker(1);
    until(60, "the worker's first bar", || {
        first.stderr().contains("decision").then_some(())
    })
    .await;

    // Enter: accepted (202), fetched, acted on once — one buy.
    let enter = format!("action=enter id=tv-1 time={} secret={secret}", now_iso(0));
    let r = post(enter.clone(), &[]);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        (r.json()["seq"].as_i64(), r.json()["action"].as_str()),
        (Some(1), Some("enter"))
    );
    let buy = until(60, "the signal's fill", || {
        let f = fills(&first);
        (!f.is_empty()).then_some(f)
    })
    .await;
    assert_eq!(side(&buy[0]), "buy", "{buy:?}");
    until(30, "the signal delivered", || {
        let r = admin_key.send("GET", &hook_path, None);
        (r.json()[0]["status"] == "delivered").then_some(())
    })
    .await;

    // A repeat answers with the first result and changes nothing.
    let r = post(enter, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["seq"], 1);
    // Refusals: problem documents naming the reason; nothing stored.
    let wrong = post(
        format!(
            "action=exit id=tv-x time={} secret=not-the-secret",
            now_iso(0)
        ),
        &[],
    );
    let stale = post(
        format!(
            "action=exit id=tv-old time={} secret={secret}",
            now_iso(-3600)
        ),
        &[],
    );
    let foreign = http(
        &api,
        "POST",
        &format!("/api/v1/accounts/globex/bots/{BOT}/signals"),
        &[("content-type", "text/plain".into())],
        format!("action=exit id=tv-g time={} secret={secret}", now_iso(0)).as_bytes(),
    );
    for (what, r, status) in [
        ("wrong secret", &wrong, 401),
        ("too old", &stale, 422),
        ("another account's bot", &foreign, 401),
    ] {
        assert_eq!(r.status, status, "{what}: {}", r.body);
        assert!(
            r.content_type.starts_with("application/problem+json"),
            "{what}: {}",
            r.content_type
        );
        assert!(!r.body.contains(&secret), "{what}: {}", r.body);
    }
    assert_eq!(
        stale.json()["errors"][0]["field"]
            .as_str()
            .or(stale.json()["field"].as_str()),
        Some("time"),
        "{}",
        stale.body
    );
    let listed = admin_key.send("GET", &hook_path, None).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    // Restarted, the worker journaled tv-1: it does not act on it again. The next
    // signal (signed, as a program would send it) is the only one it acts on.
    assert!(first.stop().success(), "{}", first.stderr());
    assert_eq!(fills(&first).len(), 1);
    let mut second = worker(2);
    until(60, "the restarted worker's first bar", || {
        second.stderr().contains("decision").then_some(())
    })
    .await;
    let exit = format!(r#"{{"id":"tv-2","action":"sell","time":"{}"}}"#, now_iso(0));
    let r = post(
        exit.clone(),
        &[("X-Tradewind-Signature", sign(&signing_key(&secret), &exit))],
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let sell = until(60, "the exit's fill", || {
        let f = fills(&second);
        (!f.is_empty()).then_some(f)
    })
    .await;
    assert_eq!(sell.len(), 1, "{sell:?}");
    assert_eq!(side(&sell[0]), "sell");
    assert!(second.stop().success(), "{}", second.stderr());
    assert_eq!(fills(&second).len(), 1, "tv-1 was not acted on again");

    // The fills and the daily summary reached the channel through serve's dispatcher.
    // Each delivery is signed and carries its idempotency key; a receiver that keeps the
    // keys acts on each event once (a delivery whose mark failed is sent again under the
    // same key: the dispatcher is at least once).
    let deliveries = || {
        let mut by_key: BTreeMap<String, Value> = BTreeMap::new();
        for (h, body) in receiver.0.lock().unwrap().iter() {
            assert!(h.contains_key("tradewind-signature"), "{h:?}");
            let key = h["idempotency-key"].clone();
            if let Some(first) = by_key.insert(key, body.clone()) {
                assert_eq!(
                    (&first["delivery"], &first["event"]),
                    (&body["delivery"], &body["event"])
                );
            }
        }
        by_key
    };
    let kinds = |d: &BTreeMap<String, Value>| {
        let mut k: Vec<String> = d
            .values()
            .map(|b| b["kind"].as_str().unwrap_or("").to_owned())
            .collect();
        k.sort();
        k
    };
    until(60, "two fills and a daily summary at the webhook", || {
        (kinds(&deliveries()) == ["dailySummary", "fill", "fill"]).then_some(())
    })
    .await;
    let summary = deliveries()
        .into_values()
        .find(|b| b["kind"] == "dailySummary")
        .unwrap();
    assert_eq!(summary["account"], ACCOUNT);
    assert!(
        summary["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{NS}/{BOT}: ")),
        "{summary}"
    );

    // No secret in any log.
    assert!(platform.stop().success(), "{}", platform.stderr());
    for (name, log) in [
        ("platform", platform.stderr() + &platform.stdout()),
        ("worker 1", first.stderr()),
        ("worker 2", second.stderr()),
    ] {
        assert!(
            !log.contains(&secret),
            "{name}'s log holds the signal secret"
        );
        assert!(
            !log.contains(&notify_key),
            "{name}'s log holds the notification key"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
