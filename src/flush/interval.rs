//! The background flusher of `Durability::Interval`: a thread that makes everything
//! reserved durable every interval, until stopped.

use std::time::Duration;

use super::flush_to;
use crate::append::Log;
use crate::sync::{lock, Arc, Condvar, Mutex};

/// The background flusher of `Durability::Interval`.
#[derive(Debug)]
pub(crate) struct IntervalFlusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl IntervalFlusher {
    pub(crate) fn start(log: &Arc<Log>, every: Duration) -> IntervalFlusher {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let log = Arc::clone(log);
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("cpj-flusher".into())
            .spawn(move || interval_loop(&log, &stop2, every))
            .ok();
        IntervalFlusher { stop, handle }
    }

    pub(crate) fn stop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn interval_loop(log: &Log, stop: &(Mutex<bool>, Condvar), every: Duration) {
    let mut stopped = lock(&stop.0);
    while !*stopped {
        stopped = match stop.1.wait_timeout(stopped, every) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
        if *stopped {
            break;
        }
        let target = log.reserved_end();
        if let Err(e) = flush_to(log, target) {
            tracing::error!(error = %e, "interval flush failed; the journal is poisoned");
            break;
        }
    }
}
