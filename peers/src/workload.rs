//! The workloads every log runs, as one trait: each peer maps them onto its own API in
//! the way its documentation recommends, and says where that differs (`fairness`).
//!
//! Every payload is one 24-byte entry (`checkpoint_journal::Entry`, little-endian
//! bytes for the byte-oriented peers), so all logs store the same bytes per record.

use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use checkpoint_journal::Entry;

/// Errors from any log; the binary stops on the first one.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Result of a workload.
pub(crate) type Result<T> = std::result::Result<T, BoxError>;

/// One append (or one reference operation), taking the append's number.
pub(crate) type AppendOp = Box<dyn FnMut(u64) -> Result<()>>;

/// A log opened for group commit; dropping it closes the log.
pub(crate) struct SharedLog {
    /// Appends entry `i` of writer `t`, returning once it is durable.
    pub(crate) append: Box<dyn Fn(usize, u64) -> Result<()> + Sync>,
    /// Syncs the log has issued so far, where it counts them.
    pub(crate) syncs: Option<Box<dyn Fn() -> u64>>,
}

/// Timings of one replay.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Replay {
    /// From the start until the log was open (for a log that hands every entry to the
    /// caller while opening, the whole replay).
    pub(crate) opened: Duration,
    /// From the start until the last entry was read.
    pub(crate) total: Duration,
    /// Entries read.
    pub(crate) entries: u64,
}

/// Entries per batch in the `Sync` batch workload and in the replay data set.
pub(crate) const BATCH_LEN: usize = 1000;
/// Entries per batch in the async batch workload (against memcpy of the same bytes).
pub(crate) const ASYNC_BATCH_LEN: usize = 1024;

/// The same workloads, on one log.
pub(crate) trait Peer: Sync {
    /// Short name used in tables and file names.
    fn name(&self) -> &'static str;

    /// Whether a "sync" call makes data durable (fsync/fdatasync/msync); `false`
    /// marks the peer's sync figures as not durable.
    fn sync_is_durable(&self) -> bool {
        true
    }

    /// How the workloads map onto this log's API, for the output.
    fn fairness(&self) -> &'static str;

    /// Opens the log in `dir` for appends of `batch_len` entries, no durability asked
    /// for: the returned operation appends batch `i`. `None` where the log has no such
    /// call. The runner times the operations of all logs (and memcpy) in turn.
    fn async_appender(&self, dir: &Path, batch_len: usize) -> Result<Option<AppendOp>>;

    /// Opens the log in `dir` for appends of `batch_len` entries, each acknowledged
    /// durable: the returned operation appends batch `i`. Dropping it closes the log.
    /// The runner calls the operations of all logs (and the reference syncs) in turn,
    /// so disk load that drifts during the run hits them alike.
    fn sync_appender(&self, dir: &Path, batch_len: usize) -> Result<AppendOp>;

    /// Opens the log in `dir` for writer threads appending one entry at a time durably:
    /// `append(t, i)` appends entry `i` of writer `t` (each writer's `i` counting up
    /// from 0 across calls). `None` when the log cannot be shared between threads.
    fn group_appender(&self, dir: &Path) -> Result<Option<SharedLog>>;

    /// Writes `count` entries in batches of `BATCH_LEN` and closes the log durably.
    fn write_dataset(&self, dir: &Path, count: u64) -> Result<()>;

    /// Opens the log and reads every entry in order.
    fn replay(&self, dir: &Path) -> Result<Replay>;
}

/// Entry `i` of writer `thread`: its sequence and watermark vary, as real ones do.
#[must_use]
pub(crate) fn entry(thread: usize, i: u64) -> Entry {
    let source = u16::try_from(thread % 65_536).unwrap_or(0);
    Entry::push(source, i, i64::try_from(i).unwrap_or(i64::MAX))
}

/// `entry(thread, i)` as the 24 bytes the byte-oriented peers store.
#[must_use]
pub(crate) fn payload(thread: usize, i: u64) -> [u8; 24] {
    entry(thread, i).to_le_bytes()
}

/// Runs `threads` writers for `window`, all released at once; writer `t` calls
/// `op(t, first[t] + i)` for `i` = 0, 1, … until the window closes. Returns every
/// call's latency and the calls each writer made.
///
/// # Errors
/// The first error of any writer.
pub(crate) fn concurrent_latencies<F>(
    window: Duration,
    first: &[u64],
    op: F,
) -> Result<(Vec<Duration>, Vec<u64>)>
where
    F: Fn(usize, u64) -> Result<()> + Sync,
{
    let barrier = Barrier::new(first.len());
    let per_thread: Vec<Result<Vec<Duration>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = first
            .iter()
            .enumerate()
            .map(|(t, &first)| {
                let (barrier, op) = (&barrier, &op);
                scope.spawn(move || {
                    barrier.wait();
                    let deadline = Instant::now() + window;
                    let mut latencies = Vec::new();
                    let mut i = first;
                    while Instant::now() < deadline {
                        let start = Instant::now();
                        op(t, i)?;
                        latencies.push(start.elapsed());
                        i += 1;
                    }
                    Ok(latencies)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a writer thread panicked".into()))
            })
            .collect()
    });
    let mut all = Vec::new();
    let mut counts = Vec::with_capacity(per_thread.len());
    for latencies in per_thread {
        let latencies = latencies?;
        counts.push(latencies.len() as u64);
        all.extend(latencies);
    }
    Ok((all, counts))
}
