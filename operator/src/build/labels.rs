//! Labels on every child, following the Kubernetes recommended labels.

use std::collections::BTreeMap;

/// Labels on every child of a bot.
pub fn bot_labels(bot: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(bot);
    l.insert(
        "app.kubernetes.io/managed-by".into(),
        "tradewind-operator".into(),
    );
    l.insert("app.kubernetes.io/part-of".into(), "tradewind".into());
    l
}

/// The subset that selects a bot's worker pods (stable for the Deployment's lifetime,
/// since a Deployment selector is immutable).
pub fn selector_labels(bot: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "tradewind-bot".into()),
        ("app.kubernetes.io/instance".into(), bot.into()),
    ])
}
