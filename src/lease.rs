//! The owner lease: `journal.lease` names the process that owns a journal directory
//! (host, boot, pid, process start time, journal id), so that a second writer is refused
//! even where the directory lock (`flock`) does not reach — `flock` is local to one
//! kernel, so on a network filesystem two hosts can both hold it.
//!
//! Opening takes the `flock` first, then reads the lease and applies the decision table
//! below (docs/OWNERSHIP.md explains each row), all before recovery changes a byte.
//! Taking the lease writes a temporary file and renames it over `journal.lease`, then
//! reads it back: if another writer's rename landed last, it won and this open is
//! refused. Dropping the journal (closed or abandoned) removes the lease; a crash leaves
//! it, and the next open classifies it.
//!
//! | row | lease file says | decision |
//! |---|---|---|
//! | L1 `NoLease` | (missing) | take it |
//! | L2 `Unreadable` | bad magic, version, length or checksum | refuse: `LeaseUnreadable` |
//! | L3 `ForeignHost` | another host name | refuse: `Locked`, unless `force_takeover` |
//! | L4 `OtherBoot` | this host, another boot id | take over: the holder died in a reboot |
//! | L5 `ThisProcess` | this host, boot, pid and start time | re-enter: this process's own lease |
//! | L6 `HolderDead` | this host, no process with that pid | take over |
//! | L7 `PidReused` | this host, pid alive with another start time | take over |
//! | L8 `HolderAlive` | this host, pid alive with the same start time | refuse: `Locked` |
//! | L9 `HolderUnknown` | this host, liveness cannot be read | refuse: `Locked` |

pub(crate) mod identity;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::format::lease_file::{LeaseFault, LeaseRecord, LEASE_FILE_BYTES_MAX};
use crate::storage::Storage;
use crate::sync::Arc;
use identity::{probe, Identity, Liveness};

/// Name of the lease file inside a journal directory.
pub const LEASE_FILE_NAME: &str = "journal.lease";

/// The decision-table row an open's lease check matched (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum LeaseCase {
    /// L1: no lease file.
    NoLease,
    /// L2: the lease file does not decode.
    Unreadable,
    /// L3: the lease names another host.
    ForeignHost,
    /// L4: the lease names this host in an earlier boot.
    OtherBoot,
    /// L5: the lease names this very process.
    ThisProcess,
    /// L6: the lease names a process that no longer exists.
    HolderDead,
    /// L7: the lease's pid now belongs to another process (its start time differs).
    PidReused,
    /// L8: the lease names a live process on this host.
    HolderAlive,
    /// L9: whether the named process is alive cannot be read.
    HolderUnknown,
}

/// A lease taken over from an earlier owner (noted in the recovery report).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeaseTakeover {
    /// The row that allowed it.
    pub case: LeaseCase,
    /// The previous owner, as `host:pid`.
    pub previous_holder: String,
    /// The previous owner's process start time (clock ticks after its host's boot).
    pub previous_start_ticks: u64,
    /// Taken from another host because the caller set `Options::force_takeover`.
    pub forced: bool,
}

/// This process's lease on a directory; removed on drop unless kept.
#[derive(Debug)]
pub(crate) struct Lease {
    storage: Arc<dyn Storage>,
    path: PathBuf,
    record: LeaseRecord,
}

/// Classifies the lease file's contents for process `me` (pure: `liveness` probes pids).
pub(crate) fn classify(
    existing: &Result<Option<LeaseRecord>, LeaseFault>,
    me: &Identity,
    liveness: impl FnOnce(u32) -> Liveness,
) -> LeaseCase {
    let holder = match existing {
        Err(_) => return LeaseCase::Unreadable,
        Ok(None) => return LeaseCase::NoLease,
        Ok(Some(holder)) => holder,
    };
    if holder.host != me.host {
        return LeaseCase::ForeignHost;
    }
    if holder.boot_id != me.boot_id && holder.boot_id != 0 && me.boot_id != 0 {
        return LeaseCase::OtherBoot;
    }
    if holder.pid == me.pid && holder.start_ticks == me.start_ticks {
        return LeaseCase::ThisProcess;
    }
    match liveness(holder.pid) {
        Liveness::Dead => LeaseCase::HolderDead,
        Liveness::Alive { start_ticks } if start_ticks != holder.start_ticks => {
            LeaseCase::PidReused
        }
        Liveness::Alive { .. } => LeaseCase::HolderAlive,
        Liveness::Unknown => LeaseCase::HolderUnknown,
    }
}

/// What the lease file of `dir` says about its owner, classified as a writer's open
/// would classify it (read-only: nothing is taken): the row, and the record when it
/// decodes. An I/O error reading it is [`LeaseCase::Unreadable`].
pub(crate) fn owner(storage: &dyn Storage, dir: &Path) -> (LeaseCase, Option<LeaseRecord>) {
    let path = dir.join(LEASE_FILE_NAME);
    let Ok(bytes) = storage.read_small_file(&path, LEASE_FILE_BYTES_MAX) else {
        return (LeaseCase::Unreadable, None);
    };
    let existing = bytes.map(|b| LeaseRecord::decode(&b)).transpose();
    let case = classify(&existing, &Identity::this_process(), probe);
    (case, existing.ok().flatten())
}

/// Takes the lease on `dir` for this process, per the decision table; returns it and
/// the takeover it made, if any.
///
/// # Errors
/// [`Error::Locked`] naming the holder, [`Error::LeaseUnreadable`], or the I/O error.
pub(crate) fn acquire(
    storage: &Arc<dyn Storage>,
    dir: &Path,
    force_takeover: bool,
) -> Result<(Lease, Option<LeaseTakeover>)> {
    let path = dir.join(LEASE_FILE_NAME);
    let me = Identity::this_process();
    let bytes = storage
        .read_small_file(&path, LEASE_FILE_BYTES_MAX)
        .map_err(|e| Error::io(&path, "read lease file", e))?;
    let existing = bytes.map(|b| LeaseRecord::decode(&b)).transpose();
    let case = classify(&existing, &me, probe);
    let takeover = decide(case, &existing, &path, force_takeover)?;
    let journal_id = existing.ok().flatten().map_or(0, |r| r.journal_id);
    let lease = Lease {
        storage: Arc::clone(storage),
        path,
        record: me.record(journal_id),
    };
    lease.write_and_verify()?;
    if let Some(t) = &takeover {
        tracing::warn!(
            lease = %lease.path.display(),
            previous_holder = %t.previous_holder,
            case = ?t.case,
            forced = t.forced,
            "took over the journal's owner lease"
        );
    }
    Ok((lease, takeover))
}

/// Applies the row: `Ok(None)` to take or re-enter, `Ok(Some)` to take over, or the
/// refusal.
fn decide(
    case: LeaseCase,
    existing: &Result<Option<LeaseRecord>, LeaseFault>,
    path: &Path,
    force: bool,
) -> Result<Option<LeaseTakeover>> {
    let holder = match existing {
        Err(fault) => {
            debug_assert_eq!(case, LeaseCase::Unreadable);
            return Err(Error::LeaseUnreadable {
                path: path.to_owned(),
                reason: fault.to_string(),
            });
        }
        Ok(None) => return Ok(None),
        Ok(Some(holder)) => holder,
    };
    let takeover = |forced| {
        Ok(Some(LeaseTakeover {
            case,
            previous_holder: format!("{}:{}", holder.host, holder.pid),
            previous_start_ticks: holder.start_ticks,
            forced,
        }))
    };
    let locked = |why: &str| Error::Locked {
        path: path.to_owned(),
        holder: format!("{}:{}{why}", holder.host, holder.pid),
    };
    match case {
        LeaseCase::NoLease | LeaseCase::ThisProcess => Ok(None),
        LeaseCase::OtherBoot | LeaseCase::HolderDead | LeaseCase::PidReused => takeover(false),
        LeaseCase::ForeignHost if force => takeover(true),
        LeaseCase::ForeignHost => Err(locked(
            " on another host (its owner lease; if that host no longer uses the journal, \
             open with Options::force_takeover(true))",
        )),
        LeaseCase::HolderUnknown => Err(locked(" (owner lease; its liveness cannot be read)")),
        LeaseCase::HolderAlive | LeaseCase::Unreadable => Err(locked(" (owner lease)")),
    }
}

impl Lease {
    /// Records the journal's id once recovery has read it (rewrites the lease if it
    /// changed).
    ///
    /// # Errors
    /// The I/O error, or [`Error::Locked`] if another writer took the lease meanwhile.
    pub(crate) fn bind(&mut self, journal_id: u128) -> Result<()> {
        if self.record.journal_id == journal_id {
            return Ok(());
        }
        self.record.journal_id = journal_id;
        self.write_and_verify()
    }

    /// Writes the lease (temporary file + rename) and reads it back: if another writer's
    /// rename landed after ours, it owns the directory and this open is refused.
    fn write_and_verify(&self) -> Result<()> {
        let path = &self.path;
        self.storage
            .replace_small_file(path, &self.record.encode())
            .map_err(|e| Error::io(path, "write lease file", e))?;
        let back = self
            .storage
            .read_small_file(path, LEASE_FILE_BYTES_MAX)
            .map_err(|e| Error::io(path, "read lease file back", e))?;
        match back.map(|b| LeaseRecord::decode(&b)) {
            Some(Ok(r)) if r == self.record => Ok(()),
            Some(Ok(winner)) => Err(Error::Locked {
                path: path.clone(),
                holder: format!("{}:{} (won the owner lease)", winner.host, winner.pid),
            }),
            Some(Err(fault)) => Err(Error::LeaseUnreadable {
                path: path.clone(),
                reason: fault.to_string(),
            }),
            None => Err(Error::LeaseUnreadable {
                path: path.clone(),
                reason: "removed while it was being taken".into(),
            }),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Remove it only while it is still ours (a forced takeover may have replaced it).
        let current = self
            .storage
            .read_small_file(&self.path, LEASE_FILE_BYTES_MAX);
        let ours = matches!(current, Ok(Some(ref b)) if LeaseRecord::decode(b).as_ref() == Ok(&self.record));
        if ours {
            if let Err(e) = self.storage.remove_small_file(&self.path) {
                tracing::warn!(error = %e, lease = %self.path.display(), "could not remove the owner lease");
            }
        }
    }
}

#[cfg(test)]
mod tests;
