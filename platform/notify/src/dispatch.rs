//! The dispatcher: claims due deliveries from the [`Outbox`], sends each channel's on a
//! task of its own (one delivery at a time per channel, every send under a deadline) and
//! records the outcome. A channel that is down holds only its own task: its next
//! deliveries are not claimed while it is busy, the other channels' are.
//!
//! Delivery is at least once: a delivery is marked after its send, so a dispatcher that
//! dies between the two leaves it claimed, and it comes due again when the claim's lease
//! runs out. Every attempt carries the same [`crate::delivery_id`] (the webhook's
//! `Idempotency-Key`, the mail's `Message-ID`), so a receiver sees one notification.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use crate::send::Senders;
use crate::{After, Claimed, Outbox, RetryPolicy, Sealer, after_failure};

/// The dispatcher's settings.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    /// How long a claim hides a delivery from other dispatchers (longer than a send's
    /// deadline).
    pub lease: Duration,
    /// The most deliveries claimed at once.
    pub batch: u32,
    /// Backoff and dead-lettering.
    pub retry: RetryPolicy,
    /// How often the outbox is looked at.
    pub poll: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            lease: Duration::from_secs(120),
            batch: 100,
            retry: RetryPolicy::default(),
            poll: Duration::from_secs(1),
        }
    }
}

/// The dispatcher over an outbox.
pub struct Dispatcher<O: Outbox> {
    outbox: Arc<O>,
    senders: Senders,
    sealer: Arc<Sealer>,
    config: DispatchConfig,
    busy: Arc<Mutex<HashSet<String>>>,
}

/// Frees a channel when its task ends, however it ends.
struct Busy {
    set: Arc<Mutex<HashSet<String>>>,
    channel: String,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.channel);
        }
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn jitter() -> u32 {
    let mut b = [0u8; 2];
    crate::random_fill(&mut b);
    u32::from(u16::from_le_bytes(b)) % 1001
}

impl<O: Outbox> Dispatcher<O> {
    /// A dispatcher.
    pub fn new(
        outbox: Arc<O>,
        senders: Senders,
        sealer: Arc<Sealer>,
        config: DispatchConfig,
    ) -> Self {
        Dispatcher {
            outbox,
            senders,
            sealer,
            config,
            busy: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Claims what is due at `now` (of channels not busy) and starts each channel's task
    /// in `tasks`. Returns how many deliveries were claimed.
    pub async fn tick(&self, now: i64, tasks: &mut JoinSet<()>) -> Result<usize, O::Error> {
        let busy: Vec<String> = self
            .busy
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let claimed = self
            .outbox
            .claim(
                now,
                now.saturating_add(nanos(self.config.lease)),
                self.config.batch,
                &busy,
            )
            .await?;
        let n = claimed.len();
        let mut by_channel: BTreeMap<String, Vec<Claimed>> = BTreeMap::new();
        for c in claimed {
            by_channel.entry(c.channel.clone()).or_default().push(c);
        }
        for (channel, deliveries) in by_channel {
            if let Ok(mut s) = self.busy.lock() {
                s.insert(channel.clone());
            }
            let guard = Busy {
                set: self.busy.clone(),
                channel,
            };
            let outbox = self.outbox.clone();
            let senders = self.senders.clone();
            let sealer = self.sealer.clone();
            let retry = self.config.retry;
            tasks.spawn(async move {
                let _guard = guard;
                for c in deliveries {
                    deliver(&*outbox, &senders, &sealer, &retry, &c, now).await;
                }
            });
        }
        Ok(n)
    }

    /// Claims what is due at `now`, sends it and waits for every channel's task. Aborting
    /// the future aborts the sends (as a crash would, between a send and its mark).
    pub async fn run_once(&self, now: i64) -> Result<usize, O::Error> {
        let mut tasks = JoinSet::new();
        let n = self.tick(now, &mut tasks).await?;
        while tasks.join_next().await.is_some() {}
        Ok(n)
    }

    /// Runs until the future is dropped: a tick every poll interval, on the wall clock.
    pub async fn run(self) {
        let mut tasks = JoinSet::new();
        let mut poll = tokio::time::interval(self.config.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            poll.tick().await;
            while tasks.try_join_next().is_some() {}
            if let Err(e) = self.tick(now_nanos(), &mut tasks).await {
                tracing::warn!(error = %e, "notifications: the outbox could not be read; trying again");
            }
        }
    }
}

/// The wall clock, UNIX nanoseconds.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn deliver<O: Outbox>(
    outbox: &O,
    senders: &Senders,
    sealer: &Sealer,
    retry: &RetryPolicy,
    c: &Claimed,
    now: i64,
) {
    let result = match sealer.open(&c.channel, &c.sealed_secret) {
        Ok(secret) => senders.send(c, &secret).await,
        Err(e) => Err(crate::send::SendError {
            message: e.to_string(),
            permanent: false,
        }),
    };
    let recorded = match &result {
        Ok(()) => {
            tracing::info!(delivery = %c.id, channel = %c.channel, kind = %c.notice.kind, attempt = c.attempts, "notification delivered");
            outbox.delivered(&c.id, now_nanos().max(now)).await
        }
        Err(e) => {
            let after = if e.permanent {
                After::Dead
            } else {
                after_failure(c.attempts, now, retry, jitter())
            };
            match after {
                After::Dead => {
                    tracing::warn!(delivery = %c.id, channel = %c.channel, attempt = c.attempts, error = %e, "notification dead-lettered")
                }
                After::Retry { at } => {
                    tracing::info!(delivery = %c.id, channel = %c.channel, attempt = c.attempts, error = %e, retry_in_s = (at - now) / 1_000_000_000, "notification failed; will retry")
                }
            }
            outbox.failed(&c.id, after, &e.message).await
        }
    };
    if let Err(e) = recorded {
        // The claim's lease runs out and the delivery comes due again: at least once.
        tracing::warn!(delivery = %c.id, error = %e, "notifications: the outcome could not be recorded");
    }
}
