//! A TradingBot's own Azure resources: its Cosmos DB container, its Key Vault secret, its
//! Service Bus topic (plus a subscription for notifications) and the federated credential
//! that lets its worker's ServiceAccount act as the worker identity. Names and bodies are
//! pure functions; [`BotResources`] reads, compares and writes only on a difference.

use std::collections::HashMap;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::arm::{ArmClient, ArmError, ResourceId};
use crate::keyvault::{SecretError, Secrets};
use crate::names::{self, Kind, NameError};
use crate::transport::TransportOptions;

/// Where the environment's shared resources live (the outputs of `twctl env apply`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotCloudConfig {
    /// Subscription.
    pub subscription_id: String,
    /// Resource group of the shared resources.
    pub resource_group: String,
    /// Cosmos DB account; bots get containers in `cosmos_database`.
    pub cosmos_account: String,
    /// Cosmos DB SQL database.
    pub cosmos_database: String,
    /// Autoscale max RU/s per bot container; `None` shares the database's throughput
    /// (and is required on serverless accounts).
    pub cosmos_container_max_throughput: Option<u32>,
    /// Key Vault holding the bots' exchange credentials.
    pub key_vault: String,
    /// The vault's data-plane URI; read from Resource Manager when not given (which then
    /// needs read access to the vault resource).
    pub key_vault_uri: Option<String>,
    /// Service Bus namespace for the bots' event topics.
    pub service_bus_namespace: String,
    /// The workers' user-assigned identity and the cluster's OIDC issuer: when both are
    /// set, each bot's ServiceAccount gets a federated credential on that identity.
    pub workload_identity: Option<WorkloadIdentity>,
}

/// The worker identity that bots' ServiceAccounts federate with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadIdentity {
    /// Name of the user-assigned identity (in the shared resource group).
    pub identity: String,
    /// The AKS OIDC issuer URL.
    pub issuer: String,
}

/// Which bot, as Kubernetes knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The worker's ServiceAccount name.
    pub service_account: String,
}

/// Exchange credentials to keep in the bot's Key Vault secret.
#[derive(Clone)]
pub struct ExchangeCredentials {
    /// API key.
    pub api_key: String,
    /// API secret.
    pub api_secret: String,
    /// The secret's JSON field names for the key and the secret: the operator ↔ worker
    /// contract's (`tradewind_crds::contract`), which the worker reads back.
    pub field_names: (&'static str, &'static str),
}

impl std::fmt::Debug for ExchangeCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExchangeCredentials(..)")
    }
}

/// What a bot asks for.
#[derive(Clone, Debug, Default)]
pub struct BotWants {
    /// A Cosmos DB container.
    pub cosmos: bool,
    /// A Key Vault secret with these credentials.
    pub key_vault: Option<ExchangeCredentials>,
    /// A Service Bus topic and notifications subscription.
    pub service_bus: bool,
}

/// IDs of what exists, for the bot's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BotResourceIds {
    /// Cosmos DB container.
    pub cosmos_container_id: Option<String>,
    /// Key Vault secret (versionless).
    pub key_vault_secret_id: Option<String>,
    /// Service Bus topic.
    pub service_bus_topic_id: Option<String>,
}

/// A failed per-bot operation; names the resource and why, never a secret value.
#[derive(Debug, thiserror::Error)]
pub enum BotCloudError {
    /// A derived name breaks Azure's rules.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Resource Manager refused or failed.
    #[error(transparent)]
    Arm(#[from] ArmError),
    /// Key Vault refused or failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The vault has no data-plane URI.
    #[error("key vault {0}: Resource Manager returned no properties.vaultUri")]
    NoVaultUri(String),
}

/// The Azure names of one bot's resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotNames {
    /// Cosmos container: `{namespace}.{name}` (namespaces have no dots, so it is unique).
    pub container: String,
    /// Service Bus topic: `{namespace}.{name}`.
    pub topic: String,
    /// Subscription on the topic for notifications.
    pub subscription: String,
    /// Key Vault secret: letters, digits and hyphens only, so a hash keeps it unique.
    pub secret: String,
    /// Federated credential on the worker identity.
    pub federated_credential: String,
}

fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest[..5].iter().map(|b| format!("{b:02x}")).collect()
}

/// Derives and checks the names of a bot's resources.
pub fn names_for(bot: &BotRef) -> Result<BotNames, NameError> {
    let qualified = format!("{}.{}", bot.namespace, bot.name);
    let hash = short_hash(&qualified);
    let flat: String = format!("{}-{}", bot.namespace, bot.name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let secret: String = format!("tw-{}", &flat[..flat.len().min(100)]) + "-" + &hash;
    let federated: String =
        format!("tw-{}", &flat[..flat.len().min(100)]).replace("--", "-") + "-" + &hash;
    // Kubernetes allows 63 + 253 characters; past Azure's limit keep a prefix plus the hash.
    let fit = |max: usize| {
        if qualified.len() <= max {
            qualified.clone()
        } else {
            format!("{}-{hash}", &qualified[..max - hash.len() - 1])
        }
    };
    let n = BotNames {
        container: fit(255),
        topic: fit(260),
        subscription: "notifications".into(),
        secret,
        federated_credential: federated,
    };
    names::check(Kind::CosmosContainer, &n.container)?;
    names::check(Kind::ServiceBusTopic, &n.topic)?;
    names::check(Kind::ServiceBusSubscription, &n.subscription)?;
    names::check(Kind::KeyVaultSecret, &n.secret)?;
    names::check(Kind::FederatedCredential, &n.federated_credential)?;
    Ok(n)
}

/// Cosmos container body: one logical partition per stream (orders, fills, snapshots),
/// TTL on but per item, consistent indexing without the etag.
pub fn container_body(name: &str, max_throughput: Option<u32>) -> Value {
    let mut body = json!({
        "properties": {
            "resource": {
                "id": name,
                "partitionKey": {"paths": ["/stream"], "kind": "Hash", "version": 2},
                "defaultTtl": -1,
                "indexingPolicy": {
                    "indexingMode": "consistent",
                    "automatic": true,
                    "includedPaths": [{"path": "/*"}],
                    "excludedPaths": [{"path": "/\"_etag\"/?"}]
                }
            },
            "options": {}
        }
    });
    if let Some(max) = max_throughput {
        body["properties"]["options"] = json!({"autoscaleSettings": {"maxThroughput": max}});
    }
    body
}

/// Service Bus topic body: two weeks of retention, duplicate detection for retried sends.
pub fn topic_body() -> Value {
    json!({"properties": {
        "defaultMessageTimeToLive": "P14D",
        "maxSizeInMegabytes": 1024,
        "requiresDuplicateDetection": true,
        "duplicateDetectionHistoryTimeWindow": "PT10M",
        "enableBatchedOperations": true
    }})
}

/// Notifications subscription body.
pub fn subscription_body() -> Value {
    json!({"properties": {
        "lockDuration": "PT1M",
        "maxDeliveryCount": 10,
        "deadLetteringOnMessageExpiration": true,
        "defaultMessageTimeToLive": "P14D"
    }})
}

/// Federated credential body for the bot's ServiceAccount.
pub fn federated_credential_body(issuer: &str, bot: &BotRef) -> Value {
    json!({"properties": {
        "issuer": issuer,
        "subject": format!("system:serviceaccount:{}:{}", bot.namespace, bot.service_account),
        "audiences": ["api://AzureADTokenExchange"]
    }})
}

/// True when `live` lacks or differs in any field `desired` declares. Objects compare
/// field by field, everything else (arrays included) as a whole; `options` on Cosmos
/// resources is write-only and never read back, so it is skipped.
pub fn declared_fields_differ(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().any(|(k, dv)| {
            if k == "options" {
                return false;
            }
            match l.get(k) {
                Some(lv) => declared_fields_differ(dv, lv),
                None => !dv.is_null(),
            }
        }),
        (d, l) => d != l,
    }
}

/// Ensures and deletes bots' resources.
pub struct BotResources {
    arm: ArmClient,
    credential: Arc<dyn TokenCredential>,
    transport: TransportOptions,
    config: BotCloudConfig,
    secrets: OnceCell<Secrets>,
}

impl std::fmt::Debug for BotResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotResources")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl BotResources {
    /// Per-bot resources in the environment described by `config`.
    pub fn new(
        arm: ArmClient,
        credential: Arc<dyn TokenCredential>,
        transport: TransportOptions,
        config: BotCloudConfig,
    ) -> Self {
        Self {
            arm,
            credential,
            transport,
            config,
            secrets: OnceCell::new(),
        }
    }

    fn group(&self) -> ResourceId {
        ResourceId::resource_group(&self.config.subscription_id, &self.config.resource_group)
    }

    fn container_id(&self, n: &BotNames) -> ResourceId {
        self.group()
            .provider(
                "Microsoft.DocumentDB",
                "databaseAccounts",
                &self.config.cosmos_account,
            )
            .child("sqlDatabases", &self.config.cosmos_database)
            .child("containers", &n.container)
    }

    fn topic_id(&self, n: &BotNames) -> ResourceId {
        self.group()
            .provider(
                "Microsoft.ServiceBus",
                "namespaces",
                &self.config.service_bus_namespace,
            )
            .child("topics", &n.topic)
    }

    fn federated_id(&self, identity: &str, n: &BotNames) -> ResourceId {
        self.group()
            .provider(
                "Microsoft.ManagedIdentity",
                "userAssignedIdentities",
                identity,
            )
            .child("federatedIdentityCredentials", &n.federated_credential)
    }

    /// Key Vault client, created on first use from the vault's URI as ARM reports it.
    async fn secrets(&self) -> Result<&Secrets, BotCloudError> {
        self.secrets
            .get_or_try_init(|| async {
                let id =
                    self.group()
                        .provider("Microsoft.KeyVault", "vaults", &self.config.key_vault);
                let vault = self.arm.get(&id).await?.ok_or_else(|| ArmError::Api {
                    method: "GET",
                    id: id.to_string(),
                    status: 404,
                    error: Box::new(crate::arm::ErrorDetail {
                        code: "ResourceNotFound".into(),
                        message: "the environment's key vault does not exist".into(),
                        ..Default::default()
                    }),
                })?;
                let uri = vault
                    .pointer("/properties/vaultUri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| BotCloudError::NoVaultUri(self.config.key_vault.clone()))?;
                Ok(Secrets::new(uri, self.credential.clone(), &self.transport)?)
            })
            .await
    }

    /// GET, compare on declared fields, PUT only on a difference.
    async fn converge(&self, id: &ResourceId, desired: &Value) -> Result<(), ArmError> {
        match self.arm.get(id).await? {
            Some(live) if !declared_fields_differ(desired, &live) => Ok(()),
            _ => self.arm.put(id, desired).await.map(|_| ()),
        }
    }

    /// Creates or updates what the bot asks for. Idempotent: with nothing changed it only
    /// reads.
    pub async fn ensure(
        &self,
        bot: &BotRef,
        wants: &BotWants,
    ) -> Result<BotResourceIds, BotCloudError> {
        let n = names_for(bot)?;
        let mut ids = BotResourceIds::default();
        // Only bots with Azure resources need to sign in: a user-assigned identity takes
        // at most 20 federated credentials (an Entra ID limit).
        let needs_identity = wants.cosmos || wants.service_bus || wants.key_vault.is_some();
        if let Some(wi) = self
            .config
            .workload_identity
            .as_ref()
            .filter(|_| needs_identity)
        {
            names::check(Kind::UserAssignedIdentity, &wi.identity)?;
            self.converge(
                &self.federated_id(&wi.identity, &n),
                &federated_credential_body(&wi.issuer, bot),
            )
            .await?;
        }
        if wants.cosmos {
            let id = self.container_id(&n);
            self.converge(
                &id,
                &container_body(&n.container, self.config.cosmos_container_max_throughput),
            )
            .await?;
            ids.cosmos_container_id = Some(id.to_string());
        }
        if wants.service_bus {
            let topic = self.topic_id(&n);
            self.converge(&topic, &topic_body()).await?;
            self.converge(
                &topic.child("subscriptions", &n.subscription),
                &subscription_body(),
            )
            .await?;
            ids.service_bus_topic_id = Some(topic.to_string());
        }
        if let Some(creds) = &wants.key_vault {
            let secrets = self.secrets().await?;
            let (key_field, secret_field) = creds.field_names;
            let value =
                json!({key_field: creds.api_key, secret_field: creds.api_secret}).to_string();
            let tags = HashMap::from([(
                "tradewind.dev/bot".to_string(),
                format!("{}/{}", bot.namespace, bot.name),
            )]);
            secrets
                .ensure(&n.secret, &value, "application/json", &tags)
                .await?;
            ids.key_vault_secret_id = Some(secrets.id(&n.secret));
        }
        Ok(ids)
    }

    /// Deletes everything a bot may have (each absent one is a no-op). The Key Vault
    /// secret is soft-deleted when the vault keeps deleted secrets, so it can be recovered.
    pub async fn delete(&self, bot: &BotRef) -> Result<(), BotCloudError> {
        let n = names_for(bot)?;
        // The topic's subscriptions go with it.
        self.arm.delete(&self.topic_id(&n)).await?;
        self.arm.delete(&self.container_id(&n)).await?;
        self.secrets().await?.delete(&n.secret).await?;
        if let Some(wi) = &self.config.workload_identity {
            self.arm
                .delete(&self.federated_id(&wi.identity, &n))
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(ns: &str, name: &str) -> BotRef {
        BotRef {
            namespace: ns.into(),
            name: name.into(),
            service_account: format!("{name}-worker"),
        }
    }

    #[test]
    fn names_are_valid_and_distinct() {
        let a = names_for(&bot("a-b", "c")).unwrap();
        let b = names_for(&bot("a", "b-c")).unwrap();
        assert_eq!(a.container, "a-b.c");
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.federated_credential, b.federated_credential);
        assert!(a.secret.starts_with("tw-a-b-c-"));
        let long = names_for(&bot("trading", &"x".repeat(253))).unwrap();
        assert!(long.secret.len() <= 127);
        assert!(long.federated_credential.len() <= 120);
        assert_eq!(long.container.len(), 255);
        assert!(
            long.container
                .ends_with(&long.secret[long.secret.len() - 10..])
        );
    }

    #[test]
    fn declared_field_compare() {
        let desired = container_body("ns.bot", Some(1000));
        let mut live = desired.clone();
        live["id"] = json!("/subscriptions/s/...");
        live["properties"]["options"] = Value::Null;
        live["properties"]["resource"]["_ts"] = json!(1);
        assert!(!declared_fields_differ(&desired, &live));
        live["properties"]["resource"]["defaultTtl"] = json!(3600);
        assert!(declared_fields_differ(&desired, &live));
        let mut live = desired.clone();
        live["properties"]["resource"]["partitionKey"]["paths"] = json!(["/other"]);
        assert!(declared_fields_differ(&desired, &live));
    }

    #[test]
    fn federated_subject_is_the_workers_service_account() {
        let body = federated_credential_body("https://issuer/", &bot("trading", "btc"));
        assert_eq!(
            body["properties"]["subject"],
            "system:serviceaccount:trading:btc-worker"
        );
    }
}
