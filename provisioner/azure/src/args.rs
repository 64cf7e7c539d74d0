//! The Azure flags every Tradewind binary shares (the operator, the worker and `twctl`):
//! which cloud, endpoint overrides, extra trusted CAs and how to sign in, each also read
//! from the environment the Helm chart sets.

use std::path::PathBuf;

use crate::cloud::{AzureCloud, CloudError};
use crate::credential::{Connection, CredentialConfig, CredentialError};
use crate::transport::{TransportError, TransportOptions};

/// How to reach Azure and sign in to it.
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectionArgs {
    /// Azure cloud: AzurePublic (the default), AzureChina or AzureUSGovernment.
    #[arg(long, env = "TRADEWIND_AZURE_CLOUD")]
    pub azure_cloud: Option<String>,
    /// Resource Manager endpoint override (Azure Stack, tests).
    #[arg(long, env = "TRADEWIND_ARM_ENDPOINT")]
    pub arm_endpoint: Option<String>,
    /// Entra ID authority host override (sovereign clouds, tests).
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    pub authority_host: Option<String>,
    /// Credential: workload-identity, managed-identity, azure-cli or client-secret; each
    /// reads the standard AZURE_* variables.
    #[arg(
        long,
        env = "TRADEWIND_AZURE_AUTH",
        default_value = "workload-identity",
        value_parser = ["workload-identity", "managed-identity", "azure-cli", "client-secret"]
    )]
    pub azure_auth: String,
    /// PEM certificates trusted in addition to the system store (private CAs, the fakes).
    #[arg(long, env = "TRADEWIND_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
}

/// Settings that cannot be used; names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Unknown cloud or a bad endpoint override.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// The extra CA file cannot be read or used.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The credential method lacks an input or was refused.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

impl ConnectionArgs {
    /// The cloud, `default_cloud` unless `--azure-cloud` names one, with the overrides.
    pub fn cloud(&self, default_cloud: &str) -> Result<AzureCloud, CloudError> {
        AzureCloud::with_overrides(
            self.azure_cloud.as_deref().unwrap_or(default_cloud),
            self.arm_endpoint.as_deref(),
            self.authority_host.as_deref(),
        )
    }

    /// Transport options: the extra CA file, if any, read now.
    pub fn transport(&self) -> Result<TransportOptions, TransportError> {
        let Some(path) = &self.extra_ca_file else {
            return Ok(TransportOptions::default());
        };
        let pem = std::fs::read(path)
            .map_err(|e| TransportError::Ca(format!("{}: {e}", path.display())))?;
        Ok(TransportOptions {
            extra_ca_pem: Some(pem),
        })
    }

    /// Endpoints, transport and credential, every setting checked before any request.
    pub fn connect(&self, default_cloud: &str) -> Result<Connection, ConnectError> {
        let cloud = self.cloud(default_cloud)?;
        let transport = self.transport()?;
        let credential =
            CredentialConfig::from_method(&self.azure_auth)?.build(&cloud, &transport)?;
        Ok(Connection {
            cloud,
            transport,
            credential,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        azure: ConnectionArgs,
    }

    #[test]
    fn flags_pick_the_cloud_and_overrides() {
        let cli = Cli::try_parse_from([
            "x",
            "--azure-cloud",
            "AzureChina",
            "--authority-host",
            "https://login.localhost:8443",
        ])
        .unwrap();
        let cloud = cli.azure.cloud("AzurePublic").unwrap();
        assert_eq!(cloud.name, "AzureChina");
        assert_eq!(
            cloud.resource_manager.as_str(),
            "https://management.chinacloudapi.cn/"
        );
        assert_eq!(
            cloud.authority_host.as_str(),
            "https://login.localhost:8443/"
        );
        // Without the flag the caller's default applies.
        let plain = Cli::try_parse_from(["x"]).unwrap().azure;
        let plain = plain.cloud("AzureUSGovernment").unwrap();
        assert_eq!(plain.name, "AzureUSGovernment");
    }

    #[test]
    fn a_bad_setting_is_named_before_any_request() {
        let err = Cli::try_parse_from(["x", "--azure-auth", "password"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("--azure-auth"), "{err}");
        let parse = |args: &[&str]| Cli::try_parse_from([&["x"], args].concat()).unwrap().azure;
        let err = parse(&["--extra-ca-file", "/nonexistent/ca.pem"])
            .connect("AzurePublic")
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("transport: extra CA certificates: /nonexistent/ca.pem: "),
            "{err}"
        );
        let err = parse(&["--arm-endpoint", "http://insecure"])
            .connect("AzurePublic")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "cloud: resourceManager \"http://insecure\" is not an https URL"
        );
    }
}
