//! One account's settlement of one period: every charge, distributed, and the state the
//! next period starts from.
//!
//! [`settle`] is a pure function of the plan, the state after the previous settlement and
//! the period's inputs. Settling a period already settled is [`Outcome::AlreadySettled`]
//! and changes nothing; periods settle in order, none skipped; a period that has not
//! ended is refused. Charge ids are derived from what they charge, so a settlement run
//! again from the same state gives the same ids and amounts.

use std::collections::{BTreeMap, BTreeSet};

use tradewind_core::data::UnixNanos;
use tradewind_core::fixed::Money;

use crate::distribution::{Part, Payee, Recipients, distribute};
use crate::performance::{Equity, HighWaterMark};
use crate::period::Period;
use crate::plan::{Basis, Plan, Role};
use crate::trading::{Fill, FillFee, history_start, late_fees, trading_fees};
use crate::{CommissionError, Rate};

/// Money added to (positive) or taken from (negative) a bot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CapitalFlow {
    /// Unique id of the flow (a withdrawal's charge id is derived from it).
    pub id: String,
    /// When.
    pub ts: UnixNanos,
    /// Deposit (> 0) or withdrawal (< 0), in the plan's currency.
    pub amount: Money,
    /// The bot's equity just before the flow.
    pub before: Equity,
}

/// One bot of the account during the period.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BotPeriod {
    /// The bot's id.
    pub bot: String,
    /// Its capital's currency; must be the plan's.
    pub currency: String,
    /// The account that wrote its strategy, if known.
    pub strategy_author: Option<String>,
    /// Deposits and withdrawals in the period (a new bot's starting capital is its first
    /// deposit, with equity zero before it).
    pub flows: Vec<CapitalFlow>,
    /// Its equity at the end of the period.
    pub closing: Equity,
}

/// Everything one account's settlement of one period reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountPeriod {
    /// The account.
    pub account: String,
    /// The period; its kind must be the plan's.
    pub period: Period,
    /// The account's referral chain during the period, nearest first.
    pub referrers: Vec<String>,
    /// Its bots.
    pub bots: Vec<BotPeriod>,
    /// Its fills from [`crate::history_start`] to the period's end: those before the
    /// period (of any bot, listed or not) only count towards the volume tier.
    pub fills: Vec<Fill>,
    /// Fills of its listed bots from periods already settled, recorded after that
    /// settlement: charged now, each at the tier of its own day ([`crate::late_fees`]).
    /// When there are any, `fills` reaches back to 30 days before the earliest one's day
    /// (fills before [`crate::history_start`] then only count towards their tiers).
    pub late_fills: Vec<Fill>,
}

/// What an account's settlements carry from one period to the next.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AccountState {
    /// End of the last settled period, if any.
    pub settled_through: Option<UnixNanos>,
    /// High-water mark per bot.
    pub marks: BTreeMap<String, HighWaterMark>,
}

/// When a performance fee was crystallised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Crystallised {
    /// At the end of the period.
    PeriodEnd,
    /// On the withdrawn fraction, at a withdrawal (the flow's id).
    Withdrawal(String),
}

/// What a charge is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChargeKind {
    /// The trading fee of one fill.
    TradingFee(FillFee),
    /// A performance fee.
    PerformanceFee {
        /// When.
        on: Crystallised,
        /// Realised or total.
        basis: Basis,
        /// The bot's value on that basis.
        value: Money,
        /// The mark before.
        mark_before: Money,
        /// The mark after.
        mark_after: Money,
        /// The plan's rate.
        rate: Rate,
    },
}

/// One charge to the account and its distribution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Charge {
    /// Stable id: `trading/<account>/<fill>`, `performance/<account>/<bot>/<period end>`
    /// or `performance/<account>/<bot>/withdrawal/<flow>`.
    pub id: String,
    /// The bot charged for.
    pub bot: String,
    /// When it arose.
    pub ts: UnixNanos,
    /// The amount (positive; nothing is booked for zero).
    pub amount: Money,
    /// What for.
    pub kind: ChargeKind,
    /// Its distribution; the parts sum to `amount`.
    pub parts: Vec<Part>,
}

/// One account's settlement of one period.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Settlement {
    /// The account.
    pub account: String,
    /// The period.
    pub period: Period,
    /// Every charge, trading fees (in fill order) then performance fees (by bot).
    pub charges: Vec<Charge>,
    /// Σ trading fees.
    pub trading_fees: Money,
    /// Σ performance fees.
    pub performance_fees: Money,
    /// Σ per share of the distribution (unclaimed shares under their own role).
    pub by_role: BTreeMap<Role, Money>,
    /// Σ per payee (unclaimed shares under the platform).
    pub by_payee: BTreeMap<Payee, Money>,
}

/// The result of [`settle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The period is settled: book this, then store the state.
    Settled {
        /// What to book.
        settlement: Settlement,
        /// The state the next period starts from.
        state: AccountState,
    },
    /// The state already covers this period; nothing to do.
    AlreadySettled,
}

fn overflow(what: &'static str) -> CommissionError {
    CommissionError::Overflow { what }
}

/// Settles `input` for the account whose state after its last settlement is `state`,
/// at wall-clock time `now`. See the module docs.
pub fn settle(
    plan: &Plan,
    state: &AccountState,
    input: &AccountPeriod,
    now: UnixNanos,
) -> Result<Outcome, CommissionError> {
    let period = input.period;
    if Period::containing(plan.period, period.start) != period {
        return Err(CommissionError::NotAPeriod {
            kind: plan.period,
            start: period.start,
            end: period.end,
        });
    }
    if let Some(through) = state.settled_through {
        if period.end <= through {
            return Ok(Outcome::AlreadySettled);
        }
        if period.start != through {
            return Err(CommissionError::PeriodSkipped {
                expected_start: through,
                start: period.start,
            });
        }
    }
    if period.end > now {
        return Err(CommissionError::PeriodNotEnded {
            end: period.end,
            now,
        });
    }
    let mut bots = BTreeMap::new();
    for b in &input.bots {
        if b.currency != plan.currency {
            return Err(CommissionError::CurrencyMismatch {
                bot: b.bot.clone(),
                currency: b.currency.clone(),
                plan: plan.currency.clone(),
            });
        }
        if bots.insert(b.bot.as_str(), b).is_some() {
            return Err(CommissionError::DuplicateBot { bot: b.bot.clone() });
        }
    }
    // Fills before the period only count towards volume (of any bot the account had);
    // a fill charged now must be of a listed bot, whose author shares in it.
    if let Some(f) = input
        .fills
        .iter()
        .filter(|f| period.contains(f.ts))
        .chain(&input.late_fills)
        .find(|f| !bots.contains_key(f.bot.as_str()))
    {
        return Err(CommissionError::UnknownBot {
            bot: f.bot.clone(),
            fill: f.id.clone(),
        });
    }
    // Built once per bot, not per charge: a month holds thousands of fills per bot.
    let recipients: BTreeMap<&str, Recipients> = bots
        .iter()
        .map(|(&name, bot)| {
            let r = Recipients {
                strategy_author: bot.strategy_author.clone(),
                referrers: input.referrers.clone(),
            };
            (name, r)
        })
        .collect();
    let mut charges = Vec::new();
    let fees = if input.late_fills.is_empty() {
        trading_fees(&plan.trading_fees, &period, &input.fills)?
    } else {
        // Late fills first (they are older), then the period's, each at its own day's tier.
        let from = history_start(&period);
        let window: Vec<Fill> = input
            .fills
            .iter()
            .filter(|f| f.ts >= from)
            .cloned()
            .collect();
        let mut fees = late_fees(
            &plan.trading_fees,
            &input.late_fills,
            &input.fills,
            period.start,
        )?;
        fees.extend(trading_fees(&plan.trading_fees, &period, &window)?);
        fees
    };
    for fee in fees {
        if fee.fee.is_zero() {
            continue;
        }
        let parts = distribute(&plan.distribution, fee.fee, &recipients[fee.bot.as_str()])?;
        charges.push(Charge {
            id: format!("trading/{}/{}", input.account, fee.fill),
            bot: fee.bot.clone(),
            ts: fee.ts,
            amount: fee.fee,
            parts,
            kind: ChargeKind::TradingFee(fee),
        });
    }
    let fee = plan.performance_fee.as_ref();
    let basis = fee.map_or(Basis::default(), |f| f.basis);
    let rate = fee.map_or(Rate::ZERO, |f| f.rate);
    let mut marks = state.marks.clone();
    let mut flow_ids = BTreeSet::new();
    for (&name, &bot) in &bots {
        let mark = marks.entry(name.to_owned()).or_insert(HighWaterMark::EMPTY);
        let mut flows: Vec<&CapitalFlow> = bot.flows.iter().collect();
        flows.sort_by(|a, b| (a.ts, &a.id).cmp(&(b.ts, &b.id)));
        let mut performance = |on: Crystallised, ts, value, before: Money, after, amount: Money| {
            if amount.is_zero() {
                return Ok(());
            }
            let id = match &on {
                Crystallised::PeriodEnd => {
                    format!("performance/{}/{name}/{}", input.account, period.end)
                }
                Crystallised::Withdrawal(flow) => {
                    format!("performance/{}/{name}/withdrawal/{flow}", input.account)
                }
            };
            charges.push(Charge {
                id,
                bot: name.to_owned(),
                ts,
                amount,
                parts: distribute(&plan.distribution, amount, &recipients[name])?,
                kind: ChargeKind::PerformanceFee {
                    on,
                    basis,
                    value,
                    mark_before: before,
                    mark_after: after,
                    rate,
                },
            });
            Ok::<(), CommissionError>(())
        };
        for flow in flows {
            if !period.contains(flow.ts) {
                return Err(CommissionError::FlowOutsidePeriod {
                    flow: flow.id.clone(),
                    ts: flow.ts,
                });
            }
            if !flow_ids.insert(flow.id.as_str()) {
                return Err(CommissionError::DuplicateFlow {
                    flow: flow.id.clone(),
                });
            }
            let value = flow.before.value(basis)?;
            let before = mark.mark();
            if flow.amount.is_negative() {
                let amount = flow.amount.checked_abs().ok_or(overflow("a withdrawal"))?;
                let charged = mark.withdraw(amount, value, fee)?;
                let on = Crystallised::Withdrawal(flow.id.clone());
                performance(on, flow.ts, value, before, mark.mark(), charged)?;
            } else {
                mark.deposit(flow.amount, value)?;
            }
        }
        let value = bot.closing.value(basis)?;
        let before = mark.mark();
        let charged = mark.crystallise(value, fee)?;
        performance(
            Crystallised::PeriodEnd,
            period.end,
            value,
            before,
            mark.mark(),
            charged,
        )?;
    }
    let mut settlement = Settlement {
        account: input.account.clone(),
        period,
        trading_fees: Money::ZERO,
        performance_fees: Money::ZERO,
        by_role: BTreeMap::new(),
        by_payee: BTreeMap::new(),
        charges: Vec::new(),
    };
    for c in &charges {
        let total = match c.kind {
            ChargeKind::TradingFee(_) => &mut settlement.trading_fees,
            ChargeKind::PerformanceFee { .. } => &mut settlement.performance_fees,
        };
        *total = total.checked_add(c.amount).ok_or(overflow("a total"))?;
        for p in &c.parts {
            let r = settlement.by_role.entry(p.role).or_default();
            *r = r.checked_add(p.amount).ok_or(overflow("a total"))?;
            let q = settlement.by_payee.entry(p.payee.clone()).or_default();
            *q = q.checked_add(p.amount).ok_or(overflow("a total"))?;
        }
    }
    settlement.charges = charges;
    Ok(Outcome::Settled {
        settlement,
        state: AccountState {
            settled_through: Some(period.end),
            marks,
        },
    })
}
