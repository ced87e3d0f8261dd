//! `ops_with_crash`: a sequence of operations (append, batch, checkpoint, flush, reopen,
//! background writeback, a full disk, crash points) on the simulated storage, then a
//! power loss and a reopen.
//!
//! Input: `{ config u8 | op.. }`, each op a tag byte and its arguments; at most [`OPS_MAX`]
//! ops. `config` bit 0 picks `Sync` (else `Async`), bit 1 background preallocation.
//!
//! Oracle (the crash explorer's, `tests/crash_explorer/check.rs`): a reopened image holds
//! a prefix of what was appended — every frame is one that was acknowledged at that LSN
//! or was still in flight, with no acknowledged frame missing before the last one — and
//! every acknowledged frame below the frontier the journal promised durable. After a
//! reopen on the same machine (the page cache survives) every acknowledged frame is
//! there. A reopened image accepts a flushed append that survives a second power loss.

use std::collections::BTreeMap;
use std::sync::Arc;

use checkpoint_journal::storage::sim::{CrashPolicy, DirtyPages, SimStorage};
use checkpoint_journal::{
    CheckpointRecord, Durability, Entry, Frame, Journal, OperatorState, Options,
};

use super::input::Input;

/// Most operations one input runs.
pub const OPS_MAX: usize = 48;
/// Segment size: small, so a few batches roll over.
const SEGMENT_BYTES: u64 = 64 * 1024;
/// Most entries in one batch: what one frame of a 64 KiB segment holds, so that every
/// batch is one frame.
const BATCH_MAX: u16 = 2559;
/// Where the journal lives on the simulated storage.
const DIR: &str = "/sim/journal";

/// What one frame carries.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Content {
    Entries(Vec<Entry>),
    Checkpoint(CheckpointRecord),
}

/// What the journal acknowledged and promised.
#[derive(Debug, Default)]
struct Model {
    /// Acknowledged frames by LSN.
    acked: BTreeMap<u64, Content>,
    /// Appends that returned an error: each may or may not be in the journal.
    failed: Vec<Content>,
    /// Every acknowledged frame below this LSN must survive a power loss.
    promised: u64,
    /// Next unique sequence number (entries) or id (checkpoints).
    next_key: u64,
}

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let config = input.byte();
    let durability = if config & 1 != 0 {
        Durability::Sync
    } else {
        Durability::Async
    };
    let options = Options::default()
        .segment_size_bytes(SEGMENT_BYTES)
        .durability(durability)
        .preallocate(config & 2 != 0);
    let sim = SimStorage::new(u64::from(config));
    let mut model = Model {
        next_key: 1,
        ..Model::default()
    };
    let mut journal = open(&sim, options.clone(), "first open");
    let mut ops = 0;
    while !input.is_empty() && ops < OPS_MAX {
        ops += 1;
        journal = step(&mut input, &sim, journal, &options, &mut model);
        model.promise(journal.durable_lsn().0);
    }
    let policy = policy(&mut input);
    sim.set_storage_full(false);
    check_image(&sim.crash_image(policy), &model, "final power loss");
    journal.close_without_flush();
}

/// Runs one operation; returns the journal (reopened, for a reopen).
fn step(
    input: &mut Input<'_>,
    sim: &SimStorage,
    journal: Journal,
    options: &Options,
    model: &mut Model,
) -> Journal {
    match input.byte() % 10 {
        0 | 1 => {
            let content = entries(model, 1);
            model.append(&journal, content);
        }
        2 | 3 => {
            let content = entries(model, 1 + input.u16() % BATCH_MAX);
            model.append(&journal, content);
        }
        4 => {
            let content = checkpoint(model, usize::from(input.u16()) * 2);
            model.append(&journal, content);
        }
        5 => {
            if let Ok(durable) = journal.flush() {
                model.promise(durable.0);
            }
        }
        6 => return reopen(sim, journal, options, model, input.byte() & 1 != 0),
        7 => sim.write_back(DirtyPages::Random { seed: input.u64() }),
        8 => sim.set_storage_full(input.byte() & 1 != 0),
        _ => check_image(&sim.crash_image(policy(input)), model, "power loss"),
    }
    journal
}

impl Model {
    fn append(&mut self, journal: &Journal, content: Content) {
        let appended = match &content {
            Content::Entries(e) if e.len() == 1 => journal.append(e[0]),
            Content::Entries(e) => journal.append_batch(e),
            Content::Checkpoint(record) => journal.checkpoint(record),
        };
        match appended {
            Ok(lsn) => {
                let previous = self.acked.insert(lsn.0, content);
                assert!(previous.is_none(), "two appends acknowledged at LSN {lsn}");
            }
            Err(e) => {
                assert!(
                    e.is_storage_full() || matches!(e, checkpoint_journal::Error::TooLarge { .. }),
                    "unexpected append error: {e}"
                );
                self.failed.push(content);
            }
        }
    }

    fn promise(&mut self, durable: u64) {
        self.promised = self.promised.max(durable);
    }

    fn promise_all(&mut self) {
        let end = self.acked.keys().next_back().map_or(0, |lsn| lsn + 1);
        self.promise(end);
    }
}

fn entries(model: &mut Model, len: u16) -> Content {
    let first = model.next_key;
    model.next_key += u64::from(len);
    Content::Entries(
        (first..model.next_key)
            .map(|seq| {
                let source = u16::try_from(seq % 7).unwrap_or(0);
                Entry::push(source, seq, -i64::try_from(seq).unwrap_or(0))
            })
            .collect(),
    )
}

fn checkpoint(model: &mut Model, blob: usize) -> Content {
    let id = model.next_key;
    model.next_key += 1;
    Content::Checkpoint(CheckpointRecord {
        id,
        epoch: 1,
        source_sequences: vec![(1, id)],
        operator_states: vec![OperatorState {
            operator_id: 7,
            state: vec![0xa5; blob],
        }],
        ..CheckpointRecord::default()
    })
}

/// A crash policy chosen by the input.
fn policy(input: &mut Input<'_>) -> CrashPolicy {
    let base = match input.byte() % 3 {
        0 => CrashPolicy::NONE,
        1 => CrashPolicy::ALL,
        _ => CrashPolicy::random(input.u64()),
    };
    match input.byte() % 2 {
        0 => base,
        _ => base.with_torn_page(input.u64()),
    }
}

fn open(sim: &SimStorage, options: Options, what: &str) -> Journal {
    match Journal::open_with_storage(DIR, options, Arc::new(sim.clone())) {
        Ok(journal) => journal,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

/// A clean close or a process crash, then an open on the same machine: the page cache
/// survives, so every acknowledged frame must be there.
fn reopen(
    sim: &SimStorage,
    journal: Journal,
    options: &Options,
    model: &mut Model,
    clean: bool,
) -> Journal {
    if clean {
        if journal.close().is_ok() {
            model.promise_all();
        }
    } else {
        journal.close_without_flush();
    }
    let journal = open(sim, options.clone(), "reopen on the same machine");
    let frames = read_all(&journal);
    check_frames(&frames, model, u64::MAX, "reopen on the same machine");
    journal
}

/// Opens a power-loss image, checks it, then appends and flushes a probe, loses power
/// again, and checks that the recovered frames and the probe survive.
fn check_image(image: &SimStorage, model: &Model, what: &str) {
    let options = Options::default()
        .segment_size_bytes(SEGMENT_BYTES)
        .preallocate(false);
    let journal = open(image, options.clone(), what);
    let mut frames = read_all(&journal);
    check_frames(&frames, model, model.promised, what);
    let probe = Entry::push(0, u64::MAX - 1, 0);
    let lsn = match journal
        .append(probe)
        .and_then(|lsn| journal.flush().map(|_| lsn))
    {
        Ok(lsn) => lsn,
        Err(e) => panic!("{what}: a flushed append after recovery failed: {e}"),
    };
    journal.close_without_flush();
    let again = open(&image.crash_image(CrashPolicy::NONE), options, what);
    frames.push((lsn.0, Content::Entries(vec![probe])));
    assert_eq!(
        read_all(&again),
        frames,
        "{what}: a power loss after recovery lost frames"
    );
    again.close_without_flush();
}

/// The prefix property of `frames` against `model`, with `promised` the frontier that
/// must have survived.
fn check_frames(frames: &[(u64, Content)], model: &Model, promised: u64, what: &str) {
    for (lsn, content) in frames {
        match model.acked.get(lsn) {
            Some(acked) => assert_eq!(acked, content, "{what}: frame at LSN {lsn} differs"),
            None => assert!(
                model.failed.contains(content),
                "{what}: frame at LSN {lsn} was never appended: {content:?}"
            ),
        }
    }
    let last = frames.last().map_or(0, |(lsn, _)| *lsn);
    let must = promised.max(last);
    for lsn in model.acked.range(..must).map(|(lsn, _)| *lsn) {
        assert!(
            frames.iter().any(|(l, _)| *l == lsn),
            "{what}: acknowledged frame at LSN {lsn} is lost (promised {promised}, last \
             recovered {last}, {} frames)",
            frames.len()
        );
    }
}

fn read_all(journal: &Journal) -> Vec<(u64, Content)> {
    let reader = match journal.read_from(journal.first_lsn()) {
        Ok(reader) => reader,
        Err(e) => panic!("read_from failed: {e}"),
    };
    reader
        .map(|frame| match frame {
            Ok(Frame::Entries { lsn, entries }) => (lsn.0, Content::Entries(entries)),
            Ok(Frame::Checkpoint { lsn, record }) => (lsn.0, Content::Checkpoint(record)),
            Ok(other) => panic!("unexpected frame {other:?}"),
            Err(e) => panic!("reading a recovered frame failed: {e}"),
        })
        .collect()
}
