//! Sharing one charge among its recipients, exact to the smallest unit (10⁻⁹).
//!
//! Largest remainder: each share first gets `⌊charge × bps / 10 000⌋` nano-units; the
//! nano-units left over (fewer than the number of shares) go one each to the shares with
//! the largest remainders of that division; equal remainders go in canonical order
//! (platform, strategy author, referral level 1, 2, …). The parts always sum to the charge.

use tradewind_core::fixed::Money;

use crate::CommissionError;
use crate::plan::{BPS_PER_WHOLE, Distribution, Role};

/// Who is paid a part.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Payee {
    /// The platform operator.
    Platform,
    /// An account (the strategy's author or a referrer).
    Account(String),
}

/// The people a charge can be shared with, besides the platform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Recipients {
    /// The account that wrote the strategy of the charged bot, if it is known.
    pub strategy_author: Option<String>,
    /// The charged account's referral chain, nearest first: `referrers[0]` is level 1.
    pub referrers: Vec<String>,
}

/// One recipient's part of a charge.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Part {
    /// The share it comes from.
    pub role: Role,
    /// That share, in basis points.
    pub share_bps: u32,
    /// Who is paid.
    pub payee: Payee,
    /// `true` when the share has nobody (no referrer at that level, no known author) and
    /// the platform takes it in their place; statements show it as such.
    pub unclaimed: bool,
    /// The amount.
    pub amount: Money,
}

/// Shares `charge` (not negative) by `distribution` among `recipients`; the parts are in
/// canonical order and sum to `charge` exactly.
pub fn distribute(
    distribution: &Distribution,
    charge: Money,
    recipients: &Recipients,
) -> Result<Vec<Part>, CommissionError> {
    if charge.is_negative() {
        return Err(CommissionError::NegativeAmount {
            what: "a charge",
            amount: charge,
        });
    }
    let whole = i128::from(BPS_PER_WHOLE);
    // charge = q·10 000 + r, so charge·bps/10 000 = q·bps + r·bps/10 000 without overflow.
    let (q, r) = (charge.raw() / whole, charge.raw() % whole);
    let mut floors = Vec::with_capacity(distribution.shares().len());
    let mut remainders = Vec::with_capacity(distribution.shares().len());
    for s in distribution.shares() {
        let bps = i128::from(s.bps);
        floors.push(q * bps + r * bps / whole);
        remainders.push(r * bps % whole);
    }
    let leftover = charge.raw() - floors.iter().sum::<i128>();
    // Largest remainder first; the sort is stable, so ties keep canonical order.
    let mut order: Vec<usize> = (0..floors.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(remainders[i]));
    for &i in order.iter().take(leftover as usize) {
        floors[i] += 1;
    }
    Ok(distribution
        .shares()
        .iter()
        .zip(floors)
        .map(|(s, amount)| {
            let who = match s.role {
                Role::Platform => None,
                Role::StrategyAuthor => Some(recipients.strategy_author.as_ref()),
                Role::Referral(level) => Some(recipients.referrers.get(usize::from(level) - 1)),
            };
            let (payee, unclaimed) = match who {
                None => (Payee::Platform, false),
                Some(Some(account)) => (Payee::Account(account.clone()), false),
                Some(None) => (Payee::Platform, true),
            };
            Part {
                role: s.role,
                share_bps: s.bps,
                payee,
                unclaimed,
                amount: Money::from_raw(amount),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Share;

    fn plan(shares: &[(Role, u32)]) -> Distribution {
        Distribution::new(
            shares
                .iter()
                .map(|&(role, bps)| Share { role, bps })
                .collect(),
        )
        .unwrap()
    }

    fn amounts(parts: &[Part]) -> Vec<i128> {
        parts.iter().map(|p| p.amount.raw()).collect()
    }

    #[test]
    fn leftover_units_go_to_the_largest_remainders() {
        // 10 nano-units by 60/20/15/5 %: exact 6, 2, 1.5, 0.5 -> floors 6, 2, 1, 0 and one
        // unit left; remainders 1.5 and 0.5 tie at .5, so level 1 (earlier) gets it.
        let d = plan(&[
            (Role::Platform, 6000),
            (Role::StrategyAuthor, 2000),
            (Role::Referral(1), 1500),
            (Role::Referral(2), 500),
        ]);
        let who = Recipients {
            strategy_author: Some("author".into()),
            referrers: vec!["ref1".into(), "ref2".into()],
        };
        let parts = distribute(&d, Money::from_raw(10), &who).unwrap();
        assert_eq!(amounts(&parts), [6, 2, 2, 0]);
        // 7 units by thirds-ish 3334/3333/3333: 2.3338, 2.3331, 2.3331 -> 2, 2, 2 and one
        // left for the largest remainder (platform).
        let d3 = plan(&[
            (Role::Platform, 3334),
            (Role::StrategyAuthor, 3333),
            (Role::Referral(1), 3333),
        ]);
        assert_eq!(
            amounts(&distribute(&d3, Money::from_raw(7), &who).unwrap()),
            [3, 2, 2]
        );
        // 8 units: 2.6672, 2.6664, 2.6664 -> 2, 2, 2, two left: platform, then the tie
        // between the author and level 1 goes to the author (canonical order).
        assert_eq!(
            amounts(&distribute(&d3, Money::from_raw(8), &who).unwrap()),
            [3, 3, 2]
        );
        // The biggest amounts split without overflow and still sum exactly.
        let max = Money::from_raw(i128::MAX);
        let parts = distribute(&d3, max, &who).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.amount.raw()).sum::<i128>(),
            i128::MAX
        );
    }

    #[test]
    fn a_share_without_anybody_goes_to_the_platform_marked_unclaimed() {
        let d = plan(&[
            (Role::Platform, 7000),
            (Role::StrategyAuthor, 1000),
            (Role::Referral(1), 1500),
            (Role::Referral(2), 500),
        ]);
        let who = Recipients {
            strategy_author: None,
            referrers: vec!["ref1".into()],
        };
        let parts = distribute(&d, Money::parse("100").unwrap(), &who).unwrap();
        let view: Vec<(Role, Payee, bool, String)> = parts
            .iter()
            .map(|p| (p.role, p.payee.clone(), p.unclaimed, p.amount.to_string()))
            .collect();
        assert_eq!(
            view,
            [
                (Role::Platform, Payee::Platform, false, "70.00".into()),
                (Role::StrategyAuthor, Payee::Platform, true, "10.00".into()),
                (
                    Role::Referral(1),
                    Payee::Account("ref1".into()),
                    false,
                    "15.00".into()
                ),
                (Role::Referral(2), Payee::Platform, true, "5.00".into()),
            ]
        );
        assert!(matches!(
            distribute(&d, Money::from_raw(-1), &who),
            Err(CommissionError::NegativeAmount { .. })
        ));
        assert!(
            distribute(&d, Money::ZERO, &who)
                .unwrap()
                .iter()
                .all(|p| p.amount.is_zero())
        );
    }
}
