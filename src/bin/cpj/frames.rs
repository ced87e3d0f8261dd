//! Frames as `dump` and `tail` print them: the filters they share, a fixed-width human
//! line per entry (so output streams without buffering a table), and one JSON object per
//! frame (`cpj.dump.v1` / `cpj.tail.v1`, docs/CLI.md).

use clap::ValueEnum;
use serde::Serialize;

use checkpoint_journal::{CheckpointRecord, Entry, Frame, Op};

use crate::output::{utc, CliError, Out};

/// Entry ops, as filters name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OpArg {
    Push,
    Watermark,
    Barrier,
}

/// Frame kinds, as filters name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KindArg {
    Entries,
    Checkpoint,
}

/// Which frames and entries to show.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Filter {
    /// Frames starting at or after this LSN.
    pub(crate) from: Option<u64>,
    /// Frames starting before this LSN.
    pub(crate) to: Option<u64>,
    pub(crate) source: Option<u16>,
    pub(crate) op: Option<OpArg>,
    pub(crate) kind: Option<KindArg>,
}

impl Filter {
    /// The LSN is past `--to`: nothing later can match.
    pub(crate) fn past_end(&self, lsn: u64) -> bool {
        self.to.is_some_and(|to| lsn >= to)
    }

    /// The part of `frame` to show, if any.
    pub(crate) fn select(&self, frame: Frame) -> Option<Frame> {
        let lsn = frame.lsn().0;
        if self.from.is_some_and(|from| lsn < from) || self.past_end(lsn) {
            return None;
        }
        match frame {
            Frame::Entries { lsn, entries } if self.kind != Some(KindArg::Checkpoint) => {
                let entries: Vec<Entry> = entries
                    .into_iter()
                    .filter(|e| self.entry_matches(e))
                    .collect();
                (!entries.is_empty()).then_some(Frame::Entries { lsn, entries })
            }
            Frame::Checkpoint { lsn, record }
                if self.kind != Some(KindArg::Entries) && self.op.is_none() =>
            {
                Some(Frame::Checkpoint { lsn, record })
            }
            _ => None,
        }
    }

    fn entry_matches(&self, e: &Entry) -> bool {
        let op = match self.op {
            None => true,
            Some(OpArg::Push) => e.op() == Ok(Op::Push),
            Some(OpArg::Watermark) => e.op() == Ok(Op::Watermark),
            Some(OpArg::Barrier) => e.op() == Ok(Op::Barrier),
        };
        op && self.source.is_none_or(|s| s == e.source_id)
    }
}

/// An entry in JSON.
#[derive(Debug, Serialize)]
pub(crate) struct EntryJson {
    source_id: u16,
    op: String,
    flags: u8,
    sequence: u64,
    watermark: i64,
}

/// A checkpoint record in JSON, in full.
#[derive(Debug, Serialize)]
pub(crate) struct CheckpointJson {
    id: u64,
    epoch: u64,
    created_at_ms: u64,
    source_sequences: Vec<serde_json::Value>,
    watermarks: Vec<serde_json::Value>,
    sink_positions: Vec<serde_json::Value>,
    operator_states: Vec<serde_json::Value>,
}

impl CheckpointJson {
    pub(crate) fn new(r: &CheckpointRecord) -> CheckpointJson {
        use serde_json::json;
        CheckpointJson {
            id: r.id,
            epoch: r.epoch,
            created_at_ms: r.created_at_ms,
            source_sequences: (r.source_sequences.iter())
                .map(|(s, q)| json!({"source_id": s, "sequence": q}))
                .collect(),
            watermarks: (r.watermarks.iter())
                .map(|(s, w)| json!({"source_id": s, "watermark": w}))
                .collect(),
            sink_positions: (r.sink_positions.iter())
                .map(|(s, p)| json!({"sink_id": s, "position": p}))
                .collect(),
            operator_states: (r.operator_states.iter())
                .map(|o| json!({"operator_id": o.operator_id, "bytes": o.state.len()}))
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct FrameJson {
    schema: &'static str,
    lsn: u64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<Vec<EntryJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint: Option<CheckpointJson>,
}

/// The name of an entry's op; an unknown byte prints as `op<N>`.
pub(crate) fn op_name(e: &Entry) -> String {
    match e.op() {
        Ok(Op::Push) => "push".into(),
        Ok(Op::Watermark) => "watermark".into(),
        Ok(Op::Barrier) => "barrier".into(),
        Err(unknown) => format!("op{}", unknown.0),
    }
}

/// Prints frames one by one, with a header line before the first (human form).
#[derive(Debug)]
pub(crate) struct Printer {
    schema: &'static str,
    header_done: bool,
}

impl Printer {
    pub(crate) fn new(schema: &'static str) -> Printer {
        Printer {
            schema,
            header_done: false,
        }
    }

    pub(crate) fn print(&mut self, out: &mut Out, frame: &Frame) -> Result<(), CliError> {
        if out.json {
            return out.json_line(&self.json(frame));
        }
        if !self.header_done {
            self.header_done = true;
            out.line(format!(
                "{:>14}  {:<10}  {:>6}  {:<9}  {:>20}  {:>20}",
                "LSN", "KIND", "SOURCE", "OP", "SEQUENCE", "WATERMARK"
            ))?;
        }
        match frame {
            Frame::Entries { lsn, entries } => {
                for e in entries {
                    out.line(format!(
                        "{:>14}  {:<10}  {:>6}  {:<9}  {:>20}  {:>20}",
                        lsn.0,
                        "entries",
                        e.source_id,
                        op_name(e),
                        e.sequence,
                        e.watermark
                    ))?;
                }
                Ok(())
            }
            Frame::Checkpoint { lsn, record } => out.line(format!(
                "{:>14}  {:<10}  id {} epoch {}, {} sources, {} sinks, {} operator states, \
                 created {}",
                lsn.0,
                "checkpoint",
                record.id,
                record.epoch,
                record.source_sequences.len(),
                record.sink_positions.len(),
                record.operator_states.len(),
                utc(record.created_at_ms)
            )),
            _ => Ok(()),
        }
    }

    fn json(&self, frame: &Frame) -> FrameJson {
        let mut json = FrameJson {
            schema: self.schema,
            lsn: frame.lsn().0,
            kind: "unknown",
            entries: None,
            checkpoint: None,
        };
        match frame {
            Frame::Entries { entries, .. } => {
                json.kind = "entries";
                json.entries = Some(
                    entries
                        .iter()
                        .map(|e| EntryJson {
                            source_id: e.source_id,
                            op: op_name(e),
                            flags: e.flags,
                            sequence: e.sequence,
                            watermark: e.watermark,
                        })
                        .collect(),
                );
            }
            Frame::Checkpoint { record, .. } => {
                json.kind = "checkpoint";
                json.checkpoint = Some(CheckpointJson::new(record));
            }
            _ => {}
        }
        json
    }
}
