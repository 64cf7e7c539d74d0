//! A Binance trade as the engine's fill, with its commission valued in the quote
//! currency: taken from the base asset (a buy), the quote asset (a sell), or a third
//! asset (BNB, with "use BNB to pay fees"), valued at the venue's price of
//! `<asset><quote>`. A third-asset commission without a price is not invented as zero
//! silently: the fill's fee leaves it out and the session records a `FeeUnvalued` event.

use tradewind_core::data::{Side, UnixNanos};
use tradewind_core::engine::INSTRUMENT;
use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_core::orders::{ClientOrderId, Fill, Liquidity};
use tradewind_events::Body;

/// What a trade's commission is worth in the quote currency, as far as it is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Valuation {
    /// In the base or quote asset (or none): valued from the trade itself.
    Own,
    /// In a third asset, at this price of `<asset><quote>`.
    At(Price),
    /// In a third asset without a price: why.
    Unvalued(String),
}

/// Does a commission of `commission` in `asset` need a third asset's price?
pub fn needs_price(asset: &str, commission: Money, instrument: &Instrument) -> bool {
    !commission.is_zero()
        && !asset.is_empty()
        && asset != instrument.base()
        && asset != instrument.quote()
}

/// A trade's fields, as both the user stream's reports and `myTrades` give them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trade<'a> {
    /// The engine's order.
    pub id: ClientOrderId,
    /// Trade time.
    pub ts: UnixNanos,
    /// The account's side.
    pub side: Side,
    /// Price.
    pub price: Price,
    /// Base quantity.
    pub qty: Quantity,
    /// Commission, in `commission_asset`.
    pub commission: Money,
    /// The commission's asset.
    pub commission_asset: &'a str,
    /// Was the account the maker?
    pub maker: bool,
}

/// Turns one trade into the engine's fill. Binance takes the commission from the asset
/// received: on a buy in the base asset, so the position grows by `qty - commission` and
/// the fee is that commission's value at the fill price; on a sell in the quote asset;
/// in a third asset (BNB) the quantity is whole and the fee is the commission at
/// `valuation`'s price (zero when [`Valuation::Unvalued`]: the caller records that). A
/// negative commission (never sent by Binance) counts as none.
pub fn engine_fill(t: &Trade<'_>, valuation: &Valuation, instrument: &Instrument) -> Option<Fill> {
    let commission = if t.commission.is_negative() {
        Money::ZERO
    } else {
        t.commission
    };
    let (quantity, fee) = if t.commission_asset == instrument.base() && commission.raw() > 0 {
        let commission_raw = u64::try_from(commission.raw()).ok()?;
        let net = t.qty.raw().checked_sub(commission_raw)?;
        let net = Quantity::from_raw(net, 9).ok()?;
        let paid = Quantity::from_raw(commission_raw, 9).ok()?;
        (net, t.price.notional(paid))
    } else if t.commission_asset == instrument.quote() {
        (t.qty, commission)
    } else {
        let fee = match valuation {
            Valuation::At(price) if price.is_positive() => u64::try_from(commission.raw())
                .ok()
                .and_then(|raw| Quantity::from_raw(raw, 9).ok())
                .map_or(Money::ZERO, |paid| price.notional(paid)),
            _ => Money::ZERO,
        };
        (t.qty, fee)
    };
    (!quantity.is_zero()).then_some(Fill {
        id: t.id,
        instrument: INSTRUMENT,
        ts: t.ts,
        side: t.side,
        price: t.price,
        quantity,
        fee,
        liquidity: if t.maker {
            Liquidity::Maker
        } else {
            Liquidity::Taker
        },
    })
}

/// The `FeeUnvalued` event of a trade whose third-asset commission has no price.
pub fn unvalued(t: &Trade<'_>, trade_id: u64, why: &str) -> Body {
    Body::FeeUnvalued {
        order_id: t.id.0,
        trade_id,
        asset: t.commission_asset.to_owned(),
        commission: t.commission.to_string(),
        message: why.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instrument() -> Instrument {
        Instrument::new(
            "BTCUSDT",
            "BTC",
            "USDT",
            "0.01".parse().unwrap(),
            "0.00001".parse().unwrap(),
            "0.00001".parse().unwrap(),
            Money::parse("5").unwrap(),
        )
        .unwrap()
    }

    fn trade<'a>(side: Side, qty: &str, commission: &str, asset: &'a str) -> Trade<'a> {
        Trade {
            id: ClientOrderId(1),
            ts: 0,
            side,
            price: "87000.00".parse().unwrap(),
            qty: qty.parse().unwrap(),
            commission: Money::parse(commission).unwrap(),
            commission_asset: asset,
            maker: false,
        }
    }

    #[test]
    fn base_asset_commission_shrinks_the_position_and_is_valued_as_a_fee() {
        let i = instrument();
        let buy = engine_fill(
            &trade(Side::Buy, "0.00100", "0.000001", "BTC"),
            &Valuation::Own,
            &i,
        )
        .unwrap();
        assert_eq!(
            buy.quantity.raw(),
            Quantity::parse("0.000999", 6).unwrap().raw()
        );
        assert_eq!(buy.fee, Money::parse("0.087").unwrap());
        let sell = engine_fill(
            &Trade {
                maker: true,
                ..trade(Side::Sell, "0.00099", "0.086130", "USDT")
            },
            &Valuation::Own,
            &i,
        )
        .unwrap();
        assert_eq!(
            (sell.quantity, sell.fee, sell.liquidity),
            (
                "0.00099".parse().unwrap(),
                Money::parse("0.08613").unwrap(),
                Liquidity::Maker
            )
        );
    }

    #[test]
    fn a_bnb_commission_is_valued_at_its_price_or_left_out_and_marked() {
        let i = instrument();
        let t = trade(Side::Buy, "0.001", "0.000145", "BNB");
        assert!(needs_price(t.commission_asset, t.commission, &i));
        assert!(!needs_price("BTC", t.commission, &i));
        assert!(!needs_price("BNB", Money::ZERO, &i));
        let valued = engine_fill(&t, &Valuation::At("600.00".parse().unwrap()), &i).unwrap();
        // The whole quantity arrives; 0.000145 BNB at 600 is 0.087.
        assert_eq!(valued.quantity, "0.001".parse().unwrap());
        assert_eq!(valued.fee, Money::parse("0.087").unwrap());
        let unpriced = engine_fill(&t, &Valuation::Unvalued("no price".into()), &i).unwrap();
        assert_eq!(
            (unpriced.quantity, unpriced.fee),
            ("0.001".parse().unwrap(), Money::ZERO)
        );
        assert_eq!(
            unvalued(&t, 9, "no price"),
            Body::FeeUnvalued {
                order_id: 1,
                trade_id: 9,
                asset: "BNB".into(),
                commission: "0.000145".into(),
                message: "no price".into(),
            }
        );
        // A negative commission is no commission, never a rebate.
        let odd = engine_fill(
            &trade(Side::Sell, "0.001", "-1", "USDT"),
            &Valuation::Own,
            &i,
        )
        .unwrap();
        assert_eq!(odd.fee, Money::ZERO);
    }
}
