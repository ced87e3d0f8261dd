//! The summarizer: a thread that writes the summary of each segment once the durable
//! frontier has passed its end (the segment is full and every byte of it is durable),
//! off the append path; and the same pass run once more at close, after the last flush.
//!
//! Segments are handled in LSN order from a cursor (`next`), so each is read once. A
//! segment that cannot be summarized (damaged, or too many record frames) is logged and
//! skipped: open scans it. A summary written while compaction retires its segment is
//! removed again (the segment table is checked after the rename; retirement removes the
//! segment from the table before it removes the summary), so no summary outlives its
//! segment except across a crash, and open removes such orphans.

use std::collections::BTreeSet;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use crate::append::Log;
use crate::recovery::RecoveryReport;
use crate::segment::Segment;
use crate::sync::{lock, Arc, Mutex};

use super::compute::NotSummarized;

/// Pause between two looks at the durable frontier.
const TICK: Duration = Duration::from_millis(50);

/// Which segments still need a summary.
#[derive(Debug, Default)]
struct Cursor {
    /// Every segment below this LSN was handled.
    next: u64,
    /// Segments at or after `next` that already have a valid summary.
    present: BTreeSet<u64>,
}

/// The summarizer thread; stopped (and joined) by [`Summarizer::stop`].
#[derive(Debug)]
pub(crate) struct Summarizer {
    cursor: Arc<Mutex<Cursor>>,
    stop: Option<mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Summarizer {
    /// Starts the thread. `report` (the open's) says which segments already have a
    /// valid summary: those that open folded, and those before the replay start that
    /// have a summary file (open did not read them).
    pub(crate) fn start(log: &Arc<Log>, report: &RecoveryReport) -> Summarizer {
        let cursor = Arc::new(Mutex::new(Cursor {
            next: 0,
            present: present_summaries(log, report),
        }));
        let (tx, rx) = mpsc::channel::<()>();
        let (log2, cursor2) = (Arc::clone(log), Arc::clone(&cursor));
        let spawned = std::thread::Builder::new()
            .name("cpj-summarize".into())
            .spawn(move || run_loop(&rx, &log2, &cursor2));
        let handle = spawned
            .map_err(|e| tracing::warn!(error = %e, "could not start the segment summarizer"))
            .ok();
        Summarizer {
            cursor,
            stop: Some(tx),
            handle,
        }
    }

    /// Stops the thread after the summary under way, if any, and waits for it.
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }

    /// Summarizes every segment that is durable to its end and has no summary yet
    /// (close runs it after its last flush).
    pub(crate) fn catch_up(&self, log: &Log) -> usize {
        catch_up(log, &self.cursor)
    }
}

/// The bases of the segments whose summary on disk is good to keep: every summary file
/// except those open reported as unusable (they are rewritten).
fn present_summaries(log: &Log, report: &RecoveryReport) -> BTreeSet<u64> {
    let Ok(listing) = super::list(&*log.storage, &log.dir) else {
        return BTreeSet::new();
    };
    let unusable: BTreeSet<u64> = report
        .summary_fallbacks
        .iter()
        .filter_map(|f| f.segment.file_name())
        .filter_map(crate::segment::parse_name)
        .collect();
    listing
        .summaries
        .into_iter()
        .map(|(base, _)| base)
        .filter(|base| !unusable.contains(base))
        .collect()
}

fn run_loop(rx: &mpsc::Receiver<()>, log: &Log, cursor: &Mutex<Cursor>) {
    loop {
        match rx.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if log.frontier.check_poison().is_err() {
            return;
        }
        catch_up(log, cursor);
    }
}

/// One pass: summarizes, in LSN order, the segments from the cursor on whose end the
/// durable frontier has passed; returns how many summaries were written.
fn catch_up(log: &Log, cursor: &Mutex<Cursor>) -> usize {
    let mut cursor = lock(cursor);
    let mut written = 0;
    while let Some(seg) = next_due(log, cursor.next) {
        debug_assert!(seg.end() <= log.frontier.durable().0);
        cursor.next = seg.end();
        if cursor.present.remove(&seg.base()) {
            continue;
        }
        written += usize::from(summarize(log, &seg));
    }
    let next = cursor.next;
    cursor.present.retain(|base| *base >= next);
    written
}

/// The first segment at or after `next` if the durable frontier has passed its end.
fn next_due(log: &Log, next: u64) -> Option<Arc<Segment>> {
    let durable = log.frontier.durable().0;
    let table = lock(&log.segments);
    let (_, seg) = table.by_base.range(next..).next()?;
    (seg.end() <= durable).then(|| Arc::clone(seg))
}

/// Writes the summary of `seg`; `false` if it was not written (logged).
fn summarize(log: &Log, seg: &Segment) -> bool {
    let summary = match super::compute(seg) {
        Ok(s) => s,
        Err(NotSummarized::Invalid(lsn)) => {
            tracing::warn!(path = %seg.path.display(), lsn, "not summarizing a segment with a frame that does not validate; `cpj verify` reports it");
            return false;
        }
        Err(NotSummarized::TooLarge(records)) => {
            tracing::debug!(path = %seg.path.display(), records, "segment not summarized: too many record frames");
            return false;
        }
    };
    if let Err(e) = super::write(&*log.storage, &log.dir, &summary) {
        tracing::warn!(path = %seg.path.display(), error = %e, "could not write a segment summary; open will scan the segment");
        return false;
    }
    // Compaction detaches a segment from the table before it removes its summary: a
    // summary renamed into place after that removal is seen here and removed.
    if !lock(&log.segments).by_base.contains_key(&seg.base()) {
        let _ = super::remove(&*log.storage, &log.dir, seg.base(), true);
        return false;
    }
    true
}
