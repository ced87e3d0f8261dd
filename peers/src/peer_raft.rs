//! raft-engine 0.4.2 through its entry API (`LogBatch::add_entries`, `Engine::write`,
//! `fetch_entries_to`), one raft group per writer thread.
//!
//! Fairness: `Engine::sync()` in 0.4.2 writes an empty batch, which returns before any
//! fsync, so every "sync" here is `write(batch, sync = true)`. Batch compression (lz4
//! above 8 KiB by default) is off, so every log stores the same uncompressed bytes.

use std::path::Path;
use std::time::Instant;

use raft_engine::{Config, Engine, LogBatch, ReadableSize};

use crate::raft_message::{RaftEntry, RaftEntryExt};
use crate::workload::{payload, AppendOp, Peer, Replay, Result, SharedLog, BATCH_LEN};

/// Entries fetched per `fetch_entries_to` call during replay.
const FETCH_LEN: u64 = 65_536;

/// raft-engine.
#[derive(Debug)]
pub(crate) struct Raft;

fn open(dir: &Path) -> Result<Engine> {
    let config = Config {
        dir: dir.to_str().ok_or("scratch path is not UTF-8")?.to_owned(),
        batch_compression_threshold: ReadableSize(0),
        ..Config::default()
    };
    Ok(Engine::open(config)?)
}

/// Writes entries `first..first + len` of raft group `group` as one batch.
fn write(engine: &Engine, group: u64, first: u64, len: u64, sync: bool) -> Result<()> {
    let thread = usize::try_from(group)?;
    let entries: Vec<RaftEntry> = (first..first + len)
        .map(|i| RaftEntry::new(i + 1, payload(thread, i).to_vec()))
        .collect();
    let mut batch = LogBatch::with_capacity(entries.len());
    batch.add_entries::<RaftEntryExt>(group + 1, &entries)?;
    engine.write(&mut batch, sync)?;
    Ok(())
}

impl Peer for Raft {
    fn name(&self) -> &'static str {
        "raft-engine"
    }

    fn fairness(&self) -> &'static str {
        "0.4.2, defaults except batch compression off; `Engine::sync()` is a no-op in \
         0.4.2 (empty batch), so sync = `write(batch, true)`; async = `write(batch, false)`; \
         one raft group per writer; replay = `Engine::open` + `fetch_entries_to` in 64 Ki \
         chunks"
    }

    fn async_appender(&self, dir: &Path, batch_len: usize) -> Result<Option<AppendOp>> {
        let engine = open(dir)?;
        let len = batch_len as u64;
        Ok(Some(Box::new(move |i| {
            write(&engine, 0, i * len, len, false)
        })))
    }

    fn sync_appender(&self, dir: &Path, batch_len: usize) -> Result<AppendOp> {
        let engine = open(dir)?;
        let len = batch_len as u64;
        Ok(Box::new(move |i| write(&engine, 0, i * len, len, true)))
    }

    fn group_appender(&self, dir: &Path) -> Result<Option<SharedLog>> {
        let engine = open(dir)?;
        Ok(Some(SharedLog {
            append: Box::new(move |t, i| write(&engine, u64::try_from(t)?, i, 1, true)),
            syncs: None,
        }))
    }

    fn write_dataset(&self, dir: &Path, count: u64) -> Result<()> {
        let engine = open(dir)?;
        let mut written = 0;
        while written < count {
            let len = (count - written).min(BATCH_LEN as u64);
            let last = written + len >= count;
            write(&engine, 0, written, len, last)?;
            written += len;
        }
        Ok(())
    }

    fn replay(&self, dir: &Path) -> Result<Replay> {
        let start = Instant::now();
        let engine = open(dir)?;
        let opened = start.elapsed();
        let (Some(first), Some(last)) = (engine.first_index(1), engine.last_index(1)) else {
            return Ok(Replay {
                opened,
                total: opened,
                entries: 0,
            });
        };
        let mut entries = 0u64;
        let mut checksum = 0u64;
        let mut buffer = Vec::with_capacity(usize::try_from(FETCH_LEN)?);
        let mut at = first;
        while at <= last {
            let end = (at + FETCH_LEN).min(last + 1);
            buffer.clear();
            engine.fetch_entries_to::<RaftEntryExt>(1, at, end, None, &mut buffer)?;
            entries += buffer.len() as u64;
            checksum = checksum.wrapping_add(buffer.iter().map(|e| e.data.len() as u64).sum());
            at = end;
        }
        let elapsed = start.elapsed();
        std::hint::black_box(checksum);
        Ok(Replay {
            opened,
            total: elapsed,
            entries,
        })
    }
}
