use super::*;
use crate::strategy::Action;
use crate::strategy::testing::feed;

fn run(closes: &[&str], position: &str) -> Vec<Action> {
    let cfg = BollingerReversionConfig::new(4, 1.5).unwrap();
    feed(&mut BollingerReversion::new(cfg), closes, position)
        .into_iter()
        .map(|(_, a)| a)
        .collect()
}

#[test]
fn buys_a_close_below_the_lower_band() {
    assert_eq!(
        run(&["100", "101", "100", "101", "90"], "0"),
        vec![Action::EnterLong]
    );
}

#[test]
fn sells_a_close_above_the_upper_band() {
    assert_eq!(
        run(&["100", "101", "100", "101", "110"], "1"),
        vec![Action::ExitLong]
    );
}

#[test]
fn inside_the_bands_does_nothing() {
    assert!(run(&["100", "101", "100", "101", "100.5"], "0").is_empty());
    assert!(run(&["100", "101", "100", "101", "110"], "0").is_empty());
}

#[test]
fn config_errors_name_the_field() {
    assert_eq!(
        BollingerReversionConfig::new(20, 2.5).unwrap().std_devs,
        2.5
    );
    let err = BollingerReversionConfig::new(20, 0.0).unwrap_err();
    assert_eq!(err.field, "bollingerReversion.stdDevs");
    let err = BollingerReversionConfig::new(1, 2.0).unwrap_err();
    assert_eq!(err.field, "bollingerReversion.period");
}
