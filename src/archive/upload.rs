//! One archiving round: find the segments sealed since the last round, take at most
//! `queue_segments_max` of them, make each durable, upload it create-only under its
//! immutable key, and publish it in the manifest.
//!
//! A segment is sealed when the published frontier has reached its end: no frame can
//! be added to it any more, so its bytes are final. The archiver flushes it itself
//! (from its own thread), so archiving also works in `Async` mode.

use std::collections::VecDeque;

use object_store::PutMode;

use super::archiver::Shared;
use super::config::ArchiveConfig;
use super::keys;
use super::manifest::SegmentRef;
use super::publish::Publisher;
use super::remote::{PutOutcome, Remote};
use crate::append::Log;
use crate::error::{Error, Result};
use crate::flush;
use crate::lsn::Lsn;
use crate::segment::Segment;
use crate::sync::{lock, Arc, Ordering};

/// The archiving state of one journal.
#[derive(Debug)]
pub(crate) struct Uploader {
    log: Arc<Log>,
    remote: Remote,
    publisher: Publisher,
    prefix: String,
    queue_segments_max: usize,
    /// Base LSN of the next segment to archive.
    next_lsn: u64,
    queue: VecDeque<Arc<Segment>>,
    backlog: u64,
    segments_uploaded: u64,
    bytes_uploaded: u64,
    manifests_published: u64,
}

impl Uploader {
    /// Starts where the manifest ends, after dropping any manifest segments that the
    /// local journal contradicts (a journal restored from an older point diverges there).
    pub(crate) fn new(
        log: Arc<Log>,
        remote: Remote,
        mut publisher: Publisher,
        prefix: &str,
        config: &ArchiveConfig,
    ) -> Result<Uploader> {
        let keep = matching_prefix(&log, &publisher.current.segments);
        if keep < publisher.current.segments.len() {
            tracing::warn!(
                kept = keep,
                "archived segments after the local journal's history dropped from the manifest"
            );
            publisher.publish(&remote, |m| m.segments.truncate(keep))?;
        }
        let first_local = lock(&log.segments)
            .by_base
            .keys()
            .next()
            .copied()
            .unwrap_or(0);
        let next_lsn = publisher.current.end_lsn().unwrap_or(first_local);
        if next_lsn < first_local {
            return Err(Error::RemoteCorrupt {
                key: keys::manifest(prefix).to_string(),
                reason: format!(
                    "the archive ends at LSN {next_lsn} but the journal starts at {first_local}: \
                     the segments between were removed locally before they were archived"
                ),
            });
        }
        Ok(Uploader {
            log,
            remote,
            publisher,
            prefix: prefix.to_owned(),
            queue_segments_max: config.queue_segments_max,
            next_lsn,
            queue: VecDeque::new(),
            backlog: 0,
            segments_uploaded: 0,
            bytes_uploaded: 0,
            manifests_published: 1,
        })
    }

    /// One round (see the module doc).
    pub(crate) fn round(&mut self, shared: &Shared) -> Result<()> {
        self.fill_queue();
        self.publish_stats(shared);
        while let Some(segment) = self.queue.front().cloned() {
            self.archive(&segment)?;
            self.queue.pop_front();
            self.next_lsn = segment.end();
            self.publish_stats(shared);
        }
        Ok(())
    }

    /// Copies the counters into the shared stats and wakes waiters.
    pub(crate) fn publish_stats(&self, shared: &Shared) {
        let mut stats = lock(&shared.stats);
        stats.epoch = self.publisher.current.epoch;
        stats.queue_depth = self.queue.len() as u64;
        stats.backlog_segments = self.backlog;
        stats.segments_uploaded = self.segments_uploaded;
        stats.bytes_uploaded = self.bytes_uploaded;
        stats.manifests_published = self.manifests_published;
        stats.archived_lsn = self.next_lsn;
        stats.retries = self.remote.retries.load(Ordering::Relaxed);
        drop(stats);
        shared.changed.notify_all();
    }

    /// Takes sealed segments after those queued, up to the bound; counts the rest.
    fn fill_queue(&mut self) {
        let published = flush::advance_published(&self.log);
        let from = self.queue.back().map_or(self.next_lsn, |s| s.end());
        let table = lock(&self.log.segments);
        let sealed = table
            .by_base
            .range(from..)
            .map(|(_, s)| s)
            .take_while(|s| s.end() <= published);
        let mut backlog = 0;
        for segment in sealed {
            if self.queue.len() < self.queue_segments_max {
                self.queue.push_back(Arc::clone(segment));
            } else {
                backlog += 1;
            }
        }
        self.backlog = backlog;
    }

    /// Makes one sealed segment durable, uploads it and publishes it.
    fn archive(&mut self, segment: &Segment) -> Result<()> {
        debug_assert_eq!(segment.base(), self.next_lsn);
        flush::flush_to(&self.log, Lsn(segment.end()))?;
        let bytes = segment.file_bytes();
        let epoch = self.publisher.current.epoch;
        let key = keys::segment(&self.prefix, self.log.journal_id, segment.base(), epoch);
        let crc = crc32c::crc32c(&bytes);
        match self.remote.put(&key, &bytes, &PutMode::Create)? {
            PutOutcome::Written(_) => {}
            PutOutcome::AlreadyExists => self.check_existing(&key, &bytes, crc)?,
            other => {
                return Err(Error::RemoteCorrupt {
                    key: key.to_string(),
                    reason: format!("create-only upload refused: {other:?}"),
                })
            }
        }
        self.segments_uploaded += 1;
        self.bytes_uploaded += bytes.len() as u64;
        let reference = SegmentRef {
            base_lsn: segment.base(),
            end_lsn: segment.end(),
            epoch,
            bytes: bytes.len() as u64,
            crc32c: crc,
        };
        self.publisher
            .publish(&self.remote, |m| m.segments.push(reference))?;
        self.manifests_published += 1;
        Ok(())
    }

    /// A key of this epoch already present: an earlier attempt whose response was
    /// lost, which is fine only if it holds these very bytes.
    fn check_existing(&self, key: &object_store::path::Path, bytes: &[u8], crc: u32) -> Result<()> {
        let found = self.remote.get(key, bytes.len() as u64)?;
        match found {
            Some(f) if crc32c::crc32c(&f.bytes) == crc && f.bytes == bytes => Ok(()),
            _ => Err(Error::RemoteCorrupt {
                key: key.to_string(),
                reason: "a segment object of this epoch already exists with other bytes".into(),
            }),
        }
    }
}

/// How many of the manifest's leading segments agree with the local journal: those
/// before the local journal's first segment are trusted, the others must be sealed
/// locally with the same checksum. Checks from the newest, so usually one segment.
fn matching_prefix(log: &Log, segments: &[SegmentRef]) -> usize {
    let published = flush::advance_published(log);
    let table = lock(&log.segments);
    let first_local = table.by_base.keys().next().copied().unwrap_or(0);
    for (i, r) in segments.iter().enumerate().rev() {
        if r.end_lsn <= first_local {
            return i + 1;
        }
        let Some(local) = table.by_base.get(&r.base_lsn) else {
            continue;
        };
        if local.end() == r.end_lsn
            && local.end() <= published
            && crc32c::crc32c(&local.file_bytes()) == r.crc32c
        {
            return i + 1;
        }
    }
    0
}
