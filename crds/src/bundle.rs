//! Reading a bot's configuration from YAML files: the TradingBot, its Strategy and its
//! optional CommissionPlan, validated against the CRDs (schema and CEL rules, as an API
//! server would) and resolved into one [`BotConfig`]. Used where no API server is in the
//! loop: `tradewind-bot backtest` and `tradewind-operator render`.

use std::path::PathBuf;

use crate::resolved::{BotConfig, resolve};
use crate::validation::{Document, LoadError, SchemaSet, SetupError, load_documents};
use crate::{CommissionPlan, Strategy, TradingBot};

/// Why a bot's configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read or parsed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The CRD validators could not be built (a bug in the CRDs).
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A resource breaks the CRD's rules.
    #[error("{file}: {resource} is invalid: {issues}")]
    Invalid {
        /// File.
        file: PathBuf,
        /// `Kind/name`.
        resource: String,
        /// Every issue, `; `-separated, each naming its field.
        issues: String,
    },
    /// A valid resource still did not deserialise (should not happen).
    #[error("{file}: {resource}: {reason}")]
    Decode {
        /// File.
        file: PathBuf,
        /// `Kind/name`.
        resource: String,
        /// Why.
        reason: String,
    },
    /// Not exactly one TradingBot, or the one asked for is missing.
    #[error("{0}")]
    WhichBot(String),
    /// A reference does not resolve among the given files.
    #[error("TradingBot {bot}: {kind} {name:?} (spec.{field}) is not in the given files")]
    Missing {
        /// Bot name.
        bot: String,
        /// Referenced kind.
        kind: &'static str,
        /// Referenced name.
        name: String,
        /// Referencing field.
        field: &'static str,
    },
    /// Resolution failed.
    #[error(transparent)]
    Resolve(#[from] crate::resolved::ResolveError),
}

fn decode<T: serde::de::DeserializeOwned>(doc: &Document) -> Result<T, BundleError> {
    serde_json::from_value(doc.value.clone()).map_err(|e| BundleError::Decode {
        file: doc.file.clone(),
        resource: doc.describe(),
        reason: e.to_string(),
    })
}

/// A bot as read from files, with its resolved configuration.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// The TradingBot as written.
    pub bot: TradingBot,
    /// Bot + Strategy + CommissionPlan resolved.
    pub config: BotConfig,
}

/// Loads and resolves the bot in `files` (the one named `bot`, or the only one).
pub fn load(files: &[PathBuf], bot: Option<&str>) -> Result<Bundle, BundleError> {
    let schemas = SchemaSet::tradewind()?;
    let mut bots: Vec<TradingBot> = Vec::new();
    let mut strategies: Vec<Strategy> = Vec::new();
    let mut plans: Vec<CommissionPlan> = Vec::new();
    for file in files {
        for doc in load_documents(file)? {
            let api = doc.value["apiVersion"].as_str().unwrap_or_default();
            let kind = doc.value["kind"].as_str().unwrap_or_default();
            if !schemas.knows(api, kind) {
                // A typo'd Tradewind resource is an error here, not "not in the files".
                if let Some(reason) = crate::validation::near_miss(api, kind) {
                    return Err(BundleError::Invalid {
                        file: file.clone(),
                        resource: doc.describe(),
                        issues: reason,
                    });
                }
                continue;
            }
            if let Err(issues) = schemas.validate(&doc.value) {
                let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
                return Err(BundleError::Invalid {
                    file: file.clone(),
                    resource: doc.describe(),
                    issues: issues.join("; "),
                });
            }
            match kind {
                "TradingBot" => bots.push(decode(&doc)?),
                "Strategy" => strategies.push(decode(&doc)?),
                "CommissionPlan" => plans.push(decode(&doc)?),
                _ => {}
            }
        }
    }
    let name_of = |m: &TradingBot| m.metadata.name.clone().unwrap_or_default();
    let bot = match bot {
        Some(wanted) => bots.iter().find(|b| name_of(b) == wanted).ok_or_else(|| {
            BundleError::WhichBot(format!("no TradingBot named {wanted:?} in the given files"))
        })?,
        None => match bots.as_slice() {
            [one] => one,
            [] => {
                return Err(BundleError::WhichBot(
                    "no TradingBot in the given files".into(),
                ));
            }
            many => {
                let names: Vec<String> = many.iter().map(name_of).collect();
                return Err(BundleError::WhichBot(format!(
                    "{} TradingBots in the given files ({}); pick one with --bot",
                    many.len(),
                    names.join(", ")
                )));
            }
        },
    };
    let bot_name = name_of(bot);
    let strategy = strategies
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(bot.spec.strategy_ref.name.as_str()))
        .ok_or_else(|| BundleError::Missing {
            bot: bot_name.clone(),
            kind: "Strategy",
            name: bot.spec.strategy_ref.name.clone(),
            field: "strategyRef.name",
        })?;
    let plan = match &bot.spec.commission_plan_ref {
        None => None,
        Some(r) => Some(
            plans
                .iter()
                .find(|p| p.metadata.name.as_deref() == Some(r.name.as_str()))
                .ok_or_else(|| BundleError::Missing {
                    bot: bot_name.clone(),
                    kind: "CommissionPlan",
                    name: r.name.clone(),
                    field: "commissionPlanRef.name",
                })?,
        ),
    };
    let config = resolve(bot, strategy, plan)?;
    Ok(Bundle {
        bot: bot.clone(),
        config,
    })
}
