//! Matching-engine throughput: order messages (submits and cancels) per second on one
//! core, for the mixes a trading bot produces.
//!
//! Each benchmark replays a pre-generated, deterministic list of operations against a
//! freshly built engine (building it is excluded from the timing) and reports
//! elements/s, one element per order message. Events are drained after every call, as
//! a backtest loop does.
//!
//! Run: `cargo bench -p tradewind-core --bench matching -- --quick`

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tradewind_core::data::{Bar, BookLevel, BookSnapshot, Side};
use tradewind_core::exchange::{
    BarFillModel, Bps, EngineConfig, FeeAccount, FeeSchedule, MatchingEngine,
};
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::orders::{
    ClientOrderId, InstrumentIndex, OrderEvent, OrderKind, OrderRequest, TimeInForce,
};

/// Operations per measured batch.
const OPS: usize = 20_000;
/// Mid price in ticks of 0.01 (100.00).
const MID: i64 = 10_000;
const TICK_RAW: i64 = 10_000_000;

fn price(ticks: i64) -> Price {
    Price::from_raw(ticks * TICK_RAW, 2).expect("on tick")
}

fn qty(lots: u64) -> Quantity {
    Quantity::from_raw(lots * 1_000_000, 3).expect("on lot")
}

fn instrument() -> Instrument {
    Instrument::new(
        "BTCUSDT",
        "BTC",
        "USDT",
        price(1),
        qty(1),
        qty(1),
        Money::checked_from_units(1).expect("small"),
    )
    .expect("valid instrument")
}

fn fees() -> FeeAccount {
    FeeAccount::new(
        FeeSchedule::from_tiers(&[
            ("0", "10", "10"),
            ("1000000", "8", "9"),
            ("5000000", "6", "8"),
        ])
        .expect("valid tiers"),
    )
}

/// A 50-level book each side around 100.00, deep enough that the cross mixes never
/// exhaust it within one batch.
fn book() -> BookSnapshot {
    let level = |ticks: i64, i: u64| BookLevel {
        price: price(ticks),
        size: qty(50_000 + 7_919 * i % 20_000),
    };
    BookSnapshot {
        ts: 0,
        bids: (0..50).map(|i| level(MID - 1 - i as i64, i)).collect(),
        asks: (0..50).map(|i| level(MID + 1 + i as i64, i)).collect(),
    }
}

/// xorshift64: deterministic and cheap.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One order message.
#[derive(Clone, Copy)]
enum Op {
    Submit(OrderRequest),
    Cancel(ClientOrderId),
}

/// Shares (out of 100) of each message kind in a mix.
struct Mix {
    passive: u64,
    cancel: u64,
    cross_ioc: u64,
    market: u64,
}

/// Generate `OPS` messages: passive GTC limits 1..=40 ticks from the touch, cancels of
/// a random live passive order, IOC limits crossing up to 3 ticks into the book and
/// small market orders.
fn generate(mix: &Mix, seed: u64) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut live: Vec<ClientOrderId> = Vec::new();
    let mut ops = Vec::with_capacity(OPS);
    let mut next_id = 0u64;
    let total = mix.passive + mix.cancel + mix.cross_ioc + mix.market;
    while ops.len() < OPS {
        let r = rng.next();
        let side = if r & 1 == 0 { Side::Buy } else { Side::Sell };
        let sign = if side == Side::Buy { -1 } else { 1 };
        let roll = (r >> 8) % total;
        let id = ClientOrderId(next_id);
        let request = |kind, tif, lots| OrderRequest {
            id,
            instrument: InstrumentIndex(0),
            side,
            quantity: qty(lots),
            kind,
            time_in_force: tif,
            post_only: false,
        };
        if roll < mix.passive {
            let away = 1 + (r >> 20) as i64 % 40;
            let kind = OrderKind::Limit {
                price: price(MID + sign * away),
            };
            ops.push(Op::Submit(request(
                kind,
                TimeInForce::Gtc,
                10 + (r >> 32) % 90,
            )));
            live.push(id);
            next_id += 1;
        } else if roll < mix.passive + mix.cancel {
            if live.is_empty() {
                continue;
            }
            let i = (r >> 24) as usize % live.len();
            ops.push(Op::Cancel(live.swap_remove(i)));
        } else if roll < mix.passive + mix.cancel + mix.cross_ioc {
            let into = 1 + (r >> 20) as i64 % 3;
            let kind = OrderKind::Limit {
                price: price(MID - sign * into),
            };
            ops.push(Op::Submit(request(
                kind,
                TimeInForce::Ioc,
                10 + (r >> 32) % 200,
            )));
            next_id += 1;
        } else {
            ops.push(Op::Submit(request(
                OrderKind::Market,
                TimeInForce::Ioc,
                1 + (r >> 32) % 50,
            )));
            next_id += 1;
        }
    }
    ops
}

/// A fresh engine with the book loaded, its fee account and an output buffer.
fn setup(ops: &[Op]) -> State {
    let mut engine = MatchingEngine::new(InstrumentIndex(0), instrument(), EngineConfig::l2());
    let mut fees = fees();
    let mut out = Vec::with_capacity(64);
    engine
        .on_book_snapshot(&book(), &mut fees, &mut out)
        .expect("valid book");
    out.clear();
    (engine, fees, out, ops.to_vec())
}

type State = (MatchingEngine, FeeAccount, Vec<OrderEvent>, Vec<Op>);

/// Replay the messages; returns the state so dropping it is not timed.
fn run(state: State) -> (usize, State) {
    let (mut engine, mut fees, mut out, ops) = state;
    let mut events = 0;
    for (i, op) in ops.iter().enumerate() {
        let ts = i as i64;
        match op {
            Op::Submit(req) => engine.submit(ts, req, &mut fees, &mut out),
            Op::Cancel(id) => {
                let _ = engine.cancel(ts, *id, &mut out);
            }
        }
        events += out.len();
        out.clear();
    }
    (black_box(events), (engine, fees, out, ops))
}

fn matching(c: &mut Criterion) {
    let mixes = [
        (
            "place_cancel",
            Mix {
                passive: 50,
                cancel: 50,
                cross_ioc: 0,
                market: 0,
            },
        ),
        (
            "cross_only",
            Mix {
                passive: 0,
                cancel: 0,
                cross_ioc: 80,
                market: 20,
            },
        ),
        (
            "mixed_45place_40cancel_10ioc_5market",
            Mix {
                passive: 45,
                cancel: 40,
                cross_ioc: 10,
                market: 5,
            },
        ),
    ];
    let mut group = c.benchmark_group("matching");
    group.throughput(Throughput::Elements(OPS as u64));
    for (name, mix) in &mixes {
        let ops = generate(mix, 0x5EED_0000_0000_0001);
        group.bench_function(*name, |b| {
            b.iter_batched(|| setup(&ops), run, BatchSize::LargeInput)
        });
    }

    // Bar mode: one market order per bar, filled at the next open (the backtest path).
    let bars: Vec<Bar> = {
        let mut rng = Rng(42);
        let mut px = MID;
        (0..OPS as i64)
            .map(|i| {
                let open = px;
                px += (rng.next() % 5) as i64 - 2;
                let (lo, hi) = (open.min(px) - 1, open.max(px) + 1);
                Bar::new(i, price(open), price(hi), price(lo), price(px), qty(10))
                    .expect("valid bar")
            })
            .collect()
    };
    group.bench_function("bar_next_open_market", |b| {
        b.iter_batched(
            || {
                let engine = MatchingEngine::new(
                    InstrumentIndex(0),
                    instrument(),
                    EngineConfig::bars(BarFillModel::NextBarOpen, Bps::from_whole(1).expect("bps")),
                );
                (engine, fees(), Vec::<OrderEvent>::with_capacity(8))
            },
            |(mut engine, mut fees, mut out)| {
                for (i, bar) in bars.iter().enumerate() {
                    engine.on_bar(bar, &mut fees, &mut out);
                    let req = OrderRequest {
                        id: ClientOrderId(i as u64),
                        instrument: InstrumentIndex(0),
                        side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
                        quantity: qty(100),
                        kind: OrderKind::Market,
                        time_in_force: TimeInForce::Gtc,
                        post_only: false,
                    };
                    engine.submit(bar.ts, &req, &mut fees, &mut out);
                    out.clear();
                }
                black_box((engine, fees, out))
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
