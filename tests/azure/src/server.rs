//! The HTTPS listener, Host-header routing, and the control handles for tests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tradewind_test_support::Served;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::state::{FakeConfig, OpFailure, RequestRecord, State};
use crate::util::{Reply, arm_error, query_get, query_pairs};
use crate::{FakeError, arm, keyvault, login, servicebus};

/// Largest request body accepted.
const MAX_BODY: usize = 16 << 20;

/// State shared by every connection.
pub struct Shared {
    state: Mutex<State>,
    shutdown: tokio::sync::watch::Sender<bool>,
    addr: SocketAddr,
    ca_pem: String,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("addr", &self.addr).finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A test server keeps serving after a panic elsewhere.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A control handle on a running fake: endpoints, observation, faults, shutdown.
#[derive(Clone, Debug)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Starts serving HTTPS on `listener` in the current tokio runtime.
    pub fn spawn(listener: tokio::net::TcpListener, config: FakeConfig) -> Result<Self, FakeError> {
        let addr = listener.local_addr().map_err(|source| FakeError::Bind {
            addr: "listener".into(),
            source,
        })?;
        let tls = crate::tls::generate()?;
        let (tx, _) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config, addr.port())),
            shutdown: tx,
            addr,
            ca_pem: tls.ca_pem,
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config);
        tokio::spawn(accept_loop(listener, acceptor, shared.clone()));
        tracing::info!(%addr, "tradewind-azure-fake listening");
        Ok(Self { shared })
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.shared.addr.port()
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `https://management.localhost:PORT`.
    pub fn arm_endpoint(&self) -> String {
        format!("https://management.localhost:{}", self.port())
    }

    /// `https://login.localhost:PORT` (the Entra ID authority host).
    pub fn authority_host(&self) -> String {
        format!("https://login.localhost:{}", self.port())
    }

    /// `https://{vault}.vault.localhost:PORT/`.
    pub fn vault_url(&self, vault: &str) -> String {
        format!("https://{vault}.vault.localhost:{}/", self.port())
    }

    /// `https://{namespace}.servicebus.localhost:PORT/`.
    pub fn servicebus_url(&self, namespace: &str) -> String {
        format!("https://{namespace}.servicebus.localhost:{}/", self.port())
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.shared.ca_pem
    }

    /// Writes the CA certificate (PEM) to `path`.
    pub fn write_ca(&self, path: &std::path::Path) -> Result<(), FakeError> {
        std::fs::write(path, self.ca_pem()).map_err(|source| FakeError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// The configuration the fake runs with.
    pub fn config(&self) -> FakeConfig {
        self.shared.lock().config.clone()
    }

    /// Every request served since the start or the last [`Handle::reset_log`].
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.clone()
    }

    /// Mutating ARM and data-plane requests (PUT/PATCH/POST/DELETE), token requests and
    /// operation polls excluded.
    pub fn writes(&self) -> u64 {
        self.shared.lock().writes
    }

    /// Forgets the request log and the write count.
    pub fn reset_log(&self) {
        let mut st = self.shared.lock();
        st.log.clear();
        st.writes = 0;
    }

    /// The stored body of an ARM resource (id compared case-insensitively).
    pub fn resource(&self, id: &str) -> Option<Value> {
        self.shared
            .lock()
            .resources
            .get(&id.trim_end_matches('/').to_ascii_lowercase())
            .map(|r| r.body.clone())
    }

    /// `(id, body)` of every resource whose id starts with `prefix` (case-insensitive).
    pub fn resources_under(&self, prefix: &str) -> Vec<(String, Value)> {
        let p = prefix.to_ascii_lowercase();
        self.shared
            .lock()
            .resources
            .iter()
            .filter(|(k, _)| k.starts_with(&p))
            .map(|(_, r)| (r.id.clone(), r.body.clone()))
            .collect()
    }

    /// Answers the next `n` ARM requests with 429 and `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        self.shared.lock().throttle = (n > 0).then_some((n, retry_after_secs));
    }

    /// Answers the next `n` ARM requests with `status` and an ARM error body.
    pub fn fail_next(&self, status: u16, n: u32) {
        if n > 0 {
            self.shared.lock().failures.push_back((status, n));
        }
    }

    /// Makes the next long-running operation on a resource whose id contains
    /// `id_contains` end `Failed` with `code`/`message`.
    pub fn fail_operation(&self, id_contains: &str, code: &str, message: &str) {
        self.shared.lock().op_failures.push(OpFailure {
            id_contains: id_contains.into(),
            code: code.into(),
            message: message.into(),
        });
    }

    /// Keeps long-running operations on matching resources `InProgress` until [`Handle::release`].
    pub fn hold(&self, id_contains: &str) {
        self.shared.lock().holds.push(id_contains.into());
    }

    /// Lets every held operation proceed.
    pub fn release(&self) {
        self.shared.lock().holds.clear();
    }

    /// Messages waiting in a Service Bus subscription.
    pub fn queued_messages(&self, namespace: &str, topic: &str, subscription: &str) -> usize {
        let key = format!("{namespace}/{topic}/{subscription}").to_ascii_lowercase();
        self.shared.lock().queues.get(&key).map_or(0, |q| q.len())
    }

    /// The audience (scope without `/.default`) an access token this fake issued was
    /// requested for; `None` for a token it never issued. Lets a test put the fake's
    /// Entra in front of another emulator.
    pub fn token_audience(&self, token: &str) -> Option<String> {
        self.shared.lock().tokens.get(token).map(|t| t.aud.clone())
    }

    /// Stops accepting connections.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(%e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, %e, "TLS handshake failed");
                    return;
                }
            };
            let svc = service_fn(move |req| handle(shared.clone(), req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await
            {
                tracing::debug!(%peer, %e, "connection ended");
            }
        });
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = query_pairs(req.uri().query());
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let host_header = header("host")
        .or_else(|| req.uri().host().map(str::to_owned))
        .unwrap_or_default();
    let host = host_header
        .rsplit_once(':')
        .map_or(host_header.as_str(), |(h, _)| h)
        .to_ascii_lowercase();
    let authorization = header("authorization");
    let content_type = header("content-type");
    let broker = header("brokerproperties");
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(arm_error(
                413,
                "RequestEntityTooLarge",
                "The request body is too large.",
            )
            .into_response());
        }
    };
    let is_poll = {
        let lower = path.to_ascii_lowercase();
        lower.contains("/operationstatuses/") || lower.contains("/operationresults/")
    };
    {
        let mut st = shared.lock();
        st.log.push(RequestRecord {
            method: method.clone(),
            host: host.clone(),
            path: path.clone(),
            api_version: query_get(&query, "api-version"),
        });
        if host != "login.localhost"
            && !is_poll
            && matches!(method.as_str(), "PUT" | "PATCH" | "POST" | "DELETE")
        {
            st.writes += 1;
        }
    }
    let reply = if host == "management.localhost" {
        let mut st = shared.lock();
        arm::handle(
            &mut st,
            &arm::ArmRequest {
                method: &method,
                path: &path,
                query: &query,
                authorization: authorization.as_deref(),
                body: &body,
            },
        )
    } else if host == "login.localhost" {
        login::handle(&mut shared.lock(), &method, &path, &body)
    } else if let Some(vault) = host.strip_suffix(".vault.localhost") {
        keyvault::handle(
            &mut shared.lock(),
            &keyvault::KvRequest {
                vault,
                method: &method,
                path: &path,
                query: &query,
                authorization: authorization.as_deref(),
                body: &body,
            },
        )
    } else if let Some(ns) = host.strip_suffix(".servicebus.localhost") {
        service_bus(
            &shared,
            ns,
            &method,
            &path,
            &query,
            authorization.as_deref(),
            content_type.as_deref(),
            broker.as_deref(),
            &body,
        )
        .await
    } else {
        arm_error(
            404,
            "HostNotServed",
            format!("The Azure fake does not serve host '{host}'."),
        )
    };
    tracing::debug!(%method, %host, %path, status = reply.status, "request");
    Ok(reply.into_response())
}

#[allow(clippy::too_many_arguments)]
async fn service_bus(
    shared: &Shared,
    ns: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    authorization: Option<&str>,
    content_type: Option<&str>,
    broker: Option<&str>,
    body: &[u8],
) -> Reply {
    let target = match servicebus::route(&shared.lock(), ns, method, path, authorization) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match target {
        servicebus::SbTarget::Send { topic } => {
            servicebus::send(&mut shared.lock(), ns, &topic, content_type, broker, body)
        }
        servicebus::SbTarget::Receive { topic, sub } => {
            // Long-poll like the service: wait up to `timeout` seconds for a message.
            let secs = query_get(query, "timeout")
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(60)
                .min(230);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
            loop {
                match servicebus::receive(&mut shared.lock(), ns, &topic, &sub) {
                    Err(r) => return r,
                    Ok(Some(r)) => return r,
                    Ok(None) => {}
                }
                if tokio::time::Instant::now() >= deadline {
                    return Reply::empty(204);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }
}

/// A fake on its own thread and runtime, for tests (sync or async). Dropping it shuts
/// it down.
pub type TestServer = tradewind_test_support::TestServer<Handle>;

impl Served for Handle {
    type Config = FakeConfig;
    type Error = FakeError;
    const THREAD_NAME: &'static str = "tw-azure-fake";

    fn spawn(listener: tokio::net::TcpListener, config: FakeConfig) -> Result<Self, FakeError> {
        Handle::spawn(listener, config)
    }

    fn shutdown(&self) {
        Handle::shutdown(self)
    }

    fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shared.shutdown.subscribe()
    }
}
