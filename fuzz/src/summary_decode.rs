//! `summary_decode`: `segment_summary::decode` on arbitrary bytes (what open reads from a
//! `.sum` file, after a bounded read).
//!
//! Oracle: a file that decodes is canonical — encoding the summary again gives back the
//! same bytes (up to the page padding) — and its relations hold: the source rows add up
//! to its entry count, and every located record frame lies inside the segment.

use checkpoint_journal::format::frame::FrameKind;
use checkpoint_journal::format::segment_summary::{
    decode, encode, RecordLocation, SegmentSummary, SourceSummary,
};

use super::seeds::Seed;

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    let Ok(summary) = decode(data) else {
        return;
    };
    let again = match encode(&summary) {
        Ok(bytes) => bytes,
        Err(e) => panic!("a decoded summary does not encode again: {e}"),
    };
    assert_eq!(
        data.get(..again.len()),
        Some(again.as_slice()),
        "a decoded summary does not encode to the same bytes"
    );
    let total: u64 = summary.sources.iter().map(|s| s.entries).sum();
    assert_eq!(total, summary.entries, "source rows do not add up");
    for r in &summary.records {
        assert!(
            r.lsn >= summary.base_lsn && r.lsn < summary.end_lsn,
            "{r:?}"
        );
    }
}

/// Seeds: a valid summary (padded to a page, as on disk), and damaged copies of it.
#[must_use]
pub fn seeds() -> Vec<Seed> {
    let summary = SegmentSummary {
        journal_id: 0x1234_5678_9abc_def0,
        base_lsn: 61_440,
        end_lsn: 122_880,
        segment_size_bytes: 65_536,
        segment_created_at_ms: 1_700_000_000_000,
        frames: 4,
        entries: 5,
        durable_claim: 61_440,
        sources: vec![
            SourceSummary {
                source_id: 1,
                entries: 3,
                sequences: Some((4, 9)),
                last_barrier: Some(7),
                min_watermark: -4,
                max_watermark: 12,
                last_watermark: 10,
            },
            SourceSummary {
                source_id: 3,
                entries: 2,
                sequences: None,
                last_barrier: None,
                min_watermark: 0,
                max_watermark: 0,
                last_watermark: 0,
            },
        ],
        records: vec![RecordLocation {
            lsn: 61_440 + 96,
            len: 20,
            kind: FrameKind::Checkpoint,
        }],
    };
    let valid = encode(&summary).unwrap_or_default();
    let mut padded = valid.clone();
    padded.resize(4096, 0);
    let mut bad_crc = valid.clone();
    if let Some(b) = bad_crc.last_mut() {
        *b ^= 1;
    }
    let mut huge = valid.clone();
    if let Some(count) = huge.get_mut(92..96) {
        count.copy_from_slice(&u32::MAX.to_le_bytes());
    }
    vec![
        ("valid".into(), valid.clone()),
        ("valid_padded".into(), padded),
        (
            "cut".into(),
            valid.get(..valid.len() / 2).unwrap_or_default().to_vec(),
        ),
        ("bad_crc".into(), bad_crc),
        ("huge_record_count".into(), huge),
    ]
}
