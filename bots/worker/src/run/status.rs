//! Reports performance and the `Trading` / `Halted` conditions into the bot's
//! TradingBot status: server-side apply on `/status` under field manager
//! `tradewind-bot` (forced), naming only `status.performance` and those two conditions.
//! The operator applies its own fields (phase, Ready, resources, ...) under
//! `tradewind-operator`; conditions are a list-map keyed by `type`, so neither touches
//! the other's.
//!
//! Writes are rate-limited: at most one per `min_interval`, except at once when a
//! condition changes; identical content is never re-sent; `lastTransitionTime` moves only
//! when a condition's status does (kstatus).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use tokio::time::Instant;
use tradewind_core::fixed::Money;
use tradewind_crds::TradingBot;
use tradewind_crds::conditions::types;

/// The worker's field manager.
pub const FIELD_MANAGER: &str = "tradewind-bot";

/// One open position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionSnapshot {
    /// Symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Signed base quantity as a decimal string (negative is short), e.g. `-0.015`.
    pub quantity: String,
    /// Average entry price as a decimal string.
    pub average_price: String,
}

/// A condition as the worker decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionReport {
    /// True or False.
    pub status: bool,
    /// CamelCase reason, e.g. `DrawdownLimit`.
    pub reason: String,
    /// Human-readable detail. Never secrets.
    pub message: String,
}

impl ConditionReport {
    /// A condition with `status`, `reason` and `message`.
    pub fn new(status: bool, reason: &str, message: impl Into<String>) -> Self {
        ConditionReport {
            status,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// What the worker reports (plain data; money stays fixed-point and is formatted
/// exactly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// Cash plus marked-to-market positions.
    pub equity: Money,
    /// Realized profit and loss.
    pub realized_pnl: Money,
    /// Unrealized profit and loss.
    pub unrealized_pnl: Money,
    /// Fees paid.
    pub fees: Money,
    /// Current drawdown from the peak, in percent, as a decimal string (e.g. `3.25`).
    pub drawdown_percent: String,
    /// Open positions.
    pub positions: Vec<PositionSnapshot>,
    /// The `Trading` condition.
    pub trading: ConditionReport,
    /// The `Halted` condition.
    pub halted: ConditionReport,
}

/// Why a status report failed.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The API server refused or could not be reached.
    #[error("status of TradingBot {name}: {source}")]
    Kube {
        /// The bot.
        name: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

/// Where "now" comes from (injected in tests).
pub type Clock = Arc<dyn Fn() -> (Instant, Time) + Send + Sync>;

fn system_clock() -> (Instant, Time) {
    (Instant::now(), Time(k8s_openapi::jiff::Timestamp::now()))
}

/// Writes [`StatusSnapshot`]s into one TradingBot's status.
pub struct StatusReporter {
    api: Api<TradingBot>,
    name: String,
    min_interval: Duration,
    clock: Clock,
    last_write: Option<Instant>,
    /// Content of the last write, without times.
    last_content: Option<Value>,
    /// Per condition type: (status, lastTransitionTime) as last written or found.
    transitions: Option<BTreeMap<String, (String, Time)>>,
}

impl StatusReporter {
    /// A reporter for TradingBot `name` (in `api`'s namespace) writing at most once per
    /// `min_interval` unless a condition changes.
    pub fn new(api: Api<TradingBot>, name: &str, min_interval: Duration) -> Self {
        StatusReporter {
            api,
            name: name.to_owned(),
            min_interval,
            clock: Arc::new(system_clock),
            last_write: None,
            last_content: None,
            transitions: None,
        }
    }

    /// Replaces the clock (tests drive time by hand).
    #[cfg(test)]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Reports `snap`; returns whether a write was made. Skipped: identical content, or a
    /// performance-only change within `min_interval` of the last write (the next report
    /// after the interval carries it).
    pub async fn report(&mut self, snap: &StatusSnapshot) -> Result<bool, StatusError> {
        let err = |source| StatusError::Kube {
            name: self.name.clone(),
            source,
        };
        if self.transitions.is_none() {
            // After a restart, keep the transition times already recorded.
            let live = self.api.get_status(&self.name).await.map_err(err)?;
            let known = live
                .status
                .map(|s| s.conditions)
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.type_ == types::TRADING || c.type_ == types::HALTED)
                .map(|c| (c.type_, (c.status, c.last_transition_time)))
                .collect();
            self.transitions = Some(known);
        }
        let content = content(snap);
        if self.last_content.as_ref() == Some(&content) {
            return Ok(false);
        }
        let (now, now_time) = (self.clock)();
        let conditions_changed = self
            .last_content
            .as_ref()
            .is_none_or(|l| l["conditions"] != content["conditions"]);
        if !conditions_changed
            && self
                .last_write
                .is_some_and(|w| now.saturating_duration_since(w) < self.min_interval)
        {
            return Ok(false);
        }
        let transitions = self.transitions.get_or_insert_with(BTreeMap::new);
        let mut conditions = Vec::new();
        for (type_, c) in [
            (types::TRADING, &snap.trading),
            (types::HALTED, &snap.halted),
        ] {
            let status = if c.status { "True" } else { "False" };
            let since = match transitions.get(type_) {
                Some((s, t)) if s == status => t.clone(),
                _ => now_time.clone(),
            };
            transitions.insert(type_.to_owned(), (status.to_owned(), since.clone()));
            conditions.push(json!({
                "type": type_,
                "status": status,
                "reason": c.reason,
                "message": c.message,
                "lastTransitionTime": since,
            }));
        }
        let mut performance = content["performance"].clone();
        performance["updatedAt"] = json!(now_time);
        let patch = json!({
            "apiVersion": "tradewind.dev/v1alpha1",
            "kind": "TradingBot",
            "metadata": {"name": self.name},
            "status": {"performance": performance, "conditions": conditions},
        });
        self.api
            .patch_status(
                &self.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(err)?;
        tracing::debug!(bot = %self.name, "status reported");
        self.last_write = Some(now);
        self.last_content = Some(content);
        Ok(true)
    }
}

/// The reported content without times: what "identical" compares.
fn content(snap: &StatusSnapshot) -> Value {
    let positions: Vec<Value> = snap
        .positions
        .iter()
        .map(|p| json!({"symbol": p.symbol, "quantity": p.quantity, "averagePrice": p.average_price}))
        .collect();
    let mut performance = json!({
        "equity": snap.equity.to_string(),
        "realizedPnl": snap.realized_pnl.to_string(),
        "unrealizedPnl": snap.unrealized_pnl.to_string(),
        "fees": snap.fees.to_string(),
        "drawdownPercent": snap.drawdown_percent,
    });
    if !positions.is_empty() {
        performance["positions"] = Value::Array(positions);
    }
    let cond = |c: &ConditionReport| json!([c.status, c.reason, c.message]);
    json!({
        "performance": performance,
        "conditions": {"trading": cond(&snap.trading), "halted": cond(&snap.halted)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::PostParams;
    use std::sync::Mutex;
    use tradewind_apiserver::TestServer;
    use tradewind_crds::manifests;

    const NS: &str = "default";

    async fn cluster() -> (TestServer, Api<TradingBot>) {
        let server = TestServer::start().expect("server");
        let client = kube::Client::try_from(kube::Config::new(server.url().parse().expect("url")))
            .expect("client");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for (_, crd) in manifests::all() {
            crds.create(&PostParams::default(), &crd)
                .await
                .expect("crd");
        }
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bots/paper.yaml");
        let docs = tradewind_crds::validation::load_documents(&path).expect("example");
        let mut bot: TradingBot =
            serde_json::from_value(docs.into_iter().next().expect("doc").value).expect("bot");
        bot.metadata.namespace = Some(NS.into());
        let api = Api::<TradingBot>::namespaced(client, NS);
        api.create(&PostParams::default(), &bot).await.expect("bot");
        (server, api)
    }

    fn name(api_bot: &TradingBot) -> String {
        api_bot.metadata.name.clone().expect("name")
    }

    /// The operator's own status apply (phase, Ready, resources).
    async fn operator_applies(api: &Api<TradingBot>, bot: &str, phase: &str) {
        let patch = json!({
            "apiVersion": "tradewind.dev/v1alpha1", "kind": "TradingBot",
            "status": {"phase": phase, "observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled",
                                "message": "all objects applied", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                "resources": {"configMap": format!("{bot}-config")}},
        });
        api.patch_status(
            bot,
            &PatchParams::apply("tradewind-operator").force(),
            &Patch::Apply(&patch),
        )
        .await
        .expect("operator status");
    }

    fn snapshot(equity: &str, halted: bool) -> StatusSnapshot {
        StatusSnapshot {
            equity: Money::parse(equity).expect("money"),
            realized_pnl: Money::parse("-12.5").expect("money"),
            unrealized_pnl: Money::parse("262.75").expect("money"),
            fees: Money::parse("4.1").expect("money"),
            drawdown_percent: "1.25".into(),
            positions: vec![PositionSnapshot {
                symbol: "BTCUSDT".into(),
                quantity: "-0.015".into(),
                average_price: "64000.1".into(),
            }],
            trading: if halted {
                ConditionReport::new(false, "Halted", "drawdown limit reached")
            } else {
                ConditionReport::new(true, "Trading", "trading BTCUSDT")
            },
            halted: if halted {
                ConditionReport::new(true, "DrawdownLimit", "drawdown 12.00% over the 10% limit")
            } else {
                ConditionReport::new(false, "WithinLimits", "risk limits hold")
            },
        }
    }

    /// A clock moved by hand: (monotonic, wall) advance together.
    fn manual_clock() -> (Clock, Arc<Mutex<Duration>>) {
        let offset = Arc::new(Mutex::new(Duration::ZERO));
        let base = Instant::now();
        let wall = k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).expect("ts");
        let o = offset.clone();
        let clock: Clock = Arc::new(move || {
            let d = *o.lock().expect("lock");
            let t = wall
                .checked_add(k8s_openapi::jiff::SignedDuration::try_from(d).expect("dur"))
                .expect("ts");
            (base + d, Time(t))
        });
        (clock, offset)
    }

    fn condition<'a>(
        bot: &'a TradingBot,
        type_: &str,
    ) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        bot.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
            .unwrap_or_else(|| panic!("condition {type_}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn performance_and_conditions_land_beside_the_operators_fields() {
        let (_server, api) = cluster().await;
        let bot = name(&api.list(&Default::default()).await.expect("list").items[0]);
        operator_applies(&api, &bot, "Running").await;
        let mut r = StatusReporter::new(api.clone(), &bot, Duration::from_secs(10));
        assert!(r.report(&snapshot("10250.5", false)).await.expect("report"));
        let live = api.get_status(&bot).await.expect("get");
        let status = live.status.as_ref().expect("status");
        let perf = status.performance.as_ref().expect("performance");
        let v = serde_json::to_value(perf).expect("json");
        assert_eq!(v["equity"], "10250.50");
        assert_eq!(v["realizedPnl"], "-12.50");
        assert_eq!(v["unrealizedPnl"], "262.75");
        assert_eq!(v["fees"], "4.10");
        assert_eq!(v["drawdownPercent"], "1.25");
        assert_eq!(
            v["positions"],
            json!([{"symbol": "BTCUSDT", "quantity": "-0.015", "averagePrice": "64000.1"}])
        );
        assert!(perf.updated_at.is_some());
        assert_eq!(condition(&live, "Trading").status, "True");
        assert_eq!(condition(&live, "Halted").status, "False");
        // The operator's fields are untouched and still its own.
        let sv = serde_json::to_value(status).expect("json");
        assert_eq!(sv["phase"], "Running");
        assert_eq!(condition(&live, "Ready").reason, "Reconciled");
        assert_eq!(sv["resources"]["configMap"], format!("{bot}-config"));
        let mf = live.metadata.managed_fields.clone().unwrap_or_default();
        let fields = |m: &str| {
            mf.iter()
                .find(|e| e.manager.as_deref() == Some(m))
                .and_then(|e| e.fields_v1.as_ref())
                .map(|f| f.0.clone())
                .unwrap_or_default()
        };
        let ours = fields(FIELD_MANAGER);
        assert!(ours["f:status"].get("f:phase").is_none(), "{ours}");
        assert!(
            ours["f:status"]["f:conditions"]
                .get(r#"k:{"type":"Ready"}"#)
                .is_none()
        );
        assert!(
            ours["f:status"]["f:conditions"]
                .get(r#"k:{"type":"Trading"}"#)
                .is_some()
        );
        let theirs = fields("tradewind-operator");
        assert!(theirs["f:status"].get("f:phase").is_some(), "{theirs}");
        assert!(
            theirs["f:status"].get("f:performance").is_none(),
            "{theirs}"
        );
        // The operator applies again: our fields survive it.
        operator_applies(&api, &bot, "Failed").await;
        let live = api.get_status(&bot).await.expect("get");
        let sv = serde_json::to_value(live.status.as_ref().expect("status")).expect("json");
        assert_eq!(sv["phase"], "Failed");
        assert_eq!(sv["performance"]["equity"], "10250.50");
        assert_eq!(condition(&live, "Trading").status, "True");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_are_rate_limited_unless_a_condition_changes() {
        let (server, api) = cluster().await;
        let bot = name(&api.list(&Default::default()).await.expect("list").items[0]);
        let (clock, offset) = manual_clock();
        let advance = |d: u64| *offset.lock().expect("lock") += Duration::from_secs(d);
        let patches = || server.handle().count("patch", "tradingbots/status");
        let mut r =
            StatusReporter::new(api.clone(), &bot, Duration::from_secs(10)).with_clock(clock);
        assert!(r.report(&snapshot("100", false)).await.expect("first"));
        assert_eq!(patches(), 1);
        let first = condition(&api.get_status(&bot).await.expect("get"), "Trading")
            .last_transition_time
            .clone();
        // Performance changes within the interval: not written.
        advance(3);
        assert!(!r.report(&snapshot("101", false)).await.expect("skip"));
        advance(3);
        assert!(!r.report(&snapshot("102", false)).await.expect("skip"));
        assert_eq!(patches(), 1);
        // After the interval the latest one is.
        advance(5);
        assert!(r.report(&snapshot("103", false)).await.expect("write"));
        assert_eq!(patches(), 2);
        // Identical content is never re-sent, however long after.
        advance(60);
        assert!(!r.report(&snapshot("103", false)).await.expect("same"));
        assert_eq!(patches(), 2);
        let live = api.get_status(&bot).await.expect("get");
        assert_eq!(
            serde_json::to_value(live.status.as_ref().expect("s")).expect("json")["performance"]["equity"],
            "103.00"
        );
        assert_eq!(
            condition(&live, "Trading").last_transition_time,
            first,
            "kept"
        );
        // A halt is written at once, inside the interval: Halted=True, Trading=False.
        advance(1);
        assert!(r.report(&snapshot("90", true)).await.expect("halt"));
        assert_eq!(patches(), 3);
        let live = api.get_status(&bot).await.expect("get");
        let (trading, halted) = (condition(&live, "Trading"), condition(&live, "Halted"));
        assert_eq!(
            (trading.status.as_str(), halted.status.as_str()),
            ("False", "True")
        );
        assert_eq!(halted.reason, "DrawdownLimit");
        assert_ne!(trading.last_transition_time, first, "moved with the status");
        // A new reporter (a restarted worker) keeps the recorded transition times.
        let halted_since = halted.last_transition_time.clone();
        let (clock2, offset2) = manual_clock();
        *offset2.lock().expect("lock") = Duration::from_secs(500);
        let mut r2 =
            StatusReporter::new(api.clone(), &bot, Duration::from_secs(10)).with_clock(clock2);
        assert!(r2.report(&snapshot("91", true)).await.expect("write"));
        let live = api.get_status(&bot).await.expect("get");
        assert_eq!(
            condition(&live, "Halted").last_transition_time,
            halted_since
        );
    }
}
