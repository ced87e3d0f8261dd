//! The durable lag in time: how long the oldest appended-but-not-durable frame has
//! waited, at most.
//!
//! Nothing on the append path records it. The flush leader notes, once per successful
//! sync, the moment just before it walked the published frontier to the position it then
//! synced to: from that moment on, every frame published before the walk is durable (the
//! durable frontier caught up with the published one as it stood then). A frame that is
//! published but not durable now was not published at that walk, so it has waited at
//! most `now - caught_up`. [`LagClock::lag`] gives that while `published > durable`, and
//! zero when nothing is pending.
//!
//! Before the first sync, `caught_up` is the journal's open: everything recovered is
//! durable, so a pending frame was appended after it.

use std::time::{Duration, Instant};

use crate::sync::StatCell;

/// When the durable frontier last caught up with the published frontier.
#[derive(Debug)]
pub(crate) struct LagClock {
    /// The clock's origin (the frontier's creation, at open).
    origin: Instant,
    /// Nanoseconds after `origin` of the last catch-up. Written by the flush leader
    /// (one at a time, under the flush lock); read by `stats()`.
    caught_up_ns: StatCell,
}

impl Default for LagClock {
    fn default() -> LagClock {
        LagClock {
            origin: Instant::now(),
            caught_up_ns: StatCell::default(),
        }
    }
}

impl LagClock {
    /// Records a sync that made durable everything published at `walked_at`. Called by
    /// the flush leader after a successful sync, once per flush.
    pub(crate) fn caught_up(&self, walked_at: Instant) {
        let ns = walked_at.saturating_duration_since(self.origin).as_nanos();
        self.caught_up_ns
            .raise_to(u64::try_from(ns).unwrap_or(u64::MAX));
    }

    /// The longest any frame published before `now` and not durable can have waited:
    /// zero when `published <= durable`, else the time since the last catch-up.
    pub(crate) fn lag(&self, published: u64, durable: u64, now: Instant) -> Duration {
        if published <= durable {
            return Duration::ZERO;
        }
        let since_origin = now.saturating_duration_since(self.origin);
        since_origin.saturating_sub(Duration::from_nanos(self.caught_up_ns.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_zero_when_nothing_is_pending_and_counts_from_the_last_catch_up() {
        let clock = LagClock::default();
        let t0 = clock.origin;
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(clock.lag(100, 100, at(50)), Duration::ZERO);
        // Pending since open: counted from the open.
        assert_eq!(clock.lag(200, 100, at(50)), Duration::from_millis(50));
        clock.caught_up(at(30));
        assert_eq!(clock.lag(200, 100, at(50)), Duration::from_millis(20));
        // A catch-up noted late never moves the clock back.
        clock.caught_up(at(10));
        assert_eq!(clock.lag(200, 100, at(50)), Duration::from_millis(20));
        assert_eq!(clock.lag(200, 200, at(90)), Duration::ZERO);
        // A reading from before the catch-up is not negative.
        assert_eq!(clock.lag(300, 200, at(20)), Duration::ZERO);
    }
}
