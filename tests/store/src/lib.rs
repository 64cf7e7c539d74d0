//! Test-only storage emulators, each a real server from npm (installed by
//! `tools/prereqs.sh` into `$TRADEWIND_STORE_NODE_DIR`, default
//! `~/.cache/tradewind-store-node`) started on a free port and stopped on drop:
//!
//! - [`Azurite`]: Blob Storage over HTTPS with `--oauth basic`, our own throw-away CA
//!   and a certificate for `*.blob.localhost` (production-style URLs, so the account is
//!   the host's first label). Azurite decodes the bearer token and checks its issuer,
//!   audience and lifetime, not its signature: the tests/azure fake's Entra issues
//!   tokens of that shape.
//! - [`Cosmos`]: `@vercel/cosmosdb-server` (plain HTTP on loopback) behind a TLS proxy
//!   for `*.documents.localhost` that does what the emulator does not: checks the
//!   `type=aad&ver=1.0&sig=` authorization carries a token the fake's Entra issued for
//!   the account's audience (else 401), and injects faults (429 with
//!   `x-ms-retry-after-ms`, 503, 403 substatus 1014) on request.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Where the npm packages are installed.
pub fn node_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TRADEWIND_STORE_NODE_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/tradewind-store-node")
}

fn package(rel: &str) -> PathBuf {
    let p = node_dir().join("node_modules").join(rel);
    assert!(
        p.exists(),
        "{} is missing: run tools/prereqs.sh (it installs azurite and @vercel/cosmosdb-server)",
        p.display()
    );
    p
}

/// A throw-away CA and a server certificate for `names` (and 127.0.0.1).
pub struct Certs {
    /// The CA certificate (PEM) clients trust.
    pub ca_pem: String,
    /// The server certificate chain (PEM).
    pub cert_pem: String,
    /// The server key (PKCS#8 PEM).
    pub key_pem: String,
    key_der: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

impl Certs {
    /// Generates the CA and the leaf.
    pub fn generate(names: &[&str]) -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Tradewind storage emulators CA");
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca.self_signed(&ca_key).expect("CA cert");
        let issuer = Issuer::new(ca, ca_key);
        let mut leaf =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("leaf params");
        leaf.subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        leaf.distinguished_name.push(DnType::CommonName, names[0]);
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf cert");
        Self {
            ca_pem: ca_cert.pem(),
            cert_pem: format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
            key_pem: leaf_key.serialize_pem(),
            key_der: leaf_key.serialize_der(),
            chain: vec![leaf_cert.der().to_vec(), ca_cert.der().to_vec()],
        }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let chain = self
            .chain
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A reqwest client for plain HTTP to an emulator on loopback. reqwest is built without
/// a TLS provider of its own here, and wants one installed even for plain HTTP.
pub fn plain_http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn scratch_dir(kind: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tw-{kind}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Starts `node args…` and reads its stdout until a line containing `ready`; returns the
/// child and that line. Later output is drained on a thread.
fn spawn_node(args: &[&std::ffi::OsStr], ready: &str) -> (Child, String) {
    let mut child = Command::new("node")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting node (apt package nodejs)");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = loop {
        match lines.next() {
            Some(Ok(l)) if l.contains(ready) => break l,
            Some(Ok(_)) => {}
            _ => {
                let _ = child.kill();
                panic!("node {args:?} exited before printing {ready:?}");
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, line)
}

fn port_after_colon(line: &str) -> u16 {
    line.trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// Azurite's Blob service over HTTPS with OAuth (see the crate docs).
pub struct Azurite {
    child: Child,
    port: u16,
    dir: PathBuf,
    certs: Certs,
}

impl Azurite {
    /// Starts Azurite (in-memory) on a free port.
    pub fn start() -> Self {
        let certs = Certs::generate(&["localhost", "*.blob.localhost"]);
        let dir = scratch_dir("azurite");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &certs.cert_pem).expect("cert file");
        std::fs::write(&key, &certs.key_pem).expect("key file");
        let main = package("azurite/dist/src/blob/main.js");
        let (child, line) = spawn_node(
            &[
                main.as_os_str(),
                "--blobHost".as_ref(),
                "127.0.0.1".as_ref(),
                "--blobPort".as_ref(),
                "0".as_ref(),
                "--oauth".as_ref(),
                "basic".as_ref(),
                "--cert".as_ref(),
                cert.as_os_str(),
                "--key".as_ref(),
                key.as_os_str(),
                "--inMemoryPersistence".as_ref(),
                "--disableTelemetry".as_ref(),
                "--silent".as_ref(),
            ],
            "successfully listens on https://",
        );
        Self {
            port: port_after_colon(&line),
            child,
            dir,
            certs,
        }
    }

    /// The Blob endpoint of `account`, production-style: `https://{account}.blob.localhost:{port}/`.
    pub fn endpoint(&self, account: &str) -> String {
        format!("https://{account}.blob.localhost:{}/", self.port)
    }

    /// The CA (PEM) that signed Azurite's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.certs.ca_pem
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fault the Cosmos proxy answers with instead of forwarding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `x-ms-retry-after-ms`.
    Throttle {
        /// The header's value.
        retry_after_ms: u64,
    },
    /// 503 Service Unavailable.
    Unavailable,
    /// 403 substatus 1014: the logical partition is full.
    PartitionFull,
}

#[derive(Default)]
struct ProxyState {
    faults: VecDeque<Fault>,
    forwarded: u64,
    refused: u64,
    faulted: u64,
}

/// `@vercel/cosmosdb-server` behind the authenticating, fault-injecting proxy.
pub struct Cosmos {
    child: Child,
    backend: String,
    port: u16,
    certs: Certs,
    state: Arc<Mutex<ProxyState>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Cosmos {
    /// Starts the emulator and the proxy; tokens are checked against `entra`.
    pub fn start(entra: tradewind_azure_fake::Handle) -> Self {
        let cli = package("@vercel/cosmosdb-server/lib/cli.js");
        let (child, line) = spawn_node(
            &[
                cli.as_os_str(),
                "--no-ssl".as_ref(),
                "--host".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                "0".as_ref(),
            ],
            "Ready to accept HTTP connections at",
        );
        let backend = format!("http://127.0.0.1:{}", port_after_colon(&line));
        let certs = Certs::generate(&["localhost", "*.documents.localhost"]);
        let tls = tokio_rustls::TlsAcceptor::from(certs.server_config());
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let proxy = Proxy {
            backend: backend.clone(),
            client: plain_http(),
            entra,
            state: state.clone(),
        };
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let proxy = Arc::new(proxy);
                let mut rx = rx;
                loop {
                    let (stream, _) = tokio::select! {
                        a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                        _ = &mut rx => return,
                    };
                    let (tls, proxy) = (tls.clone(), proxy.clone());
                    tokio::spawn(async move {
                        let Ok(stream) = tls.accept(stream).await else {
                            return;
                        };
                        let svc = service_fn(move |req| {
                            let proxy = proxy.clone();
                            async move { proxy.handle(req).await }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        Self {
            child,
            backend,
            port,
            certs,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The account endpoint through the proxy: `https://{account}.documents.localhost:{port}/`.
    pub fn endpoint(&self, account: &str) -> String {
        format!("https://{account}.documents.localhost:{}/", self.port)
    }

    /// The CA (PEM) that signed the proxy's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.certs.ca_pem
    }

    /// The emulator itself (plain HTTP, no authentication): for creating databases and
    /// containers, which Entra data-plane roles cannot do on the real service either.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// Answers the next requests with these faults, one each, before forwarding again.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    /// Requests forwarded to the emulator so far.
    pub fn forwarded(&self) -> u64 {
        self.state.lock().unwrap().forwarded
    }

    /// Requests refused for their authorization so far.
    pub fn refused(&self) -> u64 {
        self.state.lock().unwrap().refused
    }

    /// Requests answered with an injected fault so far.
    pub fn faulted(&self) -> u64 {
        self.state.lock().unwrap().faulted
    }
}

impl Drop for Cosmos {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Proxy {
    backend: String,
    client: reqwest::Client,
    entra: tradewind_azure_fake::Handle,
    state: Arc<Mutex<ProxyState>>,
}

fn reply(status: u16, headers: &[(&str, String)], body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, v.as_str());
    }
    r.header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

impl Proxy {
    /// The refusal for a request whose authorization is not a token of the fake's
    /// Entra for this account, `None` when it is.
    fn check_auth(&self, host: &str, authorization: Option<&str>) -> Option<String> {
        let Some(raw) = authorization else {
            return Some("no authorization header".into());
        };
        // The header is the URL-encoded form `type=aad&ver=1.0&sig={token}`.
        let plain: String = form_urlencoded::parse(format!("h={raw}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let decoded: Vec<(String, String)> = form_urlencoded::parse(plain.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |k: &str| {
            decoded
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        if get("type") != Some("aad") || get("ver") != Some("1.0") {
            return Some(format!("authorization {raw:?} is not type=aad&ver=1.0"));
        }
        let token = get("sig").unwrap_or_default();
        let want = format!("https://{host}");
        match self.entra.token_audience(token) {
            Some(aud) if aud == want => None,
            Some(aud) => Some(format!("token audience {aud:?}, expected {want:?}")),
            None => Some("token not issued by Entra".into()),
        }
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
        let host = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h).to_string();
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        if let Some(why) = self.check_auth(&host, auth.as_deref()) {
            self.state.lock().unwrap().refused += 1;
            let body = format!("{{\"code\":\"Unauthorized\",\"message\":{why:?}}}");
            return Ok(reply(401, &[], &body));
        }
        let fault = self.state.lock().unwrap().faults.pop_front();
        if let Some(fault) = fault {
            self.state.lock().unwrap().faulted += 1;
            return Ok(match fault {
                Fault::Throttle { retry_after_ms } => reply(
                    429,
                    &[("x-ms-retry-after-ms", retry_after_ms.to_string())],
                    r#"{"code":"TooManyRequests","message":"Request rate is large."}"#,
                ),
                Fault::Unavailable => reply(
                    503,
                    &[],
                    r#"{"code":"ServiceUnavailable","message":"Service is currently unavailable."}"#,
                ),
                Fault::PartitionFull => reply(
                    403,
                    &[("x-ms-substatus", "1014".into())],
                    r#"{"code":"Forbidden","message":"Partition key reached maximum size of 20 GB."}"#,
                ),
            });
        }
        let method = req.method().clone();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in req.headers() {
            if k != "host" && k != "authorization" {
                headers.insert(k.clone(), v.clone());
            }
        }
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let sent = self
            .client
            .request(method, format!("{}{path}", self.backend))
            .headers(headers)
            .body(body)
            .send()
            .await;
        self.state.lock().unwrap().forwarded += 1;
        Ok(match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let hs: Vec<(String, String)> = resp
                    .headers()
                    .iter()
                    .filter(|(k, _)| *k != "connection" && *k != "content-length")
                    .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
                    .collect();
                let body = resp.bytes().await.unwrap_or_default();
                let mut r = Response::builder().status(status);
                for (k, v) in hs {
                    r = r.header(k, v);
                }
                r.body(Full::new(body)).expect("response")
            }
            Err(e) => reply(502, &[], &format!("{{\"message\":{:?}}}", e.to_string())),
        })
    }
}
