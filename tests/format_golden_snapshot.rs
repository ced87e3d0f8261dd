//! Golden snapshot fixture (STYLE R22): `tests/fixtures/v2/compacted/` holds a journal
//! compacted once and appended to after, so opening it loads `SnapshotBody::V1(State)`
//! from a `.snap` file written by this version and replays only the tail. A change to
//! `State`'s fields or their encoding changes what that body decodes to, and fails here:
//! such a change needs a new `SnapshotBody` variant (docs/FORMAT.md, "Snapshot files").
//!
//! The fixture never changes once committed (its checksums are pinned below). The
//! generator is `write_fixture`, `#[ignore]`d: it was run once.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_journal::format::crc::bytes_crc;
use checkpoint_journal::{
    CheckpointRecord, Entry, Journal, Lsn, MetaRecord, RecoveryMode, SourceProgress,
};
use support::{copy_dir, options, TestResult};

/// The journal id the cursor record names (the fixture's own id is random).
const CURSOR_JOURNAL_ID: u128 = 0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2/compacted")
}

fn entry(i: u64) -> Entry {
    let source = u16::try_from(i % 3).unwrap_or(0);
    Entry::push(source, i + 1, 1_000 + i64::try_from(i).unwrap_or(0))
}

/// Frames before the compaction: registrations, entries, progress, a checkpoint and a
/// cursor commit.
fn before_compaction(journal: &Journal) -> TestResult {
    journal.append_meta(&MetaRecord::Family {
        name: "mysql".into(),
    })?;
    journal.append_meta(&MetaRecord::Retention { max_retained: 3 })?;
    journal.append_meta(&MetaRecord::SourceRegistered {
        name: "binlog".into(),
        source_id: 0,
    })?;
    journal.append_batch(&(0..3_000).map(entry).collect::<Vec<_>>())?;
    journal.append_meta(&MetaRecord::Progress {
        checkpoint_id: 1,
        family: "mysql".into(),
        sources: vec![SourceProgress {
            source_id: 0,
            offset: b"binlog.000042:1234".to_vec(),
            committed_event_count: 3_000,
        }],
    })?;
    journal.checkpoint(&CheckpointRecord {
        id: 1,
        epoch: 1,
        created_at_ms: 1_800_000_000_000,
        source_sequences: vec![(0, 3_000)],
        sink_positions: vec![(0, 2_500)],
        watermarks: vec![(0, 3_999)],
        operator_states: Vec::new(),
    })?;
    journal.append_meta(&MetaRecord::CursorCommitted {
        journal_id: CURSOR_JOURNAL_ID,
        name: "sink-a".into(),
        position: 256,
    })?;
    Ok(())
}

#[test]
fn a_compacted_journal_opens_from_its_snapshot_with_the_same_state() -> TestResult {
    let dir = support::tempdir()?;
    copy_dir(&fixture(), dir.path())?;
    let journal = Journal::open(dir.path(), options().recovery_mode(RecoveryMode::Strict))?;
    let report = journal.recovery_report().clone();
    let snapshot = report
        .snapshot
        .as_ref()
        .ok_or("opened without the snapshot")?;
    assert_eq!(snapshot.lsn, Lsn(SNAPSHOT_LSN), "{report:?}");
    assert!(report.snapshots_skipped.is_empty(), "{report:?}");
    let state = journal.state()?;
    // 3 000 entries folded into the snapshot, 300 replayed after it.
    assert_eq!(state.entries, 3_300);
    let per_source: Vec<(u16, u64, u64, i64)> = state
        .sources
        .iter()
        .map(|(id, s)| (*id, s.entries, s.sequence, s.watermark))
        .collect();
    assert_eq!(
        per_source,
        [
            (0, 1_100, 3_298, 4_297),
            (1, 1_100, 3_299, 4_298),
            (2, 1_100, 3_300, 4_299)
        ]
    );
    assert_eq!(state.checkpoints, 1);
    let (_, last) = state.last_checkpoint.as_ref().ok_or("no checkpoint")?;
    assert_eq!((last.id, &last.sink_positions), (1, &vec![(0, 2_500)]));
    let c = &state.coordination;
    assert_eq!(c.family.as_deref(), Some("mysql"));
    assert_eq!(c.sources["binlog"], 0);
    assert_eq!(c.max_retained, 3);
    assert_eq!(c.progress[&0].offset, b"binlog.000042:1234".to_vec());
    assert_eq!(c.progress[&0].committed_event_count, 3_000);
    assert_eq!(c.cursors["sink-a"].position, Lsn(256));
    assert_eq!(c.cursors["sink-a"].journal_id, CURSOR_JOURNAL_ID);
    journal.close()?;
    Ok(())
}

/// LSN of the fixture's snapshot (its file name).
const SNAPSHOT_LSN: u64 = 0x209f0;

/// Every fixture file, its length and CRC32C: the fixture is never rewritten.
const PINNED: [(&str, u64, u32); 4] = [
    ("0000000000000000.seg", 65_536, 0x86d5_e265),
    ("000000000000f000.seg", 65_536, 0xcdfa_1761),
    ("000000000001e000.seg", 65_536, 0x6af0_5828),
    ("00000000000209f0.snap", 4_096, 0x8247_9862),
];

#[test]
fn fixture_files_are_the_pinned_ones() -> TestResult {
    let mut names: Vec<String> = fs::read_dir(fixture())?
        .map(|item| item.map(|i| i.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let pinned: Vec<&str> = PINNED.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(names, pinned);
    for (name, len, crc) in PINNED {
        let bytes = fs::read(fixture().join(name))?;
        assert_eq!(
            (bytes.len() as u64, bytes_crc(&bytes)),
            (len, crc),
            "{name}"
        );
    }
    Ok(())
}

/// Writes `tests/fixtures/v2/compacted/` (run once, by hand) and prints what to pin.
#[test]
#[ignore = "writes the golden fixture; it never changes once committed"]
fn write_fixture() -> TestResult {
    let work = support::tempdir()?;
    let journal = Journal::open(work.path(), options())?;
    before_compaction(&journal)?;
    let lsn = journal.compact()?;
    journal.append_batch(&(3_000..3_300).map(entry).collect::<Vec<_>>())?;
    journal.close()?;
    println!("SNAPSHOT_LSN = {:#x}", lsn.0);
    let to = fixture();
    fs::create_dir_all(&to)?;
    let mut names: Vec<_> = fs::read_dir(work.path())?.collect::<Result<_, _>>()?;
    names.sort_by_key(fs::DirEntry::file_name);
    for item in names {
        let name = item.file_name().to_string_lossy().into_owned();
        let ext = item
            .path()
            .extension()
            .map(|e| e.to_string_lossy().into_owned());
        if matches!(ext.as_deref(), Some("seg" | "snap")) {
            fs::copy(item.path(), to.join(&name))?;
            let bytes = fs::read(item.path())?;
            println!(
                "(\"{name}\", {}, {:#010x}),",
                bytes.len(),
                bytes_crc(&bytes)
            );
        }
    }
    Ok(())
}
