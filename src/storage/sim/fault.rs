//! The operation log and the armed faults of a simulated storage.
//!
//! Every storage call is one [`SimOp`], numbered from 1 in the order its effect took
//! place. Faults are armed by a test and consumed by the operations they hit: each armed
//! msync failure fires once, a full disk lasts until it is cleared, and an operation
//! budget makes every operation past it fail (a device that went away).

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// Chooses which `sync_range(offset, len)` of which file an armed failure hits.
pub type SyncFilter = Box<dyn Fn(&Path, usize, usize) -> bool + Send + Sync>;

/// What a storage operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimOpKind {
    /// `create_dir_all`.
    CreateDir,
    /// `list_dir`.
    ListDir,
    /// `create_mapped`.
    CreateMapped,
    /// `open_mapped`.
    OpenMapped,
    /// `remove_file`.
    RemoveFile,
    /// `sync_dir`.
    SyncDir,
    /// `rename` (the path is the old name).
    Rename,
    /// `lock_dir`.
    LockDir,
    /// `lock_holder`.
    LockHolder,
    /// `MappedFile::sync_range` of a mapping (byte range as asked).
    SyncRange {
        /// First byte asked for.
        offset: usize,
        /// Bytes asked for.
        len: usize,
    },
}

impl SimOpKind {
    /// Whether the operation can change what a crash image holds.
    #[must_use]
    pub fn changes_disk(self) -> bool {
        matches!(
            self,
            SimOpKind::CreateMapped
                | SimOpKind::RemoveFile
                | SimOpKind::Rename
                | SimOpKind::SyncDir
                | SimOpKind::SyncRange { .. }
        )
    }
}

/// One completed storage operation, as the after-operation hook sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOp {
    /// 1 for the storage's first operation.
    pub index: u64,
    /// What it was.
    pub kind: SimOpKind,
    /// The file or directory it named.
    pub path: PathBuf,
    /// It returned an error (injected or not).
    pub failed: bool,
}

/// Faults armed by a test.
#[derive(Default)]
pub(super) struct Faults {
    /// Each fails the first sync it matches with EIO, once.
    sync_failures: Vec<SyncFilter>,
    /// `create_mapped` fails with ENOSPC while set.
    pub(super) storage_full: bool,
    /// The next `sync_dir` calls that fail with EIO.
    sync_dir_failures: u32,
    /// Operations that may still succeed; `None` means no budget.
    ops_left: Option<u64>,
    /// Faults that fired.
    pub(super) fired: u64,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("sync_failures", &self.sync_failures.len())
            .field("storage_full", &self.storage_full)
            .field("sync_dir_failures", &self.sync_dir_failures)
            .field("ops_left", &self.ops_left)
            .field("fired", &self.fired)
            .finish()
    }
}

impl Faults {
    pub(super) fn arm_sync_failure(&mut self, filter: SyncFilter) {
        self.sync_failures.push(filter);
    }

    pub(super) fn arm_sync_dir_failure(&mut self) {
        self.sync_dir_failures += 1;
    }

    pub(super) fn set_ops_budget(&mut self, ops: Option<u64>) {
        self.ops_left = ops;
    }

    pub(super) fn clear(&mut self) {
        let fired = self.fired;
        *self = Faults {
            fired,
            ..Faults::default()
        };
    }

    /// Spends one operation of the budget; an error once it is exhausted.
    pub(super) fn take_op(&mut self) -> io::Result<()> {
        match self.ops_left {
            Some(0) => Err(self.fire(Errno::EIO)),
            Some(ref mut left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether an armed msync failure hits this sync (and disarms it if so).
    pub(super) fn take_sync_failure(&mut self, path: &Path, offset: usize, len: usize) -> bool {
        let Some(at) = self
            .sync_failures
            .iter()
            .position(|hits| hits(path, offset, len))
        else {
            return false;
        };
        drop(self.sync_failures.remove(at));
        self.fired += 1;
        true
    }

    pub(super) fn take_sync_dir_failure(&mut self) -> io::Result<()> {
        if self.sync_dir_failures == 0 {
            return Ok(());
        }
        self.sync_dir_failures -= 1;
        Err(self.fire(Errno::EIO))
    }

    pub(super) fn check_space(&mut self) -> io::Result<()> {
        if self.storage_full {
            return Err(self.fire(Errno::ENOSPC));
        }
        Ok(())
    }

    fn fire(&mut self, errno: Errno) -> io::Error {
        self.fired += 1;
        io::Error::from(errno)
    }
}
