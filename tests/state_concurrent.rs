//! `Journal::state()` called while another thread appends (and a third advances the
//! published frontier through `end_lsn`) never skips a frame: the state it returns at
//! the end counts every entry appended. (Without the fix in `Journal::state`, an
//! optimised build of this test failed in every run; an unoptimised build hits the
//! window less often.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checkpoint_journal::{Entry, Journal, Options, Result};

/// How long the writer appends while the state is polled.
const RUN: Duration = Duration::from_secs(2);

#[test]
fn state_polled_during_appends_folds_every_entry() -> Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| checkpoint_journal::Error::io("tmp", "tempdir", e))?;
    let j = Journal::open(dir.path(), Options::default().segment_size_bytes(1 << 20))?;
    let done = AtomicBool::new(false);
    let (appended, polls) = std::thread::scope(|s| -> Result<(u64, u64)> {
        let done = &done;
        let writer = s.spawn(|| -> Result<u64> {
            let deadline = Instant::now() + RUN;
            let mut i = 0u64;
            while Instant::now() < deadline {
                for _ in 0..256 {
                    j.append(Entry::push(
                        u16::try_from(i % 5).unwrap_or(0),
                        i,
                        i64::try_from(i).unwrap_or(i64::MAX),
                    ))?;
                    i += 1;
                }
            }
            done.store(true, Ordering::Release);
            Ok(i)
        });
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let _ = j.end_lsn();
            }
        });
        let mut polls = 0;
        while !writer.is_finished() {
            j.state()?;
            polls += 1;
        }
        let appended = writer.join().map_err(|_| {
            checkpoint_journal::Error::io("writer", "join", std::io::Error::other("panicked"))
        })??;
        Ok((appended, polls))
    })?;
    let st = j.state()?;
    assert!(polls > 0, "the state was polled while appends ran");
    assert_eq!(
        st.entries, appended,
        "after {polls} polls during the appends"
    );
    let per_source: u64 = st.sources.values().map(|s| s.entries).sum();
    assert_eq!(per_source, appended);
    Ok(())
}
