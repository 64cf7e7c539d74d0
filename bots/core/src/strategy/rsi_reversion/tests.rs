use super::*;
use crate::strategy::Action;
use crate::strategy::testing;

fn strategy() -> RsiReversion {
    RsiReversion::new(RsiReversionConfig::new(3, 30, 70).unwrap())
}

fn feed(s: &mut RsiReversion, closes: &[&str], position: &str) -> Vec<Action> {
    testing::feed(s, closes, position)
        .into_iter()
        .map(|(_, a)| a)
        .collect()
}

#[test]
fn buys_when_oversold_and_flat() {
    let actions = feed(&mut strategy(), &["100", "99", "98", "97", "96"], "0");
    assert!(!actions.is_empty());
    assert!(actions.iter().all(|a| *a == Action::EnterLong));
}

#[test]
fn sells_when_overbought_and_long() {
    let actions = feed(&mut strategy(), &["96", "97", "98", "99", "100"], "1");
    assert!(!actions.is_empty());
    assert!(actions.iter().all(|a| *a == Action::ExitLong));
}

#[test]
fn quiet_in_between_and_during_warmup() {
    assert!(
        feed(
            &mut strategy(),
            &["100", "101", "100", "101", "100", "101"],
            "0"
        )
        .is_empty()
    );
    assert!(feed(&mut strategy(), &["100", "90", "80"], "0").is_empty());
}

#[test]
fn config_errors_name_the_field() {
    let err = RsiReversionConfig::new(14, 70, 30).unwrap_err();
    assert_eq!(err.field, "rsiReversion.oversold");
    let err = RsiReversionConfig::new(1, 30, 70).unwrap_err();
    assert_eq!(err.field, "rsiReversion.period");
}
