//! The HTTP endpoints every long-running Tradewind process serves, one implementation
//! for the operator and the bot worker:
//!
//! - `/healthz`: 200 while the process serves;
//! - `/readyz`: 200 while the process says it is ready, 503 before;
//! - `/metrics`: the process's OpenMetrics text exposition.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

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

/// Serves the endpoints on `addr` until the returned task is aborted; returns the bound
/// address (bind port 0 to let the system choose).
pub async fn serve(
    addr: SocketAddr,
    probe: Arc<dyn Probe>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let probe = probe.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, probe.clone()));
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%e, "metrics connection ended");
                }
            });
        }
    });
    Ok((bound, task))
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
}
