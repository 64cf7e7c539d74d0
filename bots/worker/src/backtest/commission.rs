//! The platform's commission over a backtest: the bot's CommissionPlan run through the
//! commission engine (`tradewind-commission`) on the backtest's own fills and equity, one
//! settlement per period of the plan, as the ledger would settle them.
//!
//! The glue lives here, not in the trading core: the core knows nothing of the platform.
//! What a backtest cannot know is stated, not guessed: the account's 30-day volume is the
//! backtest's own fills (no history before its first bar, no other bots of the account),
//! the starting capital is the bot's first deposit (the high-water mark starts there), and
//! the last period, cut short by the end of the data, is settled at the data's end as if
//! the period ended then (marked `partial`).

use anyhow::{Context, Result};
use tradewind_commission::{
    AccountPeriod, AccountState, BotPeriod, CapitalFlow, Equity, Fill, Liquidity, Outcome, Period,
    Plan, history_start, settle,
};
use tradewind_core::data::UnixNanos;
use tradewind_core::fixed::Money;
use tradewind_core::portfolio::Portfolio;

/// One settlement period of the plan over the backtest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodCommission {
    /// The period's start.
    pub start: UnixNanos,
    /// The period's end (exclusive).
    pub end: UnixNanos,
    /// The data ended before the period did: crystallised at the data's end.
    pub partial: bool,
    /// Fills charged in the period.
    pub fills: u64,
    /// Their notional.
    pub volume: Money,
    /// Σ trading fees of the period's fills.
    pub trading_fees: Money,
    /// The performance fee crystallised at the period's end.
    pub performance_fee: Money,
    /// The bot's value on the plan's basis at the period's end.
    pub value: Money,
    /// The high-water mark after the period.
    pub high_water_mark: Money,
}

/// The platform's commission over the whole backtest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionSummary {
    /// The CommissionPlan's name.
    pub plan: String,
    /// Daily, Weekly, Monthly or Quarterly.
    pub period: String,
    /// `Realized` or `Total` (what the performance fee is charged on), if the plan has one.
    pub performance_basis: Option<String>,
    /// Σ trading fees.
    pub trading_fees: Money,
    /// Σ performance fees.
    pub performance_fees: Money,
    /// Every period, in order.
    pub periods: Vec<PeriodCommission>,
}

impl CommissionSummary {
    /// Trading plus performance fees.
    pub fn total(&self) -> Money {
        self.trading_fees
            .checked_add(self.performance_fees)
            .unwrap_or(Money::ZERO)
    }
}

/// Follows a backtest bar by bar and settles each period of the plan as it ends.
#[derive(Debug)]
pub struct CommissionRun {
    plan: Plan,
    name: String,
    bot: String,
    currency: String,
    capital: Money,
    state: AccountState,
    /// The period the bars are in, once the first bar is seen.
    period: Option<Period>,
    /// Fills from 30 days before the current period on (volume tiers read back that far).
    fills: Vec<Fill>,
    /// The current period's deposits (the starting capital, in the first period).
    flows: Vec<CapitalFlow>,
    /// The bot's equity after the last bar.
    closing: Equity,
    seq: u64,
    summary: CommissionSummary,
}

impl CommissionRun {
    /// A run of `plan` (named `name`) for bot `bot` starting with `capital` in `currency`.
    pub fn new(plan: Plan, name: &str, bot: &str, currency: &str, capital: Money) -> Self {
        let summary = CommissionSummary {
            plan: name.to_owned(),
            period: format!("{:?}", plan.period),
            performance_basis: plan.performance_fee.map(|f| format!("{:?}", f.basis)),
            trading_fees: Money::ZERO,
            performance_fees: Money::ZERO,
            periods: Vec::new(),
        };
        Self {
            plan,
            name: name.to_owned(),
            bot: bot.to_owned(),
            currency: currency.to_owned(),
            capital,
            state: AccountState::default(),
            period: None,
            fills: Vec::new(),
            flows: Vec::new(),
            closing: Equity::flat(capital),
            seq: 0,
            summary,
        }
    }

    /// Before the bar at `ts` is stepped: settles every period that ended at or before it.
    pub fn bar(&mut self, ts: UnixNanos) -> Result<()> {
        let Some(mut period) = self.period else {
            self.period = Some(Period::containing(self.plan.period, ts));
            // The starting capital is the bot's first deposit: the mark starts there.
            if self.capital > Money::ZERO {
                self.flows.push(CapitalFlow {
                    id: "starting-capital".into(),
                    ts,
                    amount: self.capital,
                    before: Equity::default(),
                });
            }
            return Ok(());
        };
        while ts >= period.end {
            self.settle(period, false)?;
            period = period.next();
            self.period = Some(period);
        }
        Ok(())
    }

    /// After a bar: the bot's equity and unrealised PnL now.
    pub fn mark(&mut self, portfolio: &Portfolio) {
        self.closing = Equity {
            total: portfolio.equity(),
            unrealized: portfolio.unrealized_pnl(),
        };
    }

    /// A fill of the backtest.
    pub fn fill(&mut self, f: &tradewind_core::orders::Fill) {
        self.seq += 1;
        self.fills.push(Fill {
            id: format!("fill-{}", self.seq),
            bot: self.bot.clone(),
            ts: f.ts,
            notional: f.price.notional(f.quantity),
            liquidity: match f.liquidity {
                tradewind_core::orders::Liquidity::Maker => Liquidity::Maker,
                tradewind_core::orders::Liquidity::Taker => Liquidity::Taker,
            },
        });
    }

    /// After the last bar: settles the period the data ended in, at the data's end.
    pub fn finish(mut self, portfolio: &Portfolio) -> Result<CommissionSummary> {
        self.mark(portfolio);
        if let Some(period) = self.period {
            self.settle(period, true)?;
        }
        Ok(self.summary)
    }

    fn settle(&mut self, period: Period, partial: bool) -> Result<()> {
        let from = history_start(&period);
        self.fills.retain(|f| f.ts >= from);
        let (now, later): (Vec<Fill>, Vec<Fill>) =
            self.fills.drain(..).partition(|f| f.ts < period.end);
        let input = AccountPeriod {
            account: self.bot.clone(),
            period,
            referrers: Vec::new(),
            bots: vec![BotPeriod {
                bot: self.bot.clone(),
                currency: self.currency.clone(),
                strategy_author: None,
                flows: std::mem::take(&mut self.flows),
                closing: self.closing,
            }],
            fills: now,
            late_fills: Vec::new(),
        };
        // Simulated time: the period has ended when the bars say so.
        let outcome = settle(&self.plan, &self.state, &input, period.end).with_context(|| {
            format!(
                "CommissionPlan {}: the platform's commission for the period from {} to {}",
                self.name,
                crate::report::iso8601(period.start),
                crate::report::iso8601(period.end)
            )
        })?;
        let Outcome::Settled { settlement, state } = outcome else {
            anyhow::bail!("the commission engine found the period already settled");
        };
        let mark = state
            .marks
            .get(&self.bot)
            .map(|m| m.mark())
            .unwrap_or(Money::ZERO);
        let basis = self
            .plan
            .performance_fee
            .map(|f| f.basis)
            .unwrap_or_default();
        let charged: Vec<&Fill> = input
            .fills
            .iter()
            .filter(|f| period.contains(f.ts))
            .collect();
        let volume = charged
            .iter()
            .try_fold(Money::ZERO, |acc, f| acc.checked_add(f.notional))
            .context("the period's volume overflows")?;
        let s = &mut self.summary;
        s.trading_fees = s
            .trading_fees
            .checked_add(settlement.trading_fees)
            .context("trading fees overflow")?;
        s.performance_fees = s
            .performance_fees
            .checked_add(settlement.performance_fees)
            .context("performance fees overflow")?;
        s.periods.push(PeriodCommission {
            start: period.start,
            end: period.end,
            partial,
            fills: charged.len() as u64,
            volume,
            trading_fees: settlement.trading_fees,
            performance_fee: settlement.performance_fees,
            value: self.closing.value(basis)?,
            high_water_mark: mark,
        });
        self.state = state;
        // The period's fills stay for the next periods' volume tiers.
        self.fills = input.fills;
        self.fills.extend(later);
        Ok(())
    }
}
