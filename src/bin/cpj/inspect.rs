//! `cpj inspect`: what a journal directory holds — segments, journal id, per-source
//! progress, the last checkpoint, who holds the writer's lock — and what opening it
//! would do (`checkpoint_journal::inspect`, a dry run). Read-only: no lock, no writes.

use std::path::{Path, PathBuf};

use serde::Serialize;

use checkpoint_journal::storage::{FsStorage, Storage};
use checkpoint_journal::{inspect, Inspection, RecoveryMode, State};

use crate::checkpoints::Summary;
use crate::output::{bytes, journal_id, thousands, utc, CliError, CmdResult, Out, Status, Table};
use crate::report::{self, ReportJson};
use crate::segments::{self, SegmentFile};

const EXAMPLES: &str = "\
Examples:
  cpj inspect ./j
  cpj inspect ./j --json | jq '.sources'

Exit status: 0 the journal would open; 1 opening would fail (the reason is printed);
2 the directory could not be read. Read-only: never takes the writer's lock, never
writes a byte (segments are read with plain reads or mapped read-only).";

/// Segments, sources, last checkpoint, lock holder, and what opening would do.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
}

#[derive(Debug, Serialize)]
struct SegmentJson {
    file: String,
    base_lsn: u64,
    end_lsn: u64,
    size_bytes: u64,
    created_at_ms: Option<u64>,
    header_valid: bool,
    state: &'static str,
    /// The segment's summary file; null for a segment that is not full and has none.
    summary: Option<crate::summaries::SummaryJson>,
}

#[derive(Debug, Serialize)]
struct SourceJson {
    source_id: u16,
    sequence: u64,
    watermark: Option<i64>,
    last_barrier: Option<u64>,
    entries: u64,
}

#[derive(Debug, Serialize)]
struct OpenJson {
    mode: &'static str,
    would_succeed: bool,
    error: Option<String>,
    report: Option<ReportJson>,
}

#[derive(Debug, Serialize)]
struct InspectJson {
    schema: &'static str,
    dir: String,
    journal_id: Option<String>,
    segments: Vec<SegmentJson>,
    sources: Vec<SourceJson>,
    last_checkpoint: Option<Summary>,
    lock_holder: Option<String>,
    open: OpenJson,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    let dir = &args.dir;
    let files = segments::list_nonempty(dir)?;
    let holder = FsStorage.lock_holder(dir).map_err(|e| {
        CliError::io(
            format!("cannot read the lock file in {}", dir.display()),
            &e,
            "check permissions",
        )
    })?;
    let opened = inspect(dir, RecoveryMode::TolerateTornTail);
    let (inspection, error) = match opened {
        Ok(found) => (found, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let json = build(dir, &files, inspection.as_ref(), error, holder);
    if out.json {
        out.json_line(&json)?;
    } else {
        print_human(out, &json, inspection.as_ref())?;
    }
    Ok(if json.open.would_succeed {
        Status::Clean
    } else {
        Status::Problems
    })
}

fn build(
    dir: &Path,
    files: &[SegmentFile],
    inspection: Option<&Inspection>,
    error: Option<String>,
    lock_holder: Option<String>,
) -> InspectJson {
    let report = inspection.map(|i| &i.report);
    let id = inspection.map(|i| i.journal_id).or_else(|| {
        files
            .iter()
            .find_map(|f| f.valid_header().map(|h| h.journal_id))
    });
    InspectJson {
        schema: "cpj.inspect.v1",
        dir: dir.display().to_string(),
        journal_id: id.map(journal_id),
        segments: files
            .iter()
            .map(|f| {
                let state = report.map_or("unknown", |r| {
                    segment_state(f, r.end_lsn.0, &r.removed_files)
                });
                let summary = Some(crate::summaries::read(dir, f))
                    .filter(|s| state == "full" || s.status != "missing");
                SegmentJson {
                    file: f.name.clone(),
                    base_lsn: f.base_lsn,
                    end_lsn: f.end_lsn(),
                    size_bytes: f.len,
                    created_at_ms: f.valid_header().map(|h| h.created_at_ms),
                    header_valid: f.valid_header().is_some(),
                    state,
                    summary,
                }
            })
            .collect(),
        sources: inspection.map(|i| sources(&i.state)).unwrap_or_default(),
        last_checkpoint: inspection
            .and_then(|i| i.state.last_checkpoint.as_ref())
            .map(|(lsn, r)| Summary::new(lsn.0, r)),
        lock_holder,
        open: OpenJson {
            mode: "tolerate_torn_tail",
            would_succeed: error.is_none(),
            error,
            report: report.map(ReportJson::new),
        },
    }
}

/// `full`, `active` (appends continue here), `preallocated`, or `would_be_removed`.
fn segment_state(f: &SegmentFile, end: u64, removed: &[PathBuf]) -> &'static str {
    if removed.contains(&f.path) {
        "would_be_removed"
    } else if f.end_lsn() <= end && f.base_lsn < end {
        "full"
    } else if f.base_lsn <= end && end < f.end_lsn() {
        "active"
    } else {
        "preallocated"
    }
}

fn sources(state: &State) -> Vec<SourceJson> {
    state
        .sources
        .iter()
        .map(|(id, s)| SourceJson {
            source_id: *id,
            sequence: s.sequence,
            watermark: (s.watermark != i64::MIN).then_some(s.watermark),
            last_barrier: s.last_barrier,
            entries: s.entries,
        })
        .collect()
}

fn print_human(
    out: &mut Out,
    j: &InspectJson,
    inspection: Option<&Inspection>,
) -> Result<(), CliError> {
    let id = j.journal_id.as_deref().unwrap_or("unknown");
    out.line(format!("{} {}", out.bold("journal"), j.dir))?;
    out.line(format!("  id           {id}"))?;
    let holder = j.lock_holder.as_deref().map_or_else(
        || "nobody (no writer has it open)".to_owned(),
        |h| format!("{h} (a writer has it open)"),
    );
    out.line(format!("  lock holder  {holder}"))?;
    out.line("")?;
    out.line(out.bold("segments"))?;
    let mut t = Table::new(
        &[
            "FILE",
            "LSN RANGE",
            "SIZE",
            "USED",
            "CREATED",
            "STATE",
            "SUMMARY",
        ],
        &[false, false, true, true, false, false, false],
    );
    let end = inspection.map(|i| i.report.end_lsn.0);
    for s in &j.segments {
        let used = end.map_or_else(
            || "-".into(),
            |end| bytes(end.clamp(s.base_lsn, s.end_lsn) - s.base_lsn),
        );
        t.row(vec![
            s.file.clone(),
            format!("{} .. {}", s.base_lsn, s.end_lsn),
            bytes(s.size_bytes),
            used,
            s.created_at_ms.map_or_else(|| "invalid header".into(), utc),
            s.state.replace('_', " "),
            s.summary
                .as_ref()
                .map_or_else(|| "-".into(), crate::summaries::cell),
        ]);
    }
    t.print(out, 2)?;
    out.line("")?;
    print_state(out, j)?;
    out.line("")?;
    out.line(out.bold("opening (tolerate-torn-tail mode) would"))?;
    match (&j.open.error, inspection) {
        (Some(e), _) => {
            let fail = out.bad("fail");
            out.line(format!("  {fail}: {e}"))
        }
        (None, None) => out.line("  start a new journal: no usable segment was found"),
        (None, Some(i)) => {
            for line in report::human(&i.report) {
                out.line(line)?;
            }
            Ok(())
        }
    }
}

fn print_state(out: &mut Out, j: &InspectJson) -> Result<(), CliError> {
    out.line(format!(
        "{} (as recovery would rebuild them)",
        out.bold("sources")
    ))?;
    if j.sources.is_empty() {
        out.line("  none")?;
    } else {
        let mut t = Table::new(
            &["SOURCE", "SEQUENCE", "WATERMARK", "LAST BARRIER", "ENTRIES"],
            &[true, true, true, true, true],
        );
        for s in &j.sources {
            t.row(vec![
                s.source_id.to_string(),
                s.sequence.to_string(),
                s.watermark.map_or_else(|| "-".into(), |w| w.to_string()),
                s.last_barrier.map_or_else(|| "-".into(), |b| b.to_string()),
                thousands(s.entries),
            ]);
        }
        t.print(out, 2)?;
    }
    let last = j
        .last_checkpoint
        .as_ref()
        .map_or_else(|| "none".to_owned(), Summary::words);
    out.line(format!("{}  {last}", out.bold("last checkpoint")))
}
