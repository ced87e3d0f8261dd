//! The real mapping: a shared, read-write `memmap2` mapping of a segment file, viewed as
//! 64-bit atomic words. One of the two modules allowed `unsafe` (see docs/UNSAFE.md).
#![expect(
    unsafe_code,
    reason = "creating a file mapping and viewing it as atomics is unsafe"
)]

use std::fs::File;
use std::io;

use memmap2::{Mmap, MmapMut, MmapOptions};

use crate::storage::{MappedFile, SharedWord};
use crate::sync::Arc;

const PAGE_BYTES: usize = 4096;

/// A mapped segment file.
#[derive(Debug)]
pub(crate) struct Mapping {
    /// Shared with every [`HeldWords`] of this mapping: unmapped when the last goes.
    map: Arc<Map>,
    // Kept open for the mapping's lifetime so the file cannot be truncated under us by
    // this process; other processes are kept out by the directory lock.
    _file: File,
}

/// A writable mapping, or a read-only one for inspection and followers.
#[derive(Debug)]
enum Map {
    ReadWrite(MmapMut),
    ReadOnly(Mmap),
}

impl Map {
    fn as_ptr(&self) -> *const u8 {
        match self {
            Map::ReadWrite(m) => m.as_ptr(),
            Map::ReadOnly(m) => m.as_ptr(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Map::ReadWrite(m) => m.len(),
            Map::ReadOnly(m) => m.len(),
        }
    }
}

impl Mapping {
    /// Maps all of `file` shared and read-write, prefaulting its pages when `populate`.
    ///
    /// Prefaulting asks for writable page-table entries (`MADV_POPULATE_WRITE`, Linux
    /// 5.14), so the first store to each page takes no write fault; where the kernel
    /// refuses that advice the file is mapped again with `MAP_POPULATE` (pages mapped
    /// read-only: one write fault per page on first store).
    pub(crate) fn new(file: File, len: u64, populate: bool) -> io::Result<Mapping> {
        let len = checked_len(len)?;
        let map = map_shared(&file, len, false)?;
        if populate && populate_write(&map).is_err() {
            drop(map);
            let map = map_shared(&file, len, true)?;
            return Ok(Mapping {
                map: Arc::new(Map::ReadWrite(map)),
                _file: file,
            });
        }
        Ok(Mapping {
            map: Arc::new(Map::ReadWrite(map)),
            _file: file,
        })
    }

    /// Maps all of `file` shared and read-only. Stores through [`MappedFile::words`]
    /// would fault: only readers that never store (inspection, followers) use this.
    pub(crate) fn new_readonly(file: File, len: u64) -> io::Result<Mapping> {
        let len = checked_len(len)?;
        let mut options = MmapOptions::new();
        options.len(len);
        // SAFETY: 1. the file stays open in `self` for the mapping's lifetime; 2. its
        // length was checked above; 3. a writer in another process may change the pages
        // at any time, and every access through the mapping is an atomic load (`words`),
        // so those changes are never a data race here, only bytes the checksums judge.
        let map = unsafe { options.map(&file) }?;
        Ok(Mapping {
            map: Arc::new(Map::ReadOnly(map)),
            _file: file,
        })
    }
}

/// A shared read-write mapping of the first `len` bytes of `file` (`MAP_POPULATE` when
/// `populate`).
fn map_shared(file: &File, len: usize, populate: bool) -> io::Result<MmapMut> {
    let mut options = MmapOptions::new();
    options.len(len);
    if populate {
        options.populate();
    }
    // SAFETY: 1. the caller keeps the file open in the `Mapping` that owns the returned
    // map, for the mapping's lifetime; 2. `len` was checked by `checked_len` and the
    // journal never truncates a mapped file; 3. the directory lock keeps other writers of
    // this journal out, and all access through the mapping goes through atomics
    // (`words`), so concurrent modification by a foreign process cannot cause a data race
    // in this one, only wrong bytes, which the checksums catch.
    unsafe { options.map_mut(file) }
}

/// Bytes prefaulted per `madvise` call. The kernel holds the process's mmap lock (for
/// reading) for the whole of one call: 64 MiB at once held it for about 70 ms, and any
/// `mmap`/`munmap` in the process (a thread's stack, an allocator arena) queued behind
/// it for writing, then every other thread's `msync` queued behind that writer, so
/// `Sync` appends next to a segment being prefaulted waited up to ~20 ms. Chunks of
/// 1 MiB bound that wait to about one chunk's prefault (~1 ms).
const POPULATE_CHUNK_BYTES: usize = 1 << 20;

/// Prefaults every page of `map` writable (`MADV_POPULATE_WRITE`), a chunk at a time.
#[cfg(target_os = "linux")]
fn populate_write(map: &MmapMut) -> io::Result<()> {
    let mut at = 0;
    while at < map.len() {
        let len = POPULATE_CHUNK_BYTES.min(map.len() - at);
        map.advise_range(memmap2::Advice::PopulateWrite, at, len)?;
        at += len;
    }
    Ok(())
}

/// No writable prefault on this system: the caller falls back to `MAP_POPULATE`.
#[cfg(not(target_os = "linux"))]
fn populate_write(_map: &MmapMut) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn checked_len(len: u64) -> io::Result<usize> {
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large to map"))?;
    if len == 0 || !len.is_multiple_of(PAGE_BYTES) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file length {len} is not a positive multiple of {PAGE_BYTES}"),
        ));
    }
    Ok(len)
}

/// A mapping's words, held through the mapping's own reference to its memory: for a
/// caller that keeps them across calls (the append path's segment cache) without a
/// dynamic call to [`MappedFile::words`] each time. The memory stays mapped while any
/// `HeldWords` of it lives, whoever else drops the mapping.
#[derive(Clone, Debug)]
pub struct HeldWords {
    map: Arc<Map>,
}

impl HeldWords {
    /// The whole file as words, as [`MappedFile::words`] of the mapping returns them.
    #[inline]
    #[must_use]
    pub fn words(&self) -> &[SharedWord] {
        map_words(&self.map)
    }
}

/// The words of `map`, borrowed from it.
#[inline]
#[expect(
    clippy::cast_ptr_alignment,
    reason = "mmap returns page-aligned memory (asserted)"
)]
fn map_words(map: &Map) -> &[SharedWord] {
    let ptr = map.as_ptr();
    debug_assert!(
        ptr.cast::<SharedWord>().is_aligned(),
        "mappings are page-aligned"
    );
    debug_assert!(map.len().is_multiple_of(size_of::<SharedWord>()));
    // SAFETY: 1. the pointer is page-aligned (mmap), so aligned for `AtomicU64`;
    // 2. the length is a multiple of 8 (checked in `new`), so the slice covers exactly
    // the mapping; 3. the memory lives as long as `map`, which outlives the returned
    // borrow; 4. `AtomicU64` has the size and validity of `u64`, every bit pattern is
    // valid, and all accesses through the slice are atomic, so the shared view never
    // races with another view of the same pages.
    unsafe { std::slice::from_raw_parts(ptr.cast::<SharedWord>(), map.len() / 8) }
}

impl MappedFile for Mapping {
    fn words(&self) -> &[SharedWord] {
        map_words(&self.map)
    }

    fn held_words(&self) -> Option<HeldWords> {
        Some(HeldWords {
            map: Arc::clone(&self.map),
        })
    }

    fn sync_range(&self, offset: usize, len: usize) -> io::Result<()> {
        let start = offset - offset % PAGE_BYTES;
        let end = offset.saturating_add(len).min(self.map.len());
        match &*self.map {
            Map::ReadWrite(m) if end > start => m.flush_range(start, end - start),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Ordering;

    #[test]
    fn held_words_are_the_mapping_words_and_outlive_the_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("m"))
            .unwrap();
        file.set_len(8192).unwrap();
        let mapping = Mapping::new(file, 8192, false).unwrap();
        let held = mapping.held_words().unwrap();
        assert_eq!(held.words().len(), 1024);
        assert_eq!(held.words().as_ptr(), mapping.words().as_ptr());
        mapping.words()[7].store(0xfeed, Ordering::Relaxed);
        drop(mapping);
        assert_eq!(held.words()[7].load(Ordering::Relaxed), 0xfeed);
        held.words()[1023].store(1, Ordering::Relaxed);
    }
}
