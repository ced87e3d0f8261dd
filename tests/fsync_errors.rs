//! A failed msync poisons the journal, on every path that syncs: a `Sync` append, an
//! explicit `flush()`, the `Interval` flusher, the header of a segment created at
//! roll-over, and `close`. After the failure every append and flush returns
//! `Error::Poisoned`, the durable frontier never covers data whose sync failed, and a
//! power loss then recovers the durable prefix.
//!
//! The simulated storage fails the msync the way Linux does: the pages are marked clean
//! without reaching the disk, so a retry would succeed with the data gone.

#[allow(
    dead_code,
    reason = "shared with crash_power_loss.rs; this file uses part of it"
)]
#[path = "crash_explorer/check.rs"]
mod check;
#[allow(
    dead_code,
    reason = "shared with crash_power_loss.rs; this file uses part of it"
)]
#[path = "crash_explorer/history.rs"]
mod history;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpoint_journal::storage::sim::{CrashPolicy, SimStorage};
use checkpoint_journal::{CheckpointRecord, Durability, Entry, Error, Journal, Lsn, Options};

use check::{check_journal, reopen_options, DIR, SEGMENT_BYTES};
use history::{Content, History};

/// Bytes of the segment header: data syncs start here, the header sync at offset 0.
const HEADER_BYTES: usize = 4096;

/// A journal on simulated storage and the history of what it acknowledged.
struct Rig {
    sim: SimStorage,
    history: History,
    next_sequence: AtomicU64,
    /// The mode of the journal last opened: `Sync` promises each acknowledged append.
    sync_mode: std::sync::atomic::AtomicBool,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            sim: SimStorage::new(11),
            history: History::default(),
            next_sequence: AtomicU64::new(1),
            sync_mode: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn open(&self, durability: Durability, preallocate: bool) -> Journal {
        let options = Options::default()
            .segment_size_bytes(SEGMENT_BYTES)
            .durability(durability)
            .preallocate(preallocate);
        let sync = durability == Durability::Sync;
        self.sync_mode.store(sync, Ordering::Relaxed);
        Journal::open_with_storage(DIR, options, Arc::new(self.sim.clone()))
            .unwrap_or_else(|e| panic!("open failed: {e}"))
    }

    /// Appends one entry, recording it; the journal's answer is returned as is.
    fn append(&self, journal: &Journal) -> Result<Lsn, Error> {
        let sequence = self.next_sequence.fetch_add(1, Ordering::Relaxed);
        let entry = Entry::push(1, sequence, 0);
        self.history.begin(Content::Entries(vec![entry]));
        let lsn = journal.append(entry)?;
        self.history.ack(sequence, lsn);
        self.history.promise(journal.durable_lsn());
        if self.sync_mode.load(Ordering::Relaxed) {
            self.history.promise(Lsn(lsn.0 + 1));
        }
        Ok(lsn)
    }

    fn append_ok(&self, journal: &Journal, count: usize) {
        for _ in 0..count {
            if let Err(e) = self.append(journal) {
                panic!("append failed: {e}");
            }
        }
    }

    /// Appends until an append fails, and returns its error.
    fn append_until_error(&self, journal: &Journal) -> Error {
        for _ in 0..10 * SEGMENT_BYTES / 40 {
            if let Err(e) = self.append(journal) {
                return e;
            }
        }
        panic!("no append failed");
    }

    fn flush(&self, journal: &Journal) -> Result<Lsn, Error> {
        let durable = journal.flush()?;
        self.history.promise(durable);
        Ok(durable)
    }

    /// Power loss now, under several policies: each image must reopen to a prefix of
    /// the history holding everything promised durable.
    fn check_power_loss(&self) {
        let promised = self.history.promised();
        let snap = self.history.snapshot(promised);
        for policy in [
            CrashPolicy::NONE,
            CrashPolicy::ALL,
            CrashPolicy::random(1),
            CrashPolicy::ALL.with_torn_page(2),
        ] {
            let image = self.sim.crash_image(policy);
            let journal = Journal::open_with_storage(DIR, reopen_options(), Arc::new(image))
                .unwrap_or_else(|e| panic!("{policy:?}: reopen failed: {e}"));
            if let Err(why) = check_journal(&journal, &snap) {
                panic!("{policy:?}: {why}");
            }
        }
    }
}

/// Every later call is refused with `Poisoned`, and nothing more becomes durable.
fn assert_poisoned(rig: &Rig, journal: &Journal) {
    let durable = journal.durable_lsn();
    let poisoned = |what: &str, result: Result<Lsn, Error>| match result {
        Err(Error::Poisoned { durable: at, .. }) => assert!(at <= durable, "{what}: {at}"),
        other => panic!("{what} after a failed sync returned {other:?}, not Poisoned"),
    };
    poisoned("append", rig.append(journal));
    poisoned(
        "append_batch",
        journal.append_batch(&[Entry::push(2, 1, 0)]),
    );
    poisoned(
        "checkpoint",
        journal.checkpoint(&CheckpointRecord::default()),
    );
    poisoned("flush", journal.flush());
    poisoned("flush again", journal.flush());
    poisoned(
        "wait_durable",
        journal.wait_durable(durable, Duration::ZERO),
    );
    assert_eq!(
        journal.durable_lsn(),
        durable,
        "the frontier never moves again"
    );
}

/// Fails the next data sync (not a segment header) of any file.
fn fail_next_data_sync(sim: &SimStorage) {
    sim.fail_next_sync_where(|_, offset, _| offset >= HEADER_BYTES);
}

fn is_io(err: &Error) -> bool {
    matches!(err, Error::Io { .. })
}

#[test]
fn a_failed_sync_under_a_sync_append_poisons_and_the_append_is_not_acknowledged() {
    let rig = Rig::new();
    let journal = rig.open(Durability::Sync, false);
    rig.append_ok(&journal, 20);
    let durable = journal.durable_lsn();
    fail_next_data_sync(&rig.sim);
    let err = rig.append(&journal).unwrap_err();
    assert!(
        is_io(&err),
        "the append that hit the failure reports it: {err:?}"
    );
    assert_eq!(rig.sim.faults_fired(), 1);
    assert_eq!(journal.durable_lsn(), durable);
    assert_poisoned(&rig, &journal);
    rig.check_power_loss();
}

#[test]
fn concurrent_sync_appenders_all_see_the_failure_and_none_is_acknowledged_after_it() {
    let rig = Rig::new();
    let journal = rig.open(Durability::Sync, false);
    rig.append_ok(&journal, 10);
    let armed = std::sync::Barrier::new(5);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                armed.wait();
                // Appends until the failure reaches this thread.
                let err = rig.append_until_error(&journal);
                assert!(
                    matches!(err, Error::Io { .. } | Error::Poisoned { .. }),
                    "{err:?}"
                );
            });
        }
        rig.append_ok(&journal, 10);
        fail_next_data_sync(&rig.sim);
        armed.wait();
    });
    assert_eq!(rig.sim.faults_fired(), 1);
    assert_poisoned(&rig, &journal);
    rig.check_power_loss();
}

#[test]
fn a_failed_flush_poisons_and_keeps_the_frontier() {
    let rig = Rig::new();
    let journal = rig.open(Durability::Async, false);
    rig.append_ok(&journal, 30);
    let durable = rig.flush(&journal).unwrap();
    rig.append_ok(&journal, 30);
    fail_next_data_sync(&rig.sim);
    assert!(is_io(&rig.flush(&journal).unwrap_err()));
    assert_eq!(journal.durable_lsn(), durable);
    assert_poisoned(&rig, &journal);
    rig.check_power_loss();
    // The failed pages are clean but not durable: no retry, no policy brings them back.
    let image = rig.sim.crash_image(CrashPolicy::ALL);
    let reopened = Journal::open_with_storage(DIR, reopen_options(), Arc::new(image)).unwrap();
    assert_eq!(reopened.recovery_report().entries_replayed, 30);
}

#[test]
fn a_failed_interval_flush_poisons_the_next_append() {
    let rig = Rig::new();
    let journal = rig.open(Durability::Interval(Duration::from_millis(2)), false);
    rig.append_ok(&journal, 10);
    let first = wait_until(|| journal.durable_lsn() >= journal.end_lsn());
    assert!(first, "the flusher makes appends durable");
    rig.history.promise(journal.durable_lsn());
    let durable = journal.durable_lsn();
    rig.sim.fail_next_sync_where(|_, offset, _| {
        offset >= HEADER_BYTES && std::thread::current().name() == Some("cpj-flusher")
    });
    let unsynced = rig.append(&journal).unwrap();
    assert!(
        wait_until(|| rig.sim.faults_fired() == 1),
        "the flusher hit the failure"
    );
    assert!(journal.durable_lsn() <= unsynced, "{durable} {unsynced}");
    // The fault fires inside the flusher's sync; the flusher poisons the journal before
    // it releases the flush lock, so a flush from here waits for that and is refused.
    assert!(matches!(journal.flush(), Err(Error::Poisoned { .. })));
    assert_poisoned(&rig, &journal);
    rig.check_power_loss();
}

#[test]
fn a_failed_sync_at_close_is_reported_and_the_flushed_prefix_survives() {
    for failing in 0..2 {
        let rig = Rig::new();
        let journal = rig.open(Durability::Async, false);
        rig.append_ok(&journal, 30);
        rig.flush(&journal).unwrap();
        rig.append_ok(&journal, 5);
        // Close syncs twice: everything appended, then its close marker.
        let seen = AtomicU64::new(0);
        rig.sim.fail_next_sync_where(move |_, offset, _| {
            offset >= HEADER_BYTES && seen.fetch_add(1, Ordering::Relaxed) == failing
        });
        let closed = journal.close();
        assert!(
            closed.is_err(),
            "sync {failing} of close failed, yet close returned Ok"
        );
        assert_eq!(rig.sim.faults_fired(), 1);
        rig.check_power_loss();
    }
}

#[test]
fn a_failed_segment_header_sync_at_roll_over_poisons() {
    let rig = Rig::new();
    let journal = rig.open(Durability::Sync, false);
    rig.sim
        .fail_next_sync_where(|path, offset, _| offset == 0 && is_second_segment(path));
    let err = rig.append_until_error(&journal);
    assert!(is_io(&err), "{err:?}");
    assert_poisoned(&rig, &journal);
    rig.check_power_loss();
}

#[test]
fn a_failed_header_sync_of_a_preallocated_segment_poisons() {
    let rig = Rig::new();
    rig.sim
        .fail_next_sync_where(|path, offset, _| offset == 0 && is_second_segment(path));
    let journal = rig.open(Durability::Sync, true);
    // The spare asked for at open is made once the first segment is 1/16 full; these
    // appends stay in the first segment, so only the preallocator reaches the second.
    for _ in 0..SEGMENT_BYTES / 16 / 40 + 2 {
        if rig.append(&journal).is_err() {
            break;
        }
    }
    assert!(
        wait_until(|| rig.sim.faults_fired() == 1),
        "the preallocator hit the failure"
    );
    assert_poisoned(&rig, &journal);
    rig.check_power_loss();
}

#[test]
fn a_failed_directory_sync_at_roll_over_poisons() {
    let rig = Rig::new();
    let journal = rig.open(Durability::Sync, false);
    rig.sim.fail_next_sync_dir();
    let err = rig.append_until_error(&journal);
    assert!(is_io(&err), "{err:?}");
    assert_poisoned(&rig, &journal);
    rig.check_power_loss();
}

/// After a failed header msync the page cache still shows the header, so a reopen in
/// the same boot accepts the segment; its header page is clean and never written again,
/// so Sync appends acknowledged into it are lost at the next power loss.
#[test]
fn sync_appends_after_a_failed_header_sync_and_a_reopen_survive_power_loss() {
    let rig = Rig::new();
    let journal = rig.open(Durability::Sync, false);
    rig.sim
        .fail_next_sync_where(|path, offset, _| offset == 0 && is_second_segment(path));
    rig.append_until_error(&journal);
    drop(journal);
    let journal = rig.open(Durability::Sync, false);
    let first = rig.append(&journal).unwrap();
    assert!(
        first.0 >= SEGMENT_BYTES - HEADER_BYTES as u64,
        "in the second segment"
    );
    rig.append_ok(&journal, 9);
    journal.close_without_flush();
    rig.check_power_loss();
}

#[test]
fn a_full_disk_at_roll_over_is_a_clean_error_and_appends_resume_after() {
    let rig = Rig::new();
    let journal = rig.open(Durability::Sync, false);
    rig.sim.set_storage_full(true);
    let err = rig.append_until_error(&journal);
    assert!(err.is_storage_full(), "{err:?}");
    assert!(
        journal.flush().is_ok(),
        "a full disk loses nothing and poisons nothing"
    );
    rig.check_power_loss();
    rig.sim.set_storage_full(false);
    rig.append_ok(&journal, 10);
    rig.check_power_loss();
}

fn is_second_segment(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n != "0000000000000000.seg")
}

/// Polls `done` for up to five seconds.
fn wait_until(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    done()
}
