//! `cpj dump`: frames in LSN order, filtered by LSN range, source, op and kind, read
//! through the library's read-only follower (`JournalReader`: no lock, read-only maps).

use std::path::PathBuf;

use checkpoint_journal::JournalReader;

use crate::frames::{Filter, KindArg, OpArg, Printer};
use crate::output::{CliError, CmdResult, Out, Status};
use crate::segments;

const EXAMPLES: &str = "\
Examples:
  cpj dump ./j                          every frame, one line per entry
  cpj dump ./j --from 4096 --to 65536   frames starting in [4096, 65536)
  cpj dump ./j --source 3 --op barrier  source 3's barrier entries
  cpj dump ./j --kind checkpoint        checkpoint records only
  cpj dump ./j --json | head            JSON lines, one object per frame

Read-only: takes no lock, so it runs beside a writer. Exit status 1 if a frame fails
validation (what was read before it is printed; `cpj verify` lists every problem).";

/// Print frames in LSN order (read-only).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
    /// Only frames starting at or after this LSN.
    #[arg(long, value_name = "LSN")]
    from: Option<u64>,
    /// Only frames starting before this LSN.
    #[arg(long, value_name = "LSN")]
    to: Option<u64>,
    /// Only entries of this source (checkpoints are still shown).
    #[arg(long, value_name = "ID")]
    source: Option<u16>,
    /// Only entries with this op (hides checkpoints).
    #[arg(long, value_enum)]
    op: Option<OpArg>,
    /// Only frames of this kind.
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    segments::list_nonempty(&args.dir)?;
    let filter = Filter {
        from: args.from,
        to: args.to,
        source: args.source,
        op: args.op,
        kind: args.kind,
    };
    let mut reader = JournalReader::open(&args.dir).map_err(|e| CliError::lib(&e))?;
    let mut printer = Printer::new("cpj.dump.v1");
    loop {
        match reader.try_next() {
            Ok(Some(frame)) if filter.past_end(frame.lsn().0) => return Ok(Status::Clean),
            Ok(Some(frame)) => {
                if let Some(shown) = filter.select(frame) {
                    printer.print(out, &shown)?;
                }
            }
            Ok(None) => return Ok(Status::Clean),
            Err(e) => {
                out.flush()?;
                eprintln!(
                    "cpj dump: stopped at LSN {}: {e}; run `cpj verify {}` to list every \
                     damaged frame",
                    reader.position(),
                    args.dir.display()
                );
                return Ok(Status::Problems);
            }
        }
    }
}
