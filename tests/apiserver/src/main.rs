//! `tradewind-apiserver`: serve the in-memory API on a port and write a kubeconfig.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use tradewind_apiserver::{Config, Handle, ImageMap, KubeletConfig};

/// A test-only in-memory Kubernetes API server.
#[derive(Debug, Parser)]
#[command(name = "tradewind-apiserver", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Where to write a kubeconfig pointing at the server.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// How long a simulated container (image not mapped) takes to become ready, in
    /// milliseconds.
    #[arg(long, default_value_t = 200)]
    deployment_delay_ms: u64,
    /// Images run as real processes: `PATTERN=EXECUTABLE[,...]`, `*` matching any text,
    /// e.g. `tradewind-bot:*=/usr/local/bin/tradewind-bot` (default: `$TRADEWIND_IMAGE_MAP`).
    #[arg(long)]
    image_map: Option<String>,
    /// Where the kubelet keeps volumes, claims and logs (a temporary directory if unset).
    #[arg(long)]
    kubelet_dir: Option<PathBuf>,
    /// First CrashLoopBackOff delay in milliseconds (doubling, at most 5 minutes).
    #[arg(long, default_value_t = 10_000)]
    crash_backoff_ms: u64,
    /// Host ports pods reach at their gateway address (`KUBERNETES_SERVICE_HOST`): each
    /// is relayed to the same port on 127.0.0.1 (repeatable or comma-separated).
    #[arg(long = "host-port", value_delimiter = ',')]
    host_ports: Vec<u16>,
    /// Interval between watch bookmarks, in seconds.
    #[arg(long, default_value_t = 5)]
    bookmark_interval_s: u64,
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
    let listener = tokio::net::TcpListener::bind((args.bind.as_str(), args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.bind, args.port))?;
    let config = Config {
        deployment_delay: Duration::from_millis(args.deployment_delay_ms),
        bookmark_interval: Duration::from_secs(args.bookmark_interval_s.max(1)),
        kubelet: KubeletConfig {
            images: ImageMap::parse(
                &args
                    .image_map
                    .clone()
                    .or_else(|| std::env::var("TRADEWIND_IMAGE_MAP").ok())
                    .unwrap_or_default(),
            )
            .context("--image-map")?,
            runtime_dir: args.kubelet_dir.clone(),
            crash_backoff: Duration::from_millis(args.crash_backoff_ms),
            host_ports: args.host_ports.clone(),
        },
        ..Config::default()
    };
    let handle = Handle::spawn(listener, config)?;
    if let Some(path) = &args.kubeconfig {
        std::fs::write(path, handle.kubeconfig_yaml())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{}", handle.url());
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
