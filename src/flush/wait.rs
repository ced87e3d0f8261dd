//! Waiting for the durable frontier: `wait_durable` sleeps on the frontier's condition
//! variable, woken by every flush that advances it or poisons the journal.

use std::time::Duration;

use super::Frontier;
use crate::append::Log;
use crate::error::Result;
use crate::lsn::Lsn;
use crate::sync::lock;

/// Blocks until `lsn` is durable (or `timeout` passes); returns the durable frontier.
pub(crate) fn wait_durable(log: &Log, lsn: Lsn, timeout: Duration) -> Result<Lsn> {
    log.frontier.wait_durable(lsn, timeout)
}

impl Frontier {
    /// Blocks until the frame at `lsn` is durable, the journal is poisoned, or `timeout`
    /// passes; returns the durable frontier.
    ///
    /// # Errors
    /// [`Error::Poisoned`].
    pub fn wait_durable(&self, lsn: Lsn, timeout: Duration) -> Result<Lsn> {
        let frontier = self;
        // A timeout too large to add to the clock waits without a deadline.
        let deadline = std::time::Instant::now().checked_add(timeout);
        let mut guard = lock(&frontier.waiters);
        loop {
            frontier.check_poison()?;
            let durable = frontier.durable();
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            if durable > lsn || left.is_some_and(|l| l.is_zero()) {
                return Ok(durable);
            }
            guard = match left {
                Some(left) => match frontier.durable_changed.wait_timeout(guard, left) {
                    Ok((g, _)) => g,
                    Err(poisoned) => poisoned.into_inner().0,
                },
                None => match frontier.durable_changed.wait(guard) {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                },
            };
        }
    }
}
