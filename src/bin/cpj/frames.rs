//! Frames as `dump` and `tail` print them: the filters they share, a fixed-width human
//! line per entry (so output streams without buffering a table), and one JSON object per
//! frame (`cpj.dump.v1` / `cpj.tail.v1`, docs/CLI.md).

use clap::ValueEnum;
use serde::Serialize;

use checkpoint_journal::{CheckpointRecord, Entry, Frame, MetaRecord, Op};

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
    /// Checkpoint-coordination records (format version 2).
    Meta,
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
            Frame::Entries { lsn, entries } if self.kind.is_none_or(|k| k == KindArg::Entries) => {
                let entries: Vec<Entry> = entries
                    .into_iter()
                    .filter(|e| self.entry_matches(e))
                    .collect();
                (!entries.is_empty()).then_some(Frame::Entries { lsn, entries })
            }
            Frame::Checkpoint { lsn, record }
                if self.kind.is_none_or(|k| k == KindArg::Checkpoint) && self.op.is_none() =>
            {
                Some(Frame::Checkpoint { lsn, record })
            }
            Frame::Meta { lsn, record }
                if self.kind.is_none_or(|k| k == KindArg::Meta)
                    && self.op.is_none()
                    && self.source.is_none() =>
            {
                Some(Frame::Meta { lsn, record })
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
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<serde_json::Value>,
}

/// Bytes as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// One line for a meta record in human output.
fn meta_line(record: &MetaRecord) -> String {
    match record {
        MetaRecord::SourceRegistered { name, source_id } => {
            format!("source {name:?} registered as id {source_id}")
        }
        MetaRecord::SinkRegistered { name, sink_id } => {
            format!("sink {name:?} registered as id {sink_id}")
        }
        MetaRecord::Family { name } => format!("source family {name:?}"),
        MetaRecord::CursorCommitted {
            journal_id,
            name,
            position,
        } => format!("cursor {name:?} committed at LSN {position} (journal {journal_id:032x})"),
        MetaRecord::Progress {
            checkpoint_id,
            family,
            sources,
        } => format!(
            "progress of {} {family:?} sources for checkpoint {checkpoint_id}",
            sources.len()
        ),
        MetaRecord::Retention { max_retained } => {
            format!("retention: the last {max_retained} checkpoints")
        }
        other => format!("{other:?}"),
    }
}

/// A meta record in JSON: `record` names the variant; ids are hex strings.
fn meta_json(record: &MetaRecord) -> serde_json::Value {
    use serde_json::json;
    match record {
        MetaRecord::SourceRegistered { name, source_id } => {
            json!({ "record": "source_registered", "name": name, "source_id": source_id })
        }
        MetaRecord::SinkRegistered { name, sink_id } => {
            json!({ "record": "sink_registered", "name": name, "sink_id": sink_id })
        }
        MetaRecord::Family { name } => json!({ "record": "family", "name": name }),
        MetaRecord::CursorCommitted {
            journal_id,
            name,
            position,
        } => json!({
            "record": "cursor_committed",
            "journal_id": format!("{journal_id:032x}"),
            "name": name,
            "position": position,
        }),
        MetaRecord::Progress {
            checkpoint_id,
            family,
            sources,
        } => json!({
            "record": "progress",
            "checkpoint_id": checkpoint_id,
            "family": family,
            "sources": sources.iter().map(|s| json!({
                "source_id": s.source_id,
                "offset_hex": hex(&s.offset),
                "committed_event_count": s.committed_event_count,
            })).collect::<Vec<_>>(),
        }),
        MetaRecord::Retention { max_retained } => {
            json!({ "record": "retention", "max_retained": max_retained })
        }
        other => json!({ "record": format!("{other:?}") }),
    }
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
            Frame::Meta { lsn, record } => out.line(format!(
                "{:>14}  {:<10}  {}",
                lsn.0,
                "meta",
                meta_line(record)
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
            meta: None,
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
            Frame::Meta { record, .. } => {
                json.kind = "meta";
                json.meta = Some(meta_json(record));
            }
            _ => {}
        }
        json
    }
}
