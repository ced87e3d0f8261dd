//! Files the journal creates are private to their owner: a new journal directory is
//! 0700, and every segment file (the first, rolled ones, and ones created ahead of
//! need in the background) and the lock file are 0600.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use checkpoint_journal::storage::LOCK_FILE_NAME;
use checkpoint_journal::{Entry, Journal};
use support::{entry, options, segment_bases, segment_path, TestResult, CAPACITY_BYTES};

fn mode(path: &Path) -> TestResult<u32> {
    Ok(fs::symlink_metadata(path)?.permissions().mode() & 0o7777)
}

/// Appends enough batches to roll over `segments` times.
fn fill(journal: &Journal, segments: u64) -> TestResult {
    let batch: Vec<Entry> = (0..100).map(entry).collect();
    while journal.end_lsn().0 < segments * CAPACITY_BYTES {
        journal.append_batch(&batch)?;
    }
    Ok(())
}

/// Every segment file and the lock file in `dir` are 0600; returns how many segments.
fn check_files(dir: &Path) -> TestResult<usize> {
    let bases = segment_bases(dir)?;
    for base in &bases {
        let path = segment_path(dir, *base);
        assert_eq!(mode(&path)?, 0o600, "{}", path.display());
    }
    assert_eq!(mode(&dir.join(LOCK_FILE_NAME))?, 0o600, "lock file");
    Ok(bases.len())
}

#[test]
fn a_new_journal_directory_is_private_to_its_owner() -> TestResult {
    let parent = support::tempdir()?;
    let dir = parent.path().join("journal");
    let journal = Journal::open(&dir, options())?;
    assert_eq!(mode(&dir)?, 0o700);
    journal.close()?;
    assert_eq!(mode(&dir)?, 0o700);
    Ok(())
}

#[test]
fn segment_files_and_the_lock_file_are_private_to_their_owner() -> TestResult {
    let parent = support::tempdir()?;
    let dir = parent.path().join("journal");
    let journal = Journal::open(&dir, options())?;
    assert_eq!(check_files(&dir)?, 1);
    fill(&journal, 3)?;
    assert_eq!(check_files(&dir)?, 4);
    journal.close()?;
    check_files(&dir)?;
    Ok(())
}

#[test]
fn preallocated_segments_are_private_to_their_owner() -> TestResult {
    let parent = support::tempdir()?;
    let dir = parent.path().join("journal");
    let journal = Journal::open(&dir, options().preallocate(true))?;
    fill(&journal, 2)?;
    journal.close()?;
    // Rolled segments may have been made ahead of need or by the roll itself; either
    // way each one present is private.
    assert!(check_files(&dir)? >= 3);
    Ok(())
}
