//! The controllers: one per kind, on kube-runtime's `Controller`. Each reconcile is the
//! pipeline of pure steps (dereference → build → status) with thin I/O between them:
//! fetch, diff-before-write apply, and a status patch only when the status changed.

mod apply;
pub mod bot;
pub mod cloud;
pub mod index;
mod references;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt};
use tradewind_crds::{CommissionPlan, Strategy, TradingBot};

use crate::build::{BuildError, OperatorConfig};
pub use apply::ApplyError;
use cloud::Cloud;
use index::{RefIndex, RefKind};

/// Reconciles each controller runs at once.
pub const RECONCILE_CONCURRENCY: u16 = 16;

/// Field manager of every write the operator makes (server-side apply and status).
pub const FIELD_MANAGER: &str = "tradewind-operator";
/// Finalizer that removes a bot's cloud resources before it goes.
pub const FINALIZER: &str = "tradewind.dev/cloud-cleanup";

/// Errors of the Strategy and CommissionPlan reconciles; retried with per-object
/// exponential backoff. The TradingBot reconcile has its own, by step ([`bot::Error`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Children could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A child could not be applied.
    #[error("applying {0}")]
    Apply(#[from] ApplyError),
}

/// What the error policy needs of a reconcile's error.
pub trait ReconcileError: std::fmt::Display {
    /// Short class for the errors metric.
    fn reason(&self) -> &'static str;
}

/// What every reconcile shares.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Image and identity settings.
    pub settings: OperatorConfig,
    /// Cloud resources.
    pub cloud: Arc<dyn Cloud>,
    /// Which bots use which Strategy / CommissionPlan.
    pub index: RefIndex,
    /// Consecutive failures per object, for exponential backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// The bot controller's reflector store (in memory, kept exact by its watch), for
    /// counting the bots bound to a Strategy or CommissionPlan without API calls.
    bots: std::sync::OnceLock<kube::runtime::reflector::Store<TradingBot>>,
    /// Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    /// Set once the controllers run (or the replica is a standby), for /readyz.
    pub ready: std::sync::atomic::AtomicBool,
    /// Publishes Kubernetes Events (events.k8s.io/v1) for what a person should know.
    recorder: kube::runtime::events::Recorder,
    /// How often every object is reconciled regardless of events (see [`Context::with_resync`]).
    resync: Duration,
    /// Model strategies' artifact verdicts, by the version of the object holding each.
    pub models: crate::model::ArtifactCache,
    /// Read access to the environment's storage account, for Blob Storage models.
    pub model_blobs: Option<crate::model::ModelBlobs>,
    /// Namespaces whose labelled model Secrets the Strategy controller watches.
    pub model_secret_namespaces: Vec<String>,
}

/// Every bot, Strategy and CommissionPlan is reconciled this often even without an event. kube-runtime's Controller
/// can drop an object it first sees in a relist (after a 410) before its store holds it,
/// and an object never reconciled is never requeued; reconciles write only what differs, so
/// a periodic pass costs reads, not writes.
pub const RESYNC_ALL: Duration = Duration::from_secs(300);

impl ReconcileError for Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Build(_) => "build",
            Error::Apply(_) => "apply",
        }
    }
}

impl Context {
    /// A context for the controllers.
    pub fn new(client: Client, settings: OperatorConfig, cloud: Arc<dyn Cloud>) -> Self {
        Self {
            settings,
            cloud,
            index: RefIndex::default(),
            failures: Mutex::default(),
            bots: std::sync::OnceLock::new(),
            metrics: crate::metrics::Metrics::default(),
            ready: std::sync::atomic::AtomicBool::new(false),
            resync: RESYNC_ALL,
            models: crate::model::ArtifactCache::default(),
            model_blobs: None,
            model_secret_namespaces: Vec::new(),
            recorder: kube::runtime::events::Recorder::new(
                client.clone(),
                kube::runtime::events::Reporter {
                    controller: FIELD_MANAGER.into(),
                    instance: None,
                },
            ),
            client,
        }
    }

    /// Watches the model Secrets (labelled [`crate::model::SECRET_WATCH_LABEL`]) of
    /// `namespaces`, where the operator may list and watch Secrets; empty names are
    /// dropped.
    pub fn with_model_secret_namespaces(mut self, namespaces: Vec<String>) -> Self {
        self.model_secret_namespaces = namespaces
            .into_iter()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        self.model_secret_namespaces.sort();
        self.model_secret_namespaces.dedup();
        self
    }

    /// Reads Blob Storage models with `blobs` (without, a `blobUrl` model is refused).
    pub fn with_model_blobs(mut self, blobs: crate::model::ModelBlobs) -> Self {
        self.model_blobs = Some(blobs);
        self
    }

    /// Reconciles every object every `every` (default [`RESYNC_ALL`]) besides on events.
    pub fn with_resync(mut self, every: Duration) -> Self {
        self.resync = every.max(Duration::from_millis(100));
        self
    }

    /// Publishes a Warning Event about `obj`. Failing to publish is logged, never fatal:
    /// Events are for people, the status carries the same information.
    pub async fn warn<K: kube::Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        reason: &str,
        note: String,
    ) {
        let event = kube::runtime::events::Event {
            type_: kube::runtime::events::EventType::Warning,
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(object = %key(obj), %e, "could not publish an Event");
        }
    }

    /// Publishes a Normal Event about `obj` (logged, never fatal, when it fails).
    pub async fn inform<K: kube::Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        reason: &str,
        note: String,
    ) {
        let event = kube::runtime::events::Event {
            type_: kube::runtime::events::EventType::Normal,
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(object = %key(obj), %e, "could not publish an Event");
        }
    }

    /// Every bot the controller's store holds (empty before the controllers run).
    pub fn all_bots(&self) -> Vec<Arc<TradingBot>> {
        self.bots
            .get()
            .map(|store| store.state())
            .unwrap_or_default()
    }

    /// Bots in `namespace` for which `pred` holds, from the in-memory store.
    pub fn count_bots(&self, namespace: &str, pred: impl Fn(&TradingBot) -> bool) -> u32 {
        self.bots.get().map_or(0, |store| {
            store
                .state()
                .iter()
                .filter(|b| {
                    b.metadata.namespace.as_deref() == Some(namespace)
                        && b.metadata.deletion_timestamp.is_none()
                })
                .filter(|b| pred(b))
                .count() as u32
        })
    }

    fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// 1 s, 2 s, 4 s … capped at 5 minutes, per object.
    fn backoff(&self, key: &str) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key.to_owned()).or_insert(0);
        *n = (*n + 1).min(16);
        Duration::from_secs((1u64 << (*n - 1)).min(300))
    }
}

/// Status writes are merge patches attributed to the operator's field manager.
fn status_apply_params() -> kube::api::PatchParams {
    kube::api::PatchParams::apply(FIELD_MANAGER).force()
}

fn status_params() -> kube::api::PatchParams {
    kube::api::PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

fn key<K: kube::Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or(""),
        obj.meta().name.as_deref().unwrap_or("")
    )
}

fn error_policy<K: kube::Resource<DynamicType = ()>, E: ReconcileError>(
    obj: Arc<K>,
    error: &E,
    ctx: Arc<Context>,
) -> Action {
    ctx.metrics
        .error(&K::kind(&()).to_lowercase(), error.reason());
    let delay = ctx.backoff(&key(obj.as_ref()));
    tracing::warn!(object = %key(obj.as_ref()), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn ctx_ready(ctx: &Context) {
    ctx.ready.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A tick every `every`, the first after one period.
fn ticks(every: Duration) -> impl futures::Stream<Item = ()> + Send + Sync + 'static {
    futures::stream::unfold(
        tokio::time::Instant::now() + every,
        move |next| async move {
            tokio::time::sleep_until(next).await;
            Some(((), next + every))
        },
    )
}

/// Runs the three controllers until the process stops. `namespace` limits the scope.
pub async fn run(ctx: Arc<Context>, namespace: Option<&str>) {
    let client = ctx.client.clone();
    fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let bots: Api<TradingBot> = api(&client, namespace);
    let strategies: Api<Strategy> = api(&client, namespace);
    let plans: Api<CommissionPlan> = api(&client, namespace);
    let deployments: Api<Deployment> = api(&client, namespace);
    let cron_jobs: Api<CronJob> = api(&client, namespace);
    let config_maps: Api<ConfigMap> = api(&client, namespace);
    let jobs: Api<Job> = api(&client, namespace);
    let cfg = watcher::Config::default();
    // Bounded concurrency: a thousand new bots must not become a thousand simultaneous
    // reconciles (memory, and a thundering herd on the API server).
    let ctl_cfg = kube::runtime::controller::Config::default().concurrency(RECONCILE_CONCURRENCY);

    let ctx_for_ready = ctx.clone();
    let index_ctx = ctx.clone();
    let index_ctx2 = ctx.clone();
    let bot_controller = Controller::new(bots.clone(), cfg.clone()).with_config(ctl_cfg.clone());
    let _ = ctx.bots.set(bot_controller.store());
    let bot_controller = bot_controller
        .owns(
            deployments,
            watcher::Config::default().labels(&format!(
                "{}={}",
                tradewind_crds::contract::labels::MANAGED_BY,
                tradewind_crds::contract::labels::OPERATOR
            )),
        )
        // A Backtest bot's Job finishing updates its status.
        .owns(
            jobs,
            watcher::Config::default().labels(&format!(
                "{}={},{}={}",
                tradewind_crds::contract::labels::MANAGED_BY,
                tradewind_crds::contract::labels::OPERATOR,
                tradewind_crds::contract::backtest::COMPONENT_LABEL,
                tradewind_crds::contract::backtest::COMPONENT,
            )),
        )
        .watches(strategies.clone(), cfg.clone(), move |s: Strategy| {
            let ns = s.namespace().unwrap_or_default();
            index_ctx
                .index
                .bots_for(RefKind::Strategy, &ns, &s.name_any())
                .into_iter()
                .map(move |b| ObjectRef::new(&b).within(&ns))
        })
        .watches(plans.clone(), cfg.clone(), move |p: CommissionPlan| {
            let ns = p.namespace().unwrap_or_default();
            index_ctx2
                .index
                .bots_for(RefKind::CommissionPlan, &ns, &p.name_any())
                .into_iter()
                .map(move |b| ObjectRef::new(&b).within(&ns))
        })
        .reconcile_all_on(ticks(ctx.resync))
        .shutdown_on_signal()
        .run(bot::reconcile, error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));

    let strategy_controller = Controller::new(strategies, cfg.clone()).with_config(ctl_cfg.clone());
    let strategy_store = strategy_controller.store();
    let models_ctx = ctx.clone();
    // A Model strategy's Secret, in the namespaces the operator may watch Secrets in and
    // labelled as a model (never every Secret: credentials stay unlisted): a change
    // re-checks the Strategies that name it (the check reads it again; unwatched, only the
    // periodic reconcile would).
    let mut strategy_controller = strategy_controller;
    for ns in &ctx.model_secret_namespaces {
        let strategy_store = strategy_store.clone();
        strategy_controller = strategy_controller.watches(
            Api::<Secret>::namespaced(client.clone(), ns),
            watcher::Config::default().labels(crate::model::SECRET_WATCH_LABEL),
            move |secret: Secret| {
                let ns = secret.namespace().unwrap_or_default();
                let name = secret.name_any();
                strategy_store
                    .state()
                    .iter()
                    .filter(|s| crate::model::uses_secret(s, &ns, &name))
                    .map(|s| ObjectRef::from_obj(s.as_ref()))
                    .collect::<Vec<_>>()
            },
        );
    }
    let strategy_controller = strategy_controller
        .watches(bots.clone(), cfg.clone(), |b: TradingBot| {
            let ns = b.namespace().unwrap_or_default();
            Some(ObjectRef::new(&b.spec.strategy_ref.name).within(&ns))
        })
        // A Model strategy's ConfigMap: a change re-checks the Strategies that use it
        // (and drops the cached verdict of its old version).
        .watches(config_maps, cfg.clone(), move |cm: ConfigMap| {
            let ns = cm.namespace().unwrap_or_default();
            let name = cm.name_any();
            let users: Vec<_> = strategy_store
                .state()
                .iter()
                .filter(|s| crate::model::uses_config_map(s, &ns, &name))
                .map(|s| ObjectRef::from_obj(s.as_ref()))
                .collect();
            if let (false, Some(uid), Some(rv)) = (
                users.is_empty(),
                cm.metadata.uid.clone(),
                cm.metadata.resource_version.clone(),
            ) {
                models_ctx.models.observe(
                    (crate::model::Holder::ConfigMap, ns, name),
                    crate::model::Version {
                        uid,
                        resource_version: rv,
                    },
                );
            }
            users
        })
        .reconcile_all_on(ticks(ctx.resync))
        .shutdown_on_signal()
        .run(references::reconcile_strategy, error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));

    let plan_controller = Controller::new(plans, cfg.clone())
        .with_config(ctl_cfg)
        .owns(cron_jobs, watcher::Config::default())
        .watches(bots, cfg, |b: TradingBot| {
            let ns = b.namespace().unwrap_or_default();
            b.spec
                .commission_plan_ref
                .map(|r| ObjectRef::new(&r.name).within(&ns))
        })
        .reconcile_all_on(ticks(ctx.resync))
        .shutdown_on_signal()
        .run(references::reconcile_plan, error_policy, ctx)
        .for_each(|_| futures::future::ready(()));

    ctx_ready(&ctx_for_ready);
    tokio::join!(bot_controller, strategy_controller, plan_controller);
}
