//! Pure API semantics: functions from objects to objects, with no I/O and no state, so
//! each rule of the Kubernetes API is tested on its own. The server calls these; they
//! never see a request, a store or a clock (times are passed in).
//!
//! - [`schema`]: structural defaulting and pruning of custom resources.
//! - [`patch`]: JSON merge patch, JSON patch and strategic merge patch (with the merge
//!   keys of the built-in kinds served).
//! - [`apply`]: server-side apply, managedFields (FieldsV1) and conflicts, and field
//!   ownership for ordinary writes.
//! - [`gc`]: garbage-collection plans for owner deletion (Background, Foreground,
//!   Orphan).
//! - [`deployment`]: Deployment condition reasons and times.
//! - [`workload`]: rollout steps, ReplicaSet/Deployment status from pods, pod phase,
//!   conditions and the `kubectl get pods` STATUS column.
//! - [`cron`]: 5-field cron schedules; [`cronjob`]: the CronJob controller's decisions.
//! - [`generation`]: `metadata.generation` and status-subresource rules.

pub mod apply;
pub mod cron;
pub mod cronjob;
pub mod deployment;
pub mod gc;
pub mod generation;
pub mod patch;
pub mod schema;
pub mod workload;
