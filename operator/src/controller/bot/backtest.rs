//! Step: a Backtest bot's Job. Created once per configuration (the hash in its name):
//! while it exists its outcome is read from it and its pods; once it succeeded and its
//! summary is in the status, a Job deleted meanwhile is not run again. The bot's Jobs of
//! earlier configurations (and their ConfigMaps) are deleted.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, ResourceExt};
use tradewind_crds::TradingBot;
use tradewind_crds::resolved::BotConfig;

use super::Error;
use crate::build::{self, BacktestRun};
use crate::controller::Context;
use crate::controller::apply::apply as apply_one;

/// Reason of the Normal Event published when a backtest Job is created (once per Job).
pub const BACKTEST_STARTED: &str = "BacktestStarted";

/// Runs (or reads) the bot's backtest Job; `None` when the bot names no data (or is
/// suspended): then it has no Job at all.
pub async fn ensure(
    ctx: &Context,
    bot: &TradingBot,
    cfg: &BotConfig,
) -> Result<Option<BacktestRun>, Error> {
    let image = bot
        .spec
        .image
        .clone()
        .unwrap_or_else(|| ctx.settings.worker_image.clone());
    let built = if bot.spec.suspend {
        None
    } else {
        build::backtest_job(bot, cfg, &image).map_err(Error::Build)?
    };
    let Some(built) = built else {
        prune(ctx, bot, None).await?;
        return Ok(None);
    };
    let name = built.job.metadata.name.clone().unwrap_or_default();
    let ns = bot.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let live = jobs
        .get_opt(&name)
        .await
        .map_err(|source| Error::ReadWorkload {
            name: name.clone(),
            source,
        })?;
    let run = match live {
        Some(job) => {
            let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            let list = pods
                .list(
                    &ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}")),
                )
                .await
                .map_err(|source| Error::ReadWorkload {
                    name: format!("pods of Job {name}"),
                    source,
                })?;
            match &built.sweep {
                Some(plan) => {
                    build::sweep_outcome(&job, &list.items, plan, built.report.as_deref())
                }
                None => build::outcome(&job, &list.items, built.report.as_deref()),
            }
        }
        None => match match done_summary(bot, &name) {
            Some(summary) => Some(summary),
            // The controller's copy of the bot may predate the status write that recorded
            // this Job's summary: read the bot itself before running the Job again.
            None => done_summary(&fresh(ctx, bot).await?, &name),
        } {
            // Ran to its end already; the Job was deleted since.
            Some(summary) => BacktestRun::Succeeded(Box::new(summary)),
            None => {
                let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
                apply_one(&cms, &built.config_map)
                    .await
                    .map_err(Error::ApplyWorkload)?;
                apply_one(&jobs, &built.job)
                    .await
                    .map_err(Error::ApplyWorkload)?;
                tracing::info!(bot = %bot.name_any(), job = %name, "backtest Job created");
                ctx.inform(bot, BACKTEST_STARTED, format!("started Job {name}"))
                    .await;
                BacktestRun::Running { job: name.clone() }
            }
        },
    };
    prune(ctx, bot, Some(&name)).await?;
    Ok(Some(run))
}

/// The summary in `bot`'s status when it is the outcome of Job `job`.
fn done_summary(bot: &TradingBot, job: &str) -> Option<tradewind_crds::BacktestSummary> {
    bot.status
        .as_ref()
        .and_then(|s| s.backtest.clone())
        .filter(|s| s.job.as_deref() == Some(job))
}

/// The bot as the API server has it now.
async fn fresh(ctx: &Context, bot: &TradingBot) -> Result<TradingBot, Error> {
    let ns = bot.namespace().unwrap_or_default();
    let bots: Api<TradingBot> = Api::namespaced(ctx.client.clone(), &ns);
    bots.get(&bot.name_any())
        .await
        .map_err(|source| Error::ReadWorkload {
            name: format!("TradingBot {}", bot.name_any()),
            source,
        })
}

/// Deletes the bot's backtest Jobs (with their pods) and their ConfigMaps, but `keep`.
async fn prune(ctx: &Context, bot: &TradingBot, keep: Option<&str>) -> Result<(), Error> {
    let ns = bot.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = build::backtest_selector(&bot.name_any());
    let listed = jobs
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::RemoveWorkload {
            kind: "Job".into(),
            name: format!("(backtests of {})", bot.name_any()),
            source,
        })?;
    let uid = bot.metadata.uid.as_deref();
    for job in listed {
        let name = job.name_any();
        let ours = job
            .owner_references()
            .iter()
            .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == uid);
        if Some(name.as_str()) == keep || !ours {
            continue;
        }
        tracing::info!(bot = %bot.name_any(), job = %name, "deleting the backtest Job of an earlier configuration");
        delete(&jobs, "Job", &name).await?;
        delete(&cms, "ConfigMap", &name).await?;
    }
    Ok(())
}

async fn delete<K>(api: &Api<K>, kind: &str, name: &str) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(source) => Err(Error::RemoveWorkload {
            kind: kind.into(),
            name: name.into(),
            source,
        }),
    }
}
