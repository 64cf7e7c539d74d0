//! The API over HTTP against a real ledger (SQLite), the local Kubernetes API server
//! (`tradewind-apiserver`, with the CRDs and their CEL rules) and an OIDC issuer served
//! in-process (a JWKS of P-256 keys; tokens signed with them).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api as KubeApi, PostParams};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tradewind_api::auth::{Level, OidcConfig, headers, sign, string_to_sign};
use tradewind_api::limit::Rate;
use tradewind_api::{Api, Config, Tenancy};
use tradewind_apiserver::TestServer;
use tradewind_crds::{TradingBot, manifests};
use tradewind_events::{Body, Event, Fill, Liquidity, Performance, Side};
use tradewind_ledger::accounts::Role;
use tradewind_ledger::{BotRecord, Ledger};

const AUDIENCE: &str = "tradewind-api";

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An OIDC issuer: a JWKS served over HTTP, and the keys to sign tokens with; and the
/// authorization-code flow with PKCE (S256) for the dashboard's sign-in: discovery,
/// `/authorize` (signs in whoever `login_as` names, at once) and `/token`.
struct Issuer {
    url: String,
    jwks: Arc<Mutex<Vec<Value>>>,
    keys: Keys,
    _login_as: Arc<std::sync::Mutex<String>>,
    _task: tokio::task::JoinHandle<()>,
}

type Keys = Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// A code the issuer handed out: `(subject, challenge, redirect_uri, client_id)`.
type Codes =
    Arc<std::sync::Mutex<std::collections::HashMap<String, (String, String, String, String)>>>;

fn sign_es256(keys: &Keys, kid: &str, claims: Value) -> String {
    let keys = keys.lock().unwrap();
    let (_, der) = keys.iter().find(|(k, _)| k == kid).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_der(der),
    )
    .unwrap()
}

/// The dashboard's OIDC client at the test issuer.
const CLIENT_ID: &str = "tradewind-dashboard";

impl Issuer {
    async fn start() -> Issuer {
        let jwks: Arc<Mutex<Vec<Value>>> = Arc::default();
        let served = jwks.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let keys: Keys = Arc::default();
        let login_as = Arc::new(std::sync::Mutex::new("alice".to_owned()));
        let codes: Codes = Arc::default();
        let discovery = json!({
            "issuer": url,
            "jwks_uri": format!("{url}/jwks"),
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "code_challenge_methods_supported": ["S256"],
        });
        let authorize = {
            let (codes, login_as) = (codes.clone(), login_as.clone());
            move |axum::extract::Query(q): axum::extract::Query<
                std::collections::HashMap<String, String>,
            >| {
                let (codes, login_as) = (codes.clone(), login_as.clone());
                async move {
                    assert_eq!(q["response_type"], "code");
                    assert_eq!(q["code_challenge_method"], "S256");
                    let code = format!("code-{}", codes.lock().unwrap().len());
                    codes.lock().unwrap().insert(
                        code.clone(),
                        (
                            login_as.lock().unwrap().clone(),
                            q["code_challenge"].clone(),
                            q["redirect_uri"].clone(),
                            q["client_id"].clone(),
                        ),
                    );
                    let to = format!(
                        "{}?{}",
                        q["redirect_uri"],
                        serde_urlencoded::to_string([
                            ("code", code.as_str()),
                            ("state", q["state"].as_str())
                        ])
                        .unwrap()
                    );
                    axum::response::Redirect::to(&to)
                }
            }
        };
        let token = {
            let (codes, keys, url) = (codes.clone(), keys.clone(), url.clone());
            move |axum::Form(f): axum::Form<std::collections::HashMap<String, String>>| {
                let (codes, keys, url) = (codes.clone(), keys.clone(), url.clone());
                async move {
                    use axum::response::IntoResponse;
                    let refuse = |why: &str| {
                        (
                            axum::http::StatusCode::BAD_REQUEST,
                            axum::Json(json!({"error": "invalid_grant", "error_description": why})),
                        )
                            .into_response()
                    };
                    // A code is used once.
                    let Some((subject, challenge, redirect, client)) = codes
                        .lock()
                        .unwrap()
                        .remove(f.get("code").map(String::as_str).unwrap_or(""))
                    else {
                        return refuse("unknown code");
                    };
                    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                    let s256 = b64(ring::digest::digest(
                        &ring::digest::SHA256,
                        verifier.as_bytes(),
                    )
                    .as_ref());
                    if s256 != challenge {
                        return refuse("code_verifier does not match the challenge");
                    }
                    if f.get("redirect_uri") != Some(&redirect)
                        || f.get("client_id") != Some(&client)
                        || f.get("grant_type").map(String::as_str) != Some("authorization_code")
                    {
                        return refuse("redirect_uri, client_id or grant_type differ");
                    }
                    let token = sign_es256(
                        &keys,
                        "k1",
                        json!({"iss": url, "aud": AUDIENCE, "sub": subject, "exp": now_secs() + 600, "iat": now_secs()}),
                    );
                    axum::Json(
                        json!({"access_token": token, "token_type": "Bearer", "expires_in": 600}),
                    )
                    .into_response()
                }
            }
        };
        let router = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(move || {
                    let served = served.clone();
                    async move { axum::Json(json!({ "keys": *served.lock().await })) }
                }),
            )
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let d = discovery.clone();
                    async move { axum::Json(d) }
                }),
            )
            .route("/authorize", axum::routing::get(authorize))
            .route("/token", axum::routing::post(token));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        let issuer = Issuer {
            url,
            jwks,
            keys,
            _login_as: login_as,
            _task: task,
        };
        issuer.add_key("k1", true).await;
        issuer
    }

    /// A new P-256 key; `publish`: in the JWKS (else a key the issuer does not own).
    async fn add_key(&self, kid: &str, publish: bool) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let public = pair.public_key().as_ref();
        if publish {
            self.jwks.lock().await.push(json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                "x": b64(&public[1..33]), "y": b64(&public[33..65]),
            }));
        }
        self.keys
            .lock()
            .unwrap()
            .push((kid.into(), pkcs8.as_ref().to_vec()));
    }

    fn sign_with(&self, kid: &str, claims: Value) -> String {
        sign_es256(&self.keys, kid, claims)
    }

    /// A valid token for `subject`.
    fn token(&self, subject: &str) -> String {
        self.sign_with(
            "k1",
            json!({"iss": self.url, "aud": AUDIENCE, "sub": subject, "exp": now_secs() + 600, "iat": now_secs()}),
        )
    }
}

/// An answer.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Resp {
    /// Asserts a problem document with `status` naming `field`.
    #[track_caller]
    fn refused(&self, status: u16, field: Option<&str>) {
        assert_eq!(
            (self.status, self.json()["field"].as_str()),
            (status, field),
            "{}",
            self.text
        );
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    fn detail(&self) -> String {
        self.json()["detail"].as_str().unwrap_or("").to_owned()
    }
}

/// How a request authenticates.
#[derive(Clone, Debug)]
enum Auth {
    None,
    Bearer(String),
    /// `(id, secret)`.
    Key(String, String),
}

struct Fixture {
    base: String,
    http: reqwest::Client,
    issuer: Issuer,
    ledger: Ledger,
    kube: Client,
    api: Arc<Api>,
    nonce: AtomicU64,
    _server: TestServer,
    _dir: TempDir,
    _task: tokio::task::JoinHandle<()>,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bot_spec(symbol: &str) -> Value {
    json!({
        "mode": "Paper",
        "strategyRef": {"name": "sma"},
        "venue": {"exchange": "Binance", "market": "Spot", "testnet": false},
        "symbols": [symbol],
        "capital": {"amount": "5000", "currency": "USDT"},
    })
}

fn event(bot: &str, seq: u64, ts: &str, body: Body) -> Event {
    Event::new(bot, "2026-11-01T00:00:00Z", seq, ts.into(), body)
}

fn equity(value: &str) -> Body {
    Body::EquitySnapshot(Performance {
        equity: value.into(),
        realized_pnl: "0".into(),
        unrealized_pnl: "0".into(),
        fees: "0".into(),
        drawdown_percent: "0".into(),
        bars: 0,
        orders: 0,
        fills: 0,
        rejected: 0,
        refused: 0,
        halted: None,
    })
}

fn fill(order_id: u64, price: &str) -> Body {
    Body::Fill(Fill {
        order_id,
        side: Side::Buy,
        price: price.into(),
        quantity: "0.01".into(),
        fee: "0.1".into(),
        liquidity: Liquidity::Taker,
    })
}

impl Fixture {
    async fn start(tweak: impl FnOnce(&mut Config)) -> Fixture {
        let dir =
            std::env::temp_dir().join(format!("tw-api-{}-{}", std::process::id(), now_secs()));
        std::fs::create_dir_all(&dir).unwrap();
        let ledger = Ledger::open(&format!("sqlite:{}", dir.join("ledger.db").display()))
            .await
            .unwrap();
        for (id, name) in [("acme", "Acme"), ("globex", "Globex")] {
            ledger.create_account(id, name).await.unwrap();
        }
        for (account, subject, role) in [
            ("acme", "alice", Role::Owner),
            ("acme", "tom", Role::Trader),
            ("acme", "vera", Role::Viewer),
            ("globex", "oscar", Role::Owner),
        ] {
            ledger.add_member(account, subject, role).await.unwrap();
        }
        ledger.add_admin("root").await.unwrap();
        // Each account's bot `base` in the ledger: equity over a day, and fills.
        for (account, start) in [("acme", 1000), ("globex", 500)] {
            let bot = format!("tw-{account}/base");
            let record = BotRecord {
                bot: bot.clone(),
                account: account.into(),
                plan: None,
                quote_currency: "USDT".into(),
                strategy: None,
            };
            let mut events = Vec::new();
            for (i, delta) in [0, 200, -100, 300].iter().enumerate() {
                let ts = format!("2026-11-02T{:02}:00:00Z", i);
                events.push(event(
                    &bot,
                    i as u64,
                    &ts,
                    equity(&(start + delta).to_string()),
                ));
            }
            for i in 0..5u64 {
                let ts = format!("2026-11-02T10:{:02}:00Z", i);
                events.push(event(&bot, 10 + i, &ts, fill(i, "87000")));
            }
            ledger.record_events(&record, &events).await.unwrap();
        }

        let server = TestServer::start().unwrap();
        let kube = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
        let crds: KubeApi<CustomResourceDefinition> = KubeApi::all(kube.clone());
        for (_, crd) in manifests::all() {
            crds.create(&PostParams::default(), &crd).await.unwrap();
        }
        let issuer = Issuer::start().await;
        let mut config = Config {
            oidc: Some(OidcConfig {
                issuer: issuer.url.clone(),
                audience: AUDIENCE.into(),
                jwks_url: Some(format!("{}/jwks", issuer.url)),
                leeway: Duration::from_secs(5),
                min_refresh: Duration::ZERO,
            }),
            tenancy: Tenancy::NamespacePerAccount {
                prefix: "tw-".into(),
            },
            per_address: Rate {
                per_second: 10_000,
                burst: 10_000,
            },
            per_caller: Rate {
                per_second: 10_000,
                burst: 10_000,
            },
            dashboard: tradewind_api::dashboard::DashboardConfig {
                client_id: Some(CLIENT_ID.into()),
                ..Default::default()
            },
            ..Config::default()
        };
        tweak(&mut config);
        let api = Arc::new(Api::new(ledger.clone(), kube.clone(), config).unwrap());
        let (addr, task) = tradewind_api::serve(
            "127.0.0.1:0".parse().unwrap(),
            api.clone(),
            tradewind_http::Limits::default(),
        )
        .await
        .unwrap();
        Fixture {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            issuer,
            ledger,
            kube,
            api,
            nonce: AtomicU64::new(0),
            _server: server,
            _dir: TempDir(dir),
            _task: task,
        }
    }

    fn user(&self, subject: &str) -> Auth {
        Auth::Bearer(self.issuer.token(subject))
    }

    fn nonce(&self) -> String {
        format!("nonce-{:08}", self.nonce.fetch_add(1, Ordering::Relaxed))
    }

    /// A request; a key signs it at `now + skew` seconds with `nonce` (a fresh one when
    /// `None`).
    async fn send_with(
        &self,
        auth: &Auth,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
        skew: i64,
        nonce: Option<&str>,
    ) -> Resp {
        let bytes = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let url = format!("{}{path_and_query}", self.base);
        let mut req = self
            .http
            .request(method.parse().unwrap(), &url)
            .body(bytes.clone());
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        match auth {
            Auth::None => {}
            Auth::Bearer(t) => req = req.header("authorization", format!("Bearer {t}")),
            Auth::Key(id, secret) => {
                let (path, query) = path_and_query
                    .split_once('?')
                    .unwrap_or((path_and_query, ""));
                let ts = (now_secs() + skew).to_string();
                let nonce = nonce.map(str::to_owned).unwrap_or_else(|| self.nonce());
                let msg = string_to_sign(&ts, &nonce, method, path, query, &bytes);
                let sig = sign(&tradewind_api::auth::signing_key(secret), &msg);
                req = req
                    .header(headers::KEY, id)
                    .header(headers::TIMESTAMP, ts)
                    .header(headers::NONCE, nonce)
                    .header(headers::SIGNATURE, sig);
            }
        }
        let r = req.send().await.unwrap();
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }

    async fn send(&self, auth: &Auth, method: &str, path: &str, body: Option<&Value>) -> Resp {
        self.send_with(auth, method, path, body, 0, None).await
    }

    /// Each account's bot `base` (and so its namespace), created through the API by its
    /// owner.
    async fn base_bots(&self) {
        for (owner, account) in [("alice", "acme"), ("oscar", "globex")] {
            let r = self
                .send(
                    &self.user(owner),
                    "POST",
                    &format!("/api/v1/accounts/{account}/bots"),
                    Some(&json!({"name": "base", "spec": bot_spec("BTCUSDT")})),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
    }

    /// A key of `account` at `scope`, created by its owner through the API.
    async fn key(&self, owner: &str, account: &str, scope: &str) -> Auth {
        let r = self
            .send(
                &self.user(owner),
                "POST",
                &format!("/api/v1/accounts/{account}/keys"),
                Some(&json!({"name": format!("{scope} key"), "scope": scope})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let v = r.json();
        Auth::Key(
            v["id"].as_str().unwrap().into(),
            v["secret"].as_str().unwrap().into(),
        )
    }
}

/// Runs the command `make` builds (off the async workers), asserts it succeeded and
/// returns its stdout.
async fn succeeds(make: impl FnOnce() -> std::process::Command + Send + 'static) -> String {
    let out = tokio::task::spawn_blocking(move || make().output())
        .await
        .unwrap()
        .expect("the command starts (make prereqs installs what tests run)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The designed answer: no access is 404, too low a level 403, else `ok`.
fn designed(have: Option<Level>, need: Level, ok: u16) -> u16 {
    match have {
        None => 404,
        Some(h) if h < need => 403,
        Some(_) => ok,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_every_role_and_scope_as_designed_for_its_own_and_another_account() {
    let f = Fixture::start(|_| {}).await;
    f.base_bots().await;
    let callers: Vec<(&str, Auth, Option<Level>, Option<Level>)> = vec![
        ("owner", f.user("alice"), Some(Level::Manage), None),
        ("trader", f.user("tom"), Some(Level::Trade), None),
        ("viewer", f.user("vera"), Some(Level::Read), None),
        (
            "admin",
            f.user("root"),
            Some(Level::Admin),
            Some(Level::Admin),
        ),
        (
            "key-read",
            f.key("alice", "acme", "read").await,
            Some(Level::Read),
            None,
        ),
        (
            "key-trade",
            f.key("alice", "acme", "trade").await,
            Some(Level::Trade),
            None,
        ),
        (
            "key-admin",
            f.key("alice", "acme", "admin").await,
            Some(Level::Manage),
            None,
        ),
    ];
    let spare_key = match f.key("oscar", "globex", "read").await {
        Auth::Key(id, _) => id,
        _ => unreachable!(),
    };
    let mut checked = 0;
    for (i, (who, auth, on_acme, on_globex)) in callers.iter().enumerate() {
        let me = f.send(auth, "GET", "/api/v1/me", None).await;
        assert_eq!(me.status, 200, "{who}: {}", me.text);
        for (account, other, have) in [("acme", "globex", *on_acme), ("globex", "acme", *on_globex)]
        {
            let a = format!("/api/v1/accounts/{account}");
            let spec = bot_spec("ETHUSDT");
            let mine = format!("m-{i}");
            let steps: Vec<(&str, String, Option<Value>, Level, u16)> = vec![
                ("GET", a.clone(), None, Level::Read, 200),
                ("GET", format!("{a}/members"), None, Level::Read, 200),
                (
                    "PUT",
                    format!("{a}/members/temp-{i}"),
                    Some(json!({"role": "viewer"})),
                    Level::Manage,
                    200,
                ),
                (
                    "DELETE",
                    format!("{a}/members/temp-{i}"),
                    None,
                    Level::Manage,
                    204,
                ),
                ("GET", format!("{a}/referrals"), None, Level::Read, 200),
                (
                    "PUT",
                    format!("{a}/referrer"),
                    Some(json!({"referrer": other})),
                    Level::Admin,
                    200,
                ),
                ("DELETE", format!("{a}/referrer"), None, Level::Admin, 204),
                ("GET", format!("{a}/statements"), None, Level::Read, 200),
                (
                    "GET",
                    format!("{a}/statements/plan/2026-11-01T00:00:00Z"),
                    None,
                    Level::Read,
                    404,
                ),
                ("GET", format!("{a}/payouts"), None, Level::Read, 200),
                (
                    "GET",
                    format!("{a}/payouts/plan/2026-11-01T00:00:00Z?format=csv"),
                    None,
                    Level::Read,
                    404,
                ),
                ("GET", format!("{a}/charges"), None, Level::Read, 200),
                (
                    "GET",
                    format!("{a}/fills?from=2026-11-01"),
                    None,
                    Level::Read,
                    200,
                ),
                (
                    "GET",
                    format!("{a}/orders?from=2026-11-01"),
                    None,
                    Level::Read,
                    200,
                ),
                (
                    "GET",
                    format!("{a}/performance?from=2026-11-01&to=2026-11-03"),
                    None,
                    Level::Read,
                    200,
                ),
                ("GET", format!("{a}/bots"), None, Level::Read, 200),
                (
                    "POST",
                    format!("{a}/bots"),
                    Some(json!({"name": mine, "spec": spec})),
                    Level::Trade,
                    201,
                ),
                ("GET", format!("{a}/bots/base"), None, Level::Read, 200),
                (
                    "PUT",
                    format!("{a}/bots/base"),
                    Some(json!({"spec": bot_spec("BTCUSDT")})),
                    Level::Trade,
                    200,
                ),
                (
                    "POST",
                    format!("{a}/bots/base/suspend"),
                    None,
                    Level::Trade,
                    200,
                ),
                (
                    "POST",
                    format!("{a}/bots/base/resume"),
                    None,
                    Level::Trade,
                    200,
                ),
                (
                    "GET",
                    format!("{a}/bots/base/performance?from=2026-11-01&to=2026-11-03"),
                    None,
                    Level::Read,
                    200,
                ),
                // Allowed: the bot this caller created; refused: the base bot, kept.
                (
                    "DELETE",
                    format!(
                        "{a}/bots/{}",
                        if have >= Some(Level::Trade) {
                            mine.clone()
                        } else {
                            "base".into()
                        }
                    ),
                    None,
                    Level::Trade,
                    204,
                ),
                ("GET", format!("{a}/strategies"), None, Level::Read, 200),
                ("GET", format!("{a}/keys"), None, Level::Manage, 200),
                (
                    "POST",
                    format!("{a}/keys"),
                    Some(json!({"name": "m", "scope": "read"})),
                    Level::Manage,
                    201,
                ),
            ];
            for (method, path, body, need, ok) in steps {
                let want = designed(have, need, ok);
                let r = f.send(auth, method, &path, body.as_ref()).await;
                assert_eq!(r.status, want, "{who} {method} {path}: {}", r.text);
                if r.status == 404 {
                    // Refused access reads as a missing account; an allowed read of a
                    // missing statement names the statement.
                    let d = r.detail();
                    let account_missing = d.contains("no account \"");
                    assert_eq!(
                        account_missing,
                        have.is_none(),
                        "{who} {method} {path}: {d}"
                    );
                }
                if r.status >= 400 {
                    assert_eq!(
                        r.headers["content-type"], "application/problem+json",
                        "{who} {method} {path}"
                    );
                }
                if method == "POST" && path.ends_with("/keys") {
                    // Revoke what was created, or try another account's key.
                    let id = if r.status == 201 {
                        r.json()["id"].as_str().unwrap().to_owned()
                    } else {
                        spare_key.clone()
                    };
                    let r = f
                        .send(auth, "DELETE", &format!("{a}/keys/{id}"), None)
                        .await;
                    let want = designed(have, Level::Manage, 204);
                    assert_eq!(r.status, want, "{who} DELETE keys/{id}: {}", r.text);
                    checked += 1;
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 7 * 2 * 27);
    // The base bots survived every refused delete.
    for account in ["acme", "globex"] {
        let bots: KubeApi<TradingBot> =
            KubeApi::namespaced(f.kube.clone(), &format!("tw-{account}"));
        assert!(bots.get_opt("base").await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_bad_input_are_refused_with_a_problem_and_change_nothing() {
    let f = Fixture::start(|_| {}).await;
    let iss = f.issuer.url.clone();
    let me = "/api/v1/me";
    let claims = |iss: &str, aud: &str, exp: i64| json!({"iss": iss, "aud": aud, "sub": "alice", "exp": exp, "iat": now_secs() - 700});
    let good = f.send(&f.user("alice"), "GET", me, None).await;
    assert_eq!(good.status, 200, "{}", good.text);
    assert_eq!(good.json()["accounts"][0]["role"], "owner");

    let cases: Vec<(&str, Auth, &str)> = vec![
        ("none", Auth::None, "send an OIDC bearer token"),
        (
            "expired",
            Auth::Bearer(
                f.issuer
                    .sign_with("k1", claims(&iss, AUDIENCE, now_secs() - 600)),
            ),
            "expired",
        ),
        (
            "foreign issuer",
            Auth::Bearer(f.issuer.sign_with(
                "k1",
                claims("https://evil.example", AUDIENCE, now_secs() + 600),
            )),
            "not issued by",
        ),
        (
            "wrong audience",
            Auth::Bearer(
                f.issuer
                    .sign_with("k1", claims(&iss, "someone-else", now_secs() + 600)),
            ),
            "not for audience",
        ),
        (
            "unsigned",
            Auth::Bearer(format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(claims(&iss, AUDIENCE, now_secs() + 600)
                    .to_string()
                    .as_bytes())
            )),
            "not a signed JWT",
        ),
        ("garbage", Auth::Bearer("x.y.z".into()), "not a signed JWT"),
    ];
    f.issuer.add_key("stranger", false).await;
    let stranger = Auth::Bearer(
        f.issuer
            .sign_with("stranger", claims(&iss, AUDIENCE, now_secs() + 600)),
    );
    for (name, auth, says) in cases.into_iter().chain([(
        "a key the issuer does not own",
        stranger,
        "not the issuer's",
    )]) {
        let r = f.send(&auth, "GET", me, None).await;
        assert_eq!(r.status, 401, "{name}: {}", r.text);
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
        assert!(r.detail().contains(says), "{name}: {}", r.detail());
    }
    // Key rotation: a new key in the JWKS is fetched when a token names it.
    f.issuer.add_key("k2", true).await;
    let rotated = Auth::Bearer(
        f.issuer
            .sign_with("k2", claims(&iss, AUDIENCE, now_secs() + 600)),
    );
    assert_eq!(f.send(&rotated, "GET", me, None).await.status, 200);

    // API keys: good, replayed, stale, forged, revoked.
    let key = f.key("alice", "acme", "read").await;
    let nonce = f.nonce();
    let first = f.send_with(&key, "GET", me, None, 0, Some(&nonce)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let replay = f.send_with(&key, "GET", me, None, 0, Some(&nonce)).await;
    assert_eq!(replay.status, 401);
    assert!(replay.detail().contains("replayed"), "{}", replay.detail());
    let stale = f.send_with(&key, "GET", me, None, -120, None).await;
    assert_eq!(stale.status, 401);
    assert!(stale.detail().contains("window"), "{}", stale.detail());
    let Auth::Key(id, _) = &key else {
        unreachable!()
    };
    let forged = f
        .send(
            &Auth::Key(id.clone(), "not-the-secret".into()),
            "GET",
            me,
            None,
        )
        .await;
    assert_eq!(forged.status, 401);
    assert!(forged.detail().contains("signature"), "{}", forged.detail());
    let r = f
        .send(
            &f.user("alice"),
            "DELETE",
            &format!("/api/v1/accounts/acme/keys/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let revoked = f.send(&key, "GET", me, None).await;
    assert_eq!(revoked.status, 401);
    assert!(revoked.detail().contains("revoked"), "{}", revoked.detail());
    // A key is never shown again, and lists without a secret.
    let list = f
        .send(&f.user("alice"), "GET", "/api/v1/accounts/acme/keys", None)
        .await;
    assert!(!list.text.contains("secret"), "{}", list.text);

    // Bodies and parameters.
    let alice = f.user("alice");
    let keys = "/api/v1/accounts/acme/keys";
    let before = f.ledger.api_keys(Some("acme")).await.unwrap().len();
    let big = json!({"name": "x".repeat(100 * 1024), "scope": "read"});
    let r = f.send(&alice, "POST", keys, Some(&big)).await;
    assert_eq!(r.status, 413, "{}", r.text);
    let r = f
        .send(
            &alice,
            "POST",
            keys,
            Some(&json!({"name": "x", "scope": "read", "bogus": 1})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["field"], "bogus");
    let r = f
        .send(
            &alice,
            "POST",
            keys,
            Some(&json!({"name": "x", "scope": "god"})),
        )
        .await;
    r.refused(422, Some("scope"));
    let r = f
        .send(&alice, "POST", keys, Some(&json!({"name": "x"})))
        .await;
    r.refused(422, Some("scope"));
    let r = f
        .send(
            &alice,
            "POST",
            "/api/v1/accounts/acme/bots",
            Some(&json!({"name": "x", "spec": {}, "extra": true})),
        )
        .await;
    r.refused(422, Some("extra"));
    assert_eq!(
        f.ledger.api_keys(Some("acme")).await.unwrap().len(),
        before,
        "nothing was created"
    );
    let r = f
        .send(&alice, "GET", "/api/v1/accounts/acme/fills?bogus=1", None)
        .await;
    r.refused(422, Some("bogus"));
    let r = f
        .send(
            &alice,
            "GET",
            "/api/v1/accounts/acme/fills?cursor=%21%21",
            None,
        )
        .await;
    r.refused(422, Some("cursor"));
    let r = f
        .send(&alice, "GET", "/api/v1/accounts/acme/fills?limit=0", None)
        .await;
    r.refused(422, Some("limit"));
    let r = f
        .send(
            &alice,
            "GET",
            "/api/v1/accounts/acme/performance?from=yesterday",
            None,
        )
        .await;
    r.refused(422, Some("from"));
    let r = f.send(&alice, "GET", "/api/v1/nowhere", None).await;
    assert_eq!(r.status, 404);
    let r = f.send(&alice, "PATCH", "/api/v1/me", None).await;
    assert_eq!(r.status, 405, "{}", r.text);

    // The document needs no credentials and is OpenAPI 3.1.
    let doc = f
        .send(&Auth::None, "GET", "/api/v1/openapi.json", None)
        .await;
    assert_eq!(doc.status, 200);
    assert!(doc.json()["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_its_rate_is_told_when_to_retry() {
    let f = Fixture::start(|c| {
        c.per_caller = Rate {
            per_second: 1,
            burst: 2,
        }
    })
    .await;
    let alice = f.user("alice");
    for _ in 0..2 {
        assert_eq!(f.send(&alice, "GET", "/api/v1/me", None).await.status, 200);
    }
    let r = f.send(&alice, "GET", "/api/v1/me", None).await;
    assert_eq!(r.status, 429, "{}", r.text);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.headers["content-type"], "application/problem+json");
    // Another caller has its own bucket.
    assert_eq!(
        f.send(&f.user("tom"), "GET", "/api/v1/me", None)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_tradingbots_kubectl_sees_and_a_bad_bot_gets_the_api_servers_message() {
    let f = Fixture::start(|_| {}).await;
    let alice = f.user("alice");
    let bots = "/api/v1/accounts/acme/bots";
    let r = f
        .send(
            &alice,
            "POST",
            bots,
            Some(&json!({"name": "btc", "spec": bot_spec("BTCUSDT")})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["spec"]["accountRef"]["name"], "acme");
    // What kubectl reads: the resource in the account's namespace, applied by the API.
    let kube_bots: KubeApi<TradingBot> = KubeApi::namespaced(f.kube.clone(), "tw-acme");
    let bot = kube_bots.get("btc").await.unwrap();
    assert_eq!(bot.spec.symbols, vec!["BTCUSDT".to_string()]);
    assert_eq!(bot.spec.account_ref.name, "acme");
    let managers: Vec<_> = bot
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("tradewind-api".into(), "Apply".into())),
        "{managers:?}"
    );
    // A second create is a conflict; a listing shows it.
    let again = f
        .send(
            &alice,
            "POST",
            bots,
            Some(&json!({"name": "btc", "spec": bot_spec("BTCUSDT")})),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    let list = f.send(&alice, "GET", bots, None).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Suspend keeps the applied spec.
    let r = f
        .send(&alice, "POST", &format!("{bots}/btc/suspend"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bot = kube_bots.get("btc").await.unwrap();
    assert!(bot.spec.suspend);
    assert_eq!(bot.spec.capital.currency, "USDT");

    // A bad bot: the API server's own message, as kubectl would show it.
    let mut bad = bot_spec("BTCUSDT");
    bad["mode"] = json!("Live");
    let direct: TradingBot = serde_json::from_value(json!({
        "apiVersion": "tradewind.dev/v1alpha1", "kind": "TradingBot",
        "metadata": {"name": "bad", "namespace": "tw-acme"},
        "spec": {"accountRef": {"name": "acme"}, "mode": "Live", "strategyRef": {"name": "sma"},
                 "venue": {"exchange": "Binance", "market": "Spot", "testnet": false},
                 "symbols": ["BTCUSDT"], "capital": {"amount": "5000", "currency": "USDT"}},
    }))
    .unwrap();
    let kube::Error::Api(status) = kube_bots
        .create(&PostParams::default(), &direct)
        .await
        .unwrap_err()
    else {
        panic!("the API server took a live bot without credentials")
    };
    let r = f
        .send(
            &alice,
            "POST",
            bots,
            Some(&json!({"name": "bad", "spec": bad})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["field"], "spec");
    let cel = status.message.split(": ").last().unwrap().to_owned();
    assert!(
        r.detail().contains(&cel),
        "{} vs {}",
        r.detail(),
        status.message
    );
    assert!(kube_bots.get_opt("bad").await.unwrap().is_none());
    // A field the CRD does not know is refused by the API server (strict validation).
    let mut unknown = bot_spec("BTCUSDT");
    unknown["leverage"] = json!(100);
    let r = f
        .send(
            &alice,
            "POST",
            bots,
            Some(&json!({"name": "odd", "spec": unknown})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.detail().contains("leverage"), "{}", r.detail());
    // Another account's bot is not found; naming another account is refused.
    let r = f
        .send(
            &f.user("oscar"),
            "GET",
            "/api/v1/accounts/acme/bots/btc",
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let mut theirs = bot_spec("BTCUSDT");
    theirs["accountRef"] = json!({"name": "globex"});
    let r = f
        .send(
            &alice,
            "POST",
            bots,
            Some(&json!({"name": "steal", "spec": theirs})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (422, Some("spec.accountRef.name"))
    );
    let r = f.send(&alice, "DELETE", &format!("{bots}/btc"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_with_a_cursor_and_performance_reads_the_snapshots() {
    let f = Fixture::start(|_| {}).await;
    let vera = f.user("vera");
    let mut seen = Vec::new();
    let mut path = "/api/v1/accounts/acme/fills?from=2026-11-01&limit=2&bot=base".to_string();
    loop {
        let r = f.send(&vera, "GET", &path, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        for item in v["items"].as_array().unwrap() {
            assert_eq!(item["bot"], "tw-acme/base");
            seen.push(item["orderId"].as_i64().unwrap());
        }
        match v["nextCursor"].as_str() {
            Some(c) => {
                path = format!(
                    "/api/v1/accounts/acme/fills?from=2026-11-01&limit=2&bot=base&cursor={c}"
                )
            }
            None => break,
        }
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    let r = f
        .send(
            &vera,
            "GET",
            "/api/v1/accounts/acme/bots/base/performance?from=2026-11-02&to=2026-11-03",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let curve = &r.json()["curves"][0];
    assert_eq!(curve["currency"], "USDT");
    assert_eq!(curve["points"].as_array().unwrap().len(), 4);
    // 1000 → 1200 → 900 → 1300: PnL 300, drawdown 300 from 1200 (0.25).
    assert_eq!(curve["pnl"], "300.00");
    assert_eq!(curve["maxDrawdown"], "300.00");
    assert_eq!(curve["maxDrawdownRatio"], "0.25");
    // Only the account's own snapshots: globex's bot is not summed in.
    let r = f
        .send(
            &vera,
            "GET",
            "/api/v1/accounts/acme/performance?from=2026-11-02&to=2026-11-03",
            None,
        )
        .await;
    assert_eq!(r.json()["curves"][0]["pnl"], "300.00");
}

/// `points` reduces the curve returned (first and last kept, times increasing); PnL and
/// drawdown stay those of every snapshot; out of range it is refused naming `points`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn performance_points_reduce_the_curve_but_not_its_figures() {
    let f = Fixture::start(|_| {}).await;
    let vera = f.user("vera");
    let record = BotRecord {
        bot: "tw-acme/long".into(),
        account: "acme".into(),
        plan: None,
        quote_currency: "USDT".into(),
        strategy: None,
    };
    // 600 one-minute snapshots on a wave with a dip: longer than `points`.
    let events: Vec<Event> = (0..600u64)
        .map(|i| {
            let wave = [0i64, 40, 90, 30, -20, 10][(i % 6) as usize];
            let dip = if (300..330).contains(&i) { -700 } else { 0 };
            let ts = format!("2026-11-05T{:02}:{:02}:00Z", i / 60, i % 60);
            event(
                &record.bot,
                i,
                &ts,
                equity(&(1000 + i as i64 + wave + dip).to_string()),
            )
        })
        .collect();
    f.ledger.record_events(&record, &events).await.unwrap();
    let path = "/api/v1/accounts/acme/bots/long/performance?from=2026-11-05&to=2026-11-06";
    let full = f.send(&vera, "GET", path, None).await;
    assert_eq!(full.status, 200, "{}", full.text);
    let full = full.json()["curves"][0].clone();
    let all = full["points"].as_array().unwrap().clone();
    assert_eq!(all.len(), 600);
    for (account, n) in [(false, 50usize), (false, 2), (true, 37)] {
        let path = if account {
            format!("/api/v1/accounts/acme/performance?from=2026-11-05&to=2026-11-06&points={n}")
        } else {
            format!("{path}&points={n}")
        };
        let r = f.send(&vera, "GET", &path, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let curve = &r.json()["curves"][0];
        let pts = curve["points"].as_array().unwrap();
        assert_eq!(pts.len(), n, "{path}");
        assert_eq!((&pts[0], &pts[n - 1]), (&all[0], &all[599]));
        let times: Vec<&str> = pts.iter().map(|p| p["ts"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        // Every point returned is a snapshot, its equity a decimal string.
        assert!(pts.iter().all(|p| all.contains(p)));
        for k in ["pnl", "maxDrawdown", "maxDrawdownRatio"] {
            assert_eq!(curve[k], full[k], "{k}");
        }
    }
    // More points than snapshots: the curve unchanged.
    let r = f
        .send(&vera, "GET", &format!("{path}&points=10000"), None)
        .await;
    assert_eq!(r.json()["curves"][0], full);
    for bad in ["1", "0", "10001", "-3", "many"] {
        let r = f
            .send(&vera, "GET", &format!("{path}&points={bad}"), None)
            .await;
        assert!(matches!(r.status, 400 | 422), "{bad}: {}", r.text);
        assert_eq!(r.json()["field"], "points", "{bad}: {}", r.text);
    }
}

/// The README's examples, run as written with `sh -e` against a served API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_examples_run_as_written() {
    let f = Fixture::start(|_| {}).await;
    let readme = include_str!("../README.md");
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in the README");
    let dir = f._dir.0.clone();
    let token = f.issuer.token("alice");
    let base = f.base.clone();
    let stdout = succeeds(move || {
        let mut c = std::process::Command::new("sh");
        c.args(["-e", "-c", block])
            .current_dir(&dir)
            .env("TW", base)
            .env("TOKEN", token);
        c
    })
    .await;
    // `me`, then the signed page of fills.
    assert!(stdout.contains(r#""subject":"alice""#), "{stdout}");
    assert!(stdout.contains(r#""items":["#), "{stdout}");
}

/// A TradingBot of `account` named `name` in `namespace`, as kubectl or GitOps would write it.
fn tradingbot(namespace: &str, name: &str, account: &str) -> TradingBot {
    let mut spec = bot_spec("ETHUSDT");
    spec["accountRef"] = json!({"name": account});
    serde_json::from_value(json!({
        "apiVersion": "tradewind.dev/v1alpha1",
        "kind": "TradingBot",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }))
    .unwrap()
}

/// The bot list is the TradingBot watch's: a bot written with the Kubernetes client
/// (as kubectl or GitOps would) is listed once the watch has delivered it, and gone once
/// it delivers the deletion; another account's bots are never listed — in its own
/// namespace, nor in this account's with its `accountRef`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_list_is_the_watchs_and_holds_only_the_accounts_bots() {
    let f = Fixture::start(|_| {}).await;
    f.base_bots().await;
    let written = [
        ("tw-acme", "by-kubectl", "acme"),
        ("tw-acme", "planted", "globex"),
        ("tw-globex", "theirs", "globex"),
    ];
    for (ns, name, account) in written {
        KubeApi::<TradingBot>::namespaced(f.kube.clone(), ns)
            .create(&PostParams::default(), &tradingbot(ns, name, account))
            .await
            .unwrap();
    }
    let has = |ns: &'static str, name: &'static str| {
        move |store: &kube::runtime::reflector::Store<TradingBot>| {
            store
                .get(&kube::runtime::reflector::ObjectRef::new(name).within(ns))
                .is_some()
        }
    };
    let all_there = f
        .api
        .bots
        .wait_for(Duration::from_secs(30), |s| {
            written.iter().all(|(ns, name, _)| has(ns, name)(s))
        })
        .await;
    assert!(all_there, "the watch delivers what the API server holds");
    let names = |r: Resp| -> Vec<String> {
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let acme = f
        .send(&f.user("vera"), "GET", "/api/v1/accounts/acme/bots", None)
        .await;
    assert_eq!(names(acme), ["base", "by-kubectl"]);
    let globex = f
        .send(
            &f.user("oscar"),
            "GET",
            "/api/v1/accounts/globex/bots",
            None,
        )
        .await;
    assert_eq!(names(globex), ["base", "theirs"]);
    // One bot from the store, and another account's planted one is not found.
    let r = f
        .send(
            &f.user("vera"),
            "GET",
            "/api/v1/accounts/acme/bots/by-kubectl",
            None,
        )
        .await;
    assert_eq!(r.json()["spec"]["symbols"][0], "ETHUSDT", "{}", r.text);
    let r = f
        .send(
            &f.user("vera"),
            "GET",
            "/api/v1/accounts/acme/bots/planted",
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // Deleted with the client: gone from the list once the watch delivers it.
    KubeApi::<TradingBot>::namespaced(f.kube.clone(), "tw-acme")
        .delete("by-kubectl", &Default::default())
        .await
        .unwrap();
    let gone = f
        .api
        .bots
        .wait_for(Duration::from_secs(30), |s| {
            !has("tw-acme", "by-kubectl")(s)
        })
        .await;
    assert!(gone);
    let acme = f
        .send(&f.user("vera"), "GET", "/api/v1/accounts/acme/bots", None)
        .await;
    assert_eq!(names(acme), ["base"]);
}

/// Until the TradingBot watch has synced, bot reads are refused with a problem saying so
/// (here it never syncs: the Kubernetes API is not there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_reads_before_the_watch_has_synced_are_a_503_saying_so() {
    let f = Fixture::start(|_| {}).await;
    let nowhere =
        Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
    let config = Config {
        oidc: f.api.config.oidc.clone(),
        bot_sync_wait: Duration::ZERO,
        ..Config::default()
    };
    let api = Arc::new(Api::new(f.ledger.clone(), nowhere, config).unwrap());
    let (addr, _task) = tradewind_api::serve(
        "127.0.0.1:0".parse().unwrap(),
        api,
        tradewind_http::Limits::default(),
    )
    .await
    .unwrap();
    let base = format!("http://{addr}");
    for path in [
        "/api/v1/accounts/acme/bots",
        "/api/v1/accounts/acme/bots/base",
    ] {
        let r = f
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(f.issuer.token("alice"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let detail = r.json::<Value>().await.unwrap()["detail"].to_string();
        assert!(detail.contains("not synced"), "{detail}");
    }
}

/// A Python with Schemathesis: `$TRADEWIND_PYTHON` (what `make test` sets) or the
/// project venv.
fn schemathesis() -> Option<std::path::PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("TRADEWIND_PYTHON") {
        candidates.push(std::path::PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(std::path::Path::new(&home).join(".cache/tradewind-venv/bin/python"));
    }
    candidates.into_iter().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import schemathesis"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Schemathesis (PyPI, pinned in requirements-test.txt) against the served OpenAPI
/// document with every check on, as an API key of a seeded account (its owner's `admin`
/// scope; `tests/schemathesis/hooks.py` signs each request as it leaves): no 5xx, only
/// documented status codes and content types, every answer — problem documents
/// included — matching its schema. Bounded examples and a fixed seed keep it short and
/// repeatable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_off_the_document_and_no_server_error() {
    let Some(py) = schemathesis() else {
        assert!(
            std::env::var_os("TRADEWIND_PYTHON").is_none(),
            "TRADEWIND_PYTHON has no schemathesis (pip install -r requirements-test.txt)"
        );
        eprintln!("SKIPPED: no Python with schemathesis (pip install -r requirements-test.txt)");
        return;
    };
    let f = Fixture::start(|_| {}).await;
    f.base_bots().await;
    let Auth::Key(id, secret) = f.key("alice", "acme", "admin").await else {
        unreachable!()
    };
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let schema = format!("{}/api/v1/openapi.json", f.base);
    let (base, work) = (f.base.clone(), f._dir.0.join("schemathesis"));
    std::fs::create_dir_all(&work).unwrap();
    let stdout = succeeds(move || {
        let mut c = std::process::Command::new(py);
        c.args(["-m", "schemathesis.cli", "--config-file"])
            .arg(here.join("schemathesis.toml"))
            .args(["run", &schema, "--url", &base])
            .args(["--checks", "all", "--max-examples", "10", "--seed", "1"])
            .args(["--phases", "examples,coverage,fuzzing", "--workers", "2"])
            .args(["--report", "junit", "--report-dir", "report"])
            // Its cache and report in the test's directory, not the source tree.
            .current_dir(&work)
            .env("PYTHONPATH", &here)
            .env("SCHEMATHESIS_HOOKS", "hooks")
            .env("TW_KEY_ID", id)
            .env("TW_KEY_SECRET", secret)
            .env("NO_COLOR", "1");
        c
    })
    .await;
    // It tested every operation of the document (a run that skipped them would pass too).
    let count = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim().to_owned())
    };
    let selected = count("Selected:").expect("a summary");
    let tested = count("Tested:").expect("a summary");
    assert_eq!(selected, format!("{tested}/{tested}"), "{stdout}");
}

/// The first start's admin key: created once, stored as a hash, an admin in every account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_makes_one_platform_admin_key() {
    let f = Fixture::start(|_| {}).await;
    let (id, secret) = tradewind_api::bootstrap_admin_key(&f.ledger)
        .await
        .unwrap()
        .expect("a key at first start");
    assert!(
        tradewind_api::bootstrap_admin_key(&f.ledger)
            .await
            .unwrap()
            .is_none(),
        "only once"
    );
    let stored = f.ledger.api_key(&id).await.unwrap().unwrap();
    assert_ne!(stored.signing_key, secret, "the secret is not stored");
    let admin = Auth::Key(id, secret);
    let me = f.send(&admin, "GET", "/api/v1/me", None).await;
    assert_eq!(me.json()["admin"], true, "{}", me.text);
    let r = f.send(&admin, "GET", "/api/v1/accounts/globex", None).await;
    assert_eq!(r.json()["access"], "admin", "{}", r.text);
    let r = f.send(&admin, "GET", "/api/v1/accounts/nobody", None).await;
    assert_eq!(r.status, 404);
}

/// A browser without scripts: follows nothing by itself, keeps the cookies it is given.
struct Browser {
    http: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Default::default(),
        }
    }

    async fn request(&mut self, method: &str, url: &str, form: Option<&[(&str, &str)]>) -> Resp {
        let mut req = self.http.request(method.parse().unwrap(), url);
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("cookie", c.join("; "));
        }
        if let Some(form) = form {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(form).unwrap());
        }
        let r = req.send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            for attr in ["HttpOnly", "Secure", "SameSite=Lax"] {
                assert!(c.contains(attr), "{c}");
            }
            let (kv, _) = c.split_once(';').unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, url: &str) -> Resp {
        self.request("GET", url, None).await
    }
}

fn location(r: &Resp) -> String {
    r.headers["location"].to_str().unwrap().to_owned()
}

/// The value of a form's hidden `csrf` field.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// The dashboard: OIDC sign-in with PKCE through the issuer, key sign-in with CSRF, pages
/// authorised as the API (another account's is not found), everything shown escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_signs_in_with_oidc_or_a_key_and_shows_only_the_callers_accounts_escaped() {
    let f = Fixture::start(|_| {}).await;
    // An account whose name and bot try to inject markup.
    f.ledger
        .create_account("evil", "<script>alert('acct')</script>")
        .await
        .unwrap();
    f.ledger
        .add_member("evil", "alice", Role::Viewer)
        .await
        .unwrap();
    f.send(
        &f.user("alice"),
        "POST",
        "/api/v1/accounts/acme/bots",
        Some(&json!({"name": "trend", "spec": bot_spec("BTCUSDT")})),
    )
    .await;

    // Not signed in: to the sign-in page.
    let mut b = Browser::new();
    let r = b.get(&format!("{}/ui/accounts/acme", f.base)).await;
    assert_eq!((r.status, location(&r).as_str()), (303, "/ui/login"));

    // OIDC: the redirect carries a S256 challenge; the issuer sends the browser back.
    let r = b.get(&format!("{}/ui/login/oidc", f.base)).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to_issuer = location(&r);
    assert!(
        to_issuer.starts_with(&format!("{}/authorize?", f.issuer.url)),
        "{to_issuer}"
    );
    assert!(
        to_issuer.contains("code_challenge_method=S256"),
        "{to_issuer}"
    );
    assert!(
        to_issuer.contains(&format!("client_id={CLIENT_ID}")),
        "{to_issuer}"
    );
    let r = b.get(&to_issuer).await;
    let back = location(&r);
    // A callback whose state is not this browser's is refused.
    let mut other = Browser::new();
    other.get(&format!("{}/ui/login/oidc", f.base)).await;
    let r = other.get(&back).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.contains("state does not match"), "{}", r.text);
    let r = b.get(&back).await;
    assert_eq!(
        (r.status, location(&r).as_str()),
        (303, "/ui/"),
        "{}",
        r.text
    );
    assert!(b.cookies.contains_key("tw_session"));

    let home = b.get(&format!("{}/ui/", f.base)).await;
    assert_eq!(home.status, 200, "{}", home.text);
    assert!(home.text.contains("/ui/accounts/acme"), "{}", home.text);
    assert!(!home.text.contains("/ui/accounts/globex"), "{}", home.text);
    assert!(!home.text.contains("<script>"), "{}", home.text);
    assert!(
        home.text
            .contains("&lt;script&gt;alert(&#39;acct&#39;)&lt;/script&gt;"),
        "{}",
        home.text
    );
    let csp = home.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    let acme = b.get(&format!("{}/ui/accounts/acme", f.base)).await;
    assert_eq!(acme.status, 200, "{}", acme.text);
    assert!(acme.text.contains(">trend<"), "{}", acme.text);
    assert!(acme.text.contains(">base<"), "{}", acme.text);
    assert!(
        acme.text.contains("1300"),
        "the latest equity: {}",
        acme.text
    );

    let bot = b
        .get(&format!("{}/ui/accounts/acme/bots/base", f.base))
        .await;
    assert_eq!(bot.status, 200, "{}", bot.text);
    for needle in [
        "data-chart=\"Equity\"",
        "data-chart=\"Drawdown\"",
        "87000",
        "aria-label=\"Fills\"",
    ] {
        assert!(bot.text.contains(needle), "{needle}: {}", bot.text);
    }
    let evil = b.get(&format!("{}/ui/accounts/evil", f.base)).await;
    assert_eq!(evil.status, 200, "{}", evil.text);
    assert!(!evil.text.contains("<script>"), "{}", evil.text);

    // Another account's pages do not exist for alice.
    for path in [
        "/ui/accounts/globex",
        "/ui/accounts/globex/bots/base",
        "/ui/accounts/globex/commissions",
        "/ui/accounts/globex/referrals",
        "/ui/accounts/acme/bots/nobody",
    ] {
        let r = b.get(&format!("{}{path}", f.base)).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    for path in [
        "/ui/accounts/acme/commissions",
        "/ui/accounts/acme/referrals",
    ] {
        let r = b.get(&format!("{}{path}", f.base)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }

    // Signing out takes the session's CSRF token.
    let r = b
        .request(
            "POST",
            &format!("{}/ui/logout", f.base),
            Some(&[("csrf", "forged")]),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let token = csrf_of(&home.text);
    let r = b
        .request(
            "POST",
            &format!("{}/ui/logout", f.base),
            Some(&[("csrf", &token)]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(!b.cookies.contains_key("tw_session"));

    // The first start's admin key signs in on the form (with its CSRF token) and sees
    // every account; a wrong secret does not.
    let (id, secret) = tradewind_api::bootstrap_admin_key(&f.ledger)
        .await
        .unwrap()
        .unwrap();
    let mut k = Browser::new();
    let login = k.get(&format!("{}/ui/login", f.base)).await;
    let token = csrf_of(&login.text);
    let r = k
        .request(
            "POST",
            &format!("{}/ui/login", f.base),
            Some(&[("csrf", &token), ("key", &id), ("secret", "wrong")]),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(!k.cookies.contains_key("tw_session"));
    let r = k
        .request(
            "POST",
            &format!("{}/ui/login", f.base),
            Some(&[("csrf", "forged"), ("key", &id), ("secret", &secret)]),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = k
        .request(
            "POST",
            &format!("{}/ui/login", f.base),
            Some(&[("csrf", &token), ("key", &id), ("secret", &secret)]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let home = k.get(&format!("{}/ui/", f.base)).await;
    assert!(home.text.contains("/ui/accounts/globex"), "{}", home.text);
    let r = k
        .get(&format!("{}/ui/accounts/globex/bots/base", f.base))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Revoked, the key's session ends at once.
    f.ledger.revoke_api_key(&id, 1).await.unwrap();
    let r = k.get(&format!("{}/ui/", f.base)).await;
    assert_eq!((r.status, location(&r).as_str()), (303, "/ui/login"));
}

/// The dashboard in a real browser: headless Chromium (playwright-core, installed by
/// `make prereqs` as for the report check) signs in through the issuer and checks every
/// page against a seeded ledger (a settled day with a statement, a referral); the
/// screenshots stay in `target/tmp/dashboard-check/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_reader_their_bots_in_chromium() {
    use tradewind_commission::{
        Basis, Distribution, FeeSchedule, FeeTier, PerformanceFee, Period, PeriodKind, Plan, Rate,
        Role as ShareRole, Share,
    };
    use tradewind_core::data::time::parse_iso8601;
    use tradewind_core::fixed::Money;

    let f = Fixture::start(|_| {}).await;
    f.ledger
        .create_account("evil", "<script>alert('acct')</script>")
        .await
        .unwrap();
    f.ledger
        .add_member("evil", "alice", Role::Viewer)
        .await
        .unwrap();
    let ts = |s: &str| parse_iso8601(s).unwrap();
    f.ledger
        .set_referrer("evil", "acme", ts("2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    let r = f
        .send(
            &f.user("alice"),
            "POST",
            "/api/v1/accounts/acme/bots",
            Some(&json!({"name": "trend", "spec": bot_spec("BTCUSDT")})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // A bot on a plan, settled for a day: the account's statement.
    let record = BotRecord {
        bot: "tw-acme/fees".into(),
        account: "acme".into(),
        plan: Some("standard".into()),
        quote_currency: "USDT".into(),
        strategy: None,
    };
    f.ledger
        .record_events(
            &record,
            &[
                event(&record.bot, 0, "2026-11-01T23:00:00Z", equity("1000")),
                event(&record.bot, 1, "2026-11-02T10:00:00Z", fill(1, "50000")),
                event(&record.bot, 2, "2026-11-02T23:00:00Z", equity("1200")),
            ],
        )
        .await
        .unwrap();
    let share = |role, bps| Share { role, bps };
    let plan = Plan {
        currency: "USDT".into(),
        trading_fees: FeeSchedule::new(vec![FeeTier {
            min_volume_30d: Money::ZERO,
            maker: Rate::from_bps("5").unwrap(),
            taker: Rate::from_bps("10").unwrap(),
        }])
        .unwrap(),
        performance_fee: Some(PerformanceFee {
            rate: Rate::from_percent("10").unwrap(),
            basis: Basis::Realized,
        }),
        period: PeriodKind::Daily,
        distribution: Distribution::new(vec![
            share(ShareRole::Platform, 8500),
            share(ShareRole::Referral(1), 1500),
        ])
        .unwrap(),
    };
    let day = Period::containing(PeriodKind::Daily, ts("2026-11-02T00:00:00Z"));
    f.ledger
        .settle("standard", &plan, day, ts("2026-11-03T00:05:00Z"))
        .await
        .unwrap();

    let base = f.base.replace("127.0.0.1", "localhost");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-check");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/dashboard_check/check.mjs"
    );
    let stdout = succeeds(move || {
        let mut c = std::process::Command::new("node");
        c.arg(script).arg(&base).arg(&shots);
        c
    })
    .await;
    assert!(stdout.contains("0 failed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_channels_keep_their_secrets_and_answer_by_role() {
    let key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([9u8; 32])
    };
    let f = Fixture::start(|c| {
        c.notify_key = Some(std::sync::Arc::new(
            tradewind_notify::Sealer::from_base64(&key).unwrap(),
        ))
    })
    .await;
    let (owner, viewer, other) = (f.user("alice"), f.user("vera"), f.user("oscar"));
    let chans = "/api/v1/accounts/acme/notifications/channels";
    let hook = json!({"name": "ops", "settings": {"type": "webhook", "url": "https://hooks.example.com/tw"}});
    assert_eq!(
        f.send(&viewer, "POST", chans, Some(&hook)).await.status,
        403
    );
    assert_eq!(f.send(&other, "POST", chans, Some(&hook)).await.status, 404);
    let r = f.send(&owner, "POST", chans, Some(&hook)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let signing = r.json()["signingSecret"].as_str().unwrap().to_owned();
    assert!(signing.starts_with("whsec_"));
    let hook_id = r.json()["channel"]["id"].as_str().unwrap().to_owned();
    let token = "123456:SECRET-BOT-TOKEN";
    let tg = json!({"name": "phone", "settings": {"type": "telegram", "chatId": "4242"},
        "secret": token, "rules": {"fill": "silent"}});
    let r = f.send(&owner, "POST", chans, Some(&tg)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains(token) && r.json().get("signingSecret").is_none());
    let tg_id = r.json()["channel"]["id"].as_str().unwrap().to_owned();

    // Members read; no answer carries a secret.
    let r = f.send(&viewer, "GET", chans, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    assert!(
        !r.text.contains(token) && !r.text.contains(&signing),
        "{}",
        r.text
    );
    assert_eq!(r.json()[1]["rules"]["fill"], "silent");
    assert_eq!(r.json()[1]["rules"]["botHalted"], "on");
    assert_eq!(r.json()[0]["secretSet"], true);
    assert_eq!(
        f.send(&other, "GET", &format!("{chans}/{hook_id}"), None)
            .await
            .status,
        404
    );

    // Bad input names the field.
    let bad = f
        .send(&owner, "POST", chans, Some(&json!({"name": "x", "settings": {"type": "webhook", "url": "http://example.com/x"}})))
        .await;
    bad.refused(422, Some("settings.url"));
    let bad = f
        .send(&owner, "POST", chans, Some(&json!({"name": "x", "settings": {"type": "webhook", "url": "https://a.example/x"}, "secret": "mine"})))
        .await;
    bad.refused(422, Some("secret"));
    let bad = f
        .send(
            &owner,
            "POST",
            chans,
            Some(&json!({"name": "x", "settings": {"type": "telegram", "chatId": "1"}})),
        )
        .await;
    bad.refused(422, Some("secret"));

    // Rules: owners write, viewers read, unknown kinds refused.
    let rules = format!("{chans}/{hook_id}/rules");
    let r = f
        .send(
            &owner,
            "PUT",
            &rules,
            Some(&json!({"fill": "off", "error": "silent"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.json()["fill"].as_str(),
            r.json()["error"].as_str(),
            r.json()["stopLoss"].as_str()
        ),
        (Some("off"), Some("silent"), Some("on"))
    );
    assert_eq!(
        f.send(&viewer, "PUT", &rules, Some(&json!({})))
            .await
            .status,
        403
    );
    assert_eq!(
        f.send(&viewer, "GET", &rules, None).await.json()["fill"],
        "off"
    );
    let bad = f
        .send(&owner, "PUT", &rules, Some(&json!({"fills": "on"})))
        .await;
    assert!(bad.status == 400 || bad.status == 422, "{}", bad.text);

    // A fill recorded for acme: the webhook has fills off, Telegram gets it silently.
    let bot = BotRecord {
        bot: "tw-acme/base".into(),
        account: "acme".into(),
        plan: None,
        quote_currency: "USDT".into(),
        strategy: None,
    };
    f.ledger
        .record_events(
            &bot,
            &[event(
                "tw-acme/base",
                100,
                "2026-11-03T00:00:00Z",
                fill(99, "50000"),
            )],
        )
        .await
        .unwrap();
    let r = f
        .send(
            &f.user("tom"),
            "POST",
            &format!("{chans}/{tg_id}/test"),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "a trader does not send test messages");
    let r = f
        .send(&owner, "POST", &format!("{chans}/{hook_id}/test"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let deliveries = "/api/v1/accounts/acme/notifications/deliveries";
    let r = f.send(&viewer, "GET", deliveries, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{}", r.text);
    assert!(
        items
            .iter()
            .any(|d| d["channel"] == tg_id.as_str() && d["kind"] == "fill" && d["silent"] == true)
    );
    assert!(items.iter().all(|d| d["status"] == "pending"));
    let page = f
        .send(&viewer, "GET", &format!("{deliveries}?limit=1"), None)
        .await
        .json();
    let next = page["nextCursor"].as_str().unwrap();
    let rest = f
        .send(
            &viewer,
            "GET",
            &format!("{deliveries}?limit=1&cursor={next}"),
            None,
        )
        .await
        .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest.get("nextCursor").is_none());
    assert_eq!(
        f.send(&viewer, "GET", &format!("{deliveries}?status=dead"), None)
            .await
            .json()["items"],
        json!([])
    );
    assert_eq!(
        f.send(&viewer, "GET", &format!("{deliveries}?status=lost"), None)
            .await
            .status,
        422
    );
    let id = items[0]["id"].as_str().unwrap();
    assert_eq!(
        f.send(&owner, "POST", &format!("{deliveries}/{id}/retry"), None)
            .await
            .status,
        409,
        "not a dead letter"
    );
    assert_eq!(
        f.send(
            &other,
            "POST",
            &format!("/api/v1/accounts/globex/notifications/deliveries/{id}/retry"),
            None
        )
        .await
        .status,
        404
    );

    // Delete: owners; then it is gone.
    assert_eq!(
        f.send(&viewer, "DELETE", &format!("{chans}/{hook_id}"), None)
            .await
            .status,
        403
    );
    assert_eq!(
        f.send(&owner, "DELETE", &format!("{chans}/{hook_id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        f.send(&owner, "GET", &format!("{chans}/{hook_id}"), None)
            .await
            .status,
        404
    );
    let doc: Value = serde_json::from_str(&tradewind_api::routes::ApiDoc::json()).unwrap();
    assert!(
        doc["paths"]["/api/v1/accounts/{account}/notifications/channels"]["post"]["security"]
            .is_array()
    );
}

/// A signal body's time, `secs` from now, as TradingView's `{{timenow}}` writes it.
fn signal_time(secs: i64) -> String {
    tradewind_core::data::time::format_iso8601((now_secs() + secs) * 1_000_000_000)
}

/// `(status, json)` of a webhook post with `headers`, as TradingView sends it (text/plain).
async fn post_signal(f: &Fixture, path: &str, body: &str, headers: &[(&str, String)]) -> Resp {
    let mut req = f
        .http
        .post(format!("{}{path}", f.base))
        .header("content-type", "text/plain; charset=utf-8")
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    Resp {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signal_webhook_takes_tradingview_alerts_and_refuses_bad_ones_changing_nothing() {
    let f = Fixture::start(|_| {}).await;
    let alice = f.user("alice");
    for (name, strategy) in [("sigbot", "tv"), ("plainbot", "sma")] {
        let mut spec = bot_spec("BTCUSDT");
        spec["strategyRef"]["name"] = json!(strategy);
        let r = f
            .send(
                &alice,
                "POST",
                "/api/v1/accounts/acme/bots",
                Some(&json!({"name": name, "spec": spec})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let strategies: KubeApi<tradewind_crds::Strategy> =
        KubeApi::namespaced(f.kube.clone(), "tw-acme");
    for s in [
        json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Strategy", "metadata": {"name": "tv"},
               "spec": {"type": "Signal", "signal": {"actions": ["enter", "exit"]}}}),
        json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Strategy", "metadata": {"name": "sma"},
               "spec": {"type": "SmaCross", "smaCross": {"fastPeriod": 2, "slowPeriod": 5}}}),
    ] {
        strategies
            .create(&PostParams::default(), &serde_json::from_value(s).unwrap())
            .await
            .unwrap();
    }
    // The CRD refuses a Signal strategy without its member, with its own message.
    let bad = strategies
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"apiVersion": "tradewind.dev/v1alpha1", "kind": "Strategy",
                "metadata": {"name": "bad"}, "spec": {"type": "Signal"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        bad.to_string()
            .contains("signal must be set when type is Signal"),
        "{bad}"
    );

    // The secret: owners and traders create it, viewers may not, other accounts never see the bot.
    let secret_path = "/api/v1/accounts/acme/bots/sigbot/signal-secret";
    assert_eq!(
        f.send(&f.user("vera"), "POST", secret_path, None)
            .await
            .status,
        403
    );
    assert_eq!(
        f.send(&f.user("oscar"), "POST", secret_path, None)
            .await
            .status,
        404
    );
    let r = f.send(&f.user("tom"), "POST", secret_path, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let old_secret = r.json()["secret"].as_str().unwrap().to_owned();
    // Rotation: the owner makes a new one; the old one stops working.
    let r = f.send(&alice, "POST", secret_path, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["bot"], "tw-acme/sigbot");
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    assert_ne!(secret, old_secret);

    let hook = "/api/v1/accounts/acme/bots/sigbot/signals";
    // TradingView's JSON message, no headers of ours.
    let tv = format!(
        r#"{{"id": "tv-1", "action": "buy", "time": "{}", "ticker": "BTCUSDT", "secret": "{secret}"}}"#,
        signal_time(-2)
    );
    let r = post_signal(&f, hook, &tv, &[]).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        (
            r.json()["seq"].as_i64(),
            r.json()["action"].as_str(),
            r.json()["status"].as_str()
        ),
        (Some(1), Some("enter"), Some("pending"))
    );
    // A repeat: 200 with the first answer, nothing new.
    let again = post_signal(&f, hook, &tv, &[]).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json(), r.json());
    // The same id asking for something else: a conflict.
    let other = tv.replace("\"buy\"", "\"sell\"");
    let r = post_signal(&f, hook, &other, &[]).await;
    assert_eq!(r.status, 409, "{}", r.text);

    // The text form.
    let text = format!(
        "action=exit id=tv-2 time={} secret={secret}",
        signal_time(0)
    );
    let r = post_signal(&f, hook, &text, &[]).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.json()["seq"], 2);

    // A sender that signs: no secret in the body, the HMAC of the body in the header.
    let signed = format!(
        r#"{{"id":"svc-3","action":"enter","time":"{}"}}"#,
        signal_time(0)
    );
    let key = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let mac = |body: &str| {
        hex::encode(
            ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_ref()),
                body.as_bytes(),
            )
            .as_ref(),
        )
    };
    let r = post_signal(
        &f,
        hook,
        &signed,
        &[("X-Tradewind-Signature", mac(&signed))],
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.json()["seq"], 3);

    // Refusals, each a problem document that never echoes the secret.
    type Case<'a> = (
        &'a str,
        String,
        Vec<(&'a str, String)>,
        u16,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "wrong secret",
            format!("action=enter id=w-1 time={} secret=not-it", signal_time(0)),
            vec![],
            401,
            None,
        ),
        (
            "old secret",
            format!(
                "action=enter id=w-2 time={} secret={old_secret}",
                signal_time(0)
            ),
            vec![],
            401,
            None,
        ),
        (
            "no secret",
            format!("action=enter id=w-3 time={}", signal_time(0)),
            vec![],
            401,
            None,
        ),
        (
            "bad signature",
            format!(
                r#"{{"id":"w-4","action":"enter","time":"{}"}}"#,
                signal_time(0)
            ),
            vec![("X-Tradewind-Signature", mac("another body"))],
            401,
            None,
        ),
        (
            "too old",
            format!(
                "action=enter id=w-5 time={} secret={secret}",
                signal_time(-600)
            ),
            vec![],
            422,
            Some("time"),
        ),
        (
            "from the future",
            format!(
                "action=enter id=w-6 time={} secret={secret}",
                signal_time(600)
            ),
            vec![],
            422,
            Some("time"),
        ),
        (
            "an action the strategy does not take",
            format!(
                "action=flatten id=w-7 time={} secret={secret}",
                signal_time(0)
            ),
            vec![],
            422,
            Some("action"),
        ),
        (
            "an unknown field",
            format!(
                r#"{{"id":"w-8","action":"enter","time":"{}","qty":"1","secret":"{secret}"}}"#,
                signal_time(0)
            ),
            vec![],
            400,
            None,
        ),
    ];
    for (what, body, headers, status, field) in &cases {
        let r = post_signal(&f, hook, body, headers).await;
        assert_eq!(r.status, *status, "{what}: {}", r.text);
        assert_eq!(
            r.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{what}"
        );
        if let Some(field) = field {
            assert_eq!(r.json()["field"], *field, "{what}: {}", r.text);
        }
        assert!(
            !r.text.contains(&secret) && !r.text.contains(&old_secret),
            "{what}: {}",
            r.text
        );
    }
    let r = post_signal(&f, hook, &cases[6].1, &[]).await;
    assert!(
        r.detail().contains("does not take flatten signals"),
        "{}",
        r.text
    );

    // A bot whose strategy takes no signals: refused with the reason.
    let r = f
        .send(
            &alice,
            "POST",
            "/api/v1/accounts/acme/bots/plainbot/signal-secret",
            None,
        )
        .await;
    let plain_secret = r.json()["secret"].as_str().unwrap().to_owned();
    let r = post_signal(
        &f,
        "/api/v1/accounts/acme/bots/plainbot/signals",
        &format!(
            "action=enter id=p-1 time={} secret={plain_secret}",
            signal_time(0)
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["field"], "bot");
    assert!(
        r.detail()
            .contains("of type SmaCross, which does not take signals"),
        "{}",
        r.text
    );

    // Another account: acme's secret opens nothing there, and its people never see the bot.
    let r = post_signal(
        &f,
        "/api/v1/accounts/globex/bots/sigbot/signals",
        &format!(
            "action=enter id=g-1 time={} secret={secret}",
            signal_time(0)
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        f.send(&f.user("oscar"), "GET", hook, None).await.status,
        404
    );

    // Nothing the refusals sent was stored: the three accepted signals, newest first.
    let r = f.send(&f.user("vera"), "GET", hook, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = r.json();
    let ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["svc-3", "tv-2", "tv-1"]);
    assert!(
        f.ledger
            .signal_secret("tw-globex/sigbot")
            .await
            .unwrap()
            .is_none()
    );
    // The secret is stored as its hash only.
    let stored = f
        .ledger
        .signal_secret("tw-acme/sigbot")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.secret_hash, secret);
    assert_eq!(stored.secret_hash, hex::encode(key.as_ref()));
}
