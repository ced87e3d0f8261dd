//! A summary that cannot be trusted is never folded: a corrupt, truncated, foreign,
//! mismatched or oversized summary makes open scan its segment, with the reason in the
//! recovery report, and the result equals a scan. Orphan summaries are removed.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_journal::format::segment_summary;
use checkpoint_journal::{Entry, Journal, Lsn, State, SummaryFallbackReason};
use support::{options, TestResult};

/// A closed journal of several sealed segments (each with a summary) in `dir`.
fn build(dir: &Path, salt: u64) -> TestResult {
    let journal = Journal::open(dir, options())?;
    for i in 0..120u64 {
        let batch: Vec<Entry> = (0..100)
            .map(|k| Entry::push(u16::try_from(k % 5).unwrap_or(0), salt + i * 100 + k, -3))
            .collect();
        journal.append_batch(&batch)?;
        if i % 10 == 0 {
            journal.checkpoint(&support::record(i))?;
        }
    }
    journal.close()?;
    Ok(())
}

fn summaries(dir: &Path) -> TestResult<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sum"))
        .collect();
    out.sort();
    Ok(out)
}

fn opened(dir: &Path) -> TestResult<(State, Lsn, checkpoint_journal::RecoveryReport)> {
    let journal = Journal::open(dir, options())?;
    let out = (
        journal.state()?,
        journal.end_lsn(),
        journal.recovery_report().clone(),
    );
    journal.close_without_flush();
    Ok(out)
}

/// Damages the second summary of a fresh journal with `damage`, then checks that open
/// scans that segment for `reason` and finds what a scan finds.
fn falls_back(
    reason: SummaryFallbackReason,
    damage: impl Fn(&Path, &[PathBuf]) -> TestResult,
) -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("journal");
    build(&dir, 0)?;
    let (state, end, clean) = opened(&dir)?;
    assert!(
        clean.summary_fallbacks.is_empty(),
        "{:?}",
        clean.summary_fallbacks
    );
    let sums = summaries(&dir)?;
    assert!(sums.len() >= 4, "{} summaries", sums.len());
    damage(&dir, &sums)?;
    let (damaged_state, damaged_end, report) = opened(&dir)?;
    assert_eq!(damaged_state, state);
    assert_eq!(damaged_end, end);
    assert_eq!(report.segments_summarized, clean.segments_summarized - 1);
    let [fallback] = report.summary_fallbacks.as_slice() else {
        panic!("one fallback expected: {:?}", report.summary_fallbacks);
    };
    assert_eq!(fallback.reason, reason, "{fallback:?}");
    assert_eq!(
        fallback.segment.file_stem(),
        sums[1].file_stem(),
        "{fallback:?}"
    );
    Ok(())
}

#[test]
fn a_flipped_bit_falls_back_for_its_checksum() -> TestResult {
    falls_back(SummaryFallbackReason::Checksum, |_, sums| {
        let mut bytes = fs::read(&sums[1])?;
        bytes[100] ^= 0x10;
        fs::write(&sums[1], bytes)?;
        Ok(())
    })
}

#[test]
fn a_torn_summary_falls_back_for_its_checksum() -> TestResult {
    falls_back(SummaryFallbackReason::Checksum, |_, sums| {
        let mut bytes = fs::read(&sums[1])?;
        for b in &mut bytes[120..] {
            *b = 0;
        }
        fs::write(&sums[1], bytes)?;
        Ok(())
    })
}

#[test]
fn a_truncated_summary_falls_back() -> TestResult {
    falls_back(SummaryFallbackReason::Checksum, |_, sums| {
        let bytes = fs::read(&sums[1])?;
        fs::write(&sums[1], &bytes[..150])?;
        Ok(())
    })
}

#[test]
fn another_segments_summary_is_a_mismatch() -> TestResult {
    falls_back(SummaryFallbackReason::Mismatch, |_, sums| {
        fs::copy(&sums[2], &sums[1])?;
        Ok(())
    })
}

#[test]
fn another_journals_summary_is_a_mismatch() -> TestResult {
    let other = tempfile::tempdir()?;
    let other_dir = other.path().join("journal");
    build(&other_dir, 7)?;
    let foreign = summaries(&other_dir)?;
    falls_back(SummaryFallbackReason::Mismatch, move |_, sums| {
        fs::copy(&foreign[1], &sums[1])?;
        Ok(())
    })
}

#[test]
fn a_summary_locating_a_frame_that_is_not_there_is_a_mismatch() -> TestResult {
    falls_back(SummaryFallbackReason::Mismatch, |_, sums| {
        let bytes = fs::read(&sums[1])?;
        let mut summary = segment_summary::decode(&bytes)?;
        let record = summary.records.first_mut().ok_or("no record frame")?;
        record.len += 1;
        let mut bytes = segment_summary::encode(&summary)?;
        bytes.resize(4096, 0);
        fs::write(&sums[1], bytes)?;
        Ok(())
    })
}

#[test]
fn an_oversized_summary_falls_back() -> TestResult {
    falls_back(SummaryFallbackReason::TooLarge, |_, sums| {
        fs::write(&sums[1], vec![0u8; 8 * 1024 * 1024])?;
        Ok(())
    })
}

#[test]
fn a_missing_summary_is_reported() -> TestResult {
    falls_back(SummaryFallbackReason::Missing, |_, sums| {
        fs::remove_file(&sums[1])?;
        Ok(())
    })
}

#[test]
fn orphan_and_temporary_summaries_are_removed_and_reported() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("journal");
    build(&dir, 0)?;
    let sums = summaries(&dir)?;
    let orphan = dir.join(format!("{:016x}.sum", 0xffff_0000u64));
    let leftover = dir.join(format!("{:016x}.sum.tmp", 0xf000u64));
    fs::copy(&sums[0], &orphan)?;
    fs::write(&leftover, b"half")?;
    let (_, _, report) = opened(&dir)?;
    let mut removed = report.summaries_removed.clone();
    removed.sort();
    assert_eq!(removed, vec![leftover.clone(), orphan.clone()]);
    assert!(!orphan.exists() && !leftover.exists());
    assert_eq!(report.summary_fallbacks, vec![]);
    Ok(())
}

/// A dry run (`inspect`) reports what open would remove, and removes nothing.
#[test]
fn inspect_reports_orphans_without_removing_them() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("journal");
    build(&dir, 0)?;
    let orphan = dir.join(format!("{:016x}.sum", 0xffff_0000u64));
    fs::copy(&summaries(&dir)?[0], &orphan)?;
    let inspection =
        checkpoint_journal::inspect(&dir, checkpoint_journal::RecoveryMode::default())?
            .ok_or("no journal")?;
    assert_eq!(inspection.report.summaries_removed, vec![orphan.clone()]);
    assert!(orphan.exists());
    assert!(inspection.report.segments_summarized >= 3);
    Ok(())
}

/// Compaction removes the summaries of the segments it retires.
#[test]
fn retired_segments_take_their_summaries_with_them() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("journal");
    build(&dir, 0)?;
    let journal = Journal::open(&dir, options().keep_snapshots(1))?;
    journal.compact()?;
    let report = journal.last_compaction().ok_or("no compaction")?;
    assert!(!report.segments_retired.is_empty());
    for seg in &report.segments_retired {
        assert!(!seg.with_extension("sum").exists(), "{}", seg.display());
    }
    journal.close()?;
    let (_, _, reopened) = opened(&dir)?;
    assert!(reopened.summaries_removed.is_empty());
    Ok(())
}

/// Open trusts a summary for its segment's entries, so damage to them is not seen at
/// open; a reader of this process still checks those frames in full (open did not read
/// them), and reports the damage.
#[test]
fn damage_in_a_summarized_segment_is_seen_by_readers() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("journal");
    build(&dir, 0)?;
    let second = summaries(&dir)?[1].with_extension("seg");
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&second)?;
    let mut byte = [0u8; 1];
    std::os::unix::fs::FileExt::read_exact_at(&file, &mut byte, 4096 + 5000)?;
    byte[0] ^= 0x40;
    std::os::unix::fs::FileExt::write_all_at(&file, &byte, 4096 + 5000)?;
    drop(file);
    let journal = Journal::open(&dir, options())?;
    assert!(journal.recovery_report().segments_summarized >= 3);
    let outcome: Result<Vec<_>, _> = journal.read_from(journal.first_lsn())?.collect();
    assert!(outcome.is_err(), "the damaged frame was read as valid");
    journal.close_without_flush();
    Ok(())
}
