//! The operator's own HTTP endpoints, served by the shared `tradewind-http`: `/healthz`
//! (the process serves), `/readyz` (it has started its controllers or is a standby
//! replica waiting for the lease) and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::controller::Context;

impl tradewind_http::Probe for Context {
    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn metrics(&self) -> String {
        self.metrics.encode()
    }
}

/// Serves the endpoints on `addr` until the task is dropped; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    ctx: Arc<Context>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    tradewind_http::serve(addr, ctx).await
}
