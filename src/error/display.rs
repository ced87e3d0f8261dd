//! The messages of the errors: each names the file, the offset or LSN, and what the user
//! can do.

use std::fmt;

use super::{Corruption, CorruptionKind, Error};

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, op, source } => write!(f, "{op} failed for {}: {source}", path.display()),
            Error::StorageFull { path, bytes } => write!(
                f,
                "no space left to create {} ({bytes} bytes); nothing acknowledged was lost: \
                 free disk space or compact the journal, then retry",
                path.display()
            ),
            Error::SegmentLimit { .. } => segment_limit_text(self, f),
            Error::Locked { path, holder } => write!(
                f,
                "journal is locked by {holder} (lock file {}); stop that process, or open a \
                 read-only reader instead",
                path.display()
            ),
            Error::UpgradeRequired { path, found, supported } => write!(
                f,
                "{} has format version {found}, this build reads version {supported}; \
                 upgrade checkpoint-journal to open it",
                path.display()
            ),
            Error::ForeignJournal { path, expected, found } => write!(
                f,
                "{} belongs to journal {found:032x}, not this journal {expected:032x}; \
                 move the file out of the directory",
                path.display()
            ),
            Error::Corrupted(c) => write!(f, "{c}"),
            Error::TornTail { path, lsn } => write!(
                f,
                "torn tail at LSN {lsn} in {} (a write that never completed); open with \
                 RecoveryMode::TolerateTornTail to truncate it",
                path.display()
            ),
            Error::Poisoned { durable, cause } => write!(
                f,
                "journal is poisoned by an earlier I/O error ({cause}); data below LSN {durable} \
                 is durable, later appends were not acknowledged: drop the journal and reopen it"
            ),
            Error::InvalidOptions { field, reason } => write!(f, "invalid option `{field}`: {reason}"),
            Error::TooLarge { what, bytes, max } => write!(
                f,
                "{what} of {bytes} bytes exceeds the limit of {max} bytes; split it, or raise \
                 segment_size_bytes"
            ),
            Error::NotFound { path } => write!(
                f,
                "{} holds no journal (no segment files); open it with create_if_missing(true) \
                 to create one, or check the path",
                path.display()
            ),
            Error::InvalidLsn { lsn, first, end } => write!(
                f,
                "LSN {lsn} is not the start of a frame in this journal (frames span {first}..{end}); \
                 use an LSN returned by append or read"
            ),
            // Compaction and archiving: `fmt_more`, which keeps this function short.
            _ => self.fmt_more(f),
        }
    }
}

impl Error {
    /// `Display` of the compaction and archiving errors.
    fn fmt_more(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SnapshotMissing {
                dir,
                first_lsn,
                tried,
            } => write!(
                f,
                "{} starts at LSN {first_lsn} but no valid snapshot covers the frames before \
                 it (tried: {}); restore the missing *.snap or *.seg files from a backup — \
                 the journal will not replay from a wrong point",
                dir.display(),
                if tried.is_empty() {
                    "none found".to_owned()
                } else {
                    tried.join("; ")
                }
            ),
            Error::Compacted {
                requested,
                oldest_available,
                snapshot_lsn,
            } => write!(
                f,
                "LSN {requested} was compacted away (the journal now starts at \
                 {oldest_available}); restart from the snapshot at LSN {snapshot_lsn}: take \
                 the state from Journal::state and read from {oldest_available}"
            ),
            // Archiving to object storage (feature `object-store`).
            Error::Fenced {
                key,
                epoch,
                found_epoch,
            } => write!(
                f,
                "archiving stopped: the manifest {key} was taken over by another writer \
             (epoch {found_epoch}, this writer's epoch {epoch}); this journal is no longer \
             the archive's owner: stop this process or restore from the archive"
            ),
            Error::PreconditionsIgnored { store, detail } => write!(
                f,
                "the object store {store} ignores conditional writes ({detail}), so it cannot \
             fence a second writer; use a store that honours them, or choose \
             ArchiveMode::SingleWriter and make sure only one process archives"
            ),
            Error::Remote { op, key, source } => write!(
                f,
                "{op} failed for object {key}: {source}; check the store's address, \
             credentials and reachability"
            ),
            Error::RemoteCorrupt { key, reason } => write!(
                f,
                "object {key} in the archive is unusable: {reason}; restore from an older \
             archive entry or re-archive from a healthy journal"
            ),
            // Owner lease.
            Error::LeaseUnreadable { path, reason } => write!(
                f,
                "owner lease {} cannot be read ({reason}), so which process on which host \
                 owns the journal is unknown; if no process on any host uses this journal, \
                 delete the file and open again",
                path.display()
            ),
            // Checkpoint coordination.
            other => match crate::coordinator::error_text(other) {
                Some(text) => f.write_str(&text),
                None => write!(f, "{other:?}"),
            },
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupted data in {} at offset {} (LSN {}): {}; acknowledged data is damaged, so \
             the journal refuses to open: restore from a backup, or open with \
             RecoveryMode::Salvage to keep the data before LSN {}",
            self.path.display(),
            self.offset,
            self.lsn,
            self.kind,
            self.lsn
        )
    }
}

impl fmt::Display for CorruptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptionKind::Frame(fault) => {
                write!(f, "frame fault {fault:?} below the durable frontier")
            }
            CorruptionKind::Checkpoint(why) => {
                write!(f, "checkpoint record does not decode: {why}")
            }
            CorruptionKind::SegmentHeader(fault) => write!(f, "segment header fault {fault:?}"),
            CorruptionKind::UnknownFrame { kind } => {
                write!(
                    f,
                    "valid frame of unknown kind {kind} (written by a newer version?)"
                )
            }
            CorruptionKind::Gap { expected } => {
                write!(f, "missing segment starting at LSN {expected}")
            }
            CorruptionKind::Inconsistent(what) => write!(f, "inconsistent segment: {what}"),
            CorruptionKind::Meta(why) => write!(f, "meta record does not decode: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Remote { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

/// The text of [`Error::SegmentLimit`].
fn segment_limit_text(err: &Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let Error::SegmentLimit {
        dir,
        limit,
        needed,
        floor,
        first,
    } = err
    else {
        return Ok(());
    };
    write!(
        f,
        "the segment files of {} would take {needed} bytes, over max_segment_bytes \
         ({limit}), and compaction could not retire more: the journal starts at LSN \
         {first} and everything from LSN {floor} on is still needed by a reader or \
         cursor position, a retained checkpoint or a kept snapshot; nothing \
         acknowledged was lost: advance or drop those readers and cursors, lower \
         retention, or raise the bound, then retry",
        dir.display()
    )
}
