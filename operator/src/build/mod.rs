//! Build: the desired child objects of a TradingBot, as pure functions of the bot, its
//! resolved configuration and the operator's settings. No I/O, so every builder is
//! tested from YAML fixtures and `tradewind-operator render` shows exactly what a
//! reconcile would apply.

mod backtest;
mod config_map;
mod deployment;
mod hash;
mod labels;
mod market_data;
mod network;
mod rbac;
mod settlement;
mod storage;
mod telemetry;

pub use backtest::{
    BacktestJob, BacktestRun, backtest_job, backtest_labels, backtest_selector, outcome,
    parse_summary, sweep_outcome,
};
pub use config_map::config_map;
pub use deployment::{CONFIG_HASH_ANNOTATION, METRICS_PORT, deployment};
pub use hash::config_hash;
pub use labels::{bot_labels, selector_labels};
pub use market_data::{
    FEED_COMPONENT, FEED_COMPONENT_LABEL, MarketData, MarketDataCosmos, feed_deployment, feed_name,
    shard_of,
};
pub use network::{metrics_service, network_policy};
pub use rbac::{
    WORKLOAD_IDENTITY_CLIENT_ID, WORKLOAD_IDENTITY_POD_ANNOTATION, WORKLOAD_IDENTITY_USE, lease,
    role, role_binding, service_account,
};
pub use settlement::{
    DATABASE_URL_KEY, PLAN_SPEC_ENV, Platform, SETTLEMENT_PENDING_MESSAGE,
    SETTLEMENT_PENDING_REASON, SETTLEMENT_SCHEDULED_REASON, settlement_condition,
    settlement_cron_job, settlement_name, settlement_role, settlement_role_binding,
    settlement_service_account,
};
pub use storage::{StateVolume, state_claim};
pub use telemetry::Telemetry;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use tradewind_crds::TradingBot;
use tradewind_crds::contract::{MAX_LABEL, MAX_NAME, bounded_name};
use tradewind_crds::resolved::BotConfig;

/// The operator's own settings that shape what it builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorConfig {
    /// Worker image used unless a bot sets `spec.image`.
    pub worker_image: String,
    /// Data-plane endpoints the workers use for their Azure resources; `None` without Azure.
    pub azure: Option<WorkerAzure>,
    /// A PersistentVolumeClaim per bot for the worker's journal; `None`: an `emptyDir`.
    pub state_volume: Option<StateVolume>,
    /// Base URL of the platform's ingest, when the platform is installed: workers get a
    /// projected token for its audience and record their events there.
    pub platform_url: Option<String>,
    /// The platform, when it is installed: CommissionPlans' settlement CronJobs run its
    /// `settle`; `None`: they are created suspended.
    pub platform: Option<Platform>,
    /// Images a bot's `spec.image` may name besides `worker_image`: an entry ending in
    /// `/` allows every image under that registry or repository path, any other entry
    /// exactly that image (best a digest, `repo@sha256:…`). Empty: only `worker_image`.
    pub allowed_images: Vec<String>,
    /// Who may scrape the workers' metrics; `None`: no one (every ingress refused).
    pub metrics_scrapers: Option<MetricsScrapers>,
    /// The shared market-data feed: the operator runs one per symbol and workers read
    /// from it; `None`: every worker connects to the exchange itself.
    pub market_data: Option<MarketData>,
    /// Where workers and settlement jobs export traces and metrics (OTLP); `None`: they
    /// export nothing.
    pub telemetry: Option<Telemetry>,
}

/// The pods allowed to reach a worker's metrics port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsScrapers {
    /// Their namespace (matched by its `kubernetes.io/metadata.name` label).
    pub namespace: String,
    /// Their labels within it; empty: every pod of the namespace.
    pub pod_labels: std::collections::BTreeMap<String, String>,
}

/// Whether `spec.image` may run: the worker image and the platform engineer's
/// allowlist only, since the worker's pod holds the bot's exchange credentials and its
/// cloud identity. `Err` says why, naming the field.
pub fn check_image(bot: &TradingBot, op: &OperatorConfig) -> Result<(), String> {
    let Some(image) = bot.spec.image.as_deref() else {
        return Ok(());
    };
    let allowed = image == op.worker_image
        || op.allowed_images.iter().any(|entry| {
            image == entry
                || (entry.ends_with('/')
                    && image.starts_with(entry.as_str())
                    && !image.contains(".."))
        });
    if allowed {
        return Ok(());
    }
    let list = if op.allowed_images.is_empty() {
        "no other image is allowed (the operator's --allowed-images is empty)".to_owned()
    } else {
        format!("allowed: {}", op.allowed_images.join(", "))
    };
    Err(format!(
        "spec.image {image:?} is neither the worker image {:?} nor on the operator's image allowlist; {list}",
        op.worker_image
    ))
}

/// Where a worker finds its Azure resources (the names come from
/// `tradewind_azure::bot::names_for`, the endpoints from `twctl env apply`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerAzure {
    /// Cosmos DB account endpoint, e.g. `https://acct.documents.azure.com:443/`.
    pub cosmos_endpoint: Option<String>,
    /// Cosmos DB SQL database.
    pub cosmos_database: String,
    /// Key Vault URI, e.g. `https://kv.vault.azure.net/`.
    pub key_vault_uri: Option<String>,
    /// Service Bus endpoint, e.g. `https://ns.servicebus.windows.net:443/`.
    pub service_bus_endpoint: Option<String>,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            worker_image: "ghcr.io/tradewind-dev/tradewind-bot:0.1.0".into(),
            azure: None,
            state_volume: None,
            platform_url: None,
            platform: None,
            allowed_images: Vec::new(),
            metrics_scrapers: None,
            market_data: None,
            telemetry: None,
        }
    }
}

/// Why children cannot be built.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The bot has no name, namespace or uid (it was not read from an API server).
    #[error(
        "TradingBot is missing metadata.{0}; only objects read from the API server can own children"
    )]
    MissingMetadata(&'static str),
    /// The resolved configuration could not be serialised.
    #[error("cannot serialise the resolved configuration: {0}")]
    Serialise(String),
    /// `spec.backtest.sweep` cannot run with the bot's Strategy.
    #[error("spec.backtest.sweep: {0}")]
    Sweep(#[from] tradewind_crds::sweep::SweepError),
}

/// Every child object of one TradingBot, in apply order.
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
    /// Resolved configuration the worker reads.
    pub config_map: ConfigMap,
    /// The worker's identity.
    pub service_account: ServiceAccount,
    /// The worker's lease (so its Role can name it).
    pub lease: Lease,
    /// The worker's state claim, with a configured state volume.
    pub state_claim: Option<PersistentVolumeClaim>,
    /// What the worker may do: read and patch its bot's status, hold its lease.
    pub role: Role,
    /// Binds the Role to the ServiceAccount.
    pub role_binding: RoleBinding,
    /// The worker.
    pub deployment: Deployment,
    /// Metrics endpoint.
    pub service: Service,
    /// Egress to DNS and HTTPS only; ingress to the metrics port only.
    pub network_policy: NetworkPolicy,
    /// Hash of the resolved configuration and image, also on the pod template.
    pub config_hash: String,
}

impl Children {
    /// The worker signs in to Azure as the bot's own identity (workload identity): its
    /// ServiceAccount carries the identity's client ID, and its pods the webhook's label
    /// plus the client ID, so a new identity rolls the pods (the webhook injects the ID
    /// only when a pod is created).
    pub fn with_workload_identity(mut self, client_id: &str) -> Self {
        rbac::use_workload_identity(&mut self.service_account, client_id);
        deployment::use_workload_identity(&mut self.deployment, client_id);
        self
    }
}

/// Names of a bot's children (one place, so builders and status agree).
pub struct Names<'a>(pub &'a str);

/// Every name within the API server's limits, whatever the bot's name (up to 253
/// characters): see [`bounded_name`].
impl Names<'_> {
    /// ConfigMap with the resolved configuration.
    pub fn config_map(&self) -> String {
        bounded_name(&format!("{}-config", self.0), MAX_NAME)
    }
    /// ServiceAccount, Role, RoleBinding, Deployment and NetworkPolicy: a DNS label, as
    /// Kubernetes advises for a Deployment (its pods' host names derive from it).
    pub fn worker(&self) -> String {
        tradewind_crds::contract::worker_name(self.0)
    }
    /// The worker's state claim.
    pub fn state(&self) -> String {
        bounded_name(&format!("{}-state", self.0), MAX_NAME)
    }
    /// The worker's Lease.
    pub fn lease(&self) -> String {
        tradewind_crds::contract::lease_name(self.0)
    }
    /// Metrics Service: an RFC 1035 label (a letter first, no dots).
    pub fn metrics(&self) -> String {
        let name = format!("{}-metrics", self.0.replace('.', "-"));
        let name = if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            name
        } else {
            format!("tw-{name}")
        };
        bounded_name(&name, MAX_LABEL)
    }
}

/// Metadata of a child: name, the bot's namespace, labels and the controller reference.
pub fn child_meta(bot: &TradingBot, name: String) -> Result<ObjectMeta, BuildError> {
    let bot_name = bot
        .metadata
        .name
        .as_deref()
        .ok_or(BuildError::MissingMetadata("name"))?;
    let namespace = bot
        .metadata
        .namespace
        .clone()
        .ok_or(BuildError::MissingMetadata("namespace"))?;
    Ok(ObjectMeta {
        name: Some(name),
        namespace: Some(namespace),
        labels: Some(bot_labels(bot_name)),
        owner_references: Some(vec![owner_reference(bot)?]),
        ..ObjectMeta::default()
    })
}

/// A controller owner reference to the bot, blocking its deletion until children go
/// (foreground deletion), so Kubernetes garbage-collects every child.
pub fn owner_reference(bot: &TradingBot) -> Result<OwnerReference, BuildError> {
    if bot.metadata.uid.is_none() {
        return Err(BuildError::MissingMetadata("uid"));
    }
    let mut reference = bot
        .controller_owner_ref(&())
        .ok_or(BuildError::MissingMetadata("name"))?;
    // Foreground deletion of the bot waits for its children.
    reference.block_owner_deletion = Some(true);
    Ok(reference)
}

/// Builds every child of `bot` from its resolved configuration.
pub fn children(
    bot: &TradingBot,
    cfg: &BotConfig,
    op: &OperatorConfig,
) -> Result<Children, BuildError> {
    let image = bot
        .spec
        .image
        .clone()
        .unwrap_or_else(|| op.worker_image.clone());
    let hash = config_hash(cfg, &image)?;
    Ok(Children {
        config_map: config_map(bot, cfg)?,
        service_account: service_account(bot, op)?,
        lease: lease(bot)?,
        state_claim: state_claim(bot, op)?,
        role: role(bot)?,
        role_binding: role_binding(bot)?,
        deployment: deployment(
            bot,
            &image,
            &hash,
            op,
            cfg.strategy.model.as_ref().map(|m| &m.artifact),
        )?,
        service: metrics_service(bot)?,
        network_policy: network_policy(bot, op)?,
        config_hash: hash,
    })
}
