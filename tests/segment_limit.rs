//! The bound on segment bytes (`Options::max_segment_bytes`): a writer at full speed
//! with no background compaction never takes more disk for segment files than the bound
//! (each roll-over over it compacts first); when a reader's position holds the segments,
//! the roll-over fails with `SegmentLimit`, nothing acknowledged is lost, and appends
//! resume once the reader is dropped.

mod support;

use std::fs;
use std::path::Path;

use checkpoint_journal::{Entry, Error, Journal, Lsn};
use support::{entry, TestResult, SEGMENT_BYTES};

const BATCH: u64 = 100;
const LIMIT: u64 = 6 * SEGMENT_BYTES;

/// Bytes of the segment files (live and free) in `dir`, sampled while the journal works.
fn segment_file_bytes(dir: &Path) -> TestResult<u64> {
    let mut total = 0;
    for item in fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name().into_string().map_err(|_| "name")?;
        let ext = Path::new(&name).extension().and_then(|e| e.to_str());
        if matches!(ext, Some("seg" | "free")) {
            // A file renamed or removed by the preallocator since the listing: skipped.
            total += item.metadata().map_or(0, |m| m.len());
        }
    }
    Ok(total)
}

fn batch(from: u64) -> Vec<Entry> {
    (from..from + BATCH).map(entry).collect()
}

#[test]
fn segment_files_stay_within_the_bound_without_background_compaction() -> TestResult {
    for (recycle, preallocate) in [(false, false), (true, false), (false, true), (true, true)] {
        let tmp = support::tempdir()?;
        let dir = tmp.path().join("j");
        let options = support::options()
            .max_segment_bytes(LIMIT)
            .recycle_segments(recycle)
            .preallocate(preallocate);
        let journal = Journal::open(&dir, options.clone())?;
        let mut largest = 0;
        for i in 0..2_000 {
            journal.append_batch(&batch(i * BATCH))?;
            largest = largest.max(segment_file_bytes(&dir)?);
        }
        // 2 000 frames of 2 416 bytes: 80 segments' worth, through at most 6.
        assert!(
            largest <= LIMIT,
            "{largest} > {LIMIT} (recycle {recycle}, preallocate {preallocate})"
        );
        let compaction = journal.stats().compaction;
        let runs = compaction.as_ref().map_or(0, |c| c.runs);
        assert!(runs >= 10, "{compaction:?}");
        let state = journal.state()?;
        assert_eq!(state.entries, 2_000 * BATCH);
        journal.close()?;
        let journal = Journal::open(&dir, options)?;
        let reopened = journal.state()?;
        assert_eq!(
            (reopened.sources, reopened.entries),
            (state.sources, state.entries)
        );
        journal.close()?;
    }
    Ok(())
}

#[test]
fn a_reader_holding_the_segments_makes_the_roll_over_fail_until_it_is_dropped() -> TestResult {
    let tmp = support::tempdir()?;
    let dir = tmp.path().join("j");
    let journal = Journal::open(&dir, support::options().max_segment_bytes(LIMIT))?;
    let reader = journal.read_from(Lsn::ZERO)?;
    let mut next = 0;
    let err = loop {
        match journal.append_batch(&batch(next)) {
            Ok(_) => next += BATCH,
            Err(e) => break e,
        }
        assert!(next < 1_000 * BATCH, "the bound never held");
    };
    assert!(
        matches!(err, Error::SegmentLimit { limit: LIMIT, .. }),
        "{err}"
    );
    assert!(err.is_storage_full());
    let text = err.to_string();
    assert!(
        text.contains("max_segment_bytes") && text.contains("reader"),
        "{text}"
    );
    assert!(segment_file_bytes(&dir)? <= LIMIT);
    // Every acknowledged entry is there; the failed batch is not.
    let entries = support::entries(&journal)?;
    assert_eq!(entries.len() as u64, next);
    assert_eq!(entries.last(), Some(&entry(next - 1)));
    drop(reader);
    for _ in 0..100 {
        journal.append_batch(&batch(next))?;
        next += BATCH;
    }
    assert!(segment_file_bytes(&dir)? <= LIMIT);
    assert_eq!(journal.state()?.entries, next);
    journal.close()?;
    Ok(())
}

#[test]
fn a_bound_below_two_segments_is_refused() {
    let err = Journal::open(
        Path::new("/nonexistent/never-created"),
        support::options().max_segment_bytes(2 * SEGMENT_BYTES - 1),
    );
    assert!(matches!(
        err,
        Err(Error::InvalidOptions {
            field: "max_segment_bytes",
            ..
        })
    ));
}
