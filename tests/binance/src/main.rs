//! `tradewind-binance-mock`: serve the Binance spot mock on a port, replaying market data.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use tradewind_binance_mock::{Handle, MarketData, MockConfig, Speed};

/// A test-only mock of the Binance spot exchange (REST + WebSocket) replaying real data.
#[derive(Debug, Parser)]
#[command(name = "tradewind-binance-mock", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Market-data JSONL file(s), `binance_spot_<symbol>_l1_trades.jsonl` (repeatable).
    #[arg(long = "data", required = true)]
    data: Vec<PathBuf>,
    /// Replay speed multiplier (1 = real time); see --fast.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Replay as fast as possible.
    #[arg(long)]
    fast: bool,
    /// Start with the replay paused.
    #[arg(long)]
    paused: bool,
    /// Commission in basis points of the received asset.
    #[arg(long, default_value_t = 10)]
    commission_bps: u32,
    /// Also print the default account's API secret.
    #[arg(long)]
    print_secret: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let markets = args
        .data
        .iter()
        .map(|p| MarketData::from_path(p.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let config = MockConfig {
        markets,
        speed: if args.fast {
            Speed::AsFastAsPossible
        } else {
            Speed::Multiplier(args.speed)
        },
        start_paused: args.paused,
        commission_bps: args.commission_bps,
        ..MockConfig::default()
    };
    let account = config.accounts.first().cloned();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let handle = Handle::spawn(listener, config).context("starting the mock")?;
    println!("rest_base={}", handle.rest_base());
    println!("ws_base={}", handle.ws_base());
    if let Some(a) = account {
        println!("api_key={}", a.api_key);
        if args.print_secret {
            println!("api_secret={}", a.api_secret);
        }
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    handle.shutdown();
    Ok(())
}
