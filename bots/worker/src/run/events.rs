//! Events out: a session's typed events ([`tradewind_events::Event`], the contract its
//! consumers read) go to sinks, and only a sink serialises them: one JSON line each on
//! stdout by default, and to the bot's Service Bus topic when configured
//! ([`super::service_bus`]).
//!
//! Delivery is at least once. Each sink says how far it has delivered without a loss
//! ([`EventSink::delivered`]); the session journals that mark, and after a restart
//! publishes again everything after it, with the same ids.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use tradewind_events::Event;

/// Why events could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// `flush` gave up with events still unsent.
    #[error("event flush timed out with {pending} events unsent")]
    FlushTimeout {
        /// Events queued or in flight.
        pending: usize,
    },
    /// Service Bus refused a batch for good (not retried); the batch is lost.
    #[error("Service Bus refused {events} events with HTTP {status}: {message}")]
    Rejected {
        /// Events in the refused batch.
        events: usize,
        /// HTTP status.
        status: u16,
        /// The service's error text (never our credentials).
        message: String,
    },
    /// The Service Bus endpoint or topic is unusable.
    #[error("Service Bus endpoint {endpoint}: {reason}")]
    Endpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing to the output failed.
    #[error("writing events: {0}")]
    Io(#[from] std::io::Error),
}

/// The future [`EventSink::flush`] returns.
pub type FlushFuture<'a> = Pin<Box<dyn Future<Output = Result<(), EventError>> + Send + 'a>>;

/// Where events go. `publish` never blocks on the network; `flush` waits for delivery.
pub trait EventSink: Send + Sync {
    /// Queues (or writes) one event.
    fn publish(&self, event: &Event);
    /// Waits until everything published so far is delivered, or the sink's deadline.
    fn flush(&self) -> FlushFuture<'_>;
    /// Every event published here with a sequence below this was delivered; it stops
    /// advancing for good once an event was lost (a restart publishes again from the
    /// journal's mark). 0 before the first delivery.
    fn delivered(&self) -> u64;
}

/// Delivery bookkeeping shared by the sinks.
#[derive(Debug, Default)]
pub struct Delivery {
    next: AtomicU64,
    lost: AtomicBool,
}

impl Delivery {
    /// `event` arrived (moves the mark unless something was lost before).
    pub fn arrived(&self, event: &Event) {
        if !self.lost.load(Ordering::Relaxed) {
            self.next.fetch_max(event.sequence + 1, Ordering::Relaxed);
        }
    }

    /// Something was lost: the mark stays where it is.
    pub fn lost(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    /// The mark.
    pub fn next(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }
}

/// One JSON line per event on stdout (or an injected writer); lines never interleave.
pub struct StdoutSink {
    out: Mutex<Box<dyn Write + Send>>,
    delivery: Delivery,
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl StdoutSink {
    /// Writes to the process's stdout.
    pub fn new() -> Self {
        Self::with_writer(Box::new(std::io::stdout()))
    }

    /// Writes to `out` (tests capture events this way).
    pub fn with_writer(out: Box<dyn Write + Send>) -> Self {
        StdoutSink {
            out: Mutex::new(out),
            delivery: Delivery::default(),
        }
    }

    fn out(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The event as one JSON line (with its newline).
pub fn json_line(event: &Event) -> String {
    // Strings, integers and enums only: serialising cannot fail.
    let mut line = serde_json::to_string(event).unwrap_or_default();
    line.push('\n');
    line
}

impl EventSink for StdoutSink {
    fn publish(&self, event: &Event) {
        let line = json_line(event);
        // One write of the whole line under the lock: concurrent publishers never mix.
        let mut out = self.out();
        match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => self.delivery.arrived(event),
            Err(e) => {
                self.delivery.lost();
                tracing::warn!(%e, id = %event.id, "cannot write event to stdout");
            }
        }
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(async move { Ok(self.out().flush()?) })
    }

    fn delivered(&self) -> u64 {
        self.delivery.next()
    }
}

/// Publishes every event to several sinks (e.g. stdout and Service Bus).
pub struct Fanout {
    sinks: Vec<Arc<dyn EventSink>>,
}

impl Fanout {
    /// Publishes to each of `sinks`, in order.
    pub fn new(sinks: Vec<Arc<dyn EventSink>>) -> Self {
        Fanout { sinks }
    }
}

impl EventSink for Fanout {
    fn publish(&self, event: &Event) {
        for s in &self.sinks {
            s.publish(event);
        }
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(async move {
            let mut first = Ok(());
            for s in &self.sinks {
                let r = s.flush().await;
                if first.is_ok() {
                    first = r;
                }
            }
            first
        })
    }

    fn delivered(&self) -> u64 {
        self.sinks.iter().map(|s| s.delivered()).min().unwrap_or(0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tradewind_events::{Body, Fill, Liquidity, Side};

    /// A writer tests can read back.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// Every line written, as events.
        pub(crate) fn events(&self) -> Vec<Event> {
            let text = String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf8");
            text.lines()
                .map(|l| serde_json::from_str(l).expect("each line is one event"))
                .collect()
        }
    }

    /// A fill event with sequence `seq`.
    pub(crate) fn fill(seq: u64) -> Event {
        Event::new(
            "trading/btc-bot",
            "2026-11-25T10:00:00Z",
            seq,
            "2026-11-25T10:03:00Z".into(),
            Body::Fill(Fill {
                order_id: seq,
                side: Side::Buy,
                price: "64000.10".into(),
                quantity: "0.001".into(),
                fee: "0.064".into(),
                liquidity: Liquidity::Taker,
            }),
        )
    }

    #[test]
    fn stdout_sink_writes_whole_lines_even_from_many_threads() {
        let out = Captured::default();
        let sink = Arc::new(StdoutSink::with_writer(Box::new(out.clone())));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        sink.publish(&fill(t * 1000 + i));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let mut ids: Vec<String> = out.events().into_iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 800);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 800);
        assert_eq!(sink.delivered(), 3200);
    }

    /// A writer that fails.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("closed"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_delivery_mark_is_the_slowest_sinks_and_stops_at_a_loss() {
        let good: Arc<dyn EventSink> =
            Arc::new(StdoutSink::with_writer(Box::new(Captured::default())));
        let broken: Arc<dyn EventSink> = Arc::new(StdoutSink::with_writer(Box::new(Broken)));
        let one = Fanout::new(vec![good.clone()]);
        one.publish(&fill(4));
        assert_eq!(one.delivered(), 5);
        let both = Fanout::new(vec![good.clone(), broken]);
        both.publish(&fill(5));
        assert_eq!(good.delivered(), 6);
        assert_eq!(both.delivered(), 0, "the broken sink delivered nothing");
    }
}
