//! commitlog 0.2 through its documented API (`append_msg`, `append` of a `MessageBuf`,
//! `flush`, `read`).
//!
//! Fairness: `CommitLog::flush` flushes the segment's `File` (a no-op) and msyncs the
//! index, but never fsyncs the data, so its "sync" figures are **not durable**.
//! `append` takes `&mut self`, so it cannot be shared between writer threads without
//! a lock around both append and flush; the group-commit rows are left empty.

use std::path::Path;
use std::time::Instant;

use commitlog::message::{MessageBuf, MessageSet};
use commitlog::{CommitLog, LogOptions, ReadLimit};

use crate::workload::{payload, AppendOp, Peer, Replay, Result, SharedLog, BATCH_LEN};

/// Bytes per `read` call during replay.
const READ_BYTES: usize = 1 << 20;

/// commitlog.
#[derive(Debug)]
pub(crate) struct Commitlog;

fn open(dir: &Path) -> Result<CommitLog> {
    Ok(CommitLog::new(LogOptions::new(dir))?)
}

fn message_buf(first: u64, len: u64) -> Result<MessageBuf> {
    let mut buf = MessageBuf::default();
    for i in first..first + len {
        buf.push(payload(0, i))
            .map_err(|e| format!("commitlog message: {e:?}"))?;
    }
    Ok(buf)
}

impl Peer for Commitlog {
    fn name(&self) -> &'static str {
        "commitlog"
    }

    fn sync_is_durable(&self) -> bool {
        false
    }

    fn fairness(&self) -> &'static str {
        "0.2.0, defaults; async = `append_msg`; sync = append + `flush()`, which never \
         fsyncs the data (NOT durable); not shareable between threads (`&mut self`), so \
         no group commit; replay = `CommitLog::new` + `read` in 1 MiB slices, hashes \
         verified"
    }

    fn async_appender(&self, dir: &Path, batch_len: usize) -> Result<Option<AppendOp>> {
        let mut log = open(dir)?;
        if batch_len == 1 {
            return Ok(Some(Box::new(move |i| {
                log.append_msg(payload(0, i))?;
                Ok(())
            })));
        }
        let len = batch_len as u64;
        Ok(Some(Box::new(move |i| {
            log.append(&mut message_buf(i * len, len)?)?;
            Ok(())
        })))
    }

    fn sync_appender(&self, dir: &Path, batch_len: usize) -> Result<AppendOp> {
        let mut log = open(dir)?;
        let len = batch_len as u64;
        Ok(Box::new(move |i| {
            if len == 1 {
                log.append_msg(payload(0, i))?;
            } else {
                log.append(&mut message_buf(i * len, len)?)?;
            }
            log.flush()?;
            Ok(())
        }))
    }

    fn group_appender(&self, _dir: &Path) -> Result<Option<SharedLog>> {
        Ok(None)
    }

    fn write_dataset(&self, dir: &Path, count: u64) -> Result<()> {
        let mut log = open(dir)?;
        let mut written = 0;
        while written < count {
            let len = (count - written).min(BATCH_LEN as u64);
            log.append(&mut message_buf(written, len)?)?;
            written += len;
        }
        log.flush()?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> Result<Replay> {
        let start = Instant::now();
        let log = open(dir)?;
        let opened = start.elapsed();
        let mut entries = 0u64;
        let mut offset = 0;
        loop {
            let buf = log.read(offset, ReadLimit::max_bytes(READ_BYTES))?;
            if buf.is_empty() {
                break;
            }
            if buf.verify_hashes().is_err() {
                return Err("commitlog message failed its hash".into());
            }
            let last = buf.iter().last().map_or(offset, |m| m.offset());
            entries += buf.len() as u64;
            offset = last + 1;
        }
        Ok(Replay {
            opened,
            total: start.elapsed(),
            entries,
        })
    }
}
