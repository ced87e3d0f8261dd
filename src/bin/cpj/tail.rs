//! `cpj tail`: the last frames of a journal and, with `-f`, every frame a writer (in
//! this or another process) publishes after them, through the read-only follower.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use checkpoint_journal::{Frame, JournalReader};

use crate::frames::Printer;
use crate::output::{CliError, CmdResult, Out, Status};
use crate::segments;

const EXAMPLES: &str = "\
Examples:
  cpj tail ./j              the last 10 frames
  cpj tail -n 100 ./j       the last 100 frames
  cpj tail -f ./j           then follow the writer until interrupted (Ctrl-C)
  cpj tail -f --json ./j    JSON lines, flushed as frames arrive

Read-only: takes no lock; the writer can be another process.";

/// How long one wait for the next frame lasts before looking again.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// Print the last frames, and with -f keep following the writer (read-only).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
    /// Keep following: print frames as they are published, until interrupted.
    #[arg(short = 'f', long)]
    follow: bool,
    /// How many of the last frames to print first.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
    frames: usize,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    segments::list_nonempty(&args.dir)?;
    let mut reader = JournalReader::open(&args.dir).map_err(|e| CliError::lib(&e))?;
    let mut printer = Printer::new("cpj.tail.v1");
    let mut last: VecDeque<Frame> = VecDeque::with_capacity(args.frames.min(4096) + 1);
    let failed = loop {
        match reader.try_next() {
            Ok(Some(frame)) => {
                last.push_back(frame);
                if last.len() > args.frames {
                    last.pop_front();
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    for frame in &last {
        printer.print(out, frame)?;
    }
    out.flush()?;
    if let Some(e) = failed {
        return Ok(stopped(args, &reader, &e));
    }
    if !args.follow {
        return Ok(Status::Clean);
    }
    loop {
        match reader.next_timeout(FOLLOW_POLL) {
            Ok(Some(frame)) => {
                printer.print(out, &frame)?;
                out.flush()?;
            }
            Ok(None) => {}
            Err(e) => return Ok(stopped(args, &reader, &e)),
        }
    }
}

fn stopped(args: &Args, reader: &JournalReader, e: &checkpoint_journal::Error) -> Status {
    eprintln!(
        "cpj tail: stopped at LSN {}: {e}; run `cpj verify {}` to list every damaged frame",
        reader.position(),
        args.dir.display()
    );
    Status::Problems
}
