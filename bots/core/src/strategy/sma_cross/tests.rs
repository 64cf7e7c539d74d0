use super::*;
use crate::strategy::Action;
use crate::strategy::testing::feed;

fn run(closes: &[&str], position: &str) -> Vec<(usize, Action)> {
    feed(
        &mut SmaCross::new(SmaCrossConfig::new(2, 3).unwrap()),
        closes,
        position,
    )
}

#[test]
fn enters_on_upward_cross_when_flat() {
    let actions = run(&["10", "9", "8", "7", "12", "14"], "0");
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].1, Action::EnterLong);
}

#[test]
fn exits_on_downward_cross_when_long() {
    let actions = run(&["7", "8", "9", "10", "5", "4"], "1");
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].1, Action::ExitLong);
}

#[test]
fn no_signal_without_a_cross_or_during_warmup() {
    assert!(run(&["1", "2", "3", "4", "5", "6"], "0").is_empty());
    assert!(run(&["9", "1"], "0").is_empty());
}

#[test]
fn does_not_pyramid_or_exit_when_flat() {
    // Up-cross while already long, down-cross while flat: nothing to do.
    assert!(run(&["10", "9", "8", "7", "12", "14"], "1").is_empty());
    assert!(run(&["7", "8", "9", "10", "5", "4"], "0").is_empty());
}

#[test]
fn config_refuses_fast_not_below_slow() {
    let err = SmaCrossConfig::new(20, 20).unwrap_err();
    assert_eq!(err.field, "smaCross.fastPeriod");
    assert!(SmaCrossConfig::new(0, 5).is_err());
}

#[test]
fn an_exact_tie_is_not_a_cross() {
    // SMA2 == SMA3 exactly on the bar at 15 ((5+15)/2 == (10+5+15)/3): below, tie, above
    // is not a strict crossover, whatever floating point would have made of the tie.
    assert!(run(&["12", "10", "5", "15", "30"], "0").is_empty());
    // Below, then above: a cross.
    assert_eq!(run(&["12", "10", "5", "16", "30"], "0").len(), 1);
}
