use super::*;
use crate::data::{Bar, Side};
use crate::engine::{Backtest, Settings, Sizing};
use crate::exchange::{BarFillModel, Bps, FeeSchedule};
use crate::fixed::{Money, Price, Quantity};
use crate::instrument::Instrument;
use crate::risk::{RiskLimits, RiskLimitsText};

const DAY: i64 = 86_400_000_000_000;

fn px(s: &str) -> Price {
    Price::parse(s, 2).unwrap()
}

fn q(s: &str) -> Quantity {
    Quantity::parse(s, 0).unwrap()
}

fn bar(i: i64, o: &str, c: &str) -> Bar {
    let (lo, hi) = if px(o) < px(c) { (o, c) } else { (c, o) };
    Bar::new(i * DAY, px(o), px(hi), px(lo), px(c), q("1000")).unwrap()
}

fn settings(model: BarFillModel, sizing: Sizing, risk: RiskLimitsText<'_>) -> Settings {
    Settings {
        instrument: Instrument::new(
            "GOOG",
            "GOOG",
            "USD",
            px("0.01"),
            q("1"),
            q("1"),
            Money::ZERO,
        )
        .unwrap(),
        capital: Money::parse("10000").unwrap(),
        fill_model: model,
        slippage: Bps::parse("0").unwrap(),
        fees: FeeSchedule::flat(Bps::parse("0").unwrap(), Bps::parse("0").unwrap()),
        sizing,
        risk: RiskLimits::parse(&risk).unwrap(),
    }
}

fn strategy(actions: &[SignalAction], max: Option<&str>) -> Box<SignalStrategy> {
    Box::new(SignalStrategy::new(
        SignalConfig::new(actions.to_vec(), max.map(q)).unwrap(),
    ))
}

fn signal(id: &str, ts: i64, action: SignalAction) -> Signal {
    Signal {
        id: id.into(),
        ts,
        action,
    }
}

#[test]
fn config_refuses_no_actions_duplicates_and_a_zero_maximum() {
    assert_eq!(
        SignalConfig::new(vec![], None).unwrap_err().field,
        "signal.actions"
    );
    let dup = SignalConfig::new(vec![SignalAction::Exit, SignalAction::Exit], None).unwrap_err();
    assert_eq!(dup.field, "signal.actions");
    assert!(dup.reason.contains("exit is listed twice"), "{dup}");
    assert_eq!(
        SignalConfig::new(vec![SignalAction::Enter], Some(q("0")))
            .unwrap_err()
            .field,
        "signal.maxPosition"
    );
}

#[test]
fn action_words_parse_with_tradingview_aliases() {
    assert_eq!("enter".parse(), Ok(SignalAction::Enter));
    assert_eq!("BUY".parse(), Ok(SignalAction::Enter));
    assert_eq!("sell".parse(), Ok(SignalAction::Exit));
    assert_eq!("Flatten".parse(), Ok(SignalAction::Flatten));
    assert!("short".parse::<SignalAction>().is_err());
}

#[test]
fn enter_is_sized_by_the_bots_sizing_and_exit_closes_at_the_last_price() {
    let mut engine = Backtest::new(
        settings(
            BarFillModel::SameBarClose,
            Sizing::FixedNotional(Money::parse("1000").unwrap()),
            RiskLimitsText::default(),
        ),
        strategy(&SignalAction::ALL, None),
    );
    engine.step(&bar(0, "100", "100")).unwrap();
    let out = engine
        .on_signal(&signal("a", DAY / 2, SignalAction::Enter))
        .unwrap();
    assert_eq!(out, SignalOutcome::Acted);
    // 1000 USD at 100 = 10 shares, at the last price.
    let fills: Vec<_> = engine.drain_fills().collect();
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].side, fills[0].quantity), (Side::Buy, q("10")));
    assert_eq!(fills[0].price, px("100"));

    engine.step(&bar(1, "100", "120")).unwrap();
    let out = engine
        .on_signal(&signal("b", DAY + DAY / 2, SignalAction::Exit))
        .unwrap();
    assert_eq!(out, SignalOutcome::Acted);
    let fills: Vec<_> = engine.drain_fills().collect();
    assert_eq!((fills[0].side, fills[0].quantity), (Side::Sell, q("10")));
    assert_eq!(fills[0].price, px("120"));
    assert_eq!(
        engine.portfolio().cash(),
        Money::parse("10200").unwrap(),
        "bought 10 at 100, sold at 120"
    );
    // A second exit has nothing to close.
    let again = engine
        .on_signal(&signal("c", 2 * DAY, SignalAction::Exit))
        .unwrap();
    assert_eq!(again, SignalOutcome::Skipped("no position to exit".into()));
}

#[test]
fn next_bar_open_waits_for_the_following_open_like_bar_decisions() {
    let mut engine = Backtest::new(
        settings(
            BarFillModel::NextBarOpen,
            Sizing::AllIn,
            RiskLimitsText::default(),
        ),
        strategy(&[SignalAction::Enter], None),
    );
    engine.step(&bar(0, "100", "100")).unwrap();
    engine
        .on_signal(&signal("a", DAY / 2, SignalAction::Enter))
        .unwrap();
    assert_eq!(engine.drain_fills().count(), 0);
    engine.step(&bar(1, "125", "130")).unwrap();
    let fills: Vec<_> = engine.drain_fills().collect();
    // All in at the next open: 10000 / 125 = 80.
    assert_eq!((fills[0].price, fills[0].quantity), (px("125"), q("80")));
}

#[test]
fn risk_limits_refuse_a_signal_entry_and_untaken_actions_are_skipped() {
    let mut engine = Backtest::new(
        settings(
            BarFillModel::SameBarClose,
            Sizing::AllIn,
            RiskLimitsText {
                max_order_notional: Some("500"),
                ..Default::default()
            },
        ),
        strategy(&[SignalAction::Enter], None),
    );
    engine.step(&bar(0, "100", "100")).unwrap();
    engine
        .on_signal(&signal("a", DAY / 2, SignalAction::Enter))
        .unwrap();
    assert_eq!(engine.counts().refused, 1);
    assert_eq!(engine.counts().orders, 0);
    let flat = engine
        .on_signal(&signal("b", DAY / 2, SignalAction::Flatten))
        .unwrap();
    assert_eq!(
        flat,
        SignalOutcome::Skipped("the strategy does not take flatten signals".into())
    );
    let notes = engine.finish().notes;
    assert!(
        notes.iter().any(|n| n.contains("maxOrderNotional")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n == "signal b flatten: skipped: the strategy does not take flatten signals"),
        "{notes:?}"
    );
}

#[test]
fn max_position_skips_entries_once_reached() {
    let mut engine = Backtest::new(
        settings(
            BarFillModel::SameBarClose,
            Sizing::FixedQuantity(q("5")),
            RiskLimitsText::default(),
        ),
        strategy(&[SignalAction::Enter], Some("10")),
    );
    engine.step(&bar(0, "100", "100")).unwrap();
    for id in ["a", "b"] {
        assert_eq!(
            engine
                .on_signal(&signal(id, DAY / 2, SignalAction::Enter))
                .unwrap(),
            SignalOutcome::Acted
        );
    }
    let third = engine
        .on_signal(&signal("c", DAY / 2, SignalAction::Enter))
        .unwrap();
    assert_eq!(
        third,
        SignalOutcome::Skipped("position 10 is at its maximum 10".into())
    );
    assert_eq!(engine.counts().fills, 2);
}

#[test]
fn flatten_cancels_working_orders_and_closes_the_position() {
    // A stop-loss-free bot holding a position; flatten sells it all.
    let mut engine = Backtest::new(
        settings(
            BarFillModel::SameBarClose,
            Sizing::FixedQuantity(q("3")),
            RiskLimitsText::default(),
        ),
        strategy(&[SignalAction::Enter, SignalAction::Flatten], None),
    );
    engine.step(&bar(0, "100", "100")).unwrap();
    engine
        .on_signal(&signal("a", 1, SignalAction::Enter))
        .unwrap();
    assert_eq!(
        engine
            .on_signal(&signal("b", 2, SignalAction::Flatten))
            .unwrap(),
        SignalOutcome::Acted
    );
    let fills: Vec<_> = engine.drain_fills().collect();
    assert_eq!(fills.len(), 2);
    assert_eq!((fills[1].side, fills[1].quantity), (Side::Sell, q("3")));
    assert!(engine.open_orders().is_empty());
    assert_eq!(
        engine
            .on_signal(&signal("c", 3, SignalAction::Flatten))
            .unwrap(),
        SignalOutcome::Skipped("already flat".into())
    );
}

#[test]
fn a_signal_while_halted_or_before_any_price_is_refused() {
    let mut engine = Backtest::new(
        settings(
            BarFillModel::SameBarClose,
            Sizing::AllIn,
            RiskLimitsText {
                max_drawdown_percent: Some("5"),
                ..Default::default()
            },
        ),
        strategy(&SignalAction::ALL, None),
    );
    assert_eq!(
        engine
            .on_signal(&signal("early", 0, SignalAction::Enter))
            .unwrap(),
        SignalOutcome::Skipped("no price yet (no bar before the signal)".into())
    );
    engine.step(&bar(0, "100", "100")).unwrap();
    engine
        .on_signal(&signal("a", 1, SignalAction::Enter))
        .unwrap();
    // A 20 % fall: the drawdown halt.
    engine.step(&bar(1, "100", "80")).unwrap();
    assert!(engine.halt().is_some());
    let out = engine
        .on_signal(&signal("b", DAY + 1, SignalAction::Exit))
        .unwrap();
    match out {
        SignalOutcome::Skipped(why) => assert!(why.starts_with("trading is halted"), "{why}"),
        other => panic!("acted while halted: {other:?}"),
    }
    assert_eq!(engine.counts().orders, 1, "only the entry went out");
}

#[test]
fn other_strategies_do_not_take_signals() {
    let mut s = crate::strategy::dca::Dca::new(
        crate::strategy::dca::DcaConfig::new(1, Money::parse("10").unwrap(), None).unwrap(),
    );
    let inst = crate::strategy::testing::instrument();
    let mut out = crate::strategy::Actions::starting_at(1);
    let got = crate::strategy::Strategy::on_signal(
        &mut s,
        &crate::strategy::testing::ctx(&inst, "0", &[]),
        &signal("x", 0, SignalAction::Enter),
        &mut out,
    );
    assert_eq!(
        got,
        SignalOutcome::Skipped("the Dca strategy does not take signals".into())
    );
    assert!(out.is_empty());
}
