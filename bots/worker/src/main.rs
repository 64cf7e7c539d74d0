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

#[derive(Subcommand)]
enum Command {
    /// Trade the bot the operator configured (paper or live) until SIGTERM.
    Run(Box<run::config::RunArgs>),
    /// Backtest a TradingBot over a market-data file; print a summary and write
    /// report.json and report.html.
    Backtest {
        /// YAML file(s) with the TradingBot, its Strategy and optional CommissionPlan.
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        /// Market data: OHLCV CSV (with header), Binance kline CSV, or trade JSONL.
        #[arg(long)]
        data: PathBuf,
        /// The bot to run when the files hold several. Repeat it to backtest several
        /// bots on the same data: each report goes to OUT/<bot>/ and a comparison is
        /// printed.
        #[arg(long)]
        bot: Vec<String>,
        /// Directory for report.json and report.html.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Price tick (default: the data's price precision).
        #[arg(long)]
        tick_size: Option<String>,
        /// Quantity lot (default: the data's volume precision).
        #[arg(long)]
        lot_size: Option<String>,
        /// Minimum order notional in quote currency (default 0).
        #[arg(long)]
        min_notional: Option<String>,
        /// For a Model strategy: write every decision's feature row and model output
        /// to this CSV (the columns of `features`, with `output` for the label).
        #[arg(long)]
        trace_decisions: Option<PathBuf>,
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Data(DataCommand::Convert {
            from,
            to,
            timeframe,
        }) => {
            let secs = timeframe
                .map(|t| {
                    // The spellings a Strategy's `timeframe` takes.
                    serde_json::from_value::<tradewind_crds::Timeframe>(serde_json::json!(t))
                        .map(|t| t.seconds())
                        .map_err(|_| {
                            anyhow::anyhow!(
                                "--timeframe {t}: expected 1s, 1m, 5m, 15m, 1h, 4h or 1d"
                            )
                        })
                })
                .transpose()?;
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
            data,
            bot,
            out,
            tick_size,
            lot_size,
            min_notional,
            trace_decisions,
        } => {
            let instrument = backtest::InstrumentOverrides {
                tick_size,
                lot_size,
                min_notional,
            };
            let request = |bot: Option<String>| backtest::Request {
                files: files.clone(),
                bot,
                data: data.clone(),
                instrument: instrument.clone(),
                trace: trace_decisions.clone(),
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
