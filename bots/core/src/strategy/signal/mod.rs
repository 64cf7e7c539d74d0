//! Signal: trades on external signals (a TradingView alert, another program) instead of
//! on bars. Each [`Signal`] is enter, exit or flatten; the strategy takes the actions
//! its configuration lists and passes them to the engine as any strategy's actions: an
//! entry is sized by the bot's sizing rule, and every order passes the bot's risk limits.
//! On bars it does nothing.

mod config;
#[cfg(test)]
mod tests;

pub use config::SignalConfig;

use crate::data::{Bar, UnixNanos};
use crate::strategy::{Actions, Context, Strategy};

/// What an external signal asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignalAction {
    /// Open (or add to) a long position, sized by the bot's sizing rule.
    Enter,
    /// Close the long position with a market order (working orders stay).
    Exit,
    /// Cancel every working order and close the position.
    Flatten,
}

impl SignalAction {
    /// Every action, in declaration order.
    pub const ALL: [SignalAction; 3] = [
        SignalAction::Enter,
        SignalAction::Exit,
        SignalAction::Flatten,
    ];

    /// The wire spelling: `enter`, `exit`, `flatten`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalAction::Enter => "enter",
            SignalAction::Exit => "exit",
            SignalAction::Flatten => "flatten",
        }
    }
}

impl std::fmt::Display for SignalAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action word that is not one of the signal actions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a signal action (enter, exit, flatten; or buy = enter, sell = exit)")]
pub struct UnknownAction(pub String);

impl std::str::FromStr for SignalAction {
    type Err = UnknownAction;
    /// `enter`, `exit`, `flatten`, case-insensitive; TradingView's
    /// `{{strategy.order.action}}` words `buy` and `sell` mean enter and exit.
    fn from_str(s: &str) -> Result<Self, UnknownAction> {
        match s.to_ascii_lowercase().as_str() {
            "enter" | "buy" => Ok(SignalAction::Enter),
            "exit" | "sell" => Ok(SignalAction::Exit),
            "flatten" => Ok(SignalAction::Flatten),
            _ => Err(UnknownAction(s.to_owned())),
        }
    }
}

/// One external signal, as delivered to the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// The sender's identity of the signal (a repeat of an id is the same signal).
    pub id: String,
    /// When it was sent (engine time it is acted on).
    pub ts: UnixNanos,
    /// What it asks for.
    pub action: SignalAction,
}

/// What became of a signal in the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalOutcome {
    /// The strategy acted on it; its orders went through risk to the venue (a refusal by
    /// the risk limits is reported like any order's).
    Acted,
    /// Nothing was done, and why (the strategy does not take this action, trading is
    /// halted, there is nothing to close, the position is at its maximum).
    Skipped(String),
}

/// The Signal strategy.
#[derive(Clone, Debug)]
pub struct SignalStrategy {
    config: SignalConfig,
}

impl SignalStrategy {
    /// A strategy taking the configured actions.
    pub fn new(config: SignalConfig) -> Self {
        Self { config }
    }
}

impl Strategy for SignalStrategy {
    fn name(&self) -> &'static str {
        "Signal"
    }

    fn on_bar(&mut self, _ctx: &Context<'_>, _bar: &Bar, _out: &mut Actions) {}

    fn on_signal(
        &mut self,
        ctx: &Context<'_>,
        signal: &Signal,
        out: &mut Actions,
    ) -> SignalOutcome {
        if !self.config.takes(signal.action) {
            return SignalOutcome::Skipped(format!(
                "the strategy does not take {} signals",
                signal.action
            ));
        }
        match signal.action {
            SignalAction::Enter => {
                if let Some(max) = self.config.max_position
                    && ctx.position >= max
                {
                    return SignalOutcome::Skipped(format!(
                        "position {} is at its maximum {max}",
                        ctx.position
                    ));
                }
                out.enter_long();
            }
            SignalAction::Exit => {
                if !ctx.is_long() {
                    return SignalOutcome::Skipped("no position to exit".into());
                }
                out.exit_long();
            }
            SignalAction::Flatten => {
                if !ctx.is_long() && ctx.open_orders.is_empty() {
                    return SignalOutcome::Skipped("already flat".into());
                }
                if !ctx.open_orders.is_empty() {
                    out.cancel_all();
                }
                if ctx.is_long() {
                    out.exit_long();
                }
            }
        }
        SignalOutcome::Acted
    }
}
