//! `meta/v1` Condition helpers shared by the operator and the worker.
//!
//! kstatus rules: every condition carries the generation it was computed for, and
//! `lastTransitionTime` moves only when `status` changes, so watchers (Flux, Argo CD,
//! `kubectl wait`) can tell a flap from a steady state.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types used on Tradewind resources.
pub mod types {
    /// The resource is fully reconciled and working.
    pub const READY: &str = "Ready";
    /// The bot's Azure resources exist (or none are needed).
    pub const CLOUD_READY: &str = "CloudReady";
    /// The worker Deployment has its replica available.
    pub const AVAILABLE: &str = "Available";
    /// The worker is trading (reported by the worker).
    pub const TRADING: &str = "Trading";
    /// The worker halted trading, e.g. a risk kill switch fired (reported by the worker).
    pub const HALTED: &str = "Halted";
}

/// Status of a condition: `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell yet.
    Unknown,
}

impl Status {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

impl From<bool> for Status {
    fn from(b: bool) -> Self {
        if b { Status::True } else { Status::False }
    }
}

/// The part of a condition a controller decides; the helper fills in the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionUpdate<'a> {
    /// Condition type, e.g. [`types::READY`].
    pub type_: &'a str,
    /// True, False or Unknown.
    pub status: Status,
    /// CamelCase reason, e.g. `StrategyNotFound`.
    pub reason: &'a str,
    /// Human-readable detail. Must never contain secrets.
    pub message: String,
}

/// Sets a condition in `conditions`, keeping `lastTransitionTime` unless the status changed.
///
/// Returns whether anything in the list changed, so callers can skip a status write
/// when nothing did. `now` is passed in so the function stays pure and testable.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    update: ConditionUpdate<'_>,
    observed_generation: Option<i64>,
    now: Time,
) -> bool {
    let status = update.status.as_str();
    match conditions.iter_mut().find(|c| c.type_ == update.type_) {
        Some(existing) => {
            let transition = existing.status != status;
            let changed = transition
                || existing.reason != update.reason
                || existing.message != update.message
                || existing.observed_generation != observed_generation;
            if changed {
                if transition {
                    existing.last_transition_time = now;
                }
                existing.status = status.to_owned();
                existing.reason = update.reason.to_owned();
                existing.message = update.message;
                existing.observed_generation = observed_generation;
            }
            changed
        }
        None => {
            conditions.push(Condition {
                type_: update.type_.to_owned(),
                status: status.to_owned(),
                reason: update.reason.to_owned(),
                message: update.message,
                observed_generation,
                last_transition_time: now,
            });
            true
        }
    }
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == Status::True.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn ready(status: Status, reason: &'static str) -> ConditionUpdate<'static> {
        ConditionUpdate {
            type_: types::READY,
            status,
            reason,
            message: format!("reason {reason}"),
        }
    }

    #[test]
    fn adds_a_missing_condition_with_generation_and_time() {
        let mut conds = Vec::new();
        assert!(set_condition(
            &mut conds,
            ready(Status::False, "Pending"),
            Some(3),
            at(10)
        ));
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0].type_, "Ready");
        assert_eq!(conds[0].status, "False");
        assert_eq!(conds[0].observed_generation, Some(3));
        assert_eq!(conds[0].last_transition_time, at(10));
    }

    #[test]
    fn identical_update_changes_nothing() {
        let mut conds = Vec::new();
        set_condition(
            &mut conds,
            ready(Status::True, "Reconciled"),
            Some(1),
            at(10),
        );
        let before = conds.clone();
        assert!(!set_condition(
            &mut conds,
            ready(Status::True, "Reconciled"),
            Some(1),
            at(99)
        ));
        assert_eq!(conds, before);
    }

    #[test]
    fn reason_change_keeps_transition_time() {
        let mut conds = Vec::new();
        set_condition(&mut conds, ready(Status::False, "Pending"), Some(1), at(10));
        assert!(set_condition(
            &mut conds,
            ready(Status::False, "StrategyNotFound"),
            Some(1),
            at(20)
        ));
        assert_eq!(conds[0].reason, "StrategyNotFound");
        assert_eq!(conds[0].last_transition_time, at(10));
    }

    #[test]
    fn generation_change_keeps_transition_time() {
        let mut conds = Vec::new();
        set_condition(
            &mut conds,
            ready(Status::True, "Reconciled"),
            Some(1),
            at(10),
        );
        assert!(set_condition(
            &mut conds,
            ready(Status::True, "Reconciled"),
            Some(2),
            at(20)
        ));
        assert_eq!(conds[0].observed_generation, Some(2));
        assert_eq!(conds[0].last_transition_time, at(10));
    }

    #[test]
    fn status_change_moves_transition_time() {
        let mut conds = Vec::new();
        set_condition(&mut conds, ready(Status::False, "Pending"), Some(1), at(10));
        assert!(set_condition(
            &mut conds,
            ready(Status::True, "Reconciled"),
            Some(1),
            at(20)
        ));
        assert_eq!(conds[0].status, "True");
        assert_eq!(conds[0].last_transition_time, at(20));
    }

    #[test]
    fn other_conditions_are_left_alone() {
        let mut conds = Vec::new();
        set_condition(
            &mut conds,
            ConditionUpdate {
                type_: types::HALTED,
                status: Status::True,
                reason: "MaxDrawdown",
                message: "drawdown 21% > 20%".into(),
            },
            Some(1),
            at(5),
        );
        set_condition(
            &mut conds,
            ready(Status::True, "Reconciled"),
            Some(1),
            at(10),
        );
        assert_eq!(conds.len(), 2);
        assert!(is_true(&conds, types::HALTED));
        assert_eq!(
            find(&conds, types::HALTED).unwrap().last_transition_time,
            at(5)
        );
        assert!(!is_true(&conds, types::TRADING));
    }
}
