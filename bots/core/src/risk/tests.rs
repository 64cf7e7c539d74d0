use super::*;
use crate::data::Side;
use crate::fixed::Quantity;
use crate::instrument::Instrument;
use crate::orders::{
    ClientOrderId, Fill, InstrumentIndex, Liquidity, OrderKind, OrderRequest, TimeInForce,
};
use crate::portfolio::Portfolio;

fn m(s: &str) -> Money {
    s.parse().expect("valid money")
}

fn p(s: &str) -> Price {
    s.parse().expect("valid price")
}

fn q(s: &str) -> Quantity {
    s.parse().expect("valid quantity")
}

const I0: InstrumentIndex = InstrumentIndex(0);
const DAY: i64 = NANOS_PER_DAY;

fn instrument(min_notional: &str) -> Instrument {
    Instrument::new(
        "BTCUSDT",
        "BTC",
        "USDT",
        p("0.01"),
        q("0.001"),
        q("0.001"),
        m(min_notional),
    )
    .expect("valid instrument")
}

fn order(side: Side, qty: &str, kind: OrderKind) -> OrderRequest {
    OrderRequest {
        id: ClientOrderId(1),
        instrument: I0,
        side,
        quantity: q(qty),
        kind,
        time_in_force: TimeInForce::Gtc,
        post_only: false,
    }
}

fn limit(price: &str) -> OrderKind {
    OrderKind::Limit { price: p(price) }
}

fn fill(ts: i64, side: Side, price: &str, qty: &str) -> Fill {
    Fill {
        id: ClientOrderId(ts as u64),
        instrument: I0,
        ts,
        side,
        price: p(price),
        quantity: q(qty),
        fee: Money::ZERO,
        liquidity: Liquidity::Taker,
    }
}

fn limits(text: RiskLimitsText<'_>) -> RiskLimits {
    RiskLimits::parse(&text).expect("valid limits")
}

fn refusal(check: RiskCheck<OrderRequest>) -> RiskRefusal {
    *check.expect_err("should be refused").reason
}

#[test]
fn max_order_notional_uses_reference_price() {
    let inst = instrument("0");
    let pf = Portfolio::new(m("100000"), 1);
    let ctx = OrderContext {
        instrument: &inst,
        portfolio: &pf,
        last_price: p("100"),
    };
    let l = limits(RiskLimitsText {
        max_order_notional: Some("1000"),
        ..Default::default()
    });
    // Market at last price: 10 × 100 = 1000, exactly the limit -> approved.
    let ok = l
        .check_order(order(Side::Buy, "10", OrderKind::Market), &ctx)
        .expect("approved");
    assert_eq!(ok.item().quantity, q("10"));
    // Limit price 101: 1010 > 1000.
    let r = refusal(l.check_order(order(Side::Buy, "10", limit("101")), &ctx));
    assert_eq!(
        r,
        RiskRefusal::MaxOrderNotional {
            notional: m("1010"),
            limit: m("1000")
        }
    );
    assert_eq!(
        r.to_string(),
        "order notional 1010.00 exceeds maxOrderNotional 1000.00"
    );
    // Stop-market valued at its trigger.
    let stop = OrderKind::StopMarket { trigger: p("99") };
    assert!(l.check_order(order(Side::Sell, "10", stop), &ctx).is_ok());
    // No last price for a market order.
    let no_last = OrderContext {
        last_price: Price::ZERO,
        ..ctx
    };
    assert!(matches!(
        refusal(l.check_order(order(Side::Buy, "1", OrderKind::Market), &no_last)),
        RiskRefusal::NoLastPrice {
            check: "maxOrderNotional",
            ..
        }
    ));
    // The refused order is handed back intact.
    let refused = l
        .check_order(order(Side::Buy, "11", OrderKind::Market), &ctx)
        .expect_err("refused");
    assert_eq!(refused.item.quantity, q("11"));
    assert!(
        refused
            .to_string()
            .starts_with("refused: order notional 1100.00")
    );
}

#[test]
fn max_position_notional_counts_the_position_after_the_order() {
    let inst = instrument("0");
    let mut pf = Portfolio::new(m("100000"), 1);
    pf.apply_fill(&fill(1, Side::Buy, "100", "8"))
        .expect("fill");
    let ctx = OrderContext {
        instrument: &inst,
        portfolio: &pf,
        last_price: p("100"),
    };
    let l = limits(RiskLimitsText {
        max_position_notional: Some("1000"),
        ..Default::default()
    });
    assert!(
        l.check_order(order(Side::Buy, "2", OrderKind::Market), &ctx)
            .is_ok()
    );
    let r = refusal(l.check_order(order(Side::Buy, "3", OrderKind::Market), &ctx));
    assert_eq!(
        r.to_string(),
        "position notional after the order 1100.00 would exceed maxPositionNotional 1000.00"
    );
    // Reducing is always allowed, even at an absurd price.
    assert!(
        l.check_order(order(Side::Sell, "8", limit("1000000")), &ctx)
            .is_ok()
    );
    // Flipping to a short of 11 is an increase in |position|: 11 × 100.
    assert!(matches!(
        refusal(l.check_order(order(Side::Sell, "19", OrderKind::Market), &ctx)),
        RiskRefusal::MaxPositionNotional { .. }
    ));
    // A flip to a short within the limit passes.
    assert!(
        l.check_order(order(Side::Sell, "17", OrderKind::Market), &ctx)
            .is_ok()
    );
    // Unknown instrument.
    let mut other = order(Side::Buy, "1", OrderKind::Market);
    other.instrument = InstrumentIndex(3);
    assert_eq!(
        refusal(l.check_order(other, &ctx)),
        RiskRefusal::UnknownInstrument { index: 3 }
    );
}

#[test]
fn price_band_is_inclusive_and_exact() {
    let inst = instrument("0");
    let pf = Portfolio::new(m("100000"), 1);
    let ctx = OrderContext {
        instrument: &inst,
        portfolio: &pf,
        last_price: p("200"),
    };
    let l = limits(RiskLimitsText {
        price_band_percent: Some("2.5"),
        ..Default::default()
    });
    // 2.5 % of 200 = 5: 195 and 205 are on the edge and pass.
    assert!(
        l.check_order(order(Side::Buy, "1", limit("195")), &ctx)
            .is_ok()
    );
    assert!(
        l.check_order(order(Side::Sell, "1", limit("205")), &ctx)
            .is_ok()
    );
    let r = refusal(l.check_order(order(Side::Sell, "1", limit("205.01")), &ctx));
    assert_eq!(
        r.to_string(),
        "limit price 205.01 is 2.505% away from the last price 200, outside priceBandPercent 2.5%"
    );
    assert!(matches!(
        refusal(l.check_order(order(Side::Buy, "1", limit("194.99")), &ctx)),
        RiskRefusal::PriceBand { .. }
    ));
    // Stop-limit: its limit price is checked; market orders have none.
    let sl = OrderKind::StopLimit {
        trigger: p("200"),
        price: p("250"),
    };
    assert!(l.check_order(order(Side::Buy, "1", sl), &ctx).is_err());
    assert!(
        l.check_order(order(Side::Buy, "1", OrderKind::Market), &ctx)
            .is_ok()
    );
    let no_last = OrderContext {
        last_price: Price::ZERO,
        ..ctx
    };
    assert!(matches!(
        refusal(l.check_order(order(Side::Buy, "1", limit("1")), &no_last)),
        RiskRefusal::NoLastPrice {
            check: "priceBandPercent",
            ..
        }
    ));
}

#[test]
fn min_notional_applies_without_limits() {
    let inst = instrument("10");
    let pf = Portfolio::new(m("100000"), 1);
    let ctx = OrderContext {
        instrument: &inst,
        portfolio: &pf,
        last_price: p("100"),
    };
    let r =
        refusal(RiskLimits::NONE.check_order(order(Side::Buy, "0.099", OrderKind::Market), &ctx));
    assert_eq!(
        r.to_string(),
        "order notional 9.90 is below the instrument minimum notional 10.00"
    );
    assert!(
        RiskLimits::NONE
            .check_order(order(Side::Buy, "0.1", OrderKind::Market), &ctx)
            .is_ok()
    );
    assert!(check_min_notional(order(Side::Buy, "0.1", limit("100")), &ctx).is_ok());
}

#[test]
fn stop_loss_fires_once_per_round_trip() {
    let mut pf = Portfolio::new(m("10000"), 1);
    let mut risk = RiskManager::new(limits(RiskLimitsText {
        stop_loss_percent: Some("5"),
        ..Default::default()
    }));
    pf.apply_fill(&fill(1, Side::Buy, "100", "10"))
        .expect("fill");
    pf.mark(I0, p("95.01"), 2).expect("mark");
    assert!(risk.on_mark(&pf, I0, 2).is_empty());
    pf.mark(I0, p("95"), 3).expect("mark");
    let actions = risk.on_mark(&pf, I0, 3);
    let close = actions.close.expect("stop-loss fired");
    assert_eq!(close.side, Side::Sell);
    assert_eq!(close.quantity, q("10"));
    assert_eq!(close.loss, m("50"));
    assert_eq!(close.entry_value, m("1000"));
    assert_eq!(
        close.to_string(),
        "stop-loss: position in instrument 0 lost 50.00 of its entry value 1000.00 (stopLossPercent 5%); close 10 with a Sell"
    );
    assert!(actions.halt.is_none());
    // Not again for the same round trip...
    pf.mark(I0, p("90"), 4).expect("mark");
    assert!(risk.on_mark(&pf, I0, 4).is_empty());
    // ...unless re-armed.
    risk.rearm_stop_loss(I0);
    assert!(risk.on_mark(&pf, I0, 4).close.is_some());
    // A new round trip (a short) is watched afresh; a short loses when the price rises.
    pf.apply_fill(&fill(5, Side::Sell, "90", "20"))
        .expect("flip to short 10");
    pf.mark(I0, p("94.5"), 6).expect("mark");
    let close = risk.on_mark(&pf, I0, 6).close.expect("short stop");
    assert_eq!(close.side, Side::Buy);
    assert_eq!(close.loss, m("45"));
    assert!(!risk.is_halted());
}

#[test]
fn drawdown_kill_switch_halts_for_good() {
    let mut pf = Portfolio::new(m("1000"), 1);
    let mut risk = RiskManager::new(limits(RiskLimitsText {
        max_drawdown_percent: Some("20"),
        max_order_notional: Some("100000"),
        ..Default::default()
    }));
    pf.apply_fill(&fill(1, Side::Buy, "100", "10"))
        .expect("fill");
    pf.mark(I0, p("150"), 2).expect("mark"); // equity 1500: the peak
    assert!(risk.on_mark(&pf, I0, 2).is_empty());
    assert_eq!(risk.peak_equity(), Some(m("1500")));
    pf.mark(I0, p("120.01"), 3).expect("mark"); // 1200.1: 19.99 % down
    assert!(risk.on_mark(&pf, I0, 3).is_empty());
    pf.mark(I0, p("120"), 4).expect("mark"); // 1200: exactly 20 %
    let halt = risk.on_mark(&pf, I0, 4).halt.expect("halted");
    assert_eq!(halt.reason, HaltReason::MaxDrawdown);
    assert_eq!(halt.ts, 4);
    assert_eq!(
        halt.detail,
        "equity 1200.00 is 20% below its peak 1500.00, reaching maxDrawdownPercent 20%"
    );
    assert!(risk.is_halted());
    assert_eq!(risk.halt(), Some(&halt));
    // Stays halted: recovery changes nothing, no second halt is emitted.
    pf.mark(I0, p("200"), 5).expect("mark");
    assert!(risk.on_mark(&pf, I0, 5).is_empty());
    assert_eq!(risk.state(), &RiskState::Halted(halt.clone()));
    assert_eq!(risk.halt_manually(6, "operator"), None);
    // Every order is refused, naming the halt.
    let inst = instrument("0");
    let ctx = OrderContext {
        instrument: &inst,
        portfolio: &pf,
        last_price: p("200"),
    };
    let r = refusal(risk.check_order(order(Side::Sell, "1", OrderKind::Market), &ctx));
    assert_eq!(r, RiskRefusal::Halted(halt));
    assert!(
        r.to_string()
            .starts_with("trading is halted (max drawdown at 4: equity 1200.00")
    );
}

#[test]
fn daily_loss_limit_uses_the_utc_day_start_equity() {
    let mut pf = Portfolio::new(m("1000"), 1);
    let mut risk = RiskManager::new(limits(RiskLimitsText {
        daily_loss_limit: Some("50"),
        ..Default::default()
    }));
    pf.apply_fill(&fill(DAY - 10, Side::Buy, "100", "10"))
        .expect("fill");
    pf.mark(I0, p("104"), DAY - 5).expect("mark"); // day 0 starts at 1040 (first evaluation)
    assert!(risk.on_mark(&pf, I0, DAY - 5).is_empty());
    pf.mark(I0, p("99.1"), DAY - 1).expect("mark"); // 991: down 49 on day 0
    assert!(risk.on_mark(&pf, I0, DAY - 1).is_empty());
    // Day 1 starts from the last equity of day 0 (991), not from the first mark of day 1.
    pf.mark(I0, p("95"), DAY).expect("mark"); // 950: down 41 on day 1
    assert!(risk.on_mark(&pf, I0, DAY).is_empty());
    pf.mark(I0, p("94.1"), DAY + 1).expect("mark"); // 941: down exactly 50
    let halt = risk.on_mark(&pf, I0, DAY + 1).halt.expect("halt");
    assert_eq!(halt.reason, HaltReason::DailyLossLimit);
    assert_eq!(
        halt.detail,
        "equity 941.00 is 50.00 below the UTC day's start 991.00, reaching dailyLossLimit 50.00"
    );
}

#[test]
fn manual_halt_and_no_limits() {
    let mut pf = Portfolio::new(m("1000"), 1);
    let mut risk = RiskManager::new(RiskLimits::NONE);
    pf.apply_fill(&fill(1, Side::Buy, "100", "10"))
        .expect("fill");
    pf.mark(I0, p("1"), 2).expect("mark");
    assert!(risk.on_mark(&pf, I0, 2).is_empty());
    assert_eq!(risk.state(), &RiskState::Active);
    let halt = risk
        .halt_manually(3, "exchange disconnected")
        .expect("transition");
    assert_eq!(halt.reason, HaltReason::Manual);
    assert_eq!(halt.to_string(), "manual halt at 3: exchange disconnected");
    assert!(risk.is_halted());
    assert_eq!(risk.limits(), &RiskLimits::NONE);
}

#[test]
fn approved_exposes_its_item() {
    let approved = Approved::new(7);
    assert_eq!(*approved.item(), 7);
    assert_eq!(approved.into_item(), 7);
    let refused = Refused::new(1, RiskRefusal::UnknownInstrument { index: 1 });
    assert_eq!(refused.to_string(), "refused: unknown instrument 1");
}
