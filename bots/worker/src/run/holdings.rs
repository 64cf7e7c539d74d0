//! What a new live session does with the base asset the account already holds. Starting
//! flat from `spec.capital` while the account holds, say, 1 BTC would let the strategy
//! trade as if it owned nothing (or sell what it never bought), so by default a holding
//! beyond dust refuses the start; with `spec.live.adoptHoldings: AtMark` it becomes the
//! session's starting position at the mark, paid out of `spec.capital`.
//!
//! Dust is what the symbol's exchange filters would not let the bot trade: less than
//! one `LOT_SIZE.minQty` after rounding down to the step, or (with a mark) below
//! `MIN_NOTIONAL` at the mark. A session resumed from its journal keeps its journaled
//! state: this check is for new sessions only.

use tradewind_core::fixed::{Money, Price, Quantity};
use tradewind_core::instrument::Instrument;
use tradewind_crds::AdoptHoldings;

/// The decision about the account's holding of the base asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holdings {
    /// Nothing beyond dust: start flat.
    Flat,
    /// Start with this position, valued at `price`.
    Adopt {
        /// The base asset.
        asset: String,
        /// What the account holds (free plus locked).
        quantity: Quantity,
        /// The mark.
        price: Price,
    },
    /// Do not trade.
    Refuse(Refusal),
}

/// Why a new session will not trade on this account.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The base asset.
    pub asset: String,
    /// What the account holds (free plus locked), as a decimal.
    pub quantity: String,
    /// Its value at the mark, if there was a mark.
    pub value: Option<Money>,
    /// Why, in words (asset, quantity and what to do; never secrets).
    pub message: String,
}

/// A balance (free plus locked, as the venue reports them) as a quantity; `None` when
/// negative or beyond the core's range (an external number, checked before any
/// arithmetic).
pub fn held(free: Money, locked: Money) -> Option<Quantity> {
    if free.is_negative() || locked.is_negative() {
        return None;
    }
    let total = free.checked_add(locked)?;
    let raw = u64::try_from(total.raw()).ok()?;
    // At the fewest decimals that are exact (a balance of 1 BTC reads "1").
    (0..=9).find_map(|p| Quantity::from_raw(raw, p).ok())
}

/// Is `quantity` more than the filters let the bot trade (at `mark`, when known)?
pub fn beyond_dust(quantity: Quantity, mark: Option<Price>, instrument: &Instrument) -> bool {
    let tradeable = instrument.round_quantity(quantity);
    if tradeable.is_zero() || tradeable.raw() < instrument.min_quantity().raw() {
        return false;
    }
    mark.is_none_or(|p| p.notional(tradeable) >= instrument.min_notional())
}

/// Decides what a new session does with `quantity` of the base asset, under `policy`,
/// with the mark `mark` (if the venue gave one) and the bot's `capital`.
pub fn assess(
    quantity: Quantity,
    mark: Option<Price>,
    capital: Money,
    policy: AdoptHoldings,
    instrument: &Instrument,
) -> Holdings {
    if !beyond_dust(quantity, mark, instrument) {
        return Holdings::Flat;
    }
    let asset = instrument.base().to_owned();
    let quote = instrument.quote();
    let value = mark.map(|p| p.notional(quantity));
    let found = match (value, mark) {
        (Some(v), Some(p)) => format!("{quantity} {asset} (worth {v} {quote} at {p})"),
        _ => format!("{quantity} {asset}"),
    };
    let refuse = |why: String| {
        Holdings::Refuse(Refusal {
            asset: asset.clone(),
            quantity: quantity.to_string(),
            value,
            message: why,
        })
    };
    match (policy, mark, value) {
        (AdoptHoldings::Refuse, ..) => refuse(format!(
            "the account already holds {found}, more than dust (minimum {} {asset}); a new \
             session does not trade on it: move it away, or set spec.live.adoptHoldings: \
             AtMark to start with it as the position",
            instrument.min_quantity()
        )),
        (AdoptHoldings::AtMark, Some(price), Some(v)) if v <= capital => Holdings::Adopt {
            asset,
            quantity,
            price,
        },
        (AdoptHoldings::AtMark, Some(_), Some(_)) => refuse(format!(
            "the account already holds {found}, more than spec.capital ({capital} {quote}): \
             not adopted"
        )),
        (AdoptHoldings::AtMark, ..) => refuse(format!(
            "the account already holds {found} and the venue gave no price to adopt it at"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> Instrument {
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

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    fn mark() -> Option<Price> {
        Some("87000.00".parse().unwrap())
    }

    fn capital() -> Money {
        Money::parse("10000").unwrap()
    }

    #[test]
    fn dust_is_what_the_filters_would_not_let_trade() {
        let i = btc();
        // Below one lot.
        assert!(!beyond_dust(q("0.000009"), mark(), &i));
        // One lot, but below the minimum notional at the mark (0.87 < 5).
        assert!(!beyond_dust(q("0.00001"), mark(), &i));
        // Above both.
        assert!(beyond_dust(q("0.0001"), mark(), &i));
        // Without a mark only the lot is judged.
        assert!(beyond_dust(q("0.00001"), None, &i));
        assert_eq!(
            assess(q("0.000009"), mark(), capital(), AdoptHoldings::Refuse, &i),
            Holdings::Flat
        );
    }

    #[test]
    fn a_holding_is_refused_unless_adopted_within_the_capital() {
        let i = btc();
        let Holdings::Refuse(r) = assess(q("0.01"), mark(), capital(), AdoptHoldings::Refuse, &i)
        else {
            panic!("refused")
        };
        assert_eq!((r.asset.as_str(), r.quantity.as_str()), ("BTC", "0.01"));
        assert_eq!(r.value, Some(Money::parse("870").unwrap()));
        assert!(r.message.contains("0.01 BTC (worth 870"), "{}", r.message);
        assert!(
            r.message.contains("spec.live.adoptHoldings"),
            "{}",
            r.message
        );
        assert_eq!(
            assess(q("0.01"), mark(), capital(), AdoptHoldings::AtMark, &i),
            Holdings::Adopt {
                asset: "BTC".into(),
                quantity: q("0.01"),
                price: mark().unwrap()
            }
        );
        let Holdings::Refuse(big) = assess(q("1"), mark(), capital(), AdoptHoldings::AtMark, &i)
        else {
            panic!("worth more than the capital")
        };
        assert!(big.message.contains("spec.capital"), "{}", big.message);
        assert!(matches!(
            assess(q("1"), None, capital(), AdoptHoldings::AtMark, &i),
            Holdings::Refuse(_)
        ));
    }

    #[test]
    fn balances_are_checked_before_they_are_added() {
        let m = |s: &str| Money::parse(s).unwrap();
        assert_eq!(held(m("0.5"), m("0.25")), Some(q("0.75")));
        assert_eq!(held(m("1"), m("0")).unwrap().to_string(), "1");
        assert_eq!(held(m("-1"), m("0")), None);
        assert_eq!(held(m("99999999999"), m("0")), None);
    }
}
