//! Golden fixtures of format version 1 (STYLE R22): `tests/fixtures/v1/` holds journals
//! written by this version — `valid/` (two segments, every frame kind, closed cleanly),
//! `torn_tail/` (an unflushed last frame cut short) and `corrupt/` (a bit flipped in a
//! frame a later frame claims durable). Each test opens a copy and checks the recovery
//! report and the exact frames, so any change to how these bytes are read is caught.
//!
//! The fixtures never change once committed (their checksums are pinned below). The
//! generator is `write_fixtures`, `#[ignore]`d: it was run once, and runs again only into
//! a new `v{N}/` for a new format version.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_journal::format::crc::bytes_crc;
use checkpoint_journal::format::frame::FrameFault;
use checkpoint_journal::format::segment_header::SegmentHeader;
use checkpoint_journal::{
    inspect, CheckpointRecord, CorruptionKind, Entry, Error, Frame, Journal, Lsn, OperatorState,
    RecoveryCase, RecoveryMode, RecoveryReport,
};
use support::{copy_dir, options, TestResult};

/// What one append wrote.
#[derive(Clone, Debug)]
enum Append {
    Entries(Vec<Entry>),
    Checkpoint(CheckpointRecord),
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v1")
        .join(name)
}

/// A private copy of a fixture (opening truncates and writes markers).
fn copy_of(name: &str) -> TestResult<tempfile::TempDir> {
    let dir = support::tempdir()?;
    copy_dir(&fixture(name), dir.path())?;
    Ok(dir)
}

fn seg(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:016x}.seg"))
}

fn record(id: u64, blob: usize) -> CheckpointRecord {
    CheckpointRecord {
        id,
        epoch: 3,
        created_at_ms: 1_700_000_000_000 + id,
        source_sequences: vec![(0, 10 * id), (1, 20 * id), (2, 30 * id)],
        sink_positions: vec![(0, 9 * id)],
        watermarks: vec![(0, -1), (1, i64::MAX), (2, i64::MIN)],
        operator_states: vec![OperatorState {
            operator_id: 0xfeed,
            state: (0..blob)
                .map(|i| u8::try_from(i % 251).unwrap_or(0))
                .collect(),
        }],
    }
}

/// Entry `i`: every field non-zero, all three ops, and flags, so that every byte of an
/// entry's encoding is pinned.
fn entry(i: u64) -> Entry {
    let watermark = -(i64::try_from(i).unwrap_or(0) + 1);
    let source = 1 + u16::try_from(i % 4).unwrap_or(0);
    let mut e = match i % 3 {
        0 => Entry::push(source, i + 1, watermark),
        1 => Entry::watermark(source, i + 1, watermark),
        _ => Entry::barrier(source, i + 1, watermark),
    };
    e.flags = u8::try_from(i % 256).unwrap_or(0);
    e
}

fn singles(range: std::ops::Range<u64>) -> Vec<Append> {
    range.map(|i| Append::Entries(vec![entry(i)])).collect()
}

fn batch(range: std::ops::Range<u64>) -> Append {
    Append::Entries(range.map(entry).collect())
}

/// `valid/`: singles, a checkpoint, batches that roll into a second segment (leaving a
/// padding frame), a checkpoint there, then a clean close (a marker frame).
fn valid_appends() -> Vec<Append> {
    let mut out = singles(0..10);
    out.push(Append::Checkpoint(record(1, 40)));
    out.push(batch(10..110));
    for b in 0..5 {
        out.push(batch(1000 + b * 500..1500 + b * 500));
    }
    out.push(Append::Checkpoint(record(2, 300)));
    out.extend(singles(5000..5003));
    out
}

/// `torn_tail/` and `corrupt/`: ten singles flushed, then five more.
fn short_appends() -> (Vec<Append>, Vec<Append>) {
    (singles(0..10), singles(10..15))
}

fn append_all(journal: &Journal, appends: &[Append]) -> TestResult<Vec<Lsn>> {
    let mut lsns = Vec::new();
    for a in appends {
        lsns.push(match a {
            Append::Entries(e) => journal.append_batch(e)?,
            Append::Checkpoint(r) => journal.checkpoint(r)?,
        });
    }
    Ok(lsns)
}

/// Every frame of `journal` as `(lsn, append)`.
fn frames(journal: &Journal) -> TestResult<Vec<(u64, String)>> {
    Ok(support::frames(journal)?
        .into_iter()
        .map(|f| match f {
            Frame::Entries { lsn, entries } => (lsn.0, format!("{:?}", Append::Entries(entries))),
            Frame::Checkpoint { lsn, record } => {
                (lsn.0, format!("{:?}", Append::Checkpoint(record)))
            }
            other => (other.lsn().0, format!("{other:?}")),
        })
        .collect())
}

fn expected(lsns: &[u64], appends: &[Append]) -> Vec<(u64, String)> {
    lsns.iter()
        .zip(appends)
        .map(|(lsn, a)| (*lsn, format!("{a:?}")))
        .collect()
}

/// The fields of a report a format change would move.
fn summary(r: &RecoveryReport) -> (u64, u64, u64, Lsn, Lsn, Option<RecoveryCase>, u64) {
    (
        r.frames_scanned,
        r.entries_replayed,
        r.checkpoints_replayed,
        r.end_lsn,
        r.durable_claim,
        r.case,
        r.torn_bytes,
    )
}

/// Opens a copy of fixture `name` in `mode`; `inspect` of another copy must agree.
fn open(name: &str, mode: RecoveryMode) -> TestResult<(tempfile::TempDir, Result<Journal, Error>)> {
    let dir = copy_of(name)?;
    let dry = inspect(dir.path(), mode).map(|i| i.map(|i| summary(&i.report)));
    let journal = Journal::open(dir.path(), options().recovery_mode(mode));
    match (&dry, &journal) {
        (Ok(Some(d)), Ok(j)) => assert_eq!(*d, summary(j.recovery_report()), "{name} {mode:?}"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name} {mode:?}"),
        _ => panic!(
            "{name} {mode:?}: inspect {dry:?}, open {:?}",
            journal.as_ref().err()
        ),
    }
    Ok((dir, journal))
}

/// LSNs of the `valid/` frames: one-entry frames are 40 bytes, a batch of `n` entries
/// `16 + 24n`, a checkpoint `16 + len` rounded up to 8; a frame that does not fit in
/// the 61 440 data bytes of a segment goes to the next one behind a padding frame.
/// The fifth 500-entry batch does not fit after 50 984 and starts the second segment.
const VALID_LSNS: [u64; 21] = [
    0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400, 504, 2920, 14936, 26952, 38968, 61440,
    73456, 73824, 73864, 73904,
];
/// Just past the close marker at 73 944 (which claims everything before it durable).
const VALID_END: u64 = 73_960;
/// The end of the second segment: where appends continue once it is sealed.
const SEALED_END: u64 = 2 * 61_440;

#[test]
fn valid_v1_recovers_every_frame_exactly() -> TestResult {
    let (dir, journal) = open("valid", RecoveryMode::Strict)?;
    let journal = journal?;
    let report = journal.recovery_report().clone();
    let appends = valid_appends();
    assert_eq!(frames(&journal)?, expected(&VALID_LSNS, &appends));
    assert_eq!(
        summary(&report),
        (
            23,
            2613,
            2,
            Lsn(VALID_END),
            Lsn(VALID_END - 16),
            Some(RecoveryCase::CleanEnd),
            0
        )
    );
    assert_eq!(report.segments_scanned, 2);
    assert!(report.dropped.is_none() && report.removed_files.is_empty());
    let state = journal.state()?;
    assert_eq!(state.last_checkpoint.as_ref().map(|c| c.1.id), Some(2));
    // Appends never go to a version-1 segment: opening sealed the second one with a
    // padding frame, and the next append starts a third segment, of the current version.
    let lsn = journal.append(entry(9999))?;
    assert_eq!(lsn, Lsn(SEALED_END));
    journal.close()?;
    let third = fs::read(seg(dir.path(), SEALED_END))?;
    assert_eq!(
        third[8..12],
        checkpoint_journal::format::FORMAT_VERSION.to_le_bytes(),
        "the new segment is of the current version"
    );
    let second = fs::read(seg(dir.path(), 61_440))?;
    assert_eq!(
        second[8..12],
        1u32.to_le_bytes(),
        "the sealed segment stays version 1"
    );
    let journal = Journal::open(dir.path(), options().recovery_mode(RecoveryMode::Strict))?;
    let mut all = expected(&VALID_LSNS, &appends);
    all.push((
        SEALED_END,
        format!("{:?}", Append::Entries(vec![entry(9999)])),
    ));
    assert_eq!(frames(&journal)?, all);
    journal.close()?;
    drop(dir);
    Ok(())
}

#[test]
fn torn_tail_v1_is_truncated_by_default_and_refused_in_strict() -> TestResult {
    let (dir, journal) = open("torn_tail", RecoveryMode::TolerateTornTail)?;
    let journal = journal?;
    let (flushed, unflushed) = short_appends();
    let lsns: Vec<u64> = (0..14).map(|i| 40 * i).collect();
    let appends: Vec<Append> = flushed.into_iter().chain(unflushed).collect();
    assert_eq!(frames(&journal)?, expected(&lsns, &appends[..14]));
    let report = journal.recovery_report();
    assert_eq!(
        summary(report),
        (
            14,
            14,
            0,
            Lsn(560),
            Lsn(400),
            Some(RecoveryCase::TornTail),
            32
        )
    );
    let dropped = report.dropped.as_ref().ok_or("nothing dropped")?;
    assert_eq!(
        (dropped.from, dropped.to, dropped.valid_frames),
        (Lsn(560), Lsn(560), 0)
    );
    assert_eq!(dropped.fault, "ChecksumMismatch");
    journal.close()?;
    drop(dir);
    let (_dir, strict) = open("torn_tail", RecoveryMode::Strict)?;
    match strict {
        Err(Error::TornTail { path, lsn }) => {
            assert_eq!(
                (path.file_name(), lsn),
                (seg(Path::new(""), 0).file_name(), Lsn(560))
            );
        }
        other => return Err(format!("expected TornTail, got {:?}", other.map(|_| ())).into()),
    }
    Ok(())
}

#[test]
fn corrupt_v1_is_refused_and_salvaged_up_to_the_damage() -> TestResult {
    for mode in [RecoveryMode::TolerateTornTail, RecoveryMode::Strict] {
        let (dir, journal) = open("corrupt", mode)?;
        match journal {
            Err(Error::Corrupted(c)) => {
                assert_eq!(c.path, seg(dir.path(), 0));
                assert_eq!((c.lsn, c.offset), (Lsn(160), 4096 + 160));
                assert_eq!(c.kind, CorruptionKind::Frame(FrameFault::ChecksumMismatch));
            }
            other => {
                return Err(
                    format!("{mode:?}: expected Corrupted, got {:?}", other.map(|_| ())).into(),
                )
            }
        }
    }
    let (_dir, journal) = open("corrupt", RecoveryMode::Salvage)?;
    let journal = journal?;
    let (flushed, _) = short_appends();
    assert_eq!(
        frames(&journal)?,
        expected(&[0, 40, 80, 120], &flushed[..4])
    );
    let report = journal.recovery_report();
    assert_eq!(
        summary(report),
        (
            4,
            4,
            0,
            Lsn(160),
            Lsn(600),
            Some(RecoveryCase::DurableDamage),
            456
        )
    );
    let dropped = report.dropped.as_ref().ok_or("nothing dropped")?;
    assert_eq!(
        (dropped.from, dropped.to, dropped.valid_frames),
        (Lsn(160), Lsn(616), 11)
    );
    Ok(())
}

/// Every fixture file, its length and CRC32C: the fixtures are never rewritten.
const PINNED: [(&str, u64, u32); 4] = [
    ("valid/0000000000000000.seg", 65_536, 0x5027_736a),
    ("valid/000000000000f000.seg", 65_536, 0x00da_952a),
    ("torn_tail/0000000000000000.seg", 65_536, 0x9225_cdba),
    ("corrupt/0000000000000000.seg", 65_536, 0x38ea_f24f),
];

#[test]
fn fixture_files_are_the_pinned_ones_with_v1_headers() -> TestResult {
    let mut ids = Vec::new();
    for (name, len, crc) in PINNED {
        let bytes = fs::read(fixture(name))?;
        assert_eq!(
            (bytes.len() as u64, bytes_crc(&bytes)),
            (len, crc),
            "{name}"
        );
        assert_eq!(&bytes[..8], b"\x89CPJ\r\n\x1a\n", "{name}: magic");
        assert_eq!(bytes[8..12], 1u32.to_le_bytes(), "{name}: format version 1");
        let header = SegmentHeader::decode(&bytes).map_err(|f| format!("{name}: {f:?}"))?;
        assert_eq!(header.segment_size_bytes, 65_536, "{name}");
        let base = u64::from_str_radix(&name[name.len() - 20..name.len() - 4], 16)?;
        assert_eq!(header.base_lsn, base, "{name}");
        ids.push(header.journal_id);
    }
    assert_eq!(ids[0], ids[1], "the valid/ segments belong to one journal");
    Ok(())
}

/// Writes `tests/fixtures/v1/` (run once, by hand, for a new format version only).
#[test]
#[ignore = "writes the golden fixtures; they never change once committed"]
fn write_fixtures() -> TestResult {
    let root = fixture("");
    let work = support::tempdir()?;
    let make = |name: &str| -> TestResult<PathBuf> {
        let dir = work.path().join(name);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    };
    let dir = make("valid")?;
    let journal = Journal::open(&dir, options())?;
    append_all(&journal, &valid_appends())?;
    journal.close()?;

    let (flushed, unflushed) = short_appends();
    let dir = make("torn_tail")?;
    let journal = Journal::open(&dir, options())?;
    append_all(&journal, &flushed)?;
    journal.flush()?;
    let lsns = append_all(&journal, &unflushed)?;
    journal.close_without_flush();
    // The last frame's final payload word never reached the disk.
    let last = lsns.last().ok_or("no frame")?.0;
    support::write_at(&seg(&dir, 0), 4096 + last + 32, &[0; 8])?;

    let dir = make("corrupt")?;
    let journal = Journal::open(&dir, options())?;
    append_all(&journal, &flushed)?;
    journal.flush()?;
    append_all(&journal, &unflushed)?;
    journal.close()?;
    support::flip_bit(&seg(&dir, 0), 4096 + 160 + 20, 3)?;

    for name in ["valid", "torn_tail", "corrupt"] {
        let to = root.join(name);
        fs::create_dir_all(&to)?;
        for item in fs::read_dir(work.path().join(name))? {
            let item = item?;
            if item.file_name().to_string_lossy().ends_with(".seg") {
                fs::copy(item.path(), to.join(item.file_name()))?;
            }
        }
    }
    Ok(())
}
