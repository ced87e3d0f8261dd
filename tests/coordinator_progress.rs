//! Progress validation, as a CDC connector needs it: a checkpoint that moves a source's
//! committed event count backwards, that offers the same count at another offset, or
//! that names another source family is refused with its own error, and leaves every
//! byte of the directory as it was; an identical resubmission is accepted once, without
//! writing; committed progress survives a reopen.

mod support;

use std::sync::Arc;

use checkpoint_journal::{CheckpointCoordinator, CoordinatorConfig, Error, Journal, Progress};
use support::{fingerprint, options, TestResult};

fn open_pg(dir: &std::path::Path) -> TestResult<CheckpointCoordinator> {
    let journal = Arc::new(Journal::open(dir, options())?);
    let config = CoordinatorConfig::default().family("postgres");
    Ok(CheckpointCoordinator::open(journal, config)?)
}

fn close(coordinator: CheckpointCoordinator) -> TestResult {
    let journal = Arc::clone(coordinator.journal());
    drop(coordinator);
    Arc::into_inner(journal)
        .ok_or("journal still shared")?
        .close()?;
    Ok(())
}

fn pg(slot_a: (&str, u64), slot_b: (&str, u64)) -> Progress {
    Progress::new("postgres")
        .source("slot-a", slot_a.0, slot_a.1)
        .source("slot-b", slot_b.0, slot_b.1)
}

/// Runs `refused` and checks its error with `expected`, and that no file changed.
fn refused_unchanged(
    coordinator: &CheckpointCoordinator,
    progress: &Progress,
    expected: impl Fn(&Error) -> bool,
) -> TestResult {
    let journal = coordinator.journal();
    journal.flush()?;
    let before = fingerprint(journal.dir())?;
    let end = journal.end_lsn();
    let err = match coordinator.trigger_with_progress(progress, true) {
        Err(e) => e,
        Ok(t) => return Err(format!("accepted {progress:?}: {t:?}").into()),
    };
    assert!(expected(&err), "unexpected error: {err:?}");
    assert!(!err.to_string().is_empty());
    assert_eq!(journal.end_lsn(), end, "{err}: something was appended");
    journal.flush()?;
    assert_eq!(fingerprint(journal.dir())?, before, "{err}: files changed");
    Ok(())
}

#[test]
fn regression_conflict_and_mixed_family_are_refused_and_change_nothing() -> TestResult {
    let dir = support::tempdir()?;
    let coordinator = open_pg(dir.path())?;
    coordinator.register_source("slot-a")?;
    coordinator.register_source("slot-b")?;
    let first = coordinator.trigger_with_progress(&pg(("0/100", 10), ("0/200", 20)), true)?;
    assert!(first.appended);

    refused_unchanged(
        &coordinator,
        &pg(("0/90", 9), ("0/200", 20)),
        |e| matches!(e, Error::NonMonotonic { source, previous: 10, next: 9 } if source == "slot-a"),
    )?;
    refused_unchanged(
        &coordinator,
        &pg(("0/101", 10), ("0/300", 30)),
        |e| matches!(e, Error::ProgressConflict { source, count: 10, .. } if source == "slot-a"),
    )?;
    let mysql = Progress::new("mysql").source("slot-a", "binlog.000001:4", 11);
    refused_unchanged(&coordinator, &mysql, |e| {
        matches!(e, Error::MixedFamily { journal, offered, .. }
            if journal == "postgres" && offered == "mysql")
            && e.to_string()
                .contains("one journal directory per source family")
    })?;
    let unknown = Progress::new("postgres").source("slot-z", "0/1", 1);
    refused_unchanged(&coordinator, &unknown, |e| {
        matches!(e, Error::InvalidOptions { .. })
    })?;

    // Forward progress is still accepted after the refusals.
    let next = coordinator.trigger_with_progress(&pg(("0/150", 15), ("0/200", 20)), true)?;
    assert!(next.appended && next.id > first.id);
    close(coordinator)
}

#[test]
fn an_identical_resubmission_is_accepted_once() -> TestResult {
    let dir = support::tempdir()?;
    let coordinator = open_pg(dir.path())?;
    coordinator.register_source("slot-a")?;
    coordinator.register_source("slot-b")?;
    let progress = pg(("0/100", 10), ("0/200", 20));
    let first = coordinator.trigger_with_progress(&progress, true)?;
    let checkpoints = coordinator.journal().state()?.checkpoints;
    let end = coordinator.journal().end_lsn();
    let again = coordinator.trigger_with_progress(&progress, true)?;
    assert_eq!((again.id, again.appended), (first.id, false));
    assert_eq!(coordinator.journal().end_lsn(), end);
    assert_eq!(coordinator.journal().state()?.checkpoints, checkpoints);
    // A subset that repeats committed values is identical too.
    let subset = Progress::new("postgres").source("slot-b", "0/200", 20);
    assert!(!coordinator.trigger_with_progress(&subset, false)?.appended);
    close(coordinator)?;

    // After a reopen the committed progress is what resubmissions are checked against.
    let coordinator = open_pg(dir.path())?;
    assert!(!coordinator.trigger_with_progress(&progress, true)?.appended);
    let restored = coordinator.restore()?.ok_or("nothing restored")?;
    assert_eq!(restored.record.id, first.id);
    assert_eq!(restored.progress["slot-a"].offset, b"0/100");
    assert_eq!(restored.progress["slot-b"].committed_event_count, 20);
    let err = coordinator.trigger_with_progress(&pg(("0/100", 10), ("0/190", 19)), true);
    assert!(matches!(err, Err(Error::NonMonotonic { .. })), "{err:?}");
    close(coordinator)
}

#[test]
fn a_coordinator_of_another_family_is_refused_at_construction() -> TestResult {
    let dir = support::tempdir()?;
    close(open_pg(dir.path())?)?;
    let journal = Arc::new(Journal::open(dir.path(), options())?);
    let before = fingerprint(dir.path())?;
    let other = CheckpointCoordinator::open(
        Arc::clone(&journal),
        CoordinatorConfig::default().family("mysql"),
    );
    assert!(matches!(other, Err(Error::MixedFamily { .. })), "{other:?}");
    assert_eq!(fingerprint(dir.path())?, before);
    Ok(())
}
