//! What each durability mode promises about the durable frontier: a `Sync` append
//! returns only once its frame is below `durable_lsn()`; in `Async` nothing is synced
//! until `flush()`, which returns a frontier covering every append before it;
//! `Interval` makes appends durable with no flush call, and those flushes become
//! durable claims on disk; reopening makes the recovered prefix durable; `close()`
//! ends the journal with one close marker.

mod support;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use checkpoint_journal::{Durability, Entry, Error, Journal, Lsn, RecoveryCase};
use support::{
    entries, entry, flip_bit, locate, options, record, TestResult, FRAME_HEADER_BYTES,
    ONE_ENTRY_FRAME_BYTES,
};

/// Far longer than an interval flush takes; only bounds a hang if flushing is broken.
const PATIENCE: Duration = Duration::from_secs(60);

fn interval() -> Durability {
    Durability::Interval(Duration::from_millis(10))
}

#[test]
fn sync_appends_are_durable_when_they_return() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options().durability(Durability::Sync))?;
    let batch: Vec<Entry> = (0..50).map(entry).collect();
    for i in 0..40 {
        let lsn = match i % 3 {
            0 => journal.append(entry(i))?,
            1 => journal.append_batch(&batch)?,
            _ => journal.checkpoint(&record(i))?,
        };
        let end = journal.end_lsn();
        assert!(lsn < end);
        assert!(
            journal.durable_lsn() >= end,
            "append {i} at {lsn} not durable"
        );
        assert!(
            journal.flush_count() > i,
            "append {i} returned without a sync"
        );
    }
    Ok(())
}

#[test]
fn concurrent_sync_appends_are_each_durable_on_return() -> TestResult {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 100;
    let dir = support::tempdir()?;
    let journal = Arc::new(Journal::open(
        dir.path(),
        options().durability(Durability::Sync),
    )?);
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let journal = Arc::clone(&journal);
        handles.push(thread::spawn(move || -> Result<(), Error> {
            for i in 0..PER_THREAD {
                let lsn = journal.append(entry(t * PER_THREAD + i))?;
                let durable = journal.durable_lsn();
                assert!(
                    durable.0 >= lsn.0 + ONE_ENTRY_FRAME_BYTES,
                    "{lsn} returned with the frontier at {durable}"
                );
            }
            Ok(())
        }));
    }
    for handle in handles {
        handle
            .join()
            .map_err(|_| "an appending thread panicked")??;
    }
    let appends = THREADS * PER_THREAD;
    assert!(journal.flush_count() >= 1);
    assert!(
        journal.flush_count() <= appends,
        "more syncs than appends: {}",
        journal.flush_count()
    );
    let mut read: Vec<u64> = entries(&journal)?.iter().map(|e| e.sequence).collect();
    read.sort_unstable();
    assert_eq!(read, (1..=appends).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn async_appends_do_not_sync_and_flush_covers_every_append() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let batch: Vec<Entry> = (0..30).map(entry).collect();
    let mut lsns = Vec::new();
    for i in 0..100 {
        lsns.push(journal.append(entry(i))?);
    }
    lsns.push(journal.append_batch(&batch)?);
    lsns.push(journal.checkpoint(&record(1))?);
    assert_eq!(journal.flush_count(), 0, "an Async append synced");
    let end = journal.end_lsn();
    let frontier = journal.flush()?;
    assert!(frontier >= end, "flush returned {frontier}, end is {end}");
    assert!(lsns.iter().all(|lsn| *lsn < frontier));
    assert_eq!(journal.durable_lsn(), frontier);
    assert_eq!(journal.flush_count(), 1);
    Ok(())
}

#[test]
fn flush_count_grows_with_each_flush_of_new_data_only() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    for i in 0..5 {
        let lsn = journal.append(entry(i))?;
        let frontier = journal.flush()?;
        assert!(frontier > lsn);
        assert_eq!(journal.flush_count(), i + 1);
    }
    let frontier = journal.durable_lsn();
    assert_eq!(journal.flush()?, frontier, "nothing new to flush");
    assert_eq!(journal.flush_count(), 5, "a flush of nothing synced");
    Ok(())
}

#[test]
fn interval_mode_makes_appends_durable_without_a_flush_call() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options().durability(interval()))?;
    let mut syncs = journal.flush_count();
    for round in 0..3 {
        let mut last = Lsn::ZERO;
        for i in 0..20 {
            last = journal.append(entry(round * 20 + i))?;
        }
        let frontier = journal.wait_durable(last, PATIENCE)?;
        assert!(frontier > last, "round {round}: {last} not durable");
        assert!(journal.durable_lsn() > last);
        assert!(journal.flush_count() > syncs, "round {round}: no new sync");
        syncs = journal.flush_count();
    }
    Ok(())
}

#[test]
fn interval_flushes_become_durable_claims_on_disk() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options().durability(interval()))?;
    let early = journal.append(entry(0))?;
    journal.wait_durable(early, PATIENCE)?;
    journal.append(entry(1))?;
    journal.close_without_flush();
    let (path, offset) = locate(dir.path(), early)?;
    flip_bit(&path, offset + 20, 0)?;
    match Journal::open(dir.path(), options()) {
        Err(Error::Corrupted(c)) => assert_eq!(c.lsn, early),
        Err(other) => return Err(format!("expected Corrupted, got {other:?}").into()),
        Ok(_) => return Err("damage below a durable claim was truncated".into()),
    }
    Ok(())
}

#[test]
fn reopening_makes_the_recovered_prefix_durable() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    for i in 0..30 {
        journal.append(entry(i))?;
    }
    assert_eq!(journal.durable_lsn(), Lsn::ZERO);
    journal.close_without_flush();
    let journal = Journal::open(dir.path(), options())?;
    let end = journal.recovery_report().end_lsn;
    assert_eq!(end, Lsn(30 * ONE_ENTRY_FRAME_BYTES));
    assert_eq!(journal.durable_lsn(), end);
    assert_eq!(journal.end_lsn(), end);
    Ok(())
}

#[test]
fn close_ends_the_journal_with_one_marker() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    journal.append(entry(0))?;
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    let report = journal.recovery_report();
    assert_eq!(report.case, Some(RecoveryCase::CleanEnd));
    assert_eq!(report.frames_scanned, 2, "the entry frame and one marker");
    assert_eq!(
        report.end_lsn,
        Lsn(ONE_ENTRY_FRAME_BYTES + FRAME_HEADER_BYTES)
    );
    Ok(())
}
