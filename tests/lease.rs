//! The owner lease's decision table, row by row, on the real filesystem with real
//! processes: a lease naming a live process on this host (a real second process, and a
//! forged lease naming a running child) is refused by name; a dead holder, a reused pid
//! and an earlier boot are taken over and reported; another host is refused unless the
//! caller forces the takeover; a corrupt lease is refused with what to do; the owner's
//! own lease re-enters; closing (or abandoning) the journal removes the lease. Read-only inspection ignores it.
//!
//! The journal-holding child is this test binary, started with `CHILD_DIR_VAR` set (as
//! in `lock_second_process.rs`); the other children are `sleep`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use checkpoint_journal::format::lease_file::LeaseRecord;
use checkpoint_journal::lease::LEASE_FILE_NAME;
use checkpoint_journal::{Error, Journal, LeaseCase, RecoveryMode};
use support::{entry, options, TestResult};

const CHILD_DIR_VAR: &str = "CPJ_TEST_LEASE_CHILD_DIR";
const READY: &str = "cpj-lease-child-ready";

fn lease_path(dir: &Path) -> PathBuf {
    dir.join(LEASE_FILE_NAME)
}

fn host() -> TestResult<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/hostname")?
        .trim()
        .to_owned())
}

fn boot_id() -> TestResult<u128> {
    let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?;
    Ok(u128::from_str_radix(&text.trim().replace('-', ""), 16)?)
}

/// Field 22 of `/proc/PID/stat`.
fn start_ticks(pid: u32) -> TestResult<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = &stat[stat.rfind(')').ok_or("no )")? + 1..];
    Ok(after.split_whitespace().nth(19).ok_or("short")?.parse()?)
}

fn read_lease(dir: &Path) -> TestResult<LeaseRecord> {
    let bytes = std::fs::read(lease_path(dir))?;
    LeaseRecord::decode(&bytes).map_err(|f| f.to_string().into())
}

/// Writes a lease naming `host:pid` started at `start`, in boot `boot`.
fn forge(dir: &Path, host: &str, boot: u128, pid: u32, start: u64) -> TestResult {
    let record = LeaseRecord {
        host: host.into(),
        boot_id: boot,
        pid,
        start_ticks: start,
        acquired_at_ms: 1_700_000_000_000,
        journal_id: 0,
    };
    std::fs::write(lease_path(dir), record.encode())?;
    Ok(())
}

/// A journal with one entry, closed (so its directory holds no lease).
fn journal_dir() -> TestResult<tempfile::TempDir> {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    journal.append(entry(0))?;
    journal.close()?;
    Ok(dir)
}

fn sleeper() -> TestResult<Child> {
    Ok(Command::new("sleep").arg("60").spawn()?)
}

fn locked_holder(dir: &Path, force: bool) -> TestResult<String> {
    match Journal::open(dir, options().force_takeover(force)) {
        Err(Error::Locked { path, holder }) => {
            assert_eq!(path, lease_path(dir));
            Ok(holder)
        }
        Err(other) => Err(format!("expected Locked, got {other}").into()),
        Ok(j) => {
            j.close_without_flush();
            Err("opened a journal another owner holds".into())
        }
    }
}

/// Opens `dir`, expecting a takeover of `case`; checks the lease now names this process.
fn expect_takeover(dir: &Path, case: LeaseCase, previous: &str, force: bool) -> TestResult {
    let journal = Journal::open(dir, options().force_takeover(force))?;
    let takeover = journal
        .recovery_report()
        .lease_takeover
        .clone()
        .ok_or("no takeover reported")?;
    assert_eq!(takeover.case, case);
    assert_eq!(takeover.previous_holder, previous);
    assert_eq!(takeover.forced, force);
    let lease = read_lease(dir)?;
    assert_eq!((lease.host, lease.pid), (host()?, std::process::id()));
    assert_eq!(lease.journal_id, journal.journal_id());
    assert_eq!(support::entries(&journal)?, vec![entry(0)]);
    journal.close()?;
    Ok(())
}

#[test]
fn child_process_entry_point() -> TestResult {
    let Some(dir) = std::env::var_os(CHILD_DIR_VAR) else {
        return Ok(());
    };
    let journal = Journal::open(&dir, options())?;
    let mut out = std::io::stdout();
    writeln!(out, "{READY}")?;
    out.flush()?;
    std::io::stdin().read_to_end(&mut Vec::new())?;
    journal.close()?;
    Ok(())
}

#[test]
fn an_open_journal_leases_its_directory_and_a_clean_close_releases_it() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let lease = read_lease(dir.path())?;
    assert_eq!(lease.host, host()?);
    assert_eq!(lease.pid, std::process::id());
    assert_eq!(lease.start_ticks, start_ticks(std::process::id())?);
    assert_eq!(lease.boot_id, boot_id()?);
    assert_eq!(lease.journal_id, journal.journal_id());
    assert_eq!(journal.recovery_report().lease_takeover, None);
    journal.close()?;
    assert!(!lease_path(dir.path()).exists(), "close removes the lease");
    let journal = Journal::open(dir.path(), options())?;
    journal.close_without_flush();
    assert!(
        !lease_path(dir.path()).exists(),
        "so does abandoning the journal"
    );
    Ok(())
}

#[test]
fn l5_this_process_reenters_its_own_lease() -> TestResult {
    let dir = journal_dir()?;
    // As left by a handle of this process whose lease outlived it.
    let me = std::process::id();
    forge(dir.path(), &host()?, boot_id()?, me, start_ticks(me)?)?;
    let journal = Journal::open(dir.path(), options())?;
    assert_eq!(journal.recovery_report().lease_takeover, None);
    assert_eq!(read_lease(dir.path())?.journal_id, journal.journal_id());
    journal.close()?;
    Ok(())
}

#[test]
fn l8_a_real_second_process_holding_the_journal_is_refused_and_named() -> TestResult {
    let dir = journal_dir()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "child_process_entry_point", "--nocapture"])
        .env(CHILD_DIR_VAR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    while !line.contains(READY) {
        line.clear();
        if stdout.read_line(&mut line)? == 0 {
            return Err("the child exited before opening".into());
        }
    }
    let lease = read_lease(dir.path());
    let refused = Journal::open(dir.path(), options().force_takeover(true)).err();
    drop(child.stdin.take());
    assert!(child.wait()?.success());
    let lease = lease?;
    assert_eq!((lease.host, lease.pid), (host()?, child.id()));
    assert_ne!(lease.start_ticks, 0);
    let Some(Error::Locked { holder, .. }) = refused else {
        return Err(format!("expected Locked, got {refused:?}").into());
    };
    assert!(holder.contains(&format!(":{}", child.id())), "{holder}");
    assert!(
        !lease_path(dir.path()).exists(),
        "the child's close removed its lease"
    );
    Journal::open(dir.path(), options())?.close()?;
    Ok(())
}

#[test]
fn l8_a_lease_naming_a_live_process_on_this_host_is_refused() -> TestResult {
    let dir = journal_dir()?;
    let mut child = sleeper()?;
    let pid = child.id();
    forge(dir.path(), &host()?, boot_id()?, pid, start_ticks(pid)?)?;
    let before = support::fingerprint(dir.path())?;
    let holder = locked_holder(dir.path(), true);
    child.kill()?;
    child.wait()?;
    assert_eq!(holder?, format!("{}:{pid} (owner lease)", host()?));
    assert_eq!(support::fingerprint(dir.path())?, before, "nothing changed");
    Ok(())
}

#[test]
fn l6_a_dead_holder_is_taken_over_and_reported() -> TestResult {
    let dir = journal_dir()?;
    let mut child = sleeper()?;
    let pid = child.id();
    let start = start_ticks(pid)?;
    child.kill()?;
    child.wait()?;
    forge(dir.path(), &host()?, boot_id()?, pid, start)?;
    expect_takeover(
        dir.path(),
        LeaseCase::HolderDead,
        &format!("{}:{pid}", host()?),
        false,
    )
}

#[test]
fn l7_a_reused_pid_is_taken_over() -> TestResult {
    let dir = journal_dir()?;
    let mut child = sleeper()?;
    let pid = child.id();
    forge(dir.path(), &host()?, boot_id()?, pid, start_ticks(pid)? + 1)?;
    let outcome = expect_takeover(
        dir.path(),
        LeaseCase::PidReused,
        &format!("{}:{pid}", host()?),
        false,
    );
    child.kill()?;
    child.wait()?;
    outcome
}

#[test]
fn l4_a_holder_from_an_earlier_boot_is_taken_over() -> TestResult {
    let dir = journal_dir()?;
    let mut child = sleeper()?;
    let pid = child.id();
    forge(dir.path(), &host()?, boot_id()? ^ 1, pid, start_ticks(pid)?)?;
    let outcome = expect_takeover(
        dir.path(),
        LeaseCase::OtherBoot,
        &format!("{}:{pid}", host()?),
        false,
    );
    child.kill()?;
    child.wait()?;
    outcome
}

#[test]
fn l3_another_host_is_refused_unless_the_takeover_is_forced() -> TestResult {
    let dir = journal_dir()?;
    forge(dir.path(), "other-host.invalid", 7, 4242, 99)?;
    let before = support::fingerprint(dir.path())?;
    let holder = locked_holder(dir.path(), false)?;
    assert!(
        holder.starts_with("other-host.invalid:4242 on another host"),
        "{holder}"
    );
    let message = Journal::open(dir.path(), options())
        .err()
        .ok_or("opened")?
        .to_string();
    assert!(message.contains("force_takeover(true)"), "{message}");
    assert_eq!(support::fingerprint(dir.path())?, before, "nothing changed");
    // Read-only inspection neither needs nor touches the lease.
    let inspection = checkpoint_journal::inspect(dir.path(), RecoveryMode::TolerateTornTail)?;
    assert_eq!(inspection.ok_or("no journal")?.report.entries_replayed, 1);
    assert_eq!(support::fingerprint(dir.path())?, before);
    expect_takeover(
        dir.path(),
        LeaseCase::ForeignHost,
        "other-host.invalid:4242",
        true,
    )
}

#[test]
fn l2_a_corrupt_lease_is_refused_naming_the_file_and_what_to_do() -> TestResult {
    let dir = journal_dir()?;
    forge(dir.path(), &host()?, boot_id()?, 1, 1)?;
    let good = std::fs::read(lease_path(dir.path()))?;
    let mut flipped = good.clone();
    flipped[20] ^= 0x10;
    let damaged: [&[u8]; 4] = [b"not a lease", &good[..40], &flipped, &[]];
    for bytes in damaged {
        std::fs::write(lease_path(dir.path()), bytes)?;
        let before = support::fingerprint(dir.path())?;
        match Journal::open(dir.path(), options().force_takeover(true)) {
            Err(e @ Error::LeaseUnreadable { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains(&lease_path(dir.path()).display().to_string()),
                    "{text}"
                );
                assert!(text.contains("delete the file"), "{text}");
            }
            other => return Err(format!("expected LeaseUnreadable, got {other:?}").into()),
        }
        assert_eq!(support::fingerprint(dir.path())?, before, "nothing changed");
    }
    std::fs::remove_file(lease_path(dir.path()))?;
    Journal::open(dir.path(), options())?.close()?;
    Ok(())
}
