//! `cpj cursors`: the durable consumer cursors of a journal, as the state folded from
//! its meta frames holds them (read-only: a dry-run recovery, no lock taken). A cursor
//! whose record names another journal is listed as foreign: opening it is refused.

use std::path::PathBuf;

use serde::Serialize;

use checkpoint_journal::{inspect, RecoveryMode};

use crate::output::{journal_id, CliError, CmdResult, Out, Status, Table};
use crate::segments;

const EXAMPLES: &str = "\
Examples:
  cpj cursors ./j            one line per cursor: name, committed LSN, owner
  cpj cursors ./j --json

Read-only: takes no lock. Exit status 1 if a cursor belongs to another journal.";

/// List the durable consumer cursors (read-only).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
}

/// One cursor.
#[derive(Debug, Serialize)]
struct CursorJson {
    name: String,
    position: u64,
    journal_id: String,
    foreign: bool,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    segments::list_nonempty(&args.dir)?;
    let found = inspect(&args.dir, RecoveryMode::TolerateTornTail)
        .map_err(|e| CliError::lib(&e))?
        .ok_or_else(|| CliError::CannotRun(format!("no journal in {}", args.dir.display())))?;
    let cursors: Vec<CursorJson> = found
        .state
        .coordination
        .cursors
        .iter()
        .map(|(name, c)| CursorJson {
            name: name.clone(),
            position: c.position.0,
            journal_id: journal_id(c.journal_id),
            foreign: c.journal_id != found.journal_id,
        })
        .collect();
    let status = if cursors.iter().any(|c| c.foreign) {
        Status::Problems
    } else {
        Status::Clean
    };
    if out.json {
        out.json_line(&serde_json::json!({
            "schema": "cpj.cursors.v1",
            "journal_id": journal_id(found.journal_id),
            "cursors": cursors,
        }))?;
        return Ok(status);
    }
    if cursors.is_empty() {
        out.line("no cursors")?;
        return Ok(status);
    }
    let mut t = Table::new(&["NAME", "POSITION", "JOURNAL"], &[false, true, false]);
    for c in &cursors {
        let owner = if c.foreign {
            out.bad(&format!("foreign {} (refused)", c.journal_id))
        } else {
            "this journal".to_owned()
        };
        t.row(vec![c.name.clone(), c.position.to_string(), owner]);
    }
    t.print(out, 0)?;
    Ok(status)
}
