//! The Azure [`Cloud`]: a bot's Cosmos container, Key Vault secret (holding the exchange
//! credentials from the bot's Secret), Service Bus topic and, with workload identity, its
//! own Azure identity federated with its worker's ServiceAccount and granted access to
//! those three resources only, through `tradewind_azure::bot`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};
use tradewind_azure::args::ConnectionArgs;
use tradewind_azure::arm::ArmOptions;
use tradewind_azure::bot::{
    BotCloudConfig, BotRef, BotResources, BotWants, ExchangeCredentials, WorkloadIdentity,
};
use tradewind_crds::TradingBot;

use super::{Cloud, CloudError, CloudFuture};
use crate::build::Names;
use crate::status::CloudState;

/// Operator settings for Azure, from flags or the environment the Helm chart sets.
#[derive(Clone, Debug, clap::Args)]
pub struct AzureArgs {
    /// Cloud, endpoints and sign-in.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Subscription of the environment.
    #[arg(long, env = "AZURE_SUBSCRIPTION_ID")]
    pub subscription_id: Option<String>,
    /// Resource group of the environment's shared resources.
    #[arg(long, env = "TRADEWIND_AZURE_RESOURCE_GROUP")]
    pub resource_group: Option<String>,
    /// Cosmos DB account.
    #[arg(long, env = "TRADEWIND_COSMOS_ACCOUNT")]
    pub cosmos_account: Option<String>,
    /// Cosmos DB SQL database.
    #[arg(long, env = "TRADEWIND_COSMOS_DATABASE", default_value = "tradewind")]
    pub cosmos_database: String,
    /// Autoscale max RU/s of each bot's container (unset: shared database throughput).
    #[arg(long, env = "TRADEWIND_COSMOS_CONTAINER_MAX_THROUGHPUT")]
    pub cosmos_container_max_throughput: Option<u32>,
    /// Key Vault for the bots' exchange credentials.
    #[arg(long, env = "TRADEWIND_KEYVAULT_NAME")]
    pub key_vault: Option<String>,
    /// Service Bus namespace for the bots' event topics.
    #[arg(long, env = "TRADEWIND_SERVICEBUS_NAMESPACE")]
    pub service_bus_namespace: Option<String>,
    /// Cosmos DB endpoint the workers use.
    #[arg(long, env = "TRADEWIND_COSMOS_ENDPOINT")]
    pub cosmos_endpoint: Option<String>,
    /// The market-data container (database, container) in the account every bot's
    /// identity may read (set from the market-data flags, not a flag of its own).
    #[arg(skip)]
    pub market_data: Option<(String, String)>,
    /// Key Vault URI the workers use.
    #[arg(long, env = "TRADEWIND_KEYVAULT_URI")]
    pub key_vault_uri: Option<String>,
    /// Service Bus endpoint the workers use.
    #[arg(long, env = "TRADEWIND_SERVICEBUS_ENDPOINT")]
    pub service_bus_endpoint: Option<String>,
    /// The AKS cluster's OIDC issuer URL. Set, every bot using Azure gets its own
    /// user-assigned identity federated with its worker's ServiceAccount; unset, workers
    /// get no Azure identity.
    #[arg(long, env = "TRADEWIND_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
}

/// Settings that cannot be used; names the flag and environment variable.
#[derive(Debug, thiserror::Error)]
pub enum AzureConfigError {
    /// A required setting is missing.
    #[error("--cloud azure needs --{flag} (env {env})")]
    Missing {
        /// Flag.
        flag: &'static str,
        /// Environment variable.
        env: &'static str,
    },
    /// The OIDC issuer is not an https URL.
    #[error("--oidc-issuer (TRADEWIND_OIDC_ISSUER) {0:?} is not an https URL")]
    OidcIssuer(String),
    /// Endpoints, credentials or transport are invalid.
    #[error("azure: {0}")]
    Setup(String),
}

fn required(
    value: &Option<String>,
    flag: &'static str,
    env: &'static str,
) -> Result<String, AzureConfigError> {
    value
        .clone()
        .filter(|v| !v.is_empty())
        .ok_or(AzureConfigError::Missing { flag, env })
}

impl AzureArgs {
    /// The per-bot configuration these settings describe (pure; no I/O).
    pub fn bot_config(&self) -> Result<BotCloudConfig, AzureConfigError> {
        let workload_identity = match self.oidc_issuer.as_deref().filter(|i| !i.is_empty()) {
            Some(issuer) if issuer.starts_with("https://") && issuer.len() > "https://".len() => {
                Some(WorkloadIdentity {
                    issuer: issuer.to_owned(),
                })
            }
            Some(other) => return Err(AzureConfigError::OidcIssuer(other.to_owned())),
            None => None,
        };
        Ok(BotCloudConfig {
            subscription_id: required(
                &self.subscription_id,
                "subscription-id",
                "AZURE_SUBSCRIPTION_ID",
            )?,
            resource_group: required(
                &self.resource_group,
                "resource-group",
                "TRADEWIND_AZURE_RESOURCE_GROUP",
            )?,
            cosmos_account: required(
                &self.cosmos_account,
                "cosmos-account",
                "TRADEWIND_COSMOS_ACCOUNT",
            )?,
            cosmos_database: self.cosmos_database.clone(),
            cosmos_container_max_throughput: self.cosmos_container_max_throughput,
            key_vault: required(&self.key_vault, "key-vault", "TRADEWIND_KEYVAULT_NAME")?,
            key_vault_uri: self.key_vault_uri.clone(),
            service_bus_namespace: required(
                &self.service_bus_namespace,
                "service-bus-namespace",
                "TRADEWIND_SERVICEBUS_NAMESPACE",
            )?,
            workload_identity,
            market_data: self.market_data.clone(),
        })
    }

    /// What the workers are told about their Azure resources.
    pub fn worker_env(&self) -> crate::build::WorkerAzure {
        crate::build::WorkerAzure {
            cosmos_endpoint: self.cosmos_endpoint.clone(),
            cosmos_database: self.cosmos_database.clone(),
            key_vault_uri: self.key_vault_uri.clone(),
            service_bus_endpoint: self.service_bus_endpoint.clone(),
        }
    }

    /// Read access to the environment's storage account (the one a `blob://{account}/…`
    /// feed archive names, at `endpoint` if given) for Blob Storage models, signed in as
    /// the operator; `None` without a Blob archive.
    pub fn model_blobs(
        &self,
        archive: Option<&str>,
        endpoint: Option<&str>,
    ) -> Result<Option<crate::model::ModelBlobs>, AzureConfigError> {
        let Some(account) = archive
            .and_then(|a| a.strip_prefix("blob://"))
            .and_then(|rest| rest.split('/').next())
            .filter(|a| !a.is_empty())
        else {
            return Ok(None);
        };
        let setup = |e: &dyn std::fmt::Display| AzureConfigError::Setup(e.to_string());
        let azure = self
            .connection
            .connect("AzurePublic")
            .map_err(|e| setup(&e))?;
        let endpoint = endpoint
            .filter(|e| !e.trim().is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| tradewind_azure::blob::endpoint_for(&azure.cloud, account));
        let client = tradewind_azure::blob::BlobClient::new(
            &endpoint,
            azure.credential,
            &azure.transport,
            tradewind_azure::blob::BlobOptions::default(),
        )
        .map_err(|e| setup(&e))?;
        Ok(Some(crate::model::ModelBlobs { endpoint, client }))
    }

    /// Builds the Azure cloud: credential, ARM client, per-bot resources.
    pub fn build(&self, client: Client) -> Result<AzureCloud, AzureConfigError> {
        let config = self.bot_config()?;
        let setup = |e: &dyn std::fmt::Display| AzureConfigError::Setup(e.to_string());
        let azure = self
            .connection
            .connect("AzurePublic")
            .map_err(|e| setup(&e))?;
        let arm = azure.arm(ArmOptions::default()).map_err(|e| setup(&e))?;
        Ok(AzureCloud {
            resources: Arc::new(BotResources::new(
                arm,
                azure.credential,
                azure.transport,
                config,
            )),
            client,
        })
    }
}

/// Bots' resources on Azure.
#[derive(Clone)]
pub struct AzureCloud {
    resources: Arc<BotResources>,
    client: Client,
}

impl AzureCloud {
    /// From already-built parts (tests build the ARM client against the fakes).
    pub fn new(resources: BotResources, client: Client) -> Self {
        Self {
            resources: Arc::new(resources),
            client,
        }
    }

    /// Reads the exchange credentials from the Secret `spec.credentials.secretRef` names.
    /// Errors name the Secret and key, never a value.
    async fn credentials(&self, bot: &TradingBot) -> Result<ExchangeCredentials, CloudError> {
        let ns = bot.namespace().unwrap_or_default();
        let Some(creds) = &bot.spec.credentials else {
            return Err(CloudError(
                "spec.cloud.keyVault: the Key Vault secret holds the exchange credentials; set spec.credentials.secretRef".into(),
            ));
        };
        let r = &creds.secret_ref;
        let secret = Api::<Secret>::namespaced(self.client.clone(), &ns)
            .get_opt(&r.name)
            .await
            .map_err(|e| {
                CloudError(format!(
                    "spec.credentials.secretRef: reading Secret {ns}/{}: {e}",
                    r.name
                ))
            })?
            .ok_or_else(|| {
                CloudError(format!(
                    "spec.credentials.secretRef: Secret {ns}/{} not found",
                    r.name
                ))
            })?;
        let value = |key: &str| -> Result<String, CloudError> {
            let data = secret.data.as_ref().and_then(|d| d.get(key));
            let bytes = data.ok_or_else(|| {
                CloudError(format!(
                    "spec.credentials.secretRef: Secret {ns}/{} has no key {key:?}",
                    r.name
                ))
            })?;
            String::from_utf8(bytes.0.clone()).map_err(|_| {
                CloudError(format!(
                    "spec.credentials.secretRef: Secret {ns}/{} key {key:?} is not UTF-8",
                    r.name
                ))
            })
        };
        Ok(ExchangeCredentials {
            api_key: value(&r.api_key_key)?,
            api_secret: value(&r.api_secret_key)?,
            field_names: (
                tradewind_crds::contract::API_KEY_FILE,
                tradewind_crds::contract::API_SECRET_FILE,
            ),
        })
    }
}

/// The bot as the provisioner names it.
pub fn bot_ref(bot: &TradingBot) -> BotRef {
    let name = bot.name_any();
    BotRef {
        namespace: bot.namespace().unwrap_or_default(),
        service_account: Names(&name).worker(),
        name,
    }
}

impl Cloud for AzureCloud {
    fn ensure<'a>(&'a self, bot: &'a TradingBot) -> CloudFuture<'a, CloudState> {
        Box::pin(async move {
            let spec = bot.spec.cloud.clone().unwrap_or_default();
            if !(spec.cosmos || spec.key_vault || spec.service_bus) {
                // Nothing asked for: no Azure call, and the status says so.
                return Ok(CloudState::NotNeeded);
            }
            let key_vault = if spec.key_vault {
                Some(self.credentials(bot).await?)
            } else {
                None
            };
            let wants = BotWants {
                cosmos: spec.cosmos,
                key_vault,
                service_bus: spec.service_bus,
            };
            let ids = self
                .resources
                .ensure(&bot_ref(bot), &wants)
                .await
                .map_err(|e| CloudError(e.to_string()))?;
            Ok(CloudState::Ready {
                cosmos_container_id: ids.cosmos_container_id,
                key_vault_secret_id: ids.key_vault_secret_id,
                service_bus_topic_id: ids.service_bus_topic_id,
                workload_identity_client_id: ids.identity.map(|i| i.client_id),
            })
        })
    }

    fn delete<'a>(&'a self, bot: &'a TradingBot) -> CloudFuture<'a, ()> {
        Box::pin(async move {
            self.resources
                .delete(&bot_ref(bot))
                .await
                .map_err(|e| CloudError(e.to_string()))
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
        azure: AzureArgs,
    }

    fn config(extra: &[&str]) -> Result<BotCloudConfig, AzureConfigError> {
        let base = [
            "x",
            "--subscription-id",
            "s",
            "--resource-group",
            "rg",
            "--cosmos-account",
            "c",
            "--key-vault",
            "kv",
            "--service-bus-namespace",
            "sb",
        ];
        Cli::try_parse_from(base.iter().chain(extra))
            .unwrap()
            .azure
            .bot_config()
    }

    #[test]
    fn the_oidc_issuer_alone_turns_per_bot_identities_on() {
        let on = config(&[
            "--oidc-issuer",
            "https://westeurope.oic.prod-aks.azure.com/t/i/",
        ]);
        assert_eq!(
            on.unwrap().workload_identity,
            Some(WorkloadIdentity {
                issuer: "https://westeurope.oic.prod-aks.azure.com/t/i/".into()
            })
        );
        assert_eq!(
            config(&["--oidc-issuer", ""]).unwrap().workload_identity,
            None
        );
        let err = config(&["--oidc-issuer", "http://issuer"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--oidc-issuer (TRADEWIND_OIDC_ISSUER) \"http://issuer\" is not an https URL"
        );
        // The shared worker identity is gone: its flag is refused rather than ignored.
        assert!(Cli::try_parse_from(["x", "--worker-identity", "id-tw-worker"]).is_err());
    }
}
