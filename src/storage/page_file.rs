//! Publishing a small file of whole pages durably (snapshots, segment summaries): a
//! leftover temporary file removed, the temporary file created padded to whole pages and
//! msynced, renamed over the final name, the directory fsynced. A crash leaves the old
//! directory or the complete new file, never a partial one under the final name.

use std::path::Path;

use super::{Storage, Words};
use crate::error::{Error, Result};
use crate::sync::Ordering;

/// Files are padded to whole pages of this size.
pub(crate) const PAGE_FILE_ALIGN_BYTES: usize = 4096;

/// What the errors of one kind of page file name as the failed operation.
pub(crate) struct PageFileOps {
    /// Removing a temporary file left by an earlier attempt.
    pub(crate) remove_temp: &'static str,
    /// Creating the temporary file.
    pub(crate) create: &'static str,
    /// Making its bytes durable.
    pub(crate) msync: &'static str,
    /// Renaming it to its final name.
    pub(crate) rename: &'static str,
}

/// Publishes `bytes` as `path` in `dir` through the temporary file `tmp`.
///
/// # Errors
/// The failing step's I/O error (named by `ops`); [`Error::StorageFull`] when the
/// temporary file cannot be allocated.
pub(crate) fn publish(
    storage: &dyn Storage,
    (dir, tmp, path): (&Path, &Path, &Path),
    bytes: &[u8],
    ops: &PageFileOps,
) -> Result<()> {
    match storage.remove_file(tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(tmp, ops.remove_temp, e));
        }
        _ => {}
    }
    write_synced(storage, tmp, bytes, ops)?;
    storage
        .rename(tmp, path)
        .map_err(|e| Error::io(tmp, ops.rename, e))?;
    storage
        .sync_dir(dir)
        .map_err(|e| Error::io(dir, "fsync directory", e))
}

/// Creates `path` with `bytes` padded to whole pages and makes the bytes durable.
fn write_synced(storage: &dyn Storage, path: &Path, bytes: &[u8], ops: &PageFileOps) -> Result<()> {
    let len = bytes.len().div_ceil(PAGE_FILE_ALIGN_BYTES).max(1) * PAGE_FILE_ALIGN_BYTES;
    let file = storage.create_mapped(path, len as u64).map_err(|e| {
        if e.kind() == std::io::ErrorKind::StorageFull {
            Error::StorageFull {
                path: path.to_owned(),
                bytes: len as u64,
            }
        } else {
            Error::io(path, ops.create, e)
        }
    })?;
    let words = file.words();
    for (i, chunk) in bytes.chunks(8).enumerate() {
        let mut b = [0u8; 8];
        b.get_mut(..chunk.len())
            .unwrap_or_default()
            .copy_from_slice(chunk);
        words.store(i, u64::from_le_bytes(b).to_le(), Ordering::Relaxed);
    }
    file.sync_range(0, len)
        .map_err(|e| Error::io(path, ops.msync, e))
}
