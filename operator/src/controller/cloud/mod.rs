//! Cloud resources behind a trait: the no-cloud implementation for clusters without Azure,
//! and the Azure one ([`azure::AzureCloud`]) built on the provisioner.

use std::future::Future;
use std::pin::Pin;

use tradewind_crds::TradingBot;

use crate::status::CloudState;

/// A failed cloud call; the message names the resource and why (never a secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CloudError(pub String);

/// Boxed future returned by [`Cloud`] methods (object-safe async).
pub type CloudFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CloudError>> + Send + 'a>>;

/// Ensures and deletes a bot's Cosmos container, Key Vault secret and Service Bus topic.
pub trait Cloud: Send + Sync {
    /// Creates or updates what the bot asks for; idempotent.
    fn ensure<'a>(&'a self, bot: &'a TradingBot) -> CloudFuture<'a, CloudState>;
    /// Removes the bot's resources (called unless `deletionPolicy: Retain`); idempotent.
    fn delete<'a>(&'a self, bot: &'a TradingBot) -> CloudFuture<'a, ()>;
}

/// For clusters without Azure: nothing to create or delete.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCloud;

impl Cloud for NoCloud {
    fn ensure<'a>(&'a self, _bot: &'a TradingBot) -> CloudFuture<'a, CloudState> {
        Box::pin(async { Ok(CloudState::NotNeeded) })
    }

    fn delete<'a>(&'a self, _bot: &'a TradingBot) -> CloudFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

pub mod azure;
