use super::*;
use crate::strategy::Action;
use crate::strategy::testing::feed;
use tradewind_crds::BollingerReversionParams;

fn run(closes: &[&str], position: &str) -> Vec<Action> {
    let cfg = BollingerReversionConfig::from_params(&BollingerReversionParams {
        period: 4,
        std_devs: "1.5".into(),
    })
    .unwrap();
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
fn config_parses_std_devs_exactly() {
    let c = BollingerReversionConfig::from_params(&BollingerReversionParams {
        period: 20,
        std_devs: "2.5".into(),
    })
    .unwrap();
    assert_eq!(c.std_devs, 2.5);
    let err = BollingerReversionConfig::from_params(&BollingerReversionParams {
        period: 20,
        std_devs: "two".into(),
    })
    .unwrap_err();
    assert_eq!(err.field, "spec.bollingerReversion.stdDevs");
}
