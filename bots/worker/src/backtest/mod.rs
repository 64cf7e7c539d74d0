//! `tradewind-bot backtest`: one bot, its strategy and plan, over one market-data file.

pub mod archive;
pub mod commission;
pub mod market_data;
pub mod signals;
pub mod summary;
pub mod sweep;

pub use tradewind_bot::instrument::{InstrumentOverrides, instrument_at};

use std::path::PathBuf;

use std::io::Write as _;

use anyhow::{Context, Result};
use tradewind_core::backtest::{Backtest, Outcome};
use tradewind_core::data::Bar;
use tradewind_core::data::load::SeriesPrecision;
use tradewind_core::statistics::{Statistics, StatsAccumulator, StatsConfig};
use tradewind_crds::Mode;
use tradewind_crds::resolved::BotConfig;

use crate::report::{Counts, Recorded, Recorder, ReportView};
use tradewind_crds::bundle;

/// One backtest's inputs.
#[derive(Clone, Debug)]
pub struct Request {
    /// YAML files with the bot, its Strategy and optional CommissionPlan.
    pub files: Vec<PathBuf>,
    /// Instead of `files`: the resolved configuration the operator writes (`bot.json`).
    pub config: Option<PathBuf>,
    /// Which bot, if the files hold several.
    pub bot: Option<String>,
    /// Market-data file.
    pub data: PathBuf,
    /// Instrument rules.
    pub instrument: InstrumentOverrides,
    /// How to reach a Blob archive (`--data blob://…`).
    pub blob: archive::BlobArgs,
    /// Where to write a Model strategy's decisions (`--trace-decisions`).
    pub trace: Option<PathBuf>,
    /// External signals for a Signal strategy (`--signals`).
    pub signals: Option<PathBuf>,
}

/// Runs a backtest and returns the report view (nothing written yet). The data is read
/// once, in constant memory: the series' precision (the instrument's tick and lot) and
/// whether bars are aggregated are decided from the file's first bars (a columnar file's
/// header), and confirmed as the bars stream through the engine in chunks while
/// statistics and the report's series are gathered online. A later bar that changes
/// the decision (more decimals, closer spacing) stops the run; the whole file is then
/// checked first and streamed again.
pub fn run(req: &Request) -> Result<ReportView> {
    let cfg = match &req.config {
        Some(path) if req.files.is_empty() => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            tradewind_bot::run::config::parse(path, &text)?
        }
        None if req.files.is_empty() => {
            anyhow::bail!(
                "give the bot's YAML with -f FILE or its resolved configuration with --config"
            )
        }
        _ => bundle::load(&req.files, req.bot.as_deref())?.config,
    };
    if cfg.bot.mode != Mode::Backtest {
        tracing::info!(mode = ?cfg.bot.mode, "running a backtest of a bot whose mode is not Backtest");
    }
    // The resources translated before the data is read: a bad bot is named first.
    let mut bot = tradewind_bot::model::settings(&cfg, tradewind_bot::model::Artifacts::Local)?;
    if req.trace.is_some() {
        let tradewind_core::strategy::StrategyConfig::Model(m) = &mut bot.strategy else {
            anyhow::bail!(
                "--trace-decisions: Strategy {} is not a Model strategy",
                cfg.strategy_name
            );
        };
        m.trace = true;
    }
    if req.signals.is_some() && !bot.strategy.takes_signals() {
        anyhow::bail!(
            "--signals: Strategy {} is of type {:?}, which does not take signals (use type Signal)",
            cfg.strategy_name,
            cfg.strategy.type_
        );
    }
    let venue_fees = bot.venue_fees.to_string();
    let timeframe = cfg.strategy.timeframe.seconds();
    if let Some(spec) = req
        .data
        .to_str()
        .filter(|d| tradewind_market_store::archive::is_range_spec(d))
    {
        return run_archive(&cfg, &bot, spec, req, venue_fees);
    }
    let mut plan = market_data::plan(&req.data, Some(timeframe))?;
    loop {
        tracing::info!(rows = plan.rows, checked = plan.checked, format = ?plan.format, data = %req.data.display(), "market data planned");
        if let Some(done) = run_plan(&cfg, &bot, &plan, req)? {
            let label = req
                .data
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            return view(&cfg, label, done, venue_fees);
        }
        tracing::info!(data = %req.data.display(), "later bars change the plan made from the first ones; checking the whole file");
        plan = market_data::scan(&req.data, Some(timeframe))?;
    }
}

/// A backtest over a range of archived days: the first day's decimals make the plan; a
/// later day with more runs the whole range again at its decimals.
fn run_archive(
    cfg: &BotConfig,
    bot: &tradewind_config::BotSettings,
    spec: &str,
    req: &Request,
    venue_fees: String,
) -> Result<ReportView> {
    let data = archive::ArchiveData::open(spec, &req.blob)?;
    let timeframe = cfg.strategy.timeframe.seconds();
    let mut precision = data.first_precision()?;
    loop {
        let mut wider = None;
        let done = run_stream(cfg, bot, precision, req, &mut |sink| {
            data.stream(precision, timeframe, &mut wider, sink)
        })?;
        if let Some(done) = done {
            return view(cfg, data.label(), done, venue_fees);
        }
        precision = wider.context("a day changed the plan without saying how")?;
        tracing::info!(
            ?precision,
            "a later day has more decimals; running the range again"
        );
    }
}

/// What one pass of the bars gathered for the report.
struct Finished {
    statistics: Statistics,
    recorded: Recorded,
    outcome: Outcome,
    commission: Option<commission::CommissionSummary>,
}

/// A source of bars for [`run_stream`]: calls the sink with chunks; `None` if the plan
/// proved wrong.
type Streamer<'a> = dyn FnMut(&mut dyn FnMut(&[Bar]) -> Result<()>) -> Result<Option<u64>> + 'a;

/// One pass of the bars through a fresh engine; `None` if the plan proved wrong.
fn run_plan(
    cfg: &BotConfig,
    bot: &tradewind_config::BotSettings,
    plan: &market_data::DataPlan,
    req: &Request,
) -> Result<Option<Finished>> {
    run_stream(cfg, bot, plan.precision, req, &mut |sink| {
        market_data::stream(plan, |bars: &[Bar]| sink(bars))
    })
}

/// One pass of the bars a [`Streamer`] yields through a fresh engine.
fn run_stream(
    cfg: &BotConfig,
    bot: &tradewind_config::BotSettings,
    precision: SeriesPrecision,
    req: &Request,
    source: &mut Streamer<'_>,
) -> Result<Option<Finished>> {
    let instrument = instrument_at(cfg, precision.price, precision.size, &req.instrument)?;
    let (strategy, settings) = bot.engine(&instrument)?;
    let mut rec = Recorder::new(settings.capital);
    let mut stats = StatsAccumulator::new(&StatsConfig::default());
    // The platform's commission, when the bot has a plan: settled period by period.
    let mut commission = bot.commission.clone().map(|plan| {
        commission::CommissionRun::new(
            plan,
            cfg.commission_plan_name.as_deref().unwrap_or_default(),
            &cfg.name,
            &cfg.bot.capital.currency,
            settings.capital,
        )
    });
    let mut engine = Backtest::new(settings, strategy);
    let mut signals = signals::Feed::new(match &req.signals {
        Some(path) => signals::load(path)?,
        None => Vec::new(),
    });
    let mut trace = match (&req.trace, &bot.strategy) {
        (Some(path), tradewind_core::strategy::StrategyConfig::Model(m)) => {
            Some(crate::features::trace_writer(path, m)?)
        }
        _ => None,
    };
    let started = std::time::Instant::now();
    let mut engine_time = std::time::Duration::ZERO;
    let streamed = source(&mut |bars: &[Bar]| -> Result<()> {
        let t = std::time::Instant::now();
        for bar in bars {
            if let Some(c) = &mut commission {
                c.bar(bar.ts)?;
            }
            for signal in signals.before(bar.ts) {
                engine.on_signal(signal)?;
            }
            engine.step(bar)?;
            if let Some(c) = &mut commission {
                c.mark(engine.portfolio());
            }
            if let Some(out) = &mut trace {
                for d in engine.drain_decisions() {
                    writeln!(out, "{}", crate::features::decision_row(&d))?;
                }
            }
            // Points the portfolio will not overwrite any more (the latest may still
            // change if the next bar has the same time).
            for p in engine.drain_settled_curve() {
                stats.push_point(p);
                rec.equity(p);
            }
            rec.price(bar.ts, bar.close);
            for f in engine.drain_fills() {
                rec.fill(&f);
                if let Some(c) = &mut commission {
                    c.fill(&f);
                }
            }
            for t in engine.drain_closed_trades() {
                stats.push_trade(&t);
                rec.trade(&t)?;
            }
        }
        engine_time += t.elapsed();
        Ok(())
    })?;
    if streamed.is_none() {
        return Ok(None);
    }
    if let Some(out) = &mut trace {
        std::io::Write::flush(out)?;
    }
    for signal in signals.rest() {
        engine.on_signal(signal)?;
    }
    let outcome = engine.finish();
    for p in outcome.portfolio.equity_curve() {
        stats.push_point(*p);
        rec.equity(*p);
    }
    let secs = engine_time.as_secs_f64();
    // Engine time only (bars already parsed, report not written; measured per chunk of
    // bars); tools/bench reads this line. `stream_seconds` adds reading the file.
    tracing::info!(
        bars = outcome.bars,
        engine_seconds = secs,
        bars_per_second = outcome.bars as f64 / secs.max(1e-12),
        stream_seconds = started.elapsed().as_secs_f64(),
        "backtest finished"
    );
    let statistics = stats.finish(outcome.portfolio.exposure());
    let commission = commission
        .map(|c| c.finish(&outcome.portfolio))
        .transpose()?;
    Ok(Some(Finished {
        statistics,
        recorded: rec.finish()?,
        outcome,
        commission,
    }))
}

fn view(
    cfg: &BotConfig,
    data_source: String,
    done: Finished,
    venue_fee_schedule: String,
) -> Result<ReportView> {
    let Finished {
        statistics,
        recorded: rec,
        outcome,
        commission,
    } = done;
    let p = &outcome.portfolio;
    Ok(ReportView {
        bot: cfg.name.clone(),
        strategy: format!("{} ({})", cfg.strategy_name, outcome.strategy),
        symbol: cfg.bot.symbols[0].clone(),
        currency: cfg.bot.capital.currency.clone(),
        data_source,
        bars: outcome.bars,
        span: outcome.span,
        initial_equity: p.initial_cash(),
        final_equity: p.equity(),
        realized_pnl: p.realized_pnl(),
        unrealized_pnl: p.unrealized_pnl(),
        fees: p.fees_paid(),
        venue_fee_schedule,
        commission,
        counts: Counts {
            orders: outcome.counts.orders,
            fills: outcome.counts.fills,
            rejected: outcome.counts.rejected,
            refused: outcome.counts.refused,
            dropped: outcome.counts.dropped,
            stop_losses: outcome.counts.stop_losses,
        },
        halt: outcome.halt.as_ref().map(ToString::to_string),
        statistics: statistics
            .entries()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        equity_curve: rec.equity_curve,
        curve_points: rec.curve_points,
        drawdown: rec.drawdown,
        trades: rec.trades,
        prices: rec.prices,
        closes: rec.closes,
        fills: rec.fills,
        fill_stride: rec.fill_stride,
        fill_sides: rec.fill_sides,
        returns: rec.returns,
        notes: outcome.notes,
    })
}

/// The market data as a local path: a URL (`http://`, `https://`) is downloaded into
/// `dir` first (under its own file name, which tells its format); anything else is
/// returned as it is.
pub fn fetch_data(data: &std::path::Path, dir: &std::path::Path) -> Result<PathBuf> {
    let Some(url) = data
        .to_str()
        .filter(|d| d.starts_with("https://") || d.starts_with("http://"))
    else {
        return Ok(data.to_path_buf());
    };
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("data.csv");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let client = tradewind_bot::run::recorder::http_client()?;
        let mut reply = client
            .get(url)
            .send()
            .await
            .with_context(|| format!("--data {url}"))?;
        if !reply.status().is_success() {
            anyhow::bail!("--data {url}: the server answered {}", reply.status());
        }
        let mut file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut bytes = 0u64;
        while let Some(chunk) = reply
            .chunk()
            .await
            .with_context(|| format!("--data {url}: reading the body"))?
        {
            file.write_all(&chunk)
                .with_context(|| format!("writing {}", path.display()))?;
            bytes += chunk.len() as u64;
        }
        tracing::info!(url, bytes, path = %path.display(), "market data downloaded");
        Ok(path)
    })
}
