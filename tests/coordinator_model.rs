//! Property: random sequences of `advance`, `trigger` and reopen (clean, or a crash that
//! leaves only what was published) against a model. After every reopen, `restore`
//! returns the last triggered checkpoint with exactly the positions the model captured,
//! every handle resumes from it, registered names keep their ids, and checkpoint ids
//! never repeat.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use checkpoint_journal::{CheckpointCoordinator, CoordinatorConfig, Journal, SourceHandle};
use support::options;

const SOURCES: [&str; 3] = ["orders", "payments", "users"];

#[derive(Clone, Debug)]
enum Op {
    Advance {
        source: usize,
        step: u64,
        watermark: i64,
    },
    Trigger {
        durable: bool,
    },
    Reopen {
        crash: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..SOURCES.len(), 1..1000u64, any::<i64>())
            .prop_map(|(source, step, watermark)| Op::Advance { source, step, watermark }),
        2 => any::<bool>().prop_map(|durable| Op::Trigger { durable }),
        1 => any::<bool>().prop_map(|crash| Op::Reopen { crash }),
    ]
}

/// Position per source index.
type Positions = BTreeMap<usize, (u64, i64)>;

/// What the coordinator should hold.
#[derive(Debug, Default)]
struct Model {
    /// Current position per source index.
    now: Positions,
    /// The positions the last trigger captured, and its id.
    last: Option<(u64, Positions)>,
}

struct Live {
    coordinator: CheckpointCoordinator,
    handles: Vec<SourceHandle>,
}

fn open(dir: &std::path::Path) -> Result<Live, TestCaseError> {
    let fail = |e: checkpoint_journal::Error| TestCaseError::fail(e.to_string());
    let journal = Arc::new(Journal::open(dir, options()).map_err(fail)?);
    let coordinator =
        CheckpointCoordinator::open(journal, CoordinatorConfig::default()).map_err(fail)?;
    let handles = SOURCES
        .iter()
        .map(|name| coordinator.register_source(name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    Ok(Live {
        coordinator,
        handles,
    })
}

fn close(live: Live, crash: bool) -> Result<(), TestCaseError> {
    let journal = Arc::clone(live.coordinator.journal());
    drop(live);
    let journal = Arc::into_inner(journal).ok_or_else(|| TestCaseError::fail("shared"))?;
    if crash {
        journal.close_without_flush();
    } else {
        journal
            .close()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    Ok(())
}

fn check_restored(live: &Live, model: &Model) -> Result<(), TestCaseError> {
    let restored = live
        .coordinator
        .restore()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let Some((id, captured)) = &model.last else {
        prop_assert!(restored.is_none());
        return Ok(());
    };
    let restored = restored.ok_or_else(|| TestCaseError::fail("nothing restored"))?;
    prop_assert_eq!(restored.record.id, *id);
    for (i, name) in SOURCES.iter().enumerate() {
        let (sequence, watermark) = captured.get(&i).copied().unwrap_or((0, i64::MIN));
        prop_assert_eq!(restored.rewind.get(*name).copied(), Some(sequence));
        prop_assert_eq!(live.handles[i].position(), (sequence, watermark));
        prop_assert_eq!(usize::from(live.handles[i].id()), i);
    }
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let dir = support::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut live = open(dir.path())?;
    let mut model = Model::default();
    let mut ids = Vec::new();
    for op in ops {
        match *op {
            Op::Advance {
                source,
                step,
                watermark,
            } => {
                let seq = model.now.get(&source).map_or(0, |p| p.0) + step;
                live.handles[source].advance(seq, watermark);
                model.now.insert(source, (seq, watermark));
            }
            Op::Trigger { durable } => {
                let c = &live.coordinator;
                let id = if durable {
                    c.trigger_durable()
                } else {
                    c.trigger()
                }
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(
                    ids.last().is_none_or(|last| id > *last),
                    "ids {ids:?} then {id}"
                );
                ids.push(id);
                model.last = Some((id, model.now.clone()));
            }
            Op::Reopen { crash } => {
                close(live, crash)?;
                live = open(dir.path())?;
                check_restored(&live, &model)?;
                // Handles resume from the checkpoint, not from what was advanced after.
                model.now = model.last.as_ref().map(|l| l.1.clone()).unwrap_or_default();
            }
        }
    }
    close(live, false)
}

#[test]
fn random_advance_trigger_reopen_sequences_match_the_model() {
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| run(&ops));
    if let Err(e) = result {
        panic!("{e}");
    }
}
