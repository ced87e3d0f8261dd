//! The storage seam: everything the journal asks of a filesystem, so that a simulated
//! backend (`sim`, behind the `sim` feature) can stand in for power-loss tests.

mod fs;
mod mmap;
pub(crate) mod page_file;
// Owner lease: small files on the real filesystem.
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod small_file;
mod words;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::Path;

pub use fs::{lock_path, this_holder, FsStorage, LOCK_FILE_NAME};
pub use mmap::HeldWords;
pub use words::{SharedWord, Words};

use crate::error::Result;
use crate::sync::Arc;

/// A file mapped into memory as 64-bit words, written through atomics.
pub trait MappedFile: Send + Sync + fmt::Debug {
    /// The whole file as words (its length is a multiple of 4096).
    fn words(&self) -> &[SharedWord];
    /// The same words held independently of `self` ([`HeldWords`], which keeps the
    /// memory mapped by itself), for callers that keep them across calls; `None` (the
    /// default) where only [`MappedFile::words`] can give them. Only the file mappings
    /// of [`FsStorage`] give them.
    fn held_words(&self) -> Option<HeldWords> {
        None
    }
    /// Makes `[offset, offset + len)` durable (msync `MS_SYNC`, which on Linux is an
    /// fdatasync of the range). Offsets are bytes; the range is widened to pages.
    ///
    /// # Errors
    /// The OS error; the caller poisons the journal.
    fn sync_range(&self, offset: usize, len: usize) -> io::Result<()>;
}

/// One name in a directory listing.
#[derive(Clone, Debug)]
pub struct DirEntry {
    /// The file name (not necessarily UTF-8).
    pub name: OsString,
    /// A regular file (not a symlink, not a directory).
    pub is_file: bool,
    /// Length in bytes, for regular files.
    pub len: u64,
}

/// An exclusive hold on a journal directory; released on drop.
pub trait DirLock: Send + Sync + fmt::Debug {}

/// The filesystem operations the journal uses.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Creates `dir` (mode 0700) and its parents if missing.
    ///
    /// # Errors
    /// The OS error.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Lists `dir`.
    ///
    /// # Errors
    /// The OS error.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;
    /// Creates a new file of `len` bytes (mode 0600), allocates its blocks (never a
    /// sparse file, so a full disk fails here and not with SIGBUS later) and maps it.
    ///
    /// # Errors
    /// The OS error; `ErrorKind::StorageFull` when the disk is full.
    fn create_mapped(&self, path: &Path, len: u64) -> io::Result<Arc<dyn MappedFile>>;
    /// Maps an existing file read-write.
    ///
    /// # Errors
    /// The OS error.
    fn open_mapped(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>>;
    /// Maps an existing file read-only (inspection and followers, which never write).
    /// The default maps it read-write and relies on the caller not writing.
    ///
    /// # Errors
    /// The OS error.
    fn open_mapped_readonly(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        self.open_mapped(path)
    }
    /// Removes a file (durable after [`Storage::sync_dir`]).
    ///
    /// # Errors
    /// The OS error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to` in the same directory, replacing `to` if it exists
    /// (atomic, as POSIX `rename`; durable after [`Storage::sync_dir`]). Compaction
    /// publishes snapshot files with it.
    ///
    /// # Errors
    /// The OS error.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creates, renames, removes) durable.
    ///
    /// # Errors
    /// The OS error.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes the writer's exclusive lock on `dir`, recording `holder` in the lock file.
    ///
    /// # Errors
    /// [`crate::Error::Locked`] naming the current holder, or an I/O error.
    fn lock_dir(&self, dir: &Path, holder: &str) -> Result<Box<dyn DirLock>>;
    /// Reads who holds the lock on `dir`, if anyone does.
    ///
    /// # Errors
    /// The OS error.
    fn lock_holder(&self, dir: &Path) -> io::Result<Option<String>>;

    // Owner lease (`crate::lease`): small files read whole and replaced atomically.
    /// Reads the small file `path` whole; `Ok(None)` if it does not exist. Reads at most
    /// `max_bytes + 1` bytes, so a longer file shows as too long without being read whole.
    ///
    /// # Errors
    /// The OS error.
    fn read_small_file(&self, path: &Path, max_bytes: usize) -> io::Result<Option<Vec<u8>>>;
    /// Replaces `path` with `bytes` atomically: a temporary file (mode 0600) in the same
    /// directory is written and synced, renamed over `path`, and the directory synced.
    ///
    /// # Errors
    /// The OS error; `path` then holds either its old or its new contents.
    fn replace_small_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Removes the small file `path`; a missing file is not an error.
    ///
    /// # Errors
    /// The OS error.
    fn remove_small_file(&self, path: &Path) -> io::Result<()>;

    // Live stats for other processes (`journal.stats`).
    /// Replaces `path` with `bytes` atomically for readers (a temporary file renamed over
    /// it) without making it durable: for advisory files that are rewritten every second
    /// and never read by recovery. The default is [`Storage::replace_small_file`].
    ///
    /// # Errors
    /// The OS error; `path` then holds either its old or its new contents.
    fn replace_advisory_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.replace_small_file(path, bytes)
    }
}
