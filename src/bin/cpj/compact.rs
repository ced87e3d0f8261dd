//! `cpj compact`: opens the journal (the writer's lock), writes a snapshot of its state,
//! retires the segments no kept snapshot needs, and prints what was freed.

use std::path::PathBuf;

use serde::Serialize;

use checkpoint_journal::{CompactionReport, Error, Journal, Options};

use crate::output::{bytes, duration, CliError, CmdResult, Out, Status, Table};

const EXAMPLES: &str = "\
Examples:
  cpj compact ./j                   snapshot + retire old segments (keeps 2 snapshots)
  cpj compact ./j --keep 1          keep only the new snapshot
  cpj compact ./j --json | jq .report.bytes_freed

Takes the writer's lock: if another process holds the journal, compact refuses and
names it (that process can compact with Journal::compact or Options::compaction).
Exit status: 0 compacted, 1 opening or compacting failed, 2 could not run.";

/// Snapshot the journal and retire the segments before the oldest kept snapshot.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
    /// Snapshots to keep (the segments the oldest one needs are kept too).
    #[arg(long, default_value_t = 2)]
    keep: usize,
}

#[derive(Debug, Serialize)]
struct CompactJson {
    schema: &'static str,
    dir: String,
    ok: bool,
    error: Option<String>,
    report: Option<CompactionReport>,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    let outcome = compact(args)?;
    if out.json {
        out.json_line(&CompactJson {
            schema: "cpj.compact.v1",
            dir: args.dir.display().to_string(),
            ok: outcome.is_ok(),
            error: outcome.as_ref().err().map(ToString::to_string),
            report: outcome.as_ref().ok().cloned(),
        })?;
    } else {
        print_human(out, args, &outcome)?;
    }
    Ok(if outcome.is_ok() {
        Status::Clean
    } else {
        Status::Problems
    })
}

/// Opens, compacts and closes. A held lock or a missing journal stops the command
/// (exit 2); a failure to open or compact is its finding (exit 1).
fn compact(args: &Args) -> Result<Result<CompactionReport, Error>, CliError> {
    let options = Options::default()
        .create_if_missing(false)
        .preallocate(false)
        .keep_snapshots(args.keep);
    let journal = match Journal::open(&args.dir, options) {
        Ok(journal) => journal,
        Err(e @ (Error::Locked { .. } | Error::NotFound { .. } | Error::InvalidOptions { .. })) => {
            return Err(CliError::CannotRun(e.to_string()))
        }
        Err(e) => return Ok(Err(e)),
    };
    let outcome = journal.compact().and_then(|_| {
        journal
            .last_compaction()
            .ok_or_else(|| Error::InvalidOptions {
                field: "compact",
                reason: "compaction returned no report".into(),
            })
    });
    let closed = journal.close();
    Ok(outcome.and_then(|report| closed.map(|()| report)))
}

/// `none`, one file name, or `N files: first .. last`.
fn span(paths: &[PathBuf]) -> String {
    let name = |p: &PathBuf| {
        p.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    };
    match paths {
        [] => "none".into(),
        [one] => name(one),
        [first, .., last] => format!("{} files: {} .. {}", paths.len(), name(first), name(last)),
    }
}

fn print_human(
    out: &mut Out,
    args: &Args,
    outcome: &Result<CompactionReport, Error>,
) -> Result<(), CliError> {
    out.line(out.bold(&format!("compacted {}", args.dir.display())))?;
    let report = match outcome {
        Ok(report) => report,
        Err(e) => return out.line(format!("  {}: {e}", out.bad("failed"))),
    };
    let mut t = Table::new(&["", ""], &[false, false]);
    let written = if report.snapshot_written {
        "written"
    } else {
        "already current"
    };
    t.row(vec![
        "snapshot".into(),
        format!(
            "{} at LSN {} ({written})",
            report.snapshot_path.display(),
            report.snapshot_lsn
        ),
    ]);
    t.row(vec!["floor".into(), format!("LSN {}", report.floor)]);
    t.row(vec![
        "journal starts".into(),
        format!("LSN {}", report.first_lsn),
    ]);
    for (what, paths) in [
        ("retired", &report.segments_retired),
        ("pruned", &report.snapshots_pruned),
    ] {
        t.row(vec![what.into(), span(paths)]);
    }
    t.row(vec![
        "freed".into(),
        format!(
            "{} in {}",
            bytes(report.bytes_freed),
            duration(report.duration)
        ),
    ]);
    let mut lines = t.render(2);
    lines.remove(0);
    for line in lines {
        out.line(line)?;
    }
    Ok(())
}
