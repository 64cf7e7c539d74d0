use super::*;
use crate::fixed::Money;
use crate::risk::Percent;
use crate::strategy::Action;
use crate::strategy::testing::{bar, ctx, instrument, price};

fn dca(every: u32, tp: Option<&str>) -> Dca {
    Dca::new(
        DcaConfig::new(
            u64::from(every),
            Money::parse("100").unwrap(),
            tp.map(|p| Percent::parse(p).unwrap()),
        )
        .unwrap(),
    )
}

#[test]
fn buys_the_notional_on_schedule() {
    let inst = instrument();
    let mut s = dca(3, None);
    let mut out = Actions::starting_at(1);
    let mut buys = Vec::new();
    for i in 0..7 {
        s.on_bar(&ctx(&inst, "0", &[]), &bar(i, "100"), &mut out);
        for a in out.drain() {
            let Action::Place(_, o) = a else {
                panic!("{a:?}")
            };
            assert_eq!(o.size, OrderSize::Quote(Money::parse("100").unwrap()));
            buys.push(i);
        }
    }
    assert_eq!(buys, [0, 3, 6]);
}

#[test]
fn takes_profit_exactly_at_the_threshold() {
    let inst = instrument();
    let mut s = dca(100, Some("10"));
    let mut out = Actions::starting_at(1);
    s.on_bar(&ctx(&inst, "0", &[]), &bar(0, "100"), &mut out);
    out.drain().for_each(drop);
    let mut c = ctx(&inst, "1", &[]);
    c.average_price = Some(price("100"));
    s.on_bar(&c, &bar(1, "109.99"), &mut out);
    assert!(out.is_empty());
    s.on_bar(&c, &bar(2, "110"), &mut out);
    assert_eq!(out.drain().collect::<Vec<_>>(), [Action::ExitLong]);
}

#[test]
fn config_errors_name_the_field() {
    let hundred = Money::parse("100").unwrap();
    assert_eq!(
        DcaConfig::new(0, hundred, None).unwrap_err().field,
        "dca.everyBars"
    );
    assert_eq!(
        DcaConfig::new(1, Money::ZERO, None).unwrap_err().field,
        "dca.notional"
    );
    assert_eq!(
        DcaConfig::new(1, hundred, Some(Percent::parse("100.5").unwrap()))
            .unwrap_err()
            .field,
        "dca.takeProfitPercent"
    );
}
