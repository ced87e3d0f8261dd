//! Reader pins: each reader of an open journal publishes the LSN it reads at, and
//! compaction never retires the segment holding the oldest of them.
//!
//! A pin is an `Arc<AtomicU64>` shared by the reader and the registry; the registry
//! drops a slot once the reader has dropped its handle (strong count 1). A reader's
//! position only grows, so a stale value read by compaction is conservative.

use crate::error::Result;
use crate::sync::{lock, Arc, AtomicU64, Mutex, Ordering};

/// The registry of one journal's reader positions.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    /// Live pins (and pins whose reader is gone, until the next registration or scan).
    pub(crate) slots: Mutex<Vec<Arc<AtomicU64>>>,
}

/// A reader's handle on its pin: the position compaction must keep.
#[derive(Debug)]
pub(crate) struct Pin(Arc<AtomicU64>);

impl Pins {
    /// Registers a reader at `lsn` after `check` accepts it; `check` runs under the
    /// registry lock, so a concurrent compaction either counts the pin or has finished
    /// detaching segments before `check` looks at them.
    ///
    /// # Errors
    /// `check`'s error.
    pub(crate) fn register(&self, lsn: u64, check: impl FnOnce() -> Result<()>) -> Result<Pin> {
        let mut slots = lock(&self.slots);
        check()?;
        slots.retain(|p| Arc::strong_count(p) > 1);
        let pin = Arc::new(AtomicU64::new(lsn));
        slots.push(Arc::clone(&pin));
        Ok(Pin(pin))
    }

    /// The oldest position of a live reader in `slots` (the registry's locked contents).
    pub(crate) fn oldest(slots: &[Arc<AtomicU64>]) -> Option<u64> {
        slots
            .iter()
            .filter(|p| Arc::strong_count(p) > 1)
            .map(|p| p.load(Ordering::Acquire))
            .min()
    }

    /// Live readers.
    #[cfg(test)]
    fn live(&self) -> usize {
        lock(&self.slots)
            .iter()
            .filter(|p| Arc::strong_count(p) > 1)
            .count()
    }
}

impl Pin {
    /// Moves the pin forward to `lsn` (a reader entering a later segment).
    pub(crate) fn advance(&self, lsn: u64) {
        // Release: pairs with the Acquire in `Pins::oldest`.
        self.0.fetch_max(lsn, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_live_pin_counts_and_dropped_ones_do_not() {
        let pins = Pins::default();
        let a = pins.register(4096, || Ok(())).unwrap();
        let b = pins.register(100, || Ok(())).unwrap();
        assert_eq!(Pins::oldest(&lock(&pins.slots)), Some(100));
        b.advance(8192);
        assert_eq!(Pins::oldest(&lock(&pins.slots)), Some(4096));
        drop(a);
        assert_eq!(Pins::oldest(&lock(&pins.slots)), Some(8192));
        drop(b);
        assert_eq!(Pins::oldest(&lock(&pins.slots)), None);
        assert_eq!(pins.live(), 0);
    }

    #[test]
    fn a_refused_registration_leaves_no_pin() {
        let pins = Pins::default();
        let refused = pins.register(0, || {
            Err(crate::Error::InvalidOptions {
                field: "lsn",
                reason: "test".into(),
            })
        });
        assert!(refused.is_err());
        assert_eq!(pins.live(), 0);
    }
}
