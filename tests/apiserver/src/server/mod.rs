//! The server: an HTTP/1.1 listener (tokio + hyper) over the in-memory [`store`], the
//! workload [`controllers`] and the [`kubelet`], and handles for tests ([`TestServer`],
//! [`Handle`]).

pub mod controllers;
pub mod cronjobs;
pub mod error;
pub mod http;
pub mod kubelet;
pub mod node;
pub mod openapi;
pub mod protobuf;
pub mod registry;
pub mod scale;
pub mod selectors;
pub mod store;
pub mod table;
pub mod util;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tradewind_test_support::Served;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

pub use error::ApiError;
pub use kubelet::{ImageMap, KubeletConfig, KubeletError};
pub use store::Fault;
use store::State;

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding or configuring the listening socket failed.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Binding a free port or starting the server's thread and runtime failed.
    #[error(transparent)]
    Start(#[from] tradewind_test_support::HostError),
    /// The kubelet could not be set up.
    #[error(transparent)]
    Kubelet(#[from] KubeletError),
    /// Generating the token signing key, the CA or the TLS configuration failed.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// Writing the kubeconfig failed.
    #[error("writing the kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Tunables of a server instance.
#[derive(Clone, Debug)]
pub struct Config {
    /// How many events the watch history keeps (older resourceVersions get 410 Gone).
    pub history: usize,
    /// How often watches with `allowWatchBookmarks` receive a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Whether the workload controllers (Deployment, ReplicaSet), the scheduler and the
    /// kubelet run; without them Deployments get no ReplicaSets, pods and status.
    pub simulate_deployments: bool,
    /// How long a simulated container (image not mapped) takes to become ready.
    pub deployment_delay: Duration,
    /// The process kubelet: which images run as processes, and how.
    pub kubelet: KubeletConfig,
    /// Whether every namespace gets a `default` ServiceAccount and a `kube-root-ca.crt`
    /// ConfigMap, as in a real cluster (tests that count ConfigMaps turn it off).
    pub namespace_defaults: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            history: 10_000,
            bookmark_interval: Duration::from_secs(5),
            simulate_deployments: true,
            deployment_delay: Duration::from_millis(200),
            kubelet: KubeletConfig::default(),
            namespace_defaults: true,
        }
    }
}

/// State shared by every connection.
pub struct Shared {
    state: Mutex<State>,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Address the server listens on.
    pub addr: SocketAddr,
    bookmark_interval: Duration,
    kubelet: Arc<kubelet::Kubelet>,
    /// Token signing key, cluster CA and TLS configuration.
    pub auth: Arc<crate::auth::Authority>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("addr", &self.addr).finish()
    }
}

impl Shared {
    /// Locks the state, recovering from a poisoned lock (a test server keeps serving).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the kubelet keeps pods' volumes and logs.
    pub fn runtime_dir(&self) -> &std::path::Path {
        self.kubelet.dir()
    }
}

/// A control handle on a running server: address, counters, faults, shutdown.
#[derive(Clone, Debug)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// Starts serving on `listener` in the current tokio runtime.
    pub fn spawn(listener: tokio::net::TcpListener, config: Config) -> Result<Self, ServerError> {
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: "listener".into(),
            source,
        })?;
        raise_open_files_limit();
        let (tx, _) = tokio::sync::watch::channel(false);
        let kubelet = kubelet::Kubelet::new(config.kubelet.clone())?;
        let auth = Arc::new(crate::auth::Authority::generate(&[addr.ip()])?);
        let mut state = State::new(config.history);
        state.graceful_pods = config.simulate_deployments;
        crate::auth::bootstrap(&mut state, &auth, config.namespace_defaults);
        if config.simulate_deployments {
            node::register(&mut state);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            shutdown: tx,
            addr,
            bookmark_interval: config.bookmark_interval,
            kubelet: kubelet.clone(),
            auth,
        });
        let stop = shared.shutdown.subscribe();
        tokio::spawn(serve_until(listener, shared.clone(), stop));
        if config.simulate_deployments {
            tokio::spawn(cronjobs::run(shared.clone()));
            tokio::spawn(controllers::run(
                shared.clone(),
                kubelet,
                config.deployment_delay,
            ));
        }
        tracing::info!(%addr, "tradewind-apiserver listening");
        Ok(Self { shared })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// A kubeconfig pointing at this server (no authentication).
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig_yaml(&self.url())
    }

    /// `https://127.0.0.1:PORT`: the same port over TLS (certificate signed by
    /// [`Handle::root_ca_pem`]); clients only send credentials over TLS.
    pub fn https_url(&self) -> String {
        format!("https://{}", self.shared.addr)
    }

    /// The cluster CA certificate (PEM).
    pub fn root_ca_pem(&self) -> String {
        self.shared.auth.root_ca_pem().to_owned()
    }

    /// A ServiceAccount token from the TokenRequest API's logic: `audiences` empty means
    /// the API server's; the ServiceAccount must exist.
    pub fn create_token(
        &self,
        namespace: &str,
        service_account: &str,
        audiences: &[&str],
        expiration_seconds: i64,
    ) -> Result<String, ApiError> {
        crate::auth::issue(
            &self.shared,
            &crate::auth::TokenSpec {
                namespace: namespace.into(),
                service_account: service_account.into(),
                audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
                expiration_seconds,
                bound: None,
            },
        )
        .map(|t| t.token)
    }

    /// A kubeconfig that talks HTTPS to this server as the admin (its static admin
    /// token): what `kubectl --as` needs, since client-go sends impersonation headers only
    /// over TLS.
    pub fn https_kubeconfig_yaml(&self) -> String {
        crate::auth::token_kubeconfig_yaml(
            &self.https_url(),
            self.shared.auth.root_ca_pem(),
            self.shared.auth.admin_token(),
            "default",
        )
    }

    /// A kubeconfig that talks HTTPS to this server as the holder of `token`.
    pub fn token_kubeconfig_yaml(&self, token: &str, namespace: &str) -> String {
        crate::auth::token_kubeconfig_yaml(
            &self.https_url(),
            self.shared.auth.root_ca_pem(),
            token,
            namespace,
        )
    }

    /// The state shared with request handlers (for in-crate controllers such as the
    /// kubelet, e.g. [`crate::auth::pod_token`]).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Writes the kubeconfig to `path`.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> Result<(), ServerError> {
        std::fs::write(path, self.kubeconfig_yaml()).map_err(|source| ServerError::Kubeconfig {
            path: path.display().to_string(),
            source,
        })
    }

    /// Requests served so far, by (verb, resource); resource is the plural, with
    /// `/status` for the subresource.
    pub fn counters(&self) -> BTreeMap<(String, String), u64> {
        self.shared.lock().counters.clone()
    }

    /// Requests served for one verb and resource.
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.shared
            .lock()
            .counters
            .get(&(verb.to_owned(), resource.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Sum of the write verbs (create, update, patch, delete, deletecollection) on a
    /// resource, status subresource included.
    pub fn writes(&self, resource: &str) -> u64 {
        let status = format!("{resource}/status");
        self.shared
            .lock()
            .counters
            .iter()
            .filter(|((v, r), _)| {
                (r == resource || *r == status)
                    && matches!(
                        v.as_str(),
                        "create" | "update" | "patch" | "delete" | "deletecollection"
                    )
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Forgets all counters.
    pub fn reset_counters(&self) {
        self.shared.lock().counters.clear();
    }

    /// Fails the next `count` requests matching `verb` and `resource` (either `None`
    /// for any) with HTTP `code` and a matching Status.
    pub fn fail_next(&self, verb: Option<&str>, resource: Option<&str>, code: u16, count: u32) {
        self.shared.lock().faults.push(Fault {
            verb: verb.map(str::to_owned),
            resource: resource.map(str::to_owned),
            code,
            count,
        });
    }

    /// Ends every open watch stream.
    pub fn close_watches(&self) {
        self.shared.lock().close_watches();
    }

    /// Answers the next watch with an ERROR event carrying 410 Gone.
    pub fn gone_next_watch(&self) {
        self.shared.lock().gone_next_watches += 1;
    }

    /// Makes the named Deployment's rollout fail: its simulated pods never become ready
    /// and it reports `ProgressDeadlineExceeded`.
    pub fn fail_deployment(&self, namespace: &str, name: &str) {
        self.shared
            .lock()
            .failing_deployments
            .insert((namespace.to_owned(), name.to_owned()));
    }

    /// The current cluster-wide resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().resource_version()
    }

    /// Stops accepting connections, ends every watch, and kills every pod process.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        self.shared.lock().close_watches();
        self.shared.kubelet.shutdown();
    }
}

/// Raises the soft limit on open descriptors to the hard limit: every client connection,
/// watch and pod log holds one, and a soft limit of 1024 stops `accept` long before the
/// store is busy (clients then see connection errors).
fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let soft = lim.rlim_cur;
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                tracing::debug!(
                    from = soft,
                    to = lim.rlim_max,
                    "raised the open files limit"
                );
            }
        }
    }
}

/// A kubeconfig with one cluster, context and (anonymous) user.
pub fn kubeconfig_yaml(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: tradewind-test\n  cluster:\n    server: {server}\ncontexts:\n- name: tradewind-test\n  context:\n    cluster: tradewind-test\n    user: tradewind-test\n    namespace: default\ncurrent-context: tradewind-test\nusers:\n- name: tradewind-test\n  user: {{}}\npreferences: {{}}\n"
    )
}

/// Serves connections from `listener` until `stop` turns true (the server's shutdown,
/// or a pod's end for the listener on its gateway address).
pub(crate) async fn serve_until(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
            _ = stop.changed() => return,
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
        tokio::spawn(async move {
            // HTTPS and plain HTTP on one port: a TLS connection starts with a handshake
            // record (0x16), an HTTP/1.1 request with a method name.
            let mut first = [0u8; 1];
            if matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16) {
                let config = match stream.local_addr() {
                    Ok(local) => shared.auth.tls_config_for(local.ip()),
                    Err(_) => shared.auth.tls_config(),
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                match acceptor.accept(stream).await {
                    Ok(tls) => serve_connection(TokioIo::new(tls), shared, peer).await,
                    Err(e) => tracing::debug!(%peer, %e, "TLS handshake failed"),
                }
            } else {
                serve_connection(TokioIo::new(stream), shared, peer).await;
            }
        });
    }
}

async fn serve_connection<I>(io: I, shared: Arc<Shared>, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| http::handle(shared.clone(), req));
    if let Err(e) = http1::Builder::new().serve_connection(io, svc).await {
        tracing::debug!(%peer, %e, "connection ended");
    }
}

/// A server on its own thread and runtime, for tests (sync or async). Dropping it shuts
/// it down.
pub type TestServer = tradewind_test_support::TestServer<Handle>;

impl Served for Handle {
    type Config = Config;
    type Error = ServerError;
    const THREAD_NAME: &'static str = "tw-apiserver";

    fn spawn(listener: tokio::net::TcpListener, config: Config) -> Result<Self, ServerError> {
        Handle::spawn(listener, config)
    }

    fn shutdown(&self) {
        Handle::shutdown(self)
    }

    fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shared.shutdown.subscribe()
    }
}
