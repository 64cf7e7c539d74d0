//! Model artifacts: the operator reads a Model strategy's ConfigMap or Secret key and
//! loads it as the worker will (pinned SHA-256, input shape against the declared
//! features, the decision output), so a Strategy whose model cannot run is not Ready and
//! says why. The worker checks again when it starts.
//!
//! Loading a model (parsing and optimising the graph) is the expensive part, so verdicts
//! are cached by the object's uid and resourceVersion, the key, the digest and the shape
//! the Strategy declares. ConfigMaps are watched (see [`ArtifactCache::observe`]): while
//! the watch has seen an object, a reconcile whose verdict is cached makes no API call at
//! all. Secrets are not watched (the operator holds no list or watch on Secrets): each
//! reconcile reads the Secret, and only a new resourceVersion is loaded and checked again.
//!
//! A Blob Storage model (`blobUrl`, in the environment's storage account) is fetched by the
//! operator with its own identity at each reconcile, checked like the others (verdicts
//! cached by the bytes' digest), and copied into a ConfigMap owned by the Strategy
//! ([`blob_copy_name`]) that bots' workers mount like a `configMap` source. So workers
//! need no Blob role, and run exactly the bytes the operator checked (they check the
//! digest again).

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};
use tradewind_azure::blob::BlobClient;
use tradewind_config::Invalid;
use tradewind_core::strategy::StrategyConfig;
use tradewind_core::strategy::model::{ArtifactSource, ModelConfig};
use tradewind_crds::{Strategy, StrategySpec};

/// What the operator could say about a Model strategy's artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactCheck {
    /// Not a Model strategy (or its parameters are already refused).
    NotApplicable,
    /// Loaded and matching.
    Verified(String),
    /// On a path only the worker sees: it checks it when it starts.
    WorkerChecks(String),
    /// Fetched from Blob Storage, loaded and matching: the bytes to copy for the workers.
    FromBlob {
        /// What was verified.
        message: String,
        /// The model's bytes.
        bytes: Vec<u8>,
    },
}

/// Largest Blob Storage model the operator copies into a ConfigMap (a ConfigMap holds at
/// most 1 MiB, and `binaryData` is base64 in the stored object).
pub const BLOB_COPY_MAX: usize = 700 * 1024;

/// The ConfigMap (in the Strategy's namespace, owned by it) holding the copy of a Blob
/// Storage model, under the key [`tradewind_crds::contract::MODEL_FILE`].
pub fn blob_copy_name(strategy: &str) -> String {
    format!("{strategy}-model-blob")
}

/// The operator's read access to the environment's storage account.
#[derive(Clone, Debug)]
pub struct ModelBlobs {
    /// The account's Blob endpoint (`https://{account}.blob.core.windows.net/`).
    pub endpoint: String,
    /// A client for it, signed in as the operator.
    pub client: BlobClient,
}

/// The (container, blob) of `url` if it is in the account at `endpoint`, else why not.
pub fn blob_path(endpoint: &str, url: &str) -> Result<(String, String), String> {
    let base = endpoint.trim_end_matches('/');
    let rest = url
        .strip_prefix(base)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| format!("is not in the environment's storage account ({base}/)"))?;
    match rest.split_once('/') {
        Some((container, blob)) if !container.is_empty() && !blob.is_empty() => {
            Ok((container.to_owned(), blob.to_owned()))
        }
        _ => Err(format!(
            "names no blob: expected {base}/{{container}}/{{blob}}"
        )),
    }
}

fn bad(field: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// Which kind of object holds an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Holder {
    /// A ConfigMap (watched).
    ConfigMap,
    /// A Secret (read at each reconcile; watched when labelled [`SECRET_WATCH_LABEL`]).
    Secret,
    /// A blob, by URL (fetched at each reconcile).
    Blob,
}

/// One object holding an artifact: kind, namespace, name.
pub type ObjectKey = (Holder, String, String);

/// An object's identity and version: a recreated object has a new uid, a changed one a
/// new resourceVersion.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
}

impl Version {
    fn of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<Self> {
        Some(Self {
            uid: meta.uid.clone()?,
            resource_version: meta.resource_version.clone()?,
        })
    }
}

/// What a verdict depends on besides the object: the key, the pinned digest, the number
/// of features and the selected output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Expectation {
    key: String,
    sha256: String,
    features: usize,
    output: Option<String>,
    column: usize,
}

fn expectation(config: &ModelConfig, key: &str) -> Expectation {
    Expectation {
        key: key.to_owned(),
        sha256: config.sha256.clone(),
        features: config.features.len(),
        output: config.output.name.clone(),
        column: config.output.column,
    }
}

/// Verdicts of loaded artifacts and the versions the ConfigMap watch has seen.
#[derive(Debug, Default)]
pub struct ArtifactCache {
    inner: Mutex<Inner>,
}

type Verdict = Result<String, String>;

#[derive(Debug, Default)]
struct Inner {
    /// Latest version of each watched object a Strategy refers to.
    seen: HashMap<ObjectKey, Version>,
    verdicts: HashMap<(ObjectKey, Expectation), (Version, Verdict)>,
    /// Models loaded and checked (cache misses), for tests and the log.
    loads: u64,
}

/// Most verdicts kept; beyond it the cache starts again (bounded memory under churn).
const MAX_VERDICTS: usize = 4096;

impl ArtifactCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The watch saw `object` at `version` (created, changed or deleted — a deletion
    /// carries a new resourceVersion): verdicts of older versions no longer apply.
    pub fn observe(&self, object: ObjectKey, version: Version) {
        let mut inner = self.lock();
        inner
            .verdicts
            .retain(|(o, _), (v, _)| *o != object || *v == version);
        inner.seen.insert(object, version);
    }

    /// A read found `object` at `version`: the watch's version until it reports one
    /// (a version it already reported is newer or equal, so it stays).
    fn read(&self, object: &ObjectKey, version: &Version) {
        self.lock()
            .seen
            .entry(object.clone())
            .or_insert_with(|| version.clone());
    }

    /// How many times an artifact was loaded and checked (each a cache miss).
    pub fn loads(&self) -> u64 {
        self.lock().loads
    }

    fn seen(&self, object: &ObjectKey) -> Option<Version> {
        self.lock().seen.get(object).cloned()
    }

    fn cached(&self, object: &ObjectKey, e: &Expectation, version: &Version) -> Option<Verdict> {
        self.lock()
            .verdicts
            .get(&(object.clone(), e.clone()))
            .filter(|(v, _)| v == version)
            .map(|(_, verdict)| verdict.clone())
    }

    fn store(&self, object: ObjectKey, e: Expectation, version: Version, verdict: Verdict) {
        let mut inner = self.lock();
        inner.loads += 1;
        if inner.verdicts.len() >= MAX_VERDICTS {
            inner.verdicts.clear();
        }
        inner.verdicts.insert((object, e), (version, verdict));
    }
}

/// The ConfigMap or Secret (kind, name) a Strategy's model is in, if any.
pub fn holder(spec: &StrategySpec) -> Option<(Holder, &str)> {
    let artifact = &spec.model.as_ref()?.artifact;
    match (&artifact.config_map, &artifact.secret) {
        (Some(r), _) => Some((Holder::ConfigMap, r.name.as_str())),
        (None, Some(r)) => Some((Holder::Secret, r.name.as_str())),
        _ => None,
    }
}

/// The label of a model Secret the operator watches (any value), in the namespaces it
/// may watch Secrets in: a change re-checks the Strategies that name it.
pub const SECRET_WATCH_LABEL: &str = "tradewind.dev/model";

/// Whether `strategy` keeps its model in the Secret `name` of its namespace.
pub fn uses_secret(strategy: &Strategy, ns: &str, name: &str) -> bool {
    strategy.metadata.namespace.as_deref() == Some(ns)
        && holder(&strategy.spec) == Some((Holder::Secret, name))
}

/// Whether `strategy` keeps its model in the ConfigMap `name` of its namespace.
pub fn uses_config_map(strategy: &Strategy, ns: &str, name: &str) -> bool {
    strategy.metadata.namespace.as_deref() == Some(ns)
        && holder(&strategy.spec) == Some((Holder::ConfigMap, name))
}

/// The artifact's bytes in a ConfigMap (`binaryData`, else `data`) or `None` with why.
pub fn config_map_bytes(cm: &ConfigMap, key: &str) -> Result<Vec<u8>, String> {
    if let Some(b) = cm.binary_data.as_ref().and_then(|d| d.get(key)) {
        return Ok(b.0.clone());
    }
    if let Some(s) = cm.data.as_ref().and_then(|d| d.get(key)) {
        return Ok(s.as_bytes().to_vec());
    }
    Err(format!("has no key {key:?} in binaryData or data"))
}

/// The artifact's bytes in a Secret's `data`.
pub fn secret_bytes(s: &Secret, key: &str) -> Result<Vec<u8>, String> {
    s.data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .ok_or_else(|| format!("has no key {key:?}"))
}

/// Loads `bytes` as `config` says (digest, input width, output): the pure decision.
pub fn verdict(config: &ModelConfig, bytes: &[u8]) -> Verdict {
    let model = config.load(bytes).map_err(|e| e.to_string())?;
    Ok(format!(
        "model {} verified (sha256 {}, {} features, output {})",
        config.source,
        model.sha256(),
        model.inputs(),
        model.output_name()
    ))
}

/// Loads and checks the model the Strategy `name` in `ns` names; a refusal names the
/// Strategy, where its model is and what does not match.
pub async fn check(
    client: &Client,
    cache: &ArtifactCache,
    blobs: Option<&ModelBlobs>,
    ns: &str,
    name: &str,
    spec: &StrategySpec,
) -> Result<ArtifactCheck, Invalid> {
    let Ok(StrategyConfig::Model(config)) = tradewind_config::strategy(spec) else {
        return Ok(ArtifactCheck::NotApplicable);
    };
    let (holder, object, key, field) = match &config.source {
        ArtifactSource::Path(p) => {
            return Ok(ArtifactCheck::WorkerChecks(format!(
                "the model at path {p} is checked by the worker when it starts"
            )));
        }
        ArtifactSource::BlobUrl(url) => {
            return check_blob(cache, blobs, ns, name, &config, url).await;
        }
        ArtifactSource::ConfigMap { name, key } => (
            Holder::ConfigMap,
            name,
            key,
            "spec.model.artifact.configMap",
        ),
        ArtifactSource::Secret { name, key } => {
            (Holder::Secret, name, key, "spec.model.artifact.secret")
        }
    };
    let refused = |why: String| bad(field, format!("Strategy {name}: {}: {why}", config.source));
    let object_key: ObjectKey = (holder, ns.to_owned(), object.clone());
    let expected = expectation(&config, key);
    // Watched and unchanged since its verdict: no API call.
    if let Some(version) = cache.seen(&object_key)
        && let Some(v) = cache.cached(&object_key, &expected, &version)
    {
        return v.map(ArtifactCheck::Verified).map_err(refused);
    }
    let kind = match holder {
        Holder::ConfigMap => "ConfigMap",
        Holder::Secret | Holder::Blob => "Secret",
    };
    let read = |e: kube::Error| refused(format!("reading {kind} {object}: {e}"));
    let (version, bytes) = match holder {
        Holder::ConfigMap => {
            let Some(cm) = Api::<ConfigMap>::namespaced(client.clone(), ns)
                .get_opt(object)
                .await
                .map_err(read)?
            else {
                return Err(refused(format!("ConfigMap {object} not found")));
            };
            (Version::of(&cm.metadata), config_map_bytes(&cm, key))
        }
        Holder::Secret | Holder::Blob => {
            let Some(s) = Api::<Secret>::namespaced(client.clone(), ns)
                .get_opt(object)
                .await
                .map_err(read)?
            else {
                return Err(refused(format!("Secret {object} not found")));
            };
            (Version::of(&s.metadata), secret_bytes(&s, key))
        }
    };
    if let (Holder::ConfigMap, Some(version)) = (holder, &version) {
        cache.read(&object_key, version);
    }
    if let Some(version) = &version
        && let Some(v) = cache.cached(&object_key, &expected, version)
    {
        return v.map(ArtifactCheck::Verified).map_err(refused);
    }
    let v = match bytes {
        Ok(bytes) => verdict(&config, &bytes),
        Err(why) => Err(format!("{kind} {object} {why}")),
    };
    if let Some(version) = version {
        cache.store(object_key, expected, version, v.clone());
    }
    v.map(ArtifactCheck::Verified).map_err(refused)
}

/// Fetches, loads and checks a Blob Storage model; its verdict is cached by the bytes'
/// digest, so an unchanged blob is downloaded but not loaded again.
async fn check_blob(
    cache: &ArtifactCache,
    blobs: Option<&ModelBlobs>,
    ns: &str,
    name: &str,
    config: &ModelConfig,
    url: &str,
) -> Result<ArtifactCheck, Invalid> {
    let refused = |why: String| {
        bad(
            "spec.model.artifact.blobUrl",
            format!("Strategy {name}: {}: {why}", config.source),
        )
    };
    let Some(blobs) = blobs else {
        return Err(refused(
            "this operator has no Blob Storage access (it reads models from the environment's storage account with --cloud azure and a blob:// --feed-archive); use configMap, secret or path".into(),
        ));
    };
    let (container, blob) = blob_path(&blobs.endpoint, url).map_err(refused)?;
    let bytes = blobs
        .client
        .get(&container, &blob)
        .await
        .map_err(|e| refused(format!("reading blob {container}/{blob}: {e}")))?
        .ok_or_else(|| refused(format!("blob {container}/{blob} not found")))?;
    if bytes.len() > BLOB_COPY_MAX {
        return Err(refused(format!(
            "blob {container}/{blob} is {} bytes, more than the {BLOB_COPY_MAX} a ConfigMap copy holds; put it on a volume (path)",
            bytes.len()
        )));
    }
    let object_key: ObjectKey = (Holder::Blob, ns.to_owned(), url.to_owned());
    let version = Version {
        uid: url.to_owned(),
        resource_version: tradewind_core::strategy::model::sha256_hex(&bytes),
    };
    let expected = expectation(config, "");
    let v = match cache.cached(&object_key, &expected, &version) {
        Some(v) => v,
        None => {
            let v = verdict(config, &bytes);
            cache.store(object_key, expected, version, v.clone());
            v
        }
    };
    v.map(|message| ArtifactCheck::FromBlob { message, bytes })
        .map_err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;
    use tradewind_core::strategy::model::sha256_hex;

    const SPY_GBM: &[u8] = include_bytes!("../../examples/models/spy-gbm.onnx");

    fn spec(features: usize, sha256: &str, artifact: serde_json::Value) -> StrategySpec {
        let kinds = [
            serde_json::json!({"name": "ret_1", "kind": "Returns", "period": 1}),
            serde_json::json!({"name": "ret_6", "kind": "Returns", "period": 6}),
            serde_json::json!({"name": "ret_24", "kind": "Returns", "period": 24}),
            serde_json::json!({"name": "sma_ratio_20", "kind": "SmaRatio", "period": 20}),
            serde_json::json!({"name": "ema_ratio_50", "kind": "EmaRatio", "period": 50}),
            serde_json::json!({"name": "rsi_14", "kind": "Rsi", "period": 14}),
            serde_json::json!({"name": "bb_pctb_20", "kind": "BollingerPercentB", "period": 20, "stdDevs": "2"}),
            serde_json::json!({"name": "atr_ratio_14", "kind": "AtrRatio", "period": 14}),
            serde_json::json!({"name": "volume_z_48", "kind": "VolumeZScore", "period": 48}),
            serde_json::json!({"name": "ret_48", "kind": "Returns", "period": 48}),
        ];
        let mut artifact = artifact;
        artifact["sha256"] = sha256.into();
        serde_json::from_value(serde_json::json!({
            "type": "Model",
            "timeframe": "5m",
            "model": {
                "features": kinds[..features].to_vec(),
                "artifact": artifact,
                "output": {"kind": "Probability"},
                "thresholds": {"enterAbove": "0.55", "exitBelow": "0.45"},
            }
        }))
        .unwrap()
    }

    fn config(spec: &StrategySpec) -> ModelConfig {
        match tradewind_config::strategy(spec).unwrap() {
            StrategyConfig::Model(m) => m,
            other => panic!("not a model: {other:?}"),
        }
    }

    fn cm(key: &str, bytes: &[u8]) -> ConfigMap {
        ConfigMap {
            binary_data: Some(BTreeMap::from([(
                key.to_owned(),
                ByteString(bytes.to_vec()),
            )])),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn a_blob_url_must_be_in_the_environments_account() {
        let e = "https://acct.blob.core.windows.net/";
        assert_eq!(
            blob_path(e, "https://acct.blob.core.windows.net/models/a/b.onnx").unwrap(),
            ("models".to_owned(), "a/b.onnx".to_owned())
        );
        let other = blob_path(e, "https://other.blob.core.windows.net/models/b.onnx").unwrap_err();
        assert!(
            other.contains("not in the environment's storage account"),
            "{other}"
        );
        // A look-alike host is not the account.
        assert!(blob_path(e, "https://acct.blob.core.windows.net.evil/m/b").is_err());
        assert!(
            blob_path(e, "https://acct.blob.core.windows.net/models")
                .unwrap_err()
                .contains("names no blob")
        );
    }

    #[test]
    fn a_matching_model_is_verified() {
        let s = spec(
            9,
            &sha256_hex(SPY_GBM),
            serde_json::json!({"configMap": {"name": "m", "key": "model.onnx"}}),
        );
        let bytes = config_map_bytes(&cm("model.onnx", SPY_GBM), "model.onnx").unwrap();
        let v = verdict(&config(&s), &bytes).unwrap();
        assert!(v.contains("9 features"), "{v}");
        assert!(v.contains(&sha256_hex(SPY_GBM)), "{v}");
    }

    #[test]
    fn a_wrong_digest_names_both_digests() {
        let pinned = "0".repeat(64);
        let s = spec(
            9,
            &pinned,
            serde_json::json!({"configMap": {"name": "m", "key": "model.onnx"}}),
        );
        let v = verdict(&config(&s), SPY_GBM).unwrap_err();
        assert!(
            v.contains(&pinned) && v.contains(&sha256_hex(SPY_GBM)),
            "{v}"
        );
    }

    #[test]
    fn a_wrong_input_width_names_both_widths() {
        let s = spec(
            10,
            &sha256_hex(SPY_GBM),
            serde_json::json!({"configMap": {"name": "m", "key": "model.onnx"}}),
        );
        let v = verdict(&config(&s), SPY_GBM).unwrap_err();
        assert!(
            v.contains("takes 9 features, the Strategy declares 10"),
            "{v}"
        );
    }

    #[test]
    fn a_missing_key_is_named() {
        let why = config_map_bytes(&cm("other.onnx", SPY_GBM), "model.onnx").unwrap_err();
        assert!(why.contains("\"model.onnx\""), "{why}");
        let s = Secret::default();
        assert!(secret_bytes(&s, "k").unwrap_err().contains("\"k\""));
        // `data` is read when binaryData lacks the key.
        let text = ConfigMap {
            data: Some(BTreeMap::from([("k".to_owned(), "abc".to_owned())])),
            ..ConfigMap::default()
        };
        assert_eq!(config_map_bytes(&text, "k").unwrap(), b"abc");
    }

    #[test]
    fn the_cache_keeps_a_verdict_until_the_object_changes() {
        let cache = ArtifactCache::default();
        let object: ObjectKey = (Holder::ConfigMap, "ns".into(), "m".into());
        let s = spec(
            9,
            &sha256_hex(SPY_GBM),
            serde_json::json!({"configMap": {"name": "m", "key": "k"}}),
        );
        let e = expectation(&config(&s), "k");
        let v1 = Version {
            uid: "u".into(),
            resource_version: "1".into(),
        };
        cache.observe(object.clone(), v1.clone());
        cache.store(object.clone(), e.clone(), v1.clone(), Ok("fine".into()));
        assert_eq!(cache.cached(&object, &e, &v1), Some(Ok("fine".into())));
        // Another digest or width is another verdict.
        let other = expectation(
            &config(&spec(
                8,
                &"1".repeat(64),
                serde_json::json!({"configMap": {"name": "m", "key": "k"}}),
            )),
            "k",
        );
        assert_eq!(cache.cached(&object, &other, &v1), None);
        // A change (or a deletion: a new resourceVersion) drops it.
        let v2 = Version {
            uid: "u".into(),
            resource_version: "2".into(),
        };
        cache.observe(object.clone(), v2.clone());
        assert_eq!(cache.seen(&object), Some(v2.clone()));
        assert_eq!(cache.cached(&object, &e, &v1), None);
        assert_eq!(cache.cached(&object, &e, &v2), None);
        // A recreated object has a new uid.
        let v3 = Version {
            uid: "u2".into(),
            resource_version: "2".into(),
        };
        cache.store(object.clone(), e.clone(), v2.clone(), Ok("fine".into()));
        assert_eq!(cache.cached(&object, &e, &v3), None);
        assert_eq!(cache.loads(), 2);
    }
}
