//! Status: what the operator reports about a bot, computed from what it found, built and
//! observed. kstatus rules: `observedGeneration`, a `Ready` condition that is True only
//! when everything is, `lastTransitionTime` moving only on a status change. The worker's
//! own fields (`performance`, `Trading`, `Halted`) are never written here, only read:
//! a halt the worker reported is shown, never overwritten.

use k8s_openapi::api::apps::v1::DeploymentStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tradewind_crds::conditions::{ConditionUpdate, Status, is_true, set_condition, types};
use tradewind_crds::{BotResources, Mode, Phase, TradingBot, TradingBotStatus};

use crate::build::Names;

/// Where the bot's Azure resources stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudState {
    /// The bot asks for no Azure resources, or the operator runs without Azure.
    NotNeeded,
    /// Created; their resource IDs.
    Ready {
        /// Cosmos DB container.
        cosmos_container_id: Option<String>,
        /// Key Vault secret.
        key_vault_secret_id: Option<String>,
        /// Service Bus topic.
        service_bus_topic_id: Option<String>,
        /// Client ID of the bot's own Azure identity (with workload identity): its
        /// worker's ServiceAccount signs in as it.
        workload_identity_client_id: Option<String>,
    },
    /// A cloud call failed; retried with backoff. The message names the resource and why.
    Failed(String),
}

/// What one reconcile found and did, the input of [`compute`].
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    /// `Err(reason, message)` when dereferencing or validation failed.
    pub resolution: Result<(), (&'a str, String)>,
    /// Cloud resources.
    pub cloud: CloudState,
    /// Status of the worker Deployment, if it exists.
    pub deployment: Option<&'a DeploymentStatus>,
    /// Config hash of what was applied.
    pub config_hash: Option<String>,
}

fn deployment_available(d: Option<&DeploymentStatus>) -> bool {
    d.is_some_and(|s| {
        s.available_replicas.unwrap_or(0) >= 1
            && s.conditions.as_ref().is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
            })
    })
}

/// Reason of the Available and Ready conditions of a bot in mode Backtest.
pub const BACKTEST_ONLY: &str = "BacktestOnly";

/// What a bot in mode Backtest is told: the operator runs no worker for it (the worker
/// refuses Backtest bots), and how to run the backtest instead.
pub fn backtest_only_message(bot: &TradingBot) -> String {
    let name = bot.metadata.name.as_deref().unwrap_or_default();
    let plan = bot
        .spec
        .commission_plan_ref
        .as_ref()
        .map(|p| format!(", CommissionPlan {}", p.name))
        .unwrap_or_default();
    format!(
        "mode Backtest runs no worker; run the backtest with `tradewind-bot backtest -f FILE --data MARKET_DATA --bot {name}`, FILE holding this TradingBot, Strategy {}{plan}",
        bot.spec.strategy_ref.name
    )
}

/// The operator's part of the bot's status. `now` is passed in to keep this pure.
pub fn compute(bot: &TradingBot, observed: &Observed<'_>, now: Time) -> TradingBotStatus {
    let generation = bot.metadata.generation;
    let mut status = bot.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    let name = bot.metadata.name.as_deref().unwrap_or_default();
    let names = Names(name);
    let conds = &mut status.conditions;

    // CloudReady.
    let (cloud_ok, cloud_reason, cloud_msg) = match &observed.cloud {
        CloudState::NotNeeded => (
            true,
            "NotNeeded",
            "no Azure resources requested or the operator runs without Azure".to_owned(),
        ),
        CloudState::Ready { .. } => (true, "Provisioned", "Azure resources exist".to_owned()),
        CloudState::Failed(msg) => (false, "ProvisioningFailed", msg.clone()),
    };
    set_condition(
        conds,
        ConditionUpdate {
            type_: types::CLOUD_READY,
            status: cloud_ok.into(),
            reason: cloud_reason,
            message: cloud_msg,
        },
        generation,
        now.clone(),
    );

    // Available.
    let backtest = bot.spec.mode == Mode::Backtest;
    let available = deployment_available(observed.deployment);
    let (a_reason, a_msg) = match (bot.spec.suspend, available, observed.deployment) {
        _ if backtest => (BACKTEST_ONLY, backtest_only_message(bot)),
        (true, _, _) => (
            "Suspended",
            "spec.suspend is true; the worker is scaled to zero".to_owned(),
        ),
        (false, true, _) => (
            "WorkerAvailable",
            format!("Deployment {} has its replica available", names.worker()),
        ),
        (false, false, None) => (
            "WorkerNotCreated",
            format!("Deployment {} does not exist yet", names.worker()),
        ),
        (false, false, Some(_)) => (
            "WorkerUnavailable",
            format!("Deployment {} has no available replica yet", names.worker()),
        ),
    };
    set_condition(
        conds,
        ConditionUpdate {
            type_: types::AVAILABLE,
            status: (available && !bot.spec.suspend && !backtest).into(),
            reason: a_reason,
            message: a_msg,
        },
        generation,
        now.clone(),
    );

    // Ready: everything, in the order a person would fix things.
    let halted = is_true(conds, types::HALTED);
    let (ready, reason, message): (bool, &str, String) =
        if let Err((reason, msg)) = &observed.resolution {
            (false, reason, msg.clone())
        } else if bot.spec.suspend {
            (
                false,
                "Suspended",
                "spec.suspend is true; the worker is scaled to zero".into(),
            )
        } else if !cloud_ok {
            (
                false,
                "CloudNotReady",
                "Azure resources are not ready; see the CloudReady condition".into(),
            )
        } else if backtest {
            // Nothing left to do for it: Ready, and the message says how to run it.
            (true, BACKTEST_ONLY, backtest_only_message(bot))
        } else if !available {
            (
                false,
                "WorkerNotAvailable",
                "the worker is not available yet; see the Available condition".into(),
            )
        } else {
            (
                true,
                "Reconciled",
                "the worker is running with the current configuration".into(),
            )
        };
    set_condition(
        conds,
        ConditionUpdate {
            type_: types::READY,
            status: Status::from(ready),
            reason,
            message,
        },
        generation,
        now,
    );

    status.phase = Some(if bot.metadata.deletion_timestamp.is_some() {
        Phase::Terminating
    } else if observed.resolution.is_err() || matches!(observed.cloud, CloudState::Failed(_)) {
        Phase::Failed
    } else if backtest {
        Phase::Backtest
    } else if bot.spec.suspend {
        Phase::Suspended
    } else if halted {
        Phase::Halted
    } else if available {
        Phase::Running
    } else {
        Phase::Pending
    });
    if observed.config_hash.is_some() {
        status.config_hash = observed.config_hash.clone();
    }
    let mut resources = if backtest {
        BotResources::default()
    } else {
        BotResources {
            config_map: Some(names.config_map()),
            deployment: Some(names.worker()),
            service_account: Some(names.worker()),
            ..BotResources::default()
        }
    };
    if let CloudState::Ready {
        cosmos_container_id,
        key_vault_secret_id,
        service_bus_topic_id,
        ..
    } = &observed.cloud
    {
        resources.cosmos_container_id = cosmos_container_id.clone();
        resources.key_vault_secret_id = key_vault_secret_id.clone();
        resources.service_bus_topic_id = service_bus_topic_id.clone();
    }
    if observed.resolution.is_ok() {
        status.resources = Some(resources);
    }
    status
}

/// Whether `new` differs from what the bot shows, i.e. whether a status write is needed.
/// Steady state gives `false`, so a resync makes no write.
pub fn needs_write(bot: &TradingBot, new: &TradingBotStatus) -> bool {
    bot.status.as_ref().map(operator_owned) != Some(operator_owned(new))
}

/// The part of a bot's status the operator owns: everything but the worker's
/// `performance` and its `Trading` / `Halted` conditions. Only this part is applied (under
/// the operator's field manager), so a status computed from a stale copy never carries the
/// worker's fields back over newer ones.
pub fn operator_owned(status: &TradingBotStatus) -> TradingBotStatus {
    let mut s = status.clone();
    s.performance = None;
    s.conditions
        .retain(|c| c.type_ != types::TRADING && c.type_ != types::HALTED);
    s
}

/// Reason of Ready while a Backtest bot's Job runs.
pub const BACKTEST_RUNNING: &str = "BacktestRunning";
/// Reason of Ready when a Backtest bot's Job succeeded (its summary is in the status).
pub const BACKTEST_SUCCEEDED: &str = "BacktestSucceeded";
/// Reason of Ready when a Backtest bot's Job failed for good.
pub const BACKTEST_FAILED: &str = "BacktestFailed";

/// Reason of Ready when every combination of a sweep ran (its ranking is in the status).
pub const SWEEP_SUCCEEDED: &str = "SweepSucceeded";
/// Reason of Ready when a sweep ended with combinations failed or missing (named in
/// `status.backtest.sweep`); the ranking holds those that ran.
pub const SWEEP_INCOMPLETE: &str = "SweepIncomplete";

/// Ready of a finished sweep: true with its best combination, and what failed or is
/// missing counted.
fn sweep_condition(
    job: &str,
    sweep: &tradewind_crds::SweepOutcome,
) -> (bool, &'static str, String) {
    let best = sweep
        .ranking
        .first()
        .map(|r| {
            let params = r
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "; best {params} ({:?} {})",
                sweep.metric,
                r.value.as_deref().unwrap_or("n/a")
            )
        })
        .unwrap_or_default();
    let complete = sweep.failed.is_empty() && sweep.missing.is_empty();
    let message = format!(
        "Job {job} ran {} of {} combinations ({} failed, {} missing){best}; see status.backtest.sweep",
        sweep.completed,
        sweep.combinations,
        sweep.failed.len(),
        sweep.missing.len()
    );
    let reason = if complete {
        SWEEP_SUCCEEDED
    } else {
        SWEEP_INCOMPLETE
    };
    (true, reason, message)
}

/// The status of a Backtest bot whose backtest runs as a Job, on top of what [`compute`]
/// made: Available and Ready say where the Job stands, `backtest` holds its summary once
/// it succeeded (and nothing while a run of the current spec is pending or failed, so
/// a summary never describes another configuration than the spec's). Unchanged when the
/// bot's references are unresolved (that is what Ready says then).
pub fn with_backtest(
    mut status: TradingBotStatus,
    bot: &TradingBot,
    run: &crate::build::BacktestRun,
    now: Time,
) -> TradingBotStatus {
    use crate::build::BacktestRun;
    let unresolved = status
        .conditions
        .iter()
        .any(|c| c.type_ == types::READY && c.status == "False" && c.reason != BACKTEST_ONLY);
    if unresolved || bot.spec.mode != Mode::Backtest {
        return status;
    }
    let generation = bot.metadata.generation;
    let (ready, reason, message) = match run {
        BacktestRun::Running { job } => {
            status.backtest = None;
            (
                false,
                BACKTEST_RUNNING,
                format!("the backtest runs as Job {job}"),
            )
        }
        BacktestRun::Succeeded(summary) if summary.sweep.is_some() => {
            status.backtest = Some(summary.as_ref().clone());
            let job = summary.job.as_deref().unwrap_or_default();
            let sweep = summary.sweep.as_ref().expect("matched");
            sweep_condition(job, sweep)
        }
        BacktestRun::Succeeded(summary) => {
            status.backtest = Some(summary.as_ref().clone());
            let job = summary.job.as_deref().unwrap_or_default();
            let ret = summary.total_return.as_deref().unwrap_or("n/a");
            (
                true,
                BACKTEST_SUCCEEDED,
                format!(
                    "Job {job} ran {} bars: {} trades, total return {ret}; see status.backtest",
                    summary.bars, summary.trades
                ),
            )
        }
        BacktestRun::Failed { job, message } => {
            status.backtest = None;
            status.phase = Some(Phase::Failed);
            (
                false,
                BACKTEST_FAILED,
                format!("Job {job} failed: {message}"),
            )
        }
    };
    for type_ in [types::AVAILABLE, types::READY] {
        set_condition(
            &mut status.conditions,
            ConditionUpdate {
                type_,
                status: Status::from(ready),
                reason,
                message: message.clone(),
            },
            generation,
            now.clone(),
        );
    }
    status
}

#[cfg(test)]
mod sweep_tests {
    use super::*;
    use tradewind_crds::{SweepFailure, SweepMetric, SweepOutcome, SweepResult};

    #[test]
    fn a_sweeps_ready_names_its_best_and_counts_what_did_not_run() {
        let best = SweepResult {
            parameters: [("fastPeriod".to_owned(), "5".to_owned())].into(),
            value: Some("1.5".into()),
            ..SweepResult::default()
        };
        let mut sweep = SweepOutcome {
            metric: SweepMetric::Sharpe,
            combinations: 2,
            completed: 2,
            ranking: vec![best],
            ..SweepOutcome::default()
        };
        let (ready, reason, message) = sweep_condition("j", &sweep);
        assert!(ready);
        assert_eq!(reason, SWEEP_SUCCEEDED);
        assert_eq!(
            message,
            "Job j ran 2 of 2 combinations (0 failed, 0 missing); best fastPeriod=5 (Sharpe 1.5); see status.backtest.sweep"
        );
        sweep.completed = 1;
        sweep.failed.push(SweepFailure {
            parameters: [("fastPeriod".to_owned(), "20".to_owned())].into(),
            error: "fastPeriod must be smaller than slowPeriod".into(),
        });
        let (ready, reason, _) = sweep_condition("j", &sweep);
        assert!(ready);
        assert_eq!(reason, SWEEP_INCOMPLETE);
    }
}
