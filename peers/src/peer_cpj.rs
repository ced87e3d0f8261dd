//! checkpoint-journal itself, with its defaults (64 MiB segments, background
//! preallocation) and the durability mode each workload names.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use checkpoint_journal::{Appender, Durability, Entry, FrameRef, Journal, Options};

use crate::workload::{entry, AppendOp, Peer, Replay, Result, SharedLog, BATCH_LEN};

/// checkpoint-journal.
#[derive(Debug)]
pub(crate) struct Cpj;

fn open(dir: &Path, durability: Durability) -> Result<Journal> {
    Ok(Journal::open(
        dir,
        Options::default().durability(durability),
    )?)
}

fn batch(thread: usize, first: u64, len: usize) -> Vec<Entry> {
    (first..first + len as u64)
        .map(|i| entry(thread, i))
        .collect()
}

impl Peer for Cpj {
    fn name(&self) -> &'static str {
        "checkpoint-journal"
    }

    fn fairness(&self) -> &'static str {
        "defaults (64 MiB segments, background preallocation); async = `Durability::Async` \
         single appends through a per-thread `Appender` handle (`journal.appender()`, the \
         API for one writer thread appending one entry at a time), batches through \
         `append_batch`; sync = `Durability::Sync` (msync of the written range, group commit); \
         replay = `Journal::open` + `read_from(first_lsn)` over every frame through \
         `Reader::next_ref` (entries borrowed from the reader's reused buffer; the frames \
         recovery validated are not checksummed a second time); the data set is closed \
         with `close`, so open finds the clean-shutdown claim and does not read the zero \
         tail of the last segment"
    }

    fn async_appender(&self, dir: &Path, batch_len: usize) -> Result<Option<AppendOp>> {
        let journal = open(dir, Durability::Async)?;
        if batch_len == 1 {
            // The per-thread handle: what a single-threaded writer appending one entry at
            // a time uses (it owns the journal here, and closes it when dropped).
            let mut appender = Appender::new(Box::new(journal));
            return Ok(Some(Box::new(move |i| {
                appender.append(entry(0, i))?;
                Ok(())
            })));
        }
        let entries = batch(0, 0, batch_len);
        Ok(Some(Box::new(move |_| {
            journal.append_batch(&entries)?;
            Ok(())
        })))
    }

    fn sync_appender(&self, dir: &Path, batch_len: usize) -> Result<AppendOp> {
        let journal = open(dir, Durability::Sync)?;
        if batch_len == 1 {
            return Ok(Box::new(move |i| {
                journal.append(entry(0, i))?;
                Ok(())
            }));
        }
        Ok(Box::new(move |i| {
            journal.append_batch(&batch(0, i * batch_len as u64, batch_len))?;
            Ok(())
        }))
    }

    fn group_appender(&self, dir: &Path) -> Result<Option<SharedLog>> {
        let journal = Arc::new(open(dir, Durability::Sync)?);
        let counted = Arc::clone(&journal);
        Ok(Some(SharedLog {
            append: Box::new(move |t, i| {
                journal.append(entry(t, i))?;
                Ok(())
            }),
            syncs: Some(Box::new(move || counted.flush_count())),
        }))
    }

    fn write_dataset(&self, dir: &Path, count: u64) -> Result<()> {
        let journal = open(dir, Durability::Async)?;
        let mut written = 0;
        while written < count {
            let len = (count - written).min(BATCH_LEN as u64);
            journal.append_batch(&batch(0, written, usize::try_from(len)?))?;
            written += len;
        }
        journal.flush()?;
        journal.close()?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> Result<Replay> {
        let start = Instant::now();
        let journal = open(dir, Durability::Async)?;
        let opened = start.elapsed();
        let mut entries = 0u64;
        let mut checksum = 0u64;
        let mut reader = journal.read_from(journal.first_lsn())?;
        while let Some(frame) = reader.next_ref()? {
            if let FrameRef::Entries { entries: batch, .. } = frame {
                entries += batch.len() as u64;
                checksum = checksum.wrapping_add(batch.last().map_or(0, |e| e.sequence));
            }
        }
        drop(reader);
        let elapsed = start.elapsed();
        std::hint::black_box(checksum);
        journal.close()?;
        Ok(Replay {
            opened,
            total: elapsed,
            entries,
        })
    }
}
