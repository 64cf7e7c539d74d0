//! The TradingBot reconcile, as a list of steps, each in a file of its own with its own
//! error variant: fetch the references → dereference → build → ensure the cloud
//! resources → apply the workload with the bot's cloud identity (or, for a Backtest bot,
//! remove it; after a failed cloud step, leave it as it is) → write the status.

mod backtest;
mod cloud;
mod feeds;
mod fetch;
mod status;
mod workload;

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::{Api, ResourceExt};
use tradewind_crds::{Mode, TradingBot};

use super::cloud::CloudError;
use super::{ApplyError, Context, FINALIZER, ReconcileError, key};
use crate::build::{self, BuildError};
use crate::dereference::{DereferenceError, dereference};
use crate::status::{CloudState, Observed};

/// A bot that is Ready is looked at again this often (drift repair); changes trigger at once.
const RESYNC: Duration = Duration::from_secs(300);
/// A failed cloud call is retried this soon, its error already in the status.
const CLOUD_RETRY: Duration = Duration::from_secs(30);

/// Why a TradingBot reconcile failed, by step; retried with per-object backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the Strategy or CommissionPlan the bot names failed (a missing one is not
    /// an error: the status says so).
    #[error("reading {kind} {name}: {source}")]
    Fetch {
        /// `Strategy` or `CommissionPlan`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Cause.
        source: kube::Error,
    },
    /// The worker's objects could not be built.
    #[error("building the worker's objects: {0}")]
    Build(#[source] BuildError),
    /// Applying one of the worker's objects failed.
    #[error("applying {0}")]
    ApplyWorkload(#[source] ApplyError),
    /// Reading the worker Deployment (left as it is after a failed cloud step) failed.
    #[error("reading Deployment {name}: {source}")]
    ReadWorkload {
        /// Object name.
        name: String,
        /// Cause.
        source: kube::Error,
    },
    /// Removing the workload of a bot that runs none (mode Backtest) failed.
    #[error("removing {kind} {name}: {source}")]
    RemoveWorkload {
        /// Kind, e.g. `Deployment`.
        kind: String,
        /// Object name.
        name: String,
        /// Cause.
        source: kube::Error,
    },
    /// Reading or writing the bot's status failed.
    #[error("writing the status: {0}")]
    Status(#[source] kube::Error),
    /// Deleting the bot's cloud resources failed (the finalizer stays; the status says why).
    #[error("cloud cleanup: {0}")]
    CleanupCloud(#[source] CloudError),
    /// The finalizer helper failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
}

impl ReconcileError for Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::Fetch { .. } => "fetch",
            Error::Build(_) => "build",
            Error::ApplyWorkload(_) => "apply",
            Error::ReadWorkload { .. } => "read",
            Error::RemoveWorkload { .. } => "remove",
            Error::Status(_) => "status",
            Error::CleanupCloud(_) => "cloud",
            Error::Finalizer(_) => "finalizer",
        }
    }
}

/// Entry point for the controller.
pub async fn reconcile(bot: Arc<TradingBot>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.start("tradingbot");
    let ns = bot.namespace().unwrap_or_default();
    let api: Api<TradingBot> = Api::namespaced(ctx.client.clone(), &ns);
    let k = key(bot.as_ref());
    let action = finalizer(&api, FINALIZER, bot, |event| async {
        match event {
            Event::Apply(bot) => apply_bot(&bot, &ctx).await,
            Event::Cleanup(bot) => cleanup_bot(&bot, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    })?;
    ctx.succeeded(&k);
    Ok(action)
}

async fn apply_bot(bot: &TradingBot, ctx: &Context) -> Result<Action, Error> {
    ctx.index.update(bot);
    ctx.metrics
        .set_managed("tradingbot", ctx.index.bot_count() as i64);
    let refs = fetch::references(bot, ctx).await?;
    let checked = dereference(bot, refs.strategy.as_ref(), refs.plan.as_ref()).and_then(|cfg| {
        build::check_image(bot, &ctx.settings).map_err(DereferenceError::ImageNotAllowed)?;
        Ok(cfg)
    });
    let cfg = match checked {
        Ok(cfg) => cfg,
        Err(e) => {
            status::unresolved(bot, ctx, &e).await?;
            // The Strategy/CommissionPlan watch wakes this bot when the reference appears.
            return Ok(Action::requeue(RESYNC));
        }
    };
    let children = build::children(bot, &cfg, &ctx.settings).map_err(Error::Build)?;
    // A Backtest bot runs nowhere in the cluster, so it gets no cloud resources (no copy
    // of its exchange credentials in Key Vault); what an earlier mode created stays until
    // the bot is deleted (the finalizer) or runs again.
    let backtest = bot.spec.mode == Mode::Backtest;
    let cloud = if backtest {
        CloudState::NotNeeded
    } else {
        cloud::ensure(bot, ctx).await
    };
    let config_hash = children.config_hash.clone();
    let mut run = None;
    let (deployment, applied) = match &cloud {
        _ if backtest => {
            // The worker refuses Backtest bots: no worker pod to crash-loop. With data in
            // its spec the backtest runs as a Job; without, the status says how to run it.
            workload::remove(ctx, bot, &children).await?;
            feeds::prune(ctx, bot).await?;
            run = backtest::ensure(ctx, bot, &cfg).await?;
            (None, true)
        }
        // The worker's Azure identity comes from the cloud step: applying without it
        // would strip a running worker's identity (and roll it for nothing). What runs
        // stays as it is until the retry succeeds; the status says why.
        CloudState::Failed(_) => (workload::live(ctx, &children).await?, false),
        CloudState::Ready {
            workload_identity_client_id: Some(client_id),
            ..
        } => {
            let children = children.with_workload_identity(client_id);
            // The symbol's shared feed first: the worker waits for its stream otherwise.
            feeds::ensure(ctx, bot).await?;
            (Some(workload::apply(ctx, &children).await?), true)
        }
        _ => {
            feeds::ensure(ctx, bot).await?;
            (Some(workload::apply(ctx, &children).await?), true)
        }
    };
    let observed = Observed {
        resolution: Ok(()),
        cloud: cloud.clone(),
        deployment: deployment.as_ref().and_then(|d| d.status.as_ref()),
        config_hash: applied.then_some(config_hash),
    };
    status::reconciled(bot, ctx, &observed, run.as_ref()).await?;
    Ok(Action::requeue(match cloud {
        CloudState::Failed(_) => CLOUD_RETRY,
        _ => RESYNC,
    }))
}

async fn cleanup_bot(bot: &TradingBot, ctx: &Context) -> Result<Action, Error> {
    cloud::delete(bot, ctx).await?;
    feeds::prune(ctx, bot).await?;
    ctx.index
        .remove(&bot.namespace().unwrap_or_default(), &bot.name_any());
    tracing::info!(bot = %key(bot), "cleaned up; children are garbage-collected by their owner references");
    Ok(Action::await_change())
}
