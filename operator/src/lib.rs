//! The Tradewind operator. A reconcile is a pipeline of steps, each its own module:
//! dereference → validate → **build** → apply → status (DESIGN.md §3).
//!
//! So far this crate holds the **build** step — pure functions from a resolved bot to
//! the Kubernetes objects that run it — and the `render` command that prints them. The
//! controllers that apply them arrive with the operator issue.

pub mod build;
