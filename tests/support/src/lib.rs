//! Test-only support shared by the test servers (`tests/apiserver`, `tests/azure`,
//! `tests/binance`): each runs on its own thread and Tokio runtime, so a test can use it
//! whether the test itself is sync or async, and dropping the server stops it. A server
//! implements [`Served`]; [`TestServer`] is the one wrapper around all three.

#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "postgres")]
pub mod postgres;

use std::future::Future;
use std::time::Duration;

/// A server [`TestServer`] can run: its handle, started on a listener inside a runtime.
pub trait Served: Clone + Send + Sync + 'static {
    /// What the server starts from.
    type Config: Send + 'static;
    /// Why it did not start; holds the [`HostError`] of binding and the runtime too.
    type Error: From<HostError> + Send + 'static;
    /// Name of its threads.
    const THREAD_NAME: &'static str;
    /// Starts serving on `listener` in the current runtime.
    fn spawn(listener: tokio::net::TcpListener, config: Self::Config) -> Result<Self, Self::Error>;
    /// Tells the server to stop.
    fn shutdown(&self);
    /// Becomes `true` once the server is told to stop.
    fn stopping(&self) -> tokio::sync::watch::Receiver<bool>;
}

/// A [`Served`] server on its own thread and runtime, for tests (sync or async). Dropping
/// it shuts the server down and waits for its thread.
#[derive(Debug)]
pub struct TestServer<S: Served> {
    handle: S,
    thread: ServerThread,
}

impl<S: Served> TestServer<S> {
    /// Starts a server with the default config on `127.0.0.1` and a free port.
    pub fn start() -> Result<Self, S::Error>
    where
        S::Config: Default,
    {
        Self::start_with(S::Config::default())
    }

    /// Starts a server with the given config on `127.0.0.1` and a free port.
    pub fn start_with(config: S::Config) -> Result<Self, S::Error> {
        let (handle, thread) = start_on_own_thread(
            S::THREAD_NAME,
            move |listener| S::spawn(listener, config),
            |h: S| async move {
                let _ = h.stopping().wait_for(|v| *v).await;
            },
        )
        .map_err(|e| match e {
            StartError::Bind(e) => S::Error::from(StartError::Bind(e)),
            StartError::Runtime(e) => S::Error::from(StartError::Runtime(e)),
            StartError::Server(e) => e,
        })?;
        Ok(Self { handle, thread })
    }

    /// The control handle.
    pub fn handle(&self) -> &S {
        &self.handle
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.handle.shutdown();
        self.thread.join();
    }
}

impl<S: Served> std::ops::Deref for TestServer<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.handle
    }
}

impl<S: Served> Drop for TestServer<S> {
    fn drop(&mut self) {
        self.stop();
    }
}

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

/// Binding a port or starting the runtime failed (the server itself did not run).
pub type HostError = StartError<std::convert::Infallible>;

/// The thread a server runs on; [`ServerThread::join`] waits for it after the server was
/// told to shut down.
#[derive(Debug)]
struct ServerThread(Option<std::thread::JoinHandle<()>>);

impl ServerThread {
    /// Waits for the thread (idempotent).
    fn join(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = t.join();
        }
    }
}

/// Binds a free port on 127.0.0.1, starts the server with `spawn` inside a new runtime on
/// a thread named `name`, and keeps that runtime until `stopped(handle)` completes.
/// Returns the server's handle and its thread.
fn start_on_own_thread<H, E, Fut>(
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
    struct Echo {
        stop: tokio::sync::watch::Sender<bool>,
        listener: std::sync::Arc<tokio::net::TcpListener>,
    }

    #[derive(Debug, thiserror::Error)]
    enum EchoError {
        #[error(transparent)]
        Host(#[from] HostError),
        #[error("refused")]
        Refused,
    }

    impl Served for Echo {
        /// Whether to refuse to start.
        type Config = bool;
        type Error = EchoError;
        const THREAD_NAME: &'static str = "tw-support-test";

        fn spawn(listener: tokio::net::TcpListener, refuse: bool) -> Result<Self, EchoError> {
            if refuse {
                return Err(EchoError::Refused);
            }
            Ok(Echo {
                stop: tokio::sync::watch::channel(false).0,
                listener: listener.into(),
            })
        }

        fn shutdown(&self) {
            self.stop.send_replace(true);
        }

        fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
            self.stop.subscribe()
        }
    }

    #[test]
    fn serves_until_shut_down_then_joins() {
        let server = TestServer::<Echo>::start().unwrap();
        let addr = server.listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        std::net::TcpStream::connect(addr).unwrap();
        let stop = server.handle().stop.clone();
        server.shutdown();
        assert!(*stop.borrow(), "told to stop");
        // The runtime is gone with its thread, and the listener with it.
        assert!(std::net::TcpStream::connect(addr).is_err());
    }

    #[test]
    fn a_failing_start_is_the_servers_error() {
        let err = TestServer::<Echo>::start_with(true).unwrap_err();
        assert!(matches!(err, EchoError::Refused), "{err:?}");
    }
}
