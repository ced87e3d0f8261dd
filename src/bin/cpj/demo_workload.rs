//! The workload `cpj demo` runs: a stream engine's sources, one thread each, appending
//! batches of entries (`push` with increasing sequences and event times, a `watermark`
//! every few batches), and a coordinator on the calling thread that takes aligned
//! checkpoints: it raises the requested epoch, each source appends a `barrier` entry at
//! its current sequence, publishes that sequence and pauses; once every source has
//! passed the barrier the coordinator appends a `CheckpointRecord` with those positions
//! and releases the sources.
//!
//! Invariant: a source appends nothing between its barrier and the checkpoint record of
//! that epoch, so the record's positions are exactly the journal's positions at the
//! record's LSN: the record plus the entries after it restore every source.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::ProgressBar;

use checkpoint_journal::{CheckpointRecord, Entry, Journal, OperatorState};

/// First event time, Unix milliseconds.
const EVENT_TIME_BASE_MS: i64 = 1_700_000_000_000;
/// How late events may arrive: watermarks trail the newest event time by this.
const LATENESS_MS: i64 = 500;
/// A watermark entry every this many batches.
const WATERMARK_EVERY_BATCHES: u64 = 8;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub(crate) sources: u16,
    /// Push entries per source.
    pub(crate) pushes_per_source: u64,
    pub(crate) batch_entries: usize,
    /// A checkpoint after every this many entries appended (all sources together).
    pub(crate) checkpoint_every: u64,
}

/// What one source appended.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SourceTotals {
    pub(crate) sequence: u64,
    /// Highest watermark field appended (pushes carry their event time there).
    pub(crate) watermark: i64,
    pub(crate) entries: u64,
    pub(crate) pushes: u64,
    pub(crate) watermarks: u64,
    pub(crate) barriers: u64,
    pub(crate) batches: u64,
}

/// What the workload appended.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) elapsed: Duration,
    pub(crate) sources: Vec<SourceTotals>,
    pub(crate) checkpoints: u64,
    pub(crate) last_checkpoint_id: Option<u64>,
}

impl Outcome {
    pub(crate) fn total(&self, f: impl Fn(&SourceTotals) -> u64) -> u64 {
        self.sources.iter().map(f).sum()
    }
}

/// One source's barrier handshake with the coordinator.
#[derive(Debug, Default)]
struct Slot {
    /// The last epoch whose barrier this source appended.
    barrier_epoch: AtomicU64,
    barrier_sequence: AtomicU64,
    barrier_watermark: AtomicI64,
    /// Set (release) after the source's last append; its barrier fields then hold its end.
    done: AtomicBool,
}

#[derive(Debug)]
struct Shared {
    appended: AtomicU64,
    requested_epoch: AtomicU64,
    /// The last epoch whose record was appended (`u64::MAX` once the coordinator stops).
    completed_epoch: AtomicU64,
    slots: Vec<Slot>,
}

/// Runs `plan` against `journal`, drawing progress on `bar`.
///
/// # Errors
/// The first append or checkpoint that fails.
pub(crate) fn run(
    journal: &Journal,
    plan: Plan,
    bar: &ProgressBar,
) -> checkpoint_journal::Result<Outcome> {
    let shared = Shared {
        appended: AtomicU64::new(0),
        requested_epoch: AtomicU64::new(0),
        completed_epoch: AtomicU64::new(0),
        slots: (0..plan.sources).map(|_| Slot::default()).collect(),
    };
    let started = Instant::now();
    let (sources, coordinated) = thread::scope(|scope| {
        let handles: Vec<_> = (0..plan.sources)
            .map(|id| {
                let shared = &shared;
                scope.spawn(move || source(journal, plan, id, shared))
            })
            .collect();
        let coordinated = coordinate(journal, plan, &shared, bar);
        shared.completed_epoch.store(u64::MAX, Ordering::Release);
        let sources: checkpoint_journal::Result<Vec<SourceTotals>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        (sources, coordinated)
    });
    let (checkpoints, last_checkpoint_id) = coordinated?;
    Ok(Outcome {
        elapsed: started.elapsed(),
        sources: sources?,
        checkpoints,
        last_checkpoint_id,
    })
}

/// One source: batches of pushes, a watermark every few batches, a barrier when asked.
fn source(
    journal: &Journal,
    plan: Plan,
    id: u16,
    shared: &Shared,
) -> checkpoint_journal::Result<SourceTotals> {
    let slot = shared.slots.get(usize::from(id));
    let mut t = SourceTotals {
        watermark: i64::MIN,
        ..SourceTotals::default()
    };
    let mut batch = Vec::with_capacity(plan.batch_entries + 2);
    let mut epoch = 0u64;
    let result = (|| {
        while t.pushes < plan.pushes_per_source {
            batch.clear();
            let n = (plan.pushes_per_source - t.pushes).min(plan.batch_entries as u64);
            for _ in 0..n {
                t.sequence += 1;
                let event_time = event_time_ms(id, t.sequence);
                batch.push(Entry::push(id, t.sequence, event_time));
                t.watermark = t.watermark.max(event_time);
            }
            t.pushes += n;
            t.batches += 1;
            let watermark = t.watermark.saturating_sub(LATENESS_MS);
            if t.batches.is_multiple_of(WATERMARK_EVERY_BATCHES) {
                batch.push(Entry::watermark(id, t.sequence, watermark));
                t.watermarks += 1;
            }
            let requested = shared.requested_epoch.load(Ordering::Acquire);
            let barrier = requested > epoch;
            if barrier {
                batch.push(Entry::barrier(id, t.sequence, watermark));
                t.barriers += 1;
            }
            journal.append_batch(&batch)?;
            t.entries += batch.len() as u64;
            shared
                .appended
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            if let Some(slot) = slot.filter(|_| barrier) {
                slot.barrier_sequence.store(t.sequence, Ordering::Relaxed);
                slot.barrier_watermark.store(watermark, Ordering::Relaxed);
                slot.barrier_epoch.store(requested, Ordering::Release);
                epoch = requested;
                while shared.completed_epoch.load(Ordering::Acquire) < requested {
                    thread::yield_now();
                }
            }
        }
        Ok(())
    })();
    if let Some(slot) = slot {
        slot.barrier_sequence.store(t.sequence, Ordering::Relaxed);
        slot.barrier_watermark
            .store(t.watermark.saturating_sub(LATENESS_MS), Ordering::Relaxed);
        slot.done.store(true, Ordering::Release);
    }
    result.map(|()| t)
}

/// Event time of a source's record: one per 2 ms, a little out of order.
fn event_time_ms(source: u16, sequence: u64) -> i64 {
    let step = i64::try_from(sequence)
        .unwrap_or(i64::MAX / 4)
        .saturating_mul(2);
    let jitter = i64::try_from((sequence ^ u64::from(source)) % 7).unwrap_or(0);
    EVENT_TIME_BASE_MS
        .saturating_add(step)
        .saturating_sub(jitter)
}

/// The coordinator: progress, and an aligned checkpoint every `checkpoint_every` entries.
fn coordinate(
    journal: &Journal,
    plan: Plan,
    shared: &Shared,
    bar: &ProgressBar,
) -> checkpoint_journal::Result<(u64, Option<u64>)> {
    let mut epoch = 0u64;
    let mut next_at = plan.checkpoint_every;
    loop {
        let appended = shared.appended.load(Ordering::Relaxed);
        bar.set_position(appended);
        if shared.slots.iter().all(|s| s.done.load(Ordering::Acquire)) {
            return Ok((epoch, (epoch > 0).then_some(epoch)));
        }
        if appended < next_at {
            thread::sleep(Duration::from_millis(1));
            continue;
        }
        epoch += 1;
        shared.requested_epoch.store(epoch, Ordering::Release);
        while !shared.slots.iter().all(|s| passed(s, epoch)) {
            thread::yield_now();
        }
        journal.checkpoint(&record(epoch, shared))?;
        shared.completed_epoch.store(epoch, Ordering::Release);
        next_at = next_at.saturating_add(plan.checkpoint_every);
    }
}

/// Whether a source has passed the barrier of `epoch` (or finished).
fn passed(slot: &Slot, epoch: u64) -> bool {
    slot.barrier_epoch.load(Ordering::Acquire) >= epoch || slot.done.load(Ordering::Acquire)
}

/// The checkpoint record of `epoch` from the barrier positions.
fn record(epoch: u64, shared: &Shared) -> CheckpointRecord {
    let mut sequences = Vec::with_capacity(shared.slots.len());
    let mut watermarks = Vec::with_capacity(shared.slots.len());
    for (id, slot) in (0u16..).zip(&shared.slots) {
        sequences.push((id, slot.barrier_sequence.load(Ordering::Relaxed)));
        watermarks.push((id, slot.barrier_watermark.load(Ordering::Relaxed)));
    }
    let emitted: u64 = sequences.iter().map(|(_, s)| s).sum();
    CheckpointRecord {
        id: epoch,
        epoch: 1,
        created_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        source_sequences: sequences,
        sink_positions: vec![(0, emitted)],
        watermarks,
        operator_states: vec![OperatorState {
            operator_id: 1,
            state: emitted.to_le_bytes().to_vec(),
        }],
    }
}
