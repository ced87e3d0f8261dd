//! A single flipped bit in a frame that a later valid frame claims durable — through
//! the close marker, or the next append in `Durability::Sync` — is corruption of
//! acknowledged data: opening fails with `Error::Corrupted` naming the frame's file,
//! LSN and offset, and changes nothing; `RecoveryMode::Salvage` keeps exactly the
//! frames before it and reports what it dropped. The same flip in a journal that was
//! never flushed is an unsynced gap: truncated with the dropped frames counted, and an
//! error in `Strict`.

mod support;

use std::path::Path;

use checkpoint_journal::format::frame::FrameFault;
use checkpoint_journal::{
    CorruptionKind, Durability, Error, Frame, Journal, Lsn, Options, RecoveryCase, RecoveryMode,
};
use support::{
    copy_dir, entries, entry, fingerprint, flip_bit, locate, options, record, write_entries,
    TestResult, CAPACITY_BYTES, FRAME_HEADER_BYTES, ONE_ENTRY_FRAME_BYTES,
};

/// One-entry frames in each journal.
const FRAMES: u64 = 100;
/// The damaged frame.
const VICTIM: u64 = 50;

/// A journal of `FRAMES` one-entry frames, closed with the close marker.
fn closed_journal(dir: &Path) -> TestResult<Vec<Lsn>> {
    let (journal, lsns) = write_entries(dir, options(), FRAMES)?;
    journal.close()?;
    Ok(lsns)
}

/// A `Sync` journal of `FRAMES` one-entry frames, left as a process crash leaves it.
fn crashed_sync_journal(dir: &Path) -> TestResult<Vec<Lsn>> {
    let (journal, lsns) = write_entries(dir, options().durability(Durability::Sync), FRAMES)?;
    journal.close_without_flush();
    Ok(lsns)
}

/// An `Async` journal that was never flushed, left as a process crash leaves it.
fn crashed_async_journal(dir: &Path) -> TestResult<Vec<Lsn>> {
    let (journal, lsns) = write_entries(dir, options(), FRAMES)?;
    journal.close_without_flush();
    Ok(lsns)
}

/// Opening fails with `Corrupted` at `lsn` (offset and path included), the files are
/// unchanged, and Salvage then recovers exactly `survivors` entries, dropping from `lsn`.
fn expect_durable_damage(
    dir: &Path,
    lsn: Lsn,
    fault: Option<FrameFault>,
    survivors: u64,
) -> TestResult {
    expect_refused(dir, lsn, fault)?;
    expect_salvaged(dir, lsn, survivors)
}

/// Opening fails with `Corrupted` at `lsn` (offset and path included) in the modes that
/// refuse durable damage, and the files are unchanged.
fn expect_refused(dir: &Path, lsn: Lsn, fault: Option<FrameFault>) -> TestResult {
    let (path, offset) = locate(dir, lsn)?;
    let before = fingerprint(dir)?;
    for mode in [RecoveryMode::TolerateTornTail, RecoveryMode::Strict] {
        let err = Journal::open(dir, options().recovery_mode(mode))
            .err()
            .ok_or("damaged acknowledged data opened")?;
        let Error::Corrupted(c) = &err else {
            return Err(format!("{mode:?}: expected Corrupted, got {err:?}").into());
        };
        assert_eq!((&c.path, c.lsn, c.offset), (&path, lsn, offset), "{mode:?}");
        match (&c.kind, fault) {
            (CorruptionKind::Frame(found), Some(want)) => assert_eq!(*found, want),
            (CorruptionKind::Frame(_), None) => {}
            (other, _) => return Err(format!("{mode:?}: kind {other:?}").into()),
        }
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(
            fingerprint(dir)?,
            before,
            "{mode:?}: a failed open changed files"
        );
    }
    Ok(())
}

/// Salvage recovers exactly `survivors` entries, dropping from `lsn`; appends continue
/// there and the journal reopens cleanly.
fn expect_salvaged(dir: &Path, lsn: Lsn, survivors: u64) -> TestResult {
    let journal = Journal::open(dir, options().recovery_mode(RecoveryMode::Salvage))?;
    let report = journal.recovery_report();
    assert_eq!(report.case, Some(RecoveryCase::DurableDamage));
    assert_eq!(report.end_lsn, lsn);
    let dropped = report.dropped.as_ref().ok_or("Salvage reported no drop")?;
    assert_eq!(dropped.from, lsn);
    let want: Vec<_> = (0..survivors).map(entry).collect();
    assert_eq!(entries(&journal)?, want);
    assert_eq!(
        journal.append(entry(1000))?,
        lsn,
        "appends continue at the damage"
    );
    journal.close()?;
    let journal = Journal::open(dir, options())?;
    assert_eq!(journal.recovery_report().case, Some(RecoveryCase::CleanEnd));
    assert_eq!(entries(&journal)?.len(), usize::try_from(survivors + 1)?);
    Ok(())
}

/// Copies `pristine` to a scratch directory, flips `bit` of the byte at `byte` of the
/// frame at `lsn`, and runs `check` on the copy.
fn with_flip(
    pristine: &Path,
    lsn: Lsn,
    byte: u64,
    bit: u32,
    check: impl FnOnce(&Path) -> TestResult,
) -> TestResult {
    let scratch = support::tempdir()?;
    copy_dir(pristine, scratch.path())?;
    let (path, offset) = locate(scratch.path(), lsn)?;
    flip_bit(&path, offset + byte, bit)?;
    check(scratch.path())
        .map_err(|e| format!("bit {bit} of byte {byte} of the frame at {lsn}: {e}").into())
}

/// Flips, one at a time, every bit of `bytes` of the victim frame of a closed journal:
/// each flip is refused as durable damage. A refused open changes nothing, so one copy
/// serves every flip (flipped back after each); Salvage, which writes and syncs, runs on
/// a fresh copy for one bit of each 8-byte word.
fn flip_every_bit(bytes: std::ops::Range<u64>, fault: Option<FrameFault>) -> TestResult {
    let pristine = support::tempdir()?;
    let lsns = closed_journal(pristine.path())?;
    let victim = lsns[usize::try_from(VICTIM)?];
    let scratch = support::tempdir()?;
    copy_dir(pristine.path(), scratch.path())?;
    let (path, offset) = locate(scratch.path(), victim)?;
    for byte in bytes {
        for bit in 0..8 {
            flip_bit(&path, offset + byte, bit)?;
            expect_refused(scratch.path(), victim, fault)
                .map_err(|e| format!("bit {bit} of byte {byte}: {e}"))?;
            flip_bit(&path, offset + byte, bit)?;
            if byte % 8 == 0 && u64::from(bit) == byte / 8 {
                with_flip(pristine.path(), victim, byte, bit, |dir| {
                    expect_salvaged(dir, victim, VICTIM)
                })?;
            }
        }
    }
    Ok(())
}

#[test]
fn every_header_bit_flip_in_a_closed_journal_is_corruption_at_that_frame() -> TestResult {
    flip_every_bit(0..FRAME_HEADER_BYTES, None)
}

#[test]
fn every_payload_bit_flip_in_a_closed_journal_is_a_checksum_mismatch() -> TestResult {
    flip_every_bit(
        FRAME_HEADER_BYTES..ONE_ENTRY_FRAME_BYTES,
        Some(FrameFault::ChecksumMismatch),
    )
}

#[test]
fn salvage_reports_every_valid_frame_it_drops_after_the_flip() -> TestResult {
    let pristine = support::tempdir()?;
    let lsns = crashed_sync_journal(pristine.path())?;
    let victim = lsns[usize::try_from(VICTIM)?];
    with_flip(pristine.path(), victim, 20, 3, |dir| {
        let journal = Journal::open(dir, options().recovery_mode(RecoveryMode::Salvage))?;
        let dropped = journal
            .recovery_report()
            .dropped
            .clone()
            .ok_or("no drop reported")?;
        assert_eq!(dropped.from, victim);
        assert_eq!(dropped.valid_frames, FRAMES - VICTIM - 1);
        assert_eq!(dropped.to, Lsn(FRAMES * ONE_ENTRY_FRAME_BYTES));
        Ok(())
    })
}

#[test]
fn a_bit_flip_in_a_sync_journal_without_close_marker_is_corruption() -> TestResult {
    let pristine = support::tempdir()?;
    let lsns = crashed_sync_journal(pristine.path())?;
    let victim = lsns[usize::try_from(VICTIM)?];
    with_flip(pristine.path(), victim, 30, 6, |dir| {
        expect_durable_damage(dir, victim, Some(FrameFault::ChecksumMismatch), VICTIM)
    })?;
    with_flip(pristine.path(), victim, 9, 0, |dir| {
        expect_durable_damage(dir, victim, Some(FrameFault::ChecksumMismatch), VICTIM)
    })
}

#[test]
fn a_bit_flip_in_the_second_segment_names_that_segment_and_its_offset() -> TestResult {
    let pristine = support::tempdir()?;
    let count = CAPACITY_BYTES / ONE_ENTRY_FRAME_BYTES + 30;
    let (journal, lsns) = write_entries(pristine.path(), options(), count)?;
    journal.close()?;
    let index = CAPACITY_BYTES / ONE_ENTRY_FRAME_BYTES + 10;
    let victim = lsns[usize::try_from(index)?];
    assert_eq!(victim, Lsn(CAPACITY_BYTES + 10 * ONE_ENTRY_FRAME_BYTES));
    with_flip(pristine.path(), victim, 24, 1, |dir| {
        let (path, offset) = locate(dir, victim)?;
        assert_eq!(offset, 4096 + 10 * ONE_ENTRY_FRAME_BYTES);
        assert!(path.ends_with(format!("{CAPACITY_BYTES:016x}.seg")));
        expect_durable_damage(dir, victim, Some(FrameFault::ChecksumMismatch), index)
    })
}

#[test]
fn a_bit_flip_in_a_checkpoint_frame_is_corruption() -> TestResult {
    let pristine = support::tempdir()?;
    let journal = Journal::open(pristine.path(), options())?;
    for i in 0..10 {
        journal.append(entry(i))?;
    }
    let checkpoint = journal.checkpoint(&record(7))?;
    for i in 10..20 {
        journal.append(entry(i))?;
    }
    journal.close()?;
    with_flip(pristine.path(), checkpoint, 18, 2, |dir| {
        expect_durable_damage(dir, checkpoint, Some(FrameFault::ChecksumMismatch), 10)?;
        let journal = Journal::open(dir, options())?;
        let has_checkpoint = support::frames(&journal)?
            .iter()
            .any(|f| matches!(f, Frame::Checkpoint { .. }));
        assert!(!has_checkpoint, "the damaged checkpoint was dropped");
        Ok(())
    })
}

#[test]
fn a_bit_flip_in_a_never_flushed_journal_is_an_unsynced_gap() -> TestResult {
    let pristine = support::tempdir()?;
    let lsns = crashed_async_journal(pristine.path())?;
    let victim = lsns[usize::try_from(VICTIM)?];
    with_flip(pristine.path(), victim, 28, 5, |dir| {
        let before = fingerprint(dir)?;
        let strict = Journal::open(dir, options().recovery_mode(RecoveryMode::Strict));
        match strict {
            Err(Error::TornTail { lsn, .. }) => assert_eq!(lsn, victim),
            other => return Err(format!("Strict opened an unsynced gap: {other:?}").into()),
        }
        assert_eq!(fingerprint(dir)?, before, "Strict changed files");

        let journal = Journal::open(dir, Options::default().segment_size_bytes(64 * 1024))?;
        let report = journal.recovery_report();
        assert_eq!(report.case, Some(RecoveryCase::UnsyncedGap));
        assert_eq!(report.end_lsn, victim);
        let dropped = report.dropped.as_ref().ok_or("no drop reported")?;
        assert_eq!(dropped.from, victim);
        assert_eq!(dropped.valid_frames, FRAMES - VICTIM - 1);
        assert_eq!(dropped.to, Lsn(FRAMES * ONE_ENTRY_FRAME_BYTES));
        let want: Vec<_> = (0..VICTIM).map(entry).collect();
        assert_eq!(entries(&journal)?, want);
        assert_eq!(
            support::nonzero_bytes_from(dir, victim)?,
            0,
            "gap truncated"
        );
        Ok(())
    })
}
