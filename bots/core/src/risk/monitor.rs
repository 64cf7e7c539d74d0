//! Post-trade monitors and the halt state machine.

use std::fmt;

use crate::data::{Side, UnixNanos};
use crate::fixed::{Money, Quantity};
use crate::orders::{InstrumentIndex, OrderRequest};
use crate::portfolio::{Portfolio, PositionSide};

use super::{NANOS_PER_DAY, OrderContext, Percent, Refused, RiskCheck, RiskLimits, RiskRefusal};

/// Why the bot halted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HaltReason {
    /// `dailyLossLimit` reached.
    DailyLossLimit,
    /// `maxDrawdownPercent` reached (the kill switch).
    MaxDrawdown,
    /// Halted by the engine or an operator through [`RiskManager::halt_manually`].
    Manual,
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HaltReason::DailyLossLimit => "daily loss limit",
            HaltReason::MaxDrawdown => "max drawdown",
            HaltReason::Manual => "manual halt",
        })
    }
}

/// The engine must stop trading and cancel its open orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halt {
    /// Which monitor fired.
    pub reason: HaltReason,
    /// Time of the mark that fired it.
    pub ts: UnixNanos,
    /// Human-readable values: the limit and what reached it.
    pub detail: String,
}

impl fmt::Display for Halt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {}", self.reason, self.ts, self.detail)
    }
}

/// An instruction to close a whole position with a market order (the stop-loss fired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosePosition {
    /// Instrument whose position to close.
    pub instrument: InstrumentIndex,
    /// Order side that closes it (sell for a long, buy for a short).
    pub side: Side,
    /// Quantity to close: the whole position at the time of the mark.
    pub quantity: Quantity,
    /// Time of the mark.
    pub ts: UnixNanos,
    /// Unrealized loss at the mark (positive).
    pub loss: Money,
    /// Entry value of the position (|cost basis|).
    pub entry_value: Money,
    /// The `stopLossPercent` that was reached.
    pub limit: Percent,
}

impl fmt::Display for ClosePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stop-loss: position in instrument {} lost {} of its entry value {} (stopLossPercent {}); close {} with a {:?}",
            self.instrument.0, self.loss, self.entry_value, self.limit, self.quantity, self.side
        )
    }
}

/// What the post-trade monitors ask of the engine after a mark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a halt or a stop-loss close must be acted on"]
pub struct PostTradeActions {
    /// Close this position (stop-loss). Emitted once per round trip of a position.
    pub close: Option<ClosePosition>,
    /// The bot has just halted. Emitted once, on the transition.
    pub halt: Option<Halt>,
}

impl PostTradeActions {
    /// `true` if there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.close.is_none() && self.halt.is_none()
    }
}

/// Trading state. The only transition is `Active → Halted`; a halted manager stays
/// halted for its whole life (the bot must be restarted to trade again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RiskState {
    /// Orders are checked against the limits.
    #[default]
    Active,
    /// Every order is refused.
    Halted(Halt),
}

/// Risk for one bot: the limits, the pre-trade checks and the post-trade monitors with
/// the state they need (equity peak, the UTC day's starting equity, fired stop-losses).
#[derive(Debug, Clone, Default)]
pub struct RiskManager {
    limits: RiskLimits,
    state: RiskState,
    peak_equity: Option<Money>,
    /// Current UTC day number and the equity it started with.
    day: Option<(i64, Money)>,
    /// Equity at the previous evaluation: the next day's starting equity.
    last_equity: Option<Money>,
    /// Per instrument, the round trip whose stop-loss already fired (0 = none).
    stop_fired: Vec<u64>,
}

impl RiskManager {
    /// A manager enforcing `limits`, active.
    pub fn new(limits: RiskLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// The limits enforced.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Current state.
    pub fn state(&self) -> &RiskState {
        &self.state
    }

    /// `true` once halted (forever).
    pub fn is_halted(&self) -> bool {
        matches!(self.state, RiskState::Halted(_))
    }

    /// The halt, if halted.
    pub fn halt(&self) -> Option<&Halt> {
        match &self.state {
            RiskState::Halted(halt) => Some(halt),
            RiskState::Active => None,
        }
    }

    /// Highest equity seen by [`RiskManager::on_mark`].
    pub fn peak_equity(&self) -> Option<Money> {
        self.peak_equity
    }

    /// Pre-trade: refuse everything when halted, else run [`RiskLimits::check_order`].
    pub fn check_order(
        &self,
        order: OrderRequest,
        ctx: &OrderContext<'_>,
    ) -> RiskCheck<OrderRequest> {
        if let RiskState::Halted(halt) = &self.state {
            return Err(Refused::new(order, RiskRefusal::Halted(halt.clone())));
        }
        self.limits.check_order(order, ctx)
    }

    /// Halt now (operator request, engine error). Returns the halt on the transition,
    /// `None` if already halted (the first halt is kept).
    pub fn halt_manually(&mut self, ts: UnixNanos, detail: impl Into<String>) -> Option<Halt> {
        self.transition(HaltReason::Manual, ts, detail.into())
    }

    fn transition(&mut self, reason: HaltReason, ts: UnixNanos, detail: String) -> Option<Halt> {
        if self.is_halted() {
            return None;
        }
        let halt = Halt { reason, ts, detail };
        self.state = RiskState::Halted(halt.clone());
        Some(halt)
    }

    /// Post-trade: evaluate the monitors after `portfolio` was marked at `ts` for
    /// `instrument`. In order:
    /// 1. max drawdown: halt if `(peak − equity) / peak ≥ maxDrawdownPercent`, the peak
    ///    being the highest equity seen by this method (and positive);
    /// 2. daily loss: halt if `day start equity − equity ≥ dailyLossLimit`, where a UTC
    ///    day's start equity is the equity at the last evaluation before the day began
    ///    (the current equity for the first day). Equity change includes realized and
    ///    unrealized PnL and fees;
    /// 3. stop-loss (only while active): if `instrument`'s position has lost
    ///    `≥ stopLossPercent` of its entry value (`−unrealized ≥ pct × |cost basis|`),
    ///    ask to close it, once per round trip.
    ///
    /// Does nothing once halted. Allocates only when halting (the detail text) and the
    /// first time an instrument is seen.
    pub fn on_mark(
        &mut self,
        portfolio: &Portfolio,
        instrument: InstrumentIndex,
        ts: UnixNanos,
    ) -> PostTradeActions {
        let mut actions = PostTradeActions::default();
        if self.is_halted() {
            return actions;
        }
        let equity = portfolio.equity();

        let peak = match self.peak_equity {
            Some(peak) if peak >= equity => peak,
            _ => equity,
        };
        self.peak_equity = Some(peak);
        if let Some(limit) = self.limits.max_drawdown
            && peak.raw() > 0
        {
            let drawdown = peak
                .raw()
                .saturating_sub(equity.raw())
                .max(0)
                .unsigned_abs();
            let peak_raw = peak.raw().unsigned_abs();
            if drawdown > 0 && limit.reached_by(drawdown, peak_raw) {
                let pct = Percent::ratio(drawdown, peak_raw).unwrap_or(Percent::from_raw(u64::MAX));
                let detail = format!(
                    "equity {equity} is {pct} below its peak {peak}, reaching maxDrawdownPercent {limit}"
                );
                actions.halt = self.transition(HaltReason::MaxDrawdown, ts, detail);
            }
        }

        let day = ts.div_euclid(NANOS_PER_DAY);
        let start = match self.day {
            Some((d, start)) if d == day => start,
            _ => {
                let start = self.last_equity.unwrap_or(equity);
                self.day = Some((day, start));
                start
            }
        };
        self.last_equity = Some(equity);
        if actions.halt.is_none()
            && let Some(limit) = self.limits.daily_loss_limit
        {
            let loss = Money::from_raw(start.raw().saturating_sub(equity.raw()));
            if loss >= limit {
                let detail = format!(
                    "equity {equity} is {loss} below the UTC day's start {start}, reaching dailyLossLimit {limit}"
                );
                actions.halt = self.transition(HaltReason::DailyLossLimit, ts, detail);
            }
        }

        if !self.is_halted() {
            actions.close = self.stop_loss(portfolio, instrument, ts);
        }
        actions
    }

    /// Allow the stop-loss to fire again for `instrument`'s current round trip (e.g.
    /// after the close order was rejected).
    pub fn rearm_stop_loss(&mut self, instrument: InstrumentIndex) {
        if let Some(fired) = self.stop_fired.get_mut(instrument.0) {
            *fired = 0;
        }
    }

    fn stop_loss(
        &mut self,
        portfolio: &Portfolio,
        instrument: InstrumentIndex,
        ts: UnixNanos,
    ) -> Option<ClosePosition> {
        let limit = self.limits.stop_loss?;
        let position = portfolio.position(instrument)?;
        let side = position.side()?;
        let trip = position.round_trip_id();
        if self.stop_fired.len() <= instrument.0 {
            // Bounded by the portfolio's instrument table, which contains `instrument`.
            self.stop_fired.resize(portfolio.instrument_count(), 0);
        }
        if self.stop_fired[instrument.0] == trip {
            return None;
        }
        let loss = position.unrealized_pnl().raw().checked_neg()?;
        if loss <= 0 {
            return None;
        }
        let entry_value = position.cost_basis().raw().unsigned_abs();
        if !limit.reached_by(loss.unsigned_abs(), entry_value) {
            return None;
        }
        self.stop_fired[instrument.0] = trip;
        Some(ClosePosition {
            instrument,
            side: match side {
                PositionSide::Long => Side::Sell,
                PositionSide::Short => Side::Buy,
            },
            quantity: position.quantity(),
            ts,
            loss: Money::from_raw(loss),
            entry_value: Money::from_raw(i128::try_from(entry_value).unwrap_or(i128::MAX)),
            limit,
        })
    }
}
