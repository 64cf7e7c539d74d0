//! `tradewind-operator`: `run` runs the controllers against a cluster; `crds` prints the
//! CustomResourceDefinitions; `render` shows the objects a TradingBot would produce,
//! without a cluster (like `helm template`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tradewind_crds::bundle;
use tradewind_crds::manifests;
use tradewind_operator::build::{self, OperatorConfig, Platform, StateVolume};
use tradewind_operator::controller::cloud::{Cloud, NoCloud, azure::AzureArgs};
use tradewind_operator::controller::{self};

#[derive(Parser)]
#[command(name = "tradewind-operator", version, about = "Tradewind operator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once at start: the size of the `Run` variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the controllers against the cluster in KUBECONFIG (or in-cluster config).
    Run {
        /// Watch only this namespace (default: all namespaces).
        #[arg(long, env = "TRADEWIND_NAMESPACE")]
        namespace: Option<String>,
        /// Worker image used unless a bot sets spec.image.
        #[arg(long, env = "TRADEWIND_WORKER_IMAGE", default_value_t = OperatorConfig::default().worker_image)]
        worker_image: String,
        /// Images a bot's spec.image may name besides the worker image, comma-separated:
        /// `registry/path/` allows everything under it, anything else that exact image.
        #[arg(long, env = "TRADEWIND_ALLOWED_IMAGES", value_delimiter = ',')]
        allowed_images: Vec<String>,
        /// Namespace whose pods may scrape the workers' metrics (unset: no one).
        #[arg(long, env = "TRADEWIND_WORKER_METRICS_NAMESPACE")]
        worker_metrics_namespace: Option<String>,
        /// Labels of those pods, `k=v` comma-separated (unset: every pod of the namespace).
        #[arg(
            long,
            env = "TRADEWIND_WORKER_METRICS_POD_LABELS",
            value_delimiter = ','
        )]
        worker_metrics_pod_labels: Vec<String>,
        /// Log as JSON lines instead of text.
        #[arg(long, env = "TRADEWIND_LOG_JSON")]
        log_json: bool,
        /// Address of /healthz, /readyz and /metrics.
        #[arg(long, env = "TRADEWIND_METRICS_ADDR", default_value = "0.0.0.0:8080")]
        metrics_addr: std::net::SocketAddr,
        /// Run the controllers without leader election (one replica only).
        #[arg(long, env = "TRADEWIND_NO_LEADER_ELECTION")]
        no_leader_election: bool,
        /// Namespace of the leader Lease (the operator's own namespace).
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        lease_namespace: String,
        /// This replica's identity in the Lease (the pod name).
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// How long the leader lease lasts without renewal.
        #[arg(long, env = "TRADEWIND_LEASE_SECONDS", default_value_t = 15)]
        lease_seconds: u64,
        /// Give each worker a PersistentVolumeClaim of this size for its journal (e.g. 1Gi),
        /// so a new pod resumes where the last one stopped; unset: an emptyDir.
        #[arg(long, env = "TRADEWIND_WORKER_STATE_SIZE")]
        worker_state_size: Option<String>,
        /// StorageClass of those claims (default: the cluster's default class).
        #[arg(long, env = "TRADEWIND_WORKER_STATE_STORAGE_CLASS")]
        worker_state_storage_class: Option<String>,
        /// Where bots' cloud resources live: none, or azure (then the Azure settings apply).
        #[arg(long, env = "TRADEWIND_CLOUD", default_value = "none", value_parser = ["none", "azure"])]
        cloud: String,
        /// Base URL of the platform's ingest, when the platform is installed (e.g.
        /// http://tradewind-platform.tradewind-system.svc:8080): workers record their events
        /// there with a projected ServiceAccount token.
        #[arg(long, env = "TRADEWIND_PLATFORM_URL")]
        platform_url: Option<String>,
        #[command(flatten)]
        azure: Box<AzureArgs>,
        /// The platform's image (`tradewind-platform`): CommissionPlans' settlement
        /// CronJobs run its `settle`. Unset: they are created suspended.
        #[arg(
            long,
            env = "TRADEWIND_PLATFORM_IMAGE",
            requires = "platform_database_secret"
        )]
        platform_image: Option<String>,
        /// The Secret, in each plan's namespace, whose key `url` is the ledger's
        /// PostgreSQL URL, for the settlement jobs.
        #[arg(
            long,
            env = "TRADEWIND_PLATFORM_DATABASE_SECRET",
            requires = "platform_image"
        )]
        platform_database_secret: Option<String>,
        /// NATS server(s) of the shared market-data feed (JetStream): the operator runs
        /// one feed Deployment per symbol of its Paper and Live bots and tells their
        /// workers to read from it. Unset: every worker connects to the exchange itself.
        #[arg(long, env = tradewind_crds::contract::env::NATS_URL)]
        nats_url: Option<String>,
        /// Subject prefix of the market-data feed.
        #[arg(long, env = tradewind_crds::contract::env::FEED_SUBJECT_PREFIX, default_value = "tw.md")]
        feed_subject_prefix: String,
        /// Namespace of the feed Deployments (default: the operator's own).
        #[arg(long, env = "TRADEWIND_FEED_NAMESPACE")]
        feed_namespace: Option<String>,
        /// Replicas of each feed (two publish the same facts; JetStream keeps one).
        #[arg(long, env = "TRADEWIND_FEED_REPLICAS", default_value_t = 2,
              value_parser = clap::value_parser!(i32).range(1..=5))]
        feed_replicas: i32,
        /// Cosmos DB endpoint of the market-data container: the feeds write it and
        /// Paper and Live workers warm up from it. Unset: nothing stored, cold starts.
        #[arg(long, env = tradewind_crds::contract::env::MARKETDATA_COSMOS_ENDPOINT)]
        market_data_cosmos_endpoint: Option<String>,
        /// Cosmos DB database of the market-data container.
        #[arg(long, env = tradewind_crds::contract::env::MARKETDATA_COSMOS_DATABASE, default_value = "tradewind")]
        market_data_cosmos_database: String,
        /// The market-data container.
        #[arg(long, env = tradewind_crds::contract::env::MARKETDATA_COSMOS_CONTAINER, default_value = "marketdata")]
        market_data_cosmos_container: String,
        /// Where the feeds archive whole days: `blob://{account}/{container}` or
        /// `archive:{dir}` (with --feed-archive-claim). Unset: no archive.
        #[arg(long, env = tradewind_crds::contract::env::MARKETDATA_ARCHIVE)]
        feed_archive: Option<String>,
        /// Blob service endpoint override for a `blob://` archive.
        #[arg(long, env = "TRADEWIND_FEED_BLOB_ENDPOINT")]
        feed_blob_endpoint: Option<String>,
        /// PersistentVolumeClaim (ReadWriteMany) mounted at an `archive:{dir}` archive.
        #[arg(long, env = "TRADEWIND_FEED_ARCHIVE_CLAIM")]
        feed_archive_claim: Option<String>,
        /// ServiceAccount of the feed pods, federated with the identity that writes the
        /// market-data container and the archive (workload identity).
        #[arg(long, env = "TRADEWIND_FEED_SERVICE_ACCOUNT")]
        feed_service_account: Option<String>,
        /// OTLP/HTTP endpoint the operator exports its traces and metrics to, and tells
        /// the workers and settlement jobs to export to (the standard variable).
        #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
        otlp_endpoint: Option<String>,
        /// Namespaces whose model Secrets (labelled `tradewind.dev/model`) the operator
        /// watches, comma-separated: a changed one re-checks the Strategies naming it.
        /// Needs list and watch on Secrets there; unwatched, a model Secret is read at
        /// each reconcile only.
        #[arg(long, env = "TRADEWIND_MODEL_SECRET_NAMESPACES", value_delimiter = ',')]
        model_secret_namespaces: Vec<String>,
    },
    /// Print the CustomResourceDefinitions as multi-document YAML.
    Crds,
    /// Print the child objects a TradingBot would get, without a cluster.
    Render {
        /// YAML file(s) with the TradingBot, its Strategy and optional CommissionPlan.
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        /// The bot to render when the files hold several.
        #[arg(long)]
        bot: Option<String>,
        /// Namespace, when the bot's metadata has none.
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Worker image used unless the bot sets spec.image.
        #[arg(long, env = "TRADEWIND_WORKER_IMAGE", default_value_t = OperatorConfig::default().worker_image)]
        worker_image: String,
        /// Client ID of the bot's own Azure identity, to show its worker set up for
        /// workload identity (a running operator takes it from the identity it creates).
        #[arg(long)]
        workload_identity_client_id: Option<String>,
        /// Namespace whose pods may scrape the worker's metrics (unset: no one).
        #[arg(long, env = "TRADEWIND_WORKER_METRICS_NAMESPACE")]
        worker_metrics_namespace: Option<String>,
    },
}

/// The scrapers of the workers' metrics from the flags; a label without `=` is an error.
fn metrics_scrapers(
    namespace: Option<String>,
    labels: &[String],
) -> Result<Option<tradewind_operator::build::MetricsScrapers>> {
    let Some(namespace) = namespace.filter(|n| !n.is_empty()) else {
        if !labels.iter().all(|l| l.trim().is_empty()) {
            anyhow::bail!("--worker-metrics-pod-labels needs --worker-metrics-namespace");
        }
        return Ok(None);
    };
    let mut pod_labels = std::collections::BTreeMap::new();
    for l in labels.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        let (k, v) = l
            .split_once('=')
            .with_context(|| format!("--worker-metrics-pod-labels: {l:?} is not key=value"))?;
        pod_labels.insert(k.to_owned(), v.to_owned());
    }
    Ok(Some(tradewind_operator::build::MetricsScrapers {
        namespace,
        pod_labels,
    }))
}

/// Stands in for the uid an API server would assign, so owner references render.
const RENDER_UID: &str = "00000000-0000-0000-0000-000000000000";

fn yaml<T: serde::Serialize>(out: &mut String, object: &T) -> Result<()> {
    out.push_str("---\n");
    out.push_str(&serde_saphyr::to_string(object).context("serialising YAML")?);
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            namespace,
            worker_image,
            allowed_images,
            worker_metrics_namespace,
            worker_metrics_pod_labels,
            log_json,
            metrics_addr,
            no_leader_election,
            lease_namespace,
            identity,
            lease_seconds,
            worker_state_size,
            worker_state_storage_class,
            cloud,
            platform_url,
            azure,
            platform_image,
            platform_database_secret,
            nats_url,
            feed_subject_prefix,
            feed_namespace,
            feed_replicas,
            market_data_cosmos_endpoint,
            market_data_cosmos_database,
            market_data_cosmos_container,
            feed_archive,
            feed_blob_endpoint,
            feed_archive_claim,
            feed_service_account,
            otlp_endpoint,
            model_secret_namespaces,
        } => {
            // The log, and OTLP export (kube-runtime's reconcile spans and the metrics
            // below) when OTEL_EXPORTER_OTLP_ENDPOINT asks for it; flushed on return.
            let _telemetry = tradewind_telemetry::init(tradewind_telemetry::Settings {
                service: "tradewind-operator",
                default_filter: "info",
                json: log_json,
            })?;
            if cloud == "azure" {
                // Missing Azure settings stop the operator here, naming the flag.
                let config = azure.bot_config()?;
                if config.workload_identity.is_none() {
                    tracing::warn!(
                        "--oidc-issuer is unset: bots get no Azure identity, so workers cannot sign in to their Azure resources through workload identity"
                    );
                }
            }
            // Bots' identities read the market-data container when it is in their account.
            let mut azure = azure;
            if let (Some(endpoint), Some(account)) =
                (&market_data_cosmos_endpoint, &azure.cosmos_account)
            {
                if endpoint.starts_with(&format!("https://{account}.")) {
                    azure.market_data = Some((
                        market_data_cosmos_database.clone(),
                        market_data_cosmos_container.clone(),
                    ));
                } else if cloud == "azure" {
                    tracing::warn!(
                        %endpoint, %account,
                        "the market-data container is not in the bots' Cosmos DB account: no read grant is made for the bots' identities"
                    );
                }
            }
            let feed_archive = feed_archive.filter(|a| !a.trim().is_empty());
            let feed_archive_claim = feed_archive_claim.filter(|c| !c.trim().is_empty());
            let feed_service_account = feed_service_account.filter(|s| !s.trim().is_empty());
            if let Some(a) = &feed_archive {
                if a.starts_with("archive:") && feed_archive_claim.is_none() {
                    anyhow::bail!(
                        "--feed-archive {a:?}: a directory archive needs --feed-archive-claim (the volume both feed replicas write)"
                    );
                }
                if !a.starts_with("archive:") && !a.starts_with("blob://") {
                    anyhow::bail!(
                        "--feed-archive {a:?}: expected blob://{{account}}/{{container}} or archive:{{dir}}"
                    );
                }
            }
            // Blob Storage models are read from the environment's storage account.
            let model_blobs = if cloud == "azure" {
                azure.model_blobs(feed_archive.as_deref(), feed_blob_endpoint.as_deref())?
            } else {
                None
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(async move {
                let client = kube::Client::try_default()
                    .await
                    .context("connecting to the cluster")?;
                let settings = OperatorConfig {
                    telemetry: otlp_endpoint.filter(|e| !e.trim().is_empty()).map(
                        |otlp_endpoint| tradewind_operator::build::Telemetry { otlp_endpoint },
                    ),
                    worker_image,
                    azure: (cloud == "azure").then(|| azure.worker_env()),
                    state_volume: worker_state_size.map(|size| StateVolume {
                        size,
                        storage_class: worker_state_storage_class,
                    }),
                    platform_url,
                    platform: platform_image.zip(platform_database_secret).map(
                        |(image, database_secret)| Platform {
                            image,
                            database_secret,
                        },
                    ),
                    allowed_images: allowed_images
                        .into_iter()
                        .map(|i| i.trim().to_owned())
                        .filter(|i| !i.is_empty())
                        .collect(),
                    metrics_scrapers: metrics_scrapers(
                        worker_metrics_namespace,
                        &worker_metrics_pod_labels,
                    )?,
                    market_data: nats_url.filter(|u| !u.trim().is_empty()).map(|nats_url| {
                        tradewind_operator::build::MarketData {
                            nats_url,
                            subject_prefix: feed_subject_prefix,
                            namespace: feed_namespace.unwrap_or_else(|| lease_namespace.clone()),
                            replicas: feed_replicas,
                            cosmos: market_data_cosmos_endpoint
                                .filter(|e| !e.trim().is_empty())
                                .map(|endpoint| tradewind_operator::build::MarketDataCosmos {
                                    endpoint,
                                    database: market_data_cosmos_database,
                                    container: market_data_cosmos_container,
                                }),
                            archive: feed_archive,
                            blob_endpoint: feed_blob_endpoint.filter(|e| !e.trim().is_empty()),
                            archive_claim: feed_archive_claim,
                            service_account: feed_service_account,
                        }
                    }),
                };
                // Checked before anything starts: a bad Azure setting stops the operator
                // with a message naming the flag, not on the first bot.
                let cloud: std::sync::Arc<dyn Cloud> = match cloud.as_str() {
                    "azure" => std::sync::Arc::new(azure.build(client.clone())?),
                    _ => std::sync::Arc::new(NoCloud),
                };
                let mut ctx = controller::Context::new(client, settings, cloud)
                    .with_model_secret_namespaces(model_secret_namespaces);
                if let Some(blobs) = model_blobs {
                    ctx = ctx.with_model_blobs(blobs);
                }
                let ctx = std::sync::Arc::new(ctx);
                tradewind_telemetry::export_prometheus("tradewind-operator", {
                    let ctx = ctx.clone();
                    move || ctx.metrics.encode()
                });
                let (bound, _http) = tradewind_operator::http::serve(metrics_addr, ctx.clone())
                    .await
                    .with_context(|| format!("serving metrics on {metrics_addr}"))?;
                tracing::info!(
                    namespace = namespace.as_deref().unwrap_or("<all>"),
                    metrics = %bound,
                    "tradewind-operator starting"
                );
                if no_leader_election {
                    controller::run(ctx, namespace.as_deref()).await;
                } else {
                    let identity = identity
                        .unwrap_or_else(|| format!("tradewind-operator-{}", std::process::id()));
                    let cfg = tradewind_operator::leader::LeaderConfig {
                        namespace: lease_namespace,
                        lease_name: "tradewind-operator".into(),
                        identity,
                        duration: std::time::Duration::from_secs(lease_seconds),
                    };
                    tradewind_operator::leader::run_when_leader(ctx, namespace.as_deref(), cfg)
                        .await?;
                }
                anyhow::Ok(())
            })?;
        }
        Command::Crds => {
            for (_, crd) in manifests::all() {
                print!("{}", manifests::render(&crd)?);
            }
        }
        Command::Render {
            files,
            bot,
            namespace,
            worker_image,
            workload_identity_client_id,
            worker_metrics_namespace,
        } => {
            let loaded = bundle::load(&files, bot.as_deref())?;
            let mut tb = loaded.bot;
            tb.metadata.namespace.get_or_insert(namespace);
            tb.metadata.uid.get_or_insert_with(|| RENDER_UID.to_owned());
            let op = OperatorConfig {
                worker_image,
                azure: None,
                state_volume: None,
                platform_url: None,
                platform: None,
                allowed_images: Vec::new(),
                metrics_scrapers: metrics_scrapers(worker_metrics_namespace, &[])?,
                market_data: None,
                telemetry: None,
            };
            let mut c = build::children(&tb, &loaded.config, &op)?;
            if let Some(client_id) = &workload_identity_client_id {
                c = c.with_workload_identity(client_id);
            }
            let mut out = format!(
                "# Objects the operator would apply for TradingBot {} (config hash {}).\n# Owner references use a placeholder uid; a cluster assigns the real one.\n",
                tb.metadata.name.as_deref().unwrap_or_default(),
                c.config_hash
            );
            yaml(&mut out, &c.config_map)?;
            yaml(&mut out, &c.service_account)?;
            yaml(&mut out, &c.lease)?;
            yaml(&mut out, &c.role)?;
            yaml(&mut out, &c.role_binding)?;
            yaml(&mut out, &c.deployment)?;
            yaml(&mut out, &c.service)?;
            yaml(&mut out, &c.network_policy)?;
            print!("{out}");
        }
    }
    Ok(())
}
