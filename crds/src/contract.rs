//! The operator ↔ worker contract: what the operator puts in a worker's pod and where the
//! worker looks for it. Defined once, here, and used by both sides: the operator's
//! Deployment builder writes these paths, names and variables, and the worker's `run`
//! flags read them (a test renders a pod with the operator and loads it with the worker).

use std::collections::BTreeMap;

/// Directory where the ConfigMap with the resolved configuration is mounted (a sibling
/// of the credentials, never a parent: a mount point inside a read-only ConfigMap volume
/// cannot be created).
pub const CONFIG_DIR: &str = "/etc/tradewind/config";
/// Key in the ConfigMap, and file name in [`CONFIG_DIR`], of the resolved configuration.
pub const CONFIG_FILE: &str = "bot.json";
/// [`CONFIG_DIR`]`/`[`CONFIG_FILE`], the worker's default `--config`.
pub const CONFIG_PATH: &str = "/etc/tradewind/config/bot.json";
/// Directory where a Live bot's exchange credentials are mounted, one file per key.
pub const CREDENTIALS_DIR: &str = "/etc/tradewind/credentials";
/// File in [`CREDENTIALS_DIR`] holding the exchange API key (also the field name in the
/// Key Vault secret's JSON).
pub const API_KEY_FILE: &str = "apiKey";
/// File in [`CREDENTIALS_DIR`] holding the exchange API secret (also the field name in the
/// Key Vault secret's JSON).
pub const API_SECRET_FILE: &str = "apiSecret";
/// The worker's state volume (its journal).
pub const STATE_DIR: &str = "/var/lib/tradewind";
/// Port of the worker's /metrics, /healthz and /readyz.
pub const METRICS_PORT: u16 = 9090;
/// Name of that port in the pod, the probes and the metrics Service.
pub const METRICS_PORT_NAME: &str = "metrics";
/// Directory where a Model strategy's ConfigMap or Secret key is mounted.
pub const MODEL_DIR: &str = "/etc/tradewind/model";
/// File in [`MODEL_DIR`] holding the model's bytes.
pub const MODEL_FILE: &str = "model.onnx";
/// [`MODEL_DIR`]`/`[`MODEL_FILE`], the worker's default `--model-file`.
pub const MODEL_PATH: &str = "/etc/tradewind/model/model.onnx";

/// Environment variables the operator sets on the worker container and the worker reads
/// (each is also a `tradewind-bot run` flag).
pub mod env {
    /// The pod's name (downward API): the worker's identity in the Lease.
    pub const POD_NAME: &str = "POD_NAME";
    /// The pod's namespace (downward API): the bot's namespace.
    pub const POD_NAMESPACE: &str = "POD_NAMESPACE";
    /// Path of the resolved configuration.
    pub const CONFIG: &str = "TRADEWIND_CONFIG";
    /// Directory with the credential files.
    pub const CREDENTIALS_DIR: &str = "TRADEWIND_CREDENTIALS_DIR";
    /// The state directory.
    pub const STATE_DIR: &str = "TRADEWIND_STATE_DIR";
    /// Address of the metrics server.
    pub const METRICS_ADDR: &str = "TRADEWIND_METRICS_ADDR";
    /// Key Vault URI holding the exchange credentials (`spec.cloud.keyVault`).
    pub const KEYVAULT_URI: &str = "TRADEWIND_KEYVAULT_URI";
    /// Name of the bot's Key Vault secret.
    pub const KEYVAULT_SECRET: &str = "TRADEWIND_KEYVAULT_SECRET";
    /// Service Bus endpoint for the bot's events (`spec.cloud.serviceBus`).
    pub const SERVICEBUS_ENDPOINT: &str = "TRADEWIND_SERVICEBUS_ENDPOINT";
    /// The bot's Service Bus topic.
    pub const SERVICEBUS_TOPIC: &str = "TRADEWIND_SERVICEBUS_TOPIC";
    /// Cosmos DB endpoint of the market-data container a Paper or Live worker warms its
    /// indicators from at start (unset: it starts cold).
    pub const MARKETDATA_COSMOS_ENDPOINT: &str = "TRADEWIND_MARKETDATA_COSMOS_ENDPOINT";
    /// Cosmos DB database of the market-data container.
    pub const MARKETDATA_COSMOS_DATABASE: &str = "TRADEWIND_MARKETDATA_COSMOS_DATABASE";
    /// The market-data container.
    pub const MARKETDATA_COSMOS_CONTAINER: &str = "TRADEWIND_MARKETDATA_COSMOS_CONTAINER";
    /// Cosmos DB endpoint of the bot's own container (`spec.cloud.cosmos`): the worker
    /// writes its orders, fills and equity snapshots there.
    pub const BOT_COSMOS_ENDPOINT: &str = "TRADEWIND_BOT_COSMOS_ENDPOINT";
    /// Cosmos DB database of the bot's container.
    pub const BOT_COSMOS_DATABASE: &str = "TRADEWIND_BOT_COSMOS_DATABASE";
    /// The bot's container.
    pub const BOT_COSMOS_CONTAINER: &str = "TRADEWIND_BOT_COSMOS_CONTAINER";
    /// NATS server(s) of the shared market-data feed (`nats://host:4222`, comma-separated
    /// for a cluster): when set, the worker reads its bars from JetStream, not from the
    /// exchange. Also what the feed publishes to.
    pub const NATS_URL: &str = "TRADEWIND_NATS_URL";
    /// Subject prefix of the market-data feed (default `tw.md`).
    pub const FEED_SUBJECT_PREFIX: &str = "TRADEWIND_FEED_SUBJECT_PREFIX";
    /// Where the model file is (`--model-file`).
    pub const MODEL_FILE: &str = "TRADEWIND_MODEL_FILE";
    /// Where the market-data feed archives whole UTC days of bars and trades:
    /// `blob://{account}/{container}` (Blob Storage) or `archive:{dir}` (a volume).
    pub const MARKETDATA_ARCHIVE: &str = "TRADEWIND_MARKETDATA_ARCHIVE";
    /// Blob service endpoint override for a `blob://` archive (default: the account's
    /// in the cloud).
    pub const BLOB_ENDPOINT: &str = "TRADEWIND_BLOB_ENDPOINT";
}

/// The bot's Lease: created by the operator (so the worker's Role can name it), held by
/// the worker while it trades.
pub fn lease_name(bot: &str) -> String {
    bounded_name(&format!("{bot}-lease"), MAX_NAME)
}

/// Longest object name the API server accepts (a DNS subdomain).
pub const MAX_NAME: usize = 253;
/// Longest label value, and longest DNS label (Service names, pod host names).
pub const MAX_LABEL: usize = 63;

/// `name` when it has at most `max` characters; else its beginning and a hash of the
/// whole name, `max` characters in all. A bot may be named with up to 253 characters,
/// but its children's names (`<bot>-metrics`) and its label values must fit the API
/// server's limits, and two long names sharing a prefix must still differ.
pub fn bounded_name(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    // FNV-1a: stable across releases and platforms (a name must never change).
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let suffix = format!("-{:010x}", hash & 0xff_ffff_ffff);
    let mut keep = max.saturating_sub(suffix.len());
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let prefix = name[..keep].trim_end_matches(['-', '.']);
    format!("{prefix}{suffix}")
}

/// Suffix of a bot's worker ServiceAccount name (also its Role, RoleBinding, Deployment
/// and NetworkPolicy).
pub const WORKER_SUFFIX: &str = "-worker";

/// The ServiceAccount a bot's worker runs as: `<bot>-worker`.
pub fn worker_service_account(bot: &str) -> String {
    format!("{bot}{WORKER_SUFFIX}")
}

/// The name of a bot's worker ServiceAccount, Role, RoleBinding, Deployment and
/// NetworkPolicy as created: [`worker_service_account`] bounded to a DNS label (a
/// Deployment's pods' host names derive from it), so a long bot name gets a hashed one.
pub fn worker_name(bot: &str) -> String {
    bounded_name(&worker_service_account(bot), MAX_LABEL)
}

/// Whether `service_account` is the worker ServiceAccount of `bot` (hashed names
/// included: the check computes the name forward, it never inverts a hash, so a caller
/// names the bot it claims to be and this confirms it).
pub fn is_worker_of(service_account: &str, bot: &str) -> bool {
    !bot.is_empty() && worker_name(bot) == service_account
}

/// Recommended label keys (<https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/>).
pub mod labels {
    /// `app.kubernetes.io/name`.
    pub const NAME: &str = "app.kubernetes.io/name";
    /// `app.kubernetes.io/instance`: the bot's (or plan's) name.
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    /// `app.kubernetes.io/managed-by`.
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// `app.kubernetes.io/part-of`.
    pub const PART_OF: &str = "app.kubernetes.io/part-of";
    /// Value of [`NAME`] on a bot's worker pods.
    pub const WORKER_NAME: &str = "tradewind-bot";
    /// Value of [`MANAGED_BY`] on everything the operator creates.
    pub const OPERATOR: &str = "tradewind-operator";
    /// Value of [`PART_OF`].
    pub const PART_OF_VALUE: &str = "tradewind";
}

/// The labels that select a bot's worker pods (stable for the Deployment's lifetime,
/// since a Deployment selector is immutable).
pub fn selector_labels(bot: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::NAME.into(), labels::WORKER_NAME.into()),
        (labels::INSTANCE.into(), bounded_name(bot, MAX_LABEL)),
    ])
}

/// The operator ↔ `tradewind-bot backtest` contract of a Backtest bot's Job: where its
/// pod finds its claims, which variables it reads, where it leaves its summary.
pub mod backtest {
    /// Directory under which each claim the backtest reads or writes is mounted, at
    /// `{CLAIMS_DIR}/{claimName}`.
    pub const CLAIMS_DIR: &str = "/var/lib/tradewind/claims";
    /// Where the pod writes its summary ([`crate::BacktestSummary`] as JSON) or, on a
    /// failure, the error: the container's `terminationMessagePath`, which Kubernetes
    /// copies into the container status.
    pub const TERMINATION_LOG: &str = "/dev/termination-log";
    /// Longest termination message Kubernetes keeps (bytes).
    pub const MAX_TERMINATION_MESSAGE: usize = 4096;
    /// Label on a bot's backtest Jobs (and their ConfigMaps), value [`COMPONENT`].
    pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
    /// Value of [`COMPONENT_LABEL`] on a bot's backtest Jobs.
    pub const COMPONENT: &str = "backtest";
    /// Name of the container running the backtest.
    pub const CONTAINER: &str = "backtest";

    /// Environment variables of the backtest container (each also a `backtest` flag).
    pub mod env {
        /// The market data (`--data`): a file path, `archive:…`, `blob://…` or a URL.
        pub const DATA: &str = "TRADEWIND_BACKTEST_DATA";
        /// Directory for report.json and report.html (`--out`).
        pub const OUT: &str = "TRADEWIND_BACKTEST_OUT";
        /// Blob Storage directory the reports are uploaded to (`--report-to`).
        pub const REPORT_TO: &str = "TRADEWIND_BACKTEST_REPORT_TO";
        /// Where the summary goes (`--summary-file`).
        pub const SUMMARY_FILE: &str = "TRADEWIND_BACKTEST_SUMMARY_FILE";
        /// A sweep's plan, [`crate::sweep::SweepPlan`] as JSON (`--sweep`).
        pub const SWEEP: &str = "TRADEWIND_BACKTEST_SWEEP";
        /// The pod's completion index in an Indexed Job (Kubernetes sets it; `--index`).
        pub const COMPLETION_INDEX: &str = "JOB_COMPLETION_INDEX";
    }

    /// Annotation (and label) of an Indexed Job's pod holding its completion index.
    pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
    /// File a sweep pod writes its combinations' results to (JSON lines, one
    /// `{"parameters": …, "summary": …}` or `{"parameters": …, "error": …}` each), in the
    /// reports directory.
    pub fn sweep_results_file(index: usize) -> String {
        format!("results-{index:05}.jsonl")
    }

    /// The Job of a bot's backtest whose inputs hash to `hash`: `{bot}-bt-{hash}`, a DNS
    /// label (its pods' names and the `job-name` label derive from it).
    pub fn job_name(bot: &str, hash: &str) -> String {
        let suffix = format!("-bt-{hash}");
        // Room for an Indexed Job's `-{index}` in its pods' host names.
        let keep = super::MAX_LABEL.saturating_sub(suffix.len() + 6);
        let head = super::bounded_name(bot, keep);
        let head = head.trim_end_matches(['-', '.']).replace('.', "-");
        format!("{head}{suffix}")
    }
}

/// Signals from outside, delivered to a bot's worker by the platform (the worker
/// authenticates with its projected platform token, as for its events).
pub mod signals {
    /// `GET` with `?namespace=<ns>&name=<bot>&after=<seq>&wait=<seconds>`: the bot's
    /// signals after sequence `after`, oldest first; with none, the platform holds the
    /// request up to `wait` seconds (at most [`MAX_WAIT_SECONDS`]) for one to arrive.
    pub const PATH: &str = "/ingest/v1/signals";
    /// `POST` `{"namespace", "name", "upto"}`: the worker journaled every signal up to
    /// sequence `upto`; the platform marks them delivered.
    pub const ACK_PATH: &str = "/ingest/v1/signals/ack";
    /// Most signals in one answer.
    pub const MAX_BATCH: usize = 100;
    /// Longest a fetch is held open.
    pub const MAX_WAIT_SECONDS: u64 = 25;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_path_is_the_file_in_the_config_dir() {
        assert_eq!(CONFIG_PATH, format!("{CONFIG_DIR}/{CONFIG_FILE}"));
        assert_eq!(lease_name("btc"), "btc-lease");
    }

    #[test]
    fn a_worker_service_account_is_its_bots_only() {
        for bot in ["btc", "btc-worker", "a"] {
            let sa = worker_service_account(bot);
            assert_eq!(worker_name(bot), sa);
            assert!(is_worker_of(&sa, bot));
        }
        assert!(!is_worker_of("-worker", ""));
        assert!(!is_worker_of("btc-worker", "btc-worker"));
        assert!(!is_worker_of("btc-workers", "btc"));
        assert!(!is_worker_of("default", "default"));
        // A long name's worker is hashed to a DNS label and still recognised, and two
        // long names sharing their beginning get different workers.
        let long = "a".repeat(100);
        let other = format!("{}b", "a".repeat(99));
        let sa = worker_name(&long);
        assert_eq!(sa.len(), MAX_LABEL);
        assert!(!sa.ends_with(WORKER_SUFFIX));
        assert!(is_worker_of(&sa, &long));
        assert!(!is_worker_of(&sa, &other));
        assert_ne!(worker_name(&other), sa);
    }

    #[test]
    fn a_backtest_job_name_is_a_dns_label_per_bot_and_hash() {
        assert_eq!(backtest::job_name("btc", "0123abcd"), "btc-bt-0123abcd");
        let long = "a".repeat(200);
        let name = backtest::job_name(&long, "0123456789abcdef");
        assert!(name.len() <= MAX_LABEL, "{name}");
        assert!(name.ends_with("-bt-0123456789abcdef"));
        assert_ne!(
            backtest::job_name(&format!("{long}b"), "0123456789abcdef"),
            name
        );
        assert_eq!(backtest::job_name("a.b", "00"), "a-b-bt-00");
    }
}
