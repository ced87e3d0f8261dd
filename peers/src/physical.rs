//! Physical references, measured in the same rounds as the logs: memcpy of the bytes
//! of a 1 024-entry batch, one bare msync of a 4 KiB page of a mapped file, and one bare
//! `pwrite` + `fdatasync`. Every log figure is read as a ratio to these.
#![expect(
    unsafe_code,
    reason = "maps a scratch file to msync one of its pages, as the journal maps segments"
)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use memmap2::MmapOptions;

use crate::workload::{AppendOp, Result, ASYNC_BATCH_LEN};

/// Bytes of the memcpy destination: larger than any cache, so the copy streams.
const MEMCPY_DESTINATION_BYTES: usize = 256 << 20;
/// Bytes of the scratch file whose pages are msynced.
const MSYNC_FILE_BYTES: u64 = 1 << 20;
/// Bytes of a page.
const PAGE_BYTES: usize = 4096;

/// Copies block `i` of `ASYNC_BATCH_LEN` entries (24 B each) from one hot buffer into
/// a streaming 256 MiB destination: the bytes `append_batch(1024)` moves, at memcpy
/// speed.
#[must_use]
pub(crate) fn memcpy_block() -> AppendOp {
    let block = ASYNC_BATCH_LEN * 24;
    let source: Vec<u8> = (0..block).map(|i| (i % 251) as u8).collect();
    let mut destination = vec![1u8; MEMCPY_DESTINATION_BYTES];
    let blocks = MEMCPY_DESTINATION_BYTES / block;
    Box::new(move |i| {
        let at = usize::try_from(i)? % blocks * block;
        if let Some(target) = destination.get_mut(at..at + block) {
            target.copy_from_slice(std::hint::black_box(&source));
        }
        std::hint::black_box(&destination);
        Ok(())
    })
}

/// An msync of the 4 KiB page just dirtied by a 24-byte store, the stores running
/// sequentially through a fallocated file mapped shared (as a segment is). With
/// `written`, every block of the file is written and synced first, so a sync moves data
/// only; without it the blocks are still unwritten extents, and the first sync of each
/// also commits the filesystem's metadata (the extent conversion).
///
/// # Errors
/// I/O errors creating or mapping the scratch file.
pub(crate) fn msync_4k(dir: &Path, written: bool) -> Result<AppendOp> {
    let file = scratch_file(dir, "msync", MSYNC_FILE_BYTES, written)?;
    // SAFETY: 1. the file was just created with `create_new` in this run's private
    // scratch directory, so no other process maps or truncates it; 2. it was allocated
    // to `MSYNC_FILE_BYTES` and is not truncated while mapped.
    let mut map = unsafe { MmapOptions::new().map_mut(&file) }?;
    let records = map.len() / 24;
    Ok(Box::new(move |i| {
        let at = usize::try_from(i)? % records * 24;
        if let Some(bytes) = map.get_mut(at..at + 24) {
            bytes.copy_from_slice(&i.to_le_bytes().repeat(3));
        }
        let page = at - at % PAGE_BYTES;
        map.flush_range(page, PAGE_BYTES.min(map.len() - page))?;
        Ok(())
    }))
}

/// A 24-byte `pwrite` followed by `fdatasync`, the writes running sequentially through
/// a fallocated file whose blocks were written and synced first (so a sync moves data
/// only).
///
/// # Errors
/// I/O errors creating the scratch file.
pub(crate) fn fdatasync(dir: &Path) -> Result<AppendOp> {
    let file = scratch_file(dir, "fdatasync", MSYNC_FILE_BYTES, true)?;
    Ok(Box::new(move |i| {
        file.write_all_at(&i.to_le_bytes().repeat(3), i * 24 % (MSYNC_FILE_BYTES - 24))?;
        file.sync_data()?;
        Ok(())
    }))
}

/// A new fallocated file of `len` bytes; with `written`, zero-filled and synced.
fn scratch_file(dir: &Path, name: &str, len: u64, written: bool) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(dir.join(name))?;
    nix::fcntl::fallocate(
        &file,
        nix::fcntl::FallocateFlags::empty(),
        0,
        i64::try_from(len)?,
    )?;
    if written {
        file.write_all_at(&vec![0u8; usize::try_from(len)?], 0)?;
    }
    file.sync_all()?;
    Ok(file)
}

/// Drops the page cache of every file under `dir` as far as an unprivileged process
/// can: `fsync`, then `posix_fadvise(DONTNEED)` (clean, unmapped pages only).
/// `/proc/sys/vm/drop_caches` would drop them all but needs privileges a shared
/// machine does not give.
///
/// # Errors
/// I/O errors opening or syncing the files.
pub(crate) fn evict_page_cache(dir: &Path) -> Result<()> {
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let path = item.path();
        if item.file_type()?.is_dir() {
            evict_page_cache(&path)?;
            continue;
        }
        let file = File::open(&path)?;
        file.sync_all()?;
        nix::fcntl::posix_fadvise(
            &file,
            0,
            0,
            nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
        )?;
    }
    Ok(())
}
