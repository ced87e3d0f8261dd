//! `AsyncTail`: a `futures_core::Stream` of the frames a journal publishes, from an LSN
//! on, that sleeps (without blocking a worker thread) while nothing new is published
//! and is woken by the next publication (see the parent module for the protocol).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::append::Log;
use crate::error::Result;
use crate::reader::{Frame, Reader};
use crate::sync::{Arc, Ordering};

/// A sleep until the next publication.
type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Frames in LSN order from a starting LSN, following the writer; never ends by itself
/// (drop it to stop). Ends after yielding an error. From [`crate::Journal::tail_async`].
pub struct AsyncTail {
    log: Arc<Log>,
    reader: Reader,
    sleep: Option<Sleep>,
    /// Counted in `tails_waiting` (while `sleep` is pending).
    counted: bool,
    done: bool,
}

impl std::fmt::Debug for AsyncTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTail")
            .field("position", &self.reader.position())
            .field("sleeping", &self.sleep.is_some())
            .finish_non_exhaustive()
    }
}

impl AsyncTail {
    pub(crate) fn new(log: Arc<Log>, reader: Reader) -> AsyncTail {
        AsyncTail {
            log,
            reader,
            sleep: None,
            counted: false,
            done: false,
        }
    }

    /// The LSN of the next frame.
    #[must_use]
    pub fn position(&self) -> crate::Lsn {
        self.reader.position()
    }

    fn count(&mut self, waiting: bool) {
        if waiting != self.counted {
            let tails = &self.log.wake.tails_waiting;
            if waiting {
                tails.fetch_add(1, Ordering::SeqCst);
            } else {
                tails.fetch_sub(1, Ordering::SeqCst);
            }
            self.counted = waiting;
        }
    }

    /// The next published frame, if any; an error ends the stream.
    fn next_published(&mut self) -> Option<Result<Frame>> {
        match self.reader.try_next() {
            Ok(frame) => frame.map(Ok),
            Err(e) => {
                self.done = true;
                self.count(false);
                Some(Err(e))
            }
        }
    }

    /// Nothing is published at the position: registers for the next publication, then
    /// looks again. `Ready` with a frame found meanwhile, or `Pending` (asleep, or
    /// re-polled at once while an append is in flight).
    fn register(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>> {
        self.count(true);
        let log = Arc::clone(&self.log);
        let mut sleep: Sleep = Box::pin(async move { log.wake.published.notified().await });
        if sleep.as_mut().poll(cx).is_ready() {
            self.count(false);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // After the count: every later reservation sees it (see the parent module).
        let reserved = self.log.reserved_end_via(crate::region::Tail::sync_point);
        if let Some(item) = self.next_published() {
            self.count(false);
            return Poll::Ready(Some(item));
        }
        if reserved > self.reader.position() {
            // Reserved before the count was visible, not yet published: look again soon.
            self.count(false);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.sleep = Some(sleep);
        Poll::Pending
    }
}

impl Stream for AsyncTail {
    type Item = Result<Frame>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(sleep) = this.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
            this.count(false);
        }
        match this.next_published() {
            Some(item) => Poll::Ready(Some(item)),
            None => this.register(cx),
        }
    }
}

impl Drop for AsyncTail {
    fn drop(&mut self) {
        self.count(false);
    }
}
