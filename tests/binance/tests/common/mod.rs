//! Shared helpers: start a paused mock on the repository's sample data, signed REST
//! calls through reqwest, raw WebSocket clients, and documented-shape comparison.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tradewind_binance_mock::{DEFAULT_API_KEY, DEFAULT_API_SECRET, MockConfig, TestServer};

/// `tests/binance` at run time.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"))
}

/// A documented example from `fixtures/`.
pub fn fixture(name: &str) -> Value {
    let p = crate_dir().join("fixtures").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The mock replaying BTCUSDT/ETHUSDT/SOLUSDT, paused.
pub fn start_paused() -> TestServer {
    let dir = crate_dir().join("../../examples/data");
    let config = MockConfig {
        start_paused: true,
        ..MockConfig::with_examples(dir)
    };
    TestServer::start_with(config).expect("start mock")
}

/// The JSON type name of a value.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Asserts `ours` has exactly the keys of `doc` (recursively, arrays by their first
/// element) with the same JSON types; `skip` names documented keys we do not send and
/// `nullable` keys whose documented `null` may be a string.
pub fn assert_shape(doc: &Value, ours: &Value, skip: &[&str], nullable: &[&str], at: &str) {
    match (doc, ours) {
        (Value::Object(d), Value::Object(o)) => {
            let mut dk: Vec<&String> = d.keys().filter(|k| !skip.contains(&k.as_str())).collect();
            let mut ok: Vec<&String> = o.keys().collect();
            dk.sort();
            ok.sort();
            assert_eq!(ok, dk, "keys of {at}: ours {ours}");
            for (k, dv) in d {
                if let Some(ov) = o.get(k) {
                    if nullable.contains(&k.as_str()) && dv.is_null() {
                        assert!(ov.is_null() || ov.is_string(), "{at}.{k}: {ov}");
                        continue;
                    }
                    assert_shape(dv, ov, skip, nullable, &format!("{at}.{k}"));
                }
            }
        }
        (Value::Array(d), Value::Array(o)) => {
            if let (Some(d0), Some(o0)) = (d.first(), o.first()) {
                assert_shape(d0, o0, skip, nullable, &format!("{at}[0]"));
            }
        }
        _ => assert_eq!(
            kind(ours),
            kind(doc),
            "type of {at}: ours {ours}, doc {doc}"
        ),
    }
}

/// Milliseconds since the epoch (the client's clock, as a real client signs).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// A minimal Binance REST client: signs with HMAC-SHA256 over the query string.
pub struct Rest {
    pub base: String,
    pub key: String,
    pub secret: String,
    pub http: reqwest::Client,
}

/// A REST reply: status, Retry-After, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Rest {
    /// A client for the default account.
    pub fn new(mock: &TestServer) -> Self {
        install_crypto_provider();
        Self {
            base: mock.rest_base(),
            key: DEFAULT_API_KEY.into(),
            secret: DEFAULT_API_SECRET.into(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }

    /// An unauthenticated GET.
    pub async fn public(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query))
            .await
            .expect("request")
    }

    /// The signed query string for `params` (timestamp appended).
    pub fn signed_query(&self, params: &[(&str, &str)]) -> String {
        let mut q: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        q.push(("timestamp".into(), now_ms().to_string()));
        let qs = form_encode(&q);
        let sig = tradewind_binance_mock::sign(&self.secret, &qs);
        format!("{qs}&signature={sig}")
    }

    /// A SIGNED request with all parameters in the query string.
    pub async fn try_signed(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let url = format!("{}{path}?{}", self.base, self.signed_query(params));
        self.send(
            self.http
                .request(method, url)
                .header("X-MBX-APIKEY", &self.key),
        )
        .await
    }

    /// [`Rest::try_signed`], panicking on transport errors.
    pub async fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        self.try_signed(method, path, params)
            .await
            .expect("request")
    }

    /// An API-key-only request (user data stream endpoints).
    pub async fn keyed(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        self.send(
            self.http
                .request(method, format!("{}{path}", self.base))
                .query(params)
                .header("X-MBX-APIKEY", &self.key),
        )
        .await
        .expect("request")
    }
}

/// `k=v&k=v`, form-urlencoded.
pub fn form_encode(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A raw WebSocket client.
pub type Ws = WebSocketStream<tokio::net::TcpStream>;

/// Connects to `ws://127.0.0.1:PORT{path}`.
pub async fn ws_connect(mock: &TestServer, path: &str) -> Ws {
    let tcp = tokio::net::TcpStream::connect(mock.addr())
        .await
        .expect("tcp");
    let url = format!("{}{path}", mock.ws_base());
    let (ws, resp) = tokio_tungstenite::client_async(url, tcp)
        .await
        .expect("ws handshake");
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

/// The next text frame as JSON (pings are skipped); `None` when the server closed.
/// A generous guard stops a broken test from hanging forever.
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("no WebSocket message within 20 s");
        match msg {
            Some(Ok(Message::Text(t))) => {
                return Some(serde_json::from_str(t.as_str()).expect("json"));
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Reads until a message satisfies `pred`.
pub async fn next_matching(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = next_json(ws).await.expect("stream closed");
        if pred(&v) {
            return v;
        }
    }
}

/// reqwest built with `rustls-no-provider` (feature unification in a workspace build)
/// refuses to build a client until a rustls provider is installed; ring is the one we use.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
