//! Notifications end to end against local servers: events recorded into a real ledger
//! (SQLite) enqueue their deliveries in the same transaction; the dispatcher sends them to
//! an in-process webhook receiver (which checks the signature and deduplicates by the
//! idempotency key), an in-process Telegram Bot API stand-in, and a real SMTP server
//! (aiosmtpd, STARTTLS and AUTH required) started once for this test binary.
//!
//! The dispatcher is driven tick by tick with explicit instants (`run_once(now)`), so
//! backoff, leases and dead-lettering are tested without sleeping.

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use tokio::sync::{mpsc, oneshot};
use tradewind_events::{Body, Event, Fill, HaltCause, Liquidity, Side};
use tradewind_ledger::notify::Channel;
use tradewind_ledger::{BotRecord, Ledger};
use tradewind_notify::dispatch::{DispatchConfig, Dispatcher};
use tradewind_notify::send::{SendConfig, Senders};
use tradewind_notify::{Kind, Mode, RetryPolicy, Rules, Sealer, Security, Settings};

const SECOND: i64 = 1_000_000_000;
const TELEGRAM_TOKEN: &str = "123456:TELEGRAM-SECRET-TOKEN";
const SMTP_LOGIN: &str = "bots";
const SMTP_PASSWORD: &str = "SMTP-SECRET-PASSWORD";

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "tradewind-notify-{}-{}",
        std::process::id(),
        tradewind_ledger::accounts::now_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

// ---------------------------------------------------------------------------------------
// The SMTP server: aiosmtpd in the test venv, one process for the binary.

/// A Python with aiosmtpd: `$TRADEWIND_PYTHON`, the project venv, or `python3`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TRADEWIND_PYTHON") {
        return p.into();
    }
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/tradewind-venv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

struct Smtp {
    port: u16,
    /// The CA the client trusts: the server's self-signed certificate (DER).
    cert_der: Vec<u8>,
    messages: tokio::sync::Mutex<mpsc::UnboundedReceiver<serde_json::Value>>,
    _child: Child,
    _dir: Scratch,
}

fn start_smtp() -> Smtp {
    let dir = scratch();
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    let der = dir.0.join("cert.der");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (tools/prereqs.sh installs it)");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .arg("-out")
        .arg(&der)
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg(&cert)
        .arg(&key)
        .args([SMTP_LOGIN, SMTP_PASSWORD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with aiosmtpd (pip install -r requirements-test.txt)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Blocks until the server accepts connections (it prints READY then).
    let ready = lines
        .next()
        .expect("the SMTP server ended before it was ready (is aiosmtpd installed? pip install -r requirements-test.txt)")
        .unwrap();
    let port: u16 = ready
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("the SMTP server said {ready:?}"))
        .parse()
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                break;
            }
        }
    });
    Smtp {
        port,
        cert_der: std::fs::read(&der).unwrap(),
        messages: tokio::sync::Mutex::new(rx),
        _child: child,
        _dir: dir,
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        // Closing its stdin ends the server.
        drop(self._child.stdin.take());
        let _ = self._child.wait();
    }
}

impl Smtp {
    /// Every message received so far.
    fn drain(&self) -> Vec<serde_json::Value> {
        let mut rx = self.messages.try_lock().unwrap();
        let mut out = Vec::new();
        while let Ok(m) = rx.try_recv() {
            out.push(m);
        }
        out
    }

    /// The next message (the dispatcher has reported it delivered, so the server has
    /// answered 250 to it and prints it).
    async fn next(&self) -> serde_json::Value {
        self.messages
            .lock()
            .await
            .recv()
            .await
            .expect("the SMTP server is gone")
    }
}

// ---------------------------------------------------------------------------------------
// In-process HTTP servers: the webhook receiver and the Telegram stand-in.

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// What an HTTP stand-in does with a request: answer, or hold it (never answer) and
/// report it, as a receiver stuck while the dispatcher dies.
#[derive(Default)]
struct Script {
    /// Requests to hold, by order of arrival (0-based).
    hold: HashSet<usize>,
    held: Option<oneshot::Sender<()>>,
}

#[derive(Clone, Default)]
struct Stand {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
}

async fn serve_stand(stand: Stand, answer: fn(&Received) -> (StatusCode, String)) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tradewind_http::serve_connections(
        listener,
        tradewind_http::Limits::default(),
        move |req: Request<hyper::body::Incoming>| {
            let stand = stand.clone();
            async move {
                let path = req.uri().path().to_owned();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                let r = Received {
                    path,
                    headers,
                    body,
                };
                let hold = {
                    let mut got = stand.received.lock().unwrap();
                    got.push(r.clone());
                    let n = got.len() - 1;
                    let mut s = stand.script.lock().unwrap();
                    let hold = s.hold.contains(&n);
                    if hold && let Some(tx) = s.held.take() {
                        let _ = tx.send(());
                    }
                    hold
                };
                if hold {
                    std::future::pending::<()>().await;
                }
                let (status, text) = answer(&r);
                Ok::<_, Infallible>(
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(text)))
                        .unwrap(),
                )
            }
        },
    );
    addr
}

fn webhook_answer(_: &Received) -> (StatusCode, String) {
    (StatusCode::OK, "{}".into())
}

fn telegram_answer(r: &Received) -> (StatusCode, String) {
    if r.path != format!("/bot{TELEGRAM_TOKEN}/sendMessage") {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#.into(),
        );
    }
    (
        StatusCode::OK,
        r#"{"ok":true,"result":{"message_id":1}}"#.into(),
    )
}

/// A webhook receiver's check: the signature over the body with the channel's secret.
fn signed(r: &Received, secret: &str) -> bool {
    let now = tradewind_notify::dispatch::now_nanos() / SECOND;
    r.headers
        .get(tradewind_notify::SIGNATURE_HEADER)
        .is_some_and(|h| tradewind_notify::verify(secret, h, &r.body, now, 300))
}

// ---------------------------------------------------------------------------------------
// Fixtures.

struct World {
    ledger: Ledger,
    sealer: Arc<Sealer>,
    smtp: Smtp,
    telegram: Stand,
    telegram_url: String,
    _dir: Scratch,
    log: Arc<Mutex<Vec<u8>>>,
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl World {
    fn dispatcher(&self, max_attempts: u32) -> Dispatcher<Ledger> {
        let senders = Senders::new(SendConfig {
            telegram_api: self.telegram_url.clone(),
            timeout: std::time::Duration::from_secs(20),
            smtp_extra_roots: vec![self.smtp.cert_der.clone()],
            ..SendConfig::default()
        })
        .unwrap();
        Dispatcher::new(
            Arc::new(self.ledger.clone()),
            senders,
            self.sealer.clone(),
            DispatchConfig {
                lease: std::time::Duration::from_secs(60),
                batch: 100,
                retry: RetryPolicy {
                    base: 10 * SECOND,
                    cap: 60 * SECOND,
                    max_attempts,
                },
                poll: std::time::Duration::from_secs(1),
            },
        )
    }

    async fn account(&self, id: &str) {
        self.ledger.create_account(id, id).await.unwrap();
    }

    async fn channel(
        &self,
        account: &str,
        settings: Settings,
        secret: &str,
        rules: Rules,
    ) -> String {
        let id = tradewind_notify::new_channel_id();
        self.ledger
            .create_channel(&Channel {
                id: id.clone(),
                account: account.into(),
                name: format!("{:?}", settings.kind()),
                sealed_secret: self.sealer.seal(&id, secret),
                settings,
                rules,
                created_at: tradewind_ledger::accounts::now_nanos(),
            })
            .await
            .unwrap();
        id
    }

    fn email(&self) -> Settings {
        Settings::Email {
            host: "127.0.0.1".into(),
            port: self.smtp.port,
            security: Security::Starttls,
            username: Some(SMTP_LOGIN.into()),
            from: "bots@tradewind.test".into(),
            to: vec!["owner@tradewind.test".into()],
        }
    }

    async fn record(&self, account: &str, events: &[Event]) {
        let bot = BotRecord {
            bot: events[0].bot.clone(),
            account: account.into(),
            plan: None,
            quote_currency: "USDT".into(),
            strategy: None,
        };
        self.ledger.record_events(&bot, events).await.unwrap();
    }
}

fn fill(bot: &str, seq: u64) -> Event {
    Event::new(
        bot,
        "2026-11-25T10:00:00Z",
        seq,
        "2026-11-25T10:03:00Z".into(),
        Body::Fill(Fill {
            order_id: 7,
            side: Side::Buy,
            price: "87232.01".into(),
            quantity: "0.00123".into(),
            fee: "0.107".into(),
            liquidity: Liquidity::Taker,
        }),
    )
}

fn telegram_settings() -> Settings {
    Settings::Telegram {
        chat_id: "4242".into(),
    }
}

fn webhook(addr: SocketAddr) -> Settings {
    Settings::Webhook {
        url: format!("http://{addr}/hooks/tradewind"),
    }
}

async fn statuses(ledger: &Ledger, account: &str) -> BTreeMap<String, (String, i64)> {
    ledger
        .deliveries(account, None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.channel_id, (d.status, d.attempts)))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The cases, one test so that the SMTP server is started once.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_delivered_once_per_event_and_channel() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let writer = LogWriter(log.clone());
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .init();
    let dir = scratch();
    let ledger = Ledger::open(&format!("sqlite:{}", dir.0.join("ledger.db").display()))
        .await
        .unwrap();
    let mut key = [0u8; 32];
    tradewind_notify::random_fill(&mut key);
    let telegram = Stand::default();
    let telegram_addr = serve_stand(telegram.clone(), telegram_answer).await;
    let world = World {
        ledger,
        sealer: Arc::new(Sealer::from_base64(&b64(&key)).unwrap()),
        smtp: start_smtp(),
        telegram,
        telegram_url: format!("http://{telegram_addr}"),
        _dir: dir,
        log,
    };
    each_channel_receives_a_fill_once(&world).await;
    on_silent_and_off_are_honoured(&world).await;
    a_down_webhook_backs_off_and_dead_letters_while_the_others_deliver(&world).await;
    a_crash_between_send_and_mark_is_deduplicated_by_the_idempotency_key(&world).await;
    let log = String::from_utf8(world.log.lock().unwrap().clone()).unwrap();
    assert!(log.contains("notification delivered"), "{log}");
    for secret in [TELEGRAM_TOKEN, SMTP_PASSWORD, "whsec_"] {
        assert!(
            !log.contains(secret),
            "a secret in the log: {secret}\n{log}"
        );
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn each_channel_receives_a_fill_once(w: &World) {
    w.account("once").await;
    let hooks = Stand::default();
    let addr = serve_stand(hooks.clone(), webhook_answer).await;
    let secret = tradewind_notify::new_secret();
    let hook = w
        .channel("once", webhook(addr), &secret, Rules::default())
        .await;
    let tg = w
        .channel(
            "once",
            telegram_settings(),
            TELEGRAM_TOKEN,
            Rules::default(),
        )
        .await;
    let mail = w
        .channel("once", w.email(), SMTP_PASSWORD, Rules::default())
        .await;
    let events = [fill("trading/once", 0)];
    w.record("once", &events).await;
    // The batch again (a worker's retry): nothing new to deliver.
    w.record("once", &events).await;
    let d = w.dispatcher(3);
    let now = tradewind_notify::dispatch::now_nanos();
    assert_eq!(d.run_once(now).await.unwrap(), 3);
    assert_eq!(d.run_once(now + 3600 * SECOND).await.unwrap(), 0);

    let got = hooks.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(signed(&got[0], &secret), "the webhook's signature verifies");
    assert!(!signed(&got[0], "whsec_other"));
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["kind"], "fill");
    assert_eq!(body["event"], events[0].id);
    assert_eq!(body["silent"], false);
    assert_eq!(body["title"], "trading/once: buy 0.00123 @ 87232.01");
    let key = tradewind_notify::delivery_id(&events[0].id, &hook);
    assert_eq!(got[0].headers["idempotency-key"], key);
    assert_eq!(body["delivery"], key);

    let tg_got: Vec<Received> = w.telegram.received.lock().unwrap().drain(..).collect();
    assert_eq!(tg_got.len(), 1, "{tg_got:?}");
    let msg: serde_json::Value = serde_json::from_slice(&tg_got[0].body).unwrap();
    assert_eq!(msg["chat_id"], "4242");
    assert_eq!(msg["disable_notification"], false);
    assert!(
        msg["text"]
            .as_str()
            .unwrap()
            .starts_with("trading/once: buy 0.00123 @ 87232.01\n")
    );

    let m = w.smtp.next().await;
    assert!(w.smtp.drain().is_empty(), "one mail");
    assert_eq!(m["to"][0], "owner@tradewind.test");
    assert_eq!(m["login"], SMTP_LOGIN, "logged in (after STARTTLS)");
    let data = m["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: trading/once: buy 0.00123 @ 87232.01"),
        "{data}"
    );
    assert!(data.contains(&format!(
        "Message-ID: <{}@tradewind>",
        tradewind_notify::delivery_id(&events[0].id, &mail)
    )));
    assert!(!data.contains("X-Priority"));

    let s = statuses(&w.ledger, "once").await;
    for c in [&hook, &tg, &mail] {
        assert_eq!(s[c], ("delivered".to_string(), 1), "{c}");
    }
}

async fn on_silent_and_off_are_honoured(w: &World) {
    w.account("modes").await;
    let hooks = Stand::default();
    let addr = serve_stand(hooks.clone(), webhook_answer).await;
    let silent = Rules([(Kind::Fill, Mode::Silent)].into());
    let off = Rules([(Kind::Fill, Mode::Off)].into());
    let hook = w
        .channel("modes", webhook(addr), "whsec_modes", off.clone())
        .await;
    let tg = w
        .channel("modes", telegram_settings(), TELEGRAM_TOKEN, silent.clone())
        .await;
    let mail = w.channel("modes", w.email(), SMTP_PASSWORD, silent).await;
    let halted = Event::new(
        "trading/modes",
        "2026-11-25T10:00:00Z",
        1,
        "2026-11-25T10:05:00Z".into(),
        Body::Halted {
            cause: HaltCause::MaxDrawdown,
            message: "drawdown 21% over the 20% limit".into(),
        },
    );
    w.record("modes", &[fill("trading/modes", 0), halted.clone()])
        .await;
    // A halt is no kind the ledger keeps; recorded again, it still notifies once.
    w.record("modes", std::slice::from_ref(&halted)).await;
    let d = w.dispatcher(3);
    let now = tradewind_notify::dispatch::now_nanos();
    // Fill: telegram and mail (silent), not the webhook. Halt: all three, with alerts.
    assert_eq!(d.run_once(now).await.unwrap(), 5);

    let hooks_got = hooks.received.lock().unwrap().clone();
    assert_eq!(hooks_got.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&hooks_got[0].body).unwrap();
    assert_eq!(body["kind"], "botHalted");
    assert!(signed(&hooks_got[0], "whsec_modes"));

    let mut tg_got: Vec<serde_json::Value> = w
        .telegram
        .received
        .lock()
        .unwrap()
        .drain(..)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    tg_got.sort_by_key(|m| m["text"].as_str().unwrap().to_owned());
    assert_eq!(tg_got.len(), 2, "{tg_got:?}");
    assert!(
        tg_got[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("trading/modes: buy")
    );
    assert_eq!(tg_got[0]["disable_notification"], true, "fills are silent");
    assert!(
        tg_got[1]["text"]
            .as_str()
            .unwrap()
            .starts_with("trading/modes: trading halted\ndrawdown 21%")
    );
    assert_eq!(tg_got[1]["disable_notification"], false);

    let mut mails = [w.smtp.next().await, w.smtp.next().await];
    assert!(w.smtp.drain().is_empty());
    mails.sort_by_key(|m| m["data"].as_str().unwrap().contains("halted"));
    assert!(
        mails[0]["data"].as_str().unwrap().contains("X-Priority: 5"),
        "the silent fill is a low-priority mail"
    );
    assert!(!mails[1]["data"].as_str().unwrap().contains("X-Priority"));

    let all = w.ledger.deliveries("modes", None, None, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|d| d.status == "delivered"));
    assert_eq!(all.iter().filter(|d| d.channel_id == hook).count(), 1);
    assert_eq!(
        all.iter()
            .filter(|d| d.channel_id == tg && d.silent)
            .count(),
        1
    );
    assert_eq!(
        all.iter()
            .filter(|d| d.channel_id == mail && d.silent)
            .count(),
        1
    );
}

async fn a_down_webhook_backs_off_and_dead_letters_while_the_others_deliver(w: &World) {
    w.account("down").await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let hook = w
        .channel("down", webhook(closed), "whsec_down", Rules::default())
        .await;
    let tg = w
        .channel(
            "down",
            telegram_settings(),
            TELEGRAM_TOKEN,
            Rules::default(),
        )
        .await;
    let mail = w
        .channel("down", w.email(), SMTP_PASSWORD, Rules::default())
        .await;
    w.record("down", &[fill("trading/down", 0)]).await;
    let d = w.dispatcher(3);
    let t0 = tradewind_notify::dispatch::now_nanos();
    assert_eq!(d.run_once(t0).await.unwrap(), 3);
    // Telegram and mail delivered in the same round the webhook failed.
    assert_eq!(w.telegram.received.lock().unwrap().drain(..).count(), 1);
    w.smtp.next().await;
    let s = statuses(&w.ledger, "down").await;
    assert_eq!(s[&tg].0, "delivered");
    assert_eq!(s[&mail].0, "delivered");
    assert_eq!(s[&hook], ("pending".to_string(), 1));
    let first = w
        .ledger
        .deliveries("down", Some("pending"), None, 10)
        .await
        .unwrap();
    // Backoff: 10 s doubling, half of it jittered: the 2nd attempt 5..10 s later.
    let wait = first[0].next_attempt_at - t0;
    assert!((5 * SECOND..=10 * SECOND).contains(&wait), "{wait}");
    assert!(
        first[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("webhook: "),
        "{:?}",
        first[0].last_error
    );
    // Not due yet: nothing is claimed.
    assert_eq!(d.run_once(t0 + 4 * SECOND).await.unwrap(), 0);
    assert_eq!(d.run_once(t0 + 10 * SECOND).await.unwrap(), 1);
    let second = w
        .ledger
        .delivery("down", &first[0].id)
        .await
        .unwrap()
        .unwrap();
    let wait = second.next_attempt_at - (t0 + 10 * SECOND);
    assert!((10 * SECOND..=20 * SECOND).contains(&wait), "{wait}");
    assert_eq!(d.run_once(t0 + 30 * SECOND).await.unwrap(), 1);
    let dead = w
        .ledger
        .deliveries("down", Some("dead"), None, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "dead-lettered after 3 attempts");
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(
        d.run_once(t0 + 3600 * SECOND).await.unwrap(),
        0,
        "a dead letter is not retried by itself"
    );
    // By hand (the API's retry): due again, attempts from zero.
    assert!(w.ledger.retry_delivery("down", &dead[0].id).await.unwrap());
    assert!(
        !w.ledger.retry_delivery("other", &dead[0].id).await.unwrap(),
        "another account's"
    );
    assert_eq!(
        statuses(&w.ledger, "down").await[&hook],
        ("pending".to_string(), 0)
    );
    // Deleting the channel cancels it.
    assert!(w.ledger.delete_channel("down", &hook).await.unwrap());
    assert_eq!(statuses(&w.ledger, "down").await[&hook].0, "canceled");
    assert_eq!(
        d.run_once(tradewind_notify::dispatch::now_nanos())
            .await
            .unwrap(),
        0
    );
}

async fn a_crash_between_send_and_mark_is_deduplicated_by_the_idempotency_key(w: &World) {
    w.account("crash").await;
    let hooks = Stand::default();
    let (held_tx, held_rx) = oneshot::channel();
    {
        let mut s = hooks.script.lock().unwrap();
        s.hold.insert(0);
        s.held = Some(held_tx);
    }
    let addr = serve_stand(hooks.clone(), webhook_answer).await;
    let hook = w
        .channel("crash", webhook(addr), "whsec_crash", Rules::default())
        .await;
    w.record("crash", &[fill("trading/crash", 0)]).await;
    let d = Arc::new(w.dispatcher(5));
    let t0 = tradewind_notify::dispatch::now_nanos();
    let run = tokio::spawn({
        let d = d.clone();
        async move { d.run_once(t0).await }
    });
    // The receiver has the request; the dispatcher dies before it hears the answer.
    held_rx.await.unwrap();
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    assert_eq!(
        statuses(&w.ledger, "crash").await[&hook],
        ("sending".to_string(), 1)
    );
    // Another dispatcher: nothing while the claim's lease runs, then the same delivery.
    let d2 = w.dispatcher(5);
    assert_eq!(d2.run_once(t0 + 30 * SECOND).await.unwrap(), 0);
    assert_eq!(d2.run_once(t0 + 61 * SECOND).await.unwrap(), 1);
    assert_eq!(
        statuses(&w.ledger, "crash").await[&hook],
        ("delivered".to_string(), 2)
    );
    let got = hooks.received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "delivered at most twice to the receiver");
    let keys: HashSet<&str> = got
        .iter()
        .map(|r| r.headers["idempotency-key"].as_str())
        .collect();
    assert_eq!(
        keys.len(),
        1,
        "one idempotency key: the receiver keeps one notification"
    );
    assert!(got.iter().all(|r| signed(r, "whsec_crash")));
    assert_eq!(got[0].body, got[1].body, "the same notification");
}
