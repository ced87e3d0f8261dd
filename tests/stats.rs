//! `Journal::stats()` and `Stats::from_dir` against workloads whose counts are known:
//! every entry, frame, checkpoint and byte is accounted for, from many threads and
//! across roll-overs; the flush count equals the syncs the storage seam saw; the files
//! alone give the same contents.

use std::sync::Arc;

use checkpoint_journal::storage::sim::SimStorage;
use checkpoint_journal::{
    CheckpointRecord, Durability, Entry, Journal, Options, Stats, StatsSource,
};

const SEGMENT_BYTES: u64 = 64 * 1024;
/// Bytes of a frame of `n` entries: a 16-byte header and 24 bytes per entry.
fn entries_frame(n: u64) -> u64 {
    16 + 24 * n
}

fn small() -> Options {
    Options::default().segment_size_bytes(SEGMENT_BYTES)
}

#[test]
fn counts_match_a_known_workload_across_threads_and_rollovers() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small()).unwrap();
    let threads = 4u16;
    let per_thread = 2_000u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let journal = &journal;
            s.spawn(move || {
                for i in 0..per_thread {
                    journal.append(Entry::push(t, i, 0)).unwrap();
                }
                journal
                    .append_batch(&[Entry::push(t, per_thread, 0); 10])
                    .unwrap();
            });
        }
    });
    let record = CheckpointRecord {
        id: 1,
        ..CheckpointRecord::default()
    };
    journal.checkpoint(&record).unwrap();
    let stats = journal.stats();
    let threads = u64::from(threads);
    assert_eq!(stats.source, StatsSource::Live);
    assert_eq!(stats.appends.entries, threads * (per_thread + 10));
    assert_eq!(stats.appends.entry_frames, threads * (per_thread + 1));
    assert_eq!(stats.appends.checkpoints, 1);
    assert_eq!(stats.appends.frames(), threads * (per_thread + 1) + 1);
    let checkpoint_frame = 16 + (record.encode().unwrap().len() as u64).next_multiple_of(8);
    assert_eq!(
        stats.appends.bytes,
        threads * (per_thread * entries_frame(1) + entries_frame(10)) + checkpoint_frame
    );
    assert!(stats.segments.live >= 2, "the workload rolled over");
    assert_eq!(stats.segments.sealed, stats.segments.live - 1);
    assert_eq!(stats.lsn.published, journal.end_lsn());
    assert_eq!(stats.lsn.durable, journal.durable_lsn());
    assert_eq!(
        stats.lsn.durable_lag_bytes,
        stats.lsn.published.0 - stats.lsn.durable.0
    );
    assert!(stats.poisoned.is_none());
    journal.close().unwrap();
}

#[test]
fn flush_count_equals_the_syncs_the_storage_saw() {
    let sim = SimStorage::new(7);
    let options = small().preallocate(false);
    let journal = Journal::open_with_storage("/j", options, Arc::new(sim.clone())).unwrap();
    let syncs_at_open = sim.syncs_total();
    let flushes = 25u64;
    for i in 0..flushes {
        journal.append_batch(&[Entry::push(1, i, 0); 3]).unwrap();
        journal.flush().unwrap();
        // Nothing new: no sync, no flush counted.
        journal.flush().unwrap();
    }
    let stats = journal.stats();
    assert_eq!(stats.flushes.count, flushes);
    assert_eq!(sim.syncs_total() - syncs_at_open, flushes);
    assert_eq!(stats.flushes.count, journal.flush_count());
    assert_eq!(stats.flushes.bytes, flushes * entries_frame(3));
    assert!((stats.flushes.frames_per_flush - 1.0).abs() < f64::EPSILON);
    assert!(stats.flushes.p50_us <= stats.flushes.p99_us);
    assert!(stats.flushes.max_us <= stats.flushes.p99_us.max(stats.flushes.max_us));
    assert_eq!(stats.lsn.durable_lag_bytes, 0);
}

#[test]
fn sync_appends_share_flushes_and_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small().durability(Durability::Sync)).unwrap();
    for i in 0..20 {
        journal.append(Entry::push(1, i, 0)).unwrap();
    }
    let stats = journal.stats();
    assert_eq!(stats.appends.entries, 20);
    assert_eq!(stats.flushes.count, journal.flush_count());
    assert_eq!(
        stats.flushes.count, 20,
        "one thread: one sync per Sync append"
    );
    assert!(stats.flushes.max_us >= stats.flushes.mean_us);
    assert_eq!(stats.lsn.durable, stats.lsn.published);
}

#[test]
fn a_failed_sync_shows_as_poisoned() {
    let sim = SimStorage::new(3);
    let options = small().preallocate(false);
    let journal = Journal::open_with_storage("/j", options, Arc::new(sim.clone())).unwrap();
    journal.append(Entry::push(1, 1, 0)).unwrap();
    sim.fail_next_sync();
    assert!(journal.flush().is_err());
    let stats = journal.stats();
    let cause = stats.poisoned.as_deref().expect("poisoned");
    assert!(cause.contains("poisoned"), "{cause}");
    assert!(stats.to_string().contains("poisoned   YES"), "{stats}");
    assert_eq!(stats.flushes.count, 0);
    assert_eq!(stats.lsn.durable_lag_bytes, entries_frame(1));
}

#[test]
fn the_files_alone_give_the_same_contents() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small()).unwrap();
    for i in 0..3_000 {
        journal.append(Entry::push(2, i, 0)).unwrap();
    }
    journal.checkpoint(&CheckpointRecord::default()).unwrap();
    journal.flush().unwrap();
    let live = journal.stats();
    // Beside the open writer: no lock taken.
    let files = Stats::from_dir(dir.path()).unwrap();
    assert_eq!(files.source, StatsSource::Files);
    assert_eq!(files.appends, live.appends);
    assert_eq!(files.lsn.published, live.lsn.published);
    assert_eq!(files.lsn.first, live.lsn.first);
    assert!(files.lsn.durable <= live.lsn.durable);
    assert_eq!(files.journal_id, journal.journal_id());
    assert_eq!(files.segments.sealed, live.segments.sealed);
    journal.close().unwrap();
}

#[test]
fn a_file_scan_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small()).unwrap();
    journal.append(Entry::push(2, 0, 0)).unwrap();
    let mut scan = checkpoint_journal::FileStats::open(dir.path()).unwrap();
    assert_eq!(scan.refresh().unwrap().appends.entries, 1);
    for i in 1..5_000 {
        journal.append(Entry::push(2, i, 0)).unwrap();
    }
    let later = scan.refresh().unwrap();
    assert_eq!(later.appends.entries, 5_000);
    assert_eq!(later.appends.entry_frames, 5_000);
    assert_eq!(later.lsn.published, journal.end_lsn());
    assert!(later.segments.live >= 2);
    journal.close().unwrap();
}

#[test]
fn an_empty_directory_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let err = Stats::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(err, checkpoint_journal::Error::NotFound { .. }),
        "{err}"
    );
}

#[test]
fn display_and_json_show_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small()).unwrap();
    journal.append_batch(&[Entry::push(1, 1, 0); 4]).unwrap();
    journal.flush().unwrap();
    let stats = journal.stats();
    let table = stats.to_string();
    for line in [
        "appends",
        "flushes",
        "lsn",
        "lag",
        "segments",
        "snapshots",
        "poisoned",
    ] {
        assert!(
            table.lines().any(|l| l.starts_with(line)),
            "{line}: {table}"
        );
    }
    assert!(table.contains("entries 4"), "{table}");
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["appends"]["entries"], 4);
    assert_eq!(json["flushes"]["count"], 1);
    assert_eq!(json["source"], "live");
    assert_eq!(json["journal_id"], format!("{:032x}", journal.journal_id()));
    assert!(json["ring"].is_null());
}

#[test]
fn compaction_snapshots_and_a_ring_show_up() {
    use checkpoint_journal::{ChangelogRing, OverflowPolicy};
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small()).unwrap();
    let before = journal.stats();
    assert_eq!(before.snapshots.count, 0);
    assert_eq!(before.lsn.compacted, None);
    for i in 0..6_000 {
        journal.append(Entry::push(3, i, 0)).unwrap();
    }
    let snapshot = journal.compact().unwrap();
    let report = journal.last_compaction().unwrap();
    let stats = journal.stats();
    let compaction = stats.compaction.unwrap();
    assert_eq!(compaction.runs, 1);
    assert_eq!(compaction.failures, 0);
    assert_eq!(compaction.bytes_reclaimed, report.bytes_freed);
    assert!(compaction.last_duration_us.is_some());
    assert_eq!(stats.segments.retired, report.segments_retired.len() as u64);
    assert_eq!(stats.snapshots.count, 1);
    assert_eq!(stats.snapshots.last_lsn, Some(snapshot));
    assert!(stats.snapshots.age_ms.is_some());
    assert_eq!(stats.lsn.compacted, Some(snapshot));
    assert_eq!(stats.lsn.replay_bytes, stats.lsn.published.0 - snapshot.0);

    let (mut producer, _drainer) = ChangelogRing::new(8, OverflowPolicy::DropNew).unwrap();
    for i in 0..10 {
        producer.push(Entry::push(1, i, 0));
    }
    let with_ring = stats.with_ring(producer.stats());
    let ring = with_ring.ring.unwrap();
    assert_eq!(ring.pushed, 8);
    assert_eq!(ring.dropped, 2);
    assert!(with_ring.to_string().contains("dropped 2"));
}

/// The durable lag in milliseconds (`Some` in live stats).
fn lag_ms(stats: &Stats) -> u64 {
    stats
        .lsn
        .durable_lag_ms
        .expect("live stats give the durable lag in time")
}

/// Ordering, not thresholds: `sleep(d)` lets at least `d` pass on the monotonic clock,
/// so a lag that counts from a fixed moment grows by at least `d` between two readings,
/// and is never more than the time since a moment taken before that one.
#[test]
fn durable_lag_in_time_is_zero_after_a_flush_and_grows_until_the_next() {
    let sim = SimStorage::new(11);
    let options = small().preallocate(false).durability(Durability::Async);
    let before_open = std::time::Instant::now();
    let journal = Journal::open_with_storage("/j", options, Arc::new(sim)).unwrap();
    journal.append(Entry::push(1, 0, 0)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let unflushed = journal.stats();
    assert!(unflushed.lsn.durable_lag_bytes > 0);
    assert!(lag_ms(&unflushed) >= 5, "pending since before the sleep");
    assert!(
        u128::from(lag_ms(&unflushed)) <= before_open.elapsed().as_millis(),
        "pending since the open at most"
    );

    let before_flush = std::time::Instant::now();
    journal.flush().unwrap();
    let flushed = journal.stats();
    assert_eq!(flushed.lsn.durable_lag_bytes, 0);
    assert_eq!(lag_ms(&flushed), 0, "nothing pending after a flush");

    journal.append(Entry::push(1, 1, 0)).unwrap();
    let first = journal.stats();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = journal.stats();
    let since_flush = before_flush.elapsed();
    assert!(
        lag_ms(&second) >= lag_ms(&first) + 20,
        "grows with the wait: {} then {}",
        lag_ms(&first),
        lag_ms(&second)
    );
    assert!(
        u128::from(lag_ms(&second)) <= since_flush.as_millis(),
        "counts from the last flush, not from the open"
    );
    journal.flush().unwrap();
    assert_eq!(lag_ms(&journal.stats()), 0);
}

#[test]
fn durable_lag_in_time_stays_zero_in_sync_mode_and_is_unknown_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path(), small().durability(Durability::Sync)).unwrap();
    for i in 0..10 {
        journal.append(Entry::push(1, i, 0)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert_eq!(lag_ms(&journal.stats()), 0, "a Sync append returns durable");
    }
    let files = Stats::from_dir(dir.path()).unwrap();
    assert_eq!(files.lsn.durable_lag_ms, None);
    assert!(journal.stats().to_string().contains("waiting up to 0 µs"));
    journal.close().unwrap();
}

/// The spare asked for at open waits until the first segment is 1/16 full (its creation
/// competed with the first `Sync` appends), then is made in the background.
#[test]
fn the_first_spare_is_made_once_the_first_segment_fills() {
    let sim = SimStorage::new(12);
    let options = small().preallocate(true).durability(Durability::Async);
    let journal = Journal::open_with_storage("/j", options, Arc::new(sim)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!journal.stats().segments.spare, "no spare right after open");
    let single = entries_frame(1);
    for i in 0..SEGMENT_BYTES / 16 / single + 2 {
        journal.append(Entry::push(1, i, 0)).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !journal.stats().segments.spare && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        journal.stats().segments.spare,
        "the spare once 1/16 is reserved"
    );
    assert_eq!(
        journal.stats().segments.live,
        1,
        "still in the first segment"
    );
}
