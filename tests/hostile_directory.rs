//! A journal directory that is not what the journal made — names that are not UTF-8,
//! permissions wider than the 0700/0600 the journal creates, a directory path that is
//! a regular file, a lock file that is a directory — never causes a panic. Where it is
//! an error, the error names the file and nothing on disk changes; where it is not, the
//! journal opens with its data intact and leaves what it did not make as it was.
//!
//! Permissions: the library neither refuses nor warns about a directory or files with
//! permissions wider than it would create. It creates its own with 0700/0600 and leaves
//! existing modes alone; `wider_permissions_are_accepted_and_left_as_they_are` pins that.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use checkpoint_journal::storage::LOCK_FILE_NAME;
use checkpoint_journal::{inspect, Error, Journal, JournalReader, RecoveryMode};
use support::{entries, entry, fingerprint, options, segment_path, TestResult};

/// A closed journal of `count` one-entry frames in `dir`.
fn journal_of(dir: &Path, count: u64) -> TestResult {
    let (journal, _) = support::write_entries(dir, options(), count)?;
    journal.close()?;
    Ok(())
}

fn mode(path: &Path) -> TestResult<u32> {
    Ok(fs::symlink_metadata(path)?.permissions().mode() & 0o7777)
}

fn set_mode(path: &Path, mode: u32) -> TestResult {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// `err`'s message names `path`.
fn names(err: &Error, path: &Path) {
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "`{message}` does not name {}",
        path.display()
    );
}

#[test]
fn file_names_that_are_not_utf8_are_ignored() -> TestResult {
    let dir = support::tempdir()?;
    journal_of(dir.path(), 20)?;
    let strangers = [
        OsStr::from_bytes(b"\xff\xfe.seg"),
        OsStr::from_bytes(b"00000000000\xe90000.seg"),
        OsStr::from_bytes(b"notes-\x80\x81"),
    ];
    for name in strangers {
        fs::write(dir.path().join(name), b"not a segment")?;
    }
    fs::create_dir(dir.path().join(OsStr::from_bytes(b"sub\xc3\x28")))?;
    let before = fingerprint(dir.path())?;
    for mode in [
        RecoveryMode::Strict,
        RecoveryMode::TolerateTornTail,
        RecoveryMode::Salvage,
    ] {
        let journal = Journal::open(dir.path(), options().recovery_mode(mode))?;
        assert_eq!(entries(&journal)?, (0..20).map(entry).collect::<Vec<_>>());
        assert_eq!(journal.recovery_report().segments_scanned, 1);
        journal.close_without_flush();
    }
    let after = fingerprint(dir.path())?;
    for name in strangers {
        let key = name.to_string_lossy().into_owned();
        assert_eq!(after.get(&key), before.get(&key), "{key} changed");
    }
    let inspected = inspect(dir.path(), RecoveryMode::Strict)?.ok_or("no journal")?;
    assert_eq!(inspected.report.entries_replayed, 20);
    assert_eq!(JournalReader::open(dir.path())?.count(), 20);
    Ok(())
}

#[test]
fn a_journal_directory_whose_own_name_is_not_utf8_works() -> TestResult {
    let parent = support::tempdir()?;
    let dir = parent.path().join(OsStr::from_bytes(b"journal-\xff\xfe"));
    journal_of(&dir, 5)?;
    let journal = Journal::open(&dir, options())?;
    assert_eq!(entries(&journal)?.len(), 5);
    journal.close()?;
    Ok(())
}

#[test]
fn wider_permissions_are_accepted_and_left_as_they_are() -> TestResult {
    let parent = support::tempdir()?;
    let dir = parent.path().join("journal");
    journal_of(&dir, 10)?;
    let first = segment_path(&dir, 0);
    let lock = dir.join(LOCK_FILE_NAME);
    set_mode(&dir, 0o777)?;
    set_mode(&first, 0o666)?;
    set_mode(&lock, 0o644)?;
    let journal = Journal::open(&dir, options())?;
    assert_eq!(entries(&journal)?.len(), 10);
    // Roll over into a segment the journal creates itself.
    let batch: Vec<_> = (0..2000).map(entry).collect();
    journal.append_batch(&batch)?;
    journal.append_batch(&batch)?;
    journal.close()?;
    assert_eq!(
        (mode(&dir)?, mode(&first)?, mode(&lock)?),
        (0o777, 0o666, 0o644),
        "existing modes are left alone"
    );
    let created = support::segment_bases(&dir)?;
    assert!(created.len() >= 2);
    for base in &created[1..] {
        assert_eq!(
            mode(&segment_path(&dir, *base))?,
            0o600,
            "new segment {base:x}"
        );
    }
    let journal = Journal::open(&dir, options())?;
    assert_eq!(entries(&journal)?.len(), 4010);
    journal.close()?;
    Ok(())
}

#[test]
fn a_journal_path_that_is_a_regular_file_is_an_error_naming_it() -> TestResult {
    let parent = support::tempdir()?;
    let file = parent.path().join("journal");
    fs::write(&file, b"I am a file")?;
    let before = fingerprint(parent.path())?;
    for create in [true, false] {
        let err = Journal::open(&file, options().create_if_missing(create))
            .err()
            .ok_or("a regular file opened as a journal")?;
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        names(&err, &file);
        assert_eq!(
            fingerprint(parent.path())?,
            before,
            "create_if_missing({create})"
        );
    }
    let err = inspect(&file, RecoveryMode::Strict)
        .err()
        .ok_or("inspect of a regular file succeeded")?;
    names(&err, &file);
    let err = JournalReader::open(&file)
        .err()
        .ok_or("a reader opened a regular file")?;
    names(&err, &file);
    assert_eq!(fingerprint(parent.path())?, before);
    Ok(())
}

#[test]
fn a_lock_file_that_is_a_directory_is_an_error_naming_it() -> TestResult {
    let parent = support::tempdir()?;
    let dir = parent.path().join("journal");
    journal_of(&dir, 10)?;
    let lock = dir.join(LOCK_FILE_NAME);
    fs::remove_file(&lock)?;
    fs::create_dir(&lock)?;
    fs::write(lock.join("inside"), b"kept")?;
    let before = fingerprint(&dir)?;
    let inside = fingerprint(&lock)?;
    for mode in [RecoveryMode::Strict, RecoveryMode::TolerateTornTail] {
        let err = Journal::open(&dir, options().recovery_mode(mode))
            .err()
            .ok_or("opened with a directory as its lock file")?;
        match &err {
            Error::Io { path, .. } => assert_eq!(path, &lock),
            other => return Err(format!("expected Io naming the lock file, got {other:?}").into()),
        }
        names(&err, &lock);
        assert_eq!(fingerprint(&dir)?, before);
        assert_eq!(fingerprint(&lock)?, inside);
    }
    // Readers take no lock: inspection and followers still work.
    let inspected = inspect(&dir, RecoveryMode::Strict)?.ok_or("no journal")?;
    assert_eq!(inspected.report.entries_replayed, 10);
    assert_eq!(JournalReader::open(&dir)?.count(), 10);
    Ok(())
}
