//! A background thread that runs a task every interval until it is stopped: the
//! `Interval` flusher, the stats-file and metrics publishers, and the coordinator's
//! periodic checkpoints.

use std::ops::ControlFlow;
use std::time::Duration;

use crate::sync::{lock, Arc, Condvar, Mutex};

/// A running periodic thread and how to stop it.
#[derive(Debug)]
pub(crate) struct Periodic {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Periodic {
    /// Spawns the thread `name`, which waits `every`, then calls `tick`, until it is
    /// stopped or `tick` breaks. A tick runs to its end before `stop` returns.
    ///
    /// # Errors
    /// The spawn's error.
    pub(crate) fn spawn(
        name: &str,
        every: Duration,
        mut tick: impl FnMut() -> ControlFlow<()> + Send + 'static,
    ) -> std::io::Result<Periodic> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut stopped = lock(&stop2.0);
                loop {
                    stopped = match stop2.1.wait_timeout(stopped, every) {
                        Ok((g, _)) => g,
                        Err(p) => p.into_inner().0,
                    };
                    if *stopped || tick().is_break() {
                        break;
                    }
                }
            })?;
        Ok(Periodic {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread and waits for it (after the tick under way, if any).
    pub(crate) fn stop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
