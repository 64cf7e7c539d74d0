//! L2 book update throughput on a realistic diff stream, on one core.
//!
//! The stream is deterministic and shaped like an exchange depth feed: a mid price that
//! random-walks, updates concentrated near the top of book (distance from the touch is
//! geometric), about 70 % size changes, 15 % new levels and 15 % removals, and the
//! levels the mid walks into are removed so the book stays uncrossed.
//!
//! - `book/apply_delta`: [`OrderBook::apply_delta`] alone;
//! - `book/engine_on_book_delta`: the same stream through the simulated exchange in L2
//!   mode with the bot's resting orders and stops in place (cross and trigger checks
//!   after every update).
//!
//! Run: `cargo bench -p tradewind-core --bench book -- --quick`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tradewind_core::data::{BookDelta, BookLevel, BookSide, BookSnapshot, OrderBook, Side};
use tradewind_core::exchange::{EngineConfig, FeeAccount, FeeSchedule, MatchingEngine};
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::orders::{
    ClientOrderId, InstrumentIndex, OrderEvent, OrderKind, OrderRequest, TimeInForce,
};

/// Deltas per measured batch.
const UPDATES: usize = 1_000_000;
const TICK_RAW: i64 = 10_000_000;
/// Levels per side in the starting snapshot.
const DEPTH: i64 = 200;

fn price(ticks: i64) -> Price {
    Price::from_raw(ticks * TICK_RAW, 2).expect("on tick")
}

fn qty(lots: u64) -> Quantity {
    Quantity::from_raw(lots * 1_000_000, 3).expect("on lot")
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Starting book: `DEPTH` levels each side of a 1-tick spread at 100.00.
fn snapshot(mid: i64) -> BookSnapshot {
    let level = |t: i64| BookLevel {
        price: price(t),
        size: qty(1 + (t as u64 * 7_919) % 5_000),
    };
    BookSnapshot {
        ts: 0,
        bids: (0..DEPTH).map(|i| level(mid - 1 - i)).collect(),
        asks: (0..DEPTH).map(|i| level(mid + 1 + i)).collect(),
    }
}

/// The delta stream (see module docs).
fn stream(mid0: i64, seed: u64) -> Vec<BookDelta> {
    let mut rng = Rng(seed);
    let mut mid = mid0;
    let mut out = Vec::with_capacity(UPDATES);
    let mut ts = 0i64;
    while out.len() < UPDATES {
        let r = rng.next();
        ts += 1_000;
        if r.is_multiple_of(100) {
            // The mid moves one tick; the level it moves onto is gone.
            let up = (r >> 8) & 1 == 0;
            mid += if up { 1 } else { -1 };
            let (side, at) = if up {
                (BookSide::Ask, mid)
            } else {
                (BookSide::Bid, mid)
            };
            out.push(BookDelta {
                ts,
                side,
                price: price(at),
                size: Quantity::ZERO,
            });
            continue;
        }
        let side = if (r >> 1) & 1 == 0 {
            BookSide::Bid
        } else {
            BookSide::Ask
        };
        // Geometric distance from the touch: P(d) ~ 0.7^d, capped at the depth.
        let mut d = 0i64;
        let mut bits = r >> 16;
        while d < DEPTH - 1 && bits % 10 < 7 {
            d += 1;
            bits /= 10;
            if bits == 0 {
                bits = rng.next();
            }
        }
        let t = match side {
            BookSide::Bid => mid - 1 - d,
            BookSide::Ask => mid + 1 + d,
        };
        let kind = (r >> 8) % 100;
        let size = if kind < 15 {
            Quantity::ZERO
        } else {
            qty(1 + (r >> 40) % 5_000)
        };
        out.push(BookDelta {
            ts,
            side,
            price: price(t),
            size,
        });
    }
    out
}

fn book(c: &mut Criterion) {
    let mid = 10_000;
    let snap = snapshot(mid);
    let deltas = stream(mid, 0xB00C_0000_0000_0001);

    let mut group = c.benchmark_group("book");
    group.throughput(Throughput::Elements(UPDATES as u64));
    group.bench_function("apply_delta", |b| {
        b.iter_batched(
            || {
                let mut book = OrderBook::new();
                book.apply_snapshot(&snap).expect("valid snapshot");
                book
            },
            |mut book| {
                for d in &deltas {
                    book.apply_delta(d);
                }
                black_box(book)
            },
            BatchSize::LargeInput,
        )
    });

    let instrument = Instrument::new(
        "BTCUSDT",
        "BTC",
        "USDT",
        price(1),
        qty(1),
        qty(1),
        Money::ZERO,
    )
    .expect("valid instrument");
    group.bench_function("engine_on_book_delta", |b| {
        b.iter_batched(
            || {
                let mut engine =
                    MatchingEngine::new(InstrumentIndex(0), instrument.clone(), EngineConfig::l2());
                let mut fees = FeeAccount::new(FeeSchedule::default());
                let mut out: Vec<OrderEvent> = Vec::with_capacity(64);
                engine
                    .on_book_snapshot(&snap, &mut fees, &mut out)
                    .expect("valid snapshot");
                // Resting quotes and protective stops far from the action: the checks
                // run on every update but nothing fills.
                for i in 0..20u64 {
                    let (side, kind) = match i % 4 {
                        0 => (
                            Side::Buy,
                            OrderKind::Limit {
                                price: price(mid - 1_000 - i as i64),
                            },
                        ),
                        1 => (
                            Side::Sell,
                            OrderKind::Limit {
                                price: price(mid + 1_000 + i as i64),
                            },
                        ),
                        2 => (
                            Side::Buy,
                            OrderKind::StopMarket {
                                trigger: price(mid + 1_000 + i as i64),
                            },
                        ),
                        _ => (
                            Side::Sell,
                            OrderKind::StopMarket {
                                trigger: price(mid - 1_000 - i as i64),
                            },
                        ),
                    };
                    let req = OrderRequest {
                        id: ClientOrderId(i),
                        instrument: InstrumentIndex(0),
                        side,
                        quantity: qty(10),
                        kind,
                        time_in_force: TimeInForce::Gtc,
                        post_only: false,
                    };
                    engine.submit(0, &req, &mut fees, &mut out);
                }
                out.clear();
                (engine, fees, out)
            },
            |(mut engine, mut fees, mut out)| {
                for d in &deltas {
                    engine.on_book_delta(d, &mut fees, &mut out);
                }
                assert!(out.is_empty(), "nothing should fill in this benchmark");
                black_box((engine, fees, out))
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, book);
criterion_main!(benches);
