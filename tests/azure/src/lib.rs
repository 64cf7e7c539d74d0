//! A test-only, stateful fake of Azure: Resource Manager (resource groups, nested
//! provider resources, long-running operations, throttling, ARM error bodies), the Entra
//! ID v2 token endpoint, the Key Vault secrets data plane (with soft delete) and the
//! Service Bus REST data plane. Shaped after Microsoft's published REST examples, copied
//! to `tests/azure/fixtures/`. Not product.
//!
//! It serves HTTPS only (the Azure SDKs refuse bearer tokens over http) on one port and
//! routes on the Host header: `management.localhost` (ARM), `login.localhost` (tokens),
//! `{vault}.vault.localhost`, `{ns}.servicebus.localhost`. Clients resolve every
//! `*.localhost` name to loopback themselves and trust [`Handle::ca_pem`].
//!
//! ```no_run
//! let fake = tradewind_azure_fake::TestServer::start().expect("fake");
//! println!("{} {}", fake.arm_endpoint(), fake.authority_host());
//! assert_eq!(fake.writes(), 0);
//! ```

mod arm;
#[cfg(feature = "client")]
pub mod client;
mod computed;
mod keyvault;
mod login;
mod server;
mod servicebus;
mod state;
pub mod tls;
mod types;
mod util;

pub use keyvault::KEYVAULT_API_VERSIONS;
pub use server::{Handle, TestServer};
pub use servicebus::BATCH_CONTENT_TYPE;
pub use state::{
    Client, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, FakeConfig, RequestRecord,
};

/// Errors starting the fake.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
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
    /// Generating the certificates or the TLS configuration failed.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// Writing a file (the CA certificate) failed.
    #[error("writing {path}: {source}")]
    Write {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}
