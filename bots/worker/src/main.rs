//! `tradewind-bot`: the Tradewind bot worker. `run` trades a bot (paper or live) until
//! stopped; `backtest` runs a bot over historical data and writes a report.

mod backtest;
mod features;
mod report;
use tradewind_bot::run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tradewind-bot", version, about = "Tradewind bot worker")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Trade the bot the operator configured (paper or live) until SIGTERM.
    Run(Box<run::config::RunArgs>),
    /// Backtest a TradingBot over a market-data file; print a summary and write
    /// report.json and report.html.
    Backtest {
        /// YAML file(s) with the TradingBot, its Strategy and optional CommissionPlan.
        #[arg(short = 'f', long = "file", required_unless_present = "config")]
        files: Vec<PathBuf>,
        /// Instead of -f: the resolved configuration the operator writes (`bot.json`), as
        /// in a backtest Job.
        #[arg(long, env = tradewind_crds::contract::env::CONFIG)]
        config: Option<PathBuf>,
        /// Market data: OHLCV CSV (with header), Binance kline CSV, trade JSONL, a
        /// columnar `.twb` file, an `http(s)://` URL of one (downloaded first), or a
        /// range of archived days:
        /// `blob://{account}/{container}/{venue}/{symbol}?from=YYYY-MM-DD&to=YYYY-MM-DD`
        /// or `archive:{dir}/{venue}/{symbol}?from=…&to=…` (`&timeframe=1m` by default).
        #[arg(long, env = tradewind_crds::contract::backtest::env::DATA)]
        data: PathBuf,
        /// The bot to run when the files hold several. Repeat it to backtest several
        /// bots on the same data: each report goes to OUT/<bot>/ and a comparison is
        /// printed.
        #[arg(long)]
        bot: Vec<String>,
        /// Directory for report.json and report.html.
        #[arg(long, default_value = ".", env = tradewind_crds::contract::backtest::env::OUT)]
        out: PathBuf,
        /// Also upload report.json and report.html to this Blob Storage directory,
        /// `blob://{account}/{container}[/{prefix}]` (signing in as for `blob://` data).
        #[arg(long, env = tradewind_crds::contract::backtest::env::REPORT_TO)]
        report_to: Option<String>,
        /// Write the summary (JSON, at most 4 KiB) to this file, or the error if the
        /// backtest fails: a Job's termination message.
        #[arg(long, env = tradewind_crds::contract::backtest::env::SUMMARY_FILE)]
        summary_file: Option<PathBuf>,
        /// Price tick (default: the data's price precision).
        #[arg(long)]
        tick_size: Option<String>,
        /// Quantity lot (default: the data's volume precision).
        #[arg(long)]
        lot_size: Option<String>,
        /// Minimum order notional in quote currency (default 0).
        #[arg(long)]
        min_notional: Option<String>,
        /// Blob archive access (only for `--data blob://…`).
        #[command(flatten)]
        blob: backtest::archive::BlobArgs,
        /// For a Model strategy: write every decision's feature row and model output
        /// to this CSV (the columns of `features`, with `output` for the label).
        #[arg(long)]
        trace_decisions: Option<PathBuf>,
        /// For a Signal strategy: its external signals, one JSON object per line
        /// (`{"id": …, "action": "enter", "time": "2024-01-02T03:04:05Z"}`), merged
        /// with the bars by time.
        #[arg(long)]
        signals: Option<PathBuf>,
        /// A parameter sweep's plan (the operator's `sweep.json`, with --config): run the
        /// slice of its combinations at --index, write their results as JSON lines
        /// (`results-NNNNN.jsonl`) to --out (and --report-to), and the slice's report
        /// to --summary-file.
        #[arg(long, env = tradewind_crds::contract::backtest::env::SWEEP, requires = "config")]
        sweep: Option<PathBuf>,
        /// With --sweep: which slice (an Indexed Job's completion index).
        #[arg(long, env = tradewind_crds::contract::backtest::env::COMPLETION_INDEX, default_value_t = 0)]
        index: usize,
    },
    /// Write the features a Model strategy computes on market data, with a
    /// forward-return label, to a CSV for training (the rows the worker feeds its model).
    Features {
        /// YAML file(s) with the TradingBot and its Model Strategy.
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        /// Market data: OHLCV CSV (with header), Binance kline CSV, or trade JSONL.
        #[arg(long)]
        data: PathBuf,
        /// The bot, when the files hold several.
        #[arg(long)]
        bot: Option<String>,
        /// Output CSV: ts (ns), close, one column per feature, forward_return_<horizon>.
        #[arg(long)]
        out: PathBuf,
        /// Label horizon in bars: close[t + horizon] / close[t] − 1 (empty for the
        /// last rows).
        #[arg(long, default_value_t = 1)]
        horizon: usize,
    },
    /// Market-data files.
    #[command(subcommand)]
    Data(DataCommand),
    /// The shared market-data feed of one symbol: the exchange's streams published to
    /// NATS JetStream for every bot of that symbol, until SIGTERM.
    Feed(Box<tradewind_bot::market_feed::FeedArgs>),
}

#[derive(Subcommand)]
enum DataCommand {
    /// Convert bars (OHLCV CSV, Binance kline CSV, or trade JSONL with --timeframe) to
    /// Tradewind's columnar binary format, which `backtest --data` reads much faster.
    Convert {
        /// Input file.
        #[arg(long)]
        from: PathBuf,
        /// Output file (conventionally `.twb`).
        #[arg(long)]
        to: PathBuf,
        /// Aggregate to bars of this length (`1m`, `1h`, ...); required for trades.
        #[arg(long)]
        timeframe: Option<String>,
    },
    /// Write bars (any format `backtest --data` reads) as daily archives, one file a UTC
    /// day: `--to archive:{dir}/{venue}/{symbol}` or
    /// `--to blob://{account}/{container}/{venue}/{symbol}`.
    Archive {
        /// Input file.
        #[arg(long)]
        from: PathBuf,
        /// Where the archive is.
        #[arg(long)]
        to: String,
        /// Length of the archived bars (finer input is aggregated).
        #[arg(long, default_value = "1m")]
        timeframe: String,
        /// Blob archive access (only for `--to blob://…`).
        #[command(flatten)]
        blob: backtest::archive::BlobArgs,
    },
}

/// Seconds of a `--timeframe` (the spellings a Strategy's `timeframe` takes).
fn timeframe_secs(t: &str) -> Result<u64> {
    serde_json::from_value::<tradewind_crds::Timeframe>(serde_json::json!(t))
        .map(|t| t.seconds())
        .map_err(|_| anyhow::anyhow!("--timeframe {t}: expected 1s, 1m, 5m, 15m, 1h, 4h or 1d"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The log, and OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT asks for it; dropped
    // last, so the final spans and metrics are flushed before the process ends.
    let _telemetry = match tradewind_telemetry::init(tradewind_telemetry::Settings {
        service: "tradewind-bot",
        default_filter: "warn",
        json: false,
    }) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A finite command is one span (the trace's root); `run` and `feed` last as long as
    // the pod, so they get none.
    let span = match cli.command {
        Command::Run(_) | Command::Feed(_) => tracing::Span::none(),
        _ => tradewind_telemetry::command_span("tradewind-bot", cli.command.name()),
    };
    match span.in_scope(|| run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tradewind_telemetry::failed(&span, &format_args!("{e:#}"));
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// The subcommand's name, for the span that covers it.
    fn name(&self) -> &'static str {
        match self {
            Command::Backtest { .. } => "backtest",
            Command::Features { .. } => "features",
            Command::Data(DataCommand::Convert { .. }) => "data convert",
            Command::Data(DataCommand::Archive { .. }) => "data archive",
            Command::Run(_) => "run",
            Command::Feed(_) => "feed",
        }
    }
}

/// Writes report.json and report.html into `out`; returns the HTML file's path.
fn write_reports(view: &report::ReportView, out: &std::path::Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = out.join("report.json");
    std::fs::File::create(&json)
        .map(std::io::BufWriter::new)
        .and_then(|mut f| {
            report::json::write(view, &mut f)?;
            std::io::Write::flush(&mut f)
        })
        .with_context(|| format!("writing {}", json.display()))?;
    let html = out.join("report.html");
    std::fs::write(&html, report::html::render(view))
        .with_context(|| format!("writing {}", html.display()))?;
    Ok(html)
}

/// A backtest as a Job runs it: one bot, the reports written (and uploaded), the summary
/// returned.
struct JobRun {
    files: Vec<PathBuf>,
    config: Option<PathBuf>,
    data: PathBuf,
    bot: Option<String>,
    out: PathBuf,
    report_to: Option<String>,
    instrument: backtest::InstrumentOverrides,
    blob: backtest::archive::BlobArgs,
}

fn backtest_job(job: &JobRun) -> Result<tradewind_crds::BacktestSummary> {
    let data = backtest::fetch_data(&job.data, &std::env::temp_dir())?;
    let view = backtest::run(&backtest::Request {
        files: job.files.clone(),
        config: job.config.clone(),
        bot: job.bot.clone(),
        data,
        instrument: job.instrument.clone(),
        blob: job.blob.clone(),
        trace: None,
        // A Job backtests on market data only; recorded signals are a local run's.
        signals: None,
    })?;
    print!("{}", report::table::render(&view));
    let html = write_reports(&view, &job.out)?;
    let json = job.out.join("report.json");
    if let Some(to) = &job.report_to {
        backtest::archive::upload(
            to,
            &[
                ("report.json", json.as_path()),
                ("report.html", html.as_path()),
            ],
            &job.blob,
        )?;
        println!("reports uploaded to {to}");
    } else {
        println!("HTML report: {}", html.display());
    }
    Ok(backtest::summary::of(&view))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Data(DataCommand::Convert {
            from,
            to,
            timeframe,
        }) => {
            let secs = timeframe.map(|t| timeframe_secs(&t)).transpose()?;
            let (plan, bars) = backtest::market_data::convert(&from, &to, secs)?;
            println!(
                "{bars} bars ({} rows of {:?}, prices to {} decimals, sizes to {}) written to {}",
                plan.rows,
                plan.format,
                plan.precision.price,
                plan.precision.size,
                to.display()
            );
            Ok(())
        }
        Command::Data(DataCommand::Archive {
            from,
            to,
            timeframe,
            blob,
        }) => {
            let started = std::time::Instant::now();
            let (days, bars) =
                backtest::archive::write_file(&from, &to, timeframe_secs(&timeframe)?, &blob)?;
            let secs = started.elapsed().as_secs_f64();
            match (days.first(), days.last()) {
                (Some(first), Some(last)) => println!(
                    "{bars} bars in {} days ({first}..{last}) written to {to} in {secs:.3}s ({:.0} bars/s)",
                    days.len(),
                    bars as f64 / secs.max(1e-9)
                ),
                _ => println!("no bars in {}", from.display()),
            }
            Ok(())
        }
        Command::Feed(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .context("listening for SIGTERM")?;
                let stop = async move {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                };
                tradewind_bot::market_feed::run(*args, stop).await
            })
        }
        Command::Features {
            files,
            data,
            bot,
            out,
            horizon,
        } => {
            let (rows, labelled) = features::run(&features::Request {
                files,
                bot,
                data,
                out: out.clone(),
                horizon,
            })?;
            println!(
                "{rows} feature rows ({labelled} with a {horizon}-bar forward return) written to {}",
                out.display()
            );
            Ok(())
        }
        Command::Run(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(run::worker::run(*args))
        }
        Command::Backtest {
            files,
            config,
            data,
            bot,
            out,
            report_to,
            summary_file,
            tick_size,
            lot_size,
            min_notional,
            blob,
            trace_decisions,
            signals,
            sweep,
            index,
        } => {
            if let Some(plan) = sweep {
                if signals.is_some() {
                    anyhow::bail!("--signals: a sweep runs bar strategies only");
                }
                let job = backtest::sweep::SliceRun {
                    config: config.context("--sweep needs --config")?,
                    plan,
                    index,
                    data,
                    out,
                    report_to,
                    instrument: backtest::InstrumentOverrides {
                        tick_size,
                        lot_size,
                        min_notional,
                    },
                    blob,
                };
                let result = backtest::sweep::run(&job);
                let message = match &result {
                    Ok(report) => {
                        report.message(tradewind_crds::contract::backtest::MAX_TERMINATION_MESSAGE)
                    }
                    Err(e) => backtest::summary::error_message(e),
                };
                if let Some(summary_file) = summary_file {
                    std::fs::write(&summary_file, &message)
                        .with_context(|| format!("writing {}", summary_file.display()))?;
                }
                let report = result?;
                println!(
                    "slice {index}: {} of {} combinations ran, {} failed",
                    report.completed,
                    report.combinations,
                    report.failed.len()
                );
                return Ok(());
            }
            if let Some(summary_file) = summary_file {
                if bot.len() > 1 {
                    anyhow::bail!("--summary-file takes one bot");
                }
                // In a Job: the summary, or the error, is what the operator reads.
                let job = JobRun {
                    files,
                    config,
                    data,
                    bot: bot.into_iter().next(),
                    out,
                    report_to,
                    instrument: backtest::InstrumentOverrides {
                        tick_size,
                        lot_size,
                        min_notional,
                    },
                    blob,
                };
                let result = backtest_job(&job);
                let message = match &result {
                    Ok(summary) => backtest::summary::message(summary),
                    Err(e) => backtest::summary::error_message(e),
                };
                std::fs::write(&summary_file, message)
                    .with_context(|| format!("writing {}", summary_file.display()))?;
                return result.map(|_| ());
            }
            let data = backtest::fetch_data(&data, &std::env::temp_dir())?;
            let instrument = backtest::InstrumentOverrides {
                tick_size,
                lot_size,
                min_notional,
            };
            let request = |bot: Option<String>| backtest::Request {
                files: files.clone(),
                config: config.clone(),
                bot,
                data: data.clone(),
                instrument: instrument.clone(),
                blob: blob.clone(),
                trace: trace_decisions.clone(),
                signals: signals.clone(),
            };
            if trace_decisions.is_some() && bot.len() > 1 {
                anyhow::bail!("--trace-decisions takes one bot");
            }
            if bot.len() <= 1 {
                let view = backtest::run(&request(bot.into_iter().next()))?;
                print!("{}", report::table::render(&view));
                let html = write_reports(&view, &out)?;
                println!("HTML report: {}", html.display());
                return Ok(());
            }
            let mut views = Vec::new();
            let mut pages = Vec::new();
            for name in bot {
                let view = backtest::run(&request(Some(name.clone())))?;
                pages.push(write_reports(&view, &out.join(&name))?);
                views.push(view);
            }
            println!("{} bots on {}:\n", views.len(), data.display());
            print!(
                "{}",
                report::table::compare(&views.iter().collect::<Vec<_>>())
            );
            println!("\nHTML reports (report.json beside each):");
            for page in pages {
                println!("  {}", page.display());
            }
            Ok(())
        }
    }
}
