//! The background flusher of `Durability::Interval`: a thread that makes everything
//! reserved durable every interval, until stopped or until a flush fails (which poisons
//! the journal).

use std::ops::ControlFlow;
use std::time::Duration;

use super::flush_to;
use crate::append::Log;
use crate::periodic::Periodic;
use crate::sync::Arc;

/// The background flusher of `Durability::Interval`.
#[derive(Debug)]
pub(crate) struct IntervalFlusher(Option<Periodic>);

impl IntervalFlusher {
    pub(crate) fn start(log: &Arc<Log>, every: Duration) -> IntervalFlusher {
        let log = Arc::clone(log);
        let thread = Periodic::spawn("cpj-flusher", every, move || {
            let target = log.reserved_end();
            match flush_to(&log, target) {
                Ok(_) => ControlFlow::Continue(()),
                Err(e) => {
                    tracing::error!(error = %e, "interval flush failed; the journal is poisoned");
                    ControlFlow::Break(())
                }
            }
        });
        IntervalFlusher(thread.ok())
    }

    pub(crate) fn stop(&mut self) {
        if let Some(thread) = self.0.as_mut() {
            thread.stop();
        }
    }
}
