//! The Azure client wired to this fake (feature `client`), so tests of the code that uses
//! `tradewind-azure` sign in and call ARM the same way without repeating the set-up.

use std::time::Duration;

use tradewind_azure::arm::{ArmClient, ArmOptions};
use tradewind_azure::cloud::AzureCloud;
use tradewind_azure::credential::{Connection, CredentialConfig};
use tradewind_azure::transport::TransportOptions;

use crate::server::Handle;
use crate::state::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT};

/// ARM options for the fake: it finishes operations in milliseconds, so poll and retry
/// every 20 ms.
pub fn fast_arm_options() -> ArmOptions {
    ArmOptions {
        poll_interval: Duration::from_millis(20),
        initial_retry_delay: Duration::from_millis(20),
        ..ArmOptions::default()
    }
}

impl Handle {
    /// The fake's endpoints (AzurePublic with its ARM and login hosts) and its CA, signed
    /// in as the default service principal.
    pub fn connection(&self) -> Connection {
        self.connection_with_secret(DEFAULT_CLIENT_SECRET)
    }

    /// As [`Handle::connection`], with another client secret (a wrong one fails at the
    /// first token request, not here).
    pub fn connection_with_secret(&self, secret: &str) -> Connection {
        let cloud = AzureCloud::with_overrides(
            "AzurePublic",
            Some(&self.arm_endpoint()),
            Some(&self.authority_host()),
        )
        .expect("the fake's endpoints are https URLs");
        let transport = TransportOptions {
            extra_ca_pem: Some(self.ca_pem().as_bytes().to_vec()),
        };
        let credential = CredentialConfig::ClientSecret {
            tenant_id: DEFAULT_TENANT.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            secret: azure_core::credentials::Secret::new(secret.to_string()),
        }
        .build(&cloud, &transport)
        .expect("a client-secret credential builds");
        Connection {
            cloud,
            transport,
            credential,
        }
    }

    /// An ARM client on [`Handle::connection`] with [`fast_arm_options`].
    pub fn arm_client(&self) -> ArmClient {
        self.connection()
            .arm(fast_arm_options())
            .expect("the fake's CA is a valid root")
    }
}
