//! The worker's settings: the resolved bot configuration the operator mounts, checked at
//! start (a bad one stops the worker with a message naming the field), where market data
//! comes from, and where the exchange credentials are.

use std::path::{Path, PathBuf};

use tradewind_crds::Mode;
use tradewind_crds::contract::{self, API_KEY_FILE, API_SECRET_FILE, env};
use tradewind_crds::resolved::BotConfig;

/// `tradewind-bot run` flags; each also reads an environment variable, which is how the
/// operator's Deployment sets them. Paths, port and the variables the operator sets are
/// the ones in [`tradewind_crds::contract`].
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// The resolved configuration (bot, strategy, plan) the operator mounts.
    #[arg(long, env = env::CONFIG, default_value = contract::CONFIG_PATH)]
    pub config: PathBuf,
    /// Instead of `--config`: YAML file(s) with the TradingBot, its Strategy and optional
    /// CommissionPlan, resolved and checked as an API server would (for a laptop).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Trade on paper whatever the bot's mode says (never sends an order).
    #[arg(long)]
    pub paper: bool,
    /// Directory with the files `apiKey` and `apiSecret` (the bot's Secret, mounted).
    #[arg(long, env = env::CREDENTIALS_DIR, default_value = contract::CREDENTIALS_DIR)]
    pub credentials_dir: PathBuf,
    /// Where the journal lives (the pod's volume).
    #[arg(long, env = env::STATE_DIR, default_value = contract::STATE_DIR)]
    pub state_dir: PathBuf,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = env::METRICS_ADDR,
          default_value_t = std::net::SocketAddr::from(([0, 0, 0, 0], contract::METRICS_PORT)))]
    pub metrics_addr: std::net::SocketAddr,
    /// Market data: `binance` (live WebSocket streams) or `replay` (a recorded file).
    #[arg(long, env = "TRADEWIND_MARKET_DATA", default_value = "binance", value_parser = ["binance", "replay"])]
    pub market_data: String,
    /// Trade/quote JSON Lines file for `--market-data replay`.
    #[arg(long, env = "TRADEWIND_REPLAY_FILE")]
    pub replay_file: Option<PathBuf>,
    /// Replay speed: 1 is real time, 60 a minute per second, 0 as fast as possible.
    #[arg(long, env = "TRADEWIND_REPLAY_SPEED", default_value_t = 1.0)]
    pub replay_speed: f64,
    /// Binance REST base URL override (default: production or testnet per the bot).
    #[arg(long, env = "TRADEWIND_BINANCE_REST")]
    pub binance_rest: Option<String>,
    /// Binance WebSocket base URL override.
    #[arg(long, env = "TRADEWIND_BINANCE_WS")]
    pub binance_ws: Option<String>,
    /// Talk to Kubernetes (status, Lease): `auto` (in a cluster or with KUBECONFIG) or `off`.
    #[arg(long, env = "TRADEWIND_KUBERNETES", default_value = "auto", value_parser = ["auto", "off"])]
    pub kubernetes: String,
    /// The pod's name: this worker's identity in the Lease.
    #[arg(long, env = env::POD_NAME)]
    pub pod_name: Option<String>,
    /// The bot's namespace.
    #[arg(long, env = env::POD_NAMESPACE)]
    pub namespace: Option<String>,
    /// The bot's UID (client order IDs derive from it); read from the TradingBot if unset.
    #[arg(long, env = "TRADEWIND_BOT_UID")]
    pub bot_uid: Option<String>,
    /// Cancel the bot's open orders when stopping.
    #[arg(long, env = "TRADEWIND_CANCEL_ON_SHUTDOWN")]
    pub cancel_on_shutdown: bool,
    /// How long the bot's Lease lasts without renewal (renewed every third of it).
    #[arg(long, env = "TRADEWIND_LEASE_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub lease_seconds: u64,
    /// Least time between two status writes (halts are written at once).
    #[arg(long, env = "TRADEWIND_STATUS_INTERVAL_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub status_interval_seconds: u64,
    /// Where the operator mounts a Model strategy's ConfigMap or Secret key.
    #[arg(long, env = env::MODEL_FILE, default_value = contract::MODEL_PATH)]
    pub model_file: PathBuf,
    /// Key Vault URI holding the exchange credentials (instead of the mounted Secret).
    #[arg(long, env = env::KEYVAULT_URI)]
    pub key_vault_uri: Option<String>,
    /// Name of the Key Vault secret (JSON `{"apiKey": .., "apiSecret": ..}`).
    #[arg(long, env = env::KEYVAULT_SECRET)]
    pub key_vault_secret: Option<String>,
    /// Service Bus endpoint for events (in addition to stdout).
    #[arg(long, env = env::SERVICEBUS_ENDPOINT)]
    pub service_bus_endpoint: Option<String>,
    /// Service Bus topic of this bot.
    #[arg(long, env = env::SERVICEBUS_TOPIC)]
    pub service_bus_topic: Option<String>,
    /// Base URL of the platform: the worker records its events there (see the README).
    #[arg(long, env = tradewind_ingest::env::PLATFORM_URL)]
    pub platform_url: Option<String>,
    /// The projected ServiceAccount token the platform checks (read for every request).
    #[arg(long, env = tradewind_ingest::env::PLATFORM_TOKEN_FILE, default_value = tradewind_ingest::TOKEN_PATH)]
    pub platform_token_file: PathBuf,
    /// Most events not yet confirmed by the platform; at the bound new bars are not traded.
    #[arg(long, env = "TRADEWIND_PLATFORM_BACKLOG_MAX", default_value_t = 20_000)]
    pub platform_backlog_max: usize,
    /// Azure cloud and credential for Key Vault and Service Bus.
    #[command(flatten)]
    pub azure: tradewind_azure::args::ConnectionArgs,
    /// Service Bus token audience (sovereign clouds).
    #[arg(
        long,
        env = "TRADEWIND_SERVICEBUS_AUDIENCE",
        default_value = "https://servicebus.azure.net"
    )]
    pub service_bus_audience: String,
    /// Cosmos DB endpoint of the market-data container: a worker starting with an empty
    /// journal warms its strategy from the last closed bars there (unset: a cold start).
    #[arg(long, env = env::MARKETDATA_COSMOS_ENDPOINT)]
    pub market_data_cosmos_endpoint: Option<String>,
    /// Database of the market-data container.
    #[arg(long, env = env::MARKETDATA_COSMOS_DATABASE, default_value = "tradewind")]
    pub market_data_cosmos_database: String,
    /// The market-data container.
    #[arg(long, env = env::MARKETDATA_COSMOS_CONTAINER, default_value = "marketdata")]
    pub market_data_cosmos_container: String,
    /// Cosmos DB endpoint of the bot's own container: its orders, fills and equity
    /// snapshots are written there (with `--bot-cosmos-container`).
    #[arg(long, env = env::BOT_COSMOS_ENDPOINT, requires = "bot_cosmos_container")]
    pub bot_cosmos_endpoint: Option<String>,
    /// Database of the bot's container.
    #[arg(long, env = env::BOT_COSMOS_DATABASE, default_value = "tradewind")]
    pub bot_cosmos_database: String,
    /// The bot's container.
    #[arg(long, env = env::BOT_COSMOS_CONTAINER)]
    pub bot_cosmos_container: Option<String>,
    /// Read bars from the shared market-data feed on this NATS server (JetStream)
    /// instead of connecting to the exchange (see the README's market-data section).
    #[arg(long, env = env::NATS_URL)]
    pub nats_url: Option<String>,
    /// Subject prefix of the market-data feed.
    #[arg(long, env = env::FEED_SUBJECT_PREFIX, default_value = tradewind_feed::DEFAULT_PREFIX)]
    pub feed_subject_prefix: String,
}

/// A configuration the worker cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The resources cannot be translated into the core's configuration; names the
    /// resource and its field (the operator refuses the same bot with the same message).
    #[error("{path}: {source}")]
    Spec {
        /// File.
        path: String,
        /// The resource, its field and why.
        source: tradewind_config::SpecError,
    },
    /// The JSON does not match the schema; names the field.
    #[error("{path}: {field}: {reason}")]
    Field {
        /// File.
        path: String,
        /// Field path, e.g. `bot.capital.amount`.
        field: String,
        /// Why.
        reason: String,
    },
}

fn field(path: &Path, field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Field {
        path: path.display().to_string(),
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// The configuration `args` name: bot files resolved in-process, or the mounted file;
/// `--paper` turns the bot into a paper bot before the checks.
pub fn from_args(args: &RunArgs) -> Result<BotConfig, ConfigError> {
    let (mut cfg, path) = if args.files.is_empty() {
        (read(&args.config)?, args.config.clone())
    } else {
        let loaded =
            tradewind_crds::bundle::load(&args.files, None).map_err(|e| ConfigError::Field {
                path: args.files[0].display().to_string(),
                field: "(bot files)".into(),
                reason: e.to_string(),
            })?;
        (loaded.config, args.files[0].clone())
    };
    if args.paper {
        cfg.bot.mode = Mode::Paper;
    }
    check(&path, &cfg)?;
    // A Model strategy's artifact is read and checked (digest, input shape) before
    // anything connects.
    crate::model::settings(&cfg, crate::model::Artifacts::Pod(&args.model_file)).map_err(
        |source| ConfigError::Spec {
            path: path.display().to_string(),
            source,
        },
    )?;
    Ok(cfg)
}

/// Reads the resolved configuration; errors name the field.
fn read(path: &Path) -> Result<BotConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(path, &text)
}

/// Parses a resolved configuration's text (`path` names it in errors): typed, then
/// checked against the CRDs. Never panics, whatever the text (a fuzz target feeds it).
pub fn parse(path: &Path, text: &str) -> Result<BotConfig, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let cfg: BotConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        field(
            path,
            if at == "." { "(document)" } else { &at },
            e.inner().to_string(),
        )
    })?;
    // Typed, it parsed; now what serde ignores: unknown fields (a typo'd field is a
    // setting silently not applied) and the CRDs' rules, as the API server checks them.
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| field(path, "(document)", e.to_string()))?;
    schema_check(path, &value)?;
    Ok(cfg)
}

/// Top-level fields of a resolved configuration (`BotConfig`, camelCase).
const CONFIG_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "bot",
    "strategyName",
    "strategy",
    "commissionPlanName",
    "commissionPlan",
    "risk",
    "sizing",
];

/// Checks a resolved configuration's resources against the CRDs (schema, unknown
/// fields, names, CEL rules) as an API server would have checked them before the
/// operator wrote the file; the first issue is returned, naming the field.
fn schema_check(path: &Path, value: &serde_json::Value) -> Result<(), ConfigError> {
    use serde_json::json;
    let obj = value
        .as_object()
        .ok_or_else(|| field(path, "(document)", "must be a JSON object"))?;
    if let Some(unknown) = obj.keys().find(|k| !CONFIG_FIELDS.contains(&k.as_str())) {
        return Err(field(path, unknown, "unknown field"));
    }
    // Built once per process: compiling the schemas and CEL rules is the slow part.
    static SCHEMAS: std::sync::OnceLock<Result<tradewind_crds::validation::SchemaSet, String>> =
        std::sync::OnceLock::new();
    let schemas = SCHEMAS
        .get_or_init(|| {
            tradewind_crds::validation::SchemaSet::tradewind().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| field(path, "(document)", format!("CRD schemas: {e}")))?;
    let str_of = |k: &str| value.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let resources = [
        ("bot", "TradingBot", str_of("name")),
        ("strategy", "Strategy", str_of("strategyName")),
        (
            "commissionPlan",
            "CommissionPlan",
            str_of("commissionPlanName"),
        ),
    ];
    for (key, kind, name) in resources {
        let Some(spec) = value.get(key) else { continue };
        let object = json!({
            "apiVersion": format!("{}/{}", tradewind_crds::GROUP, tradewind_crds::VERSION),
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        });
        if let Err(issues) = schemas.validate(&object) {
            let first = &issues[0];
            let at = match first.path.as_str() {
                "metadata.name" => match key {
                    "bot" => "name".to_owned(),
                    other => format!("{other}Name"),
                },
                p => match p.strip_prefix("spec") {
                    Some(rest) => format!("{key}{rest}"),
                    None => format!("{key} ({p})"),
                },
            };
            return Err(field(path, &at, first.message.clone()));
        }
    }
    Ok(())
}

/// What a worker can run: a Paper or Live bot whose resources translate into the core's
/// configuration (one symbol quoted in the capital's currency, parameters the engine
/// represents), checked before anything connects.
pub fn check(path: &Path, cfg: &BotConfig) -> Result<(), ConfigError> {
    if cfg.bot.mode == Mode::Backtest {
        return Err(field(
            path,
            "bot.mode",
            "Backtest bots are run with `tradewind-bot backtest`, not as a worker",
        ));
    }
    tradewind_config::bot(cfg).map_err(|source| ConfigError::Spec {
        path: path.display().to_string(),
        source,
    })?;
    Ok(())
}

/// Exchange API credentials. Never printed.
#[derive(Clone)]
pub struct ApiCredentials {
    /// API key.
    pub api_key: String,
    /// API secret.
    pub api_secret: String,
}

impl std::fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiCredentials(..)")
    }
}

/// Credentials that cannot be read; names the file or secret, never a value.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A mounted file is missing or unreadable.
    #[error("credentials: {file}: {reason}")]
    File {
        /// File.
        file: String,
        /// Why.
        reason: String,
    },
    /// The Key Vault secret could not be read or parsed.
    #[error("credentials: key vault secret {secret:?}: {reason}")]
    KeyVault {
        /// Secret name.
        secret: String,
        /// Why.
        reason: String,
    },
}

/// Reads `apiKey` and `apiSecret` from the mounted Secret directory.
pub fn credentials_from_dir(dir: &Path) -> Result<ApiCredentials, CredentialsError> {
    let read = |name: &str| -> Result<String, CredentialsError> {
        let file = dir.join(name);
        let text = std::fs::read_to_string(&file).map_err(|e| CredentialsError::File {
            file: file.display().to_string(),
            reason: e.to_string(),
        })?;
        let value = text.trim().to_string();
        if value.is_empty() {
            return Err(CredentialsError::File {
                file: file.display().to_string(),
                reason: "is empty".into(),
            });
        }
        Ok(value)
    };
    Ok(ApiCredentials {
        api_key: read(API_KEY_FILE)?,
        api_secret: read(API_SECRET_FILE)?,
    })
}

/// Parses the Key Vault secret's value, `{"apiKey": .., "apiSecret": ..}` (as the
/// operator writes it).
pub fn credentials_from_json(
    secret: &str,
    value: &str,
) -> Result<ApiCredentials, CredentialsError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Stored {
        api_key: String,
        api_secret: String,
    }
    // serde's message could quote the input; say only what is wrong with its shape.
    let stored: Stored = serde_json::from_str(value).map_err(|_| CredentialsError::KeyVault {
        secret: secret.into(),
        reason: "value is not a JSON object with string fields apiKey and apiSecret".into(),
    })?;
    if stored.api_key.is_empty() || stored.api_secret.is_empty() {
        return Err(CredentialsError::KeyVault {
            secret: secret.into(),
            reason: "apiKey or apiSecret is empty".into(),
        });
    }
    Ok(ApiCredentials {
        api_key: stored.api_key,
        api_secret: stored.api_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tw-cfg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn credentials_errors_name_the_file_and_never_the_value() {
        let d = dir("creds");
        std::fs::write(d.join("apiKey"), "k-123\n").unwrap();
        let err = credentials_from_dir(&d).unwrap_err().to_string();
        assert!(err.contains("apiSecret"), "{err}");
        std::fs::write(d.join("apiSecret"), "  ").unwrap();
        let err = credentials_from_dir(&d).unwrap_err().to_string();
        assert!(err.ends_with("apiSecret: is empty"), "{err}");
        std::fs::write(d.join("apiSecret"), "s3cr3t").unwrap();
        let c = credentials_from_dir(&d).unwrap();
        assert_eq!(
            (c.api_key.as_str(), c.api_secret.as_str()),
            ("k-123", "s3cr3t")
        );
        assert_eq!(format!("{c:?}"), "ApiCredentials(..)");
        let err = credentials_from_json("tw-x", r#"{"apiKey": "k", "secret": "s3cr3t"}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}

/// The operator ↔ worker contract, end to end: a bot's pod rendered by the operator's
/// builder, its args, env and mounted files handed to this loader.
#[cfg(test)]
mod pod_contract {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use clap::{CommandFactory, Parser};
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use tradewind_crds::bundle::{self, Bundle};
    use tradewind_crds::contract::{self, METRICS_PORT_NAME};
    use tradewind_operator::build::{self, Children, OperatorConfig, WorkerAzure};

    use super::*;

    /// The binary's `run` subcommand, as `tradewind-bot` declares it.
    #[derive(Parser)]
    #[command(name = "tradewind-bot")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(clap::Subcommand)]
    enum Command {
        Run(Box<RunArgs>),
    }

    const POD_NAME: &str = "btc-grid-live-worker-5d9c7-x2x4p";

    /// `run --config bot.json` accepted unknown fields, a negative capital and a name
    /// that is a path; each is now refused naming the field.
    #[test]
    fn bot_json_unknown_fields_bad_names_and_negative_capital_are_refused() {
        let dir = std::env::temp_dir().join(format!("tw-botjson-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bot.json");
        let base = serde_json::to_value(live_bot().config).unwrap();
        type Edit = fn(&mut serde_json::Value);
        let cases: [(&str, Edit); 5] = [
            ("bot.capitl", |v| v["bot"]["capitl"] = "1".into()),
            ("extra", |v| v["extra"] = true.into()),
            ("strategy.parameterz", |v| {
                v["strategy"]["parameterz"] = 1.into()
            }),
            ("name", |v| v["name"] = "/abs/path".into()),
            ("bot.capital.amount", |v| {
                v["bot"]["capital"]["amount"] = "-1000".into()
            }),
        ];
        std::fs::write(&file, base.to_string()).unwrap();
        read(&file).expect("the example is valid");
        for (at, edit) in cases {
            let mut v = base.clone();
            edit(&mut v);
            std::fs::write(&file, v.to_string()).unwrap();
            let err = read(&file)
                .and_then(|c| check(&file, &c).map(|()| c))
                .unwrap_err();
            assert!(err.to_string().contains(at), "{at}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn live_bot() -> Bundle {
        let root = PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
        )
        .join("../..");
        let files: Vec<PathBuf> = [
            "examples/bots/live.yaml",
            "examples/strategies/grid.yaml",
            "examples/commission-plans/tiered-referral.yaml",
        ]
        .iter()
        .map(|f| root.join(f))
        .collect();
        let mut b = bundle::load(&files, None).unwrap();
        b.bot.metadata.namespace = Some("trading".into());
        b.bot.metadata.uid = Some("7c0e2f58-1111-4c6e-9f00-000000000001".into());
        b
    }

    fn pod(c: &Children) -> &PodSpec {
        c.deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
    }

    /// `path` as seen from the test: under `root` when it is inside one of the pod's
    /// mounts, and `None` when the pod mounts nothing there.
    fn mounted(root: &Path, container: &Container, path: &Path) -> Option<PathBuf> {
        container
            .volume_mounts
            .as_ref()?
            .iter()
            .find(|m| path.starts_with(&m.mount_path))
            .map(|_| root.join(path.strip_prefix("/").unwrap()))
    }

    /// Writes the files the kubelet would mount: the ConfigMap's keys and the
    /// credentials Secret's keys, each at its item path.
    fn mount_files(root: &Path, c: &Children, secret: &BTreeMap<String, String>) {
        let spec = pod(c);
        let container = &spec.containers[0];
        for m in container.volume_mounts.as_ref().unwrap() {
            let volume = spec
                .volumes
                .as_ref()
                .unwrap()
                .iter()
                .find(|v| v.name == m.name)
                .unwrap_or_else(|| panic!("mount {} has no volume", m.name));
            let dir = root.join(m.mount_path.trim_start_matches('/'));
            std::fs::create_dir_all(&dir).unwrap();
            let (items, data) = if let Some(cm) = &volume.config_map {
                assert_eq!(cm.name, c.config_map.metadata.name.clone().unwrap());
                (
                    cm.items.clone().unwrap(),
                    c.config_map.data.clone().unwrap(),
                )
            } else if let Some(s) = &volume.secret {
                (s.items.clone().unwrap(), secret.clone())
            } else {
                continue;
            };
            for item in items {
                let value = data
                    .get(&item.key)
                    .unwrap_or_else(|| panic!("{} has no key {}", m.name, item.key));
                std::fs::write(dir.join(&item.path), value).unwrap();
            }
        }
    }

    /// The container's command line, with each environment variable given the way clap
    /// reads it: as the flag that declares that variable. A variable no flag declares is
    /// one the operator sets and nothing reads.
    fn argv(container: &Container) -> Vec<String> {
        let cli = Cli::command();
        let run = cli.find_subcommand("run").expect("a run subcommand");
        let mut argv = vec!["tradewind-bot".to_owned()];
        argv.extend(container.args.clone().unwrap());
        for var in container.env.clone().unwrap_or_default() {
            let value = match (&var.value, &var.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(from)) => {
                    match from.field_ref.as_ref().map(|f| f.field_path.as_str()) {
                        Some("metadata.name") => POD_NAME.to_owned(),
                        Some("metadata.namespace") => "trading".to_owned(),
                        other => panic!("{}: unexpected source {other:?}", var.name),
                    }
                }
                (None, None) => String::new(),
            };
            let arg = run
                .get_arguments()
                .find(|a| a.get_env().is_some_and(|e| e == var.name.as_str()))
                .unwrap_or_else(|| {
                    panic!(
                        "the operator sets {} and the worker reads no such variable",
                        var.name
                    )
                });
            let flag = format!("--{}", arg.get_long().unwrap());
            if !argv.contains(&flag) {
                argv.push(flag);
                argv.push(value);
            }
        }
        argv
    }

    fn run_args(argv: &[String]) -> RunArgs {
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(args) => *args,
        }
    }

    #[test]
    fn the_worker_loads_the_pod_the_operator_renders() {
        let b = live_bot();
        let root = std::env::temp_dir().join(format!("tw-pod-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let c = build::children(&b.bot, &b.config, &OperatorConfig::default()).unwrap();
        let secret_ref = &b.bot.spec.credentials.as_ref().unwrap().secret_ref;
        let secret = BTreeMap::from([
            (secret_ref.api_key_key.clone(), "key-1\n".to_owned()),
            (secret_ref.api_secret_key.clone(), "secret-1".to_owned()),
        ]);
        mount_files(&root, &c, &secret);
        let container = &pod(&c).containers[0];
        let mut args = run_args(&argv(container));

        // Every path the worker reads or writes, given or defaulted, is one the pod mounts;
        // the test reads its copy of those mounts.
        let paths = [
            &mut args.config,
            &mut args.credentials_dir,
            &mut args.state_dir,
        ];
        for p in paths {
            *p = mounted(&root, container, p).unwrap_or_else(|| {
                panic!(
                    "the worker uses {} and the pod mounts nothing there",
                    p.display()
                )
            });
        }
        let cfg = from_args(&args).unwrap();
        assert_eq!(
            cfg, b.config,
            "the worker reads the configuration the operator wrote"
        );
        let creds = credentials_from_dir(&args.credentials_dir).unwrap();
        assert_eq!(
            (creds.api_key.as_str(), creds.api_secret.as_str()),
            ("key-1", "secret-1")
        );
        std::fs::create_dir_all(&args.state_dir).unwrap();

        // Identity, namespace, Lease and metrics port agree.
        assert_eq!(args.pod_name.as_deref(), Some(POD_NAME));
        assert_eq!(args.namespace.as_deref(), Some("trading"));
        assert_eq!(
            c.lease.metadata.name.as_deref(),
            Some(contract::lease_name(&cfg.name).as_str())
        );
        let port = container.ports.as_ref().unwrap()[0].clone();
        assert_eq!(port.name.as_deref(), Some(METRICS_PORT_NAME));
        assert_eq!(i32::from(args.metrics_addr.port()), port.container_port);
        assert!(args.key_vault_uri.is_none() && args.service_bus_endpoint.is_none());

        // With Azure, the worker is pointed at the Key Vault secret and the Service Bus
        // topic, through variables it reads.
        let op = OperatorConfig {
            azure: Some(WorkerAzure {
                cosmos_endpoint: Some("https://acct.documents.azure.com:443/".into()),
                cosmos_database: "tradewind".into(),
                key_vault_uri: Some("https://kv.vault.azure.net/".into()),
                service_bus_endpoint: Some("https://ns.servicebus.windows.net:443/".into()),
            }),
            ..OperatorConfig::default()
        };
        let c = build::children(&b.bot, &b.config, &op).unwrap();
        let container = &pod(&c).containers[0];
        let set = |name: &str| {
            container
                .env
                .iter()
                .flatten()
                .find(|e| e.name == name)
                .and_then(|e| e.value.clone())
        };
        let args = run_args(&argv(container));
        assert_eq!(
            args.key_vault_uri.as_deref(),
            Some("https://kv.vault.azure.net/")
        );
        assert_eq!(args.key_vault_secret, set(contract::env::KEYVAULT_SECRET));
        assert!(args.key_vault_secret.is_some());
        assert_eq!(
            args.service_bus_endpoint.as_deref(),
            Some("https://ns.servicebus.windows.net:443/")
        );
        assert_eq!(args.service_bus_topic, set(contract::env::SERVICEBUS_TOPIC));
        assert!(args.service_bus_topic.is_some());
        assert!(args.platform_url.is_none());

        // With the platform installed, the worker is pointed at it and reads its token
        // where the pod mounts the projected token, for the platform's audience.
        let url = "http://tradewind-platform.tradewind-system.svc:8080";
        let op = OperatorConfig {
            platform_url: Some(url.into()),
            ..OperatorConfig::default()
        };
        let c = build::children(&b.bot, &b.config, &op).unwrap();
        let container = &pod(&c).containers[0];
        let args = run_args(&argv(container));
        assert_eq!(args.platform_url.as_deref(), Some(url));
        let mount = container
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| args.platform_token_file.starts_with(&m.mount_path))
            .expect("the token file is mounted");
        let volume = pod(&c)
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .expect("its volume");
        let projection = volume
            .projected
            .as_ref()
            .expect("a projected volume")
            .sources
            .as_ref()
            .unwrap()[0]
            .service_account_token
            .clone()
            .expect("a ServiceAccount token");
        assert_eq!(
            projection.audience.as_deref(),
            Some(tradewind_ingest::AUDIENCE)
        );
        assert_eq!(
            Path::new(&mount.mount_path).join(&projection.path),
            args.platform_token_file
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
