//! Invalid options and arguments: each invalid value is a specific
//! `Error::InvalidOptions { field, .. }` whose message names the field, returned before
//! anything touches the disk (a missing directory stays missing, an existing journal is
//! unchanged), never a panic.

mod support;

use std::path::Path;
use std::time::Duration;

use checkpoint_journal::format::limits::{SEGMENT_SIZE_MAX_BYTES, SEGMENT_SIZE_MIN_BYTES};
use checkpoint_journal::{Durability, Error, Journal, Options};
use support::{fingerprint, options, TestResult};

/// Every invalid value the options can hold, with the field it must be reported against.
fn invalid() -> Vec<(Options, &'static str)> {
    let mut out: Vec<(Options, &'static str)> = [
        0,
        8,
        4096,
        SEGMENT_SIZE_MIN_BYTES - 4096,
        SEGMENT_SIZE_MIN_BYTES + 1,
        SEGMENT_SIZE_MIN_BYTES + 4095,
        SEGMENT_SIZE_MAX_BYTES + 4096,
        SEGMENT_SIZE_MAX_BYTES * 2,
        u64::MAX,
    ]
    .into_iter()
    .map(|bytes| (options().segment_size_bytes(bytes), "segment_size_bytes"))
    .collect();
    out.push((
        options().durability(Durability::Interval(Duration::ZERO)),
        "durability",
    ));
    for delay in [
        Duration::from_secs(1) + Duration::from_nanos(1),
        Duration::from_secs(3600),
        Duration::MAX,
    ] {
        out.push((options().group_commit(delay, 0), "group_commit_max_delay"));
    }
    out
}

fn refused(dir: &Path, opts: &Options, field: &str) -> TestResult {
    let err = Journal::open(dir, opts.clone())
        .err()
        .ok_or_else(|| format!("{opts:?} opened"))?;
    match &err {
        Error::InvalidOptions { field: named, .. } => assert_eq!(*named, field, "{opts:?}"),
        other => return Err(format!("{opts:?}: expected InvalidOptions, got {other:?}").into()),
    }
    let message = err.to_string();
    assert!(message.contains(field), "`{message}` does not name {field}");
    assert!(
        matches!(opts.validate(), Err(Error::InvalidOptions { field: f, .. }) if f == field),
        "validate() agrees with open"
    );
    Ok(())
}

#[test]
fn each_invalid_option_is_invalid_options_naming_its_field_before_any_disk_access() -> TestResult {
    let parent = support::tempdir()?;
    let missing = parent.path().join("never-created");
    for (opts, field) in invalid() {
        refused(&missing, &opts, field)?;
        assert!(!missing.exists(), "{opts:?} created the directory");
    }
    Ok(())
}

#[test]
fn invalid_options_leave_an_existing_journal_unchanged() -> TestResult {
    let dir = support::tempdir()?;
    let (journal, _) = support::write_entries(dir.path(), options(), 10)?;
    journal.close()?;
    let before = fingerprint(dir.path())?;
    for (opts, field) in invalid() {
        refused(dir.path(), &opts, field)?;
        assert_eq!(fingerprint(dir.path())?, before, "{opts:?} changed files");
    }
    let journal = Journal::open(dir.path(), options())?;
    assert_eq!(support::entries(&journal)?.len(), 10);
    journal.close()?;
    Ok(())
}

#[test]
fn the_boundary_values_are_valid() -> TestResult {
    for opts in [
        options().segment_size_bytes(SEGMENT_SIZE_MIN_BYTES),
        options().segment_size_bytes(SEGMENT_SIZE_MAX_BYTES),
        options().group_commit(Duration::from_secs(1), u64::MAX),
        options().durability(Durability::Interval(Duration::from_nanos(1))),
        options().durability(Durability::Interval(Duration::MAX)),
    ] {
        opts.validate()
            .map_err(|e| format!("{opts:?} is refused: {e}"))?;
    }
    Ok(())
}

#[test]
fn an_empty_batch_is_invalid_options_naming_entries() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let err = journal
        .append_batch(&[])
        .err()
        .ok_or("an empty batch was appended")?;
    assert!(
        matches!(
            err,
            Error::InvalidOptions {
                field: "entries",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(journal.end_lsn().0, 0, "nothing was written");
    journal.close()?;
    Ok(())
}

#[test]
fn an_interval_of_duration_max_opens_and_closes() -> TestResult {
    let dir = support::tempdir()?;
    let opts = options().durability(Durability::Interval(Duration::MAX));
    let journal = Journal::open(dir.path(), opts)?;
    journal.append(support::entry(1))?;
    journal.close()?;
    Ok(())
}

/// A caller that means "wait as long as it takes" passes `Duration::MAX`.
#[test]
fn wait_durable_with_an_unbounded_timeout_does_not_panic() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let lsn = journal.append(support::entry(1))?;
    journal.flush()?;
    let durable = journal.wait_durable(lsn, Duration::MAX)?;
    assert!(durable > lsn);
    journal.close()?;
    Ok(())
}

/// The same for a reader following the journal.
#[test]
fn next_timeout_with_an_unbounded_timeout_does_not_panic() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    journal.append(support::entry(1))?;
    let mut reader = journal.read_from(journal.first_lsn())?;
    assert!(reader.next_timeout(Duration::MAX)?.is_some());
    journal.close()?;
    Ok(())
}
