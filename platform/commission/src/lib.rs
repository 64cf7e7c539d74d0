//! Tradewind's commission engine: what a [`Plan`] charges an account and how every
//! charge is shared. Pure and deterministic: no I/O, no clock (the caller passes `now`),
//! no floats, no Kubernetes types. Money is the trading core's fixed-point [`Money`]
//! (10⁻⁹ of the plan's currency); rates are exact ([`Rate`]).
//!
//! - [`trading_fees`]: one fee per fill at the maker/taker rate of the account's tier,
//!   the tier read at 00:00 UTC of the fill's day from the 30 days before it.
//! - [`HighWaterMark`]: the performance fee's mark, crystallised at the end of each
//!   [`Period`]; deposits raise it by exactly the deposit (Bybit's top-up rule), a
//!   withdrawal leaves the mark per unit as it is.
//! - [`distribute`]: every charge shared by basis points, exact to 10⁻⁹ by largest
//!   remainder (ties in canonical [`Role`] order); a share with nobody to receive it goes
//!   to the platform, marked [`Part::unclaimed`].
//! - [`settle`]: one account, one period: every charge, distributed, and the next state;
//!   idempotent and in order.
//!
//! The rules, rounding and tie order are in this crate's README.

mod distribution;
mod performance;
mod period;
mod plan;
mod rate;
mod settle;
mod trading;

pub use distribution::{Part, Payee, Recipients, distribute};
pub use performance::{Equity, HighWaterMark};
pub use period::{Period, PeriodKind};
pub use plan::{
    BPS_PER_WHOLE, Basis, Distribution, FeeSchedule, FeeTier, Liquidity, MAX_REFERRAL_LEVEL,
    PerformanceFee, Plan, PlanError, Role, Share,
};
pub use rate::{Rate, RateError};
pub use settle::{
    AccountPeriod, AccountState, BotPeriod, CapitalFlow, Charge, ChargeKind, Crystallised, Outcome,
    Settlement, settle,
};
pub use tradewind_core::data::UnixNanos;
pub use tradewind_core::fixed::Money;
pub use trading::{
    DAY_NANOS, Fill, FillFee, VOLUME_WINDOW_DAYS, history_start, late_fees, trading_fees,
};

/// Why a computation was refused. Nothing is ever half-computed: an error means no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommissionError {
    /// An amount that may not be negative is.
    #[error("{what} is negative: {amount}")]
    NegativeAmount {
        /// What it is.
        what: &'static str,
        /// The amount.
        amount: Money,
    },
    /// A deposit or withdrawal of zero or with the wrong sign.
    #[error("{what} must be greater than zero, got {amount}")]
    NotPositive {
        /// What it is.
        what: &'static str,
        /// The amount.
        amount: Money,
    },
    /// A result does not fit the fixed-point range.
    #[error("{what} overflows the fixed-point range")]
    Overflow {
        /// What overflowed.
        what: &'static str,
    },
    /// A fill outside the 30 days before the period and the period itself.
    #[error(
        "fill {fill} at {ts} is outside [{from}, {to}): a settlement reads the 30 days before its period and the period"
    )]
    FillOutsideWindow {
        /// Fill id.
        fill: String,
        /// Its time.
        ts: UnixNanos,
        /// First instant read.
        from: UnixNanos,
        /// First instant not read.
        to: UnixNanos,
    },
    /// The same fill id twice.
    #[error("fill {fill} appears twice")]
    DuplicateFill {
        /// Fill id.
        fill: String,
    },
    /// A fill in the period of a bot the period does not list.
    #[error("fill {fill} in the period is of bot {bot}, which the period does not list")]
    UnknownBot {
        /// The bot.
        bot: String,
        /// Fill id.
        fill: String,
    },
    /// The same bot twice.
    #[error("bot {bot} appears twice")]
    DuplicateBot {
        /// The bot.
        bot: String,
    },
    /// A bot whose money is in another currency than the plan's.
    #[error("bot {bot} trades in {currency}, but the plan charges in {plan}")]
    CurrencyMismatch {
        /// The bot.
        bot: String,
        /// Its currency.
        currency: String,
        /// The plan's.
        plan: String,
    },
    /// A capital flow outside the period.
    #[error("capital flow {flow} at {ts} is outside the period")]
    FlowOutsidePeriod {
        /// Flow id.
        flow: String,
        /// Its time.
        ts: UnixNanos,
    },
    /// The same capital flow id twice.
    #[error("capital flow {flow} appears twice")]
    DuplicateFlow {
        /// Flow id.
        flow: String,
    },
    /// More withdrawn than the bot's value on the plan's basis.
    #[error("withdrawal of {amount} is above the bot's value {value}")]
    WithdrawalAboveValue {
        /// The withdrawal.
        amount: Money,
        /// The value before it.
        value: Money,
    },
    /// The interval is not one period of the plan's kind.
    #[error("[{start}, {end}) is not one {kind:?} period")]
    NotAPeriod {
        /// The plan's period kind.
        kind: PeriodKind,
        /// Given start.
        start: UnixNanos,
        /// Given end.
        end: UnixNanos,
    },
    /// A period after the next one to settle.
    #[error("periods settle in order: the next one starts at {expected_start}, not {start}")]
    PeriodSkipped {
        /// Where the next period starts.
        expected_start: UnixNanos,
        /// Where the given one starts.
        start: UnixNanos,
    },
    /// The period has not ended yet.
    #[error("the period ends at {end}, after now ({now}): it cannot be settled yet")]
    PeriodNotEnded {
        /// Its end.
        end: UnixNanos,
        /// Now.
        now: UnixNanos,
    },
    /// A fill charged late that is not before the period charging it.
    #[error(
        "late fill {fill} at {ts} is not before the period settling it (from {start}): a late fill belongs to a period already settled"
    )]
    LateFillNotBefore {
        /// Fill id.
        fill: String,
        /// Its time.
        ts: UnixNanos,
        /// The settling period's start.
        start: UnixNanos,
    },
}
