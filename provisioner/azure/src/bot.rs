//! A TradingBot's own Azure resources: its Cosmos DB container, its Key Vault secret, its
//! Service Bus topic (plus a subscription for notifications) and, with workload identity,
//! its own user-assigned identity: federated with the bot's worker ServiceAccount only and
//! granted data rights on exactly those three resources (never on the vault, namespace or
//! account), so one bot's worker cannot read another bot's exchange keys. Names and bodies
//! are pure functions; [`BotResources`] reads, compares and writes only on a difference.

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
    /// Workload identity: when set, each bot that uses Azure gets its own user-assigned
    /// identity (in `resource_group`), federated with its worker's ServiceAccount.
    pub workload_identity: Option<WorkloadIdentity>,
    /// The market-data container (database, container) of the account: every bot's
    /// identity may read it (warm-up); `None`: no such grant.
    pub market_data: Option<(String, String)>,
}

/// How bots' workers sign in to Azure: each with its own identity, federated through the
/// cluster's OIDC issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadIdentity {
    /// The AKS OIDC issuer URL.
    pub issuer: String,
}

/// Built-in role definitions a bot's identity is granted, each on the bot's own resource.
pub mod roles {
    /// Key Vault Secrets User: read secret contents (on the bot's secret).
    pub const KEY_VAULT_SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
    /// Azure Service Bus Data Sender (on the bot's topic).
    pub const SERVICE_BUS_DATA_SENDER: &str = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39";
    /// Azure Service Bus Data Receiver (on the bot's topic, for its subscription).
    pub const SERVICE_BUS_DATA_RECEIVER: &str = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0";
    /// Cosmos DB Built-in Data Contributor, a data-plane SQL role of the account (on the
    /// bot's container).
    pub const COSMOS_DATA_CONTRIBUTOR: &str = "00000000-0000-0000-0000-000000000002";
    /// Cosmos DB Built-in Data Reader (on the environment's market-data container, which
    /// a Paper or Live worker warms up from).
    pub const COSMOS_DATA_READER: &str = "00000000-0000-0000-0000-000000000001";
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
    /// The bot's own user-assigned identity, with workload identity.
    pub identity: Option<BotIdentity>,
}

/// A bot's user-assigned identity as Entra ID knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotIdentity {
    /// Resource ID.
    pub id: String,
    /// Client (application) ID: the worker ServiceAccount's
    /// `azure.workload.identity/client-id`.
    pub client_id: String,
    /// Object (principal) ID the role assignments name.
    pub principal_id: String,
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
    /// A resource lacks a field Resource Manager always returns.
    #[error("{id}: Resource Manager returned no {field}")]
    MissingField {
        /// The resource.
        id: String,
        /// JSON pointer of the field.
        field: &'static str,
    },
    /// A role assignment of the bot's name grants something else; role assignments are
    /// immutable, so it is reported rather than replaced.
    #[error(
        "role assignment {id} exists but grants {live}, not {desired}; delete it to let the operator recreate it"
    )]
    RoleAssignmentMismatch {
        /// The assignment.
        id: String,
        /// What it grants (role, principal, scope).
        live: String,
        /// What the bot needs.
        desired: String,
    },
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
    /// Federated credential on the bot's identity.
    pub federated_credential: String,
    /// The bot's user-assigned identity.
    pub identity: String,
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
    // Identity names allow letters, digits, '-' and '_' (3-128): the same shape fits.
    let identity = federated.clone();
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
        identity,
    };
    names::check(Kind::CosmosContainer, &n.container)?;
    names::check(Kind::ServiceBusTopic, &n.topic)?;
    names::check(Kind::ServiceBusSubscription, &n.subscription)?;
    names::check(Kind::KeyVaultSecret, &n.secret)?;
    names::check(Kind::FederatedCredential, &n.federated_credential)?;
    names::check(Kind::UserAssignedIdentity, &n.identity)?;
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

/// The bot's user-assigned identity: in the environment's location, tagged with the bot
/// (ARM tag names may not hold '/', and values are at most 256 characters).
pub fn identity_body(location: &str, bot: &BotRef) -> Value {
    json!({
        "location": location,
        "tags": {
            "tradewind-bot-namespace": bot.namespace,
            "tradewind-bot-name": bot.name,
        }
    })
}

/// A deterministic role-assignment name: a UUID (RFC 9562 version 8) from SHA-256 of
/// scope, role and principal, so every reconcile addresses the same assignment (ARM
/// refuses a second one under another name with 409 RoleAssignmentExists) and a new
/// principal (a recreated identity) gets a new one rather than an update ARM refuses.
pub fn role_assignment_name(scope: &str, role: &str, principal_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [scope, role, principal_id] {
        h.update(part.to_ascii_lowercase().as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Azure RBAC role assignment body (Microsoft.Authorization/roleAssignments). The
/// principal type spares the Entra ID replication delay of a just-created identity.
pub fn role_assignment_body(subscription_id: &str, role: &str, principal_id: &str) -> Value {
    json!({"properties": {
        "roleDefinitionId": format!(
            "/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"
        ),
        "principalId": principal_id,
        "principalType": "ServicePrincipal",
    }})
}

/// Cosmos DB data-plane role assignment body (databaseAccounts/sqlRoleAssignments): the
/// account's built-in role `role` for `principal_id` on `scope` (`{account}/dbs/{db}/colls/{c}`).
pub fn sql_role_assignment_body(
    account_id: &str,
    role: &str,
    scope: &str,
    principal_id: &str,
) -> Value {
    json!({"properties": {
        "roleDefinitionId": format!("{account_id}/sqlRoleDefinitions/{role}"),
        "scope": scope,
        "principalId": principal_id,
    }})
}

/// What a role assignment grants, comparable across the spellings ARM returns: the role
/// definition's GUID (ARM answers with or without the subscription prefix), the principal
/// and, when the body has one, the scope; all lower-case.
pub fn grant_of(body: &Value) -> (String, String, String) {
    let field = |f: &str| {
        body.pointer(&format!("/properties/{f}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let role = field("roleDefinitionId");
    let role = role.rsplit('/').next().unwrap_or_default().to_owned();
    (role, field("principalId"), field("scope"))
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
    location: OnceCell<String>,
}

impl std::fmt::Debug for BotResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotResources")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One role assignment a bot's identity holds: where it lives and its desired body.
struct Grant {
    id: ResourceId,
    body: Value,
}

fn missing(id: &ResourceId, field: &'static str) -> BotCloudError {
    BotCloudError::MissingField {
        id: id.to_string(),
        field,
    }
}

fn describe((role, principal, scope): &(String, String, String)) -> String {
    if scope.is_empty() {
        format!("role {role} to principal {principal}")
    } else {
        format!("role {role} to principal {principal} on {scope}")
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
            location: OnceCell::new(),
        }
    }

    fn group(&self) -> ResourceId {
        ResourceId::resource_group(&self.config.subscription_id, &self.config.resource_group)
    }

    fn account_id(&self) -> ResourceId {
        self.group().provider(
            "Microsoft.DocumentDB",
            "databaseAccounts",
            &self.config.cosmos_account,
        )
    }

    fn container_id(&self, n: &BotNames) -> ResourceId {
        self.account_id()
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

    fn vault_id(&self) -> ResourceId {
        self.group()
            .provider("Microsoft.KeyVault", "vaults", &self.config.key_vault)
    }

    /// The secret as an Azure RBAC scope (`{vault}/secrets/{name}`).
    fn secret_scope(&self, n: &BotNames) -> ResourceId {
        self.vault_id().child("secrets", &n.secret)
    }

    fn identity_id(&self, n: &BotNames) -> ResourceId {
        self.group().provider(
            "Microsoft.ManagedIdentity",
            "userAssignedIdentities",
            &n.identity,
        )
    }

    /// The role assignments a bot's identity holds for the resources in `wants` (`true`:
    /// wanted), each scoped to the bot's own resource; the unwanted ones are returned
    /// apart, to be removed.
    fn grants(
        &self,
        n: &BotNames,
        principal_id: &str,
        wants: [bool; 4],
    ) -> (Vec<Grant>, Vec<Grant>) {
        let sub = &self.config.subscription_id;
        let rbac = |scope: &ResourceId, role: &str| Grant {
            id: scope.provider(
                "Microsoft.Authorization",
                "roleAssignments",
                &role_assignment_name(scope.as_str(), role, principal_id),
            ),
            body: role_assignment_body(sub, role, principal_id),
        };
        let account = self.account_id();
        let container_scope = format!(
            "{account}/dbs/{}/colls/{}",
            self.config.cosmos_database, n.container
        );
        let cosmos = Grant {
            id: account.child(
                "sqlRoleAssignments",
                &role_assignment_name(
                    &container_scope,
                    roles::COSMOS_DATA_CONTRIBUTOR,
                    principal_id,
                ),
            ),
            body: sql_role_assignment_body(
                account.as_str(),
                roles::COSMOS_DATA_CONTRIBUTOR,
                &container_scope,
                principal_id,
            ),
        };
        let topic = self.topic_id(n);
        let [want_cosmos, want_vault, want_bus, want_market_data] = wants;
        let (mut keep, mut drop) = (Vec::new(), Vec::new());
        let mut sort = |wanted: bool, g: Grant| {
            if wanted { keep.push(g) } else { drop.push(g) }
        };
        sort(want_cosmos, cosmos);
        sort(
            want_vault,
            rbac(&self.secret_scope(n), roles::KEY_VAULT_SECRETS_USER),
        );
        sort(want_bus, rbac(&topic, roles::SERVICE_BUS_DATA_SENDER));
        sort(want_bus, rbac(&topic, roles::SERVICE_BUS_DATA_RECEIVER));
        if let Some((database, container)) = &self.config.market_data {
            let scope = format!("{account}/dbs/{database}/colls/{container}");
            sort(
                want_market_data,
                Grant {
                    id: account.child(
                        "sqlRoleAssignments",
                        &role_assignment_name(&scope, roles::COSMOS_DATA_READER, principal_id),
                    ),
                    body: sql_role_assignment_body(
                        account.as_str(),
                        roles::COSMOS_DATA_READER,
                        &scope,
                        principal_id,
                    ),
                },
            );
        }
        (keep, drop)
    }

    /// Key Vault client, created on first use from the vault's URI as ARM reports it.
    async fn secrets(&self) -> Result<&Secrets, BotCloudError> {
        self.secrets
            .get_or_try_init(|| async {
                let id = self.vault_id();
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

    /// The environment's location (its resource group's), read once.
    async fn location(&self) -> Result<&str, BotCloudError> {
        self.location
            .get_or_try_init(|| async {
                let group = self.group();
                let live = self.arm.get(&group).await?.ok_or_else(|| ArmError::Api {
                    method: "GET",
                    id: group.to_string(),
                    status: 404,
                    error: Box::new(crate::arm::ErrorDetail {
                        code: "ResourceGroupNotFound".into(),
                        message: "the environment's resource group does not exist".into(),
                        ..Default::default()
                    }),
                })?;
                live.get("location")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| missing(&group, "/location"))
            })
            .await
            .map(String::as_str)
    }

    /// GET, compare on declared fields, PUT only on a difference; the live resource.
    async fn converge(&self, id: &ResourceId, desired: &Value) -> Result<Value, ArmError> {
        match self.arm.get(id).await? {
            Some(live) if !declared_fields_differ(desired, &live) => Ok(live),
            _ => self.arm.put(id, desired).await,
        }
    }

    /// Creates a role assignment that does not exist; one that does is compared, never
    /// replaced (role assignments are immutable).
    async fn grant(&self, g: &Grant) -> Result<(), BotCloudError> {
        let Some(live) = self.arm.get(&g.id).await? else {
            self.arm.put(&g.id, &g.body).await?;
            return Ok(());
        };
        let (want, have) = (grant_of(&g.body), grant_of(&live));
        let scope_differs = !want.2.is_empty() && want.2 != have.2;
        if want.0 != have.0 || want.1 != have.1 || scope_differs {
            return Err(BotCloudError::RoleAssignmentMismatch {
                id: g.id.to_string(),
                live: describe(&have),
                desired: describe(&want),
            });
        }
        Ok(())
    }

    /// Removes a role assignment if it exists (a read when it does not).
    async fn revoke(&self, g: &Grant) -> Result<(), BotCloudError> {
        if self.arm.get(&g.id).await?.is_some() {
            self.arm.delete(&g.id).await?;
        }
        Ok(())
    }

    /// The bot's identity and its federated credential; the identity as Entra knows it.
    async fn ensure_identity(
        &self,
        wi: &WorkloadIdentity,
        bot: &BotRef,
        n: &BotNames,
    ) -> Result<BotIdentity, BotCloudError> {
        let id = self.identity_id(n);
        let location = self.location().await?.to_owned();
        let live = self.converge(&id, &identity_body(&location, bot)).await?;
        let field = |pointer: &'static str| {
            live.pointer(pointer)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| missing(&id, pointer))
        };
        let identity = BotIdentity {
            id: id.to_string(),
            client_id: field("/properties/clientId")?,
            principal_id: field("/properties/principalId")?,
        };
        self.converge(
            &id.child("federatedIdentityCredentials", &n.federated_credential),
            &federated_credential_body(&wi.issuer, bot),
        )
        .await?;
        Ok(identity)
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
        // Only bots with Azure resources get an identity.
        let needs_identity = wants.cosmos || wants.service_bus || wants.key_vault.is_some();
        let identity = match self
            .config
            .workload_identity
            .as_ref()
            .filter(|_| needs_identity)
        {
            Some(wi) => Some(self.ensure_identity(wi, bot, &n).await?),
            None => None,
        };
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
        // Grants after the resources: a role assignment needs its scope to exist.
        if let Some(identity) = &identity {
            let (keep, drop) = self.grants(
                &n,
                &identity.principal_id,
                // Every bot with an identity may read the market data it warms up from.
                [
                    wants.cosmos,
                    wants.key_vault.is_some(),
                    wants.service_bus,
                    true,
                ],
            );
            for g in &keep {
                self.grant(g).await?;
            }
            // A resource the bot no longer asks for keeps existing (until the bot is
            // deleted), but its worker loses access to it.
            for g in &drop {
                self.revoke(g).await?;
            }
        }
        ids.identity = identity;
        Ok(ids)
    }

    /// Deletes everything a bot may have (each absent one is a no-op): its role
    /// assignments first (they name its resources and identity), then the resources,
    /// then the identity (its federated credential goes with it). The Key Vault secret is
    /// soft-deleted when the vault keeps deleted secrets, so it can be recovered.
    pub async fn delete(&self, bot: &BotRef) -> Result<(), BotCloudError> {
        let n = names_for(bot)?;
        let identity = self.identity_id(&n);
        // Without workload identity the operator made no identity (and may not read one).
        let live_identity = match &self.config.workload_identity {
            Some(_) => self.arm.get(&identity).await?,
            None => None,
        };
        let principal = live_identity.as_ref().and_then(|live| {
            live.pointer("/properties/principalId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if let Some(principal) = &principal {
            let (keep, drop) = self.grants(&n, principal, [true; 4]);
            for g in keep.iter().chain(&drop) {
                self.revoke(g).await?;
            }
        }
        // The topic's subscriptions go with it.
        self.arm.delete(&self.topic_id(&n)).await?;
        self.arm.delete(&self.container_id(&n)).await?;
        self.secrets().await?.delete(&n.secret).await?;
        if live_identity.is_some() {
            self.arm.delete(&identity).await?;
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
    fn role_assignment_names_are_stable_uuids_per_grant() {
        let a = role_assignment_name("/subscriptions/s/x", roles::SERVICE_BUS_DATA_SENDER, "p1");
        // Case does not matter to ARM, so it does not change the name.
        assert_eq!(
            a,
            role_assignment_name("/SUBSCRIPTIONS/s/X", roles::SERVICE_BUS_DATA_SENDER, "P1")
        );
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8", "version 8: {a}");
        for other in [
            role_assignment_name("/subscriptions/s/y", roles::SERVICE_BUS_DATA_SENDER, "p1"),
            role_assignment_name("/subscriptions/s/x", roles::SERVICE_BUS_DATA_RECEIVER, "p1"),
            role_assignment_name("/subscriptions/s/x", roles::SERVICE_BUS_DATA_SENDER, "p2"),
        ] {
            assert_ne!(a, other);
        }
    }

    #[test]
    fn grants_compare_across_arms_spellings() {
        let desired = role_assignment_body("sub", roles::KEY_VAULT_SECRETS_USER, "P");
        // ARM answers with a tenant-level role definition ID and adds the scope.
        let live = json!({"properties": {
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", roles::KEY_VAULT_SECRETS_USER.to_uppercase()),
            "principalId": "p", "scope": "/subscriptions/sub/x"}});
        assert_eq!(grant_of(&desired).0, grant_of(&live).0);
        assert_eq!(grant_of(&desired).1, grant_of(&live).1);
        let sql = sql_role_assignment_body(
            "/a",
            roles::COSMOS_DATA_CONTRIBUTOR,
            "/a/dbs/d/colls/c",
            "p",
        );
        assert_eq!(
            grant_of(&sql),
            (
                roles::COSMOS_DATA_CONTRIBUTOR.to_owned(),
                "p".to_owned(),
                "/a/dbs/d/colls/c".to_owned()
            )
        );
    }

    #[test]
    fn the_identity_is_tagged_with_its_bot() {
        let long = bot("trading", &"x".repeat(253));
        let body = identity_body("westeurope", &long);
        assert_eq!(body["location"], "westeurope");
        for (k, v) in body["tags"].as_object().unwrap() {
            assert!(!k.contains('/') && k.len() <= 512, "{k}");
            assert!(v.as_str().unwrap().len() <= 256, "{k}");
        }
        let n = names_for(&long).unwrap();
        assert!(n.identity.len() <= 128);
        assert_ne!(
            n.identity,
            names_for(&bot("trading", "y")).unwrap().identity
        );
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
