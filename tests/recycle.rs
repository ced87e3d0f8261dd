//! Segment recycling (`Options::recycle_segments`) on real files: compaction keeps
//! retired segments as `*.seg.free`, roll-overs reuse them (data zeroed, version-3
//! header naming the previous base LSN), and no frame of a recycled file's previous life
//! ever surfaces — not after a crash, not through a follower, not when the zeroes are
//! lost (the LSN-bound checksum; recovery's `StaleEnd` row).

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use checkpoint_journal::format::segment_header::SegmentHeader;
use checkpoint_journal::{
    Entry, Error, Frame, Journal, JournalReader, Lsn, Options, RecoveryCase, RecoveryMode,
};
use support::{entry, segment_bases, segment_path, TestResult, HEADER_BYTES, SEGMENT_BYTES};

/// Entries per batch: 2 416-byte frames, 25 per 64 KiB segment.
const BATCH: u64 = 100;

fn options() -> Options {
    support::options().recycle_segments(true)
}

/// Appends `count` batches of `BATCH` entries from entry `*next`.
fn append(journal: &Journal, next: &mut u64, count: u64) -> TestResult {
    for _ in 0..count {
        let batch: Vec<Entry> = (*next..*next + BATCH).map(entry).collect();
        journal.append_batch(&batch)?;
        *next += BATCH;
    }
    Ok(())
}

fn all_frames(journal: &Journal) -> TestResult<Vec<Frame>> {
    support::frames(journal)
}

fn header_of(path: &Path) -> TestResult<SegmentHeader> {
    let bytes = support::read_at(path, 0, 72)?;
    SegmentHeader::decode(&bytes).map_err(|f| format!("{}: {f:?}", path.display()).into())
}

/// `(base, previous base)` of every recycled segment in `dir`.
fn recycled(dir: &Path) -> TestResult<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for base in segment_bases(dir)? {
        if let Some(prev) = header_of(&segment_path(dir, base))?.recycled_from {
            out.push((base, prev));
        }
    }
    Ok(out)
}

fn free_files(dir: &Path) -> TestResult<usize> {
    Ok(fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".seg.free"))
        .count())
}

/// Segment files' bytes by base LSN.
type Files = BTreeMap<u64, Vec<u8>>;

/// Every segment file's bytes, by base LSN.
fn file_bytes(dir: &Path) -> TestResult<Files> {
    let mut out = BTreeMap::new();
    for base in segment_bases(dir)? {
        out.insert(base, fs::read(segment_path(dir, base))?);
    }
    Ok(out)
}

/// A journal that wrote 40 segments, compacted (keeping 4 files for recycling), then
/// wrote 2.4 segments more into recycled files, and was abandoned as by a crash.
/// Returns the frames it held and the bytes of every segment before the compaction.
fn crashed_after_recycling(dir: &Path) -> TestResult<(Vec<Frame>, Files)> {
    let journal = Journal::open(dir, options())?;
    let mut next = 0;
    append(&journal, &mut next, 1_000)?;
    journal.flush()?;
    let before = file_bytes(dir)?;
    journal.compact()?;
    let report = journal.last_compaction().ok_or("no compaction report")?;
    assert_eq!(report.segments_recycled, 4, "{report:?}");
    assert_eq!(free_files(dir)?, 4);
    append(&journal, &mut next, 60)?;
    assert_eq!(free_files(dir)?, 1, "three roll-overs recycled three files");
    let frames = all_frames(&journal)?;
    journal.close_without_flush();
    Ok((frames, before))
}

#[test]
fn a_recycled_segments_stale_frames_never_validate() -> TestResult {
    let tmp = support::tempdir()?;
    let dir = tmp.path().join("j");
    let (frames, before) = crashed_after_recycling(&dir)?;
    let reused = recycled(&dir)?;
    assert_eq!(reused.len(), 3, "{reused:?}");
    for (base, prev) in &reused {
        assert!(before.contains_key(prev), "{base:x} names {prev:x}");
        assert!(prev < base);
    }
    let journal = Journal::open(&dir, options())?;
    let report = journal.recovery_report().clone();
    assert!(
        matches!(report.case, None | Some(RecoveryCase::CleanEnd)),
        "{report:?}"
    );
    assert_eq!((report.torn_bytes, report.dropped.clone()), (0, None));
    assert_eq!(report.temp_files_removed.len(), 1, "the unused free file");
    assert_eq!(free_files(&dir)?, 0);
    assert_eq!(all_frames(&journal)?, frames);
    // A follower and a dry-run inspection see exactly the same.
    let follower: Vec<Frame> = JournalReader::open(&dir)?.collect::<Result<_, _>>()?;
    assert_eq!(follower, frames);
    journal.close()?;
    let inspection =
        checkpoint_journal::inspect(&dir, RecoveryMode::Strict)?.ok_or("no journal")?;
    assert!(matches!(
        inspection.report.case,
        None | Some(RecoveryCase::CleanEnd)
    ));
    Ok(())
}

/// The zeroes of a recycled file lost (as a medium that drops synced writes would):
/// the previous life's frames are back after the last frame, at the same offsets. None
/// validates at its new LSN; recovery proves them stale (`StaleEnd`), zeroes them, and
/// the journal holds exactly what was written, in every recovery mode.
#[test]
fn stale_frames_whose_zeroes_were_lost_are_a_stale_end_and_never_surface() -> TestResult {
    for mode in [
        RecoveryMode::Strict,
        RecoveryMode::TolerateTornTail,
        RecoveryMode::Salvage,
    ] {
        let tmp = support::tempdir()?;
        let dir = tmp.path().join("j");
        let (frames, before) = crashed_after_recycling(&dir)?;
        let end = frames.last().map(Frame::lsn).ok_or("no frames")?;
        let &(base, prev) = recycled(&dir)?.last().ok_or("nothing recycled")?;
        assert!(
            end.0 >= base,
            "the last frame is in the newest recycled segment"
        );
        let old = before.get(&prev).ok_or("previous life unknown")?;
        let path = segment_path(&dir, base);
        let mut now = fs::read(&path)?;
        let first_zero = usize::try_from(HEADER_BYTES + end.0 - base)? + 2_416;
        now[first_zero..].copy_from_slice(&old[first_zero..]);
        fs::write(&path, &now)?;

        let journal = Journal::open(&dir, options().recovery_mode(mode))?;
        let report = journal.recovery_report().clone();
        assert_eq!(
            report.case,
            Some(RecoveryCase::StaleEnd),
            "{mode:?} {report:?}"
        );
        assert_eq!(report.dropped, None);
        assert!(report.torn_bytes > 30_000, "{report:?}");
        assert_eq!(all_frames(&journal)?, frames, "{mode:?}");
        assert_eq!(
            support::nonzero_bytes_from(&dir, Lsn(end.0 + 2_416))?,
            0,
            "stale bytes are zeroed before appends resume"
        );
        let mut next = 1_060 * BATCH;
        append(&journal, &mut next, 30)?;
        journal.close()?;
        let journal = Journal::open(&dir, options().recovery_mode(RecoveryMode::Strict))?;
        assert_eq!(journal.state()?.entries, 1_090 * BATCH);
        journal.close()?;
    }
    Ok(())
}

/// The same lost zeroes, but the bytes at the end are in the middle of an old frame: not
/// provably stale, so they are a torn tail (an error in Strict), and still no old frame
/// validates at a new LSN.
#[test]
fn stale_bytes_not_at_an_old_frame_start_are_a_torn_tail() -> TestResult {
    let tmp = support::tempdir()?;
    let dir = tmp.path().join("j");
    let (frames, before) = crashed_after_recycling(&dir)?;
    let end = frames.last().map(Frame::lsn).ok_or("no frames")?;
    let &(base, prev) = recycled(&dir)?.last().ok_or("nothing recycled")?;
    let old = before.get(&prev).ok_or("previous life unknown")?;
    let path = segment_path(&dir, base);
    let mut now = fs::read(&path)?;
    let first_zero = usize::try_from(HEADER_BYTES + end.0 - base)? + 2_416;
    // Shift the old bytes by one word: old frame starts no longer fall on new ones.
    now[first_zero..].copy_from_slice(&old[first_zero - 8..old.len() - 8]);
    fs::write(&path, &now)?;
    let strict = Journal::open(&dir, options().recovery_mode(RecoveryMode::Strict));
    assert!(matches!(strict, Err(Error::TornTail { .. })), "{strict:?}");
    let journal = Journal::open(&dir, options())?;
    let report = journal.recovery_report().clone();
    assert_eq!(report.case, Some(RecoveryCase::TornTail), "{report:?}");
    assert_eq!(report.dropped.map(|d| d.valid_frames), Some(0));
    assert_eq!(all_frames(&journal)?, frames);
    Ok(())
}

/// A follower that lags behind compaction, positioned in a segment that is retired and
/// recycled under its mapping, gets `Compacted`: never a zeroed or a new frame as one
/// of the old segment's.
#[test]
fn a_follower_in_a_recycled_segment_gets_compacted() -> TestResult {
    let tmp = support::tempdir()?;
    let dir = tmp.path().join("j");
    let journal = Journal::open(&dir, options())?;
    let mut next = 0;
    append(&journal, &mut next, 200)?;
    let mut follower = JournalReader::open(&dir)?;
    let first = follower.next().ok_or("no frame")??;
    assert_eq!(first.lsn(), Lsn::ZERO);
    journal.compact()?;
    append(&journal, &mut next, 60)?;
    assert!(!recycled(&dir)?.is_empty());
    let mut seen = 1;
    let outcome = loop {
        match follower.try_next() {
            Ok(Some(Frame::Entries { lsn, entries })) => {
                // Frames read before the file was zeroed are the segment's own.
                let capacity = SEGMENT_BYTES - HEADER_BYTES;
                let index = lsn.0 / capacity * 25 + lsn.0 % capacity / 2_416;
                assert_eq!(entries[0], entry(index * BATCH), "{lsn}");
                seen += 1;
            }
            other => break other,
        }
    };
    assert!(
        matches!(outcome, Err(Error::Compacted { .. })),
        "after {seen} frames: {outcome:?}"
    );
    journal.close()?;
    Ok(())
}

/// Recycling reuses files of the journal's segment size only; the file keeps its length.
#[test]
fn recycled_files_keep_the_segment_size() -> TestResult {
    let tmp = support::tempdir()?;
    let dir = tmp.path().join("j");
    crashed_after_recycling(&dir)?;
    for base in segment_bases(&dir)? {
        assert_eq!(fs::metadata(segment_path(&dir, base))?.len(), SEGMENT_BYTES);
    }
    Ok(())
}
