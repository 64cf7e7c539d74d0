//! `tradewind-azure-fake`: serve the Azure fake on a port and write its CA certificate.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use tradewind_azure_fake::{FakeConfig, Handle};

/// A test-only fake of Azure Resource Manager, Entra ID, Key Vault and Service Bus.
#[derive(Debug, Parser)]
#[command(name = "tradewind-azure-fake", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where to write the CA certificate (PEM) clients must trust.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Status polls answering InProgress before a long-running operation ends.
    #[arg(long, default_value_t = 2)]
    lro_polls: u32,
    /// Retry-After seconds on long-running operation responses.
    #[arg(long, default_value_t = 0)]
    retry_after_secs: u64,
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
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let config = FakeConfig {
        lro_polls: args.lro_polls,
        retry_after_secs: args.retry_after_secs,
        ..FakeConfig::default()
    };
    let client = config.clients.first().cloned();
    let handle = Handle::spawn(listener, config)?;
    if let Some(path) = &args.ca_out {
        handle
            .write_ca(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("arm_endpoint={}", handle.arm_endpoint());
    println!("authority_host={}", handle.authority_host());
    println!("port={}", handle.port());
    if let Some(c) = client {
        // The default client's id only; its secret is documented, not printed.
        println!("tenant_id={}", c.tenant);
        println!("client_id={}", c.client_id);
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
