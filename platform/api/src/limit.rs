//! Token buckets (governor's GCRA) per client address and per caller. A refusal says
//! when to retry (`Retry-After`, whole seconds, at least 1).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};

use crate::auth::Caller;
use crate::problem::ApiError;

/// A bucket: refilled at `per_second`, holding at most `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Requests per second, sustained.
    pub per_second: u32,
    /// Requests at once.
    pub burst: u32,
}

impl Rate {
    fn quota(self) -> Quota {
        let one = NonZeroU32::MIN;
        Quota::per_second(NonZeroU32::new(self.per_second).unwrap_or(one))
            .allow_burst(NonZeroU32::new(self.burst).unwrap_or(one))
    }
}

type Keyed = RateLimiter<
    String,
    governor::state::keyed::HashMapStateStore<String>,
    DefaultClock,
    governor::middleware::NoOpMiddleware<<DefaultClock as Clock>::Instant>,
>;

/// The two sets of buckets.
pub struct Limits {
    by_address: Keyed,
    by_caller: Keyed,
    clock: DefaultClock,
}

impl Limits {
    /// Buckets at these rates.
    pub fn new(per_address: Rate, per_caller: Rate) -> Self {
        Limits {
            by_address: RateLimiter::hashmap(per_address.quota()),
            by_caller: RateLimiter::hashmap(per_caller.quota()),
            clock: DefaultClock::default(),
        }
    }

    fn check(&self, limiter: &Keyed, key: String, what: &'static str) -> Result<(), ApiError> {
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::RateLimited {
                what,
                retry_after: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
            }
        })
    }

    /// Takes a token from the client address's bucket.
    pub fn check_address(&self, address: &str) -> Result<(), ApiError> {
        self.check(&self.by_address, address.to_owned(), "client address")
    }

    /// Takes a token from the caller's bucket.
    pub fn check_caller(&self, caller: &Caller) -> Result<(), ApiError> {
        let what = match caller {
            Caller::Key { .. } => "API key",
            Caller::User { .. } => "user",
        };
        self.check(&self.by_caller, caller.label(), what)
    }

    /// Drops full buckets (callers idle long enough), so the maps do not grow forever.
    pub fn forget_idle(&self) {
        self.by_address.retain_recent();
        self.by_caller.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_retry_time() {
        let l = Limits::new(
            Rate {
                per_second: 1,
                burst: 2,
            },
            Rate {
                per_second: 1,
                burst: 1,
            },
        );
        assert!(l.check_address("10.0.0.1").is_ok());
        assert!(l.check_address("10.0.0.1").is_ok());
        match l.check_address("10.0.0.1") {
            Err(ApiError::RateLimited { retry_after, what }) => {
                assert_eq!(what, "client address");
                assert_eq!(retry_after, 1);
            }
            other => panic!("{other:?}"),
        }
        // Another address has its own bucket.
        assert!(l.check_address("10.0.0.2").is_ok());
    }
}
