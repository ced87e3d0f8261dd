//! Segment files that are not what the journal wrote — another journal's segment, a
//! newer format version, a damaged or cut header, an impossible frame length, a
//! missing segment, a directory or symlink under a segment name, a name that disagrees
//! with the header, a file shorter than its header says — are refused on open with an
//! error naming the file, in every recovery mode, without a panic and without
//! changing a byte on disk.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_journal::format::crc::bytes_crc;
use checkpoint_journal::format::frame::FrameFault;
use checkpoint_journal::format::segment_header::HeaderFault;
use checkpoint_journal::{Corruption, CorruptionKind, Entry, Error, Journal, Lsn, RecoveryMode};
use support::{
    batch_frame_bytes, entry, fingerprint, options, read_at, segment_path, write_at, TestResult,
    CAPACITY_BYTES, HEADER_BYTES, SEGMENT_BYTES,
};

/// Entries per batch frame in the fixture.
const BATCH: u64 = 100;
/// Batch frames in the fixture: 25 fill a segment, so three segments hold data.
const BATCHES: u64 = 60;

/// Writes the fixture — three segments holding `BATCHES` frames of `BATCH` entries —
/// closes it, and returns the journal's id.
fn three_segments(dir: &Path) -> TestResult<u128> {
    let journal = Journal::open(dir, options())?;
    for b in 0..BATCHES {
        let batch: Vec<Entry> = (b * BATCH..(b + 1) * BATCH).map(entry).collect();
        journal.append_batch(&batch)?;
    }
    let id = journal.journal_id();
    journal.close()?;
    let bases = support::segment_bases(dir)?;
    assert_eq!(bases, vec![0, CAPACITY_BYTES, 2 * CAPACITY_BYTES]);
    Ok(id)
}

fn middle(dir: &Path) -> PathBuf {
    segment_path(dir, CAPACITY_BYTES)
}

const EVERY_MODE: [RecoveryMode; 3] = [
    RecoveryMode::TolerateTornTail,
    RecoveryMode::Strict,
    RecoveryMode::Salvage,
];

/// Opens `dir` in every recovery mode; each must fail, name `path` in its message, and
/// leave every file as it was. Returns the errors for the caller to inspect.
fn refused(dir: &Path, path: &Path) -> TestResult<Vec<Error>> {
    refused_in(dir, path, &EVERY_MODE)
}

/// [`refused`] in `modes` only.
fn refused_in(dir: &Path, path: &Path, modes: &[RecoveryMode]) -> TestResult<Vec<Error>> {
    let before = fingerprint(dir)?;
    let mut errors = Vec::new();
    for &mode in modes {
        let err = match Journal::open(dir, options().recovery_mode(mode)) {
            Err(err) => err,
            Ok(journal) => {
                let report = journal.recovery_report().clone();
                journal.close_without_flush();
                return Err(format!("{mode:?}: a hostile directory opened: {report:?}").into());
            }
        };
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "{mode:?}: `{message}` does not name {}",
            path.display()
        );
        assert_eq!(
            fingerprint(dir)?,
            before,
            "{mode:?}: a failed open changed files"
        );
        errors.push(err);
    }
    Ok(errors)
}

/// The corruption in `err`, or an error describing what `err` is instead.
fn corruption(err: &Error) -> TestResult<&Corruption> {
    match err {
        Error::Corrupted(c) => Ok(c),
        other => Err(format!("expected Corrupted, got {other:?}").into()),
    }
}

/// Rewrites the header's format version and, if `fix_crc`, its checksum.
fn set_version(path: &Path, version: u32, fix_crc: bool) -> TestResult {
    write_at(path, 8, &version.to_le_bytes())?;
    if fix_crc {
        let fields = read_at(path, 0, 56)?;
        write_at(path, 56, &bytes_crc(&fields).to_le_bytes())?;
    }
    Ok(())
}

#[test]
fn a_segment_from_another_journal_is_refused_naming_the_file() -> TestResult {
    let ours = support::tempdir()?;
    let theirs = support::tempdir()?;
    let our_id = three_segments(ours.path())?;
    let their_id = three_segments(theirs.path())?;
    assert_ne!(our_id, their_id);
    fs::copy(middle(theirs.path()), middle(ours.path()))?;
    for err in refused(ours.path(), &middle(ours.path()))? {
        match err {
            Error::ForeignJournal {
                path,
                expected,
                found,
            } => assert_eq!(
                (path, expected, found),
                (middle(ours.path()), our_id, their_id)
            ),
            other => return Err(format!("expected ForeignJournal, got {other:?}").into()),
        }
    }
    Ok(())
}

#[test]
fn an_unknown_format_version_is_upgrade_required() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    set_version(&middle(dir.path()), 4, true)?;
    for err in refused(dir.path(), &middle(dir.path()))? {
        match err {
            Error::UpgradeRequired {
                path,
                found,
                supported,
            } => assert_eq!((path, found, supported), (middle(dir.path()), 4, 3)),
            other => return Err(format!("expected UpgradeRequired, got {other:?}").into()),
        }
    }
    Ok(())
}

#[test]
fn a_newer_version_in_the_first_segment_is_upgrade_required_even_with_a_stale_crc() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    let first = segment_path(dir.path(), 0);
    set_version(&first, 4, false)?;
    for err in refused(dir.path(), &first)? {
        assert!(
            matches!(
                err,
                Error::UpgradeRequired {
                    found: 4,
                    supported: 3,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    Ok(())
}

#[test]
fn a_middle_segment_cut_inside_its_header_is_refused() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    fs::OpenOptions::new()
        .write(true)
        .open(middle(dir.path()))?
        .set_len(40)?;
    for err in refused(dir.path(), &middle(dir.path()))? {
        let path = match &err {
            Error::Corrupted(c) => &c.path,
            Error::Io { path, .. } => path,
            other => return Err(format!("expected Corrupted or Io, got {other:?}").into()),
        };
        assert_eq!(path, &middle(dir.path()));
    }
    Ok(())
}

#[test]
fn a_middle_segment_with_a_half_written_header_is_corruption() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    write_at(&middle(dir.path()), 32, &[0u8; 32])?;
    for err in refused(dir.path(), &middle(dir.path()))? {
        let c = corruption(&err)?;
        assert_eq!(c.path, middle(dir.path()));
        assert_eq!(
            c.kind,
            CorruptionKind::SegmentHeader(HeaderFault::ChecksumMismatch)
        );
    }
    Ok(())
}

#[test]
fn a_frame_length_of_u32_max_in_a_middle_frame_is_corruption() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    // Without its summary (with one, the default mode folds the summary and does not
    // read these frames: tests/summary_fallback.rs), the middle segment is scanned.
    fs::remove_file(dir.path().join(format!("{CAPACITY_BYTES:016x}.sum")))?;
    // The sixth frame of the middle segment.
    let lsn = CAPACITY_BYTES + 5 * batch_frame_bytes(BATCH);
    let offset = HEADER_BYTES + 5 * batch_frame_bytes(BATCH);
    write_at(&middle(dir.path()), offset, &u32::MAX.to_le_bytes())?;
    let refusing = [RecoveryMode::TolerateTornTail, RecoveryMode::Strict];
    for err in refused_in(dir.path(), &middle(dir.path()), &refusing)? {
        let c = corruption(&err)?;
        assert_eq!((c.lsn, c.offset), (Lsn(lsn), offset));
        assert_eq!(c.kind, CorruptionKind::Frame(FrameFault::BadLength));
    }
    // Salvage keeps the frames before it (25 batches in the first segment, 5 here).
    let journal = Journal::open(dir.path(), options().recovery_mode(RecoveryMode::Salvage))?;
    let report = journal.recovery_report();
    assert_eq!(report.end_lsn, Lsn(lsn));
    let from = report.dropped.as_ref().map(|d| d.from);
    assert_eq!(from, Some(Lsn(lsn)));
    assert_eq!(
        support::entries(&journal)?.len(),
        usize::try_from(30 * BATCH)?
    );
    Ok(())
}

#[test]
fn a_missing_middle_segment_is_a_gap() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    fs::remove_file(middle(dir.path()))?;
    let last = segment_path(dir.path(), 2 * CAPACITY_BYTES);
    for err in refused(dir.path(), &last)? {
        let c = corruption(&err)?;
        assert_eq!((&c.path, c.lsn), (&last, Lsn(2 * CAPACITY_BYTES)));
        assert_eq!(
            c.kind,
            CorruptionKind::Gap {
                expected: Lsn(CAPACITY_BYTES)
            }
        );
    }
    Ok(())
}

#[test]
fn a_directory_with_a_segment_name_is_refused() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    let fake = segment_path(dir.path(), 3 * CAPACITY_BYTES);
    fs::create_dir(&fake)?;
    for err in refused(dir.path(), &fake)? {
        let c = corruption(&err)?;
        assert_eq!(c.path, fake);
        assert!(matches!(c.kind, CorruptionKind::Inconsistent(_)), "{c:?}");
    }
    Ok(())
}

#[test]
fn a_symlink_with_a_segment_name_is_refused() -> TestResult {
    let dir = support::tempdir()?;
    let elsewhere = support::tempdir()?;
    three_segments(dir.path())?;
    let target = elsewhere.path().join("moved.seg");
    fs::rename(middle(dir.path()), &target)?;
    std::os::unix::fs::symlink(&target, middle(dir.path()))?;
    for err in refused(dir.path(), &middle(dir.path()))? {
        let c = corruption(&err)?;
        assert_eq!(c.path, middle(dir.path()));
        assert!(matches!(c.kind, CorruptionKind::Inconsistent(_)), "{c:?}");
    }
    Ok(())
}

#[test]
fn a_file_name_that_disagrees_with_the_header_base_is_refused() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    let last = segment_path(dir.path(), 2 * CAPACITY_BYTES);
    let swap = dir.path().join("swap");
    fs::rename(middle(dir.path()), &swap)?;
    fs::rename(&last, middle(dir.path()))?;
    fs::rename(&swap, &last)?;
    for err in refused(dir.path(), &middle(dir.path()))? {
        let c = corruption(&err)?;
        assert_eq!((&c.path, c.lsn), (&middle(dir.path()), Lsn(CAPACITY_BYTES)));
        assert!(matches!(c.kind, CorruptionKind::Inconsistent(_)), "{c:?}");
    }
    Ok(())
}

#[test]
fn a_middle_segment_shorter_than_its_header_says_is_refused() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    fs::OpenOptions::new()
        .write(true)
        .open(middle(dir.path()))?
        .set_len(SEGMENT_BYTES / 2)?;
    for err in refused(dir.path(), &middle(dir.path()))? {
        let c = corruption(&err)?;
        assert_eq!(c.path, middle(dir.path()));
        assert!(matches!(c.kind, CorruptionKind::Inconsistent(_)), "{c:?}");
    }
    Ok(())
}

#[test]
fn a_last_segment_cut_to_a_whole_page_count_is_refused() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    let last = segment_path(dir.path(), 2 * CAPACITY_BYTES);
    fs::OpenOptions::new()
        .write(true)
        .open(&last)?
        .set_len(SEGMENT_BYTES / 2)?;
    for err in refused(dir.path(), &last)? {
        let c = corruption(&err)?;
        assert_eq!(c.path, last);
        assert!(matches!(c.kind, CorruptionKind::Inconsistent(_)), "{c:?}");
    }
    Ok(())
}

#[test]
fn a_last_segment_holding_frames_cut_to_an_odd_length_is_refused_not_removed() -> TestResult {
    let dir = support::tempdir()?;
    three_segments(dir.path())?;
    let last = segment_path(dir.path(), 2 * CAPACITY_BYTES);
    // Ten batch frames live in the last segment; cut it after the fifth, mid-page.
    let cut = HEADER_BYTES + 5 * batch_frame_bytes(BATCH) + 100;
    fs::OpenOptions::new()
        .write(true)
        .open(&last)?
        .set_len(cut)?;
    for err in refused(dir.path(), &last)? {
        let path = match &err {
            Error::Corrupted(c) => &c.path,
            Error::Io { path, .. } => path,
            other => return Err(format!("expected Corrupted or Io, got {other:?}").into()),
        };
        assert_eq!(path, &last);
    }
    Ok(())
}

#[test]
fn a_meta_frame_in_a_version_1_segment_is_refused() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    journal.append(entry(1))?;
    let lsn = journal.append_meta(&checkpoint_journal::MetaRecord::Family {
        name: "postgres".into(),
    })?;
    journal.close()?;
    let first = segment_path(dir.path(), 0);
    // Format version 1 defines no meta frame: one there, checksum valid, is corruption.
    set_version(&first, 1, true)?;
    for err in refused(dir.path(), &first)? {
        match err {
            Error::Corrupted(Corruption {
                lsn: at,
                offset,
                kind: CorruptionKind::UnknownFrame { kind: 4 },
                ..
            }) => assert_eq!((at, offset), (lsn, HEADER_BYTES + lsn.0)),
            other => return Err(format!("expected UnknownFrame, got {other:?}").into()),
        }
    }
    Ok(())
}
