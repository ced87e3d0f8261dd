//! A stream engine on the journal: sources append batches of changelog entries from
//! their own threads, a coordinator takes periodic checkpoints of every source's
//! position, the process "crashes", and the restart restores each source from the last
//! checkpoint plus the entries the journal holds after it.
//!
//! The checkpoint is aligned with a gate: sources append under a shared (read) hold,
//! the coordinator captures positions, appends the barriers and the record under an
//! exclusive (write) hold. So the record's positions are exactly the journal's at the
//! record's LSN: entries before it are covered by the record, entries after it are new.
//!
//! Run it: `cargo run --release --example stream_engine`

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::RwLock;
use std::thread;
use std::time::Duration;

use checkpoint_journal::{CheckpointRecord, Entry, Frame, Journal, Op, Options};

/// Entries per appended batch.
const BATCH: usize = 128;

/// What the run appended and what the restart restored.
#[derive(Debug)]
pub(crate) struct Summary {
    /// Each source's last appended sequence.
    pub(crate) appended: BTreeMap<u16, u64>,
    /// Each source's sequence restored from the last checkpoint plus the entries after it.
    pub(crate) restored: BTreeMap<u16, u64>,
    pub(crate) checkpoints: u64,
    pub(crate) restored_from_checkpoint: u64,
    pub(crate) replayed_entries: u64,
}

/// One source's published progress.
#[derive(Debug, Default)]
struct Progress {
    sequence: AtomicU64,
    watermark: AtomicI64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("cpj-stream-engine-{}", std::process::id()));
    let summary = run(&dir, &Options::default(), 4, 500_000);
    std::fs::remove_dir_all(&dir).ok();
    let summary = summary?;
    println!(
        "appended {:?}\ntook {} checkpoints; restored from checkpoint {} and {} entries after it",
        summary.appended,
        summary.checkpoints,
        summary.restored_from_checkpoint,
        summary.replayed_entries
    );
    println!("restored {:?}", summary.restored);
    Ok(())
}

/// Runs the engine in `dir`, crashes it, restarts it, and checks the restore.
pub(crate) fn run(
    dir: &Path,
    options: &Options,
    sources: u16,
    per_source: u64,
) -> Result<Summary, Box<dyn Error>> {
    let journal = Journal::open(dir, options.clone())?;
    let gate = RwLock::new(());
    let progress: Vec<Progress> = (0..sources).map(|_| Progress::default()).collect();
    let finished = AtomicBool::new(false);
    let checkpoints = thread::scope(|scope| {
        let coordinator = scope.spawn(|| coordinate(&journal, &gate, &progress, &finished));
        let (journal, gate) = (&journal, &gate);
        let workers: Vec<_> = (0u16..)
            .zip(&progress)
            .map(|(id, p)| scope.spawn(move || append_source(journal, gate, id, p, per_source)))
            .collect();
        let appended: Result<Vec<()>, String> = workers
            .into_iter()
            .map(|w| w.join().map_err(|_| "a source panicked".to_owned())?)
            .collect();
        finished.store(true, Ordering::Release);
        let checkpoints = coordinator
            .join()
            .map_err(|_| "the coordinator panicked".to_owned())?;
        appended.and(checkpoints)
    })?;
    let appended: BTreeMap<u16, u64> = (0u16..)
        .zip(&progress)
        .map(|(id, p)| (id, p.sequence.load(Ordering::Acquire)))
        .collect();

    // The crash: no flush, no close marker, as a killed process leaves the files.
    journal.close_without_flush();

    let journal = Journal::open(dir, options.clone())?;
    let state = journal.state()?;
    let (lsn, record) = state.last_checkpoint.ok_or("no checkpoint was recovered")?;
    let mut restored: BTreeMap<u16, u64> = record.source_sequences.iter().copied().collect();
    let mut replayed_entries = 0;
    for frame in journal.read_from(lsn)? {
        if let Frame::Entries { entries, .. } = frame? {
            for e in entries.iter().filter(|e| e.op() == Ok(Op::Push)) {
                restored.insert(e.source_id, e.sequence);
                replayed_entries += 1;
            }
        }
    }
    journal.close()?;
    if restored != appended {
        return Err(format!("restored {restored:?}, appended {appended:?}").into());
    }
    Ok(Summary {
        appended,
        restored,
        checkpoints,
        restored_from_checkpoint: record.id,
        replayed_entries,
    })
}

/// A source: batches of `push` entries with rising event times, a `watermark` entry
/// every 16 batches.
fn append_source(
    journal: &Journal,
    gate: &RwLock<()>,
    id: u16,
    progress: &Progress,
    per_source: u64,
) -> Result<(), String> {
    let mut batch = Vec::with_capacity(BATCH + 1);
    let mut sequence = 0u64;
    while sequence < per_source {
        batch.clear();
        let event_time = |seq: u64| 1_700_000_000_000 + i64::try_from(seq).unwrap_or(0);
        for _ in 0..(BATCH as u64).min(per_source - sequence) {
            sequence += 1;
            batch.push(Entry::push(id, sequence, event_time(sequence)));
        }
        let watermark = event_time(sequence) - 1_000;
        if (sequence / BATCH as u64).is_multiple_of(16) {
            batch.push(Entry::watermark(id, sequence, watermark));
        }
        let _shared = gate.read().map_err(|_| "gate poisoned")?;
        journal.append_batch(&batch).map_err(|e| e.to_string())?;
        progress.sequence.store(sequence, Ordering::Release);
        progress.watermark.store(watermark, Ordering::Release);
    }
    Ok(())
}

/// Every 2 ms until the sources finish (and at least once): under the exclusive gate,
/// a barrier per source, then the checkpoint.
fn coordinate(
    journal: &Journal,
    gate: &RwLock<()>,
    progress: &[Progress],
    finished: &AtomicBool,
) -> Result<u64, String> {
    let mut id = 0;
    loop {
        thread::sleep(Duration::from_millis(2));
        if finished.load(Ordering::Acquire) && id > 0 {
            return Ok(id);
        }
        let _exclusive = gate.write().map_err(|_| "gate poisoned")?;
        id += 1;
        let mut record = CheckpointRecord {
            id,
            epoch: 1,
            ..CheckpointRecord::default()
        };
        let mut barriers = Vec::with_capacity(progress.len());
        for (source, p) in (0u16..).zip(progress) {
            let sequence = p.sequence.load(Ordering::Acquire);
            let watermark = p.watermark.load(Ordering::Acquire);
            barriers.push(Entry::barrier(source, sequence, watermark));
            record.source_sequences.push((source, sequence));
            record.watermarks.push((source, watermark));
        }
        journal.append_batch(&barriers).map_err(|e| e.to_string())?;
        journal.checkpoint(&record).map_err(|e| e.to_string())?;
    }
}
