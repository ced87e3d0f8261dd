//! The coordinator's optional background thread: it calls `maybe_trigger` every
//! `checkpoint_interval` until the coordinator is dropped. An error stops it and is
//! kept for `background_error` (and logged): checkpointing never stops silently.

use std::ops::ControlFlow;
use std::time::Instant;

use crate::periodic::Periodic;
use crate::sync::{lock, Arc, Mutex};

use super::Shared;

/// The running thread and how to stop it.
#[derive(Debug)]
pub(super) struct Background {
    thread: Option<Periodic>,
    error: Arc<Mutex<Option<String>>>,
}

impl Background {
    /// Starts the thread; `None` if the config has no interval. A failed spawn is logged
    /// and kept as the background error.
    pub(super) fn start(shared: &Arc<Shared>) -> Option<Background> {
        let every = shared.config.checkpoint_interval?;
        let error = Arc::new(Mutex::new(None));
        let (shared, error2) = (Arc::clone(shared), Arc::clone(&error));
        let spawned = Periodic::spawn("cpj-checkpoint", every, move || {
            match shared.maybe_trigger(Instant::now()) {
                Ok(_) => ControlFlow::Continue(()),
                Err(e) => {
                    tracing::error!(error = %e, "periodic checkpoint failed; the checkpoint thread stops");
                    *lock(&error2) = Some(e.to_string());
                    ControlFlow::Break(())
                }
            }
        });
        let thread = spawned
            .inspect_err(|e| {
                tracing::error!(error = %e, "could not start the checkpoint thread");
                *lock(&error) = Some(format!("could not start the checkpoint thread: {e}"));
            })
            .ok();
        Some(Background { thread, error })
    }

    pub(super) fn error(&self) -> Option<String> {
        lock(&self.error).clone()
    }

    pub(super) fn stop(&mut self) {
        if let Some(thread) = self.thread.as_mut() {
            thread.stop();
        }
    }
}
