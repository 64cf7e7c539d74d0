//! A sweep's slice, as an Indexed Job's pod runs it: the combinations of the plan at its
//! completion index, each applied to the bot's Strategy and backtested over the data
//! (fetched once). Every result goes to a JSON-lines file in the reports directory (and
//! Blob Storage); the slice's best and its failures, by combination, are returned for
//! the termination message. A failing combination is reported, not fatal: only a
//! failure of the whole slice (unreadable plan, configuration or data) fails the pod,
//! which the Job then retries on its own index.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use tradewind_crds::BacktestSummary;
use tradewind_crds::contract::backtest::sweep_results_file;
use tradewind_crds::sweep::{self, SliceReport, SweepPlan};
use tradewind_crds::{SweepFailure, SweepResult};

use super::{InstrumentOverrides, Request, archive};

/// One pod's share of a sweep.
pub struct SliceRun {
    /// The resolved configuration (`bot.json`).
    pub config: PathBuf,
    /// The plan ([`SweepPlan`] as JSON).
    pub plan: PathBuf,
    /// The completion index: which slice.
    pub index: usize,
    /// The market data.
    pub data: PathBuf,
    /// Directory of the results file.
    pub out: PathBuf,
    /// Blob Storage directory the results file is uploaded to.
    pub report_to: Option<String>,
    /// Instrument rules.
    pub instrument: InstrumentOverrides,
    /// Blob access.
    pub blob: archive::BlobArgs,
}

/// Runs the slice; its report.
pub fn run(job: &SliceRun) -> Result<SliceReport> {
    let text = std::fs::read_to_string(&job.plan)
        .with_context(|| format!("reading {}", job.plan.display()))?;
    let plan: SweepPlan = serde_json::from_str(&text)
        .with_context(|| format!("reading the sweep plan {}", job.plan.display()))?;
    let text = std::fs::read_to_string(&job.config)
        .with_context(|| format!("reading {}", job.config.display()))?;
    let cfg = tradewind_bot::run::config::parse(&job.config, &text)?;
    let combinations = plan.slice(job.index);
    anyhow::ensure!(
        !combinations.is_empty(),
        "slice {} of the sweep is empty ({} combinations, {} per slice)",
        job.index,
        plan.combinations.len(),
        plan.per_slice
    );
    let data = super::fetch_data(&job.data, &std::env::temp_dir())?;
    let scratch = std::env::temp_dir().join(format!("sweep-{}", job.index));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    std::fs::create_dir_all(&job.out).with_context(|| format!("creating {}", job.out.display()))?;
    let results_path = job.out.join(sweep_results_file(job.index));
    let mut lines = std::fs::File::create(&results_path)
        .map(std::io::BufWriter::new)
        .with_context(|| format!("creating {}", results_path.display()))?;
    let mut results: Vec<SweepResult> = Vec::new();
    let mut failed: Vec<SweepFailure> = Vec::new();
    for combination in combinations {
        let outcome = (|| -> Result<BacktestSummary> {
            let mut c = cfg.clone();
            c.strategy = sweep::apply(&cfg.strategy, combination)?;
            let path = scratch.join("bot.json");
            std::fs::write(&path, serde_json::to_string(&c)?)
                .with_context(|| format!("writing {}", path.display()))?;
            let view = super::run(&Request {
                files: Vec::new(),
                config: Some(path),
                bot: None,
                data: data.clone(),
                instrument: job.instrument.clone(),
                blob: job.blob.clone(),
                trace: None,
                signals: None,
            })?;
            Ok(super::summary::of(&view))
        })();
        let line = match outcome {
            Ok(summary) => {
                tracing::info!(?combination, sharpe = ?summary.sharpe, "combination done");
                results.push(sweep::result_of(combination, &summary, plan.metric));
                serde_json::json!({"parameters": combination, "summary": summary})
            }
            Err(e) => {
                let error = format!("{e:#}");
                tracing::warn!(?combination, %error, "combination failed");
                failed.push(SweepFailure {
                    parameters: combination.clone(),
                    error: error.clone(),
                });
                serde_json::json!({"parameters": combination, "error": error})
            }
        };
        writeln!(lines, "{line}").with_context(|| format!("writing {}", results_path.display()))?;
    }
    lines
        .flush()
        .with_context(|| format!("writing {}", results_path.display()))?;
    if let Some(to) = &job.report_to {
        let name = sweep_results_file(job.index);
        archive::upload(to, &[(name.as_str(), results_path.as_path())], &job.blob)?;
    }
    Ok(SliceReport {
        index: job.index as u32,
        combinations: combinations.len() as u32,
        completed: results.len() as u32,
        top: sweep::rank(results, plan.metric, plan.top),
        failed,
    })
}
