//! A test-only, in-memory Kubernetes API server. It speaks the real REST and watch
//! protocol well enough that kubectl, the Python `kubernetes` client, Helm and kube-rs
//! accept it, so the operator and the end-to-end suite can run where no real API server
//! can. Not product: correctness over speed, but it must be correct.
//!
//! - [`semantics`]: pure functions over JSON objects (schema validation, defaulting and
//!   pruning, patches, server-side apply, garbage-collection planning).
//! - [`auth`]: ServiceAccount tokens, TokenReview and the other reviews, and RBAC for
//!   ServiceAccount callers.
//! - [`server`]: the HTTP server, the object store, watches, discovery, the workload
//!   controllers, the process kubelet, counters and fault injection.
//!
//! ```no_run
//! let server = tradewind_apiserver::TestServer::start().expect("server");
//! println!("{}", server.kubeconfig_yaml());
//! assert_eq!(server.count("create", "configmaps"), 0);
//! ```

pub mod auth;
pub mod semantics;
pub mod server;

pub use server::{
    ApiError, Config, Handle, ImageMap, KubeletConfig, ServerError, TestServer, kubeconfig_yaml,
};
