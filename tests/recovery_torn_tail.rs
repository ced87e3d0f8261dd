//! A torn tail — the last frame of a journal that crashed before flushing, cut short at
//! any byte and followed by zeros or by garbage — is truncated on open: exactly the
//! frames before it are recovered, the report says what was zeroed, appends continue
//! at the torn frame's LSN, and the journal recovers cleanly after that. A last frame
//! that is all zeros is a clean end; `RecoveryMode::Strict` refuses a torn tail with
//! its LSN and changes nothing.

mod support;

use std::path::Path;

use checkpoint_journal::{Durability, Error, Journal, Lsn, RecoveryCase, RecoveryMode};
use support::{
    copy_dir, entries, entry, fingerprint, locate, nonzero_bytes_from, options, read_at,
    segment_path, write_at, write_entries, TestResult, CAPACITY_BYTES, ONE_ENTRY_FRAME_BYTES,
};

/// Frames written before the crash.
const FRAMES: u64 = 20;
/// Entries appended after recovery.
const MORE: u64 = 5;

/// How the last frame is damaged from byte `k` on.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// Zeros from `k` to the end of the frame.
    Zeros,
    /// Garbage from `k` to the end of the frame.
    Garbage,
    /// Garbage from `k` to past the end of the frame.
    GarbagePast,
}

/// A journal of `count` one-entry frames left as a process crash leaves it; returns the
/// LSN of its last frame.
fn crashed_journal(dir: &Path, count: u64) -> TestResult<Lsn> {
    let (journal, lsns) = write_entries(dir, options().durability(Durability::Async), count)?;
    journal.close_without_flush();
    Ok(*lsns.last().ok_or("no frame written")?)
}

/// Bytes that are never zero and differ from every byte a test frame holds at the same
/// position with overwhelming likelihood; a frame made of them never validates.
fn garbage(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (0x5A ^ u8::try_from(i % 64).unwrap_or(0)) | 0x01)
        .collect()
}

/// Damages the frame at `last` in `dir` from its byte `k` on.
fn damage(dir: &Path, last: Lsn, k: u64, how: Damage) -> TestResult {
    let (path, offset) = locate(dir, last)?;
    let tail = usize::try_from(ONE_ENTRY_FRAME_BYTES - k)?;
    let bytes = match how {
        Damage::Zeros => vec![0u8; tail],
        Damage::Garbage => garbage(tail),
        Damage::GarbagePast => garbage(tail + 200),
    };
    write_at(&path, offset + k, &bytes)?;
    Ok(())
}

/// Copies `pristine`, damages its last frame from byte `k`, and checks recovery: the
/// prefix survives, the tail is zeroed, and appends continue and survive a reopen.
fn check_torn_at(pristine: &Path, last: Lsn, k: u64, how: Damage) -> TestResult {
    let scratch = support::tempdir()?;
    let dir = scratch.path().join("journal");
    copy_dir(pristine, &dir)?;
    damage(&dir, last, k, how)?;
    let context = format!("damage {how:?} from byte {k}");
    let expected_torn = nonzero_bytes_from(&dir, last)?;
    let prefix: Vec<_> = (0..FRAMES - 1).map(entry).collect();

    let journal = Journal::open(&dir, options())?;
    let report = journal.recovery_report().clone();
    assert_eq!(report.case, Some(RecoveryCase::TornTail), "{context}");
    assert_eq!(report.end_lsn, last, "{context}");
    assert_eq!(report.torn_bytes, expected_torn, "{context}");
    let dropped = report.dropped.as_ref().ok_or("no dropped range reported")?;
    assert_eq!((dropped.from, dropped.valid_frames), (last, 0), "{context}");
    assert_eq!(entries(&journal)?, prefix, "{context}");
    assert_eq!(journal.state()?.entries, FRAMES - 1, "{context}");
    assert_eq!(
        nonzero_bytes_from(&dir, last)?,
        0,
        "{context}: the tail is zeroed"
    );

    let first_new = journal.append(entry(100))?;
    assert_eq!(
        first_new, last,
        "{context}: appends continue at the torn frame"
    );
    for i in 101..100 + MORE {
        journal.append(entry(i))?;
    }
    journal.close()?;

    let journal = Journal::open(&dir, options())?;
    assert_eq!(
        journal.recovery_report().case,
        Some(RecoveryCase::CleanEnd),
        "{context}"
    );
    assert_eq!(journal.recovery_report().torn_bytes, 0, "{context}");
    let mut want = prefix;
    want.extend((100..100 + MORE).map(entry));
    assert_eq!(entries(&journal)?, want, "{context}");
    Ok(())
}

fn check_every_cut(how: Damage, cuts: std::ops::Range<u64>) -> TestResult {
    let pristine = support::tempdir()?;
    let last = crashed_journal(pristine.path(), FRAMES)?;
    assert_eq!(last, Lsn((FRAMES - 1) * ONE_ENTRY_FRAME_BYTES));
    for k in cuts {
        check_torn_at(pristine.path(), last, k, how)?;
    }
    Ok(())
}

#[test]
fn last_frame_zeroed_from_any_byte_after_the_first_is_a_torn_tail() -> TestResult {
    check_every_cut(Damage::Zeros, 1..ONE_ENTRY_FRAME_BYTES)
}

#[test]
fn last_frame_overwritten_with_garbage_from_any_byte_is_a_torn_tail() -> TestResult {
    check_every_cut(Damage::Garbage, 0..ONE_ENTRY_FRAME_BYTES)
}

#[test]
fn garbage_running_past_the_last_frame_is_a_torn_tail() -> TestResult {
    check_every_cut(Damage::GarbagePast, 0..ONE_ENTRY_FRAME_BYTES)
}

#[test]
fn last_frame_entirely_zero_is_a_clean_end_in_every_mode() -> TestResult {
    let pristine = support::tempdir()?;
    let last = crashed_journal(pristine.path(), FRAMES)?;
    for mode in [
        RecoveryMode::Strict,
        RecoveryMode::TolerateTornTail,
        RecoveryMode::Salvage,
    ] {
        let scratch = support::tempdir()?;
        copy_dir(pristine.path(), scratch.path())?;
        damage(scratch.path(), last, 0, Damage::Zeros)?;
        let journal = Journal::open(scratch.path(), options().recovery_mode(mode))?;
        let report = journal.recovery_report();
        assert_eq!(report.case, Some(RecoveryCase::CleanEnd), "{mode:?}");
        assert_eq!((report.end_lsn, report.torn_bytes), (last, 0), "{mode:?}");
        assert!(report.dropped.is_none(), "{mode:?}");
        let want: Vec<_> = (0..FRAMES - 1).map(entry).collect();
        assert_eq!(entries(&journal)?, want, "{mode:?}");
        assert_eq!(journal.append(entry(100))?, last, "{mode:?}");
    }
    Ok(())
}

#[test]
fn strict_mode_refuses_a_torn_tail_with_its_lsn_and_changes_nothing() -> TestResult {
    let pristine = support::tempdir()?;
    let last = crashed_journal(pristine.path(), FRAMES)?;
    for (k, how) in [
        (0, Damage::Garbage),
        (20, Damage::Zeros),
        (39, Damage::Zeros),
    ] {
        let scratch = support::tempdir()?;
        copy_dir(pristine.path(), scratch.path())?;
        damage(scratch.path(), last, k, how)?;
        let before = fingerprint(scratch.path())?;
        let err = Journal::open(
            scratch.path(),
            options().recovery_mode(RecoveryMode::Strict),
        )
        .err()
        .ok_or("a torn tail opened in Strict mode")?;
        let seg0 = segment_path(scratch.path(), 0);
        match &err {
            Error::TornTail { path, lsn } => {
                assert_eq!((path, *lsn), (&seg0, last), "{how:?} from byte {k}");
            }
            other => return Err(format!("{how:?} from byte {k}: {other:?}").into()),
        }
        assert!(err.to_string().contains(&seg0.display().to_string()));
        assert_eq!(
            fingerprint(scratch.path())?,
            before,
            "{how:?} from byte {k}"
        );
    }
    Ok(())
}

#[test]
fn torn_first_frame_of_a_new_segment_truncates_back_to_the_roll_over() -> TestResult {
    // One-entry frames fill a segment exactly, so frame `CAPACITY / 40` is the first
    // frame of the second segment.
    let per_segment = CAPACITY_BYTES / ONE_ENTRY_FRAME_BYTES;
    let pristine = support::tempdir()?;
    let last = crashed_journal(pristine.path(), per_segment + 1)?;
    assert_eq!(last, Lsn(CAPACITY_BYTES));
    let scratch = support::tempdir()?;
    copy_dir(pristine.path(), scratch.path())?;
    let (path, offset) = locate(scratch.path(), last)?;
    assert_eq!(
        (path, offset),
        (segment_path(scratch.path(), CAPACITY_BYTES), 4096)
    );
    damage(scratch.path(), last, 17, Damage::Zeros)?;
    let journal = Journal::open(scratch.path(), options())?;
    let report = journal.recovery_report();
    assert_eq!(report.case, Some(RecoveryCase::TornTail));
    assert_eq!(report.end_lsn, last);
    let want: Vec<_> = (0..per_segment).map(entry).collect();
    assert_eq!(entries(&journal)?, want);
    assert_eq!(journal.append(entry(7))?, last);
    let bytes = read_at(&segment_path(scratch.path(), CAPACITY_BYTES), 4096, 8)?;
    assert_ne!(
        bytes,
        vec![0u8; 8],
        "the new frame is in the second segment"
    );
    Ok(())
}
