//! The published stats file, writer side: a background thread (`cpj-stats`) replaces
//! `journal.stats` in the journal's directory with the journal's [`Stats`] every
//! `Options::stats_file_interval`, so that another process (`cpj stats`) reads live
//! figures without opening the journal.
//!
//! Nothing runs on the append path: the thread takes a `Stats` as `Journal::stats()`
//! does. The file is advisory: written to a temporary file and renamed over the old one
//! (a reader sees the old or the new one whole), never synced, never read by recovery,
//! and removed when the journal closes. It names the writer (host, boot id, pid,
//! process start time, as the owner lease does), so a reader can tell a snapshot left
//! by a crashed writer from a live one. Its layout: `crate::format::stats_file`.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Stats;
use crate::append::Log;
use crate::format::stats_file::{self, STATS_FILE_BYTES_MAX};
use crate::lease::identity::Identity;
use crate::periodic::Periodic;
use crate::storage::Storage;
use crate::sync::Arc;

/// Name of the published stats file inside a journal directory.
pub const STATS_FILE_NAME: &str = "journal.stats";

/// Longest string (error message, directory) the record carries, in bytes: bounds the file.
const STRING_BYTES_MAX: usize = 2048;

/// The payload of a stats file (postcard). A new field means a new
/// `stats_file::STATS_VERSION`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) host: String,
    pub(crate) boot_id: u128,
    pub(crate) pid: u32,
    pub(crate) start_ticks: u64,
    /// Unix milliseconds.
    pub(crate) written_at_ms: u64,
    /// The writer's publishing interval.
    pub(crate) interval_ms: u64,
    /// Publications since the journal opened (1 for the first).
    pub(crate) sequence: u64,
    pub(crate) stats: Stats,
}

impl Record {
    /// Whether this record names the process `who`.
    pub(crate) fn written_by(&self, host: &str, pid: u32, start_ticks: u64) -> bool {
        self.host == host && self.pid == pid && self.start_ticks == start_ticks
    }

    /// The file's bytes, strings cut to their bound; `None` if it would still not fit.
    pub(crate) fn encode(mut self) -> Option<Vec<u8>> {
        let s = &mut self.stats;
        s.dir = PathBuf::from(cut(&s.dir.to_string_lossy()));
        if let Some(p) = s.poisoned.as_mut() {
            *p = cut(p);
        }
        if let Some(e) = s.archive.as_mut().and_then(|a| a.last_error.as_mut()) {
            *e = cut(e);
        }
        self.host = cut(&self.host);
        let payload = postcard::to_allocvec(&self).ok()?;
        stats_file::encode(&payload)
    }

    /// Decodes a stats file's bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Record, stats_file::StatsFileFault> {
        let payload = stats_file::decode(bytes)?;
        let (record, rest) = postcard::take_from_bytes::<Record>(payload)
            .map_err(|e| stats_file::StatsFileFault::Payload(e.to_string()))?;
        if !rest.is_empty() {
            return Err(stats_file::StatsFileFault::Payload(format!(
                "{} bytes after the record",
                rest.len()
            )));
        }
        Ok(record)
    }
}

fn cut(text: &str) -> String {
    let mut end = text.len().min(STRING_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

/// The background publisher; stopped (and the file removed) at close.
#[derive(Debug)]
pub(crate) struct StatsFileThread {
    thread: Periodic,
    storage: Arc<dyn Storage>,
    path: PathBuf,
    me: Identity,
}

/// What the publishing thread carries between publications.
struct Publisher {
    log: Arc<Log>,
    path: PathBuf,
    me: Identity,
    every: Duration,
    sequence: u64,
    warned: bool,
}

impl StatsFileThread {
    /// Publishes now and then every `every` until stopped; `None` if the thread could not
    /// start (the journal works on without it).
    pub(crate) fn start(log: &Arc<Log>, every: Duration) -> Option<StatsFileThread> {
        let path = log.dir.join(STATS_FILE_NAME);
        let me = Identity::this_process();
        let mut publisher = Publisher {
            log: Arc::clone(log),
            path: path.clone(),
            me: me.clone(),
            every,
            sequence: 0,
            warned: false,
        };
        publisher.publish();
        let thread = Periodic::spawn("cpj-stats", every, move || {
            publisher.publish();
            ControlFlow::Continue(())
        })
        .ok()?;
        Some(StatsFileThread {
            thread,
            storage: Arc::clone(&log.storage),
            path,
            me,
        })
    }

    /// Stops the thread and removes the file if it is still this process's.
    pub(crate) fn stop(&mut self) {
        self.thread.stop();
        remove_if_ours(&*self.storage, &self.path, &self.me);
    }
}

impl Publisher {
    fn publish(&mut self) {
        self.sequence += 1;
        let record = Record {
            host: self.me.host.clone(),
            boot_id: self.me.boot_id,
            pid: self.me.pid,
            start_ticks: self.me.start_ticks,
            written_at_ms: crate::stats::now_ms(),
            interval_ms: super::millis(self.every),
            sequence: self.sequence,
            stats: super::live(&self.log),
        };
        let outcome = match record.encode() {
            Some(bytes) => self
                .log
                .storage
                .replace_advisory_file(&self.path, &bytes)
                .map_err(|e| e.to_string()),
            None => Err(format!("larger than {STATS_FILE_BYTES_MAX} bytes")),
        };
        match outcome {
            Ok(()) => self.warned = false,
            // Once per run of failures: the file is advisory, the journal works on.
            Err(e) if !self.warned => {
                self.warned = true;
                tracing::warn!(error = %e, file = %self.path.display(), "could not publish the journal's stats");
            }
            Err(e) => {
                tracing::debug!(error = %e, file = %self.path.display(), "could not publish the journal's stats");
            }
        }
    }
}

fn remove_if_ours(storage: &dyn Storage, path: &Path, me: &Identity) {
    let Ok(Some(bytes)) = storage.read_small_file(path, STATS_FILE_BYTES_MAX) else {
        return;
    };
    let ours = Record::decode(&bytes).is_ok_and(|r| r.written_by(&me.host, me.pid, me.start_ticks));
    if ours {
        if let Err(e) = storage.remove_small_file(path) {
            tracing::debug!(error = %e, file = %path.display(), "could not remove the published stats");
        }
    }
}
