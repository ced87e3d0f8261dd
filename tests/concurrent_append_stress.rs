//! Many threads appending at once (single entries and batches, across roll-overs): after
//! reopening, every acknowledged LSN holds exactly what its append wrote, each thread's
//! entries appear in its own order, and there are no holes and no duplicates. In Sync
//! mode, concurrent appenders share flushes (group commit): far fewer syncs than appends.
//!
//! Default size: 8 threads × 1 M entries in Async mode and 8 × 1 M in Sync mode on tmpfs
//! (where a sync is cheap enough for CI); `CPJ_STRESS_ENTRIES` sets the per-thread count.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use checkpoint_journal::{Durability, Entry, Frame, Journal, Lsn, Options, Result};

const THREADS: u16 = 8;

fn per_thread() -> u64 {
    std::env::var("CPJ_STRESS_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// What one thread appended: `(lsn, first sequence, count)` per call.
type Acks = Vec<(Lsn, u64, u64)>;

fn writer(journal: &Journal, thread: u16, total: u64) -> Result<Acks> {
    let mut acks = Vec::new();
    let mut seq = 0u64;
    let mut batch = Vec::with_capacity(64);
    while seq < total {
        // Alternate single appends and batches of 1..=64 entries.
        let n = if seq.is_multiple_of(3) {
            1
        } else {
            (seq % 64 + 1).min(total - seq)
        };
        if n == 1 {
            let lsn = journal.append(Entry::push(thread, seq, seq.cast_signed()))?;
            acks.push((lsn, seq, 1));
        } else {
            batch.clear();
            batch.extend((seq..seq + n).map(|s| Entry::push(thread, s, s.cast_signed())));
            let lsn = journal.append_batch(&batch)?;
            acks.push((lsn, seq, n));
        }
        seq += n;
    }
    Ok(acks)
}

fn run(dir: &Path, durability: Durability, total: u64) -> Result<(u64, u64)> {
    let options = Options::default()
        .segment_size_bytes(8 << 20)
        .durability(durability);
    let journal = Arc::new(Journal::open(dir, options.clone())?);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let j = Arc::clone(&journal);
            std::thread::spawn(move || writer(&j, t, total))
        })
        .collect();
    let mut acks = BTreeMap::new();
    for (t, h) in handles.into_iter().enumerate() {
        let thread_acks = h.join().expect("writer thread panicked")?;
        for (lsn, first, n) in thread_acks {
            assert!(
                acks.insert(lsn, (u16::try_from(t).expect("8 threads"), first, n))
                    .is_none(),
                "LSN {lsn} acknowledged twice"
            );
        }
    }
    let flushes = journal.flush_count();
    if durability == Durability::Sync {
        assert!(journal.durable_lsn() >= journal.end_lsn());
    }
    Arc::into_inner(journal)
        .expect("one owner")
        .close_without_flush();
    check(dir, &options, &acks, total)?;
    Ok((acks.len() as u64, flushes))
}

fn check(
    dir: &Path,
    options: &Options,
    acks: &BTreeMap<Lsn, (u16, u64, u64)>,
    total: u64,
) -> Result<()> {
    let journal = Journal::open(dir, options.clone())?;
    let mut next = vec![0u64; usize::from(THREADS)];
    let mut frames = 0usize;
    for frame in journal.read_from(Lsn::ZERO)? {
        let Frame::Entries { lsn, entries } = frame? else {
            panic!("only entry frames were written")
        };
        let &(thread, first, n) = acks
            .get(&lsn)
            .unwrap_or_else(|| panic!("frame at {lsn} was never acknowledged"));
        assert_eq!(
            entries.len() as u64,
            n,
            "frame {lsn} holds its whole append"
        );
        let expected = &mut next[usize::from(thread)];
        assert_eq!(
            first, *expected,
            "thread {thread}'s entries in its own order, no hole"
        );
        for (i, e) in entries.iter().enumerate() {
            assert_eq!((e.source_id, e.sequence), (thread, first + i as u64));
        }
        *expected += n;
        frames += 1;
    }
    assert_eq!(
        frames,
        acks.len(),
        "every acknowledged LSN is present exactly once"
    );
    assert!(
        next.iter().all(|&n| n == total),
        "every entry of every thread recovered"
    );
    Ok(())
}

#[test]
fn eight_async_writers_lose_nothing_and_keep_their_order() -> Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| checkpoint_journal::Error::io("tmp", "tempdir", e))?;
    let (appends, flushes) = run(dir.path(), Durability::Async, per_thread())?;
    assert_eq!(flushes, 0, "Async appends never sync");
    assert!(appends > 0);
    Ok(())
}

#[test]
fn eight_sync_writers_share_flushes_and_lose_nothing() -> Result<()> {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .map_err(|e| checkpoint_journal::Error::io("tmp", "tempdir", e))?;
    let total = if shm.is_dir() {
        per_thread()
    } else {
        per_thread() / 20
    };
    let (appends, flushes) = run(dir.path(), Durability::Sync, total)?;
    eprintln!("sync stress: {appends} acknowledged appends shared {flushes} flushes");
    assert!(flushes > 0);
    assert!(
        flushes < appends,
        "group commit: {flushes} flushes for {appends} appends"
    );
    Ok(())
}
