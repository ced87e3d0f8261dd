//! `cpj`: the command-line tool for checkpoint-journal directories. It shows what a
//! journal holds (`inspect`, `dump`, `tail`, `checkpoints`, `stats`), checks it byte by byte
//! (`verify`), says or does what opening would do (`recover`), and measures the
//! library on the user's own disk (`demo`, `bench`).
//!
//! Invariant: every command except `demo`, `bench` and `recover --apply` is read-only;
//! it never takes the writer's lock and never opens a file for writing.
//!
//! Exit status: 0 success, 1 the command ran and found a problem, 2 it could not run.

// Archiving to object storage (feature `object-store`).
#[cfg(feature = "object-store")]
mod archive;
mod bench;
mod checkpoints;
// Compaction (cpj compact).
mod compact;
// Checkpoint coordination: durable consumer cursors.
mod cursors;
mod demo;
mod demo_print;
mod demo_workload;
mod dump;
mod frames;
mod inspect;
mod output;
mod recover;
mod report;
mod segments;
// --- stats (cpj stats) ---
mod stats;
mod summaries;
mod tail;
mod verify;
mod verify_scan;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use output::{CliError, Out, Status};

const EXAMPLES: &str = "\
Examples:
  cpj demo                           run a workload, crash it, recover, check
  cpj demo --dir ./j && cpj inspect ./j
  cpj verify ./j                     full checksum scan (exit 1 on corruption)
  cpj dump ./j --source 3 --op barrier
  cpj tail -f ./j                    follow a journal another process writes
  cpj recover ./j                    what opening would truncate (changes nothing)
  cpj inspect ./j --json | jq .open.report
  cpj stats ./j --watch              counters and frontiers, refreshed every second
  cpj compact ./j                    snapshot the state, retire old segments

Exit status: 0 success, 1 a problem was found, 2 the command could not run.
Set NO_COLOR to turn colours off. JSON schemas: docs/CLI.md.";

/// Inspect, verify, dump and recover checkpoint-journal directories.
#[derive(Debug, Parser)]
#[command(name = "cpj", version, after_help = EXAMPLES)]
struct Cli {
    /// Print one JSON object (JSON lines for dump and tail) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Demo(demo::Args),
    Inspect(inspect::Args),
    Verify(verify::Args),
    Dump(dump::Args),
    Tail(tail::Args),
    Recover(recover::Args),
    Checkpoints(checkpoints::Args),
    Cursors(cursors::Args),
    Bench(bench::Args),
    Stats(stats::Args),
    Compact(compact::Args),
    #[cfg(feature = "object-store")]
    Archive(archive::Args),
    #[cfg(feature = "object-store")]
    Restore(archive::RestoreArgs),
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Demo(_) => "demo",
            Command::Inspect(_) => "inspect",
            Command::Verify(_) => "verify",
            Command::Dump(_) => "dump",
            Command::Tail(_) => "tail",
            Command::Recover(_) => "recover",
            Command::Checkpoints(_) => "checkpoints",
            Command::Cursors(_) => "cursors",
            Command::Bench(_) => "bench",
            Command::Stats(_) => "stats",
            Command::Compact(_) => "compact",
            #[cfg(feature = "object-store")]
            Command::Archive(_) => "archive",
            #[cfg(feature = "object-store")]
            Command::Restore(_) => "restore",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Out::new(cli.json);
    let name = cli.command.name();
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args, &mut out),
        Command::Inspect(args) => inspect::run(&args, &mut out),
        Command::Verify(args) => verify::run(&args, &mut out),
        Command::Dump(args) => dump::run(&args, &mut out),
        Command::Tail(args) => tail::run(&args, &mut out),
        Command::Recover(args) => recover::run(&args, &mut out),
        Command::Checkpoints(args) => checkpoints::run(&args, &mut out),
        Command::Cursors(args) => cursors::run(&args, &mut out),
        Command::Bench(args) => bench::run(&args, &mut out),
        Command::Stats(args) => stats::run(&args, &mut out),
        Command::Compact(args) => compact::run(&args, &mut out),
        #[cfg(feature = "object-store")]
        Command::Archive(args) => archive::run(&args, &mut out),
        #[cfg(feature = "object-store")]
        Command::Restore(args) => archive::run_restore(&args, &mut out),
    };
    let result = result.and_then(|status| out.flush().map(|()| status));
    match result {
        Ok(Status::Clean) => ExitCode::SUCCESS,
        Ok(Status::Problems) => ExitCode::from(1),
        Err(CliError::Output(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            if out.json {
                let _ = out.json_line(&serde_json::json!({
                    "schema": "cpj.error.v1",
                    "command": name,
                    "error": e.to_string(),
                }));
                let _ = out.flush();
            }
            eprintln!("cpj {name}: error: {e}");
            ExitCode::from(2)
        }
    }
}
