use super::*;
use crate::strategy::Action;
use crate::strategy::testing::feed;

fn run(closes: &[&str], position: &str) -> Vec<(usize, Action)> {
    feed(
        &mut EmaCross::new(EmaCrossConfig::new(2, 3).unwrap()),
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
    let err = EmaCrossConfig::new(20, 20).unwrap_err();
    assert_eq!(err.field, "emaCross.fastPeriod");
    assert!(EmaCrossConfig::new(0, 5).is_err());
}
