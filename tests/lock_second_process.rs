//! One writer per journal directory: a second open — from this process or another —
//! fails with `Error::Locked` naming the holder as `host:pid`, and the directory opens
//! again once the holder closes, abandons, exits or is killed (the kernel releases the
//! flock; a stale holder name in the lock file does not block). Once the lock is
//! released, nothing of the old handle touches the directory any more: the next
//! holder's segment creation never collides with a leftover background thread.
//!
//! The other process is this test binary itself, started with `CHILD_DIR_VAR` set: the
//! `child_process_entry_point` test then opens the directory, prints `READY`, and holds
//! the journal until its standard input closes.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use checkpoint_journal::storage::LOCK_FILE_NAME;
use checkpoint_journal::{Entry, Error, Journal};
use support::{entry, options, TestResult};

/// Names the directory the child process opens.
const CHILD_DIR_VAR: &str = "CPJ_TEST_LOCK_CHILD_DIR";
/// What the child prints once it holds the lock.
const READY: &str = "cpj-lock-child-ready";

/// `host:pid` as the lock file should record it for process `pid`.
fn holder_of(pid: u32) -> TestResult<String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")?;
    Ok(format!("{}:{pid}", host.trim()))
}

/// The holder named by a `Locked` error, or an error describing what happened instead.
fn locked_holder(dir: &Path) -> TestResult<String> {
    match Journal::open(dir, options()) {
        Err(Error::Locked { path, holder }) => {
            assert_eq!(path, dir.join(LOCK_FILE_NAME));
            Ok(holder)
        }
        Err(other) => Err(format!("expected Locked, got {other:?}").into()),
        Ok(journal) => {
            journal.close_without_flush();
            Err("a second writer opened a locked journal".into())
        }
    }
}

/// Starts this test binary as a child that holds `dir`; returns once it holds it.
fn spawn_holder(dir: &Path) -> TestResult<(Child, BufReader<ChildStdout>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "child_process_entry_point", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_DIR_VAR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no child stdout")?);
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line)? == 0 {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut stderr)?;
            }
            child.wait()?;
            return Err(format!("the child exited before holding the lock: {stderr}").into());
        }
        if line.contains(READY) {
            return Ok((child, stdout));
        }
    }
}

/// Run by `spawn_holder` in a child process: holds the journal in `CHILD_DIR_VAR` until
/// standard input closes. Without the variable (an ordinary test run) it does nothing.
#[test]
fn child_process_entry_point() -> TestResult {
    let Some(dir) = std::env::var_os(CHILD_DIR_VAR) else {
        return Ok(());
    };
    let journal = Journal::open(&dir, options())?;
    journal.append(entry(1))?;
    let mut out = std::io::stdout();
    writeln!(out, "{READY}")?;
    out.flush()?;
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    journal.close()?;
    Ok(())
}

#[test]
fn a_second_open_in_this_process_is_locked_naming_this_process() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    assert_eq!(locked_holder(dir.path())?, holder_of(std::process::id())?);
    let err = Journal::open(dir.path(), options())
        .err()
        .ok_or("opened twice")?;
    let lock_path = dir.path().join(LOCK_FILE_NAME).display().to_string();
    assert!(err.to_string().contains(&lock_path), "{err}");
    journal.append(entry(0))?;
    journal.close()?;
    let again = Journal::open(dir.path(), options())?;
    assert_eq!(support::entries(&again)?, vec![entry(0)]);
    Ok(())
}

#[test]
fn an_abandoned_journal_releases_its_lock() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    journal.append(entry(0))?;
    locked_holder(dir.path())?;
    journal.close_without_flush();
    let again = Journal::open(dir.path(), options())?;
    assert_eq!(support::entries(&again)?, vec![entry(0)]);
    Ok(())
}

#[test]
fn another_process_holding_the_journal_is_named_and_then_released() -> TestResult {
    let dir = support::tempdir()?;
    let (mut child, _stdout) = spawn_holder(dir.path())?;
    let holder = locked_holder(dir.path());
    drop(child.stdin.take());
    let status = child.wait()?;
    assert_eq!(holder?, holder_of(child.id())?);
    assert!(status.success(), "the child failed: {status}");
    let journal = Journal::open(dir.path(), options())?;
    assert_eq!(support::entries(&journal)?, vec![entry(1)]);
    Ok(())
}

#[test]
fn a_killed_holder_releases_the_lock_despite_its_stale_name() -> TestResult {
    let dir = support::tempdir()?;
    let (mut child, _stdout) = spawn_holder(dir.path())?;
    let holder = locked_holder(dir.path());
    child.kill()?;
    child.wait()?;
    assert_eq!(holder?, holder_of(child.id())?);
    let lock_file = std::fs::read_to_string(dir.path().join(LOCK_FILE_NAME))?;
    assert_eq!(lock_file.trim(), holder_of(child.id())?, "the stale name");
    let journal = Journal::open(dir.path(), options())?;
    assert_eq!(support::entries(&journal)?, vec![entry(1)]);
    let lock_file = std::fs::read_to_string(dir.path().join(LOCK_FILE_NAME))?;
    assert_eq!(lock_file.trim(), holder_of(std::process::id())?);
    Ok(())
}

#[test]
fn the_next_holder_never_collides_with_the_previous_holders_background_work() -> TestResult {
    // The race is narrow: each round gives it one chance (it shows in a few rounds of a
    // hundred on a 2-core machine), so the test takes many rounds.
    let batch: Vec<Entry> = (0..1000).map(entry).collect();
    for round in 0..120 {
        let dir = support::tempdir()?;
        let first = Journal::open(dir.path(), options().preallocate(true))?;
        first.close_without_flush();
        let second = Journal::open(dir.path(), options())?;
        // Three batches of 1000 entries need a second segment.
        for _ in 0..3 {
            second
                .append_batch(&batch)
                .map_err(|e| format!("round {round}: {e}"))?;
        }
        second.close()?;
    }
    Ok(())
}
