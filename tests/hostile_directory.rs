//! A journal directory that is not what the journal made — names that are not UTF-8,
//! permissions wider than the 0700/0600 the journal creates, a directory path that is
//! a regular file, a lock file that is a directory — never causes a panic. Where it is
//! an error, the error names the file and nothing on disk changes; where it is not, the
//! journal opens with its data intact and leaves what it did not make as it was.
//!
//! The names a journal directory holds are listed once
//! (`a_journal_directory_holds_only_the_files_the_journal_makes`); the advisory stats
//! file (`journal.stats`) is never written through a planted symlink and a directory in
//! its place does not stop the journal.
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

use checkpoint_journal::lease::LEASE_FILE_NAME;
use checkpoint_journal::stats::{read_published, WriterSnapshot, STATS_FILE_NAME};
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

/// Waits until the writer in `dir` has published its stats `n` times (it publishes
/// every few milliseconds; the deadline only bounds a broken build).
fn published_times(dir: &Path, n: u64) -> TestResult {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let WriterSnapshot::Found(p) = read_published(dir) {
            if p.sequence >= n {
                return Ok(());
            }
        }
        if std::time::Instant::now() > deadline {
            return Err("the stats were never published".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn publishing() -> checkpoint_journal::Options {
    options().stats_file_interval(std::time::Duration::from_millis(2))
}

/// Every name a journal directory may hold: segments, the lock, the owner lease, the
/// published stats (while a writer runs), snapshots (after compaction).
#[test]
fn a_journal_directory_holds_only_the_files_the_journal_makes() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), publishing())?;
    let batch: Vec<_> = (0..2000).map(entry).collect();
    journal.append_batch(&batch)?;
    journal.append_batch(&batch)?;
    journal.compact()?;
    published_times(dir.path(), 2)?;
    // While open, the stats publisher's temporary file exists for a moment each second
    // (written, then renamed over `journal.stats`).
    let stats_tmp = format!("{STATS_FILE_NAME}.{}.tmp", std::process::id());
    let known = |name: &str, open: bool| {
        name == LOCK_FILE_NAME
            || (open && (name == LEASE_FILE_NAME || name == STATS_FILE_NAME || name == stats_tmp))
            // The clean-shutdown claim a clean close leaves.
            || (!open && name == "journal.clean")
            || Path::new(name).extension() == Some(OsStr::new("seg"))
            || Path::new(name).extension() == Some(OsStr::new("snap"))
    };
    let names = |dir: &Path| -> TestResult<Vec<String>> {
        let mut out = Vec::new();
        for item in fs::read_dir(dir)? {
            out.push(item?.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    };
    let open = names(dir.path())?;
    assert!(open.iter().all(|n| known(n, true)), "{open:?}");
    for name in [LOCK_FILE_NAME, LEASE_FILE_NAME, STATS_FILE_NAME] {
        assert!(open.iter().any(|n| n == name), "{name} in {open:?}");
    }
    let snap = |n: &String| Path::new(n).extension() == Some(OsStr::new("snap"));
    assert!(open.iter().any(snap), "{open:?}");
    journal.close()?;
    let closed = names(dir.path())?;
    assert!(closed.iter().all(|n| known(n, false)), "closed: {closed:?}");
    Ok(())
}

/// `journal.stats` is advisory: a directory in its place, or a symlink where its
/// temporary file goes, neither stops the journal nor is written through.
#[test]
fn a_stats_file_that_is_a_directory_or_a_planted_symlink_changes_nothing() -> TestResult {
    let dir = support::tempdir()?;
    let outside = support::tempdir()?;
    journal_of(dir.path(), 3)?;
    let stats = dir.path().join(STATS_FILE_NAME);
    fs::create_dir(&stats)?;
    fs::write(stats.join("inside"), b"kept")?;
    let journal = Journal::open(dir.path(), publishing())?;
    journal.append(entry(3))?;
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(matches!(
        read_published(dir.path()),
        WriterSnapshot::Unreadable { .. }
    ));
    journal.close()?;
    assert_eq!(fs::read(stats.join("inside"))?, b"kept");
    fs::remove_dir_all(&stats)?;

    let victim = outside.path().join("victim");
    fs::write(&victim, b"untouched")?;
    let temp = dir
        .path()
        .join(format!("{STATS_FILE_NAME}.{}.tmp", std::process::id()));
    std::os::unix::fs::symlink(&victim, &temp)?;
    let journal = Journal::open(dir.path(), publishing())?;
    published_times(dir.path(), 2)?;
    assert_eq!(fs::read(&victim)?, b"untouched");
    assert_eq!(entries(&journal)?.len(), 4);
    journal.close()?;
    Ok(())
}
