//! `twctl env`: an environment spec ([`spec`]) becomes resources ([`resources`]); plans
//! compare them with what ARM holds ([`diff`], [`plan`]); [`engine`] reads, applies and
//! deletes; [`outputs`] are what apply leaves for installing the operator.

pub mod cost;
pub mod diff;
pub mod engine;
pub mod failover;
pub mod outputs;
pub mod plan;
pub mod resources;
pub mod spec;
