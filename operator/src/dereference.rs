//! Dereference: find the Strategy and CommissionPlan a bot names, and say precisely what
//! is missing when one is not there (the bot's Ready condition carries it).

use tradewind_crds::resolved::{BotConfig, ResolveError, resolve};
use tradewind_crds::{CommissionPlan, Strategy, TradingBot};

/// Why a bot cannot be resolved yet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DereferenceError {
    /// A referenced object does not exist (yet).
    #[error("{kind} {name:?} named in spec.{field} does not exist in namespace {namespace}")]
    Missing {
        /// Kind of the missing object.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The bot field that names it.
        field: &'static str,
        /// The bot's namespace.
        namespace: String,
    },
    /// The objects do not fit together.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The bot asks for something the platform does not allow (an image off the
    /// allowlist); names the field.
    #[error("{0}")]
    ImageNotAllowed(String),
    /// The bot, or an object it references, has parameters the engine cannot use.
    #[error("{kind} {name:?} is not usable: {problems}")]
    Invalid {
        /// Kind of the object.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Every problem, each naming its field.
        problems: String,
    },
}

impl DereferenceError {
    /// The CamelCase reason for the Ready condition.
    pub fn reason(&self) -> &'static str {
        match self {
            DereferenceError::Missing {
                kind: "Strategy", ..
            } => "StrategyNotFound",
            DereferenceError::Missing { .. } => "CommissionPlanNotFound",
            DereferenceError::Resolve(_) => "InvalidReference",
            DereferenceError::ImageNotAllowed(_) => "ImageNotAllowed",
            DereferenceError::Invalid {
                kind: "Strategy", ..
            } => "InvalidStrategy",
            DereferenceError::Invalid {
                kind: "CommissionPlan",
                ..
            } => "InvalidCommissionPlan",
            DereferenceError::Invalid { .. } => "InvalidSpec",
        }
    }
}

/// Resolves `bot` against whatever the caller found for its references.
pub fn dereference(
    bot: &TradingBot,
    strategy: Option<&Strategy>,
    plan: Option<&CommissionPlan>,
) -> Result<BotConfig, DereferenceError> {
    let namespace = bot.metadata.namespace.clone().unwrap_or_default();
    let strategy = strategy.ok_or_else(|| DereferenceError::Missing {
        kind: "Strategy",
        name: bot.spec.strategy_ref.name.clone(),
        field: "strategyRef.name",
        namespace: namespace.clone(),
    })?;
    let plan = match &bot.spec.commission_plan_ref {
        None => None,
        Some(r) => Some(plan.ok_or_else(|| DereferenceError::Missing {
            kind: "CommissionPlan",
            name: r.name.clone(),
            field: "commissionPlanRef.name",
            namespace,
        })?),
    };
    let cfg = resolve(bot, strategy, plan)?;
    // The worker's own translation: what it would refuse at start is refused here.
    tradewind_config::bot(&cfg).map_err(|e| DereferenceError::Invalid {
        kind: e.kind,
        name: e.name,
        problems: e.invalid.to_string(),
    })?;
    Ok(cfg)
}
