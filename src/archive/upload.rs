//! One archiving round: find the segments sealed since the last round, take at most
//! `queue_segments_max` of them, make each durable, upload it create-only under its
//! immutable key, and publish it in the manifest.
//!
//! A segment is sealed when the published frontier has reached its end: no frame can
//! be added to it any more, so its bytes are final. The archiver flushes it itself
//! (from its own thread), so archiving also works in `Async` mode. A compaction pin at
//! the first segment not yet archived keeps compaction from retiring it first; after
//! the segments, the round archives the newest local snapshot (`snapshots.rs`).

use std::collections::VecDeque;

use object_store::PutMode;

use super::archiver::Shared;
use super::config::ArchiveConfig;
use super::keys;
use super::manifest::SegmentRef;
use super::publish::Publisher;
use super::remote::{PutOutcome, Remote};
use super::snapshots;
use crate::append::Log;
use crate::compaction::Pin;
use crate::error::{Error, Result};
use crate::flush;
use crate::lsn::Lsn;
use crate::segment::Segment;
use crate::sync::{lock, Arc, Ordering};

/// The archiving state of one journal.
#[derive(Debug)]
pub(crate) struct Uploader {
    log: Arc<Log>,
    /// Held at `next_lsn`: compaction keeps the segments not yet archived.
    pin: Pin,
    remote: Remote,
    publisher: Publisher,
    prefix: String,
    queue_segments_max: usize,
    keep_snapshots: usize,
    snapshots_uploaded: u64,
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
        pin: Pin,
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
        let mut next_lsn = publisher.current.end_lsn().unwrap_or(first_local);
        let mut snapshots_uploaded = 0;
        if next_lsn < first_local {
            restart_from_snapshot(&log, &remote, &mut publisher, prefix, first_local)?;
            next_lsn = first_local;
            snapshots_uploaded = 1;
        }
        pin.advance(next_lsn);
        Ok(Uploader {
            log,
            pin,
            remote,
            publisher,
            prefix: prefix.to_owned(),
            queue_segments_max: config.queue_segments_max,
            keep_snapshots: config.keep_snapshots,
            snapshots_uploaded,
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
            self.pin.advance(self.next_lsn);
            self.publish_stats(shared);
        }
        self.archive_snapshot()?;
        self.publish_stats(shared);
        Ok(())
    }

    /// Uploads and publishes the newest local snapshot once the archived segments
    /// reach it.
    fn archive_snapshot(&mut self) -> Result<()> {
        let manifest = &self.publisher.current;
        let newest_archived = manifest.snapshots.last().map(|s| s.lsn);
        let first = manifest
            .segments
            .first()
            .map_or(self.next_lsn, |s| s.base_lsn);
        let Some((lsn, bytes)) = snapshots::newest_local(&self.log)? else {
            return Ok(());
        };
        if newest_archived.is_some_and(|n| n >= lsn) || lsn > self.next_lsn || lsn < first {
            return Ok(());
        }
        let epoch = manifest.epoch;
        let reference = snapshots::upload(
            &self.remote,
            &self.prefix,
            self.log.journal_id,
            epoch,
            lsn,
            &bytes,
        )?;
        let keep = self.keep_snapshots;
        self.publisher
            .publish(&self.remote, |m| snapshots::add(m, reference, keep))?;
        self.snapshots_uploaded += 1;
        self.bytes_uploaded += bytes.len() as u64;
        self.manifests_published += 1;
        Ok(())
    }

    /// Copies the counters into the shared stats and wakes waiters.
    pub(crate) fn publish_stats(&self, shared: &Shared) {
        let mut stats = lock(&shared.stats);
        stats.epoch = self.publisher.current.epoch;
        stats.queue_depth = self.queue.len() as u64;
        stats.backlog_segments = self.backlog;
        stats.segments_uploaded = self.segments_uploaded;
        stats.snapshots_uploaded = self.snapshots_uploaded;
        stats.snapshot_lsn = self.publisher.current.snapshots.last().map(|s| s.lsn);
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

/// Compaction retired segments that were never archived: the archive restarts from the
/// newest local snapshot (the manifest then lists it and no segment, until the first
/// local segment is archived).
fn restart_from_snapshot(
    log: &Log,
    remote: &Remote,
    publisher: &mut Publisher,
    prefix: &str,
    first_local: u64,
) -> Result<()> {
    let end = publisher.current.end_lsn().unwrap_or(0);
    let gap = |why: &str| Error::RemoteCorrupt {
        key: keys::manifest(prefix).to_string(),
        reason: format!(
            "the archive ends at LSN {end} but the journal starts at {first_local} (segments \
             were retired locally before they were archived) and {why}"
        ),
    };
    let Some((lsn, bytes)) = snapshots::newest_local(log)? else {
        return Err(gap("no local snapshot can restart the archive"));
    };
    if lsn < first_local {
        return Err(gap(
            "the newest local snapshot is older than the first segment",
        ));
    }
    let epoch = publisher.current.epoch;
    let reference = snapshots::upload(remote, prefix, log.journal_id, epoch, lsn, &bytes)?;
    tracing::warn!(
        end,
        first_local,
        snapshot = lsn,
        "archive restarted from a snapshot"
    );
    publisher.publish(remote, |m| {
        m.segments.clear();
        m.snapshots = vec![reference];
    })
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
