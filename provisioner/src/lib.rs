//! Tradewind on Azure: the Resource Manager client ([`arm`]), credentials and transport,
//! Azure naming rules, per-bot cloud resources, and the `twctl env` engine.

pub mod arm;
pub mod bot;
pub mod cloud;
pub mod credential;
pub mod env;
pub mod keyvault;
pub mod names;
pub mod transport;
