//! `cpj checkpoints`: the checkpoint records of a journal, listed, or one shown in full,
//! read through the read-only follower.

use std::path::PathBuf;

use serde::Serialize;

use checkpoint_journal::{CheckpointRecord, Frame, JournalReader};

use crate::frames::CheckpointJson;
use crate::output::{thousands, utc, CliError, CmdResult, Out, Status, Table};
use crate::segments;

const EXAMPLES: &str = "\
Examples:
  cpj checkpoints ./j            one line per checkpoint
  cpj checkpoints ./j --id 40    checkpoint 40 in full: every source, sink, watermark
  cpj checkpoints ./j --json

Read-only: takes no lock.";

/// List checkpoint records, or show one in full (read-only).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
    /// Show the checkpoint with this id in full (the last one, if several share it).
    #[arg(long, value_name = "N")]
    id: Option<u64>,
}

/// One line's worth of a checkpoint.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    lsn: u64,
    id: u64,
    epoch: u64,
    created_at_ms: u64,
    sources: usize,
    sinks: usize,
    operator_states: usize,
    operator_state_bytes: usize,
}

impl Summary {
    pub(crate) fn new(lsn: u64, r: &CheckpointRecord) -> Summary {
        Summary {
            lsn,
            id: r.id,
            epoch: r.epoch,
            created_at_ms: r.created_at_ms,
            sources: r.source_sequences.len(),
            sinks: r.sink_positions.len(),
            operator_states: r.operator_states.len(),
            operator_state_bytes: r.operator_states.iter().map(|o| o.state.len()).sum(),
        }
    }

    /// `id 40 (epoch 1) at LSN 123, created …, 4 sources, 0 sinks, 0 operator states`.
    pub(crate) fn words(&self) -> String {
        format!(
            "id {} (epoch {}) at LSN {}, created {}; {} sources, {} sinks, {} operator \
             states ({} bytes)",
            self.id,
            self.epoch,
            self.lsn,
            utc(self.created_at_ms),
            self.sources,
            self.sinks,
            self.operator_states,
            thousands(self.operator_state_bytes as u64)
        )
    }
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    segments::list_nonempty(&args.dir)?;
    let mut reader = JournalReader::open(&args.dir).map_err(|e| CliError::lib(&e))?;
    let mut found: Vec<(u64, CheckpointRecord)> = Vec::new();
    let mut status = Status::Clean;
    loop {
        match reader.try_next() {
            Ok(Some(Frame::Checkpoint { lsn, record })) => {
                if args.id.is_none_or(|id| id == record.id) {
                    found.push((lsn.0, record));
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                eprintln!(
                    "cpj checkpoints: stopped at LSN {}: {e}; run `cpj verify {}` to list \
                     every damaged frame",
                    reader.position(),
                    args.dir.display()
                );
                status = Status::Problems;
                break;
            }
        }
    }
    match args.id {
        None => list(out, &found)?,
        Some(id) => match found.last() {
            Some((lsn, record)) => show(out, *lsn, record)?,
            None => {
                return Err(CliError::CannotRun(format!(
                    "no checkpoint with id {id} in {}; list them with `cpj checkpoints {}`",
                    args.dir.display(),
                    args.dir.display()
                )))
            }
        },
    }
    Ok(status)
}

fn list(out: &mut Out, found: &[(u64, CheckpointRecord)]) -> Result<(), CliError> {
    let summaries: Vec<Summary> = found.iter().map(|(l, r)| Summary::new(*l, r)).collect();
    if out.json {
        return out.json_line(&serde_json::json!({
            "schema": "cpj.checkpoints.v1",
            "checkpoints": summaries,
        }));
    }
    if summaries.is_empty() {
        return out.line("no checkpoint records");
    }
    let mut t = Table::new(
        &[
            "ID",
            "EPOCH",
            "LSN",
            "CREATED",
            "SOURCES",
            "SINKS",
            "OPERATORS",
        ],
        &[true, true, true, false, true, true, true],
    );
    for s in &summaries {
        t.row(vec![
            s.id.to_string(),
            s.epoch.to_string(),
            s.lsn.to_string(),
            utc(s.created_at_ms),
            s.sources.to_string(),
            s.sinks.to_string(),
            s.operator_states.to_string(),
        ]);
    }
    t.print(out, 0)?;
    out.line(format!("{} checkpoints", thousands(summaries.len() as u64)))
}

fn show(out: &mut Out, lsn: u64, record: &CheckpointRecord) -> Result<(), CliError> {
    if out.json {
        return out.json_line(&serde_json::json!({
            "schema": "cpj.checkpoint.v1",
            "lsn": lsn,
            "checkpoint": CheckpointJson::new(record),
        }));
    }
    out.line(format!("checkpoint {}", Summary::new(lsn, record).words()))?;
    let mut t = Table::new(&["SOURCE", "SEQUENCE", "WATERMARK"], &[true, true, true]);
    for (source, sequence) in &record.source_sequences {
        let watermark = record
            .watermarks
            .iter()
            .find(|(s, _)| s == source)
            .map_or_else(|| "-".into(), |(_, w)| w.to_string());
        t.row(vec![source.to_string(), sequence.to_string(), watermark]);
    }
    t.print(out, 2)?;
    for (sink, position) in &record.sink_positions {
        out.line(format!("  sink {sink}: position {position}"))?;
    }
    for op in &record.operator_states {
        out.line(format!(
            "  operator {}: {} bytes of state",
            op.operator_id,
            thousands(op.state.len() as u64)
        ))?;
    }
    Ok(())
}
