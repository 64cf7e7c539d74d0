//! The bot's own Cosmos DB container (`spec.cloud.cosmos`, created by the operator with
//! partition key `/stream`): its orders, fills and equity snapshots, one document per
//! event, written from a background task. The id is the event's id (`/` spelt `:`, which
//! Cosmos DB ids cannot hold), so an event published again after a restart changes
//! nothing. The queue is bounded: when the container is slower than the bot, the oldest
//! events are dropped (counted and logged) and trading never waits.
//!
//! | event kinds | `stream` (partition) |
//! |---|---|
//! | `OrderSubmitted`, `OrderAccepted`, `OrderRefused`, `OrderRejected`, `OrderCanceled` | `orders` |
//! | `Fill` | `fills` |
//! | `EquitySnapshot` | `snapshots` |

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;
use tradewind_azure::cosmos::CosmosClient;

use super::events::{Delivery, Event, EventError, EventSink, FlushFuture};

/// Most events queued; beyond it the oldest are dropped.
pub const QUEUE_CAPACITY: usize = 10_000;
/// How long `flush` waits for the queue to drain.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The partition an event's document goes to; `None` for events the container does not
/// keep (lifecycle, troubles: the event stream and the ledger have them).
pub fn stream_of(kind: &str) -> Option<&'static str> {
    match kind {
        "OrderSubmitted" | "OrderAccepted" | "OrderRefused" | "OrderRejected" | "OrderCanceled" => {
            Some("orders")
        }
        "Fill" => Some("fills"),
        "EquitySnapshot" => Some("snapshots"),
        _ => None,
    }
}

/// The document of an event kept in `stream`.
pub fn document(event: &Event, stream: &str) -> Value {
    let mut doc = serde_json::to_value(event).unwrap_or_default();
    doc["eventId"] = Value::from(event.id.clone());
    doc["id"] = Value::from(event.id.replace('/', ":"));
    doc["stream"] = Value::from(stream);
    doc
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    in_flight: bool,
    dropped: u64,
    written: u64,
}

struct Shared {
    client: CosmosClient,
    database: String,
    container: String,
    queue: Mutex<Queue>,
    work: Notify,
    progress: Notify,
    delivery: Delivery,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes the bot's orders, fills and snapshots to its container.
pub struct CosmosSink {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl CosmosSink {
    /// Starts the writer task (inside a Tokio runtime).
    pub fn start(client: CosmosClient, database: &str, container: &str) -> Self {
        let shared = Arc::new(Shared {
            client,
            database: database.to_string(),
            container: container.to_string(),
            queue: Mutex::new(Queue::default()),
            work: Notify::new(),
            progress: Notify::new(),
            delivery: Delivery::default(),
        });
        let task = tokio::spawn(writer(shared.clone()));
        Self { shared, task }
    }

    /// Events dropped so far (queue full, or refused by the container).
    pub fn dropped(&self) -> u64 {
        self.shared.queue().dropped
    }

    /// Documents written (or found already written) so far.
    pub fn written(&self) -> u64 {
        self.shared.queue().written
    }
}

impl Drop for CosmosSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventSink for CosmosSink {
    fn publish(&self, event: &Event) {
        if stream_of(event.kind()).is_none() {
            // Not kept here: nothing to wait for.
            let q = self.shared.queue();
            if q.events.is_empty() && !q.in_flight {
                self.shared.delivery.arrived(event);
            }
            return;
        }
        {
            let mut q = self.shared.queue();
            if q.events.len() >= QUEUE_CAPACITY {
                q.events.pop_front();
                q.dropped += 1;
                self.shared.delivery.lost();
                if q.dropped == 1 || q.dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped = q.dropped,
                        "bot container queue full; dropping the oldest events"
                    );
                }
            }
            q.events.push_back(event.clone());
        }
        self.shared.work.notify_one();
    }

    fn delivered(&self) -> u64 {
        self.shared.delivery.next()
    }

    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(async move {
            let deadline = Instant::now() + FLUSH_TIMEOUT;
            loop {
                let progress = self.shared.progress.notified();
                tokio::pin!(progress);
                progress.as_mut().enable();
                {
                    let q = self.shared.queue();
                    if q.events.is_empty() && !q.in_flight {
                        return Ok(());
                    }
                }
                tokio::select! {
                    () = progress => {}
                    () = tokio::time::sleep_until(deadline) => {
                        let q = self.shared.queue();
                        return Err(EventError::FlushTimeout {
                            pending: q.events.len() + usize::from(q.in_flight),
                        });
                    }
                }
            }
        })
    }
}

async fn writer(shared: Arc<Shared>) {
    loop {
        let next = loop {
            let work = shared.work.notified();
            {
                let mut q = shared.queue();
                if let Some(e) = q.events.pop_front() {
                    q.in_flight = true;
                    break e;
                }
            }
            work.await;
        };
        let stream = stream_of(next.kind()).unwrap_or("orders");
        let doc = document(&next, stream);
        // The client retries 429 (as the service asks) and 5xx; what still fails is
        // dropped: trading never waits for this container.
        let result = shared
            .client
            .create(
                &shared.database,
                &shared.container,
                &[Value::from(stream)],
                &doc,
            )
            .await;
        {
            let mut q = shared.queue();
            q.in_flight = false;
            match result {
                Ok(_) => {
                    q.written += 1;
                    shared.delivery.arrived(&next);
                }
                Err(e) => {
                    q.dropped += 1;
                    shared.delivery.lost();
                    tracing::error!(error = %e, id = %next.id, "event not written to the bot's container");
                }
            }
        }
        shared.progress.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_events::{Body, Event};

    #[test]
    fn documents_carry_a_cosmos_safe_id_and_their_stream() {
        let e = Event::new(
            "trading/btc",
            "2026-01-02T00:00:00Z",
            7,
            "2026-01-02T00:00:01Z".into(),
            Body::Fill(tradewind_events::Fill {
                order_id: 1,
                side: tradewind_events::Side::Buy,
                price: "1.00".into(),
                quantity: "2".into(),
                fee: "0".into(),
                liquidity: tradewind_events::Liquidity::Taker,
            }),
        );
        assert_eq!(stream_of(e.kind()), Some("fills"));
        let d = document(&e, "fills");
        assert_eq!(d["id"], "trading:btc:2026-01-02T00:00:00Z:7");
        assert_eq!(d["eventId"], "trading/btc/2026-01-02T00:00:00Z/7");
        assert_eq!(d["stream"], "fills");
        assert_eq!(d["price"], "1.00");
        assert_eq!(stream_of("Started"), None);
    }
}
