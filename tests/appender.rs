//! `Appender` (the per-thread append handle) against `Journal::append`: the same frames
//! at the same LSNs, across roll-overs; a handle that outlives roll-overs and a
//! compaction; poisoning after a failed flush; and handles on several threads at once
//! (with `Journal::append` and `append_batch` mixed in) losing nothing and keeping each
//! thread's order, in `Async` and `Sync` mode.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use checkpoint_journal::storage::sim::SimStorage;
use checkpoint_journal::{Appender, Durability, Entry, Error, Frame, Journal, Lsn, Options};

/// The smallest segment: a roll-over every 1,536 one-entry frames.
const SEGMENT_BYTES: u64 = 64 * 1024;

fn options(durability: Durability) -> Options {
    Options::default()
        .segment_size_bytes(SEGMENT_BYTES)
        .durability(durability)
}

fn open_sim(sim: &SimStorage, dir: &str, durability: Durability) -> Journal {
    Journal::open_with_storage(dir, options(durability), Arc::new(sim.clone()))
        .unwrap_or_else(|e| panic!("open {dir}: {e}"))
}

/// Every frame from the start: `(lsn, entries)`.
fn frames(journal: &Journal) -> Vec<(Lsn, Vec<Entry>)> {
    journal
        .read_from(Lsn::ZERO)
        .expect("read_from")
        .map(|f| match f.expect("a valid frame") {
            Frame::Entries { lsn, entries } => (lsn, entries),
            other => panic!("only entry frames were written: {other:?}"),
        })
        .collect()
}

fn entry(source: u16, i: u64) -> Entry {
    Entry::push(source, i, i.cast_signed())
}

/// Appends the same entries through `by_journal.append` and through a handle of
/// `by_handle`: the same LSN for each, the same frames read back.
fn same_lsns_and_frames(by_journal: &Journal, by_handle: &Journal) -> Vec<(Lsn, Vec<Entry>)> {
    let mut handle = by_handle.appender();
    let count = 5_000; // over three roll-overs
    for i in 0..count {
        let want = by_journal.append(entry(1, i)).expect("append");
        let got = handle.append(entry(1, i)).expect("handle append");
        assert_eq!(got, want, "entry {i}: the same LSN");
    }
    assert_eq!(by_handle.end_lsn(), by_journal.end_lsn());
    assert!(
        by_handle.end_lsn().0 > 3 * SEGMENT_BYTES,
        "the run rolled over"
    );
    drop(handle);
    let written = frames(by_journal);
    assert_eq!(written.len() as u64, count);
    assert_eq!(frames(by_handle), written);
    written
}

#[test]
fn the_handle_writes_the_frames_append_writes_at_the_same_lsns_across_rolls() {
    let sim = SimStorage::new(3);
    let by_journal = open_sim(&sim, "/j", Durability::Async);
    let by_handle = open_sim(&sim, "/h", Durability::Async);
    let written = same_lsns_and_frames(&by_journal, &by_handle);
    by_journal.close().expect("close");
    by_handle.close().expect("close");
    // And after a reopen (recovery validates every frame's checksum).
    let reopened = open_sim(&sim, "/h", Durability::Async);
    assert_eq!(frames(&reopened), written);
}

#[test]
fn the_handle_writes_the_frames_append_writes_in_real_file_mappings() {
    let (a, b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let by_journal = Journal::open(a.path(), options(Durability::Async)).expect("open");
    let by_handle = Journal::open(b.path(), options(Durability::Async)).expect("open");
    let written = same_lsns_and_frames(&by_journal, &by_handle);
    by_journal.close().expect("close");
    by_handle.close().expect("close");
    let reopened = Journal::open(b.path(), options(Durability::Async)).expect("reopen");
    assert_eq!(frames(&reopened), written);
}

#[test]
fn a_handle_interleaves_with_journal_appends_and_outlives_rolls_and_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path(), options(Durability::Async)).expect("open");
    let mut handle = journal.appender();
    let mut acked = Vec::new();
    for i in 0..4_000u64 {
        let lsn = match i % 4 {
            0 => journal.append(entry(2, i)),
            1 => journal.append_batch(&[entry(2, i)]),
            _ => handle.append(entry(2, i)),
        }
        .expect("append");
        acked.push((lsn, i));
        if i == 2_500 {
            let snapshot = journal.compact().expect("compact");
            assert!(snapshot.0 > 0);
            assert!(
                journal.first_lsn().0 > 0,
                "compaction retired the first segments under the handle"
            );
        }
    }
    for pair in acked.windows(2) {
        assert!(pair[1].0 > pair[0].0, "LSNs grow in call order: {pair:?}");
    }
    drop(handle);
    let first = journal.first_lsn();
    journal.close().expect("close");
    let reopened = Journal::open(dir.path(), options(Durability::Async)).expect("reopen");
    let got: Vec<(Lsn, u64)> = reopened
        .read_from(first)
        .expect("read_from")
        .map(|f| match f.expect("a valid frame") {
            Frame::Entries { lsn, entries } => {
                assert_eq!(entries.len(), 1);
                (lsn, entries[0].sequence)
            }
            other => panic!("only entry frames were written: {other:?}"),
        })
        .collect();
    let want: Vec<(Lsn, u64)> = acked.into_iter().filter(|(l, _)| *l >= first).collect();
    assert!(want.len() > 1_000, "the tail after the snapshot is read");
    assert_eq!(got, want);
}

#[test]
fn an_owning_handle_keeps_the_journal_open_and_appends_through_it() {
    let sim = SimStorage::new(5);
    let journal = Arc::new(open_sim(&sim, "/o", Durability::Async));
    let mut handle = Appender::new(Arc::clone(&journal));
    let lsn = handle.append(entry(3, 1)).expect("append");
    assert_eq!(handle.journal().end_lsn(), Lsn(lsn.0 + 40));
    drop(journal);
    handle
        .append(entry(3, 2))
        .expect("the journal lives as long as the handle");
    drop(handle);
    let reopened = open_sim(&sim, "/o", Durability::Async);
    assert_eq!(frames(&reopened).len(), 2);
}

#[test]
fn a_failed_sync_poisons_the_handle_in_sync_mode() {
    let sim = SimStorage::new(7);
    let journal = open_sim(&sim, "/p", Durability::Sync);
    let mut handle = journal.appender();
    for i in 0..20 {
        handle.append(entry(4, i)).expect("append");
    }
    let durable = journal.durable_lsn();
    assert_eq!(durable, journal.end_lsn(), "Sync: every append is durable");
    sim.fail_next_sync_where(|_, offset, _| offset >= 4096);
    let err = handle.append(entry(4, 20)).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }),
        "the failure itself: {err:?}"
    );
    for _ in 0..3 {
        let err = handle.append(entry(4, 21)).unwrap_err();
        assert!(
            matches!(err, Error::Poisoned { .. }),
            "then poisoned: {err:?}"
        );
    }
    assert!(matches!(
        journal.append(entry(4, 22)),
        Err(Error::Poisoned { .. })
    ));
    assert_eq!(journal.durable_lsn(), durable);
}

#[test]
fn a_failed_flush_poisons_a_handle_in_async_mode() {
    let sim = SimStorage::new(9);
    let journal = open_sim(&sim, "/q", Durability::Async);
    let mut handle = journal.appender();
    handle.append(entry(5, 0)).expect("append");
    sim.fail_next_sync_where(|_, offset, _| offset >= 4096);
    assert!(journal.flush().is_err());
    let err = handle.append(entry(5, 1)).unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err:?}");
}

/// Four threads, each through its own handle, with every third call a `Journal::append`
/// or a batch; returns `(lsn, thread, first sequence, count)` per call.
fn concurrent(dir: &Path, durability: Durability, per_thread: u64) {
    const THREADS: u16 = 4;
    let journal = Arc::new(Journal::open(dir, options(durability)).expect("open"));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let journal = Arc::clone(&journal);
            std::thread::spawn(move || {
                let mut handle = Appender::new(Arc::clone(&journal));
                let mut acks = Vec::new();
                let mut seq = 0;
                while seq < per_thread {
                    let n = if seq % 7 == 3 {
                        5.min(per_thread - seq)
                    } else {
                        1
                    };
                    let lsn = if n > 1 {
                        let batch: Vec<Entry> = (seq..seq + n).map(|s| entry(t, s)).collect();
                        journal.append_batch(&batch)
                    } else if seq % 3 == 0 {
                        journal.append(entry(t, seq))
                    } else {
                        handle.append(entry(t, seq))
                    }
                    .expect("append");
                    acks.push((lsn, t, seq, n));
                    seq += n;
                }
                acks
            })
        })
        .collect();
    let mut acks = BTreeMap::new();
    for w in writers {
        for (lsn, t, first, n) in w.join().expect("writer") {
            assert!(acks.insert(lsn, (t, first, n)).is_none(), "{lsn} twice");
        }
    }
    if durability == Durability::Sync {
        assert!(journal.durable_lsn() >= journal.end_lsn());
    }
    Arc::into_inner(journal)
        .expect("one owner")
        .close()
        .expect("close");
    let reopened = Journal::open(dir, options(durability)).expect("reopen");
    let mut next = vec![0u64; usize::from(THREADS)];
    let mut seen = 0;
    for (lsn, entries) in frames(&reopened) {
        let &(t, first, n) = acks.get(&lsn).expect("every frame was acknowledged");
        assert_eq!(entries.len() as u64, n);
        assert_eq!(first, next[usize::from(t)], "thread {t} in order, no hole");
        for (i, e) in entries.iter().enumerate() {
            assert_eq!((e.source_id, e.sequence), (t, first + i as u64));
        }
        next[usize::from(t)] += n;
        seen += 1;
    }
    assert_eq!(seen, acks.len(), "every acknowledged frame is there once");
    assert!(next.iter().all(|&n| n == per_thread));
}

#[test]
fn handles_on_four_threads_lose_nothing_across_rolls_async() {
    let dir = tempfile::tempdir().expect("tempdir");
    concurrent(dir.path(), Durability::Async, 50_000);
}

#[test]
fn handles_on_four_threads_lose_nothing_across_rolls_sync() {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("tempdir");
    concurrent(dir.path(), Durability::Sync, 2_000);
}
