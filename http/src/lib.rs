//! The HTTP endpoints every long-running Tradewind process serves, one implementation
//! for the operator and the bot worker:
//!
//! - `/healthz`: 200 while the process serves;
//! - `/readyz`: 200 while the process says it is ready, 503 before;
//! - `/metrics`: the process's OpenMetrics text exposition.
//!
//! The listener is reachable from other pods, so it is bounded: a client has
//! [`Limits::header_read_timeout`] to send each request head, at most
//! [`Limits::max_connections`] connections are served at once (more wait in the kernel's
//! backlog), and a failing `accept` (out of descriptors) backs off instead of spinning.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

/// The media type of an OpenMetrics text exposition.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What a process exposes: whether it is ready, and its metrics.
pub trait Probe: Send + Sync + 'static {
    /// `/readyz` answers 200 while this is true.
    fn ready(&self) -> bool;
    /// The OpenMetrics text `/metrics` answers with.
    fn metrics(&self) -> String;
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// The answer to one request (no I/O: what `serve` sends back).
fn answer(path: &str, probe: &dyn Probe) -> Response<Full<Bytes>> {
    match path {
        "/healthz" => respond(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" if probe.ready() => respond(StatusCode::OK, "text/plain", "ready\n".into()),
        "/readyz" => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "starting\n".into(),
        ),
        "/metrics" => respond(StatusCode::OK, OPENMETRICS, probe.metrics()),
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

async fn handle(
    req: Request<Incoming>,
    probe: Arc<dyn Probe>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(answer(req.uri().path(), probe.as_ref()))
}

/// The address of the connection a request came on (a request extension the accept
/// loop adds: per-address rate limits read it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// How much a client may take from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a request head (each request of a kept-alive
    /// connection too); the connection is closed after it.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 5 s per request head and 32 connections: a Prometheus scrape and the kubelet's
    /// probes need a handful.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(5),
            max_connections: 32,
        }
    }
}

/// The pause after the `n`th consecutive failed `accept` (1-based): 10 ms doubling to
/// 1 s. A failing accept (EMFILE, ENFILE, ENOBUFS) fails again at once, so retrying
/// without a pause burns a core and starves the connections already accepted.
pub fn accept_backoff(n: u32) -> Duration {
    let ms = 10u64.saturating_mul(1u64 << n.saturating_sub(1).min(10));
    Duration::from_millis(ms.min(1_000))
}

/// Serves the endpoints on `addr` with the default [`Limits`] until the returned task is
/// aborted; returns the bound address (bind port 0 to let the system choose).
pub async fn serve(
    addr: SocketAddr,
    probe: Arc<dyn Probe>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_with(addr, probe, Limits::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    addr: SocketAddr,
    probe: Arc<dyn Probe>,
    limits: Limits,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = serve_connections(listener, limits, move |req| handle(req, probe.clone()));
    Ok((bound, task))
}

/// Serves HTTP/1 connections accepted on `listener` with `answer` within `limits` until
/// the returned task is aborted: the one accept loop of every Tradewind server.
pub fn serve_connections<F, Fut>(
    listener: tokio::net::TcpListener,
    limits: Limits,
    answer: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            // A slot first: at the limit, new connections wait in the backlog rather
            // than taking descriptors the served ones need.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => {
                    failures = 0;
                    accepted
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let pause = accept_backoff(failures);
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::warn!(%e, failures, pause_ms = pause.as_millis() as u64, "http: accept failed; backing off");
                    }
                    drop(slot);
                    tokio::time::sleep(pause).await;
                    continue;
                }
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let _slot = slot;
                if let Err(e) = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |mut req: Request<Incoming>| {
                            req.extensions_mut().insert(Peer(peer));
                            answer(req)
                        }),
                    )
                    .await
                {
                    tracing::debug!(%e, "http connection ended");
                }
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Flag(AtomicBool);

    impl Probe for Flag {
        fn ready(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }
        fn metrics(&self) -> String {
            "# TYPE up gauge\nup 1\n# EOF\n".into()
        }
    }

    async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        let code = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status");
        let (head, body) = out.split_once("\r\n\r\n").expect("head and body");
        (code, head.to_lowercase(), body.to_owned())
    }

    #[tokio::test]
    async fn health_readiness_metrics_and_not_found() {
        let probe = Arc::new(Flag(AtomicBool::new(false)));
        let (addr, task) = serve("127.0.0.1:0".parse().expect("addr"), probe.clone())
            .await
            .expect("serve");
        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/readyz").await.0, 503);
        probe.0.store(true, Ordering::Relaxed);
        assert_eq!(get(addr, "/readyz").await.0, 200);
        assert_eq!(get(addr, "/nope").await.0, 404);
        let (code, head, body) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        assert!(head.contains("application/openmetrics-text"), "{head}");
        assert!(body.ends_with("# EOF\n"), "{body}");
        task.abort();
    }

    /// Idle connections that never send a request head fill every slot; the server
    /// closes them after the header timeout and `/healthz` is answered. Before the
    /// limits, an idle connection was held forever.
    #[tokio::test]
    async fn idle_connections_are_closed_and_health_still_answers() {
        let probe = Arc::new(Flag(AtomicBool::new(true)));
        let limits = Limits {
            header_read_timeout: Duration::from_millis(200),
            max_connections: 2,
        };
        let (addr, task) = serve_with("127.0.0.1:0".parse().expect("addr"), probe, limits)
            .await
            .expect("serve");
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
        }
        assert_eq!(get(addr, "/healthz").await.0, 200);
        // Each idle connection is closed by the server (EOF or reset), not held open.
        for mut s in idle {
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
            assert!(
                buf.is_empty() || String::from_utf8_lossy(&buf).contains("408"),
                "{buf:?}"
            );
        }
        task.abort();
    }

    #[test]
    fn accept_backoff_grows_and_is_bounded() {
        assert_eq!(accept_backoff(1), Duration::from_millis(10));
        assert_eq!(accept_backoff(2), Duration::from_millis(20));
        assert_eq!(accept_backoff(7), Duration::from_millis(640));
        assert_eq!(accept_backoff(8), Duration::from_secs(1));
        assert_eq!(accept_backoff(u32::MAX), Duration::from_secs(1));
    }
}
