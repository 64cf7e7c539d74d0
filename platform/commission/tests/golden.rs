//! Golden cases from the published rules of the anchors, and the boundaries of every rule.

use tradewind_commission::*;
use tradewind_core::data::time::days_from_civil;

fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

fn day(y: i64, mo: u32, d: u32) -> UnixNanos {
    days_from_civil(y, mo, d) * DAY_NANOS
}

fn tier(min: &str, maker: &str, taker: &str) -> FeeTier {
    FeeTier {
        min_volume_30d: m(min),
        maker: Rate::from_bps(maker).unwrap(),
        taker: Rate::from_bps(taker).unwrap(),
    }
}

fn plan(period: PeriodKind, percent: Option<&str>, basis: Basis) -> Plan {
    Plan {
        currency: "USDT".into(),
        trading_fees: FeeSchedule::new(vec![tier("0", "10", "10"), tier("1000", "5", "6")])
            .unwrap(),
        performance_fee: percent.map(|p| PerformanceFee {
            rate: Rate::from_percent(p).unwrap(),
            basis,
        }),
        period,
        distribution: Distribution::new(vec![
            Share {
                role: Role::Platform,
                bps: 6000,
            },
            Share {
                role: Role::StrategyAuthor,
                bps: 2000,
            },
            Share {
                role: Role::Referral(1),
                bps: 1500,
            },
            Share {
                role: Role::Referral(2),
                bps: 500,
            },
        ])
        .unwrap(),
    }
}

fn bot(flows: Vec<CapitalFlow>, closing: &str) -> BotPeriod {
    BotPeriod {
        bot: "b".into(),
        currency: "USDT".into(),
        strategy_author: Some("author".into()),
        flows,
        closing: Equity::flat(m(closing)),
    }
}

fn deposit(id: &str, ts: UnixNanos, amount: &str, before: &str) -> CapitalFlow {
    CapitalFlow {
        id: id.into(),
        ts,
        amount: m(amount),
        before: Equity::flat(m(before)),
    }
}

fn period_input(period: Period, bots: Vec<BotPeriod>, fills: Vec<Fill>) -> AccountPeriod {
    AccountPeriod {
        account: "alice".into(),
        period,
        referrers: vec!["ref1".into()],
        bots,
        fills,
        late_fills: Vec::new(),
    }
}

const FAR_FUTURE: UnixNanos = i64::MAX;

fn booked(outcome: Outcome) -> (Settlement, AccountState) {
    match outcome {
        Outcome::Settled { settlement, state } => (settlement, state),
        Outcome::AlreadySettled => panic!("expected a settlement"),
    }
}

/// Binance copy trading's cumulative profit share, 10 %, settled weekly: weekly PnL
/// +200 → 20; −150 → 0; +100 → 0 (still below the mark); +150 → 10 (on the 50 above it).
#[test]
fn binance_cumulative_profit_share() {
    let plan = plan(PeriodKind::Weekly, Some("10"), Basis::Realized);
    // 2026-08-17 is a Monday.
    let mut period = Period::containing(PeriodKind::Weekly, day(2026, 8, 17));
    let mut state = AccountState::default();
    let mut fees = Vec::new();
    for (i, closing) in ["1200", "1050", "1150", "1300"].into_iter().enumerate() {
        let flows = if i == 0 {
            vec![deposit("start", period.start, "1000", "0")]
        } else {
            vec![]
        };
        let input = period_input(period, vec![bot(flows, closing)], vec![]);
        let (s, next) = booked(settle(&plan, &state, &input, FAR_FUTURE).unwrap());
        fees.push(s.performance_fees.to_string());
        state = next;
        period = period.next();
    }
    assert_eq!(fees, ["20.00", "0.00", "0.00", "10.00"]);
    assert_eq!(state.marks["b"].mark(), m("1300"));
}

/// Bybit Copy Trading Pro's top-up rule: new money re-weights the mark per unit,
/// HWM = (HWM × old units + new money) / (old units + new units), units issued at the
/// value per unit; a withdrawal leaves the mark per unit as it is.
#[test]
fn bybit_top_up_reweights_the_mark_and_a_withdrawal_leaves_it() {
    let fee = PerformanceFee {
        rate: Rate::from_percent("10").unwrap(),
        basis: Basis::Total,
    };
    let mut hwm = HighWaterMark::EMPTY;
    hwm.deposit(m("1000"), Money::ZERO).unwrap();
    assert_eq!((hwm.units(), hwm.per_unit()), (m("1000"), Some(m("1"))));
    // Up 20 %: the mark per unit becomes 1.2.
    assert_eq!(hwm.crystallise(m("1200"), Some(&fee)).unwrap(), m("20"));
    assert_eq!(hwm.per_unit(), Some(m("1.2")));
    // Down to 1.0 per unit (1000), then 1000 of new money: 1000 new units at 1.0.
    hwm.deposit(m("1000"), m("1000")).unwrap();
    assert_eq!(hwm.units(), m("2000"));
    // (1.2 × 1000 + 1000) / (1000 + 1000) = 1.1
    assert_eq!(hwm.per_unit(), Some(m("1.1")));
    assert_eq!(
        hwm.mark(),
        m("2200"),
        "the deposit is never profit: the mark rose by it"
    );
    // Withdraw a quarter at value 2000: the mark per unit stays 1.1, no fee (below it).
    assert_eq!(
        hwm.withdraw(m("500"), m("2000"), Some(&fee)).unwrap(),
        Money::ZERO
    );
    assert_eq!(hwm.per_unit(), Some(m("1.1")));
    assert_eq!((hwm.units(), hwm.mark()), (m("1500"), m("1650")));
    // Back to the mark exactly: no fee; one unit above: 10 % of it.
    assert_eq!(hwm.crystallise(m("1650"), Some(&fee)).unwrap(), Money::ZERO);
    assert_eq!(hwm.crystallise(m("1660"), Some(&fee)).unwrap(), m("1"));
}

#[test]
fn a_withdrawal_takes_its_share_of_the_profit_with_it() {
    let fee = PerformanceFee {
        rate: Rate::from_percent("20").unwrap(),
        basis: Basis::Total,
    };
    let mut hwm = HighWaterMark::EMPTY;
    hwm.deposit(m("1000"), Money::ZERO).unwrap();
    // At 1500 (500 above the mark) half is withdrawn: 20 % of the half of 500 is due now.
    assert_eq!(
        hwm.withdraw(m("750"), m("1500"), Some(&fee)).unwrap(),
        m("50")
    );
    assert_eq!(hwm.mark(), m("500"));
    // The half that stays is charged at the period's end: 20 % of 250.
    assert_eq!(hwm.crystallise(m("750"), Some(&fee)).unwrap(), m("50"));
    assert!(matches!(
        hwm.withdraw(m("800"), m("750"), Some(&fee)),
        Err(CommissionError::WithdrawalAboveValue { .. })
    ));
    assert!(matches!(
        hwm.deposit(Money::ZERO, m("750")),
        Err(CommissionError::NotPositive { .. })
    ));
}

#[test]
fn the_basis_switch_charges_open_profit_only_on_total() {
    let period = Period::containing(PeriodKind::Monthly, day(2026, 8, 3));
    let closing = Equity {
        total: m("1300"),
        unrealized: m("200"),
    };
    let fee_on = |basis| {
        let plan = plan(PeriodKind::Monthly, Some("10"), basis);
        let mut b = bot(vec![deposit("start", period.start, "1000", "0")], "0");
        b.closing = closing;
        let input = period_input(period, vec![b], vec![]);
        booked(settle(&plan, &AccountState::default(), &input, FAR_FUTURE).unwrap())
            .0
            .performance_fees
    };
    assert_eq!(fee_on(Basis::Realized), m("10"));
    assert_eq!(fee_on(Basis::Total), m("30"));
}

fn fill(id: &str, ts: UnixNanos, notional: &str, liquidity: Liquidity) -> Fill {
    Fill {
        id: id.into(),
        bot: "b".into(),
        ts,
        notional: m(notional),
        liquidity,
    }
}

/// The tier of a day is read at its 00:00 UTC from the 30 whole days before it.
#[test]
fn the_tier_is_read_at_midnight_from_the_thirty_days_before() {
    let plan = plan(PeriodKind::Daily, None, Basis::Realized);
    let d = day(2026, 9, 1);
    let period = Period::containing(PeriodKind::Daily, d);
    let fees = |history: Vec<Fill>| {
        let mut fills = history;
        fills.push(fill("maker", d + 5, "100", Liquidity::Maker));
        fills.push(fill("taker", d + 10, "100", Liquidity::Taker));
        trading_fees(&plan.trading_fees, &period, &fills)
            .unwrap()
            .into_iter()
            .map(|f| (f.fill, f.tier, f.fee.to_string()))
            .collect::<Vec<_>>()
    };
    let base = vec![
        ("maker".to_owned(), 0, "0.10".to_owned()),
        ("taker".to_owned(), 0, "0.10".to_owned()),
    ];
    let upper = vec![
        ("maker".to_owned(), 1, "0.05".to_owned()),
        ("taker".to_owned(), 1, "0.06".to_owned()),
    ];
    let window_start = d - 30 * DAY_NANOS;
    // Exactly the tier's minimum, at the first instant of the window: the upper tier.
    assert_eq!(
        fees(vec![fill("h", window_start, "1000", Liquidity::Taker)]),
        upper
    );
    // One unit short of the minimum: the base tier.
    assert_eq!(
        fees(vec![fill(
            "h",
            window_start,
            "999.999999999",
            Liquidity::Taker
        )]),
        base
    );
    // The last instant before midnight counts for the day.
    assert_eq!(
        fees(vec![fill("h", d - 1, "1000", Liquidity::Maker)]),
        upper
    );
    // A fill at midnight of the day itself does not move that day's tier.
    assert_eq!(
        fees(vec![fill("h", d, "5000", Liquidity::Taker)])[1..],
        [
            ("maker".to_owned(), 0, "0.10".to_owned()),
            ("taker".to_owned(), 0, "0.10".to_owned())
        ]
    );
    // Before the window: refused, not silently ignored.
    let early = vec![fill("h", window_start - 1, "1000", Liquidity::Taker)];
    assert!(matches!(
        trading_fees(&plan.trading_fees, &period, &early),
        Err(CommissionError::FillOutsideWindow { .. })
    ));
    let twice = vec![
        fill("x", d, "1", Liquidity::Taker),
        fill("x", d + 1, "1", Liquidity::Taker),
    ];
    assert!(matches!(
        trading_fees(&plan.trading_fees, &period, &twice),
        Err(CommissionError::DuplicateFill { .. })
    ));
    let negative = vec![fill("n", d, "-1", Liquidity::Taker)];
    assert!(matches!(
        trading_fees(&plan.trading_fees, &period, &negative),
        Err(CommissionError::NegativeAmount { .. })
    ));
}

#[test]
fn trading_fees_round_up_and_are_distributed_with_unclaimed_levels_marked() {
    let plan = plan(PeriodKind::Daily, None, Basis::Realized);
    let d = day(2026, 9, 1);
    let period = Period::containing(PeriodKind::Daily, d);
    // 10 bp of 0.000015 = 1.5e-8 exactly; of 0.0000015 = 1.5e-9 -> 2e-9 (up).
    let fills = vec![
        fill("a", d + 1, "0.0000015", Liquidity::Taker),
        fill("b", d + 2, "100", Liquidity::Maker),
    ];
    let input = period_input(period, vec![bot(vec![], "0")], fills);
    let (s, state) = booked(settle(&plan, &AccountState::default(), &input, period.end).unwrap());
    let amounts: Vec<String> = s.charges.iter().map(|c| c.amount.to_string()).collect();
    assert_eq!(amounts, ["0.000000002", "0.10"]);
    assert_eq!(s.charges[1].id, "trading/alice/b");
    let parts: Vec<(Role, Payee, bool, String)> = s.charges[1]
        .parts
        .iter()
        .map(|p| (p.role, p.payee.clone(), p.unclaimed, p.amount.to_string()))
        .collect();
    assert_eq!(
        parts,
        [
            (Role::Platform, Payee::Platform, false, "0.06".into()),
            (
                Role::StrategyAuthor,
                Payee::Account("author".into()),
                false,
                "0.02".into()
            ),
            (
                Role::Referral(1),
                Payee::Account("ref1".into()),
                false,
                "0.015".into()
            ),
            (Role::Referral(2), Payee::Platform, true, "0.005".into()),
        ]
    );
    assert_eq!(s.trading_fees, m("0.100000002"));
    assert_eq!(s.by_payee.values().copied().sum::<Money>(), s.trading_fees);
    assert_eq!(s.by_role.values().copied().sum::<Money>(), s.trading_fees);
    assert_eq!(state.settled_through, Some(period.end));
}

#[test]
fn settlement_is_idempotent_in_order_and_only_for_ended_periods() {
    let plan = plan(PeriodKind::Daily, Some("10"), Basis::Total);
    let d = day(2026, 9, 1);
    let period = Period::containing(PeriodKind::Daily, d);
    let input = period_input(
        period,
        vec![bot(vec![deposit("start", d, "1000", "0")], "1100")],
        vec![fill("f", d + 1, "100", Liquidity::Taker)],
    );
    let empty = AccountState::default();
    // Not ended: refused, even one nanosecond early.
    assert!(matches!(
        settle(&plan, &empty, &input, period.end - 1),
        Err(CommissionError::PeriodNotEnded { .. })
    ));
    let first = settle(&plan, &empty, &input, period.end).unwrap();
    assert_eq!(
        first,
        settle(&plan, &empty, &input, period.end).unwrap(),
        "deterministic"
    );
    let (s, state) = booked(first);
    assert_eq!((s.trading_fees, s.performance_fees), (m("0.1"), m("10")));
    assert_eq!(
        s.charges.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [
            "trading/alice/f",
            &format!("performance/alice/b/{}", period.end)
        ]
    );
    // Again, from the state it produced: nothing to do.
    assert_eq!(
        settle(&plan, &state, &input, FAR_FUTURE).unwrap(),
        Outcome::AlreadySettled
    );
    // Skipping a period is refused; a non-period interval too.
    let mut later = input.clone();
    later.period = period.next().next();
    later.fills.clear();
    assert!(matches!(
        settle(&plan, &state, &later, FAR_FUTURE),
        Err(CommissionError::PeriodSkipped { .. })
    ));
    let mut odd = input.clone();
    odd.period.end += 1;
    assert!(matches!(
        settle(&plan, &empty, &odd, FAR_FUTURE),
        Err(CommissionError::NotAPeriod { .. })
    ));
    // A bot in another currency, a fill of an unlisted bot.
    let mut euro = input.clone();
    euro.bots[0].currency = "EUR".into();
    assert_eq!(
        settle(&plan, &empty, &euro, FAR_FUTURE)
            .unwrap_err()
            .to_string(),
        "bot b trades in EUR, but the plan charges in USDT"
    );
    let mut stray = input.clone();
    stray.fills[0].bot = "other".into();
    assert!(matches!(
        settle(&plan, &empty, &stray, FAR_FUTURE),
        Err(CommissionError::UnknownBot { .. })
    ));
    // Before the period, a bot since gone still counts towards the volume tier.
    let mut gone = input.clone();
    gone.fills.push(Fill {
        bot: "gone".into(),
        ..fill("old", d - DAY_NANOS, "1000", Liquidity::Taker)
    });
    let (s, _) = booked(settle(&plan, &empty, &gone, FAR_FUTURE).unwrap());
    assert_eq!(s.trading_fees, m("0.06"), "the upper tier's taker rate");
}

#[test]
fn a_late_fill_is_charged_in_the_next_settlement_at_its_own_days_tier() {
    let plan = plan(PeriodKind::Monthly, None, Basis::Realized);
    let december = Period::containing(PeriodKind::Monthly, day(2026, 12, 1));
    // November is settled; a November fill arrives in December.
    let state = AccountState {
        settled_through: Some(december.start),
        marks: Default::default(),
    };
    let late = fill("late", day(2026, 11, 20), "100", Liquidity::Taker);
    // 1000 of volume on 25 October: in the 30 days before 20 November (tier 1, taker
    // 6 bps), not in those before 2 December (tier 0, 10 bps).
    let october = fill("oct", day(2026, 10, 25), "1000", Liquidity::Taker);
    let dec = fill("dec", day(2026, 12, 2), "100", Liquidity::Taker);
    let mut input = period_input(december, vec![bot(vec![], "0")], vec![october, dec]);
    input.late_fills = vec![late.clone()];
    let (s, next) = booked(settle(&plan, &state, &input, FAR_FUTURE).unwrap());
    let fees: Vec<(&str, Money, usize)> = s
        .charges
        .iter()
        .map(|c| match &c.kind {
            ChargeKind::TradingFee(f) => (c.id.as_str(), f.fee, f.tier),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        fees,
        vec![
            ("trading/alice/late", m("0.06"), 1),
            // The late fill counts towards December's tiers like any November fill.
            ("trading/alice/dec", m("0.1"), 0),
        ]
    );
    assert_eq!(s.trading_fees, m("0.16"));
    assert_eq!(next.settled_through, Some(december.end));

    // A "late" fill inside the period settling it is refused.
    let mut wrong = input.clone();
    wrong.late_fills = vec![fill("x", day(2026, 12, 3), "1", Liquidity::Maker)];
    assert!(matches!(
        settle(&plan, &state, &wrong, FAR_FUTURE),
        Err(CommissionError::LateFillNotBefore { .. })
    ));
    // A late fill also listed among the fills is a duplicate.
    let mut twice = input.clone();
    twice.fills.push(late);
    assert!(matches!(
        settle(&plan, &state, &twice, FAR_FUTURE),
        Err(CommissionError::DuplicateFill { .. })
    ));
}
