//! Checkpointing a stream engine with `CheckpointCoordinator` (docs/CHECKPOINTING.md):
//! a CDC connector reads two Postgres replication slots, appends each change as an
//! entry, bumps its source handle on the hot path, and checkpoints its upstream offsets
//! with validated progress; a sink consumes the journal through a durable cursor. Then
//! the process "crashes", and the restart restores every source's rewind point and
//! upstream offset, and the sink resumes strictly after its last committed frame.
//!
//! Run it: `cargo run --release --example checkpointing`

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use checkpoint_journal::{
    CheckpointCoordinator, CoordinatorConfig, Entry, Frame, Journal, Options, Progress,
};

/// The replication slots the connector reads.
const SLOTS: [&str; 2] = ["slot-orders", "slot-payments"];
/// Changes between two checkpoints.
const CHECKPOINT_EVERY: u64 = 1_000;

/// What the run did and what the restart found.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) checkpoints: u64,
    pub(crate) restored_checkpoint: u64,
    /// Per slot: the sequence the restart rewinds to.
    pub(crate) rewind: BTreeMap<String, u64>,
    /// Per slot: the upstream offset the restart resumes the slot from.
    pub(crate) offsets: BTreeMap<String, String>,
    /// Entries the sink had processed, and those it reads after the restart.
    pub(crate) sink_processed: u64,
    pub(crate) sink_resumed: u64,
    /// The error a replayed (older) progress gets.
    pub(crate) replay_refused: String,
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("cpj-checkpointing-{}", std::process::id()));
    let summary = run(&dir, &Options::default(), 10_500);
    std::fs::remove_dir_all(&dir).ok();
    let summary = summary?;
    println!(
        "took {} checkpoints; restored checkpoint {}",
        summary.checkpoints, summary.restored_checkpoint
    );
    println!("rewind to {:?}", summary.rewind);
    println!("resume slots from {:?}", summary.offsets);
    println!(
        "sink processed {} entries, reads {} more after the restart",
        summary.sink_processed, summary.sink_resumed
    );
    println!(
        "a replayed checkpoint is refused: {}",
        summary.replay_refused
    );
    Ok(())
}

/// Runs the connector for `changes` changes, crashes, restarts.
pub(crate) fn run(dir: &Path, options: &Options, changes: u64) -> Result<Summary, Box<dyn Error>> {
    let (checkpoints, sink_processed) = connector(dir, options, changes)?;
    // The restart: a new process opens the same directory.
    let journal = Arc::new(Journal::open(dir, options.clone())?);
    let config = CoordinatorConfig::default().family("postgres");
    let coordinator = CheckpointCoordinator::open(Arc::clone(&journal), config)?;
    let restored = coordinator.restore()?.ok_or("no checkpoint to restore")?;
    let offsets = restored
        .progress
        .iter()
        .map(|(slot, p)| {
            (
                slot.clone(),
                String::from_utf8_lossy(&p.offset).into_owned(),
            )
        })
        .collect();
    // Replaying an older progress (a connector restarted from a stale offset) is refused.
    let stale = Progress::new("postgres").source(SLOTS[0], "0/0", 1);
    let replay_refused = match coordinator.trigger_with_progress(&stale, true) {
        Err(e) => e.to_string(),
        Ok(t) => format!("unexpectedly accepted as checkpoint {}", t.id),
    };
    let cursor = journal.cursor("sink")?;
    let mut sink_resumed = 0;
    for frame in cursor.reader()? {
        if let Frame::Entries { entries, .. } = frame? {
            sink_resumed += entries.len() as u64;
        }
    }
    Ok(Summary {
        checkpoints,
        restored_checkpoint: restored.record.id,
        rewind: restored.rewind,
        offsets,
        sink_processed,
        sink_resumed,
        replay_refused,
    })
}

/// The connector's life before the crash: returns the checkpoints taken and the entries
/// the sink processed.
fn connector(dir: &Path, options: &Options, changes: u64) -> Result<(u64, u64), Box<dyn Error>> {
    let journal = Arc::new(Journal::open(dir, options.clone())?);
    let config = CoordinatorConfig::default()
        .family("postgres")
        .max_retained(8);
    let coordinator = CheckpointCoordinator::open(Arc::clone(&journal), config)?;
    let slots = SLOTS
        .iter()
        .map(|s| coordinator.register_source(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut counts = [0u64; 2];
    let mut checkpoints = 0;
    let mut sink = Sink::default();
    for change in 1..=changes {
        let slot = usize::from(change % 3 == 0);
        counts[slot] += 1;
        let watermark = i64::try_from(change).unwrap_or(i64::MAX);
        journal.append(Entry::push(slots[slot].id(), counts[slot], watermark))?;
        slots[slot].advance(counts[slot], watermark);
        if change % CHECKPOINT_EVERY == 0 {
            let mut progress = Progress::new("postgres");
            for (i, slot) in SLOTS.iter().enumerate() {
                progress =
                    progress.source(*slot, format!("0/{:X}", 0x16B_0000 + counts[i]), counts[i]);
            }
            coordinator.trigger_with_progress(&progress, true)?;
            checkpoints += 1;
            sink.consume(&journal)?;
        }
    }
    // The crash: nothing after the last durable checkpoint is flushed.
    drop(coordinator);
    let journal = Arc::into_inner(journal).ok_or("journal still shared")?;
    journal.close_without_flush();
    Ok((checkpoints, sink.processed))
}

/// A consumer of the journal that commits its cursor after each delivery.
#[derive(Debug, Default)]
struct Sink {
    processed: u64,
}

impl Sink {
    fn consume(&mut self, journal: &Journal) -> Result<(), Box<dyn Error>> {
        let mut cursor = journal.cursor("sink")?;
        let mut last = None;
        for frame in cursor.reader()? {
            let frame = frame?;
            if let Frame::Entries { entries, .. } = &frame {
                // Deliver the entries downstream here.
                self.processed += entries.len() as u64;
            }
            last = Some(frame.lsn());
        }
        if let Some(lsn) = last {
            cursor.commit(lsn)?;
        }
        Ok(())
    }
}
