//! Segment summaries as `cpj inspect` shows them: each segment's `.sum` file read
//! (bounded), validated (`format::segment_summary::decode`) and checked against the
//! segment's header, without reading the segment's frames.

use std::path::Path;

use serde::Serialize;

use checkpoint_journal::format::limits::SUMMARY_FILE_MAX_BYTES;
use checkpoint_journal::format::segment_summary::{self, SegmentSummary};

use crate::segments::SegmentFile;

/// One segment's summary in `cpj.inspect.v1` (`segments[].summary`).
#[derive(Debug, Serialize)]
pub(crate) struct SummaryJson {
    /// `valid`, `missing`, `checksum`, `mismatch`, `too_large` or `unreadable`.
    pub(crate) status: &'static str,
    /// Why it is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
    pub(crate) frames: Option<u64>,
    pub(crate) entries: Option<u64>,
    pub(crate) durable_claim: Option<u64>,
    /// Checkpoint and meta frames located.
    pub(crate) records: Option<usize>,
    pub(crate) sources: Vec<SourceJson>,
}

/// One source's entries in a segment.
#[derive(Debug, Serialize)]
pub(crate) struct SourceJson {
    source_id: u16,
    entries: u64,
    first_sequence: Option<u64>,
    last_sequence: Option<u64>,
    last_barrier: Option<u64>,
    min_watermark: i64,
    max_watermark: i64,
    last_watermark: i64,
}

/// The summary of segment `f` in `dir`, as found.
pub(crate) fn read(dir: &Path, f: &SegmentFile) -> SummaryJson {
    let path = dir.join(format!("{:016x}.sum", f.base_lsn));
    match load(&path, f) {
        Ok(s) => valid(&s),
        Err((status, detail)) => SummaryJson {
            status,
            detail,
            frames: None,
            entries: None,
            durable_claim: None,
            records: None,
            sources: Vec::new(),
        },
    }
}

type Why = (&'static str, Option<String>);

fn load(path: &Path, f: &SegmentFile) -> Result<SegmentSummary, Why> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(("missing", None)),
        Err(e) => return Err(("unreadable", Some(e.to_string()))),
    };
    if len > SUMMARY_FILE_MAX_BYTES as u64 {
        return Err(("too_large", Some(format!("{len} bytes"))));
    }
    let bytes = std::fs::read(path).map_err(|e| ("unreadable", Some(e.to_string())))?;
    let summary = segment_summary::decode(&bytes).map_err(|fault| {
        let status = match fault {
            segment_summary::SummaryFault::Truncated { .. }
            | segment_summary::SummaryFault::ChecksumMismatch => "checksum",
            segment_summary::SummaryFault::TooLarge { .. } => "too_large",
            _ => "unreadable",
        };
        (status, Some(fault.to_string()))
    })?;
    let Some(h) = f.valid_header() else {
        return Err(("mismatch", Some("the segment header is invalid".into())));
    };
    let matches = summary.journal_id == h.journal_id
        && summary.base_lsn == h.base_lsn
        && summary.end_lsn == f.end_lsn()
        && summary.segment_size_bytes == h.segment_size_bytes
        && summary.segment_created_at_ms == h.created_at_ms;
    if !matches {
        return Err(("mismatch", Some("describes another segment file".into())));
    }
    Ok(summary)
}

fn valid(s: &SegmentSummary) -> SummaryJson {
    SummaryJson {
        status: "valid",
        detail: None,
        frames: Some(s.frames),
        entries: Some(s.entries),
        durable_claim: Some(s.durable_claim),
        records: Some(s.records.len()),
        sources: s
            .sources
            .iter()
            .map(|r| SourceJson {
                source_id: r.source_id,
                entries: r.entries,
                first_sequence: r.sequences.map(|(first, _)| first),
                last_sequence: r.sequences.map(|(_, last)| last),
                last_barrier: r.last_barrier,
                min_watermark: r.min_watermark,
                max_watermark: r.max_watermark,
                last_watermark: r.last_watermark,
            })
            .collect(),
    }
}

/// The SUMMARY column of the human segments table.
pub(crate) fn cell(s: &SummaryJson) -> String {
    match (s.status, s.entries) {
        ("valid", Some(entries)) => format!(
            "{} entries, {} sources, {} records",
            crate::output::thousands(entries),
            s.sources.len(),
            s.records.unwrap_or(0)
        ),
        (status, _) => status.replace('_', " "),
    }
}
