use super::*;
use crate::exchange::FeeSchedule;
use crate::risk::{RiskLimits, RiskLimitsText};
use crate::strategy::{Actions, Context, Strategy};

/// Plays back a script: at bar i, do `script[i]`.
struct Scripted {
    script: Vec<Vec<Action>>,
    bar: usize,
}

impl Strategy for Scripted {
    fn name(&self) -> &'static str {
        "Scripted"
    }
    fn on_bar(&mut self, _ctx: &Context<'_>, _bar: &Bar, out: &mut Actions) {
        if let Some(actions) = self.script.get(self.bar) {
            for a in actions {
                match a {
                    Action::EnterLong => out.enter_long(),
                    Action::ExitLong => out.exit_long(),
                    Action::Place(_, o) => {
                        out.place(*o);
                    }
                    Action::Cancel(id) => out.cancel(*id),
                    Action::CancelAll => out.cancel_all(),
                }
            }
        }
        self.bar += 1;
    }
}

fn px(s: &str) -> Price {
    Price::parse(s, 2).unwrap()
}

fn bar(i: i64, o: &str, h: &str, l: &str, c: &str) -> Bar {
    Bar::new(
        i * 86_400_000_000_000,
        px(o),
        px(h),
        px(l),
        px(c),
        Quantity::parse("1000", 0).unwrap(),
    )
    .unwrap()
}

fn settings(
    model: BarFillModel,
    fee_bps: &str,
    slippage: &str,
    risk: RiskLimitsText<'_>,
) -> Settings {
    Settings {
        instrument: Instrument::new(
            "GOOG",
            "GOOG",
            "USD",
            px("0.01"),
            Quantity::parse("1", 0).unwrap(),
            Quantity::parse("1", 0).unwrap(),
            Money::ZERO,
        )
        .unwrap(),
        capital: Money::parse("10000").unwrap(),
        fill_model: model,
        slippage: Bps::parse(slippage).unwrap(),
        fees: FeeSchedule::flat(Bps::parse(fee_bps).unwrap(), Bps::parse(fee_bps).unwrap()),
        sizing: Sizing::AllIn,
        risk: RiskLimits::parse(&risk).unwrap(),
    }
}

fn run(s: Settings, script: Vec<Vec<Action>>, bars: &[Bar]) -> Outcome {
    Backtest::new(s, Box::new(Scripted { script, bar: 0 }))
        .run(bars)
        .unwrap()
}

fn series() -> Vec<Bar> {
    vec![
        bar(0, "100", "101", "99", "100"),
        bar(1, "102", "103", "101", "102"),
        bar(2, "104", "106", "103", "105"),
        bar(3, "103", "104", "90", "91"),
        bar(4, "92", "95", "91", "94"),
    ]
}

#[test]
fn next_bar_open_sizes_and_fills_at_the_following_open() {
    let out = run(
        settings(
            BarFillModel::NextBarOpen,
            "20",
            "0",
            RiskLimitsText::default(),
        ),
        vec![vec![Action::EnterLong], vec![], vec![Action::ExitLong]],
        &series(),
    );
    assert_eq!(out.fills.len(), 2);
    let (buy, sell) = (out.fills[0], out.fills[1]);
    assert_eq!(
        (buy.side, buy.price, buy.ts),
        (Side::Buy, px("102"), series()[1].ts)
    );
    // int(10000 // (102 * 1.002)) = 97 shares, sized at the fill's open, not the signal's close.
    assert_eq!(buy.quantity.to_string(), "97");
    assert_eq!(
        (sell.side, sell.price, sell.ts),
        (Side::Sell, px("103"), series()[3].ts)
    );
    let trade = out.portfolio.closed_trades()[0];
    assert_eq!(
        (trade.entry_price, trade.exit_price),
        (px("102"), px("103"))
    );
    // 10000 - 97*102 - 19.788 (fee) + 97*103 - 19.982 (fee)
    assert_eq!(out.portfolio.equity(), Money::parse("10057.23").unwrap());
}

#[test]
fn same_bar_close_fills_at_the_signal_close_with_slippage_against_the_trader() {
    let out = run(
        settings(
            BarFillModel::SameBarClose,
            "0",
            "10",
            RiskLimitsText::default(),
        ),
        vec![vec![Action::EnterLong], vec![Action::ExitLong]],
        &series(),
    );
    let (buy, sell) = (out.fills[0], out.fills[1]);
    // 10 bp against the trader, rounded to the tick in the trader's disfavour.
    assert_eq!((buy.price, buy.ts), (px("100.10"), series()[0].ts));
    assert_eq!((sell.price, sell.ts), (px("101.89"), series()[1].ts));
}

#[test]
fn pre_trade_limits_refuse_orders_before_the_exchange() {
    let out = run(
        settings(
            BarFillModel::NextBarOpen,
            "0",
            "0",
            RiskLimitsText {
                max_order_notional: Some("5000"),
                ..Default::default()
            },
        ),
        vec![vec![Action::EnterLong]],
        &series(),
    );
    assert!(out.fills.is_empty());
    assert_eq!(out.counts.refused, 1);
    assert_eq!(out.counts.orders, 0);
    assert!(out.notes[0].contains("maxOrderNotional"), "{:?}", out.notes);
}

#[test]
fn drawdown_kill_switch_halts_cancels_and_stops_the_strategy() {
    let rest = PlannedOrder {
        side: Side::Buy,
        size: OrderSize::Base(Quantity::parse("1", 0).unwrap()),
        kind: OrderKind::Limit { price: px("50") },
        time_in_force: TimeInForce::Gtc,
        post_only: true,
    };
    let out = run(
        settings(
            BarFillModel::NextBarOpen,
            "0",
            "0",
            RiskLimitsText {
                max_drawdown_percent: Some("5"),
                ..Default::default()
            },
        ),
        vec![
            vec![Action::EnterLong],
            vec![Action::Place(ClientOrderId(0), rest)],
            vec![],
            vec![],
            vec![Action::ExitLong],
        ],
        &series(),
    );
    let halt = out.halt.expect("halted");
    assert_eq!(halt.reason, crate::risk::HaltReason::MaxDrawdown);
    assert_eq!(halt.ts, series()[3].ts);
    // The resting buy was cancelled and the scripted exit after the halt never went out.
    assert_eq!(out.fills.len(), 1);
    assert!(
        out.notes.iter().any(|n| n.starts_with("halted:")),
        "{:?}",
        out.notes
    );
    assert!(
        !out.portfolio.position(INSTRUMENT).unwrap().is_flat(),
        "the position is kept for a person to decide"
    );
}

#[test]
fn stop_loss_closes_the_position_at_the_next_open() {
    let out = run(
        settings(
            BarFillModel::NextBarOpen,
            "0",
            "0",
            RiskLimitsText {
                stop_loss_percent: Some("8"),
                ..Default::default()
            },
        ),
        vec![vec![Action::EnterLong]],
        &series(),
    );
    assert_eq!(out.counts.stop_losses, 1);
    let sell = out.fills[1];
    // Bought at 102; the close of 91 is a 10.8 % loss; the close fills at bar 4's open.
    assert_eq!(
        (sell.side, sell.price, sell.ts),
        (Side::Sell, px("92"), series()[4].ts)
    );
    assert!(out.portfolio.position(INSTRUMENT).unwrap().is_flat());
}

#[test]
fn an_unaffordable_entry_is_dropped_with_a_note() {
    let mut s = settings(
        BarFillModel::NextBarOpen,
        "0",
        "0",
        RiskLimitsText::default(),
    );
    s.capital = Money::parse("50").unwrap();
    let out = run(s, vec![vec![Action::EnterLong]], &series());
    assert!(out.fills.is_empty());
    assert_eq!(out.counts.dropped, 1);
}

#[test]
fn the_same_input_gives_the_same_outcome() {
    let script = || {
        vec![
            vec![Action::EnterLong],
            vec![],
            vec![Action::ExitLong],
            vec![Action::EnterLong],
        ]
    };
    let a = run(
        settings(
            BarFillModel::NextBarOpen,
            "10",
            "5",
            RiskLimitsText::default(),
        ),
        script(),
        &series(),
    );
    let b = run(
        settings(
            BarFillModel::NextBarOpen,
            "10",
            "5",
            RiskLimitsText::default(),
        ),
        script(),
        &series(),
    );
    assert_eq!(a.fills, b.fills);
    assert_eq!(a.portfolio.equity_curve(), b.portfolio.equity_curve());
    assert_eq!(a.portfolio.closed_trades(), b.portfolio.closed_trades());
}

/// A deterministic zig-zag long enough for SmaCross(3, 8) to cross several times.
fn waves(n: i64) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            // Period-17 triangle wave around 100, in cents.
            let phase = i % 17;
            let c = 10_000 + 60 * if phase < 9 { phase } else { 17 - phase } + (i % 5) * 7;
            let cents = |v: i64| Price::from_raw_unchecked(v * 10_000_000, 2);
            Bar::new(
                i * 60_000_000_000,
                cents(c - 20),
                cents(c + 40),
                cents(c - 50),
                cents(c),
                Quantity::parse("1000", 0).unwrap(),
            )
            .unwrap()
        })
        .collect()
}

/// Live and backtest run the same code: an engine on an [`Outbox`], whose commands a
/// harness sends to its own simulated exchange and whose answers it feeds back, ends in
/// exactly the state of the backtest on the same bars.
#[test]
fn outbox_engine_driven_like_a_live_worker_matches_the_backtest() {
    use crate::exchange::{EngineConfig, FeeAccount, MatchingEngine};
    use crate::strategy::sma_cross::{SmaCross, SmaCrossConfig};
    let bars = waves(400);
    let s = settings(
        BarFillModel::SameBarClose,
        "10",
        "0",
        RiskLimitsText {
            stop_loss_percent: Some("2"),
            ..Default::default()
        },
    );
    let strategy = || Box::new(SmaCross::new(SmaCrossConfig::new(3, 8).unwrap()));
    let backtest = Backtest::new(s.clone(), strategy()).run(&bars).unwrap();
    assert!(backtest.fills.len() >= 10, "too few trades to compare");

    // The "exchange" the live engine talks to.
    let mut exchange = MatchingEngine::new(
        INSTRUMENT,
        s.instrument.clone(),
        EngineConfig::bars(s.fill_model, s.slippage),
    );
    let mut fees = FeeAccount::new(s.fees.clone());
    let mut live = Engine::with_venue(s.clone(), strategy(), Outbox::default());
    let mut sent = 0;
    for bar in &bars {
        let mut events = Vec::new();
        exchange.on_bar(bar, &mut fees, &mut events);
        live.on_venue_events(bar.ts, events).unwrap();
        live.step(bar).unwrap();
        // Answers can make the strategy act again; send until quiet.
        loop {
            let commands = live.venue_mut().drain();
            if commands.is_empty() {
                break;
            }
            let mut events = Vec::new();
            for c in commands {
                match c {
                    VenueCommand::Submit { ts, request } => {
                        sent += 1;
                        exchange.submit(ts, &request, &mut fees, &mut events);
                    }
                    VenueCommand::Cancel { ts, id } => {
                        let _ = exchange.cancel(ts, id, &mut events);
                    }
                }
            }
            live.on_venue_events(bar.ts, events).unwrap();
        }
    }
    let live = live.finish();
    assert_eq!(sent, backtest.counts.orders);
    assert_eq!(live.fills, backtest.fills);
    assert_eq!(live.counts, backtest.counts);
    assert_eq!(live.portfolio.cash(), backtest.portfolio.cash());
    assert_eq!(live.portfolio.equity(), backtest.portfolio.equity());
    assert_eq!(
        live.portfolio.realized_pnl(),
        backtest.portfolio.realized_pnl()
    );
}

#[test]
fn activity_records_every_order_and_its_outcome_in_order() {
    use crate::strategy::sma_cross::{SmaCross, SmaCrossConfig};
    let bars = waves(400);
    let s = settings(
        BarFillModel::NextBarOpen,
        "10",
        "0",
        RiskLimitsText {
            max_drawdown_percent: Some("1"),
            ..Default::default()
        },
    );
    let mut engine = Backtest::new(
        s,
        Box::new(SmaCross::new(SmaCrossConfig::new(3, 8).unwrap())),
    );
    engine.record_activity(true);
    let mut log = Vec::new();
    for bar in &bars {
        engine.step(bar).unwrap();
        log.extend(engine.drain_activity());
    }
    let out = engine.finish();
    let submitted = log
        .iter()
        .filter(|a| matches!(a, Activity::Submitted { .. }))
        .count();
    let fills: Vec<Fill> = log
        .iter()
        .filter_map(|a| match a {
            Activity::Order(OrderEvent::Filled(f)) => Some(*f),
            _ => None,
        })
        .collect();
    assert_eq!(submitted, out.counts.orders);
    assert_eq!(fills, out.fills);
    // The 1% drawdown halt is recorded once, after the fills that caused it.
    let halts: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Activity::Halted { .. }))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(halts.len(), 1, "{log:?}");
    assert!(out.halt.is_some());
    // Every submission precedes its own venue events.
    for (i, a) in log.iter().enumerate() {
        if let Activity::Order(e) = a {
            assert!(
                log[..i].iter().any(
                    |b| matches!(b, Activity::Submitted { request, .. } if request.id == e.id())
                )
            );
        }
    }
}

/// On a live venue that takes the buy commission in the base asset, closing a position
/// leaves dust below one lot. The dust reads as flat, and the stop-loss still guards the
/// next position (it fires twice here, never on the unsellable dust).
#[test]
fn stop_loss_guards_every_position_despite_commission_dust() {
    use crate::exchange::FeeSchedule;
    let instrument = Instrument::new(
        "BTCUSDT",
        "BTC",
        "USDT",
        Price::parse("0.01", 2).unwrap(),
        Quantity::parse("0.001", 3).unwrap(),
        Quantity::parse("0.001", 3).unwrap(),
        Money::ZERO,
    )
    .unwrap();
    let s = Settings {
        instrument: instrument.clone(),
        capital: Money::parse("1000").unwrap(),
        fill_model: BarFillModel::SameBarClose,
        slippage: Bps::ZERO,
        fees: FeeSchedule::flat(Bps::ZERO, Bps::ZERO),
        sizing: Sizing::FixedQuantity(Quantity::parse("1.000", 3).unwrap()),
        risk: RiskLimits::parse(&RiskLimitsText {
            stop_loss_percent: Some("2"),
            ..Default::default()
        })
        .unwrap(),
    };
    // Enter on bar 0 and again on bar 3 (after the first stop-loss).
    let script = vec![
        vec![Action::EnterLong],
        vec![],
        vec![],
        vec![Action::EnterLong],
    ];
    let mut engine =
        Engine::with_venue(s, Box::new(Scripted { script, bar: 0 }), Outbox::default());
    let closes = ["100", "100", "95", "100", "100", "94", "94"];
    let dust = Quantity::parse("0.000000500", 9).unwrap();
    for (i, c) in closes.iter().enumerate() {
        let bar = bar(i as i64, c, c, c, c);
        engine.step(&bar).unwrap();
        for command in engine.venue_mut().drain() {
            let VenueCommand::Submit { ts, request } = command else {
                continue;
            };
            // The venue fills what the lot allows; a buy arrives net of a base commission.
            let lot = instrument.round_quantity(request.quantity);
            let filled = match request.side {
                Side::Buy => lot.checked_sub(dust).unwrap(),
                Side::Sell => lot,
            };
            let mut events = Vec::new();
            if !filled.is_zero() {
                events.push(OrderEvent::Filled(Fill {
                    id: request.id,
                    instrument: INSTRUMENT,
                    ts,
                    side: request.side,
                    price: bar.close,
                    quantity: filled,
                    fee: Money::ZERO,
                    liquidity: crate::orders::Liquidity::Taker,
                }));
            }
            let left = request.quantity.saturating_sub(filled);
            if !left.is_zero() {
                events.push(OrderEvent::Canceled {
                    id: request.id,
                    ts,
                    unfilled: left,
                });
            }
            engine.on_venue_events(ts, events).unwrap();
        }
    }
    let out = engine.finish();
    assert_eq!(out.counts.stop_losses, 2, "{:?}", out.notes);
    let left = out.portfolio.position(INSTRUMENT).unwrap().quantity();
    assert!(
        instrument.round_quantity(left).is_zero(),
        "only dust is left: {left}"
    );
}
