//! Properties over random plans, fills, equity paths and capital changes: distributions
//! sum to their charges exactly, no charge is negative, the high-water mark falls only by
//! a withdrawal, and settling twice changes nothing.

use proptest::prelude::*;
use tradewind_commission::*;

const DAY: i64 = DAY_NANOS;
/// 2026-08-03, a Monday: the first period of every path.
const START: i64 = 20_668 * DAY;

fn money(max_units: i64) -> impl Strategy<Value = Money> {
    (0..=max_units * 1_000_000_000).prop_map(|raw| Money::from_raw(i128::from(raw)))
}

fn rate() -> impl Strategy<Value = Rate> {
    // Whole and fractional basis points up to 100 %, zero included.
    (0u64..=10_000_000_000_000).prop_map(|raw| {
        let bps = Money::from_raw(i128::from(raw)).to_string();
        Rate::from_bps(&bps).unwrap()
    })
}

fn distribution() -> impl Strategy<Value = Distribution> {
    // Which roles take part (the platform always), then cut 10 000 bp among them.
    (
        any::<bool>(),
        0usize..=MAX_REFERRAL_LEVEL as usize,
        proptest::collection::vec(1u32..10_000, 6),
    )
        .prop_map(|(author, levels, cuts)| {
            let mut roles = vec![Role::Platform];
            if author {
                roles.push(Role::StrategyAuthor);
            }
            roles.extend((1..=levels as u8).map(Role::Referral));
            let mut points: Vec<u32> = cuts[..roles.len() - 1].to_vec();
            points.sort_unstable();
            points.dedup();
            let roles = &roles[..points.len() + 1];
            let mut bounds = vec![0];
            bounds.extend(points);
            bounds.push(10_000);
            let shares = roles
                .iter()
                .zip(bounds.windows(2))
                .map(|(&role, w)| Share {
                    role,
                    bps: w[1] - w[0],
                })
                .collect();
            Distribution::new(shares).unwrap()
        })
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        proptest::collection::vec((money(5_000), rate(), rate()), 1..4),
        proptest::option::of((rate(), any::<bool>())),
        prop_oneof![Just(PeriodKind::Daily), Just(PeriodKind::Weekly)],
        distribution(),
    )
        .prop_map(|(tiers, fee, period, distribution)| {
            let mut min = Money::ZERO;
            let tiers = tiers
                .into_iter()
                .enumerate()
                .map(|(i, (step, maker, taker))| {
                    if i > 0 {
                        min = min + step + Money::from_raw(1);
                    }
                    FeeTier {
                        min_volume_30d: min,
                        maker,
                        taker,
                    }
                })
                .collect();
            Plan {
                currency: "USDT".into(),
                trading_fees: FeeSchedule::new(tiers).unwrap(),
                performance_fee: fee.map(|(rate, total)| PerformanceFee {
                    rate,
                    basis: if total { Basis::Total } else { Basis::Realized },
                }),
                period,
                distribution,
            }
        })
}

fn recipients() -> impl Strategy<Value = Recipients> {
    (any::<bool>(), 0usize..=5).prop_map(|(author, n)| Recipients {
        strategy_author: author.then(|| "author".to_owned()),
        referrers: (1..=n).map(|i| format!("ref{i}")).collect(),
    })
}

/// One step of a bot's life in a period: a capital change, then where equity ends.
#[derive(Clone, Debug)]
enum Step {
    Deposit(Money),
    /// Withdraw this many ten-thousandths of the value.
    Withdraw(u32),
}

#[derive(Clone, Debug)]
struct PeriodPath {
    steps: Vec<(Step, Money)>,
    closing: Money,
    unrealized_bp: u32,
    fills: Vec<(i64, Money, bool)>,
}

fn period_path() -> impl Strategy<Value = PeriodPath> {
    (
        proptest::collection::vec(
            (
                prop_oneof![
                    money(2_000).prop_map(|m| Step::Deposit(m + Money::from_raw(1))),
                    (1u32..=10_000).prop_map(Step::Withdraw),
                ],
                money(3_000),
            ),
            0..4,
        ),
        money(3_000),
        0u32..=5_000,
        proptest::collection::vec((0..DAY, money(600), any::<bool>()), 0..6),
    )
        .prop_map(|(steps, closing, unrealized_bp, fills)| PeriodPath {
            steps,
            closing,
            unrealized_bp,
            fills,
        })
}

fn equity(total: Money, unrealized_bp: u32) -> Equity {
    Equity {
        total,
        unrealized: total
            .mul_ratio(
                i128::from(unrealized_bp),
                10_000,
                tradewind_core::fixed::RoundingMode::Down,
            )
            .unwrap(),
    }
}

/// The period's input for a bot that starts with 1000 of capital in the first period.
fn input(
    plan: &Plan,
    period: Period,
    first: bool,
    path: &PeriodPath,
    history: &[Fill],
) -> AccountPeriod {
    let basis = plan.performance_fee.map_or(Basis::Realized, |f| f.basis);
    let mut flows = Vec::new();
    if first {
        flows.push(CapitalFlow {
            id: "start".into(),
            ts: period.start,
            amount: Money::parse("1000").unwrap(),
            before: Equity::default(),
        });
    }
    for (i, (step, value)) in path.steps.iter().enumerate() {
        // One nanosecond apart, after the starting capital.
        let ts = period.start + 1 + i as i64;
        let before = equity(*value, path.unrealized_bp);
        let amount = match step {
            Step::Deposit(m) => *m,
            Step::Withdraw(bp) => {
                // At most the value on the plan's basis, never zero.
                let v = before.value(basis).unwrap();
                let w = v
                    .mul_ratio(
                        i128::from(*bp),
                        10_000,
                        tradewind_core::fixed::RoundingMode::Down,
                    )
                    .unwrap();
                if w.is_zero() {
                    continue;
                }
                -w
            }
        };
        flows.push(CapitalFlow {
            id: format!("{}-{i}", period.start),
            ts,
            amount,
            before,
        });
    }
    let mut fills: Vec<Fill> = history.to_vec();
    for (i, (at, notional, maker)) in path.fills.iter().enumerate() {
        let ts = period.start + at % (period.end - period.start);
        fills.push(Fill {
            id: format!("{}-{i}", period.start),
            bot: "b".into(),
            ts,
            notional: *notional,
            liquidity: if *maker {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            },
        });
    }
    AccountPeriod {
        account: "acct".into(),
        period,
        referrers: vec!["ref1".into(), "ref2".into()],
        bots: vec![BotPeriod {
            bot: "b".into(),
            currency: "USDT".into(),
            strategy_author: Some("author".into()),
            flows,
            closing: equity(path.closing, path.unrealized_bp),
        }],
        fills,
        late_fills: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parts_sum_to_the_charge_and_are_each_within_a_unit_of_exact(
        d in distribution(),
        raw in prop_oneof![0i128..1_000, 0i128..=i128::MAX],
        who in recipients(),
    ) {
        let charge = Money::from_raw(raw);
        let parts = distribute(&d, charge, &who).unwrap();
        prop_assert_eq!(parts.iter().map(|p| p.amount.raw()).sum::<i128>(), raw);
        for (p, s) in parts.iter().zip(d.shares()) {
            prop_assert!(!p.amount.is_negative());
            // floor(exact) or floor(exact) + 1, computed without overflow.
            let floor = raw / 10_000 * i128::from(s.bps) + raw % 10_000 * i128::from(s.bps) / 10_000;
            prop_assert!(p.amount.raw() == floor || p.amount.raw() == floor + 1);
            prop_assert_eq!(p.unclaimed, p.role != Role::Platform && p.payee == Payee::Platform);
        }
    }

    #[test]
    fn trading_fees_do_not_depend_on_the_order_fills_arrive_in(
        plan in plan(),
        fills in proptest::collection::vec((0..31 * DAY, money(2_000), any::<bool>(), 0u8..3), 0..40),
        seed in any::<u64>(),
    ) {
        let period = Period::containing(PeriodKind::Daily, START);
        let from = history_start(&period);
        let fills: Vec<Fill> = fills
            .into_iter()
            .enumerate()
            .map(|(i, (at, notional, maker, bot))| Fill {
                id: format!("f{i}"),
                bot: format!("b{bot}"),
                ts: from + at,
                notional,
                liquidity: if maker { Liquidity::Maker } else { Liquidity::Taker },
            })
            .collect();
        let fees = trading_fees(&plan.trading_fees, &period, &fills).unwrap();
        // A deterministic shuffle of the same fills.
        let mut shuffled = fills.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(&fees, &trading_fees(&plan.trading_fees, &period, &shuffled).unwrap());
        for f in &fees {
            prop_assert!(period.contains(f.ts) && !f.fee.is_negative());
            // The tier is the one of the volume of the 30 days before the fill's day.
            let day_start = f.ts.div_euclid(DAY) * DAY;
            let volume: Money = fills
                .iter()
                .filter(|g| (day_start - 30 * DAY..day_start).contains(&g.ts))
                .map(|g| g.notional)
                .sum();
            prop_assert_eq!(f.volume_30d, volume);
            prop_assert_eq!(f.tier, plan.trading_fees.tier_index(volume));
        }
    }

    #[test]
    fn a_distribution_does_not_depend_on_the_order_shares_are_listed_in(
        d in distribution(),
        raw in 0i128..1_000_000,
        who in recipients(),
    ) {
        let mut reversed: Vec<Share> = d.shares().to_vec();
        reversed.reverse();
        let again = Distribution::new(reversed).unwrap();
        let charge = Money::from_raw(raw);
        prop_assert_eq!(distribute(&d, charge, &who).unwrap(), distribute(&again, charge, &who).unwrap());
    }

    #[test]
    fn the_mark_falls_only_by_a_withdrawal_and_no_fee_is_negative(
        steps in proptest::collection::vec((0u8..3, money(5_000), 1u32..=10_000), 1..30),
        fee_rate in rate(),
    ) {
        let fee = PerformanceFee { rate: fee_rate, basis: Basis::Total };
        let mut hwm = HighWaterMark::EMPTY;
        for (op, amount, bp) in steps {
            let before = hwm.mark();
            match op {
                0 => {
                    let amount = amount + Money::from_raw(1);
                    // At a value from 0 to twice the deposit (0 restarts the units).
                    let value = amount.mul_ratio(i128::from(bp) - 1, 5_000, tradewind_core::fixed::RoundingMode::Down).unwrap();
                    hwm.deposit(amount, value).unwrap();
                    prop_assert_eq!(hwm.mark(), before + amount, "a deposit raises the mark by itself");
                }
                1 => {
                    let charged = hwm.crystallise(amount, Some(&fee)).unwrap();
                    prop_assert!(!charged.is_negative());
                    prop_assert!(hwm.mark() >= before);
                    prop_assert_eq!(hwm.mark(), before.max(amount));
                }
                _ => {
                    let value = amount + Money::from_raw(1);
                    let w = value.mul_ratio(i128::from(bp), 10_000, tradewind_core::fixed::RoundingMode::Up).unwrap();
                    let per_unit = hwm.per_unit();
                    let charged = hwm.withdraw(w, value, Some(&fee)).unwrap();
                    prop_assert!(!charged.is_negative());
                    prop_assert!(hwm.mark() <= before);
                    // The mark per unit stays, to the rounding of the mark (up, < 1e-9)
                    // and the units (half-even) divided by what units remain.
                    if let (Some(a), Some(b)) = (per_unit, hwm.per_unit()) {
                        let tolerance = (1_000_000_000 + a.raw() / 2) / hwm.units().raw() + 2;
                        prop_assert!((a.raw() - b.raw()).abs() <= tolerance, "{} vs {}", a, b);
                    }
                }
            }
        }
    }

    #[test]
    fn settling_a_path_books_exact_distributions_and_settling_twice_changes_nothing(
        plan in plan(),
        paths in proptest::collection::vec(period_path(), 1..5),
    ) {
        let mut period = Period::containing(plan.period, START);
        let mut state = AccountState::default();
        let mut history: Vec<Fill> = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let from = history_start(&period);
            history.retain(|f| f.ts >= from);
            let input = input(&plan, period, i == 0, path, &history);
            let outcome = settle(&plan, &state, &input, period.end).unwrap();
            prop_assert_eq!(&outcome, &settle(&plan, &state, &input, period.end).unwrap());
            let Outcome::Settled { settlement, state: next } = outcome else {
                panic!("a new period must settle");
            };
            let mut total = Money::ZERO;
            for c in &settlement.charges {
                prop_assert!(c.amount > Money::ZERO);
                prop_assert_eq!(c.parts.iter().map(|p| p.amount).sum::<Money>(), c.amount);
                prop_assert!(c.parts.iter().all(|p| !p.amount.is_negative()));
                total += c.amount;
            }
            prop_assert_eq!(total, settlement.trading_fees + settlement.performance_fees);
            prop_assert_eq!(settlement.by_payee.values().copied().sum::<Money>(), total);
            prop_assert_eq!(settlement.by_role.values().copied().sum::<Money>(), total);
            // Without a withdrawal in the period, the mark did not fall.
            let withdrew = input.bots[0].flows.iter().any(|f| f.amount.is_negative());
            let before = state.marks.get("b").map_or(Money::ZERO, HighWaterMark::mark);
            if !withdrew {
                prop_assert!(next.marks["b"].mark() >= before);
            }
            // Settling the same period again, from the state it produced, changes nothing.
            prop_assert_eq!(settle(&plan, &next, &input, i64::MAX).unwrap(), Outcome::AlreadySettled);
            history = input.fills;
            state = next;
            period = period.next();
        }
    }
}
