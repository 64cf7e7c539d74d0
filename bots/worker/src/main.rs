//! `tradewind-bot`: the Tradewind bot worker. `run` trades a bot (paper or live) until
//! stopped; `backtest` runs a bot over historical data and writes a report.

mod backtest;
mod report;
use tradewind_bot::{run, settings};

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
        /// The bot to run when the files hold several.
        #[arg(long)]
        bot: Option<String>,
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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
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
        } => {
            let request = backtest::Request {
                files,
                bot,
                data,
                instrument: backtest::InstrumentOverrides {
                    tick_size,
                    lot_size,
                    min_notional,
                },
            };
            let view = backtest::run(&request)?;
            print!("{}", report::table::render(&view));
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let json = out.join("report.json");
            std::fs::write(&json, report::json::to_string(&view))
                .with_context(|| format!("writing {}", json.display()))?;
            let html = out.join("report.html");
            std::fs::write(&html, report::html::render(&view))
                .with_context(|| format!("writing {}", html.display()))?;
            println!("wrote {} and {}", json.display(), html.display());
            Ok(())
        }
    }
}
