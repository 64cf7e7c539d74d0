use super::*;
use crate::data::Side;
use crate::fixed::Money;
use crate::fixed::{Price, Quantity};
use crate::orders::{InstrumentIndex, Liquidity};
use crate::strategy::Action;
use crate::strategy::testing::{bar, ctx, instrument, price, qty};

fn config(
    lower: &str,
    upper: &str,
    levels: u32,
) -> Result<GridConfig, crate::strategy::config::ConfigError> {
    let exact = |s: &str| Price::parse(s, 9).unwrap();
    let params = GridParams::new(
        exact(lower),
        exact(upper),
        levels,
        Quantity::parse("0.001", 3).unwrap(),
    )?;
    GridConfig::new(&params, &instrument())
}

#[test]
fn levels_are_even_and_on_ticks() {
    let c = config("100", "101", 4).unwrap();
    let got: Vec<String> = c.levels.iter().map(ToString::to_string).collect();
    assert_eq!(got, ["100.00", "100.33", "100.67", "101.00"]);
}

#[test]
fn refuses_bad_grids_naming_the_field() {
    assert_eq!(
        config("101", "100", 4).unwrap_err().field,
        "grid.lowerPrice"
    );
    assert_eq!(config("100", "100.02", 5).unwrap_err().field, "grid.levels");
    assert_eq!(
        config("100.001", "101", 4).unwrap_err().field,
        "grid.lowerPrice"
    );
}

#[test]
fn starts_with_buys_below_price_then_ladders_fills() {
    let inst = instrument();
    let mut g = Grid::new(config("100", "104", 5).unwrap());
    let mut out = Actions::starting_at(1);
    g.on_bar(&ctx(&inst, "0", &[]), &bar(0, "102.5"), &mut out);
    let placed: Vec<Action> = out.drain().collect();
    let buys: Vec<String> = placed
        .iter()
        .map(|a| match a {
            Action::Place(_, o) => match o.kind {
                OrderKind::Limit { price } => format!("{:?} {price}", o.side),
                _ => panic!("{a:?}"),
            },
            _ => panic!("{a:?}"),
        })
        .collect();
    assert_eq!(buys, ["Buy 100.00", "Buy 101.00", "Buy 102.00"]);

    // A later bar does not re-seed the ladder.
    g.on_bar(&ctx(&inst, "0", &[]), &bar(1, "101"), &mut out);
    assert!(out.is_empty());

    // The buy at 102 fills: a sell of the same quantity goes to 103.
    let Action::Place(id, _) = placed[2] else {
        unreachable!()
    };
    let fill = Fill {
        id,
        instrument: InstrumentIndex(0),
        ts: 1,
        side: Side::Buy,
        price: price("102"),
        quantity: qty("0.001"),
        fee: Money::ZERO,
        liquidity: Liquidity::Maker,
    };
    g.on_fill(&ctx(&inst, "0.001", &[]), &fill, &mut out);
    let next: Vec<Action> = out.drain().collect();
    let [Action::Place(sell_id, o)] = next.as_slice() else {
        panic!("{next:?}")
    };
    assert_eq!(
        (o.side, o.kind),
        (
            Side::Sell,
            OrderKind::Limit {
                price: price("103")
            }
        )
    );

    // That sell fills: a buy goes back to 102.
    let fill = Fill {
        id: *sell_id,
        side: Side::Sell,
        price: price("103"),
        ..fill
    };
    g.on_fill(&ctx(&inst, "0", &[]), &fill, &mut out);
    let next: Vec<Action> = out.drain().collect();
    let [Action::Place(_, o)] = next.as_slice() else {
        panic!("{next:?}")
    };
    assert_eq!(
        (o.side, o.kind),
        (
            Side::Buy,
            OrderKind::Limit {
                price: price("102")
            }
        )
    );
}
