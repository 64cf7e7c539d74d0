//! Credentials, chosen explicitly by configuration (never a silent chain): workload
//! identity in AKS, managed identity, the Azure CLI on a laptop, a client secret in CI.

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

use crate::arm::{ArmClient, ArmOptions};
use crate::cloud::AzureCloud;
use crate::transport::{TransportError, TransportOptions, azure_transport};

/// A cloud's endpoints, the transport's trust and a credential for them: what every Azure
/// client here is built from.
#[derive(Clone)]
pub struct Connection {
    /// The cloud's endpoints.
    pub cloud: AzureCloud,
    /// Transport settings (for further clients on the same trust store).
    pub transport: TransportOptions,
    /// The signed-in credential.
    pub credential: Arc<dyn TokenCredential>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("cloud", &self.cloud.name)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A Resource Manager client on this connection.
    pub fn arm(&self, options: ArmOptions) -> Result<ArmClient, TransportError> {
        ArmClient::new(
            &self.cloud,
            self.credential.clone(),
            &self.transport,
            options,
        )
    }
}

/// How to authenticate.
#[derive(Clone)]
pub enum CredentialConfig {
    /// AKS workload identity: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
    /// `AZURE_FEDERATED_TOKEN_FILE`, injected by the workload-identity webhook.
    WorkloadIdentity,
    /// The managed identity of the host; a user-assigned one by client ID if given.
    ManagedIdentity {
        /// Client ID of a user-assigned identity.
        client_id: Option<String>,
    },
    /// The signed-in Azure CLI (`az login`).
    AzureCli,
    /// A service principal with a client secret.
    ClientSecret {
        /// Tenant (directory) ID.
        tenant_id: String,
        /// Application (client) ID.
        client_id: String,
        /// The secret; never printed.
        secret: Secret,
    },
}

impl std::fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of every Debug output, and so out of logs and errors.
        f.write_str(self.kind())
    }
}

/// Credential configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Unknown `--auth` value.
    #[error(
        "auth: unknown method {0:?} (expected workload-identity, managed-identity, azure-cli or client-secret)"
    )]
    UnknownMethod(String),
    /// A variable the method needs is missing.
    #[error("auth {method}: environment variable {var} is not set")]
    MissingVar {
        /// Method.
        method: &'static str,
        /// Variable.
        var: &'static str,
    },
    /// The credential library refused the configuration.
    #[error("auth {method}: {message}")]
    Invalid {
        /// Method.
        method: &'static str,
        /// Reason (from azure_identity; holds no secret).
        message: String,
    },
    /// The transport could not be built.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
}

fn var(method: &'static str, name: &'static str) -> Result<String, CredentialError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(CredentialError::MissingVar { method, var: name })
}

impl CredentialConfig {
    /// The method name as written in configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WorkloadIdentity => "workload-identity",
            Self::ManagedIdentity { .. } => "managed-identity",
            Self::AzureCli => "azure-cli",
            Self::ClientSecret { .. } => "client-secret",
        }
    }

    /// Reads the method's inputs from the standard `AZURE_*` environment variables.
    pub fn from_method(method: &str) -> Result<Self, CredentialError> {
        match method {
            "workload-identity" => {
                for v in [
                    "AZURE_CLIENT_ID",
                    "AZURE_TENANT_ID",
                    "AZURE_FEDERATED_TOKEN_FILE",
                ] {
                    // Checked here so the error names the variable, not a library internal.
                    let _ = var("workload-identity", v)?;
                }
                Ok(Self::WorkloadIdentity)
            }
            "managed-identity" => Ok(Self::ManagedIdentity {
                client_id: std::env::var("AZURE_CLIENT_ID")
                    .ok()
                    .filter(|v| !v.is_empty()),
            }),
            "azure-cli" => Ok(Self::AzureCli),
            "client-secret" => Ok(Self::ClientSecret {
                tenant_id: var("client-secret", "AZURE_TENANT_ID")?,
                client_id: var("client-secret", "AZURE_CLIENT_ID")?,
                secret: Secret::new(var("client-secret", "AZURE_CLIENT_SECRET")?),
            }),
            other => Err(CredentialError::UnknownMethod(other.to_string())),
        }
    }

    /// Builds the credential; its token requests use our transport and the cloud's
    /// authority host.
    pub fn build(
        &self,
        cloud: &AzureCloud,
        transport: &TransportOptions,
    ) -> Result<Arc<dyn TokenCredential>, CredentialError> {
        let method = self.kind();
        let invalid = |e: azure_core::Error| CredentialError::Invalid {
            method,
            message: e.to_string(),
        };
        let client_options = ClientOptions {
            transport: Some(azure_transport(transport)?),
            cloud: Some(Arc::new(cloud.configuration())),
            ..Default::default()
        };
        Ok(match self {
            Self::WorkloadIdentity => {
                let options = WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions { client_options },
                    ..Default::default()
                };
                WorkloadIdentityCredential::new(Some(options)).map_err(invalid)?
            }
            Self::ManagedIdentity { client_id } => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    client_options,
                };
                ManagedIdentityCredential::new(Some(options)).map_err(invalid)?
            }
            Self::AzureCli => AzureCliCredential::new(Some(AzureCliCredentialOptions::default()))
                .map_err(invalid)?,
            Self::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                secret.clone(),
                Some(ClientSecretCredentialOptions { client_options }),
            )
            .map_err(invalid)?,
        })
    }
}
