//! Tradewind's Azure client: the Resource Manager client ([`arm`]), credentials and
//! transport, Key Vault secrets, Azure naming rules and the operator's per-bot resources.
//! The operator and the worker link this; `twctl`'s environment engine lives apart, in
//! `tradewind-twctl`.

#[cfg(feature = "cli")]
pub mod args;
pub mod arm;
pub mod blob;
pub mod bot;
pub mod cloud;
pub mod cosmos;
pub mod credential;
pub mod keyvault;
pub mod names;
pub mod transport;
