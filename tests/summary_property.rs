//! Segment summaries change what open reads, never what it finds: over random workloads
//! (entry batches, checkpoints, meta records, roll-overs through small segments,
//! compactions, reopens), opening with the summaries gives exactly the state, end LSN,
//! report counts and readable frames of opening a copy with every summary deleted (a
//! full scan) — and the summaries were used.

mod support;

use std::fs;
use std::path::Path;

use checkpoint_journal::{CheckpointRecord, Entry, Frame, Journal, Lsn, MetaRecord, State};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::{options, TestResult};

/// Cases per run: keeps the file near 10 s in a debug build.
const CASES: u32 = 16;

#[derive(Clone, Debug)]
enum Op {
    Batch(Vec<Entry>),
    Checkpoint(u64),
    Meta(u16),
    Compact,
    Reopen,
}

fn entry_strategy() -> impl Strategy<Value = Entry> {
    (0u16..6, 0u8..4, 0u64..100_000, any::<i64>()).prop_map(|(source_id, op, sequence, wm)| Entry {
        op,
        ..Entry::push(source_id, sequence, wm)
    })
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        // A batch touches a few of 40 sources, so that many sources end in a sealed
        // segment and their state comes from its summary.
        8 => (vec(entry_strategy(), 1..400), 0u16..40).prop_map(|(mut batch, base)| {
            for e in &mut batch {
                e.source_id = base + e.source_id % 3;
            }
            Op::Batch(batch)
        }),
        1 => any::<u64>().prop_map(Op::Checkpoint),
        1 => any::<u16>().prop_map(Op::Meta),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

/// What an open yields: the state, the end, the frames from the first LSN, and the
/// report's counts of what was folded.
#[derive(Debug, PartialEq)]
struct Opened {
    state: State,
    end: Lsn,
    frames: Vec<Frame>,
    entries_replayed: u64,
    checkpoints_replayed: u64,
    durable_claim: Lsn,
}

fn open(dir: &Path) -> TestResult<(Opened, usize, usize)> {
    let journal = Journal::open(dir, options())?;
    let report = journal.recovery_report().clone();
    let mut frames = Vec::new();
    for frame in journal.read_from(journal.first_lsn())? {
        frames.push(frame?);
    }
    let opened = Opened {
        state: journal.state()?,
        end: journal.end_lsn(),
        frames,
        entries_replayed: report.entries_replayed,
        checkpoints_replayed: report.checkpoints_replayed,
        durable_claim: report.durable_claim,
    };
    journal.close_without_flush();
    Ok((
        opened,
        report.segments_summarized,
        report.summary_fallbacks.len(),
    ))
}

/// Copies the journal in `from` to `to` without its summary files.
fn copy_without_summaries(from: &Path, to: &Path) -> TestResult {
    fs::create_dir_all(to)?;
    for item in fs::read_dir(from)? {
        let item = item?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        if !name.ends_with(".sum") && name != "journal.lock" {
            fs::copy(item.path(), to.join(&*name))?;
        }
    }
    Ok(())
}

fn apply(j: &Journal, op: &Op) -> TestResult {
    match op {
        Op::Batch(entries) => {
            j.append_batch(entries)?;
        }
        Op::Checkpoint(id) => {
            j.checkpoint(&CheckpointRecord {
                id: *id,
                source_sequences: vec![(1, *id / 3)],
                ..CheckpointRecord::default()
            })?;
        }
        Op::Meta(n) => {
            j.append_meta(&MetaRecord::SourceRegistered {
                name: format!("source-{n}"),
                source_id: *n,
            })?;
        }
        Op::Compact => {
            j.compact()?;
        }
        Op::Reopen => unreachable!("handled by the caller"),
    }
    Ok(())
}

fn run_case(ops: &[Op]) -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("journal");
    let mut journal = Journal::open(&dir, options())?;
    for op in ops {
        if matches!(op, Op::Reopen) {
            journal.close()?;
            journal = Journal::open(&dir, options())?;
        } else {
            apply(&journal, op)?;
        }
    }
    journal.close()?;
    let scanned_dir = tmp.path().join("scanned");
    copy_without_summaries(&dir, &scanned_dir)?;
    let (with, summarized, fallbacks) = open(&dir)?;
    let (without, summarized_without, _) = open(&scanned_dir)?;
    assert_eq!(with, without);
    assert_eq!(summarized_without, 0);
    // Close summarizes every sealed segment: none is scanned for want of a summary.
    assert_eq!(fallbacks, 0, "a closed journal has every summary");
    let segments = fs::read_dir(&dir)?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        })
        .count();
    if segments > 2 && !ops.iter().any(|o| matches!(o, Op::Compact)) {
        assert!(summarized + 1 >= segments - 1, "{summarized} of {segments}");
    }
    Ok(())
}

#[test]
fn open_with_summaries_equals_open_by_scanning() -> TestResult {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner.run(&vec(op_strategy(), 1..80), |ops| {
        run_case(&ops).map_err(|e| TestCaseError::fail(e.to_string()))
    })?;
    Ok(())
}

/// A journal of many segments: every sealed one is folded from its summary, and the
/// result equals the scan.
#[test]
fn a_long_journal_opens_from_its_summaries() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("journal");
    let journal = Journal::open(&dir, options())?;
    for i in 0..400u64 {
        let batch: Vec<Entry> = (0..100)
            .map(|k| {
                // Each source appears in a stretch of the journal only.
                let source = u16::try_from(i / 40 * 7 + k % 7).unwrap_or(0);
                Entry::push(source, i * 100 + k, i64::try_from(k).unwrap_or(0) - 50)
            })
            .collect();
        journal.append_batch(&batch)?;
        if i % 17 == 0 {
            journal.checkpoint(&support::record(i))?;
        }
    }
    journal.close()?;
    let scanned_dir = tmp.path().join("scanned");
    copy_without_summaries(&dir, &scanned_dir)?;
    let (with, summarized, fallbacks) = open(&dir)?;
    let (without, _, missing) = open(&scanned_dir)?;
    assert_eq!(with, without);
    assert_eq!(fallbacks, 0);
    assert!(summarized >= 12, "{summarized} segments summarized");
    assert_eq!(
        missing, summarized,
        "each sealed segment is reported missing"
    );
    Ok(())
}
