//! Signal configuration (the Strategy resource's `signal` member).

use crate::fixed::Quantity;
use crate::strategy::config::ConfigError;

use super::SignalAction;

/// Which signal actions the strategy takes, and an optional cap on the position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalConfig {
    actions: Vec<SignalAction>,
    /// An entry is skipped while the position is at or above this base quantity.
    pub max_position: Option<Quantity>,
}

impl SignalConfig {
    /// Checks that at least one action is taken, none twice, and that a maximum position
    /// is greater than zero.
    pub fn new(
        actions: Vec<SignalAction>,
        max_position: Option<Quantity>,
    ) -> Result<Self, ConfigError> {
        if actions.is_empty() {
            return Err(ConfigError::new(
                "signal.actions",
                "must list at least one of enter, exit, flatten",
            ));
        }
        let mut sorted = actions.clone();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::new(
                "signal.actions",
                format!("{} is listed twice", w[0]),
            ));
        }
        if max_position.is_some_and(|q| q.is_zero()) {
            return Err(ConfigError::new(
                "signal.maxPosition",
                "must be greater than zero",
            ));
        }
        Ok(Self {
            actions: sorted,
            max_position,
        })
    }

    /// Whether signals asking for `action` are acted on.
    pub fn takes(&self, action: SignalAction) -> bool {
        self.actions.contains(&action)
    }

    /// The actions taken, in declaration order.
    pub fn actions(&self) -> &[SignalAction] {
        &self.actions
    }
}
