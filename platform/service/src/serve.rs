//! `tradewind-platform serve`: the workers' ingest (authenticated by TokenReview, in
//! `tradewind-ingest`) recording into the ledger. This module is the seam between the
//! two: the TradingBot's facts become the ledger's [`BotRecord`], the ledger's refusals
//! become the ingest's typed answers.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use tradewind_events::Event;
use tradewind_ingest::server::{
    BotRef, EventSink, Ingest, Limits, Recorded, SinkError, SinkFuture, serve,
};
use tradewind_ledger::{BotRecord, Ledger, LedgerError};

/// The ledger as the ingest's sink.
pub struct LedgerSink {
    ledger: Ledger,
}

impl LedgerSink {
    /// A sink recording into `ledger`.
    pub fn new(ledger: Ledger) -> Self {
        LedgerSink { ledger }
    }
}

/// The ledger's view of a bot: plan and strategy are named `namespace/name`, as the
/// ledger stores them; a Paper or Live bot's capital currency is its symbol's quote
/// currency (the CRD's rule).
pub fn bot_record(bot: &BotRef) -> BotRecord {
    BotRecord {
        bot: bot.key(),
        account: bot.account.clone(),
        plan: bot
            .commission_plan
            .as_ref()
            .map(|p| format!("{}/{p}", bot.namespace)),
        quote_currency: bot.capital_currency.clone(),
        strategy: (!bot.strategy.is_empty()).then(|| format!("{}/{}", bot.namespace, bot.strategy)),
    }
}

/// The ingest's answer for a ledger's refusal.
pub fn sink_error(bot: &BotRef, e: LedgerError) -> SinkError {
    match e {
        LedgerError::UnknownAccount { account, context } => SinkError::UnknownAccount {
            account,
            reason: format!("create it with `tradewind-platform accounts create`{context}"),
        },
        LedgerError::Conflict { id } => SinkError::Conflict { id },
        LedgerError::InvalidEvent { id, field, reason } => SinkError::Invalid { id, field, reason },
        LedgerError::Invalid { field, reason } => SinkError::Invalid {
            id: String::new(),
            field,
            reason: format!("bot {}: {reason}", bot.key()),
        },
        // The database, its schema or stored data: the worker keeps its backlog and
        // retries; the operator of the platform reads the log.
        other => {
            tracing::error!(bot = %bot.key(), error = %other, "the ledger could not record a batch");
            SinkError::Unavailable(other.to_string())
        }
    }
}

impl EventSink for LedgerSink {
    fn record<'a>(
        &'a self,
        bot: &'a BotRef,
        events: &'a [Event],
    ) -> SinkFuture<'a, Result<Recorded, SinkError>> {
        Box::pin(async move {
            let done = self
                .ledger
                .record_events(&bot_record(bot), events)
                .await
                .map_err(|e| sink_error(bot, e))?;
            Ok(Recorded {
                // Kinds the ledger does not keep are acknowledged as recorded: the worker
                // must not send them again.
                recorded: (done.stored + done.skipped) as u64,
                duplicates: done.duplicates as u64,
            })
        })
    }

    fn ready(&self) -> SinkFuture<'_, bool> {
        Box::pin(async move { self.ledger.ping().await.is_ok() })
    }
}

/// Serves the ingest on `listen` until SIGTERM or Ctrl-C.
pub async fn run(ledger: Ledger, listen: SocketAddr) -> Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (TokenReviews and TradingBots)")?;
    let ingest = Arc::new(Ingest::new(
        client,
        Arc::new(LedgerSink::new(ledger)),
        Limits::default(),
    ));
    let (bound, task) = serve(listen, ingest)
        .await
        .with_context(|| format!("--listen {listen}"))?;
    tracing::info!(%bound, "tradewind-platform serving the ingest");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    task.abort();
    tracing::info!("tradewind-platform stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_events::{Body, Fill, Liquidity, Side};

    fn bot() -> BotRef {
        BotRef {
            namespace: "trading".into(),
            name: "btc-bot".into(),
            uid: "u1".into(),
            account: "acme".into(),
            commission_plan: Some("standard".into()),
            symbol: "BTCUSDT".into(),
            capital_currency: "USDT".into(),
            strategy: "sma".into(),
        }
    }

    fn fill(seq: u64, price: &str) -> Event {
        Event::new(
            "trading/btc-bot",
            "2026-11-25T10:00:00Z",
            seq,
            "2026-11-25T10:03:00Z".into(),
            Body::Fill(Fill {
                order_id: 1,
                side: Side::Buy,
                price: price.into(),
                quantity: "0.001".into(),
                fee: "0.087".into(),
                liquidity: Liquidity::Taker,
            }),
        )
    }

    async fn ledger(dir: &std::path::Path) -> Ledger {
        let url = format!("sqlite:{}", dir.join("ledger.db").display());
        let ledger = Ledger::connect(&url).await.unwrap();
        ledger.migrate().await.unwrap();
        ledger
    }

    #[test]
    fn the_bot_is_named_as_the_ledger_stores_it() {
        let r = bot_record(&bot());
        assert_eq!(r.bot, "trading/btc-bot");
        assert_eq!(r.plan.as_deref(), Some("trading/standard"));
        assert_eq!(r.strategy.as_deref(), Some("trading/sma"));
        assert_eq!(r.quote_currency, "USDT");
        assert_eq!(r.account, "acme");
    }

    #[tokio::test]
    async fn the_ledger_records_dedups_and_refuses_through_the_sink() {
        let dir = std::env::temp_dir().join(format!("tw-serve-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ledger = ledger(&dir).await;
        let sink = LedgerSink::new(ledger.clone());
        let b = bot();
        // Unknown account: refused with what to do, nothing recorded.
        match sink.record(&b, &[fill(0, "87000")]).await {
            Err(SinkError::UnknownAccount { account, reason }) => {
                assert_eq!(account, "acme");
                assert!(reason.contains("accounts create"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        ledger.create_account("acme", "Acme").await.unwrap();
        let first = sink
            .record(&b, &[fill(0, "87000"), fill(1, "87001")])
            .await
            .unwrap();
        assert_eq!((first.recorded, first.duplicates), (2, 0));
        let again = sink
            .record(&b, &[fill(0, "87000"), fill(1, "87001")])
            .await
            .unwrap();
        assert_eq!((again.recorded, again.duplicates), (0, 2));
        // Same id, other content: corruption, named.
        match sink.record(&b, &[fill(1, "1")]).await {
            Err(SinkError::Conflict { id }) => {
                assert_eq!(id, "trading/btc-bot/2026-11-25T10:00:00Z/1")
            }
            other => panic!("{other:?}"),
        }
        assert!(sink.ready().await);
        ledger.close().await;
        assert!(!sink.ready().await, "a closed ledger is not ready");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
