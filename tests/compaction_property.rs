//! Random workloads with compactions at random points: appends (batches of 1..300),
//! checkpoints, compactions with a random `keep_snapshots`, and reopens after `close()`
//! or after a crash left by `close_without_flush()` (with a flush first, so that what is
//! compared is durable). After every reopen and at the end, `state()` equals a model
//! folded by hand from every acknowledged append — whatever was compacted away.

mod support;

use checkpoint_journal::{CheckpointRecord, Entry, Journal, State};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::{options, TestResult};

/// Cases per run: keeps the file near 10 s in a debug build.
const CASES: u32 = 24;

#[derive(Clone, Debug)]
enum Op {
    Batch(Vec<Entry>),
    Checkpoint(u64),
    Compact,
    Reopen { clean: bool },
}

fn entry_strategy() -> impl Strategy<Value = Entry> {
    (0u16..6, 0u8..3, 0u64..100_000, any::<i64>()).prop_map(|(source_id, op, sequence, wm)| Entry {
        op,
        ..Entry::push(source_id, sequence, wm)
    })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => vec(entry_strategy(), 1..300).prop_map(Op::Batch),
        1 => any::<u64>().prop_map(Op::Checkpoint),
        2 => Just(Op::Compact),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

fn essence(state: &State) -> String {
    format!(
        "{:?}|{:?}|{}|{}",
        state.sources, state.last_checkpoint, state.entries, state.checkpoints
    )
}

fn run_case(ops: &[Op], keep: usize) -> Result<(), TestCaseError> {
    let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(e.to_string());
    let tmp = tempfile::tempdir().map_err(|e| fail(&e))?;
    let dir = tmp.path().join("journal");
    let opened_with = || options().keep_snapshots(keep);
    let mut journal = Some(Journal::open(&dir, opened_with()).map_err(|e| fail(&e))?);
    let mut model = State::default();
    for op in ops {
        let j = journal.as_ref().ok_or_else(|| fail(&"no journal"))?;
        match op {
            Op::Batch(entries) => {
                j.append_batch(entries).map_err(|e| fail(&e))?;
                model.apply_entries(entries);
            }
            Op::Checkpoint(id) => {
                let record = CheckpointRecord {
                    id: *id,
                    ..CheckpointRecord::default()
                };
                let lsn = j.checkpoint(&record).map_err(|e| fail(&e))?;
                model.apply_checkpoint(lsn, record);
            }
            Op::Compact => {
                j.compact().map_err(|e| fail(&e))?;
            }
            Op::Reopen { clean } => {
                let j = journal.take().ok_or_else(|| fail(&"no journal"))?;
                if *clean {
                    j.close().map_err(|e| fail(&e))?;
                } else {
                    j.flush().map_err(|e| fail(&e))?;
                    j.close_without_flush();
                }
                let reopened = Journal::open(&dir, opened_with()).map_err(|e| fail(&e))?;
                let state = reopened.state().map_err(|e| fail(&e))?;
                prop_assert_eq!(essence(&state), essence(&model), "after reopen");
                journal = Some(reopened);
            }
        }
    }
    let j = journal.ok_or_else(|| fail(&"no journal"))?;
    prop_assert_eq!(essence(&j.state().map_err(|e| fail(&e))?), essence(&model));
    Ok(())
}

#[test]
fn state_after_compactions_and_reopens_equals_the_model() -> TestResult {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner.run(&(vec(op_strategy(), 1..60), 1usize..4), |(ops, keep)| {
        run_case(&ops, keep)
    })?;
    Ok(())
}

/// The batch fold (a direct-mapped source cache) equals folding entry by entry, for
/// batches interleaving fewer and more sources than the cache holds.
#[test]
fn batch_folding_equals_entry_by_entry_folding() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let batches = vec(vec(entry_strategy(), 1..600), 1..6);
    let sources = 1u16..600;
    let outcome = runner.run(&(batches, sources), |(batches, sources)| {
        let mut by_batch = State::default();
        let mut one_by_one = State::default();
        for mut batch in batches {
            for (i, e) in batch.iter_mut().enumerate() {
                e.source_id = u16::try_from(i).unwrap_or(0) % sources;
            }
            by_batch.apply_entries(&batch);
            for e in &batch {
                one_by_one.apply_entries(std::slice::from_ref(e));
            }
        }
        prop_assert_eq!(essence(&by_batch), essence(&one_by_one));
        Ok(())
    });
    assert!(outcome.is_ok(), "{outcome:?}");
}
