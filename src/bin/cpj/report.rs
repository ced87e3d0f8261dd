//! The recovery report (what opening found and did, or in a dry run would do) in the
//! two forms `cpj` prints: labelled lines for people and a stable JSON object, shared by
//! `demo`, `inspect` and `recover`.

use serde::Serialize;

use checkpoint_journal::{RecoveryCase, RecoveryReport, SkippedSnapshot, SnapshotInfo};

use crate::output::{bytes, duration, millis, thousands, Table};

/// The JSON form of a [`RecoveryReport`] (documented in docs/CLI.md, "report").
#[derive(Debug, Serialize)]
pub(crate) struct ReportJson {
    created: bool,
    dry_run: bool,
    segments_scanned: usize,
    frames_scanned: u64,
    entries_replayed: u64,
    checkpoints_replayed: u64,
    first_lsn: u64,
    end_lsn: u64,
    durable_claim: u64,
    case: Option<&'static str>,
    torn_bytes: u64,
    dropped: Option<DroppedJson>,
    removed_files: Vec<String>,
    empty_segments_removed: Vec<String>,
    duration_ms: f64,
    // Compaction.
    snapshot: Option<SnapshotInfo>,
    snapshots_skipped: Vec<SkippedSnapshot>,
    temp_files_removed: Vec<String>,
    // Segment summaries.
    segments_summarized: usize,
    summary_fallbacks: Vec<checkpoint_journal::SummaryFallback>,
    summaries_removed: Vec<String>,
}

/// The frames a truncation drops.
#[derive(Debug, Serialize)]
pub(crate) struct DroppedJson {
    from_lsn: u64,
    to_lsn: u64,
    valid_frames: u64,
    fault: String,
}

impl ReportJson {
    pub(crate) fn new(report: &RecoveryReport) -> ReportJson {
        ReportJson {
            created: report.created,
            dry_run: report.dry_run,
            segments_scanned: report.segments_scanned,
            frames_scanned: report.frames_scanned,
            entries_replayed: report.entries_replayed,
            checkpoints_replayed: report.checkpoints_replayed,
            first_lsn: report.first_lsn.0,
            end_lsn: report.end_lsn.0,
            durable_claim: report.durable_claim.0,
            case: report.case.map(case_name),
            torn_bytes: report.torn_bytes,
            dropped: report.dropped.as_ref().map(|d| DroppedJson {
                from_lsn: d.from.0,
                to_lsn: d.to.0,
                valid_frames: d.valid_frames,
                fault: d.fault.clone(),
            }),
            removed_files: report
                .removed_files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            empty_segments_removed: report
                .empty_segments_removed
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            duration_ms: millis(report.duration),
            snapshot: report.snapshot.clone(),
            snapshots_skipped: report.snapshots_skipped.clone(),
            temp_files_removed: report
                .temp_files_removed
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            segments_summarized: report.segments_summarized,
            summary_fallbacks: report.summary_fallbacks.clone(),
            summaries_removed: report
                .summaries_removed
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        }
    }
}

/// The stable JSON name of a decision-table row.
pub(crate) fn case_name(case: RecoveryCase) -> &'static str {
    match case {
        RecoveryCase::CleanEnd => "clean_end",
        RecoveryCase::TornTail => "torn_tail",
        RecoveryCase::UnsyncedGap => "unsynced_gap",
        RecoveryCase::DurableDamage => "durable_damage",
        RecoveryCase::StaleEnd => "stale_end",
    }
}

/// What a decision-table row means, in words.
pub(crate) fn case_words(case: Option<RecoveryCase>) -> &'static str {
    match case {
        None => "every segment is full of valid frames",
        Some(RecoveryCase::CleanEnd) => "clean end: never-written space follows the last frame",
        Some(RecoveryCase::StaleEnd) => {
            "stale end: frames of a recycled file's previous life follow the last frame (zeroed)"
        }
        Some(RecoveryCase::TornTail) => {
            "torn tail: a write that never completed, after every durable claim"
        }
        Some(RecoveryCase::UnsyncedGap) => {
            "unsynced gap: an incomplete write with later frames after it, none of them \
             claimed durable"
        }
        Some(RecoveryCase::DurableDamage) => {
            "durable damage: a frame below a durable claim fails validation"
        }
    }
}

/// The report as labelled lines, indented by two spaces.
/// One line per removed (or to be removed) segment file, with the reason.
fn removals(report: &RecoveryReport) -> impl Iterator<Item = String> + '_ {
    let unfinished = report
        .removed_files
        .iter()
        .map(|p| (p, "its creation never completed"));
    let empty = report
        .empty_segments_removed
        .iter()
        .map(|p| (p, "empty, past the end: created afresh when needed"));
    unfinished
        .chain(empty)
        .map(|(path, why)| format!("{} ({why})", path.display()))
}

/// Compaction: the snapshot replay started from, those skipped, and leftovers removed.
fn snapshot_rows(report: &RecoveryReport, remove: &'static str) -> Vec<(&'static str, String)> {
    let mut rows = vec![(
        "snapshot",
        report.snapshot.as_ref().map_or_else(
            || "none: replay started at the first segment".to_owned(),
            |s| format!("{} (replay started at LSN {})", s.path.display(), s.lsn),
        ),
    )];
    for s in &report.snapshots_skipped {
        rows.push(("skipped", format!("{}: {}", s.path.display(), s.reason)));
    }
    for p in &report.temp_files_removed {
        rows.push((
            remove,
            format!("{} (a snapshot never published)", p.display()),
        ));
    }
    rows
}

/// Segment summaries: how many segments were folded from one, the sealed segments
/// scanned instead (with why), and summary files removed.
fn summary_rows(report: &RecoveryReport, remove: &'static str) -> Vec<(&'static str, String)> {
    let mut rows = vec![(
        "summarized",
        format!(
            "{} sealed segments folded from their summary (not read)",
            report.segments_summarized
        ),
    )];
    for f in &report.summary_fallbacks {
        let reason = serde_json::to_value(f.reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        rows.push((
            "scanned",
            format!("{} (summary {reason}: {})", f.segment.display(), f.detail),
        ));
    }
    for p in &report.summaries_removed {
        rows.push((remove, format!("{} (a stale summary)", p.display())));
    }
    rows
}

pub(crate) fn human(report: &RecoveryReport) -> Vec<String> {
    let (zero, remove, drop) = if report.dry_run {
        ("would zero", "would remove", "would drop")
    } else {
        ("zeroed", "removed", "dropped")
    };
    let mut t = Table::new(&["", ""], &[false, false]);
    let mut add = |label: &str, value: String| t.row(vec![label.to_owned(), value]);
    add(
        "segments scanned",
        thousands(report.segments_scanned as u64),
    );
    add(
        "frames replayed",
        format!(
            "{} ({} entries, {} checkpoints)",
            thousands(report.frames_scanned),
            thousands(report.entries_replayed),
            thousands(report.checkpoints_replayed)
        ),
    );
    add(
        "journal spans",
        format!(
            "LSN {} .. {} (appends continue at {})",
            report.first_lsn, report.end_lsn, report.end_lsn
        ),
    );
    let claim = if report.durable_claim.0 == 0 {
        "none: no frame claims a flushed prefix (nothing had been flushed)".to_owned()
    } else {
        format!("everything below LSN {} was flushed", report.durable_claim)
    };
    add("durable claim", claim);
    add("scan ended", case_words(report.case).to_owned());
    let torn = if report.torn_bytes == 0 {
        "0".to_owned()
    } else {
        format!("{} {zero}", thousands(report.torn_bytes))
    };
    add("torn bytes", torn);
    if let Some(d) = &report.dropped {
        add(
            drop,
            format!(
                "LSN {} .. {} ({} valid frames after the first invalid one; fault {})",
                d.from, d.to, d.valid_frames, d.fault
            ),
        );
    }
    for line in removals(report) {
        add(remove, line);
    }
    for (label, value) in snapshot_rows(report, remove) {
        add(label, value);
    }
    for (label, value) in summary_rows(report, remove) {
        add(label, value);
    }
    let replayed = report.first_lsn.0.abs_diff(report.end_lsn.0);
    add(
        "took",
        format!(
            "{} ({} of journal)",
            duration(report.duration),
            bytes(replayed)
        ),
    );
    let mut lines = t.render(2);
    lines.remove(0);
    lines
}
