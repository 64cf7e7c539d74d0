//! Which bots reference which Strategy or CommissionPlan, so a change to one of those
//! re-reconciles exactly the bots that use it — a map lookup, not a scan of every bot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;

use tradewind_crds::TradingBot;

/// The kinds a bot references.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefKind {
    /// A Strategy.
    Strategy,
    /// A CommissionPlan.
    CommissionPlan,
}

type Key = (RefKind, String, String); // kind, namespace, name

/// A thread-safe reverse index: referenced object → bots that reference it.
#[derive(Debug, Default)]
pub struct RefIndex {
    by_target: RwLock<BTreeMap<Key, BTreeSet<String>>>,
    by_bot: RwLock<BTreeMap<(String, String), Vec<Key>>>,
}

impl RefIndex {
    /// Records what `bot` references now (replacing what it referenced before).
    pub fn update(&self, bot: &TradingBot) {
        let ns = bot.metadata.namespace.clone().unwrap_or_default();
        let name = bot.metadata.name.clone().unwrap_or_default();
        let mut keys = vec![(
            RefKind::Strategy,
            ns.clone(),
            bot.spec.strategy_ref.name.clone(),
        )];
        if let Some(p) = &bot.spec.commission_plan_ref {
            keys.push((RefKind::CommissionPlan, ns.clone(), p.name.clone()));
        }
        self.remove_keys(&ns, &name);
        let mut targets = self.by_target.write().unwrap_or_else(|e| e.into_inner());
        for k in &keys {
            targets.entry(k.clone()).or_default().insert(name.clone());
        }
        self.by_bot
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((ns, name), keys);
    }

    /// Forgets a deleted bot.
    pub fn remove(&self, namespace: &str, name: &str) {
        self.remove_keys(namespace, name);
        self.by_bot
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    fn remove_keys(&self, namespace: &str, name: &str) {
        let old = self
            .by_bot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_default();
        let mut targets = self.by_target.write().unwrap_or_else(|e| e.into_inner());
        for k in old {
            if let Some(set) = targets.get_mut(&k) {
                set.remove(name);
                if set.is_empty() {
                    targets.remove(&k);
                }
            }
        }
    }

    /// How many bots the index knows.
    pub fn bot_count(&self) -> usize {
        self.by_bot.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Bots (names, in `namespace`) that reference `kind`/`name`.
    pub fn bots_for(&self, kind: RefKind, namespace: &str, name: &str) -> Vec<String> {
        self.by_target
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(kind, namespace.to_owned(), name.to_owned()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradewind_crds::TradingBotSpec;

    fn bot(name: &str, strategy: &str, plan: Option<&str>) -> TradingBot {
        let spec: TradingBotSpec = serde_json::from_value(serde_json::json!({
            "strategyRef": {"name": strategy},
            "commissionPlanRef": plan.map(|p| serde_json::json!({"name": p})),
            "accountRef": {"name": "a"},
            "venue": {"exchange": "Binance"},
            "symbols": ["BTCUSDT"],
            "mode": "Paper",
            "capital": {"amount": "1", "currency": "USDT"}
        }))
        .unwrap();
        let mut b = TradingBot::new(name, spec);
        b.metadata.namespace = Some("ns".into());
        b
    }

    #[test]
    fn tracks_references_and_their_changes() {
        let idx = RefIndex::default();
        idx.update(&bot("a", "s1", Some("p1")));
        idx.update(&bot("b", "s1", None));
        assert_eq!(idx.bots_for(RefKind::Strategy, "ns", "s1"), ["a", "b"]);
        assert_eq!(idx.bots_for(RefKind::CommissionPlan, "ns", "p1"), ["a"]);
        assert!(idx.bots_for(RefKind::Strategy, "other", "s1").is_empty());
        idx.update(&bot("a", "s2", None));
        assert_eq!(idx.bots_for(RefKind::Strategy, "ns", "s1"), ["b"]);
        assert!(idx.bots_for(RefKind::CommissionPlan, "ns", "p1").is_empty());
        idx.remove("ns", "b");
        assert!(idx.bots_for(RefKind::Strategy, "ns", "s1").is_empty());
    }
}
