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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::lease_file::LeaseRecord;
    use crate::lease::identity::Identity;
    use crate::lease::LEASE_FILE_NAME;
    use crate::storage::sim::SimStorage;

    fn stats(dir: &Path) -> Stats {
        Stats {
            source: crate::stats::StatsSource::Live,
            dir: dir.to_owned(),
            journal_id: 9,
            uptime_ms: Some(1),
            appends: crate::stats::AppendStats {
                entries: 42,
                ..Default::default()
            },
            flushes: crate::stats::FlushStats::default(),
            lsn: crate::stats::LsnStats::default(),
            segments: crate::stats::SegmentStats::default(),
            snapshots: crate::stats::SnapshotStats::default(),
            compaction: None,
            ring: None,
            archive: None,
            poisoned: Some("x".repeat(10_000)),
        }
    }

    /// A snapshot by `host:pid` written `age_ms` ago, and a lease naming `lease`.
    fn setup(
        host: &str,
        pid: u32,
        age_ms: u64,
        lease: Option<(&str, u32)>,
    ) -> (SimStorage, &'static Path) {
        let sim = SimStorage::new(1);
        let dir = Path::new("/j");
        sim.create_dir_all(dir).unwrap();
        let me = Identity::this_process();
        let record = Record {
            host: host.into(),
            boot_id: me.boot_id,
            pid,
            start_ticks: 7,
            written_at_ms: crate::stats::now_ms() - age_ms,
            interval_ms: 1000,
            sequence: 3,
            stats: stats(dir),
        };
        let bytes = record.encode().unwrap();
        sim.replace_small_file(&dir.join(STATS_FILE_NAME), &bytes)
            .unwrap();
        if let Some((host, pid)) = lease {
            let lease = LeaseRecord {
                host: host.into(),
                boot_id: me.boot_id,
                pid,
                start_ticks: 7,
                acquired_at_ms: 0,
                journal_id: 0,
            };
            sim.replace_small_file(&dir.join(LEASE_FILE_NAME), &lease.encode())
                .unwrap();
        }
        (sim, dir)
    }

    fn state(sim: &SimStorage, dir: &Path) -> (WriterState, String) {
        match read_published_with(sim, dir) {
            WriterSnapshot::Found(p) => {
                assert_eq!(p.stats.appends.entries, 42);
                assert_eq!(p.sequence, 3);
                let poisoned = p.stats.poisoned.as_deref().unwrap_or_default();
                assert_eq!(poisoned.len(), 2048, "strings are bounded");
                (p.state, p.reason)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_lease_and_the_age_decide_live_or_stale() {
        let here = crate::lease::identity::host_name();
        // No pid 0x7fff_fff0 runs: the writer is gone.
        let dead = 0x7fff_fff0;
        let (sim, dir) = setup(&here, dead, 10, Some((&here, dead)));
        assert_eq!(state(&sim, dir).0, WriterState::Stale);
        let (sim, dir) = setup(&here, dead, 10, None);
        let (s, why) = state(&sim, dir);
        assert_eq!(s, WriterState::Stale);
        assert!(why.contains("no owner lease"), "{why}");
        let (sim, dir) = setup(&here, dead, 10, Some(("other-host", 5)));
        let (s, why) = state(&sim, dir);
        assert_eq!(s, WriterState::Stale);
        assert!(why.contains("other-host:5"), "{why}");
        // Another host: judged by age against 3 × interval + 2 s.
        let (sim, dir) = setup("far-host", 9, 100, Some(("far-host", 9)));
        assert_eq!(state(&sim, dir).0, WriterState::Live);
        let (sim, dir) = setup("far-host", 9, 60_000, Some(("far-host", 9)));
        let (s, why) = state(&sim, dir);
        assert_eq!(s, WriterState::Stale);
        assert!(why.contains("has not refreshed"), "{why}");
    }

    #[test]
    fn a_missing_or_damaged_file_is_absent_or_unreadable() {
        let sim = SimStorage::new(1);
        let dir = Path::new("/j");
        sim.create_dir_all(dir).unwrap();
        assert!(matches!(
            read_published_with(&sim, dir),
            WriterSnapshot::Absent
        ));
        let (sim, dir) = setup("h", 1, 0, None);
        let path = dir.join(STATS_FILE_NAME);
        let mut bytes = sim.read_small_file(&path, 1 << 20).unwrap().unwrap();
        bytes[20] ^= 1;
        sim.replace_small_file(&path, &bytes).unwrap();
        assert!(matches!(
            read_published_with(&sim, dir),
            WriterSnapshot::Unreadable { .. }
        ));
    }
}
