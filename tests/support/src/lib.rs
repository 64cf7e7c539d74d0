//! Test-only support shared by the test servers (`tests/apiserver`, `tests/azure`,
//! `tests/binance`): each runs on its own thread and Tokio runtime, so a test can use it
//! whether the test itself is sync or async, and dropping the server stops it.

use std::future::Future;
use std::time::Duration;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError<E> {
    /// No free port on 127.0.0.1.
    #[error("binding 127.0.0.1:0: {0}")]
    Bind(std::io::Error),
    /// The thread or runtime could not be created.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    /// The server's own start-up failed.
    #[error(transparent)]
    Server(E),
}

/// The thread a server runs on; [`ServerThread::join`] waits for it after the server was
/// told to shut down.
#[derive(Debug)]
pub struct ServerThread(Option<std::thread::JoinHandle<()>>);

impl ServerThread {
    /// Waits for the thread (idempotent).
    pub fn join(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = t.join();
        }
    }
}

/// Binds a free port on 127.0.0.1, starts the server with `spawn` inside a new runtime on
/// a thread named `name`, and keeps that runtime until `stopped(handle)` completes.
/// Returns the server's handle and its thread.
pub fn start_on_own_thread<H, E, Fut>(
    name: &str,
    spawn: impl FnOnce(tokio::net::TcpListener) -> Result<H, E> + Send + 'static,
    stopped: impl FnOnce(H) -> Fut + Send + 'static,
) -> Result<(H, ServerThread), StartError<E>>
where
    H: Clone + Send + 'static,
    E: Send + 'static,
    Fut: Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(StartError::Bind)?;
    listener
        .set_nonblocking(true)
        .map_err(StartError::Runtime)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name(name)
        .build()
        .map_err(StartError::Runtime)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("{name}-main"))
        .spawn(move || {
            rt.block_on(async move {
                let started = tokio::net::TcpListener::from_std(listener)
                    .map_err(StartError::Runtime)
                    .and_then(|l| spawn(l).map_err(StartError::Server));
                let handle = started.as_ref().ok().cloned();
                let _ = tx.send(started);
                if let Some(h) = handle {
                    stopped(h).await;
                }
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        })
        .map_err(StartError::Runtime)?;
    let handle = rx
        .recv()
        .map_err(|e| StartError::Runtime(std::io::Error::other(e)))??;
    Ok((handle, ServerThread(Some(thread))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in server: its handle keeps the listener, as an accept loop would.
    #[derive(Clone, Debug)]
    struct Echo(
        tokio::sync::watch::Sender<bool>,
        std::sync::Arc<tokio::net::TcpListener>,
    );

    #[test]
    fn serves_until_told_to_stop_then_joins() {
        let (stop, _) = tokio::sync::watch::channel(false);
        let (handle, mut thread) = start_on_own_thread(
            "tw-support-test",
            move |l: tokio::net::TcpListener| Ok::<_, std::io::Error>(Echo(stop, l.into())),
            |h: Echo| async move {
                let mut rx = h.0.subscribe();
                let _ = rx.wait_for(|v| *v).await;
            },
        )
        .unwrap();
        let addr = handle.1.local_addr().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        std::net::TcpStream::connect(addr).unwrap();
        handle.0.send_replace(true);
        thread.join();
        thread.join();
    }

    #[test]
    fn a_failing_start_is_the_servers_error() {
        let err = start_on_own_thread(
            "tw-support-fail",
            |_| Err::<Echo, _>("no config"),
            |_| async {},
        )
        .unwrap_err();
        assert!(matches!(err, StartError::Server("no config")));
    }
}
