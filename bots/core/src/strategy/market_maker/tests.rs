use super::*;
use crate::exchange::Bps;
use crate::fixed::Quantity;
use crate::orders::ClientOrderId;
use crate::strategy::testing::{bar, ctx, instrument, price, qty};
use crate::strategy::{Action, OpenOrder};

fn mm(refresh: u32) -> MarketMaker {
    MarketMaker::new(
        MarketMakerConfig::new(
            &MarketMakerParams::new(
                Bps::parse("10").unwrap(),
                qty("0.002"),
                qty("0.004"),
                u64::from(refresh),
            )
            .unwrap(),
            &instrument(),
        )
        .unwrap(),
    )
}

fn quotes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Place(_, o) => match (o.kind, o.size) {
                (OrderKind::Limit { price }, OrderSize::Base(q)) => {
                    Some(format!("{:?} {q} @ {price}", o.side))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn quotes_both_sides_spread_apart_when_holding_inventory() {
    let inst = instrument();
    let mut s = mm(1);
    let mut out = Actions::starting_at(1);
    s.on_bar(&ctx(&inst, "0.002", &[]), &bar(0, "10000"), &mut out);
    let got: Vec<Action> = out.drain().collect();
    // 10 bps total: 5 bps each side of 10000.
    assert_eq!(
        quotes(&got),
        ["Buy 0.00200 @ 9995.00", "Sell 0.00200 @ 10005.00"]
    );
    assert!(
        got.iter()
            .all(|a| matches!(a, Action::Place(_, o) if o.post_only))
    );
}

#[test]
fn no_ask_without_inventory_and_no_bid_at_the_cap() {
    let inst = instrument();
    let mut s = mm(1);
    let mut out = Actions::starting_at(1);
    s.on_bar(&ctx(&inst, "0", &[]), &bar(0, "10000"), &mut out);
    assert_eq!(
        quotes(&out.drain().collect::<Vec<_>>()),
        ["Buy 0.00200 @ 9995.00"]
    );
    s.on_bar(&ctx(&inst, "0.003", &[]), &bar(1, "10000"), &mut out);
    assert_eq!(
        quotes(&out.drain().collect::<Vec<_>>()),
        ["Sell 0.00200 @ 10005.00"]
    );
}

#[test]
fn requotes_every_refresh_and_cancels_first() {
    let inst = instrument();
    let mut s = mm(2);
    let mut out = Actions::starting_at(1);
    let open = [OpenOrder {
        id: ClientOrderId(1),
        side: Side::Buy,
        kind: OrderKind::Limit {
            price: price("9995"),
        },
        remaining: qty("0.002"),
    }];
    s.on_bar(&ctx(&inst, "0", &open), &bar(0, "10000"), &mut out);
    let first: Vec<Action> = out.drain().collect();
    assert_eq!(first[0], Action::CancelAll);
    s.on_bar(&ctx(&inst, "0", &open), &bar(1, "10010"), &mut out);
    assert!(out.is_empty());
    s.on_bar(&ctx(&inst, "0", &open), &bar(2, "10010"), &mut out);
    assert!(!out.is_empty());
}

#[test]
fn config_errors_name_the_field() {
    let ten = Bps::parse("10").unwrap();
    assert_eq!(
        MarketMakerParams::new(ten, qty("0.01"), qty("0.002"), 1)
            .unwrap_err()
            .field,
        "marketMaker.orderQuantity"
    );
    assert_eq!(
        MarketMakerParams::new(Bps::ZERO, qty("0.01"), qty("0.02"), 1)
            .unwrap_err()
            .field,
        "marketMaker.spreadBps"
    );
    // Below one lot of the instrument (0.00001).
    let p = MarketMakerParams::new(
        ten,
        Quantity::parse("0.000001", 6).unwrap(),
        qty("0.002"),
        1,
    )
    .unwrap();
    assert_eq!(
        MarketMakerConfig::new(&p, &instrument()).unwrap_err().field,
        "marketMaker.orderQuantity"
    );
}
