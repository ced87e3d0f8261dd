//! Golden fixtures of format version 2 (STYLE R22): `tests/fixtures/v2/` holds journals
//! written by this version — `valid/` (two segments, every frame kind including meta
//! frames of every record variant, closed cleanly), `torn_tail/` (an unflushed last meta
//! frame cut short) and `corrupt/` (a bit flipped in a meta frame a later frame claims
//! durable). Each test opens a copy and checks the recovery report, the exact frames and
//! the coordination state the meta frames add up to.
//!
//! The fixtures never change once committed (their checksums are pinned below). The
//! generator is `write_fixtures`, `#[ignore]`d: it was run once.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_journal::format::crc::bytes_crc;
use checkpoint_journal::format::frame::FrameFault;
use checkpoint_journal::format::segment_header::SegmentHeader;
use checkpoint_journal::{
    CheckpointRecord, CorruptionKind, Entry, Error, Frame, Journal, Lsn, MetaRecord, RecoveryCase,
    RecoveryMode, SourceProgress,
};
use support::{copy_dir, options, TestResult};

/// What one append wrote.
#[derive(Clone, Debug, PartialEq)]
enum Append {
    Entries(Vec<Entry>),
    Checkpoint(CheckpointRecord),
    Meta(MetaRecord),
}

/// The journal id every `CursorCommitted` record of the fixtures names (the fixture's
/// own id is random, so the cursor records name a fixed one: the golden bytes pin the
/// encoding, not the identity check).
const CURSOR_JOURNAL_ID: u128 = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeff;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v2")
        .join(name)
}

fn copy_of(name: &str) -> TestResult<tempfile::TempDir> {
    let dir = support::tempdir()?;
    copy_dir(&fixture(name), dir.path())?;
    Ok(dir)
}

fn entry(i: u64) -> Entry {
    let source = u16::try_from(i % 3).unwrap_or(0);
    Entry::push(source, i + 1, -(i64::try_from(i).unwrap_or(0) + 1))
}

fn record(id: u64) -> CheckpointRecord {
    CheckpointRecord {
        id,
        epoch: 2,
        created_at_ms: 1_800_000_000_000 + id,
        source_sequences: vec![(0, 10 * id), (1, 20 * id)],
        sink_positions: vec![(0, 5 * id)],
        watermarks: vec![(0, -1), (1, 7)],
        operator_states: Vec::new(),
    }
}

fn progress(checkpoint_id: u64, count: u64) -> MetaRecord {
    MetaRecord::Progress {
        checkpoint_id,
        family: "postgres".into(),
        sources: vec![
            SourceProgress {
                source_id: 0,
                offset: format!("0/{:X}", 0x16B_0000 + count).into_bytes(),
                committed_event_count: count,
            },
            SourceProgress {
                source_id: 1,
                offset: vec![0xff, 0, count.to_le_bytes()[0]],
                committed_event_count: 2 * count,
            },
        ],
    }
}

/// `valid/`: registrations, family, retention, entries, progress + checkpoint pairs,
/// cursor commits, and enough batches to roll into a second segment.
fn valid_appends() -> Vec<Append> {
    let name = |s: &str| s.to_owned();
    let mut out = vec![
        Append::Meta(MetaRecord::Family {
            name: name("postgres"),
        }),
        Append::Meta(MetaRecord::Retention { max_retained: 4 }),
        Append::Meta(MetaRecord::SourceRegistered {
            name: name("orders"),
            source_id: 0,
        }),
        Append::Meta(MetaRecord::SourceRegistered {
            name: name("payments"),
            source_id: 1,
        }),
        Append::Meta(MetaRecord::SinkRegistered {
            name: name("kafka"),
            sink_id: 0,
        }),
        Append::Entries((0..10).map(entry).collect()),
        Append::Meta(progress(1, 10)),
        Append::Checkpoint(record(1)),
    ];
    for b in 0..6 {
        out.push(Append::Entries(
            (100 + b * 500..600 + b * 500).map(entry).collect(),
        ));
    }
    out.push(Append::Meta(MetaRecord::CursorCommitted {
        journal_id: CURSOR_JOURNAL_ID,
        name: name("sink-a"),
        position: 64,
    }));
    out.push(Append::Meta(progress(2, 30)));
    out.push(Append::Checkpoint(record(2)));
    out.push(Append::Meta(MetaRecord::CursorCommitted {
        journal_id: CURSOR_JOURNAL_ID,
        name: name("sink-a"),
        position: 128,
    }));
    out
}

/// `torn_tail/` and `corrupt/`: registrations and entries flushed, then more meta.
fn short_appends() -> (Vec<Append>, Vec<Append>) {
    let flushed = vec![
        Append::Meta(MetaRecord::SourceRegistered {
            name: "orders".into(),
            source_id: 0,
        }),
        Append::Entries(vec![entry(0)]),
        Append::Meta(progress(1, 1)),
        Append::Checkpoint(record(1)),
    ];
    let unflushed = vec![
        Append::Entries(vec![entry(1)]),
        Append::Meta(MetaRecord::CursorCommitted {
            journal_id: CURSOR_JOURNAL_ID,
            name: "sink-a".into(),
            position: 0,
        }),
    ];
    (flushed, unflushed)
}

fn append_all(journal: &Journal, appends: &[Append]) -> TestResult<Vec<u64>> {
    let mut lsns = Vec::new();
    for a in appends {
        lsns.push(
            match a {
                Append::Entries(e) => journal.append_batch(e)?,
                Append::Checkpoint(r) => journal.checkpoint(r)?,
                Append::Meta(m) => journal.append_meta(m)?,
            }
            .0,
        );
    }
    Ok(lsns)
}

fn frames(journal: &Journal) -> TestResult<Vec<Append>> {
    Ok(support::frames(journal)?
        .into_iter()
        .map(|f| match f {
            Frame::Entries { entries, .. } => Append::Entries(entries),
            Frame::Checkpoint { record, .. } => Append::Checkpoint(record),
            Frame::Meta { record, .. } => Append::Meta(record),
            other => panic!("unexpected frame {other:?}"),
        })
        .collect())
}

#[test]
fn valid_v2_recovers_every_frame_and_the_coordination_state() -> TestResult {
    let dir = copy_of("valid")?;
    let journal = Journal::open(dir.path(), options().recovery_mode(RecoveryMode::Strict))?;
    assert_eq!(frames(&journal)?, valid_appends());
    let report = journal.recovery_report().clone();
    assert_eq!(report.case, Some(RecoveryCase::CleanEnd));
    assert_eq!(
        (report.segments_scanned, report.checkpoints_replayed),
        (2, 2)
    );
    let c = journal.state()?.coordination;
    assert_eq!(c.family.as_deref(), Some("postgres"));
    assert_eq!((c.sources["orders"], c.sources["payments"]), (0, 1));
    assert_eq!(c.sinks["kafka"], 0);
    assert_eq!(c.max_retained, 4);
    assert_eq!(c.progress_checkpoint, Some(2));
    assert_eq!(c.progress[&0].committed_event_count, 30);
    assert_eq!(c.progress[&1].offset, vec![0xff, 0, 30]);
    assert_eq!(c.cursors["sink-a"].position, Lsn(128));
    assert_eq!(c.cursors["sink-a"].journal_id, CURSOR_JOURNAL_ID);
    let ids: Vec<u64> = c.retained.iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 2]);
    // Appends never go to a segment of an older version: opening sealed the last
    // version-2 segment with a padding frame, and the next append starts a new one at
    // the current version, where that segment ends.
    let sealed_end = 2 * 61_440;
    assert!(report.end_lsn.0 < sealed_end);
    assert_eq!(journal.append(entry(1))?, Lsn(sealed_end));
    journal.close()?;
    let third = fs::read(support::segment_path(dir.path(), sealed_end))?;
    let header = SegmentHeader::decode(&third).map_err(|f| format!("{f:?}"))?;
    assert_eq!(
        header.format_version,
        checkpoint_journal::format::FORMAT_VERSION
    );
    Ok(())
}

#[test]
fn torn_tail_v2_drops_the_cut_meta_frame() -> TestResult {
    let dir = copy_of("torn_tail")?;
    let journal = Journal::open(dir.path(), options())?;
    let (flushed, unflushed) = short_appends();
    let mut kept = flushed;
    kept.push(unflushed[0].clone());
    assert_eq!(frames(&journal)?, kept);
    let report = journal.recovery_report();
    assert_eq!(report.case, Some(RecoveryCase::TornTail));
    assert!(report.dropped.is_some());
    assert!(journal.state()?.coordination.cursors.is_empty());
    journal.close()?;
    let strict = Journal::open(
        copy_of("torn_tail")?.path(),
        options().recovery_mode(RecoveryMode::Strict),
    );
    assert!(matches!(strict, Err(Error::TornTail { .. })), "{strict:?}");
    Ok(())
}

#[test]
fn corrupt_v2_meta_frame_is_refused_and_salvaged_up_to_it() -> TestResult {
    let dir = copy_of("corrupt")?;
    match Journal::open(dir.path(), options()) {
        Err(Error::Corrupted(c)) => {
            assert_eq!(c.lsn, Lsn(CORRUPT_LSN));
            assert_eq!(c.offset, 4096 + CORRUPT_LSN);
            assert_eq!(c.kind, CorruptionKind::Frame(FrameFault::ChecksumMismatch));
        }
        other => return Err(format!("expected Corrupted, got {:?}", other.map(|_| ())).into()),
    }
    let journal = Journal::open(dir.path(), options().recovery_mode(RecoveryMode::Salvage))?;
    let (flushed, _) = short_appends();
    assert_eq!(frames(&journal)?, flushed[..2].to_vec());
    assert_eq!(
        journal.recovery_report().case,
        Some(RecoveryCase::DurableDamage)
    );
    // The progress record was lost with its frame: nothing is committed.
    assert!(journal.state()?.coordination.progress.is_empty());
    Ok(())
}

/// LSN of the progress frame flipped in `corrupt/`: after a registration frame (16 +
/// 9 bytes, padded to 32) and a one-entry frame (40).
const CORRUPT_LSN: u64 = 72;

/// Every fixture file, its length and CRC32C: the fixtures are never rewritten.
const PINNED: [(&str, u64, u32); 4] = [
    ("valid/0000000000000000.seg", 65_536, 0x1c59_21d6),
    ("valid/000000000000f000.seg", 65_536, 0xa4a5_abe0),
    ("torn_tail/0000000000000000.seg", 65_536, 0x083a_e185),
    ("corrupt/0000000000000000.seg", 65_536, 0x241a_1582),
];

#[test]
fn fixture_files_are_the_pinned_ones_with_v2_headers() -> TestResult {
    for (name, len, crc) in PINNED {
        let bytes = fs::read(fixture(name))?;
        assert_eq!(
            (bytes.len() as u64, bytes_crc(&bytes)),
            (len, crc),
            "{name}"
        );
        assert_eq!(bytes[8..12], 2u32.to_le_bytes(), "{name}: format version 2");
        let header = SegmentHeader::decode(&bytes).map_err(|f| format!("{name}: {f:?}"))?;
        assert_eq!(header.format_version, 2, "{name}");
    }
    Ok(())
}

/// Writes `tests/fixtures/v2/` (run once, by hand).
#[test]
#[ignore = "writes the golden fixtures; they never change once committed"]
fn write_fixtures() -> TestResult {
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
    // The last (meta) frame's final payload word never reached the disk.
    let last = *lsns.last().ok_or("no frame")?;
    support::write_at(&dir.join("0000000000000000.seg"), 4096 + last + 16, &[0; 8])?;

    let dir = make("corrupt")?;
    let journal = Journal::open(&dir, options())?;
    let lsns = append_all(&journal, &flushed)?;
    assert_eq!(lsns[2], CORRUPT_LSN);
    journal.flush()?;
    append_all(&journal, &unflushed)?;
    journal.close()?;
    support::flip_bit(
        &dir.join("0000000000000000.seg"),
        4096 + CORRUPT_LSN + 20,
        3,
    )?;

    for name in ["valid", "torn_tail", "corrupt"] {
        let to = fixture(name);
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
