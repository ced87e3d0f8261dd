//! The published stats file, reader side: [`read_published`] reads `journal.stats` and
//! says whether its writer is still running, from the owner lease (`crate::lease`, the
//! same decision table a writer's open applies) and the file's age.
//!
//! | the lease | the snapshot is |
//! |---|---|
//! | names the snapshot's writer, alive on this host (or this very process) | live |
//! | names another owner | stale: written by an earlier owner |
//! | is missing | stale: the writer is gone (a closed writer removes both files) |
//! | names a dead process, a reused pid, or an earlier boot | stale: the writer is gone |
//! | names a process on another host, unreadable, or liveness unknown | live while younger than `3 × interval + 2 s`, then stale |

use std::path::Path;

use serde::{Serialize, Serializer};

use super::publish::{Record, STATS_FILE_NAME};
use super::Stats;
use crate::format::stats_file::STATS_FILE_BYTES_MAX;
use crate::lease::{self, LeaseCase};
use crate::storage::{FsStorage, Storage};

/// Whether a published snapshot's writer is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WriterState {
    /// The writer is running: its figures are current (as of `age_ms` ago).
    Live,
    /// The writer is gone (or another owner holds the journal): its figures are old.
    Stale,
}

/// The process that wrote a snapshot, as the owner lease names processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WriterInfo {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Process start time, clock ticks after boot (tells a reused pid apart).
    pub start_ticks: u64,
    /// The host's boot id (32 hex digits in JSON; 0 if unknown).
    #[serde(serialize_with = "super::hex_id")]
    pub boot_id: u128,
}

/// A running (or former) writer's published [`Stats`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct PublishedStats {
    /// Live or stale.
    pub state: WriterState,
    /// Why, in words (what the owner lease says).
    pub reason: String,
    /// Who wrote it (flattened in JSON: `host`, `pid`, `start_ticks`, `boot_id`).
    #[serde(flatten)]
    pub writer: WriterInfo,
    /// When, in Unix milliseconds (the writer's clock).
    pub written_at_ms: u64,
    /// How old it is (this host's clock minus the writer's; 0 if the writer's is ahead).
    pub age_ms: u64,
    /// How often the writer replaces it.
    pub interval_ms: u64,
    /// Publications since the writer opened the journal.
    pub sequence: u64,
    /// The figures (`source` is `live`: counts since the writer opened the journal).
    #[serde(skip)]
    pub stats: Stats,
}

/// What a journal directory's `journal.stats` holds.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum WriterSnapshot {
    /// No such file: no writer publishes (none is open, or publishing is off).
    Absent,
    /// The file is there but cannot be used (damaged, another version, not a file).
    Unreadable {
        /// What is wrong with it.
        reason: String,
    },
    /// A snapshot, live or stale.
    Found(Box<PublishedStats>),
}

impl Serialize for WriterSnapshot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Unreadable<'a> {
            state: &'static str,
            reason: &'a str,
        }
        match self {
            WriterSnapshot::Absent => s.serialize_none(),
            WriterSnapshot::Unreadable { reason } => Unreadable {
                state: "unreadable",
                reason,
            }
            .serialize(s),
            WriterSnapshot::Found(p) => p.serialize(s),
        }
    }
}

/// Reads the stats a writer publishes in `dir` (`journal.stats`) and whether that writer
/// is running. Read-only; never fails: a missing, damaged or unreadable file is a
/// [`WriterSnapshot`] case.
#[must_use]
pub fn read_published(dir: impl AsRef<Path>) -> WriterSnapshot {
    read_published_with(&FsStorage, dir.as_ref())
}

/// [`read_published`] on `storage`.
#[must_use]
pub fn read_published_with(storage: &dyn Storage, dir: &Path) -> WriterSnapshot {
    let path = dir.join(STATS_FILE_NAME);
    let bytes = match storage.read_small_file(&path, STATS_FILE_BYTES_MAX) {
        Ok(None) => return WriterSnapshot::Absent,
        Ok(Some(bytes)) => bytes,
        Err(e) => {
            return WriterSnapshot::Unreadable {
                reason: format!("{}: {e}", path.display()),
            }
        }
    };
    let mut record = match Record::decode(&bytes) {
        Ok(record) => record,
        Err(fault) => {
            return WriterSnapshot::Unreadable {
                reason: format!("{}: {fault}", path.display()),
            }
        }
    };
    dir.clone_into(&mut record.stats.dir);
    let age_ms = super::now_ms().saturating_sub(record.written_at_ms);
    let (state, reason) = judge(storage, dir, &record, age_ms);
    WriterSnapshot::Found(Box::new(PublishedStats {
        state,
        reason,
        writer: WriterInfo {
            host: record.host,
            pid: record.pid,
            start_ticks: record.start_ticks,
            boot_id: record.boot_id,
        },
        written_at_ms: record.written_at_ms,
        age_ms,
        interval_ms: record.interval_ms,
        sequence: record.sequence,
        stats: record.stats,
    }))
}

/// Live or stale, and why (the table of the module docs).
fn judge(storage: &dyn Storage, dir: &Path, record: &Record, age_ms: u64) -> (WriterState, String) {
    let (case, holder) = lease::owner(storage, dir);
    let writer = format!("{}:{}", record.host, record.pid);
    let holder_is_writer = holder
        .as_ref()
        .is_some_and(|h| record.written_by(&h.host, h.pid, h.start_ticks));
    if let Some(h) = holder.as_ref().filter(|_| !holder_is_writer) {
        let owner = format!("{}:{}", h.host, h.pid);
        return stale(format!(
            "the owner lease names {owner}, not the writer {writer}"
        ));
    }
    match case {
        LeaseCase::ThisProcess | LeaseCase::HolderAlive => (
            WriterState::Live,
            format!("the owner lease names the writer {writer}, running"),
        ),
        LeaseCase::NoLease => stale(format!("no owner lease: the writer {writer} is gone")),
        LeaseCase::HolderDead => stale(format!("the writer {writer} has exited")),
        LeaseCase::PidReused => stale(format!("the writer {writer} has exited (pid reused)")),
        LeaseCase::OtherBoot => stale(format!("the writer {writer} ran before a reboot")),
        LeaseCase::ForeignHost | LeaseCase::Unreadable | LeaseCase::HolderUnknown => {
            let limit = record.interval_ms.saturating_mul(3).saturating_add(2_000);
            let why = match case {
                LeaseCase::ForeignHost => "on another host",
                LeaseCase::Unreadable => "the owner lease is unreadable",
                _ => "its liveness cannot be read",
            };
            if age_ms <= limit {
                (
                    WriterState::Live,
                    format!("the writer {writer} ({why}) refreshed it {age_ms} ms ago"),
                )
            } else {
                stale(format!(
                    "the writer {writer} ({why}) has not refreshed it for {age_ms} ms"
                ))
            }
        }
    }
}

fn stale(reason: String) -> (WriterState, String) {
    (WriterState::Stale, reason)
}
