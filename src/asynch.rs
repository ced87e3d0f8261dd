//! The `tokio` feature: [`crate::Journal::wait_durable_async`] and [`AsyncTail`], which
//! wait without blocking a runtime worker and are woken by the flusher and by
//! publication, never by a polling timer.
//!
//! Wake-ups use `tokio::sync::Notify` (runtime-agnostic). A waiter registers (enables
//! its `Notified`) before it checks the condition, and the waker changes the condition
//! before it notifies, so a wake-up cannot fall between check and sleep:
//! - durable: the flush leader stores the frontier (or the poison flag), then
//!   [`flush::flush_to`](crate::flush) calls [`AsyncWake::after_flush`];
//! - published: an appender publishes its frame, then [`AsyncWake::after_publish`]
//!   loads `tails_waiting` (one relaxed load: the append path takes no lock and calls
//!   into `Notify` only while a tail sleeps). A tail increments `tails_waiting`, then
//!   does a read-modify-write on the reservation tail (`Log::reserved_end_via` with
//!   `Tail::sync_point`):
//!   an append whose reservation comes after that RMW reads from it (acquire) and so
//!   sees the count; one whose reservation comes before it shows up in the RMW's result
//!   as in flight, and the tail yields and looks again instead of sleeping.

mod tail;

use crate::append::Log;
use crate::error::Result;
use crate::lsn::Lsn;
use crate::sync::{AtomicU64, Ordering};

pub use tail::AsyncTail;

/// The notifiers of one journal.
#[derive(Debug, Default)]
pub(crate) struct AsyncWake {
    durable: tokio::sync::Notify,
    published: tokio::sync::Notify,
    /// Async tails asleep waiting for a publication. Written by tails (`SeqCst`); read by
    /// appenders after publishing (`Relaxed`, ordered by the tail RMW; see the module).
    tails_waiting: AtomicU64,
}

impl AsyncWake {
    /// Called by an appender after it published a frame.
    #[inline]
    pub(crate) fn after_publish(&self) {
        if self.tails_waiting.load(Ordering::Relaxed) != 0 {
            self.published.notify_waiters();
        }
    }

    /// Called after a flush ended (the durable frontier or the poison flag may have
    /// moved).
    pub(crate) fn after_flush(&self) {
        self.durable.notify_waiters();
    }
}

/// Waits until the frame at `lsn` is durable (the frontier passes it) or the journal is
/// poisoned; returns the durable frontier.
pub(crate) async fn wait_durable(log: &Log, lsn: Lsn) -> Result<Lsn> {
    loop {
        let notified = log.wake.durable.notified();
        let mut notified = std::pin::pin!(notified);
        // Registered before the check: a flush that ends after it wakes this task.
        notified.as_mut().enable();
        log.frontier.check_poison()?;
        let durable = log.frontier.durable();
        if durable > lsn {
            return Ok(durable);
        }
        notified.await;
    }
}
