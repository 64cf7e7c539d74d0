//! Tradewind's custom resources in `tradewind.dev/v1alpha1`: [`TradingBot`], [`Strategy`]
//! and [`CommissionPlan`], their CEL validation rules, and what the operator and the worker
//! share: the condition helpers, the resolved configuration and the pod [`contract`].
//!
//! The Rust types are the source of truth: `make crds` renders `crds/manifests/*.yaml`
//! from them and a test fails when the committed YAML drifts.

#[cfg(feature = "validation")]
pub mod bundle;
pub mod conditions;
pub mod contract;
pub mod manifests;
pub mod resolved;
pub mod sweep;
pub mod v1alpha1;
#[cfg(feature = "validation")]
pub mod validation;

pub use v1alpha1::*;

/// API group of every Tradewind resource.
pub const GROUP: &str = "tradewind.dev";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";
