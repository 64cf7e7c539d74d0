//! The dereference and status steps: missing references name themselves, Ready follows
//! kstatus, the worker's halt is shown and never overwritten, and a steady state needs
//! no status write.

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use tradewind_crds::conditions::{ConditionUpdate, Status, find, set_condition, types};
use tradewind_crds::validation::load_documents;
use tradewind_crds::{CommissionPlan, Phase, Strategy, TradingBot};
use tradewind_operator::dereference::{DereferenceError, dereference};
use tradewind_operator::status::{CloudState, Observed, compute, needs_write};

/// This package's directory, read when the test runs (cargo and nextest set it), not when
/// it was compiled: a test binary reused from another checkout must not read that tree.
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("run the tests through cargo"),
    )
}

fn root() -> PathBuf {
    manifest_dir().join("..")
}

fn one<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let doc = load_documents(&root().join(file)).unwrap().remove(0);
    serde_json::from_value(doc.value).unwrap()
}

fn bot() -> TradingBot {
    let mut b: TradingBot = one("examples/bots/paper.yaml");
    b.metadata.namespace = Some("trading".into());
    b.metadata.uid = Some("u-1".into());
    b.metadata.generation = Some(3);
    b
}

fn at(s: i64) -> Time {
    Time(Timestamp::from_second(s).unwrap())
}

fn available() -> DeploymentStatus {
    DeploymentStatus {
        available_replicas: Some(1),
        ready_replicas: Some(1),
        replicas: Some(1),
        conditions: Some(vec![DeploymentCondition {
            type_: "Available".into(),
            status: "True".into(),
            ..DeploymentCondition::default()
        }]),
        ..DeploymentStatus::default()
    }
}

fn observed(deployment: Option<&DeploymentStatus>) -> Observed<'_> {
    Observed {
        resolution: Ok(()),
        cloud: CloudState::NotNeeded,
        deployment,
        config_hash: Some("abc".into()),
    }
}

#[test]
fn a_missing_reference_names_kind_name_and_field() {
    let b = bot();
    let err = dereference(&b, None, None).unwrap_err();
    assert_eq!(err.reason(), "StrategyNotFound");
    assert_eq!(
        err.to_string(),
        "Strategy \"rsi-reversion-14\" named in spec.strategyRef.name does not exist in namespace trading"
    );
    let strategy: Strategy = one("examples/strategies/rsi-reversion.yaml");
    let err = dereference(&b, Some(&strategy), None).unwrap_err();
    assert!(matches!(
        err,
        DereferenceError::Missing {
            kind: "CommissionPlan",
            ..
        }
    ));
    let plan: CommissionPlan = one("examples/commission-plans/tiered-referral.yaml");
    let cfg = dereference(&b, Some(&strategy), Some(&plan)).unwrap();
    assert_eq!(
        cfg.commission_plan_name.as_deref(),
        Some("tiered-with-referrals")
    );
}

#[test]
fn ready_only_when_the_worker_is_available() {
    let b = bot();
    let s = compute(&b, &observed(None), at(10));
    assert_eq!(s.observed_generation, Some(3));
    assert_eq!(s.phase, Some(Phase::Pending));
    let ready = find(&s.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "WorkerNotAvailable")
    );
    assert_eq!(ready.observed_generation, Some(3));

    let d = available();
    let s = compute(&b, &observed(Some(&d)), at(20));
    assert_eq!(s.phase, Some(Phase::Running));
    let ready = find(&s.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Reconciled")
    );
    assert_eq!(s.config_hash.as_deref(), Some("abc"));
    assert_eq!(
        s.resources.unwrap().deployment.as_deref(),
        Some("eth-rsi-paper-worker")
    );
}

#[test]
fn a_missing_reference_fails_ready_with_its_reason() {
    let b = bot();
    let o = Observed {
        resolution: Err((
            "StrategyNotFound",
            "Strategy \"x\" named in spec.strategyRef.name does not exist".into(),
        )),
        ..observed(None)
    };
    let s = compute(&b, &o, at(10));
    assert_eq!(s.phase, Some(Phase::Failed));
    let ready = find(&s.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "StrategyNotFound")
    );
    assert!(ready.message.contains("spec.strategyRef.name"));
}

#[test]
fn a_backtest_bot_is_ready_without_a_worker_and_told_how_to_run() {
    let mut b = bot();
    b.spec.mode = tradewind_crds::Mode::Backtest;
    let s = compute(&b, &observed(None), at(10));
    assert_eq!(s.phase, Some(Phase::Backtest));
    let ready = find(&s.conditions, types::READY).unwrap();
    let available = find(&s.conditions, types::AVAILABLE).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "BacktestOnly")
    );
    assert_eq!(
        (available.status.as_str(), available.reason.as_str()),
        ("False", "BacktestOnly")
    );
    assert_eq!(
        ready.message,
        format!(
            "mode Backtest runs no worker; run the backtest with `tradewind-bot backtest -f FILE --data MARKET_DATA --bot {}`, FILE holding this TradingBot, Strategy {}, CommissionPlan {}",
            b.metadata.name.as_deref().unwrap(),
            b.spec.strategy_ref.name,
            b.spec.commission_plan_ref.as_ref().unwrap().name
        )
    );
    assert_eq!(s.resources.unwrap().deployment, None, "no worker is listed");
    // A cloud failure still comes first: the bot's resources are not there.
    let failed = Observed {
        cloud: CloudState::Failed("vault refused".into()),
        ..observed(None)
    };
    let s = compute(&b, &failed, at(10));
    let ready = find(&s.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "CloudNotReady")
    );
}

#[test]
fn suspend_is_ready_false_with_reason_suspended() {
    let mut b = bot();
    b.spec.suspend = true;
    let s = compute(&b, &observed(None), at(10));
    assert_eq!(s.phase, Some(Phase::Suspended));
    let ready = find(&s.conditions, types::READY).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Suspended")
    );
}

#[test]
fn a_cloud_failure_is_reported_and_blocks_ready() {
    let b = bot();
    let d = available();
    let o = Observed {
        cloud: CloudState::Failed("Key Vault secret eth-rsi-paper: 403 Forbidden".into()),
        ..observed(Some(&d))
    };
    let s = compute(&b, &o, at(10));
    let cloud = find(&s.conditions, types::CLOUD_READY).unwrap();
    assert_eq!(
        (cloud.status.as_str(), cloud.message.as_str()),
        ("False", "Key Vault secret eth-rsi-paper: 403 Forbidden")
    );
    assert_eq!(
        find(&s.conditions, types::READY).unwrap().reason,
        "CloudNotReady"
    );
    assert_eq!(s.phase, Some(Phase::Failed));
}

#[test]
fn the_workers_halt_is_shown_never_overwritten() {
    let mut b = bot();
    let mut st = b.status.clone().unwrap_or_default();
    set_condition(
        &mut st.conditions,
        ConditionUpdate {
            type_: types::HALTED,
            status: Status::True,
            reason: "MaxDrawdown",
            message: "equity 21% below peak".into(),
        },
        Some(3),
        at(5),
    );
    b.status = Some(st);
    let d = available();
    let s = compute(&b, &observed(Some(&d)), at(10));
    assert_eq!(s.phase, Some(Phase::Halted));
    let halted = find(&s.conditions, types::HALTED).unwrap();
    assert_eq!(
        (
            halted.status.as_str(),
            halted.reason.as_str(),
            halted.last_transition_time.clone()
        ),
        ("True", "MaxDrawdown", at(5))
    );
}

#[test]
fn a_steady_state_needs_no_write_and_keeps_transition_times() {
    let mut b = bot();
    let d = available();
    let first = compute(&b, &observed(Some(&d)), at(10));
    assert!(needs_write(&b, &first));
    b.status = Some(first.clone());
    let again = compute(&b, &observed(Some(&d)), at(99));
    assert!(
        !needs_write(&b, &again),
        "a resync with nothing changed writes nothing"
    );
    assert_eq!(
        find(&again.conditions, types::READY)
            .unwrap()
            .last_transition_time,
        at(10)
    );
    // A new generation is a change (observedGeneration moves), even if nothing else does.
    b.metadata.generation = Some(4);
    let next = compute(&b, &observed(Some(&d)), at(100));
    assert!(needs_write(&b, &next));
    assert_eq!(
        find(&next.conditions, types::READY)
            .unwrap()
            .last_transition_time,
        at(10)
    );
}

#[test]
fn a_strategy_the_engine_cannot_represent_is_refused_naming_the_field() {
    let b = bot();
    let mut strategy: Strategy = one("examples/strategies/rsi-reversion.yaml");
    strategy.spec.risk = Some(tradewind_crds::RiskLimits {
        max_order_notional: Some("100.0000000001".into()),
        ..Default::default()
    });
    let plan: CommissionPlan = one("examples/commission-plans/tiered-referral.yaml");
    let err = dereference(&b, Some(&strategy), Some(&plan)).unwrap_err();
    assert_eq!(err.reason(), "InvalidStrategy");
    assert!(
        err.to_string().contains(
            "spec.risk.maxOrderNotional: money \"100.0000000001\" has 10 significant decimals"
        ),
        "{err}"
    );
}
