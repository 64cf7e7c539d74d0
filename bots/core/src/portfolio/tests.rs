use super::*;
use crate::orders::Liquidity;

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
const I1: InstrumentIndex = InstrumentIndex(1);

fn fill(
    instrument: InstrumentIndex,
    ts: i64,
    side: Side,
    price: &str,
    qty: &str,
    fee: &str,
) -> Fill {
    Fill {
        id: ClientOrderId(ts as u64),
        instrument,
        ts,
        side,
        price: p(price),
        quantity: q(qty),
        fee: m(fee),
        liquidity: Liquidity::Taker,
    }
}

/// The accounting identity every state must satisfy, exactly.
fn assert_identity(pf: &Portfolio) {
    let unrealized: Money = pf.positions().iter().map(Position::unrealized_pnl).sum();
    assert_eq!(pf.unrealized_pnl(), unrealized);
    assert_eq!(
        pf.equity(),
        pf.initial_cash() + pf.realized_pnl() - pf.fees_paid() + unrealized
    );
    assert_eq!(pf.equity(), pf.cash() + pf.position_value());
}

#[test]
fn buy_then_sell_round_trip_with_fees() {
    let mut pf = Portfolio::new(m("10000"), 1);
    assert!(
        pf.apply_fill(&fill(I0, 10, Side::Buy, "100.00", "10", "2"))
            .expect("ok")
            .is_none()
    );
    // Cash: 10000 - 1000 - 2.
    assert_eq!(pf.cash(), m("8998"));
    assert_eq!(pf.equity(), m("9998"));
    let pos = pf.position(I0).expect("tracked");
    assert_eq!(pos.side(), Some(PositionSide::Long));
    assert_eq!(pos.quantity(), q("10"));
    assert_eq!(pos.avg_entry_price(), Some(p("100")));
    assert_eq!(pos.opened_ts(), Some(10));
    assert_identity(&pf);

    pf.mark(I0, p("110.00"), 20).expect("mark");
    assert_eq!(pf.unrealized_pnl(), m("100"));
    assert_eq!(pf.equity(), m("10098"));
    assert_identity(&pf);

    let trade = pf
        .apply_fill(&fill(I0, 30, Side::Sell, "120.00", "10", "2.4"))
        .expect("ok")
        .expect("round trip closed");
    assert_eq!(pf.cash(), m("10195.6"));
    assert_eq!(pf.equity(), m("10195.6"));
    assert_eq!(pf.realized_pnl(), m("200"));
    assert_eq!(pf.fees_paid(), m("4.4"));
    assert_eq!(pf.unrealized_pnl(), Money::ZERO);
    assert!(pf.position(I0).expect("tracked").is_flat());
    assert_identity(&pf);

    assert_eq!(trade.side, PositionSide::Long);
    assert_eq!((trade.entry_ts, trade.exit_ts), (10, 30));
    assert_eq!(trade.entry_price.to_string(), "100.00");
    assert_eq!(trade.exit_price.to_string(), "120.00");
    assert_eq!(trade.quantity, q("10"));
    assert_eq!(trade.gross_pnl, m("200"));
    assert_eq!(trade.fees, m("4.4"));
    assert_eq!(trade.pnl, m("195.6"));
    assert!((trade.return_fraction - 0.1956).abs() < 1e-15);
    assert_eq!(trade.duration(), 20);
    assert!(trade.is_win());
    assert_eq!(pf.closed_trades(), &[trade]);
}

#[test]
fn average_cost_and_partial_close() {
    let mut pf = Portfolio::new(m("100000"), 1);
    pf.apply_fill(&fill(I0, 1, Side::Buy, "100", "1", "0"))
        .expect("ok");
    pf.apply_fill(&fill(I0, 2, Side::Buy, "110", "2", "0"))
        .expect("ok");
    let pos = pf.position(I0).expect("tracked");
    assert_eq!(pos.cost_basis(), m("320"));
    // 320 / 3 = 106.666666666(6…) -> half-even at 1e-9.
    assert_eq!(pos.avg_entry_price(), Some(p("106.666666667")));

    // Sell 1 of 3: removes a third of the cost (106.666666667 half-even), realizes the rest.
    pf.apply_fill(&fill(I0, 3, Side::Sell, "120", "1", "0"))
        .expect("ok");
    let pos = pf.position(I0).expect("tracked");
    assert_eq!(pos.quantity(), q("2"));
    assert_eq!(pos.cost_basis(), m("213.333333333"));
    assert_eq!(pf.realized_pnl(), m("13.333333333"));
    assert_identity(&pf);

    // Close the rest: the whole remaining cost goes, so the round trip realizes exactly
    // Σ sells − Σ buys = 120 + 2×130 − 320 = 60.
    let trade = pf
        .apply_fill(&fill(I0, 4, Side::Sell, "130", "2", "0"))
        .expect("ok")
        .expect("closed");
    assert_eq!(pf.realized_pnl(), m("60"));
    assert_eq!(trade.gross_pnl, m("60"));
    assert_eq!(trade.quantity, q("3"));
    assert_eq!(trade.entry_price, p("106.666666667"));
    // (120 + 260) / 3 = 126.666666666(6…).
    assert_eq!(trade.exit_price, p("126.666666667"));
    assert_eq!(trade.entry_ts, 1);
    assert_eq!(trade.exit_ts, 4);
    assert_eq!(pf.cash(), m("100060"));
    assert_identity(&pf);
}

#[test]
fn short_then_cover() {
    let mut pf = Portfolio::new(m("1000"), 1);
    pf.apply_fill(&fill(I0, 1, Side::Sell, "50", "4", "1"))
        .expect("ok");
    let pos = pf.position(I0).expect("tracked");
    assert_eq!(pos.side(), Some(PositionSide::Short));
    assert_eq!(pos.signed_quantity_raw(), -4_000_000_000);
    assert_eq!(pos.cost_basis(), m("-200"));
    assert_eq!(pos.avg_entry_price(), Some(p("50")));
    assert_eq!(pf.cash(), m("1199"));
    assert_eq!(pf.equity(), m("999"));
    pf.mark(I0, p("45"), 2).expect("mark");
    assert_eq!(pf.position(I0).expect("tracked").market_value(), m("-180"));
    assert_eq!(pf.unrealized_pnl(), m("20"));
    assert_eq!(pf.equity(), m("1019"));
    assert_identity(&pf);
    let trade = pf
        .apply_fill(&fill(I0, 3, Side::Buy, "40", "4", "1"))
        .expect("ok")
        .expect("closed");
    assert_eq!(trade.side, PositionSide::Short);
    assert_eq!(trade.gross_pnl, m("40"));
    assert_eq!(trade.pnl, m("38"));
    assert!((trade.return_fraction - 0.19).abs() < 1e-15);
    assert_eq!(pf.equity(), m("1038"));
    assert_identity(&pf);
}

#[test]
fn flip_closes_old_and_opens_rest_at_fill_price() {
    let mut pf = Portfolio::new(m("1000"), 1);
    pf.apply_fill(&fill(I0, 1, Side::Buy, "10", "2", "0.2"))
        .expect("ok");
    // Sell 5: closes 2 long, opens 3 short at 12. Fee 0.5 splits 2/5 : 3/5 = 0.2 : 0.3.
    let trade = pf
        .apply_fill(&fill(I0, 2, Side::Sell, "12", "5", "0.5"))
        .expect("ok")
        .expect("long closed");
    assert_eq!(trade.quantity, q("2"));
    assert_eq!(trade.gross_pnl, m("4"));
    assert_eq!(trade.fees, m("0.4"));
    assert_eq!(trade.exit_price, p("12"));
    let pos = pf.position(I0).expect("tracked");
    assert_eq!(pos.side(), Some(PositionSide::Short));
    assert_eq!(pos.quantity(), q("3"));
    assert_eq!(pos.cost_basis(), m("-36"));
    assert_eq!(pos.avg_entry_price(), Some(p("12")));
    assert_eq!(pos.opened_ts(), Some(2));
    assert_eq!(pos.round_trip_id(), 2);
    assert_eq!(pf.fees_paid(), m("0.7"));
    assert_identity(&pf);
    let short = pf
        .apply_fill(&fill(I0, 3, Side::Buy, "11", "3", "0"))
        .expect("ok")
        .expect("short closed");
    assert_eq!(short.entry_ts, 2);
    assert_eq!(short.entry_price, p("12"));
    assert_eq!(short.gross_pnl, m("3"));
    assert_eq!(short.fees, m("0.3"));
    assert_eq!(pf.closed_trades().len(), 2);
    // 1000 + 4 + 3 - 0.7
    assert_eq!(pf.equity(), m("1006.3"));
    assert_identity(&pf);
}

#[test]
fn errors_leave_the_portfolio_unchanged() {
    let mut pf = Portfolio::new(m("1000"), 1);
    let before = format!("{pf:?}");
    assert_eq!(
        pf.apply_fill(&fill(I1, 1, Side::Buy, "1", "1", "0")),
        Err(PortfolioError::UnknownInstrument { index: 1, count: 1 })
    );
    assert!(matches!(
        pf.apply_fill(&fill(I0, 1, Side::Buy, "1", "0", "0")),
        Err(PortfolioError::ZeroQuantity { .. })
    ));
    // Cash overflow: a (rebate) fee of i128::MIN raw.
    let mut huge = fill(I0, 1, Side::Buy, "1", "1", "0");
    huge.fee = Money::from_raw(i128::MIN);
    assert!(matches!(
        pf.apply_fill(&huge),
        Err(PortfolioError::Overflow { what: "cash" })
    ));
    // Position quantity beyond u64::MAX raw.
    let max_qty = Quantity::from_raw(u64::MAX, 9).expect("valid");
    let mut big = fill(I0, 1, Side::Buy, "0.000000001", "1", "0");
    big.quantity = max_qty;
    pf.apply_fill(&big).expect("fits exactly");
    let after_big = format!("{pf:?}");
    assert!(matches!(
        pf.apply_fill(&fill(I0, 2, Side::Buy, "0.000000001", "1", "0")),
        Err(PortfolioError::Overflow {
            what: "position quantity"
        })
    ));
    assert_eq!(format!("{pf:?}"), after_big);
    assert_ne!(before, after_big);
    assert!(matches!(
        pf.mark(I1, p("1"), 0),
        Err(PortfolioError::UnknownInstrument { .. })
    ));
    pf.mark(I0, p("1"), 5).expect("mark");
    assert_eq!(
        pf.mark(I0, p("1"), 4),
        Err(PortfolioError::TimeWentBackwards { ts: 4, last: 5 })
    );
    assert!(pf.record_equity(3).is_err());
}

#[test]
fn equity_curve_every_step_overwrites_same_timestamp() {
    let mut pf = Portfolio::new(m("100"), 2);
    pf.apply_fill(&fill(I0, 0, Side::Buy, "10", "1", "0"))
        .expect("ok");
    pf.apply_fill(&fill(I1, 0, Side::Buy, "20", "1", "0"))
        .expect("ok");
    pf.mark(I0, p("11"), 1).expect("mark");
    pf.mark(I1, p("22"), 1).expect("mark");
    pf.mark(I0, p("12"), 2).expect("mark");
    pf.mark(I1, p("21"), 2).expect("mark");
    let curve = pf.equity_curve();
    assert_eq!(
        curve,
        &[
            EquityPoint {
                ts: 1,
                equity: m("103")
            },
            EquityPoint {
                ts: 2,
                equity: m("103")
            },
        ]
    );
    assert_eq!(
        pf.exposure(),
        Exposure {
            steps: 2,
            steps_in_market: 2
        }
    );
    assert_eq!(pf.last_mark_ts(), Some(2));
}

#[test]
fn equity_curve_interval_keeps_last_point_per_bucket() {
    let day = NonZeroU64::new(10).expect("non-zero");
    let mut pf = Portfolio::new(m("100"), 1).with_sampling(CurveSampling::Interval(day));
    pf.reserve_curve(4);
    pf.apply_fill(&fill(I0, 0, Side::Buy, "10", "1", "0"))
        .expect("ok");
    for (ts, price) in [
        (0, "10"),
        (5, "11"),
        (9, "12"),
        (10, "13"),
        (19, "9"),
        (25, "10"),
    ] {
        pf.mark(I0, p(price), ts).expect("mark");
    }
    let got: Vec<(i64, Money)> = pf.equity_curve().iter().map(|e| (e.ts, e.equity)).collect();
    assert_eq!(got, vec![(9, m("102")), (19, m("99")), (25, m("100"))]);
    // A forced point is kept even though it falls in the same bucket as later marks.
    pf.record_equity(26).expect("point");
    pf.mark(I0, p("11"), 27).expect("mark");
    let got: Vec<i64> = pf.equity_curve().iter().map(|e| e.ts).collect();
    assert_eq!(got, vec![9, 19, 25, 26, 27]);
}

#[test]
fn sampling_off_records_only_forced_points() {
    let mut pf = Portfolio::new(m("100"), 1).with_sampling(CurveSampling::Off);
    pf.mark(I0, p("1"), 1).expect("mark");
    assert!(pf.equity_curve().is_empty());
    pf.record_equity(1).expect("point");
    pf.record_equity(1).expect("overwrite");
    assert_eq!(
        pf.equity_curve(),
        &[EquityPoint {
            ts: 1,
            equity: m("100")
        }]
    );
    // Marks may not go before a forced point.
    pf.record_equity(10).expect("point");
    assert_eq!(
        pf.mark(I0, p("1"), 9),
        Err(PortfolioError::TimeWentBackwards { ts: 9, last: 10 })
    );
    // Sampling every step, a mark at a forced point's time replaces it (no duplicate time)
    // and still counts as a step.
    let mut pf = Portfolio::new(m("100"), 1);
    pf.record_equity(0).expect("initial point");
    pf.mark(I0, p("1"), 0).expect("mark");
    pf.mark(I0, p("1"), 1).expect("mark");
    let times: Vec<i64> = pf.equity_curve().iter().map(|e| e.ts).collect();
    assert_eq!(times, vec![0, 1]);
    assert_eq!(pf.exposure().steps, 2);
}

#[test]
fn exposure_counts_the_bar_a_position_closes_in() {
    let mut pf = Portfolio::new(m("1000"), 1);
    pf.mark(I0, p("10"), 1).expect("mark"); // flat
    pf.apply_fill(&fill(I0, 2, Side::Buy, "10", "1", "0"))
        .expect("ok");
    pf.mark(I0, p("10"), 2).expect("mark"); // open
    pf.mark(I0, p("10"), 3).expect("mark"); // open
    pf.apply_fill(&fill(I0, 4, Side::Sell, "10", "1", "0"))
        .expect("ok");
    pf.mark(I0, p("10"), 4).expect("mark"); // closed during the bar: in the market
    pf.mark(I0, p("10"), 5).expect("mark"); // flat
    assert_eq!(
        pf.exposure(),
        Exposure {
            steps: 5,
            steps_in_market: 3
        }
    );
    assert_eq!(pf.exposure().fraction(), Some(0.6));
    assert_eq!(Exposure::default().fraction(), None);
}

#[test]
fn money_stays_exact_over_many_fills() {
    // 10,000 round trips at prices with 9 decimals: equity equals the exact sum.
    let mut pf = Portfolio::new(m("1000000"), 1);
    let mut expected = 1_000_000_000_000_000i128;
    for i in 0..10_000i64 {
        let buy = Price::from_raw(100_000_000_007 + i, 9).expect("valid");
        let sell = Price::from_raw(100_000_000_011 + 2 * i, 9).expect("valid");
        let qty = Quantity::from_raw(333_333_333, 9).expect("valid");
        let fee = Money::from_raw(1_234);
        let mut f = fill(I0, 2 * i, Side::Buy, "1", "1", "0");
        f.price = buy;
        f.quantity = qty;
        f.fee = fee;
        pf.apply_fill(&f).expect("buy");
        f.ts += 1;
        f.side = Side::Sell;
        f.price = sell;
        pf.apply_fill(&f).expect("sell");
        expected += -buy.notional(qty).raw() + sell.notional(qty).raw() - 2 * 1_234;
    }
    assert_eq!(pf.equity().raw(), expected);
    assert_eq!(pf.cash().raw(), expected);
    assert_eq!(pf.closed_trades().len(), 10_000);
    assert_identity(&pf);
}

#[test]
fn fast_mark_valuation_equals_price_notional() {
    // The mark path's own multiplication must agree with `Price::notional` bit for bit,
    // ties and extremes included.
    let edges: [i64; 12] = [
        0,
        1,
        499_999_999,
        500_000_000,
        999_999_999,
        1_000_000_000,
        1_500_000_000,
        2_500_000_000,
        123_456_789_012,
        i64::MAX,
        i64::MIN,
        -1_500_000_000,
    ];
    let qty_edges: [u64; 9] = [
        1,
        500_000_000,
        999_999_999,
        1_000_000_000,
        1_000_000_001,
        3_000_000_000,
        987_654_321_987,
        u64::MAX,
        u64::MAX - 1,
    ];
    let check = |price: i64, qty: u64| {
        let p = Price::from_raw(price, 9).expect("valid");
        let q = Quantity::from_raw(qty, 9).expect("valid");
        let want = p.notional(q).raw();
        let net = i128::from(qty);
        assert_eq!(signed_value(net, p), want, "{p} × {q}");
        assert_eq!(signed_value(-net, p), -want, "{p} × -{q}");
    };
    for &price in &edges {
        for &qty in &qty_edges {
            check(price, qty);
        }
    }
    // Deterministic pseudo-random values over all magnitudes (xorshift64*).
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for _ in 0..200_000 {
        let (a, b, c) = (next(), next(), next());
        // Random bit widths so small and large values are both common.
        let price = (a >> (c % 64)) as i64;
        let qty = b >> ((c >> 8) % 64);
        if qty > 0 {
            check(price, qty);
        }
    }
    assert_eq!(signed_value(0, p("5")), 0);
}
