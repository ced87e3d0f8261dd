//! A journal whose last segment is exactly full when the process crashes (no segment
//! after it yet) resumes appending in a new segment at the end LSN, never over frames
//! already in the journal, and every frame survives the next reopen.

mod support;

use std::path::Path;

use checkpoint_journal::{Journal, Lsn, RecoveryCase};
use support::{
    entries, entry, options, segment_bases, write_entries, TestResult, CAPACITY_BYTES,
    ONE_ENTRY_FRAME_BYTES,
};

/// One-entry frames fill a segment's data area exactly.
const PER_SEGMENT: u64 = CAPACITY_BYTES / ONE_ENTRY_FRAME_BYTES;
const _: () = assert!(CAPACITY_BYTES.is_multiple_of(ONE_ENTRY_FRAME_BYTES));

/// Fills `segments` segments exactly with one-entry frames and crashes.
fn full_segments_then_crash(dir: &Path, segments: u64) -> TestResult {
    let (journal, lsns) = write_entries(dir, options(), segments * PER_SEGMENT)?;
    assert_eq!(
        lsns.last().copied(),
        Some(Lsn(segments * CAPACITY_BYTES - ONE_ENTRY_FRAME_BYTES))
    );
    journal.close_without_flush();
    let bases: Vec<u64> = (0..segments).map(|i| i * CAPACITY_BYTES).collect();
    assert_eq!(segment_bases(dir)?, bases, "no segment after the full one");
    Ok(())
}

/// Reopens, appends `more` entries and checks where they went and that nothing was
/// overwritten, then checks the same after another reopen.
fn append_after_full(dir: &Path, segments: u64, more: u64) -> TestResult {
    let end = Lsn(segments * CAPACITY_BYTES);
    let journal = Journal::open(dir, options())?;
    assert_eq!(journal.recovery_report().end_lsn, end);
    assert_eq!(
        journal.recovery_report().case,
        None,
        "every segment is full"
    );
    let first = journal.append(entry(1_000_000))?;
    assert_eq!(first, end, "appends continue at the end of the journal");
    for i in 1..more {
        journal.append(entry(1_000_000 + i))?;
    }
    let mut want: Vec<_> = (0..segments * PER_SEGMENT).map(entry).collect();
    want.extend((0..more).map(|i| entry(1_000_000 + i)));
    assert_eq!(entries(&journal)?, want);
    journal.close()?;
    let journal = Journal::open(dir, options())?;
    assert_eq!(journal.recovery_report().case, Some(RecoveryCase::CleanEnd));
    assert_eq!(entries(&journal)?, want);
    Ok(())
}

#[test]
fn one_exactly_full_segment_resumes_in_a_new_segment() -> TestResult {
    let dir = support::tempdir()?;
    full_segments_then_crash(dir.path(), 1)?;
    append_after_full(dir.path(), 1, 3)
}

#[test]
fn several_exactly_full_segments_resume_in_a_new_segment() -> TestResult {
    let dir = support::tempdir()?;
    full_segments_then_crash(dir.path(), 2)?;
    append_after_full(dir.path(), 2, 3)
}
