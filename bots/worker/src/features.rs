//! `tradewind-bot features`: the feature rows a Model strategy computes, for research.
//!
//! The rows come from the core's [`FeatureSet`], the code the strategy runs in backtest,
//! paper and live, over the bars `backtest` streams from the same file; a forward-return
//! label is added over a horizon the user chooses. `backtest --trace-decisions` writes
//! the rows the strategy actually fed its model in the same columns, so the two can be
//! compared bar for bar.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tradewind_core::data::{Bar, UnixNanos};
use tradewind_core::strategy::StrategyConfig;
use tradewind_core::strategy::model::{Decision, FeatureSet, FeatureSpec, ModelConfig};
use tradewind_crds::bundle;

use crate::backtest::market_data;

/// One `features` run's inputs.
pub struct Request {
    /// YAML files with the bot and its (Model) Strategy.
    pub files: Vec<PathBuf>,
    /// Which bot, if the files hold several.
    pub bot: Option<String>,
    /// Market data.
    pub data: PathBuf,
    /// Output CSV.
    pub out: PathBuf,
    /// Label horizon in bars.
    pub horizon: usize,
}

/// A CSV header: `ts`, then `extra` leading columns, the features, then `trailing`.
pub fn header(features: &[FeatureSpec], lead: &[&str], trailing: &str) -> String {
    let mut cols: Vec<&str> = vec!["ts"];
    cols.extend(lead);
    cols.extend(features.iter().map(|f| f.name.as_str()));
    cols.push(trailing);
    cols.join(",")
}

/// One value as written: Rust's shortest round-trip form (`NaN`, `inf` as such).
fn push_value(line: &mut String, v: f64) {
    use std::fmt::Write as _;
    let _ = write!(line, ",{v}");
}

/// A row of the trace file (`backtest --trace-decisions`): ts, features, output.
pub fn decision_row(d: &Decision) -> String {
    let mut line = d.ts.to_string();
    for v in &d.inputs {
        push_value(&mut line, *v);
    }
    line.push(',');
    if let Some(y) = d.output {
        line.push_str(&y.to_string());
    }
    line
}

/// The Model configuration of the bot in `files`.
pub fn model_config(
    files: &[PathBuf],
    bot: Option<&str>,
) -> Result<(tradewind_crds::resolved::BotConfig, ModelConfig)> {
    let cfg = bundle::load(files, bot)?.config;
    let settings = tradewind_config::bot(&cfg)?;
    let StrategyConfig::Model(m) = settings.strategy else {
        bail!(
            "Strategy {} is of type {:?}; features are computed for a Model strategy",
            cfg.strategy_name,
            cfg.strategy.type_
        );
    };
    Ok((cfg, m))
}

struct Pending {
    index: u64,
    ts: UnixNanos,
    close: f64,
    row: Vec<f64>,
}

fn write_pending(out: &mut impl Write, p: &Pending, label: Option<f64>) -> std::io::Result<()> {
    let mut line = p.ts.to_string();
    push_value(&mut line, p.close);
    for v in &p.row {
        push_value(&mut line, *v);
    }
    line.push(',');
    if let Some(l) = label {
        line.push_str(&l.to_string());
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// Writes the features and labels; returns (rows, labelled rows).
pub fn run(req: &Request) -> Result<(u64, u64)> {
    if req.horizon == 0 {
        bail!("--horizon must be at least 1 bar");
    }
    let (cfg, model) = model_config(&req.files, req.bot.as_deref())?;
    let mut set = FeatureSet::new(&model.features)?;
    let plan = market_data::scan(&req.data, Some(cfg.strategy.timeframe.seconds()))?;
    if let Some(dir) = req.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::File::create(&req.out)
        .with_context(|| format!("creating {}", req.out.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let label = format!("forward_return_{}", req.horizon);
    writeln!(out, "{}", header(&model.features, &["close"], &label))?;
    // Rows wait `horizon` bars for their label.
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let (mut index, mut rows, mut labelled) = (0u64, 0u64, 0u64);
    let horizon = req.horizon as u64;
    let mut sink = |bars: &[Bar]| -> Result<()> {
        for bar in bars {
            let close = bar.close.as_f64();
            while pending.front().is_some_and(|p| p.index + horizon <= index) {
                let p = pending.pop_front().expect("front exists");
                write_pending(&mut out, &p, Some(close / p.close - 1.0))?;
                labelled += 1;
            }
            if let Some(row) = set.update(bar) {
                pending.push_back(Pending {
                    index,
                    ts: bar.ts,
                    close,
                    row: row.to_vec(),
                });
                rows += 1;
            }
            index += 1;
        }
        Ok(())
    };
    market_data::stream(&plan, &mut sink)?;
    for p in pending.drain(..) {
        write_pending(&mut out, &p, None)?;
    }
    out.flush()
        .with_context(|| format!("writing {}", req.out.display()))?;
    Ok((rows, labelled))
}

/// Where `backtest --trace-decisions` writes, with its header.
pub fn trace_writer(path: &Path, model: &ModelConfig) -> Result<std::io::BufWriter<std::fs::File>> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "{}", header(&model.features, &[], "output"))?;
    Ok(out)
}
