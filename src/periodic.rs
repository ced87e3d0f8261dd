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
                // Checked before every wait: a stop that came before this thread took
                // the lock has already notified, and waiting would miss it.
                while !*stopped {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{AtomicU64, Ordering};

    #[test]
    fn a_stop_right_after_the_spawn_is_not_missed_and_no_tick_runs() {
        for _ in 0..50 {
            let ticks = Arc::new(AtomicU64::new(0));
            let counted = Arc::clone(&ticks);
            let started = std::time::Instant::now();
            let mut thread = Periodic::spawn("cpj-test", Duration::from_secs(3600), move || {
                counted.fetch_add(1, Ordering::Relaxed);
                ControlFlow::Continue(())
            })
            .expect("spawn");
            thread.stop();
            assert!(started.elapsed() < Duration::from_secs(60));
            assert_eq!(ticks.load(Ordering::Relaxed), 0);
        }
    }

    #[test]
    fn ticks_until_the_tick_breaks() {
        let ticks = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&ticks);
        let mut thread = Periodic::spawn("cpj-test", Duration::from_millis(1), move || {
            if counted.fetch_add(1, Ordering::Relaxed) + 1 == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("spawn");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while ticks.load(Ordering::Relaxed) < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        thread.stop();
        assert_eq!(ticks.load(Ordering::Relaxed), 3);
    }
}
