//! A process crash (the files left exactly as `close_without_flush` leaves them: every
//! published frame in the page cache, nothing more synced) loses no returned append, in
//! every durability mode — the promise of `Durability::Async` for a process crash.

use checkpoint_journal::{Durability, Entry, Frame, Journal, Lsn, Options, Result};

fn recovered_sequences(dir: &std::path::Path) -> Result<Vec<u64>> {
    let journal = Journal::open(dir, Options::default().segment_size_bytes(64 * 1024))?;
    let mut out = Vec::new();
    for frame in journal.read_from(Lsn::ZERO)? {
        if let Frame::Entries { entries, .. } = frame? {
            out.extend(entries.iter().map(|e| e.sequence));
        }
    }
    Ok(out)
}

#[test]
fn every_returned_append_survives_a_process_crash_in_every_mode() -> Result<()> {
    for durability in [
        Durability::Async,
        Durability::Interval(std::time::Duration::from_millis(50)),
        Durability::Sync,
    ] {
        let dir =
            tempfile::tempdir().map_err(|e| checkpoint_journal::Error::io("tmp", "tempdir", e))?;
        let options = Options::default()
            .segment_size_bytes(64 * 1024)
            .durability(durability);
        let journal = Journal::open(dir.path(), options)?;
        // Sync mode pays a real fdatasync per append: fewer of them.
        let count = if durability == Durability::Sync {
            300
        } else {
            3_000u64
        };
        for seq in 0..count {
            if seq.is_multiple_of(10) {
                journal.append_batch(&[Entry::push(1, seq, 0)])?;
            } else {
                journal.append(Entry::push(1, seq, 0))?;
            }
        }
        journal.close_without_flush();
        let got = recovered_sequences(dir.path())?;
        assert_eq!(
            got,
            (0..count).collect::<Vec<_>>(),
            "{durability:?}: every returned append"
        );
    }
    Ok(())
}

#[test]
fn appends_returned_by_many_threads_survive_a_process_crash() -> Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| checkpoint_journal::Error::io("tmp", "tempdir", e))?;
    let journal = std::sync::Arc::new(Journal::open(
        dir.path(),
        Options::default().segment_size_bytes(64 * 1024),
    )?);
    let handles: Vec<_> = (0..4u16)
        .map(|t| {
            let j = std::sync::Arc::clone(&journal);
            std::thread::spawn(move || -> Result<()> {
                for seq in 0..2_000u64 {
                    j.append(Entry::push(t, seq, 0))?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer thread")?;
    }
    std::sync::Arc::into_inner(journal)
        .expect("one owner")
        .close_without_flush();
    let journal = Journal::open(dir.path(), Options::default().segment_size_bytes(64 * 1024))?;
    let state = journal.state()?;
    for t in 0..4u16 {
        assert_eq!(state.sources[&t].entries, 2_000, "thread {t}");
        assert_eq!(state.sources[&t].sequence, 1_999, "thread {t}");
    }
    Ok(())
}
