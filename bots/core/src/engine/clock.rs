//! Time for the engine. Strategies never read the wall clock: they get time from the
//! engine's clock, so the same code is deterministic in a backtest and live.

use crate::data::UnixNanos;

/// A source of the current time.
pub trait Clock {
    /// Now, in nanoseconds since the UNIX epoch.
    fn now(&self) -> UnixNanos;
}

/// A clock the backtest moves forward with the data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimulatedClock {
    now: UnixNanos,
}

impl SimulatedClock {
    /// Moves the clock to `ts`; time never goes backwards.
    pub fn advance_to(&mut self, ts: UnixNanos) {
        self.now = self.now.max(ts);
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> UnixNanos {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards() {
        let mut c = SimulatedClock::default();
        c.advance_to(10);
        c.advance_to(5);
        assert_eq!(c.now(), 10);
    }
}
