//! okaywal 0.3 through its documented API: one log entry per append (`begin_entry`,
//! `write_chunk`, `commit`), one chunk per 24-byte record.
//!
//! Fairness: `commit` always fsyncs, so okaywal has no non-durable append. Its "async"
//! figures are `write_chunk` calls into one open entry (buffered writes), never
//! committed (rolled back, untimed, at the end). Checkpointing is pushed past the data
//! sets written here (`checkpoint_after_bytes` = `u64::MAX`), so a replay reads every
//! entry back from the log rather than from the manager's checkpoint.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use okaywal::{
    Configuration, Entry, EntryId, LogManager, ReadChunkResult, SegmentReader, WriteAheadLog,
};

use crate::workload::{payload, AppendOp, Peer, Replay, Result, SharedLog};

/// Chunks per entry in the replay data set (one fsync per entry while writing it).
const DATASET_ENTRY_CHUNKS: u64 = 100_000;

/// okaywal.
#[derive(Debug)]
pub(crate) struct OkayWal;

/// A manager that counts the chunks recovery hands it, after checking each one's CRC.
#[derive(Debug, Default)]
struct Counter {
    chunks: Arc<AtomicU64>,
}

impl LogManager for Counter {
    fn recover(&mut self, entry: &mut Entry<'_>) -> std::io::Result<()> {
        let mut chunks = 0;
        while let ReadChunkResult::Chunk(mut chunk) = entry.read_chunk()? {
            let bytes = chunk.read_all()?;
            if !chunk.check_crc()? || bytes.len() != 24 {
                return Err(std::io::Error::other("okaywal chunk failed its CRC"));
            }
            chunks += 1;
        }
        self.chunks.fetch_add(chunks, Ordering::Relaxed);
        Ok(())
    }

    fn checkpoint_to(
        &mut self,
        _last_checkpointed_id: EntryId,
        _checkpointed_entries: &mut SegmentReader,
        _wal: &WriteAheadLog,
    ) -> std::io::Result<()> {
        Ok(())
    }
}

fn open_counting(dir: &Path) -> Result<(WriteAheadLog, Arc<AtomicU64>)> {
    let counter = Counter::default();
    let chunks = Arc::clone(&counter.chunks);
    let wal = Configuration::default_for(dir)
        .checkpoint_after_bytes(u64::MAX)
        .open(counter)?;
    Ok((wal, chunks))
}

fn open(dir: &Path) -> Result<WriteAheadLog> {
    Ok(open_counting(dir)?.0)
}

/// One entry of chunks `first..first + len`, committed (fsync).
fn commit(wal: &WriteAheadLog, thread: usize, first: u64, len: u64) -> Result<()> {
    let mut writer = wal.begin_entry()?;
    for i in first..first + len {
        writer.write_chunk(&payload(thread, i))?;
    }
    writer.commit()?;
    Ok(())
}

impl Peer for OkayWal {
    fn name(&self) -> &'static str {
        "okaywal"
    }

    fn fairness(&self) -> &'static str {
        "0.3.1, defaults except no checkpoint during the runs; one entry per append, one \
         chunk per record; `commit` always fsyncs, so async = `write_chunk` into one open \
         entry, never committed; replay = `WriteAheadLog::open` reading \
         every chunk (CRC checked) in `LogManager::recover`"
    }

    fn async_appender(&self, dir: &Path, batch_len: usize) -> Result<Option<AppendOp>> {
        if batch_len != 1 {
            return Ok(None);
        }
        // An open `EntryWriter` borrows its log, and the operation must own both: the
        // log is leaked (one per run; its files are removed with the scratch directory).
        let wal: &'static WriteAheadLog = Box::leak(Box::new(open(dir)?));
        let mut writer = wal.begin_entry()?;
        Ok(Some(Box::new(move |i| {
            writer.write_chunk(&payload(0, i))?;
            Ok(())
        })))
    }

    fn sync_appender(&self, dir: &Path, batch_len: usize) -> Result<AppendOp> {
        let wal = open(dir)?;
        let len = batch_len as u64;
        Ok(Box::new(move |i| commit(&wal, 0, i * len, len)))
    }

    fn group_appender(&self, dir: &Path) -> Result<Option<SharedLog>> {
        let wal = open(dir)?;
        Ok(Some(SharedLog {
            append: Box::new(move |t, i| commit(&wal, t, i, 1)),
            syncs: None,
        }))
    }

    fn write_dataset(&self, dir: &Path, count: u64) -> Result<()> {
        let wal = open(dir)?;
        let mut written = 0;
        while written < count {
            let len = (count - written).min(DATASET_ENTRY_CHUNKS);
            commit(&wal, 0, written, len)?;
            written += len;
        }
        wal.shutdown()?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> Result<Replay> {
        let start = Instant::now();
        let (wal, chunks) = open_counting(dir)?;
        let elapsed = start.elapsed();
        wal.shutdown()?;
        Ok(Replay {
            opened: elapsed,
            total: elapsed,
            entries: chunks.load(Ordering::Relaxed),
        })
    }
}
