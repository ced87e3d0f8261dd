//! Random sequences of appends (single entries, batches of 1..200), checkpoints,
//! flushes and reopens (after `close()` or after a crash left by
//! `close_without_flush()`), on segments small enough to roll over, agree with an
//! in-memory model: after every reopen and at the end, `read_from(Lsn::ZERO)` returns
//! exactly the model's frames at the LSNs their appends returned, and `state()` equals
//! the model folded by hand.

mod support;

use std::collections::BTreeMap;
use std::fmt::Debug;

use checkpoint_journal::{
    CheckpointRecord, Durability, Entry, Frame, Journal, Lsn, OperatorState, SourceState,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::{frames, options, TestResult};

/// Cases per run: keeps the file under ~20 s in a debug build.
const CASES: u32 = 40;

#[derive(Clone, Debug)]
enum Op {
    Append(Entry),
    Batch(Vec<Entry>),
    Checkpoint(CheckpointRecord),
    Flush,
    /// Compare `state()` with the model without reopening.
    State,
    /// Close (`clean`) or abandon as a crash would, then open again.
    Reopen {
        clean: bool,
    },
}

fn entry_strategy() -> impl Strategy<Value = Entry> {
    (
        0u16..4,
        0u8..5,
        any::<u8>(),
        any::<u32>(),
        0u64..1_000,
        any::<i64>(),
    )
        .prop_map(
            |(source_id, op, flags, reserved, sequence, watermark)| Entry {
                source_id,
                op,
                flags,
                reserved,
                sequence,
                watermark,
            },
        )
}

/// 1..200 entries, half the time 150 or more, so that most cases roll over.
fn batch_strategy() -> impl Strategy<Value = Vec<Entry>> {
    prop_oneof![
        vec(entry_strategy(), 1..200),
        vec(entry_strategy(), 150..200),
    ]
}

fn record_strategy() -> impl Strategy<Value = CheckpointRecord> {
    (
        any::<u64>(),
        vec((0u16..4, any::<u64>()), 0..4),
        vec((0u16..4, any::<i64>()), 0..3),
        vec((any::<u32>(), vec(any::<u8>(), 0..64)), 0..3),
    )
        .prop_map(
            |(id, source_sequences, watermarks, states)| CheckpointRecord {
                id,
                epoch: id % 7,
                created_at_ms: id / 3,
                source_sequences,
                watermarks,
                operator_states: states
                    .into_iter()
                    .map(|(operator_id, state)| OperatorState { operator_id, state })
                    .collect(),
                ..CheckpointRecord::default()
            },
        )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => entry_strategy().prop_map(Op::Append),
        6 => batch_strategy().prop_map(Op::Batch),
        1 => record_strategy().prop_map(Op::Checkpoint),
        1 => Just(Op::Flush),
        1 => Just(Op::State),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

fn case_strategy() -> impl Strategy<Value = (Durability, Vec<Op>)> {
    (
        prop_oneof![3 => Just(Durability::Async), 1 => Just(Durability::Sync)],
        vec(op_strategy(), 10..100),
    )
}

/// `Err` naming `what` unless `got == want`.
fn same<T: PartialEq + Debug>(what: &str, got: &T, want: &T) -> TestResult {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, the model has {want:?}").into())
    }
}

/// What `State` should hold after the model's frames, folded by hand.
#[derive(Debug, Default, PartialEq)]
struct Folded {
    sources: BTreeMap<u16, SourceState>,
    entries: u64,
    checkpoints: u64,
    last_checkpoint: Option<(Lsn, CheckpointRecord)>,
}

fn fold(model: &[Frame]) -> Folded {
    let mut out = Folded::default();
    for frame in model {
        match frame {
            Frame::Entries { entries, .. } => {
                for e in entries {
                    fold_entry(
                        out.sources.entry(e.source_id).or_insert(SourceState {
                            sequence: 0,
                            watermark: i64::MIN,
                            last_barrier: None,
                            entries: 0,
                        }),
                        e,
                    );
                    out.entries += 1;
                }
            }
            Frame::Checkpoint { lsn, record } => {
                out.checkpoints += 1;
                out.last_checkpoint = Some((*lsn, record.clone()));
            }
            _ => {}
        }
    }
    out
}

/// Push and barrier entries set the source's sequence, barriers also its last barrier;
/// every entry (unknown ops included) raises the watermark and counts.
fn fold_entry(source: &mut SourceState, e: &Entry) {
    match e.op {
        1 => source.sequence = e.sequence,
        3 => {
            source.sequence = e.sequence;
            source.last_barrier = Some(e.sequence);
        }
        _ => {}
    }
    source.watermark = source.watermark.max(e.watermark);
    source.entries += 1;
}

/// The journal's frames and state agree with the model.
fn check(journal: &Journal, model: &[Frame]) -> TestResult {
    same("frames", &frames(journal)?, &model.to_vec())?;
    let state = journal.state()?;
    let got = Folded {
        sources: state.sources.clone(),
        entries: state.entries,
        checkpoints: state.checkpoints,
        last_checkpoint: state.last_checkpoint.clone(),
    };
    same("state", &got, &fold(model))?;
    same("state end", &state.end, &journal.end_lsn())
}

fn run_case(durability: Durability, ops: &[Op]) -> TestResult {
    let dir = support::tempdir()?;
    let options = options().durability(durability);
    let mut journal = Journal::open(dir.path(), options.clone())?;
    let mut model: Vec<Frame> = Vec::new();
    for op in ops {
        match op {
            Op::Append(e) => {
                let lsn = journal.append(*e)?;
                model.push(Frame::Entries {
                    lsn,
                    entries: vec![*e],
                });
            }
            Op::Batch(batch) => {
                let lsn = journal.append_batch(batch)?;
                model.push(Frame::Entries {
                    lsn,
                    entries: batch.clone(),
                });
            }
            Op::Checkpoint(record) => {
                let lsn = journal.checkpoint(record)?;
                model.push(Frame::Checkpoint {
                    lsn,
                    record: record.clone(),
                });
            }
            Op::Flush => {
                let frontier = journal.flush()?;
                same("flushed", &(frontier >= journal.end_lsn()), &true)?;
            }
            Op::State => check(&journal, &model)?,
            Op::Reopen { clean } => {
                if *clean {
                    journal.close()?;
                } else {
                    journal.close_without_flush();
                }
                journal = Journal::open(dir.path(), options.clone())?;
                check(&journal, &model)?;
            }
        }
    }
    check(&journal, &model)?;
    journal.close()?;
    let journal = Journal::open(dir.path(), options)?;
    check(&journal, &model)
}

#[test]
fn random_operations_agree_with_the_model() -> TestResult {
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner.run(&case_strategy(), |(durability, ops)| {
        run_case(durability, &ops).map_err(|e| TestCaseError::fail(e.to_string()))
    })?;
    Ok(())
}
