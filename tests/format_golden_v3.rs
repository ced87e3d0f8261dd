//! Golden fixtures of format version 3 (STYLE R22): `tests/fixtures/v3/` holds journals
//! written by this version with segment recycling on — `recycled/` (three segments
//! compacted away, two of their files recycled as the next segments, closed cleanly)
//! and `stale/` (the same, abandoned as by a crash, and then the zeroes of the last
//! recycled file replaced by its previous life's bytes, as a medium that lost them
//! would leave it). Each test opens a copy and checks the recovery report, the exact
//! entries and the version-3 header fields.
//!
//! The fixtures never change once committed (their checksums are pinned below). The
//! generator is `write_fixtures`, `#[ignore]`d: it was run once.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_journal::format::crc::bytes_crc;
use checkpoint_journal::format::segment_header::SegmentHeader;
use checkpoint_journal::{Entry, Error, Frame, Journal, Options, RecoveryCase, RecoveryMode};
use support::{copy_dir, entry, TestResult, CAPACITY_BYTES};

/// Entries per batch (2 416-byte frames, 25 per segment).
const BATCH: u64 = 100;
/// Batches before the compaction: three full segments and one frame.
const BEFORE: u64 = 76;
/// Batches after it: the rest of the fourth segment, then 1.6 segments in two
/// recycled files.
const AFTER: u64 = 64;

fn options() -> Options {
    support::options().recycle_segments(true)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v3")
        .join(name)
}

fn copy_of(name: &str) -> TestResult<tempfile::TempDir> {
    let dir = support::tempdir()?;
    copy_dir(&fixture(name), dir.path())?;
    Ok(dir)
}

fn batch(i: u64) -> Vec<Entry> {
    (i * BATCH..(i + 1) * BATCH).map(entry).collect()
}

/// The entries every fixture holds from its first segment on: those of the last batch
/// before the compaction's segment started, and every one after.
fn expected_entries() -> Vec<Entry> {
    (75 * BATCH..(BEFORE + AFTER) * BATCH).map(entry).collect()
}

/// Every entry from the journal's first LSN on.
fn entries(journal: &Journal) -> TestResult<Vec<Entry>> {
    let mut out = Vec::new();
    for frame in support::frames(journal)? {
        if let Frame::Entries { entries, .. } = frame {
            out.extend(entries);
        }
    }
    Ok(out)
}

fn headers(dir: &Path) -> TestResult<Vec<SegmentHeader>> {
    let mut out = Vec::new();
    for base in support::segment_bases(dir)? {
        let bytes = support::read_at(&support::segment_path(dir, base), 0, 72)?;
        out.push(SegmentHeader::decode(&bytes).map_err(|f| format!("{base:x}: {f:?}"))?);
    }
    Ok(out)
}

fn check_headers(dir: &Path) -> TestResult {
    let headers = headers(dir)?;
    let summary: Vec<_> = headers
        .iter()
        .map(|h| (h.format_version, h.base_lsn, h.recycled_from))
        .collect();
    // Compaction kept the retired files of bases 0, C and 2·C; the roll-overs took
    // the newest free file first.
    let c = CAPACITY_BYTES;
    assert_eq!(
        summary,
        [
            (3, 3 * c, None),
            (3, 4 * c, Some(2 * c)),
            (3, 5 * c, Some(c))
        ]
    );
    Ok(())
}

#[test]
fn recycled_v3_opens_with_every_entry_and_recycled_headers() -> TestResult {
    let dir = copy_of("recycled")?;
    check_headers(dir.path())?;
    let journal = Journal::open(dir.path(), options().recovery_mode(RecoveryMode::Strict))?;
    let report = journal.recovery_report().clone();
    assert_eq!(report.case, Some(RecoveryCase::CleanEnd), "{report:?}");
    assert_eq!(report.snapshot.as_ref().map(|s| s.lsn.0 > 0), Some(true));
    assert_eq!(entries(&journal)?, expected_entries());
    assert_eq!(journal.state()?.entries, (BEFORE + AFTER) * BATCH);
    journal.close()?;
    Ok(())
}

#[test]
fn stale_v3_is_a_stale_end_in_every_mode() -> TestResult {
    for mode in [
        RecoveryMode::Strict,
        RecoveryMode::TolerateTornTail,
        RecoveryMode::Salvage,
    ] {
        let dir = copy_of("stale")?;
        check_headers(dir.path())?;
        let journal = Journal::open(dir.path(), options().recovery_mode(mode))?;
        let report = journal.recovery_report().clone();
        assert_eq!(report.case, Some(RecoveryCase::StaleEnd), "{mode:?}");
        assert_eq!(report.dropped, None);
        assert!(report.torn_bytes > 0);
        assert_eq!(entries(&journal)?, expected_entries(), "{mode:?}");
        let end = report.end_lsn;
        assert_eq!(support::nonzero_bytes_from(dir.path(), end)?, 0);
        journal.close()?;
    }
    Ok(())
}

/// Every fixture file, its length and CRC32C: the fixtures are never rewritten.
const PINNED: [(&str, u64, u32); 8] = [
    ("recycled/000000000002d000.seg", 65_536, 0xd1fd_ef43),
    ("recycled/000000000003c000.seg", 65_536, 0x3993_70c0),
    ("recycled/000000000004b000.seg", 65_536, 0xae34_687b),
    ("recycled/000000000002d970.snap", 4_096, 0x3440_7d88),
    ("stale/000000000002d000.seg", 65_536, 0xdc4c_43c6),
    ("stale/000000000003c000.seg", 65_536, 0x2f9e_eac0),
    ("stale/000000000004b000.seg", 65_536, 0x9d81_57e3),
    ("stale/000000000002d970.snap", 4_096, 0x3440_7d88),
];

#[test]
fn fixture_files_are_the_pinned_ones_with_v3_headers() -> TestResult {
    for (name, len, crc) in PINNED {
        let bytes = fs::read(fixture(name))?;
        assert_eq!(
            (bytes.len() as u64, bytes_crc(&bytes)),
            (len, crc),
            "{name}"
        );
        if Path::new(name).extension().is_some_and(|e| e == "seg") {
            assert_eq!(bytes[8..12], 3u32.to_le_bytes(), "{name}: format version 3");
        }
    }
    Ok(())
}

/// Writes `tests/fixtures/v3/` (run once, by hand).
#[test]
#[ignore = "writes the golden fixtures; they never change once committed"]
fn write_fixtures() -> TestResult {
    let work = support::tempdir()?;
    for name in ["recycled", "stale"] {
        let dir = work.path().join(name);
        let journal = Journal::open(&dir, options())?;
        for i in 0..BEFORE {
            journal.append_batch(&batch(i))?;
        }
        journal.flush()?;
        let old: Vec<Vec<u8>> = (0..3)
            .map(|k| fs::read(support::segment_path(&dir, k * CAPACITY_BYTES)))
            .collect::<Result<_, _>>()?;
        journal.compact()?;
        for i in BEFORE..BEFORE + AFTER {
            journal.append_batch(&batch(i))?;
        }
        if name == "recycled" {
            journal.close()?;
        } else {
            let end = journal.end_lsn();
            journal.close_without_flush();
            // The last recycled file (old base C): its previous life's bytes from the
            // end on, at the same offsets (frames of both lives start at k · 2 416).
            let path = support::segment_path(&dir, 5 * CAPACITY_BYTES);
            let mut now = fs::read(&path)?;
            let from = usize::try_from(4096 + end.0 - 5 * CAPACITY_BYTES)?;
            now[from..].copy_from_slice(&old[1][from..]);
            fs::write(&path, &now)?;
        }
        let to = fixture(name);
        fs::create_dir_all(&to)?;
        for item in fs::read_dir(&dir)? {
            let item = item?;
            let path = item.path();
            let ext = path.extension().and_then(|e| e.to_str());
            if matches!(ext, Some("seg" | "snap")) {
                fs::copy(item.path(), to.join(item.file_name()))?;
            }
        }
    }
    Ok(())
}

#[test]
fn a_v3_journal_refuses_an_unknown_version_with_upgrade_required() -> TestResult {
    let dir = copy_of("recycled")?;
    let path = support::segment_path(dir.path(), 4 * CAPACITY_BYTES);
    support::write_at(&path, 8, &4u32.to_le_bytes())?;
    let opened = Journal::open(dir.path(), options());
    assert!(
        matches!(opened, Err(Error::UpgradeRequired { found: 4, .. })),
        "{:?}",
        opened.map(|_| ())
    );
    Ok(())
}
