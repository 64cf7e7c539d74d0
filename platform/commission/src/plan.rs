//! [`Plan`]: what a CommissionPlan says, as plain checked values.
//!
//! Built by the translation from the resource (`tradewind-config`) or directly; every
//! constructor checks what the resource's CEL rules check, so a plan that exists is valid.
//! Errors name the field as the resource spells it below `spec` (`distribution[2].level`).

use tradewind_core::fixed::Money;

use crate::Rate;
use crate::period::PeriodKind;

/// A plan field that cannot be used, named as the resource spells it below `spec`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PlanError {
    /// E.g. `tradingFees.tiers[1].minVolume30d`.
    pub field: String,
    /// Why.
    pub reason: String,
}

impl PlanError {
    /// A field and why it is refused.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Whether a fill added or removed liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Liquidity {
    /// It rested on the book and was hit.
    Maker,
    /// It crossed the spread.
    Taker,
}

/// One trading-fee tier: from `min_volume_30d` up to the next tier's minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeeTier {
    /// Smallest trailing 30-day volume (plan currency) of this tier.
    pub min_volume_30d: Money,
    /// Rate on maker fills.
    pub maker: Rate,
    /// Rate on taker fills.
    pub taker: Rate,
}

impl FeeTier {
    /// The rate for a fill of this liquidity.
    pub fn rate(&self, liquidity: Liquidity) -> Rate {
        match liquidity {
            Liquidity::Maker => self.maker,
            Liquidity::Taker => self.taker,
        }
    }
}

/// Trading-fee tiers: non-empty, the first at volume 0, minimums strictly increasing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FeeSchedule {
    tiers: Vec<FeeTier>,
}

impl FeeSchedule {
    /// Checks the tiers (errors name `tradingFees.tiers[i]…`).
    pub fn new(tiers: Vec<FeeTier>) -> Result<Self, PlanError> {
        let field = |i: usize| format!("tradingFees.tiers[{i}].minVolume30d");
        let first = tiers
            .first()
            .ok_or_else(|| PlanError::new("tradingFees.tiers", "at least one tier is needed"))?;
        if !first.min_volume_30d.is_zero() {
            return Err(PlanError::new(
                field(0),
                format!(
                    "the first tier must start at 0 so every account has a fee, got {}",
                    first.min_volume_30d
                ),
            ));
        }
        for (i, w) in tiers.windows(2).enumerate() {
            if w[1].min_volume_30d <= w[0].min_volume_30d {
                return Err(PlanError::new(
                    field(i + 1),
                    format!(
                        "{} is not above the previous tier's {}: tiers must be strictly increasing",
                        w[1].min_volume_30d, w[0].min_volume_30d
                    ),
                ));
            }
        }
        Ok(Self { tiers })
    }

    /// The tiers, lowest volume first.
    pub fn tiers(&self) -> &[FeeTier] {
        &self.tiers
    }

    /// The index of the tier for a trailing 30-day volume: the last whose minimum is at or
    /// below it (a volume exactly at a minimum is in that tier).
    pub fn tier_index(&self, volume_30d: Money) -> usize {
        self.tiers
            .iter()
            .rposition(|t| t.min_volume_30d <= volume_30d)
            .unwrap_or(0)
    }
}

/// Which profit the performance fee is charged on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Basis {
    /// Realised profit: equity less the unrealised PnL of open positions.
    #[default]
    Realized,
    /// Total profit: equity with open positions marked to market.
    Total,
}

/// A fee on profit above the high-water mark, crystallised at the end of every period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PerformanceFee {
    /// Share of new profit above the mark.
    pub rate: Rate,
    /// Realised or total profit.
    pub basis: Basis,
}

/// Who a share of every charge belongs to.
///
/// The order of the variants (Platform, StrategyAuthor, Referral 1, 2, …) is the
/// canonical order of a distribution and the tie order of its largest-remainder rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The platform operator.
    Platform,
    /// The author of the strategy the charged bot runs.
    StrategyAuthor,
    /// The account's referrer at this level (1 = the direct referrer).
    Referral(u8),
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Platform => f.write_str("platform"),
            Role::StrategyAuthor => f.write_str("strategy author"),
            Role::Referral(l) => write!(f, "referral level {l}"),
        }
    }
}

/// Basis points in a whole.
pub const BPS_PER_WHOLE: u32 = 10_000;
/// The deepest referral level a plan may pay.
pub const MAX_REFERRAL_LEVEL: u8 = 5;

/// One share of a distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Share {
    /// Who it belongs to.
    pub role: Role,
    /// Basis points of every charge (1 to 10 000).
    pub bps: u32,
}

/// How every charge is shared: shares summing to exactly 10 000 bp, exactly one for
/// the platform, at most one for the strategy author, each referral level at most once.
/// Held in canonical [`Role`] order whatever order the resource lists them in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Distribution {
    shares: Vec<Share>,
}

impl Distribution {
    /// Checks the shares (errors name `distribution[i]…`, indexes as given).
    pub fn new(shares: Vec<Share>) -> Result<Self, PlanError> {
        let mut total: u64 = 0;
        for (i, s) in shares.iter().enumerate() {
            if s.bps == 0 || s.bps > BPS_PER_WHOLE {
                return Err(PlanError::new(
                    format!("distribution[{i}].shareBps"),
                    format!("must be 1 to {BPS_PER_WHOLE}, got {}", s.bps),
                ));
            }
            if let Role::Referral(l) = s.role
                && !(1..=MAX_REFERRAL_LEVEL).contains(&l)
            {
                return Err(PlanError::new(
                    format!("distribution[{i}].level"),
                    format!("must be 1 to {MAX_REFERRAL_LEVEL}, got {l}"),
                ));
            }
            if let Some(j) = shares[..i].iter().position(|o| o.role == s.role) {
                return Err(PlanError::new(
                    format!("distribution[{i}]"),
                    format!("{} already has distribution[{j}]", s.role),
                ));
            }
            total += u64::from(s.bps);
        }
        if total != u64::from(BPS_PER_WHOLE) {
            return Err(PlanError::new(
                "distribution",
                format!("shares must sum to exactly {BPS_PER_WHOLE} bp (100 %), got {total}"),
            ));
        }
        if !shares.iter().any(|s| s.role == Role::Platform) {
            return Err(PlanError::new(
                "distribution",
                "exactly one Platform share is needed",
            ));
        }
        let mut shares = shares;
        shares.sort_by_key(|s| s.role);
        Ok(Self { shares })
    }

    /// Everything to the platform.
    pub fn platform_only() -> Self {
        Self {
            shares: vec![Share {
                role: Role::Platform,
                bps: BPS_PER_WHOLE,
            }],
        }
    }

    /// The shares in canonical order.
    pub fn shares(&self) -> &[Share] {
        &self.shares
    }
}

/// A commission plan: trading fees, an optional performance fee, the settlement period
/// and the distribution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Plan {
    /// The currency charges are in and 30-day volume is counted in (e.g. `USDT`).
    pub currency: String,
    /// Trading-fee tiers.
    pub trading_fees: FeeSchedule,
    /// Performance fee, if any.
    pub performance_fee: Option<PerformanceFee>,
    /// How often the plan settles (and the performance fee crystallises).
    pub period: PeriodKind,
    /// How every charge is shared.
    pub distribution: Distribution,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(min: &str, maker: &str, taker: &str) -> FeeTier {
        FeeTier {
            min_volume_30d: Money::parse(min).unwrap(),
            maker: Rate::from_bps(maker).unwrap(),
            taker: Rate::from_bps(taker).unwrap(),
        }
    }

    #[test]
    fn tiers_are_checked_and_a_minimum_belongs_to_its_tier() {
        let s = FeeSchedule::new(vec![tier("0", "10", "10"), tier("1000", "5", "6")]).unwrap();
        assert_eq!(s.tier_index(Money::parse("999.999999999").unwrap()), 0);
        assert_eq!(s.tier_index(Money::parse("1000").unwrap()), 1);
        assert_eq!(
            s.tiers()[1].rate(Liquidity::Taker),
            Rate::from_bps("6").unwrap()
        );
        let e = FeeSchedule::new(vec![tier("1", "1", "1")]).unwrap_err();
        assert_eq!(e.field, "tradingFees.tiers[0].minVolume30d");
        let e = FeeSchedule::new(vec![tier("0", "1", "1"), tier("0", "1", "1")]).unwrap_err();
        assert_eq!(e.field, "tradingFees.tiers[1].minVolume30d");
        assert_eq!(
            FeeSchedule::new(vec![]).unwrap_err().field,
            "tradingFees.tiers"
        );
    }

    #[test]
    fn distributions_are_checked_and_held_in_canonical_order() {
        let share = |role, bps| Share { role, bps };
        let d = Distribution::new(vec![
            share(Role::Referral(2), 500),
            share(Role::Referral(1), 1500),
            share(Role::StrategyAuthor, 2000),
            share(Role::Platform, 6000),
        ])
        .unwrap();
        let roles: Vec<Role> = d.shares().iter().map(|s| s.role).collect();
        assert_eq!(
            roles,
            [
                Role::Platform,
                Role::StrategyAuthor,
                Role::Referral(1),
                Role::Referral(2)
            ]
        );
        let err = |shares| Distribution::new(shares).unwrap_err().to_string();
        assert_eq!(
            err(vec![share(Role::Platform, 9000)]),
            "distribution: shares must sum to exactly 10000 bp (100 %), got 9000"
        );
        assert_eq!(
            err(vec![share(Role::StrategyAuthor, 10_000)]),
            "distribution: exactly one Platform share is needed"
        );
        assert_eq!(
            err(vec![
                share(Role::Platform, 5000),
                share(Role::Platform, 5000)
            ]),
            "distribution[1]: platform already has distribution[0]"
        );
        assert_eq!(
            err(vec![
                share(Role::Platform, 5000),
                share(Role::Referral(6), 5000)
            ]),
            "distribution[1].level: must be 1 to 5, got 6"
        );
        assert_eq!(
            err(vec![
                share(Role::Platform, 10_000),
                share(Role::Referral(1), 0)
            ]),
            "distribution[1].shareBps: must be 1 to 10000, got 0"
        );
    }
}
