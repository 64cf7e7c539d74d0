//! Key Vault secrets through azure_security_keyvault_secrets: read, compare, write only on a
//! change, and recover a soft-deleted secret instead of fighting it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, StatusCode};
use azure_security_keyvault_secrets::models::SetSecretParameters;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use tracing::info;

use crate::transport::{TransportOptions, azure_transport};

/// A failed secret operation; never carries the value.
#[derive(Debug, thiserror::Error)]
#[error("key vault secret {name:?}: {message}")]
pub struct SecretError {
    /// Secret name.
    pub name: String,
    /// What went wrong.
    pub message: String,
}

/// What [`Secrets::ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// The value and content type already matched: no write.
    Unchanged,
    /// A new version was written.
    Written,
    /// A soft-deleted secret was recovered (and written if its value differed).
    Recovered,
}

/// Secrets in one vault.
pub struct Secrets {
    client: SecretClient,
    vault_uri: String,
    recovery_timeout: Duration,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("vault_uri", &self.vault_uri)
            .finish_non_exhaustive()
    }
}

fn status_of(e: &azure_core::Error) -> Option<StatusCode> {
    match e.kind() {
        ErrorKind::HttpResponse { status, .. } => Some(*status),
        _ => None,
    }
}

impl Secrets {
    /// A client for the vault at `vault_uri` (`https://{name}.vault.azure.net/`).
    pub fn new(
        vault_uri: &str,
        credential: Arc<dyn TokenCredential>,
        transport: &TransportOptions,
    ) -> Result<Self, SecretError> {
        let err = |message: String| SecretError {
            name: String::new(),
            message,
        };
        let options = SecretClientOptions {
            client_options: ClientOptions {
                transport: Some(azure_transport(transport).map_err(|e| err(e.to_string()))?),
                ..Default::default()
            },
            ..Default::default()
        };
        let client = SecretClient::new(vault_uri, credential, Some(options))
            .map_err(|e| err(format!("vault {vault_uri}: {e}")))?;
        Ok(Self {
            client,
            vault_uri: vault_uri.to_string(),
            recovery_timeout: Duration::from_secs(60),
        })
    }

    /// The secret's versionless ID.
    pub fn id(&self, name: &str) -> String {
        format!("{}/secrets/{name}", self.vault_uri.trim_end_matches('/'))
    }

    fn fail(name: &str, what: &str, e: &azure_core::Error) -> SecretError {
        // azure_core's message carries status and service error code, never the request body.
        SecretError {
            name: name.to_string(),
            message: format!("{what}: {}", crate::arm::error::describe(e)),
        }
    }

    /// The current value and content type; `None` if absent (or only soft-deleted).
    async fn current(&self, name: &str) -> Result<Option<(String, Option<String>)>, SecretError> {
        match self.client.get_secret(name, None).await {
            Ok(response) => {
                let secret = response
                    .into_model()
                    .map_err(|e| Self::fail(name, "read", &e))?;
                Ok(Some((
                    secret.value.unwrap_or_default(),
                    secret.content_type,
                )))
            }
            Err(e) if status_of(&e) == Some(StatusCode::NotFound) => Ok(None),
            Err(e) => Err(Self::fail(name, "read", &e)),
        }
    }

    /// Makes the secret hold `value`; writes only when the value or content type differ.
    pub async fn ensure(
        &self,
        name: &str,
        value: &str,
        content_type: &str,
        tags: &HashMap<String, String>,
    ) -> Result<Ensured, SecretError> {
        let mut outcome = Ensured::Written;
        let current = match self.current(name).await? {
            Some(c) => Some(c),
            None => {
                if self.recover_if_deleted(name).await? {
                    outcome = Ensured::Recovered;
                    self.current(name).await?
                } else {
                    None
                }
            }
        };
        if let Some((v, ct)) = &current
            && v == value
            && ct.as_deref() == Some(content_type)
        {
            return Ok(if outcome == Ensured::Recovered {
                Ensured::Recovered
            } else {
                Ensured::Unchanged
            });
        }
        let parameters = SetSecretParameters {
            value: Some(value.to_string()),
            content_type: Some(content_type.to_string()),
            tags: Some(tags.clone()),
            ..Default::default()
        };
        let body = parameters
            .try_into()
            .map_err(|e: azure_core::Error| Self::fail(name, "encode", &e))?;
        self.client
            .set_secret(name, body, None)
            .await
            .map_err(|e| Self::fail(name, "write", &e))?;
        info!(secret = name, "key vault secret written");
        Ok(outcome)
    }

    /// Recovers a soft-deleted secret and waits until it is readable. False if none.
    async fn recover_if_deleted(&self, name: &str) -> Result<bool, SecretError> {
        match self.client.get_deleted_secret(name, None).await {
            Ok(_) => {}
            Err(e) if status_of(&e) == Some(StatusCode::NotFound) => return Ok(false),
            Err(e) => return Err(Self::fail(name, "read deleted", &e)),
        }
        info!(secret = name, "recovering soft-deleted key vault secret");
        self.client
            .recover_deleted_secret(name, None)
            .await
            .map_err(|e| Self::fail(name, "recover", &e))?;
        // Recovery is asynchronous: the secret answers 404 until it is back.
        let started = std::time::Instant::now();
        loop {
            if self.current(name).await?.is_some() {
                return Ok(true);
            }
            if started.elapsed() > self.recovery_timeout {
                return Err(SecretError {
                    name: name.to_string(),
                    message: format!(
                        "still recovering after {} s",
                        self.recovery_timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Deletes the secret (soft delete when the vault has it on). Absent is success.
    pub async fn delete(&self, name: &str) -> Result<(), SecretError> {
        match self.client.delete_secret(name, None).await {
            Ok(_) => Ok(()),
            Err(e) if status_of(&e) == Some(StatusCode::NotFound) => Ok(()),
            Err(e) => Err(Self::fail(name, "delete", &e)),
        }
    }
}
