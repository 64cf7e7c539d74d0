//! Behaviour tests of the simulated exchange: every order type and time in force, both
//! fill modes, fees through the engine, rejections, determinism.

use super::*;
use crate::data::{BookLevel, BookSide, Side};
use crate::fixed::{Money, Price, Quantity};
use crate::orders::{ClientOrderId, Liquidity, OrderKind, RejectReason, TimeInForce};

fn p(s: &str) -> Price {
    s.parse().expect("valid price")
}
fn q(s: &str) -> Quantity {
    s.parse().expect("valid quantity")
}
fn m(s: &str) -> Money {
    s.parse().expect("valid money")
}

/// BTCUSDT-like: tick 0.01, lot 0.001, min quantity 0.001, min notional 1.
fn instrument() -> Instrument {
    Instrument::new(
        "BTCUSDT",
        "BTC",
        "USDT",
        p("0.01"),
        q("0.001"),
        q("0.001"),
        m("1"),
    )
    .expect("valid instrument")
}

const IX: InstrumentIndex = InstrumentIndex(0);

/// One engine with a fee account and a reused output buffer.
struct H {
    e: MatchingEngine,
    fees: FeeAccount,
    out: Vec<OrderEvent>,
    ts: i64,
}

impl H {
    fn with(config: EngineConfig, schedule: FeeSchedule) -> Self {
        Self {
            e: MatchingEngine::new(IX, instrument(), config),
            fees: FeeAccount::new(schedule),
            out: Vec::new(),
            ts: 1,
        }
    }
    fn l2() -> Self {
        Self::with(EngineConfig::l2(), FeeSchedule::zero())
    }
    fn bars(model: BarFillModel, slippage: &str) -> Self {
        Self::with(
            EngineConfig::bars(model, Bps::parse(slippage).expect("bps")),
            FeeSchedule::zero(),
        )
    }
    fn take(&mut self) -> Vec<String> {
        let s = self.out.iter().map(describe).collect();
        self.out.clear();
        s
    }
    fn send(
        &mut self,
        id: u64,
        side: Side,
        qty: &str,
        kind: OrderKind,
        tif: TimeInForce,
        post_only: bool,
    ) -> Vec<String> {
        let req = OrderRequest {
            id: ClientOrderId(id),
            instrument: IX,
            side,
            quantity: q(qty),
            kind,
            time_in_force: tif,
            post_only,
        };
        self.e.submit(self.ts, &req, &mut self.fees, &mut self.out);
        self.take()
    }
    fn market(&mut self, id: u64, side: Side, qty: &str) -> Vec<String> {
        self.send(id, side, qty, OrderKind::Market, TimeInForce::Gtc, false)
    }
    fn limit(
        &mut self,
        id: u64,
        side: Side,
        qty: &str,
        price: &str,
        tif: TimeInForce,
    ) -> Vec<String> {
        self.send(
            id,
            side,
            qty,
            OrderKind::Limit { price: p(price) },
            tif,
            false,
        )
    }
    fn snapshot(&mut self, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> Vec<String> {
        let lv = |l: &[(&str, &str)]| {
            l.iter()
                .map(|&(pr, sz)| BookLevel {
                    price: p(pr),
                    size: q(sz),
                })
                .collect()
        };
        let snap = BookSnapshot {
            ts: self.ts,
            bids: lv(bids),
            asks: lv(asks),
        };
        self.e
            .on_book_snapshot(&snap, &mut self.fees, &mut self.out)
            .expect("valid snapshot");
        self.take()
    }
    fn standard_book(&mut self) {
        let ev = self.snapshot(
            &[("99.50", "1.000"), ("99.00", "2.000"), ("98.50", "3.000")],
            &[
                ("100.00", "1.000"),
                ("100.50", "2.000"),
                ("101.00", "3.000"),
            ],
        );
        assert!(ev.is_empty());
    }
    fn delta(&mut self, side: BookSide, price: &str, size: &str) -> Vec<String> {
        let d = BookDelta {
            ts: self.ts,
            side,
            price: p(price),
            size: q(size),
        };
        self.e.on_book_delta(&d, &mut self.fees, &mut self.out);
        self.take()
    }
    fn trade(&mut self, price: &str, size: &str, aggressor: Side) -> Vec<String> {
        let t = Trade {
            ts: self.ts,
            price: p(price),
            size: q(size),
            aggressor,
        };
        self.e.on_trade(&t, &mut self.fees, &mut self.out);
        self.take()
    }
    fn bar(&mut self, o: &str, h: &str, l: &str, c: &str) -> Vec<String> {
        self.ts += 1;
        let b = Bar::new(self.ts, p(o), p(h), p(l), p(c), q("1")).expect("valid bar");
        self.e.on_bar(&b, &mut self.fees, &mut self.out);
        self.take()
    }
    fn cancel(&mut self, id: u64) -> Result<Vec<String>, CancelError> {
        self.e.cancel(self.ts, ClientOrderId(id), &mut self.out)?;
        Ok(self.take())
    }
}

fn describe(e: &OrderEvent) -> String {
    match e {
        OrderEvent::Accepted { id, .. } => format!("acc {}", id.0),
        OrderEvent::Rejected { id, reason, .. } => format!("rej {}: {reason}", id.0),
        OrderEvent::Triggered { id, .. } => format!("trig {}", id.0),
        OrderEvent::Filled(f) => format!(
            "fill {} {:?} {}@{} {:?}",
            f.id.0, f.side, f.quantity, f.price, f.liquidity
        ),
        OrderEvent::Canceled { id, unfilled, .. } => format!("cxl {} {unfilled}", id.0),
    }
}

use Side::{Buy, Sell};
use TimeInForce::{Fok, Gtc, Ioc};

// ------------------------------------------------------------------ L2 mode

#[test]
fn market_order_walks_levels_and_cancels_what_cannot_fill() {
    let mut h = H::l2();
    h.standard_book();
    assert_eq!(
        h.market(1, Buy, "2.500"),
        [
            "acc 1",
            "fill 1 Buy 1.000@100.00 Taker",
            "fill 1 Buy 1.500@100.50 Taker"
        ]
    );
    assert_eq!(
        h.market(2, Buy, "5.000"),
        [
            "acc 2",
            "fill 2 Buy 0.500@100.50 Taker",
            "fill 2 Buy 3.000@101.00 Taker",
            "cxl 2 1.500"
        ]
    );
    // The ask side is exhausted: a market buy cancels entirely.
    assert_eq!(h.market(3, Buy, "1"), ["acc 3", "cxl 3 1.000"]);
    assert_eq!(h.e.open_order_count(), 0);
    assert_eq!(
        h.market(4, Sell, "1.5"),
        [
            "acc 4",
            "fill 4 Sell 1.000@99.50 Taker",
            "fill 4 Sell 0.500@99.00 Taker"
        ]
    );
}

#[test]
fn consumed_liquidity_is_gone_until_the_feed_updates_the_level() {
    let mut h = H::l2();
    h.standard_book();
    assert_eq!(
        h.market(1, Buy, "1"),
        ["acc 1", "fill 1 Buy 1.000@100.00 Taker"]
    );
    // Same instant: the 100.00 level was taken, so the next order gets 100.50.
    assert_eq!(
        h.market(2, Buy, "1"),
        ["acc 2", "fill 2 Buy 1.000@100.50 Taker"]
    );
    assert_eq!(h.e.book().best_ask().map(|l| l.size), Some(q("1")));
    // The feed re-publishes the 100.00 level: it is available again.
    assert!(h.delta(BookSide::Ask, "100.00", "0.7").is_empty());
    assert_eq!(
        h.market(3, Buy, "1"),
        [
            "acc 3",
            "fill 3 Buy 0.700@100.00 Taker",
            "fill 3 Buy 0.300@100.50 Taker"
        ]
    );
}

#[test]
fn limit_ioc_and_gtc_partial_fills_then_maker_fill_when_book_crosses() {
    let mut h = H::l2();
    h.standard_book();
    assert_eq!(
        h.limit(1, Buy, "5", "100.50", Ioc),
        [
            "acc 1",
            "fill 1 Buy 1.000@100.00 Taker",
            "fill 1 Buy 2.000@100.50 Taker",
            "cxl 1 2.000"
        ]
    );
    assert_eq!(
        h.limit(2, Sell, "4", "99.00", Gtc),
        [
            "acc 2",
            "fill 2 Sell 1.000@99.50 Taker",
            "fill 2 Sell 2.000@99.00 Taker"
        ]
    );
    let o = h.e.order(ClientOrderId(2)).expect("resting");
    assert_eq!(
        (o.state, o.filled, o.remaining),
        (OpenOrderState::Resting, q("3"), q("1"))
    );
    assert_eq!(h.e.best_own_price(Sell), Some(p("99.00")));
    // A new bid at 99.20 crosses our offer at 99.00: we fill as maker at our price,
    // against the displayed 0.4, which is consumed.
    assert_eq!(
        h.delta(BookSide::Bid, "99.20", "0.4"),
        ["fill 2 Sell 0.400@99.00 Maker"]
    );
    assert_eq!(h.e.book().best_bid().map(|l| l.price), Some(p("98.50")));
    assert_eq!(
        h.e.order(ClientOrderId(2)).map(|o| o.remaining),
        Some(q("0.6"))
    );
    // A bid exactly at our offer (locked) trades too.
    assert_eq!(
        h.delta(BookSide::Bid, "99.00", "5"),
        ["fill 2 Sell 0.600@99.00 Maker"]
    );
    assert_eq!(h.e.open_order_count(), 0);
    assert_eq!(h.e.book().best_bid().map(|l| l.size), Some(q("4.4")));
}

#[test]
fn fok_is_all_or_nothing() {
    let mut h = H::l2();
    h.standard_book();
    assert_eq!(
        h.send(
            1,
            Buy,
            "3.5",
            OrderKind::Limit { price: p("100.50") },
            Fok,
            false
        ),
        ["rej 1: fill-or-kill order cannot fill entirely"]
    );
    assert_eq!(
        h.send(2, Sell, "7", OrderKind::Market, Fok, false),
        ["rej 2: fill-or-kill order cannot fill entirely"]
    );
    // Nothing was consumed by the rejected orders.
    assert_eq!(h.e.book().best_ask().map(|l| l.size), Some(q("1")));
    assert_eq!(
        h.send(
            3,
            Buy,
            "3",
            OrderKind::Limit { price: p("100.50") },
            Fok,
            false
        ),
        [
            "acc 3",
            "fill 3 Buy 1.000@100.00 Taker",
            "fill 3 Buy 2.000@100.50 Taker"
        ]
    );
    assert_eq!(
        h.send(4, Sell, "6", OrderKind::Market, Fok, false),
        [
            "acc 4",
            "fill 4 Sell 1.000@99.50 Taker",
            "fill 4 Sell 2.000@99.00 Taker",
            "fill 4 Sell 3.000@98.50 Taker"
        ]
    );
}

#[test]
fn post_only_rejects_when_it_would_take() {
    let mut h = H::l2();
    h.standard_book();
    let po = |price: &str| OrderKind::Limit { price: p(price) };
    assert_eq!(
        h.send(1, Buy, "1", po("100.00"), Gtc, true),
        ["rej 1: post-only order would take liquidity"]
    );
    assert_eq!(
        h.send(2, Sell, "1", po("99.50"), Gtc, true),
        ["rej 2: post-only order would take liquidity"]
    );
    assert_eq!(h.send(3, Buy, "1", po("99.99"), Gtc, true), ["acc 3"]);
    assert_eq!(h.send(4, Sell, "1", po("100.01"), Gtc, true), ["acc 4"]);
    assert_eq!(
        h.send(5, Buy, "1", OrderKind::Market, Ioc, true),
        ["rej 5: post-only order would take liquidity"]
    );
    assert_eq!(
        h.send(
            6,
            Buy,
            "1",
            OrderKind::StopMarket { trigger: p("105") },
            Gtc,
            true
        ),
        ["rej 6: post-only order would take liquidity"]
    );
    assert_eq!(h.e.open_order_count(), 2);
}

#[test]
fn price_time_priority_among_own_orders_on_trade_through() {
    let mut h = H::l2();
    // Empty book: everything rests.
    assert_eq!(h.limit(1, Buy, "1", "99.00", Gtc), ["acc 1"]);
    assert_eq!(h.limit(2, Buy, "1", "99.00", Gtc), ["acc 2"]);
    assert_eq!(h.limit(3, Buy, "1", "99.50", Gtc), ["acc 3"]);
    assert_eq!(h.limit(4, Sell, "1", "101.00", Gtc), ["acc 4"]);
    // A trade at 98.90 prints through all bids; its 2.5 size is shared by priority:
    // best price first, then arrival.
    assert_eq!(
        h.trade("98.90", "2.5", Sell),
        [
            "fill 3 Buy 1.000@99.50 Maker",
            "fill 1 Buy 1.000@99.00 Maker",
            "fill 2 Buy 0.500@99.00 Maker"
        ]
    );
    assert_eq!(
        h.e.order(ClientOrderId(2)).map(|o| o.remaining),
        Some(q("0.5"))
    );
    // A trade at the offer's price is not a fill (queue position unknown).
    assert!(h.trade("101.00", "5", Buy).is_empty());
    assert_eq!(
        h.trade("101.01", "5", Buy),
        ["fill 4 Sell 1.000@101.00 Maker"]
    );
    let open = h.e.open_orders();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, ClientOrderId(2));
}

#[test]
fn resting_orders_list_in_fill_priority() {
    let mut h = H::l2();
    for (id, side, price) in [
        (1, Buy, "99.00"),
        (2, Buy, "99.50"),
        (3, Buy, "99.00"),
        (4, Sell, "101.00"),
        (5, Sell, "100.50"),
        (6, Sell, "101.00"),
    ] {
        h.limit(id, side, "1", price, Gtc);
    }
    let ids = |h: &H, side| -> Vec<u64> { h.e.resting_orders(side).map(|o| o.id.0).collect() };
    assert_eq!(ids(&h, Buy), [2, 1, 3]);
    assert_eq!(ids(&h, Sell), [5, 4, 6]);
    assert_eq!(h.e.best_own_price(Sell), Some(p("100.50")));
    let arrival: Vec<u64> = h.e.open_orders().iter().map(|o| o.id.0).collect();
    assert_eq!(arrival, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn fill_at_touch_option_fills_on_trades_at_the_limit() {
    let mut h = H::with(
        EngineConfig {
            fill_model: FillModel::L2,
            fill_at_touch: true,
        },
        FeeSchedule::zero(),
    );
    h.limit(1, Buy, "1", "99.00", Gtc);
    assert_eq!(
        h.trade("99.00", "0.25", Sell),
        ["fill 1 Buy 0.250@99.00 Maker"]
    );
    assert!(h.trade("99.01", "5", Sell).is_empty());
}

#[test]
fn stop_market_triggers_on_trade_and_walks_the_book() {
    let mut h = H::l2();
    h.standard_book();
    let stop = OrderKind::StopMarket {
        trigger: p("99.00"),
    };
    assert_eq!(h.send(1, Sell, "1.5", stop, Gtc, false), ["acc 1"]);
    assert_eq!(
        h.e.order(ClientOrderId(1)).map(|o| o.state),
        Some(OpenOrderState::AwaitingTrigger)
    );
    assert!(h.trade("99.01", "1", Sell).is_empty());
    assert_eq!(
        h.trade("99.00", "0.1", Sell),
        [
            "trig 1",
            "fill 1 Sell 1.000@99.50 Taker",
            "fill 1 Sell 0.500@99.00 Taker"
        ]
    );
    assert_eq!(h.e.open_order_count(), 0);
}

#[test]
fn stop_limit_triggered_by_the_book_rests_its_remainder() {
    let mut h = H::l2();
    h.standard_book();
    let kind = OrderKind::StopLimit {
        trigger: p("100.50"),
        price: p("100.50"),
    };
    assert_eq!(h.send(1, Buy, "4", kind, Gtc, false), ["acc 1"]);
    // Best ask moves up to 100.50: buy stops fire on the ask.
    assert_eq!(
        h.delta(BookSide::Ask, "100.00", "0"),
        ["trig 1", "fill 1 Buy 2.000@100.50 Taker"]
    );
    assert_eq!(h.e.best_own_price(Buy), Some(p("100.50")));
    // The feed shows new size at 100.50: our resting bid there fills as maker.
    assert_eq!(
        h.delta(BookSide::Ask, "100.50", "1.5"),
        ["fill 1 Buy 1.500@100.50 Maker"]
    );
    assert_eq!(
        h.e.order(ClientOrderId(1)).map(|o| o.remaining),
        Some(q("0.5"))
    );
}

#[test]
fn sell_stop_fires_when_the_best_bid_falls_to_its_trigger() {
    let mut h = H::l2();
    h.standard_book();
    let kind = OrderKind::StopLimit {
        trigger: p("99.00"),
        price: p("98.50"),
    };
    assert_eq!(h.send(1, Sell, "6", kind, Ioc, false), ["acc 1"]);
    assert!(h.delta(BookSide::Bid, "99.50", "0.5").is_empty());
    // The best bid falls to 99.00, the trigger: the stop sells down to its 98.50 limit
    // and the IOC remainder is cancelled.
    assert_eq!(
        h.delta(BookSide::Bid, "99.50", "0"),
        [
            "trig 1",
            "fill 1 Sell 2.000@99.00 Taker",
            "fill 1 Sell 3.000@98.50 Taker",
            "cxl 1 1.000"
        ]
    );
}

#[test]
fn stops_already_reached_fire_at_submission_in_arrival_order_when_together() {
    let mut h = H::l2();
    h.standard_book();
    assert_eq!(
        h.send(
            1,
            Buy,
            "0.5",
            OrderKind::StopMarket {
                trigger: p("99.00")
            },
            Gtc,
            false
        ),
        ["acc 1", "trig 1", "fill 1 Buy 0.500@100.00 Taker"]
    );
    // Two buy stops, the later one with the lower trigger: one trade fires both, and
    // they run in arrival order.
    h.send(
        2,
        Buy,
        "0.1",
        OrderKind::StopMarket {
            trigger: p("100.60"),
        },
        Gtc,
        false,
    );
    h.send(
        3,
        Buy,
        "0.1",
        OrderKind::StopMarket {
            trigger: p("100.55"),
        },
        Gtc,
        false,
    );
    assert_eq!(
        h.trade("100.70", "1", Buy),
        [
            "trig 2",
            "fill 2 Buy 0.100@100.00 Taker",
            "trig 3",
            "fill 3 Buy 0.100@100.00 Taker"
        ]
    );
    // A triggered FOK stop that cannot fill entirely is cancelled (it was accepted).
    h.send(
        4,
        Sell,
        "50",
        OrderKind::StopMarket { trigger: p("90") },
        Fok,
        false,
    );
    assert_eq!(h.trade("90", "1", Sell), ["trig 4", "cxl 4 50.000"]);
}

#[test]
fn cancel_resting_stop_and_unknown_orders() {
    let mut h = H::l2();
    h.standard_book();
    h.limit(1, Sell, "3", "100.00", Gtc); // takes nothing: bids are below
    assert_eq!(h.e.book().best_bid().map(|l| l.price), Some(p("99.50")));
    h.limit(2, Buy, "2", "99.60", Gtc);
    h.send(
        3,
        Buy,
        "1",
        OrderKind::StopMarket { trigger: p("105") },
        Gtc,
        false,
    );
    assert_eq!(
        h.trade("99.55", "0.5", Sell),
        ["fill 2 Buy 0.500@99.60 Maker"]
    );
    assert_eq!(h.cancel(2), Ok(vec!["cxl 2 1.500".to_owned()]));
    assert_eq!(h.cancel(3), Ok(vec!["cxl 3 1.000".to_owned()]));
    assert_eq!(h.cancel(1), Ok(vec!["cxl 1 3.000".to_owned()]));
    assert_eq!(
        h.cancel(1),
        Err(CancelError::UnknownOrder {
            id: ClientOrderId(1)
        })
    );
    assert_eq!(h.e.open_order_count(), 0);
    // Cancelled stops no longer fire; the id can be reused after it is gone.
    assert!(h.trade("106", "1", Buy).is_empty());
    assert_eq!(h.limit(1, Buy, "1", "90", Gtc), ["acc 1"]);
}

#[test]
fn instrument_and_request_rejections() {
    let mut h = H::l2();
    h.standard_book();
    let reject = |ev: Vec<String>| ev.join("|");
    let r = reject(h.limit(1, Buy, "1", "99.005", Gtc));
    assert!(
        r.starts_with("rej 1: instrument rules: BTCUSDT: price 99.005 is not a multiple of tick"),
        "{r}"
    );
    let r = reject(h.limit(2, Buy, "1.0005", "99.00", Gtc));
    assert!(r.contains("is not a multiple of lot"), "{r}");
    let r = reject(h.limit(3, Buy, "0.0001", "99.00", Gtc));
    assert!(r.contains("is not a multiple of lot"), "{r}");
    let r = reject(h.limit(4, Buy, "0.001", "99.00", Gtc));
    assert!(
        r.contains("notional 0.099 is below the minimum 1.00"),
        "{r}"
    );
    let r = reject(h.limit(5, Buy, "0", "99.00", Gtc));
    assert_eq!(r, "rej 5: quantity must be positive");
    // Market orders: lot and min notional against the best opposite price.
    let r = reject(h.market(6, Buy, "0.005"));
    assert!(r.contains("notional 0.50 is below the minimum 1.00"), "{r}");
    let r = reject(h.market(7, Sell, "0.0015"));
    assert!(r.contains("not a multiple of lot"), "{r}");
    let r = reject(h.send(
        8,
        Buy,
        "1",
        OrderKind::StopLimit {
            trigger: p("100.001"),
            price: p("100"),
        },
        Gtc,
        false,
    ));
    assert!(r.contains("price 100.001 is not a multiple of tick"), "{r}");
    // Duplicate live id.
    assert_eq!(h.limit(9, Buy, "1", "90", Gtc), ["acc 9"]);
    assert_eq!(
        h.limit(9, Buy, "1", "91", Gtc),
        ["rej 9: duplicate client order id"]
    );
    // Wrong instrument index for this engine.
    let req = OrderRequest {
        id: ClientOrderId(10),
        instrument: InstrumentIndex(7),
        side: Buy,
        quantity: q("1"),
        kind: OrderKind::Market,
        time_in_force: Gtc,
        post_only: false,
    };
    h.e.submit(1, &req, &mut h.fees, &mut h.out);
    let r = h.take().join("|");
    assert!(r.starts_with("rej 10: order for instrument 7"), "{r}");
    // Nothing was consumed by rejected orders.
    assert_eq!(h.e.book().best_ask().map(|l| l.size), Some(q("1")));
    assert_eq!(h.e.open_order_count(), 1);
}

#[test]
fn quotes_replace_the_book_and_cross_resting_orders() {
    let mut h = H::l2();
    h.limit(1, Buy, "1", "99.00", Gtc);
    let quote = |h: &mut H, bid: &str, ask: &str, ask_size: &str| {
        let qu = Quote {
            ts: h.ts,
            bid: p(bid),
            bid_size: q("1"),
            ask: p(ask),
            ask_size: q(ask_size),
        };
        h.e.on_quote(&qu, &mut h.fees, &mut h.out);
        h.take()
    };
    assert!(quote(&mut h, "98.90", "99.10", "1").is_empty());
    assert_eq!(
        quote(&mut h, "98.90", "98.95", "0.4"),
        ["fill 1 Buy 0.400@99.00 Maker"]
    );
    assert_eq!(h.e.book().ask_levels(), 0, "the crossing ask was consumed");
    assert_eq!(h.e.book().bid_levels(), 1);
}

#[test]
fn fees_are_charged_per_fill_by_tier_and_rounded_up() {
    let schedule = FeeSchedule::from_tiers(&[("0", "7.5", "20"), ("150", "5", "10")]).expect("ok");
    let mut h = H::with(EngineConfig::l2(), schedule);
    h.standard_book();
    let fees =
        |h: &mut H, id: u64, side: Side, qty: &str, kind: OrderKind| -> Vec<(String, String)> {
            let req = OrderRequest {
                id: ClientOrderId(id),
                instrument: IX,
                side,
                quantity: q(qty),
                kind,
                time_in_force: Gtc,
                post_only: false,
            };
            h.e.submit(h.ts, &req, &mut h.fees, &mut h.out);
            let r = h
                .out
                .iter()
                .filter_map(|e| match e {
                    OrderEvent::Filled(f) => Some((f.price.to_string(), f.fee.to_string())),
                    _ => None,
                })
                .collect();
            h.out.clear();
            r
        };
    // Volume 0: taker 20 bp. 100 × 20 bp = 0.2; 50.25 × 20 bp = 0.1005.
    assert_eq!(
        fees(&mut h, 1, Buy, "1.5", OrderKind::Market),
        [
            ("100.00".into(), "0.20".into()),
            ("100.50".into(), "0.1005".into())
        ]
    );
    assert_eq!(h.fees.volume_30d(), m("150.25"));
    // Volume 150.25: tier 1, taker 10 bp.
    assert_eq!(
        fees(&mut h, 2, Buy, "1", OrderKind::Market),
        [("100.50".into(), "0.1005".into())]
    );
    // Maker fill on a fresh account: 7.5 bp of 1.10011 = 0.0008250825 -> rounds up.
    let mut h = H::with(
        EngineConfig::l2(),
        FeeSchedule::from_tiers(&[("0", "7.5", "20")]).expect("ok"),
    );
    h.limit(1, Buy, "0.011", "100.01", Gtc);
    let t = Trade {
        ts: h.ts,
        price: p("100.00"),
        size: q("1"),
        aggressor: Sell,
    };
    h.e.on_trade(&t, &mut h.fees, &mut h.out);
    match h.out.as_slice() {
        [OrderEvent::Filled(f)] => {
            assert_eq!(f.liquidity, Liquidity::Maker);
            assert_eq!(f.fee, m("0.000825083"));
        }
        other => panic!("expected one fill, got {other:?}"),
    }
}

// ------------------------------------------------------------------ bar mode

#[test]
fn next_bar_open_market_fills_at_exactly_the_next_open() {
    let mut h = H::bars(BarFillModel::NextBarOpen, "0");
    assert!(h.bar("100", "101", "99", "100.50").is_empty());
    assert_eq!(h.market(1, Buy, "1"), ["acc 1"]);
    assert_eq!(
        h.e.order(ClientOrderId(1)).map(|o| o.state),
        Some(OpenOrderState::AwaitingBar)
    );
    assert_eq!(
        h.bar("100.37", "102", "100", "101"),
        ["fill 1 Buy 1.000@100.37 Taker"]
    );
    assert_eq!(h.market(2, Sell, "1"), ["acc 2"]);
    assert_eq!(
        h.bar("99.99", "100", "99", "99.5"),
        ["fill 2 Sell 1.000@99.99 Taker"]
    );
    // Fills carry the bar's timestamp.
    assert_eq!(h.e.open_order_count(), 0);
}

#[test]
fn slippage_goes_against_the_trader_and_rounds_to_the_tick_against_them() {
    let mut h = H::bars(BarFillModel::NextBarOpen, "10");
    h.bar("100", "101", "99", "100");
    h.market(1, Buy, "1");
    h.market(2, Sell, "1");
    // 100.37 × 1.001 = 100.47037 -> up to 100.48; × 0.999 = 100.26963 -> down to 100.26.
    assert_eq!(
        h.bar("100.37", "102", "100", "101"),
        [
            "fill 1 Buy 1.000@100.48 Taker",
            "fill 2 Sell 1.000@100.26 Taker"
        ]
    );
}

#[test]
fn same_bar_close_fills_at_the_signal_bars_close() {
    let mut h = H::bars(BarFillModel::SameBarClose, "25");
    assert_eq!(
        h.market(1, Buy, "1"),
        ["rej 1: no bar yet: same-bar-close fills need a bar to fill at"]
    );
    assert_eq!(
        h.send(
            9,
            Sell,
            "1",
            OrderKind::StopMarket {
                trigger: p("95.00")
            },
            Gtc,
            false
        ),
        ["acc 9"],
        "a stop can wait for its trigger before the first bar"
    );
    h.bar("100", "101", "99", "100.50");
    // 100.50 × 1.0025 = 100.75125 -> 100.76; × 0.9975 = 100.24875 -> 100.24.
    assert_eq!(
        h.market(2, Buy, "1"),
        ["acc 2", "fill 2 Buy 1.000@100.76 Taker"]
    );
    assert_eq!(
        h.market(3, Sell, "1"),
        ["acc 3", "fill 3 Sell 1.000@100.24 Taker"]
    );
    // Marketable limit: slipped close capped at the limit.
    assert_eq!(
        h.limit(4, Buy, "1", "100.60", Gtc),
        ["acc 4", "fill 4 Buy 1.000@100.60 Taker"]
    );
    // Not marketable: GTC rests, IOC cancels, post-only that would take is rejected.
    assert_eq!(h.limit(5, Buy, "1", "100.00", Gtc), ["acc 5"]);
    assert_eq!(
        h.limit(6, Buy, "1", "100.00", Ioc),
        ["acc 6", "cxl 6 1.000"]
    );
    assert_eq!(
        h.send(
            7,
            Sell,
            "1",
            OrderKind::Limit { price: p("100.50") },
            Gtc,
            true
        ),
        ["rej 7: post-only order would take liquidity"]
    );
    // A stop already reached by the close fires at once at the (slipped) close.
    assert_eq!(
        h.send(
            8,
            Sell,
            "1",
            OrderKind::StopMarket { trigger: p("101") },
            Gtc,
            false
        ),
        ["acc 8", "trig 8", "fill 8 Sell 1.000@100.24 Taker"]
    );
}

#[test]
fn resting_limits_fill_when_the_range_trades_through() {
    let mut h = H::bars(BarFillModel::NextBarOpen, "0");
    h.bar("100", "101", "99", "100");
    assert_eq!(h.limit(1, Buy, "1", "99.00", Gtc), ["acc 1"]);
    // Arrives at the open (not marketable: 100 > 99) and rests; a low exactly at the
    // limit is a touch, not a fill.
    assert!(h.bar("100", "101", "99.00", "100").is_empty());
    assert_eq!(
        h.e.order(ClientOrderId(1)).map(|o| o.state),
        Some(OpenOrderState::Resting)
    );
    assert_eq!(
        h.bar("99.50", "100", "98.99", "99"),
        ["fill 1 Buy 1.000@99.00 Maker"]
    );
    // Gap through a resting offer: fills at the better open, as taker.
    h.limit(2, Sell, "1", "101.00", Gtc);
    h.send(
        3,
        Sell,
        "1",
        OrderKind::Limit { price: p("101.00") },
        Gtc,
        true,
    );
    assert!(h.bar("100", "100.5", "99", "100").is_empty());
    assert_eq!(
        h.bar("101.50", "102", "101.20", "101.80"),
        [
            "fill 2 Sell 1.000@101.50 Taker",
            "fill 3 Sell 1.000@101.00 Maker"
        ]
    );
}

#[test]
fn gap_fill_with_slippage_is_capped_at_the_limit() {
    let mut h = H::bars(BarFillModel::NextBarOpen, "100"); // 1 %
    h.bar("100", "101", "99", "100");
    h.limit(1, Sell, "1", "101.00", Gtc);
    h.limit(2, Sell, "1", "101.40", Gtc);
    h.bar("100", "100.5", "99", "100");
    // Open 101.50: 101.50 × 0.99 = 100.485 -> 100.48, below both limits -> capped.
    assert_eq!(
        h.bar("101.50", "102", "101.20", "101.80"),
        [
            "fill 1 Sell 1.000@101.00 Taker",
            "fill 2 Sell 1.000@101.40 Taker"
        ]
    );
}

#[test]
fn next_bar_open_limit_arrivals() {
    let mut h = H::bars(BarFillModel::NextBarOpen, "0");
    h.bar("100", "101", "99", "100");
    h.limit(1, Buy, "1", "100.20", Ioc);
    h.limit(2, Buy, "1", "99.00", Ioc);
    h.send(
        3,
        Buy,
        "1",
        OrderKind::Limit { price: p("100.20") },
        Gtc,
        true,
    );
    h.limit(4, Buy, "1", "100.10", Fok);
    // Open 100.10: #1 fills at the open (taker), #2 cannot and is cancelled, #3 is
    // post-only and would take, #4 fills at the open (at its limit).
    assert_eq!(
        h.bar("100.10", "101", "99.5", "100"),
        [
            "fill 1 Buy 1.000@100.10 Taker",
            "cxl 2 1.000",
            "cxl 3 1.000",
            "fill 4 Buy 1.000@100.10 Taker"
        ]
    );
    // A cancelled pending order never arrives.
    h.market(5, Buy, "1");
    assert_eq!(h.cancel(5), Ok(vec!["cxl 5 1.000".to_owned()]));
    assert!(h.bar("100", "101", "99", "100").is_empty());
}

#[test]
fn bar_stops_trigger_on_range_and_fill_at_open_when_gapped() {
    let mut h = H::bars(BarFillModel::NextBarOpen, "0");
    h.bar("100", "101", "99", "100");
    h.send(
        1,
        Buy,
        "1",
        OrderKind::StopMarket {
            trigger: p("101.00"),
        },
        Gtc,
        false,
    );
    h.send(
        2,
        Sell,
        "1",
        OrderKind::StopMarket {
            trigger: p("99.00"),
        },
        Gtc,
        false,
    );
    // High reaches 101 exactly: buy stop fires at its trigger. The low 99.01 does not
    // reach the sell stop.
    assert_eq!(
        h.bar("100", "101.00", "99.01", "100.5"),
        ["trig 1", "fill 1 Buy 1.000@101.00 Taker"]
    );
    // Gap down through the sell stop: fills at the open.
    assert_eq!(
        h.bar("98.50", "99.5", "98", "99"),
        ["trig 2", "fill 2 Sell 1.000@98.50 Taker"]
    );
}

#[test]
fn bar_stop_market_slippage() {
    let mut h = H::bars(BarFillModel::NextBarOpen, "10");
    h.bar("100", "101", "99", "100");
    h.send(
        1,
        Buy,
        "1",
        OrderKind::StopMarket {
            trigger: p("101.00"),
        },
        Gtc,
        false,
    );
    // 101 × 1.001 = 101.101 -> 101.11.
    assert_eq!(
        h.bar("100", "102", "99", "101"),
        ["trig 1", "fill 1 Buy 1.000@101.11 Taker"]
    );
}

#[test]
fn bar_stop_limits() {
    let mut h = H::bars(BarFillModel::NextBarOpen, "0");
    h.bar("100", "101", "99", "100");
    // Buy stop-limit with its limit below the trigger: fires intrabar at 101, cannot
    // buy at 101 with a 100.80 limit, and we cannot know the low came after the
    // trigger, so it rests from the next bar.
    let kind = OrderKind::StopLimit {
        trigger: p("101.00"),
        price: p("100.80"),
    };
    h.send(1, Buy, "1", kind, Gtc, false);
    assert_eq!(h.bar("100.60", "101.50", "100.50", "101"), ["trig 1"]);
    assert_eq!(
        h.e.order(ClientOrderId(1)).map(|o| o.state),
        Some(OpenOrderState::Resting)
    );
    assert_eq!(
        h.bar("100.90", "101", "100.70", "100.9"),
        ["fill 1 Buy 1.000@100.80 Maker"]
    );
    // Sell stop-limit gapped through at the open: the rest of the bar is known to come
    // after the open, so its high trading through the limit fills it as maker.
    let kind = OrderKind::StopLimit {
        trigger: p("99.00"),
        price: p("99.20"),
    };
    h.send(2, Sell, "1", kind, Gtc, false);
    assert_eq!(
        h.bar("98.80", "99.50", "98.50", "99"),
        ["trig 2", "fill 2 Sell 1.000@99.20 Maker"]
    );
    // Marketable at the trigger: fills at the trigger, as taker.
    let kind = OrderKind::StopLimit {
        trigger: p("101.00"),
        price: p("101.05"),
    };
    h.send(3, Buy, "1", kind, Ioc, false);
    // IOC stop-limit that cannot fill when fired is cancelled.
    let kind = OrderKind::StopLimit {
        trigger: p("101.00"),
        price: p("100.00"),
    };
    h.send(4, Buy, "1", kind, Ioc, false);
    assert_eq!(
        h.bar("100.50", "101.20", "100", "101"),
        [
            "trig 3",
            "fill 3 Buy 1.000@101.00 Taker",
            "trig 4",
            "cxl 4 1.000"
        ]
    );
}

#[test]
fn slipped_price_rules() {
    let tick = p("0.01");
    let s = |price: &str, side, bps: &str| {
        slipped_price(p(price), side, Bps::parse(bps).expect("bps"), tick).to_string()
    };
    assert_eq!(s("100.37", Buy, "0"), "100.37");
    assert_eq!(s("100.37", Sell, "0"), "100.37");
    // Off-tick input rounds against the trader even without slippage.
    assert_eq!(s("100.371", Buy, "0"), "100.38");
    assert_eq!(s("100.379", Sell, "0"), "100.37");
    // Fractional bps, exact: 100 × 7.5 bp = 0.075 -> buy 100.075 -> 100.08; sell 99.925 -> 99.92.
    assert_eq!(s("100", Buy, "7.5"), "100.08");
    assert_eq!(s("100", Sell, "7.5"), "99.92");
    // Exact results stay put: 100 × 10 bp = 0.1.
    assert_eq!(s("100", Buy, "10"), "100.10");
    // Negative prices: a buy still pays more, a sell still receives less.
    assert_eq!(s("-10", Buy, "100"), "-9.90");
    assert_eq!(s("-10", Sell, "100"), "-10.10");
    // Saturates instead of overflowing.
    let huge = Price::from_raw(i64::MAX - 5, 9).expect("valid");
    let out = slipped_price(huge, Buy, Bps::from_whole(100).expect("bps"), tick);
    assert!(out.raw() > 0 && out.raw() % tick.raw() == 0);
}

// ------------------------------------------------------------------ exchange & determinism

#[test]
fn simulated_exchange_routes_by_instrument_and_shares_fee_volume() {
    let mut ex = SimulatedExchange::new(FeeSchedule::flat(
        Bps::ZERO,
        Bps::from_whole(10).expect("bps"),
    ));
    let a = ex.add_instrument(
        instrument(),
        EngineConfig::bars(BarFillModel::SameBarClose, Bps::ZERO),
    );
    let b = ex.add_instrument(
        instrument(),
        EngineConfig::bars(BarFillModel::SameBarClose, Bps::ZERO),
    );
    assert_eq!((a, b), (InstrumentIndex(0), InstrumentIndex(1)));
    let mut out = Vec::new();
    let bar = Bar::new(5, p("100"), p("100"), p("100"), p("100"), q("1")).expect("bar");
    ex.on_bar(a, &bar, &mut out);
    ex.on_bar(b, &bar, &mut out);
    for (id, ix) in [(1, a), (2, b)] {
        let req = OrderRequest {
            id: ClientOrderId(id),
            instrument: ix,
            side: Buy,
            quantity: q("1"),
            kind: OrderKind::Market,
            time_in_force: Gtc,
            post_only: false,
        };
        ex.submit(6, &req, &mut out);
    }
    assert_eq!(out.len(), 4);
    assert_eq!(ex.fees().volume_30d(), m("200"));
    let req = OrderRequest {
        id: ClientOrderId(3),
        instrument: InstrumentIndex(9),
        side: Buy,
        quantity: q("1"),
        kind: OrderKind::Market,
        time_in_force: Gtc,
        post_only: false,
    };
    ex.submit(7, &req, &mut out);
    assert!(matches!(out.last(), Some(OrderEvent::Rejected { .. })));
    assert_eq!(
        ex.cancel(
            7,
            &CancelRequest {
                id: ClientOrderId(1),
                instrument: InstrumentIndex(9)
            },
            &mut out
        ),
        Err(CancelError::UnknownInstrument {
            index: InstrumentIndex(9)
        })
    );
    assert_eq!(ex.engines().len(), 2);
    assert!(ex.book(a).is_some() && ex.engine(InstrumentIndex(2)).is_none());
}

/// Result of a pseudo-random session.
#[derive(Debug, PartialEq)]
struct Session {
    events: Vec<OrderEvent>,
    /// Submitted quantity (raw) by order id.
    submitted: Vec<u64>,
    open: Vec<OpenOrder>,
    volume: Money,
}

/// A deterministic pseudo-random session: book deltas, trades, cancels and orders of
/// every kind, time in force and post-only flag.
fn random_session(seed: u64) -> Session {
    let mut h = H::with(
        EngineConfig::l2(),
        FeeSchedule::from_tiers(&[("0", "2", "5"), ("10000", "1", "3")]).expect("ok"),
    );
    h.standard_book();
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut events = Vec::new();
    let mut submitted: Vec<u64> = Vec::new();
    for i in 0..5_000i64 {
        h.ts = i * 1_000_000;
        let r = next();
        let ticks = i64::try_from(r % 400).unwrap_or(0);
        let px = Price::from_raw(98_000_000_000 + ticks * 10_000_000, 2).expect("price");
        let size = Quantity::from_raw((r >> 12) % 3_000 * 1_000_000 + 1_000_000, 3).expect("qty");
        let side = if r & 1 == 0 { Buy } else { Sell };
        match (r >> 40) % 8 {
            0 | 1 => {
                let book_side = if ticks < 200 {
                    BookSide::Bid
                } else {
                    BookSide::Ask
                };
                let d = BookDelta {
                    ts: h.ts,
                    side: book_side,
                    price: px,
                    size,
                };
                h.e.on_book_delta(&d, &mut h.fees, &mut h.out);
            }
            2 => {
                let t = Trade {
                    ts: h.ts,
                    price: px,
                    size,
                    aggressor: side,
                };
                h.e.on_trade(&t, &mut h.fees, &mut h.out);
            }
            3 => {
                let id = ClientOrderId((r >> 20) % (submitted.len() as u64 + 1));
                let _ = h.e.cancel(h.ts, id, &mut h.out);
            }
            k => {
                let kind = match k {
                    4 => OrderKind::Market,
                    5 | 6 => OrderKind::Limit { price: px },
                    _ if r & 2 == 0 => OrderKind::StopMarket { trigger: px },
                    _ => OrderKind::StopLimit {
                        trigger: px,
                        price: px,
                    },
                };
                let tif = [Gtc, Ioc, Fok][usize::try_from((r >> 50) % 3).unwrap_or(0)];
                let req = OrderRequest {
                    id: ClientOrderId(submitted.len() as u64),
                    instrument: IX,
                    side,
                    quantity: size,
                    kind,
                    time_in_force: tif,
                    post_only: (r >> 60) % 4 == 0,
                };
                submitted.push(size.raw());
                h.e.submit(h.ts, &req, &mut h.fees, &mut h.out);
            }
        }
        events.append(&mut h.out);
    }
    Session {
        events,
        submitted,
        open: h.e.open_orders(),
        volume: h.fees.volume_30d(),
    }
}

#[test]
fn same_inputs_give_the_same_events() {
    let a = random_session(0x1234_5678_9ABC_DEF1);
    let b = random_session(0x1234_5678_9ABC_DEF1);
    assert_eq!(a, b);
    let count = |f: fn(&OrderEvent) -> bool| a.events.iter().filter(|e| f(e)).count();
    let fills = count(|e| matches!(e, OrderEvent::Filled(_)));
    let makers = count(|e| matches!(e, OrderEvent::Filled(f) if f.liquidity == Liquidity::Maker));
    let triggers = count(|e| matches!(e, OrderEvent::Triggered { .. }));
    let rejects = count(|e| matches!(e, OrderEvent::Rejected { .. }));
    assert!(
        fills > 200 && makers > 20 && triggers > 20 && rejects > 20,
        "session should exercise everything: {fills} fills, {makers} maker, {triggers} triggers, {rejects} rejects"
    );
    assert!(a.volume.raw() > 0);
}

#[test]
fn quantities_are_conserved_for_every_order() {
    // Every accepted order: filled + cancelled + still open == submitted. Rejected
    // orders never fill. No order ever overfills.
    let s = random_session(0xDEAD_BEEF_0BAD_F00D);
    let n = s.submitted.len();
    let mut filled = vec![0u64; n];
    let mut unfilled = vec![0u64; n];
    let mut accepted = vec![false; n];
    let mut rejected = vec![false; n];
    for e in &s.events {
        let i = usize::try_from(e.id().0).expect("small id");
        match e {
            OrderEvent::Accepted { .. } => accepted[i] = true,
            OrderEvent::Rejected { .. } => rejected[i] = true,
            OrderEvent::Filled(f) => filled[i] += f.quantity.raw(),
            OrderEvent::Canceled { unfilled: u, .. } => unfilled[i] += u.raw(),
            OrderEvent::Triggered { .. } => assert!(accepted[i]),
        }
    }
    for o in &s.open {
        let i = usize::try_from(o.id.0).expect("small id");
        assert_eq!(o.filled.raw(), filled[i], "order {i}");
        unfilled[i] += o.remaining.raw();
    }
    for i in 0..n {
        assert!(
            accepted[i] != rejected[i],
            "order {i}: exactly one of accepted/rejected"
        );
        if rejected[i] {
            assert_eq!((filled[i], unfilled[i]), (0, 0), "order {i}");
        } else {
            assert_eq!(filled[i] + unfilled[i], s.submitted[i], "order {i}");
        }
    }
}

#[test]
fn aggressive_orders_match_a_naive_reference_walk() {
    // Reference: each side a Vec of (price ticks, lots), best first; an order walks it,
    // consuming size. FOK checks the total within the limit first. Own orders never
    // rest here (IOC/FOK/market only), so the two must agree fill for fill.
    let mut x: u64 = 0x0DDB_A11C_AFE0_0001;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let tick = |t: i64| Price::from_raw(t * 10_000_000, 2).expect("price");
    let lots = |n: u64| Quantity::from_raw(n * 1_000_000, 3).expect("qty");
    for round in 0..50 {
        let mut h = H::l2();
        // Ten levels a side, 1-3 ticks apart, best first.
        let mut side_levels = |start: i64, dir: i64| -> Vec<(i64, u64)> {
            let mut t = start;
            (0..10)
                .map(|_| {
                    let level = (t, 1 + next() % 2_000);
                    t += dir * (1 + (next() % 3) as i64);
                    level
                })
                .collect()
        };
        let mut asks = side_levels(10_001, 1);
        let mut bids = side_levels(9_999, -1);
        let snap = BookSnapshot {
            ts: 0,
            bids: bids
                .iter()
                .map(|&(t, n)| BookLevel {
                    price: tick(t),
                    size: lots(n),
                })
                .collect(),
            asks: asks
                .iter()
                .map(|&(t, n)| BookLevel {
                    price: tick(t),
                    size: lots(n),
                })
                .collect(),
        };
        h.e.on_book_snapshot(&snap, &mut h.fees, &mut h.out)
            .expect("valid snapshot");
        for i in 0..40u64 {
            let r = next();
            let side = if r & 1 == 0 { Buy } else { Sell };
            let want = 1 + (r >> 8) % 3_000;
            let limit = match (r >> 30) % 3 {
                0 => None,
                _ => Some(match side {
                    Buy => 10_001 + ((r >> 32) % 20) as i64,
                    Sell => 9_999 - ((r >> 32) % 20) as i64,
                }),
            };
            let tif = if (r >> 40) % 2 == 0 { Ioc } else { Fok };
            let kind = match limit {
                None => OrderKind::Market,
                Some(t) => OrderKind::Limit { price: tick(t) },
            };
            let id = round * 100 + i;
            let req = OrderRequest {
                id: ClientOrderId(id),
                instrument: IX,
                side,
                quantity: lots(want),
                kind,
                time_in_force: tif,
                post_only: false,
            };
            h.e.submit(0, &req, &mut h.fees, &mut h.out);
            let rules_reject = h.out.iter().any(|e| {
                matches!(
                    e,
                    OrderEvent::Rejected {
                        reason: RejectReason::Instrument(_),
                        ..
                    }
                )
            });
            let got: Vec<(i64, u64)> = h
                .out
                .iter()
                .filter_map(|e| match e {
                    OrderEvent::Filled(f) => {
                        Some((f.price.raw() / 10_000_000, f.quantity.raw() / 1_000_000))
                    }
                    _ => None,
                })
                .collect();
            h.out.clear();
            // Reference walk.
            let levels = match side {
                Buy => &mut asks,
                Sell => &mut bids,
            };
            let ok = |t: i64| match (limit, side) {
                (None, _) => true,
                (Some(l), Buy) => t <= l,
                (Some(l), Sell) => t >= l,
            };
            // Minimum notional 1: priced at the limit, or the best opposite level.
            let reference = limit.or(levels.first().map(|l| l.0));
            let below_min = reference.is_some_and(|t| u128::from(want) * (t as u128) < 100_000);
            assert_eq!(rules_reject, below_min, "round {round} order {i}");
            if below_min {
                continue;
            }
            let available: u64 = levels.iter().take_while(|l| ok(l.0)).map(|l| l.1).sum();
            let mut expect = Vec::new();
            if tif == Ioc || available >= want {
                let mut left = want;
                while left > 0 && !levels.is_empty() && ok(levels[0].0) {
                    let take = left.min(levels[0].1);
                    expect.push((levels[0].0, take));
                    left -= take;
                    levels[0].1 -= take;
                    if levels[0].1 == 0 {
                        levels.remove(0);
                    }
                }
            }
            assert_eq!(got, expect, "round {round} order {i}");
        }
    }
}
