//! The coordinator's optional background thread: it calls `maybe_trigger` every
//! `checkpoint_interval` until the coordinator is dropped. An error stops it and is
//! kept for `background_error` (and logged): checkpointing never stops silently.

use std::time::{Duration, Instant};

use crate::sync::{lock, Arc, Condvar, Mutex};

use super::Shared;

/// The running thread and how to stop it.
#[derive(Debug)]
pub(super) struct Background {
    stop: Arc<(Mutex<bool>, Condvar)>,
    error: Arc<Mutex<Option<String>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts the thread; `None` if the config has no interval or the spawn failed
    /// (logged).
    pub(super) fn start(shared: &Arc<Shared>) -> Option<Background> {
        let every = shared.config.checkpoint_interval?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let error = Arc::new(Mutex::new(None));
        let (shared, stop2, error2) = (Arc::clone(shared), Arc::clone(&stop), Arc::clone(&error));
        let spawned = std::thread::Builder::new()
            .name("cpj-checkpoint".into())
            .spawn(move || run(&shared, &stop2, &error2, every));
        match spawned {
            Ok(handle) => Some(Background {
                stop,
                error,
                handle: Some(handle),
            }),
            Err(e) => {
                tracing::error!(error = %e, "could not start the checkpoint thread");
                *lock(&error) = Some(format!("could not start the checkpoint thread: {e}"));
                Some(Background {
                    stop,
                    error,
                    handle: None,
                })
            }
        }
    }

    pub(super) fn error(&self) -> Option<String> {
        lock(&self.error).clone()
    }

    pub(super) fn stop(&mut self) {
        *lock(&self.stop.0) = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    shared: &Shared,
    stop: &(Mutex<bool>, Condvar),
    error: &Mutex<Option<String>>,
    every: Duration,
) {
    let mut stopped = lock(&stop.0);
    while !*stopped {
        stopped = match stop.1.wait_timeout(stopped, every) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
        if *stopped {
            break;
        }
        if let Err(e) = shared.maybe_trigger(Instant::now()) {
            tracing::error!(error = %e, "periodic checkpoint failed; the checkpoint thread stops");
            *lock(error) = Some(e.to_string());
            break;
        }
    }
}
