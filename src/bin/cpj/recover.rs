//! `cpj recover`: what opening a journal in a recovery mode would truncate or remove
//! (a dry run through `checkpoint_journal::inspect`: no lock, no byte changed), and with
//! `--apply`, the real open that does it (takes the writer's lock).

use std::path::PathBuf;

use clap::ValueEnum;
use serde::Serialize;

use checkpoint_journal::{inspect, Error, Journal, Options, RecoveryMode, RecoveryReport};

use crate::output::{CliError, CmdResult, Out, Status};
use crate::report::{self, ReportJson};
use crate::segments;

const EXAMPLES: &str = "\
Examples:
  cpj recover ./j                   what opening would do (default mode: tolerate)
  cpj recover ./j --mode strict     would a strict open succeed?
  cpj recover ./j --mode salvage    what salvage would keep and drop
  cpj recover ./j --apply           do it: truncate a torn tail, durably

Modes: strict (any invalid frame is an error), tolerate (truncate a torn tail; damage
below a durable claim is an error), salvage (truncate at the first invalid frame).
Without --apply nothing is locked or changed. With --apply the journal is opened for
real, which takes the writer's lock: if another process holds it, recover refuses and
names it. Exit status: 0 the open succeeds (or would), 1 it fails (or would), 2 could
not run (locked, unreadable).";

/// Recovery modes, as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    Strict,
    Tolerate,
    Salvage,
}

impl ModeArg {
    fn mode(self) -> RecoveryMode {
        match self {
            ModeArg::Strict => RecoveryMode::Strict,
            ModeArg::Tolerate => RecoveryMode::TolerateTornTail,
            ModeArg::Salvage => RecoveryMode::Salvage,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ModeArg::Strict => "strict",
            ModeArg::Tolerate => "tolerate",
            ModeArg::Salvage => "salvage",
        }
    }
}

/// What opening would truncate (dry run), or with --apply, open and recover for real.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
    /// How recovery treats invalid frames.
    #[arg(long, value_enum, default_value_t = ModeArg::Tolerate)]
    mode: ModeArg,
    /// Open the journal for real and apply the recovery (takes the writer's lock).
    #[arg(long)]
    apply: bool,
}

#[derive(Debug, Serialize)]
struct RecoverJson {
    schema: &'static str,
    dir: String,
    mode: &'static str,
    applied: bool,
    ok: bool,
    error: Option<String>,
    report: Option<ReportJson>,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    segments::list_nonempty(&args.dir)?;
    let outcome = if args.apply {
        apply(args)?
    } else {
        inspect(&args.dir, args.mode.mode()).map(|found| found.map(|i| i.report))
    };
    let (report, error) = match outcome {
        Ok(report) => (report, None),
        Err(e) => (None, Some(e)),
    };
    if out.json {
        out.json_line(&RecoverJson {
            schema: "cpj.recover.v1",
            dir: args.dir.display().to_string(),
            mode: args.mode.name(),
            applied: args.apply,
            ok: error.is_none(),
            error: error.as_ref().map(ToString::to_string),
            report: report.as_ref().map(ReportJson::new),
        })?;
    } else {
        print_human(out, args, report.as_ref(), error.as_ref())?;
    }
    Ok(if error.is_none() {
        Status::Clean
    } else {
        Status::Problems
    })
}

/// Opens the journal for real. A held lock is an error that stops the command (exit 2);
/// a recovery failure is the command's finding (exit 1).
fn apply(args: &Args) -> Result<Result<Option<RecoveryReport>, Error>, CliError> {
    // No background preallocation: recover changes only what recovery changes.
    let options = Options::default()
        .recovery_mode(args.mode.mode())
        .create_if_missing(false)
        .preallocate(false);
    match Journal::open(&args.dir, options) {
        Ok(journal) => {
            let report = journal.recovery_report().clone();
            // Recovery made its truncation durable before returning; closing without a
            // flush adds no close marker, so the files stay exactly as recovery left them.
            journal.close_without_flush();
            Ok(Ok(Some(report)))
        }
        Err(e @ Error::Locked { .. }) => Err(CliError::CannotRun(format!(
            "{e} (read-only commands such as `cpj inspect` and `cpj recover` without \
             --apply work while it runs)"
        ))),
        Err(e) => Ok(Err(e)),
    }
}

fn print_human(
    out: &mut Out,
    args: &Args,
    report: Option<&RecoveryReport>,
    error: Option<&Error>,
) -> Result<(), CliError> {
    let mode = args.mode.name();
    let title = if args.apply {
        format!("recovered {} in {mode} mode", args.dir.display())
    } else {
        format!(
            "dry run: opening {} in {mode} mode would (nothing was changed)",
            args.dir.display()
        )
    };
    out.line(out.bold(&title))?;
    if let Some(e) = error {
        let verb = if args.apply { "failed" } else { "fail" };
        out.line(format!("  {}: {e}", out.bad(verb)))?;
        if args.mode != ModeArg::Salvage {
            out.line(format!(
                "  next: `cpj recover {} --mode salvage` shows what salvage would keep",
                args.dir.display()
            ))?;
        }
        return Ok(());
    }
    let Some(report) = report else {
        return out.line("  start a new journal: no usable segment was found");
    };
    for line in report::human(report) {
        out.line(line)?;
    }
    let changes =
        report.torn_bytes > 0 || report.dropped.is_some() || !report.removed_files.is_empty();
    if !args.apply && changes {
        out.line(format!(
            "  next: `cpj recover {} --mode {mode} --apply` to do it",
            args.dir.display()
        ))?;
    } else if !changes {
        out.line(format!(
            "  {}: nothing to truncate or remove",
            out.good("clean")
        ))?;
    }
    Ok(())
}
