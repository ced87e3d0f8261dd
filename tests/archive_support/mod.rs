//! Shared helpers of the archive tests: a journal that fills segments quickly, a store
//! wrapper that can fail, ignore preconditions, or spell `ETags` the way Ceph RGW 16.2
//! does, and a comparison of two journals' frames.
#![allow(dead_code, reason = "each test file uses a part")]

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use checkpoint_journal::archive::object_store::path::Path;
use checkpoint_journal::archive::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, UpdateVersion,
};
use checkpoint_journal::{CheckpointRecord, Entry, Error, Frame, Journal, Lsn, Options, Result};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

/// Segment size of the test journals: 64 KiB, 61 440 data bytes.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024;
/// Data bytes per segment.
pub(crate) const CAPACITY: u64 = SEGMENT_BYTES - 4096;

pub(crate) fn options() -> Options {
    Options::default().segment_size_bytes(SEGMENT_BYTES)
}

pub(crate) fn tempdir() -> Result<tempfile::TempDir> {
    tempfile::tempdir().map_err(|e| Error::io("tmp", "tempdir", e))
}

/// Appends batches of 64 entries (and a checkpoint every 16 batches) until the journal
/// has sealed `segments` more segments; returns the base of the active segment.
pub(crate) fn fill_segments(journal: &Journal, segments: u64, seed: u64) -> Result<Lsn> {
    let target = (journal.end_lsn().0 / CAPACITY + segments) * CAPACITY;
    let mut i = seed;
    while journal.end_lsn().0 < target {
        let batch: Vec<Entry> = (0..64u64)
            .map(|k| Entry::push(u16::try_from((i + k) % 5).unwrap_or(0), i + k, 0))
            .collect();
        journal.append_batch(&batch)?;
        if i.is_multiple_of(16) {
            journal.checkpoint(&CheckpointRecord {
                id: i,
                ..CheckpointRecord::default()
            })?;
        }
        i += 1;
    }
    Ok(Lsn(journal.end_lsn().0 / CAPACITY * CAPACITY))
}

/// Every frame of `journal` below `end`.
pub(crate) fn frames_below(journal: &Journal, end: Lsn) -> Result<Vec<Frame>> {
    let mut out = Vec::new();
    for frame in journal.read_from(journal.first_lsn())? {
        let frame = frame?;
        let lsn = match &frame {
            Frame::Entries { lsn, .. } | Frame::Checkpoint { lsn, .. } => *lsn,
            _ => continue,
        };
        if lsn >= end {
            break;
        }
        out.push(frame);
    }
    Ok(out)
}

/// An object store in front of another, with switches.
#[derive(Debug)]
pub(crate) struct Wrapped {
    pub(crate) inner: Arc<dyn ObjectStore>,
    /// Every request fails as a network error would.
    pub(crate) down: AtomicBool,
    /// Every put overwrites, whatever its mode (as Garage 2.5 does).
    pub(crate) ignore_preconditions: bool,
    /// `ETags` are returned in quotes and refused in quotes by a conditional update (as
    /// Ceph RGW 16.2 does).
    pub(crate) quote_etags: bool,
    /// Conditional updates seen.
    pub(crate) updates: AtomicU64,
}

impl Wrapped {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>) -> Wrapped {
        Wrapped {
            inner,
            down: AtomicBool::new(false),
            ignore_preconditions: false,
            quote_etags: false,
            updates: AtomicU64::new(0),
        }
    }

    fn check(&self) -> object_store::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(object_store::Error::Generic {
                store: "Wrapped",
                source: "connection refused (simulated outage)".into(),
            });
        }
        Ok(())
    }

    fn quote(&self, tag: Option<String>) -> Option<String> {
        match tag {
            Some(t) if self.quote_etags && !t.starts_with('"') => Some(format!("\"{t}\"")),
            other => other,
        }
    }
}

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wrapped({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Wrapped {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        mut opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.check()?;
        if self.ignore_preconditions {
            opts.mode = PutMode::Overwrite;
        }
        if let PutMode::Update(v) = &opts.mode {
            self.updates.fetch_add(1, Ordering::SeqCst);
            if self.quote_etags {
                let tag = v.e_tag.clone().unwrap_or_default();
                if tag.starts_with('"') {
                    return Err(object_store::Error::Precondition {
                        path: location.to_string(),
                        source: "412 (quoted If-Match)".into(),
                    });
                }
                // The in-memory store itself compares ETags in quotes.
                opts.mode = PutMode::Update(UpdateVersion {
                    e_tag: Some(format!("\"{tag}\"")),
                    version: v.version.clone(),
                });
            }
        }
        let mut r = self.inner.put_opts(location, payload, opts).await?;
        r.e_tag = self.quote(r.e_tag.take());
        Ok(r)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.check()?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.check()?;
        let mut r = self.inner.get_opts(location, options).await?;
        r.meta.e_tag = self.quote(r.meta.e_tag.take());
        Ok(r)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        if let Err(e) = self.check() {
            return futures_util::stream::once(async move { Err(e) }).boxed();
        }
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        if let Err(e) = self.check() {
            return futures_util::stream::once(async move { Err(e) }).boxed();
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.check()?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.check()?;
        self.inner.copy_opts(from, to, options).await
    }
}
