//! Signals from the platform: a Signal strategy's worker fetches its bot's signals from
//! the platform's ingest (`tradewind_crds::contract::signals`), with the same projected
//! ServiceAccount token as its events, and hands them to the session. The session
//! journals each signal before the engine acts on it and moves the *signal cursor* (the
//! highest sequence journaled); the fetcher then acknowledges up to the cursor and asks
//! for what comes after it. After a restart the journal gives the cursor back, so a
//! signal is acted on once, whatever the platform's acknowledgement state.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tradewind_crds::contract::signals::{ACK_PATH, MAX_WAIT_SECONDS, PATH};
use tradewind_ingest::{SignalAck, Signals, WireSignal};

/// How long a fetch is held open by the platform while there are no signals.
const WAIT_SECONDS: u64 = if MAX_WAIT_SECONDS < 20 {
    MAX_WAIT_SECONDS
} else {
    20
};

/// The session's end of the delivery.
pub struct Inbox {
    /// Signals in sequence order.
    pub signals: mpsc::Receiver<WireSignal>,
    /// The session's cursor: every signal up to it is journaled.
    pub cursor: watch::Sender<u64>,
}

/// Where and as whom the fetcher asks.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Base URL of the platform (as for the recorder).
    pub url: String,
    /// The projected token, read again for every request.
    pub token_file: PathBuf,
    /// The bot's namespace.
    pub namespace: String,
    /// The bot's name.
    pub name: String,
}

/// Starts the fetcher; it stops when the session drops its [`Inbox`].
pub fn start(config: FetchConfig, http: reqwest::Client) -> Inbox {
    let (tx, rx) = mpsc::channel(tradewind_crds::contract::signals::MAX_BATCH);
    let (cursor_tx, cursor_rx) = watch::channel(0);
    tokio::spawn(fetcher(config, http, tx, cursor_rx));
    Inbox {
        signals: rx,
        cursor: cursor_tx,
    }
}

async fn fetcher(
    config: FetchConfig,
    http: reqwest::Client,
    tx: mpsc::Sender<WireSignal>,
    mut cursor: watch::Receiver<u64>,
) {
    let base = config.url.trim_end_matches('/').to_owned();
    let mut backoff = Duration::from_millis(500);
    let mut acked = 0;
    // The session sets the cursor from its journal before anything is fetched.
    if cursor.changed().await.is_err() {
        return;
    }
    loop {
        let after = *cursor.borrow_and_update();
        if after > acked {
            match ack(&http, &base, &config, after).await {
                Ok(()) => acked = after,
                Err(e) => {
                    tracing::warn!(error = %e, upto = after, "signals: acknowledgement failed; retried with the next")
                }
            }
        }
        match fetch(&http, &base, &config, after).await {
            Ok(signals) => {
                backoff = Duration::from_millis(500);
                let Some(last) = signals.last().map(|s| s.seq) else {
                    continue;
                };
                for s in signals {
                    if tx.send(s).await.is_err() {
                        return;
                    }
                }
                // Wait until the session journaled them before asking again.
                while *cursor.borrow() < last {
                    if cursor.changed().await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "signals: fetch failed");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = tx.closed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

fn token(config: &FetchConfig) -> Result<String, String> {
    match std::fs::read_to_string(&config.token_file) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
        Ok(_) => Err(format!("{} is empty", config.token_file.display())),
        Err(e) => Err(format!("{}: {e}", config.token_file.display())),
    }
}

async fn fetch(
    http: &reqwest::Client,
    base: &str,
    config: &FetchConfig,
    after: u64,
) -> Result<Vec<WireSignal>, String> {
    let url = format!(
        "{base}{PATH}?namespace={}&name={}&after={after}&wait={WAIT_SECONDS}",
        config.namespace, config.name
    );
    let r = http
        .get(&url)
        .bearer_auth(token(config)?)
        .timeout(Duration::from_secs(WAIT_SECONDS + 10))
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = r.status();
    let body = r.bytes().await.map_err(|e| e.without_url().to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice::<Signals>(&body)
        .map(|s| s.signals)
        .map_err(|e| format!("an unreadable answer: {e}"))
}

async fn ack(
    http: &reqwest::Client,
    base: &str,
    config: &FetchConfig,
    upto: u64,
) -> Result<(), String> {
    let body = serde_json::to_vec(&SignalAck {
        namespace: config.namespace.clone(),
        name: config.name.clone(),
        upto,
    })
    .map_err(|e| e.to_string())?;
    let r = http
        .post(format!("{base}{ACK_PATH}"))
        .bearer_auth(token(config)?)
        .header(
            reqwest::header::CONTENT_TYPE,
            tradewind_ingest::CONTENT_TYPE,
        )
        .timeout(Duration::from_secs(10))
        .body(body)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", r.status()))
    }
}
