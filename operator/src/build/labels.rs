//! Labels on every child, following the Kubernetes recommended labels (keys and the
//! selector in [`tradewind_crds::contract`]).

use std::collections::BTreeMap;

use tradewind_crds::contract::labels;
pub use tradewind_crds::contract::selector_labels;

/// Labels on every child of a bot.
pub fn bot_labels(bot: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(bot);
    l.insert(labels::MANAGED_BY.into(), labels::OPERATOR.into());
    l.insert(labels::PART_OF.into(), labels::PART_OF_VALUE.into());
    l
}
