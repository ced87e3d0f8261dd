//! One simulated file (an inode): three images of its bytes as 64-bit words.
//!
//! - `memory` is the page cache as the mapping shows it; the journal writes it directly.
//! - `synced` is what the kernel believes is on disk: a page whose `memory` differs from
//!   `synced` is dirty. Dirtiness is computed by comparison, so writes need no tracking.
//! - `durable` is what survives a power loss.
//!
//! Invariant: `synced` and `durable` differ only on pages whose writeback failed, which
//! the kernel marked clean anyway (Linux after an msync/fsync EIO): those pages are lost
//! at the next power loss and no later sync brings them back.

use std::ops::Range;

use crate::storage::SharedWord;
use crate::sync::{lock, AtomicU64, Mutex, Ordering};

/// Bytes in a page of the simulated page cache.
pub const PAGE_BYTES: usize = 4096;
/// Bytes in a sector: the unit a torn page write keeps or loses.
pub const SECTOR_BYTES: usize = 512;
pub(super) const PAGE_WORDS: usize = PAGE_BYTES / 8;
pub(super) const SECTOR_WORDS: usize = SECTOR_BYTES / 8;

const _: () = assert!(PAGE_BYTES.is_multiple_of(SECTOR_BYTES));
const _: () = assert!(SECTOR_BYTES.is_multiple_of(8));

/// How a page is rebuilt in a crash image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PageFate {
    /// The dirty page reached the disk whole.
    Written,
    /// The first `sectors` sectors reached the disk, the rest kept their durable bytes.
    Torn { sectors: usize },
}

/// One file's bytes: the page cache and the two disk images.
#[derive(Debug)]
pub(super) struct SimFile {
    memory: Box<[SharedWord]>,
    /// `synced` and `durable`, changed together under one lock.
    disk: Mutex<Disk>,
    /// Syncs of this file that reached the (simulated) kernel.
    syncs: AtomicU64,
}

#[derive(Debug)]
struct Disk {
    synced: Vec<u64>,
    durable: Vec<u64>,
}

impl SimFile {
    /// A file of `len_words` zero words, allocated on disk (fallocate) and clean.
    pub(super) fn zeroed(len_words: usize) -> SimFile {
        SimFile::from_words(vec![0; len_words])
    }

    /// A clean file whose three images all hold `words` (what a crash image restarts from).
    pub(super) fn from_words(words: Vec<u64>) -> SimFile {
        debug_assert!(words.len().is_multiple_of(PAGE_WORDS));
        let memory = words.iter().map(|w| SharedWord::new(*w)).collect();
        SimFile {
            memory,
            disk: Mutex::new(Disk {
                synced: words.clone(),
                durable: words,
            }),
            syncs: AtomicU64::new(0),
        }
    }

    /// An independent copy of all three images (what a restarted process finds: the
    /// same page cache, the same dirty pages).
    pub(super) fn copy(&self) -> SimFile {
        let disk = lock(&self.disk);
        SimFile {
            memory: self
                .memory
                .iter()
                .map(|w| SharedWord::new(w.load(Ordering::Acquire)))
                .collect(),
            disk: Mutex::new(Disk {
                synced: disk.synced.clone(),
                durable: disk.durable.clone(),
            }),
            syncs: AtomicU64::new(0),
        }
    }

    /// The page cache, shared with every mapping of the file.
    pub(super) fn words(&self) -> &[SharedWord] {
        &self.memory
    }

    pub(super) fn len_bytes(&self) -> u64 {
        (self.memory.len() * 8) as u64
    }

    pub(super) fn len_pages(&self) -> usize {
        self.memory.len() / PAGE_WORDS
    }

    pub(super) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    pub(super) fn count_sync(&self) {
        self.syncs.fetch_add(1, Ordering::Relaxed);
    }

    /// Indices of the pages whose memory differs from what the kernel believes is clean.
    pub(super) fn dirty_pages(&self) -> Vec<usize> {
        let disk = lock(&self.disk);
        self.memory
            .chunks(PAGE_WORDS)
            .zip(disk.synced.chunks(PAGE_WORDS))
            .enumerate()
            .filter(|(_, (memory, synced))| differs(memory, synced))
            .map(|(page, _)| page)
            .collect()
    }

    /// Writes back the dirty pages among `pages`: the kernel marks them clean, and the
    /// device stores them only if `reaches_disk` (a failed writeback loses them). Returns
    /// the number of dirty pages written.
    pub(super) fn write_back(&self, pages: Range<usize>, reaches_disk: bool) -> usize {
        self.write_back_where(pages, &|_| true, reaches_disk)
    }

    /// As [`SimFile::write_back`], for the pages of `pages` that `chosen` accepts.
    pub(super) fn write_back_where(
        &self,
        pages: Range<usize>,
        chosen: &dyn Fn(usize) -> bool,
        reaches_disk: bool,
    ) -> usize {
        let mut guard = lock(&self.disk);
        let disk = &mut *guard;
        let mut written = 0;
        let mut snapshot = [0u64; PAGE_WORDS];
        let in_range = self
            .memory
            .chunks(PAGE_WORDS)
            .zip(disk.synced.chunks_mut(PAGE_WORDS))
            .zip(disk.durable.chunks_mut(PAGE_WORDS))
            .enumerate()
            .skip(pages.start)
            .take(pages.len());
        for (page, ((memory, synced), durable)) in in_range {
            if !chosen(page) {
                continue;
            }
            // Load each word once, so `synced` and `durable` get the same bytes even
            // while the journal keeps writing the page.
            for (slot, word) in snapshot.iter_mut().zip(memory) {
                *slot = word.load(Ordering::Acquire);
            }
            if snapshot.as_slice() == &*synced {
                continue;
            }
            synced.copy_from_slice(&snapshot);
            if reaches_disk {
                durable.copy_from_slice(&snapshot);
            }
            written += 1;
        }
        written
    }

    /// What the disk holds after a power loss in which the pages `fate` names reached
    /// the disk (whole or torn) and no other dirty page did.
    pub(super) fn image(&self, fate: &dyn Fn(usize) -> Option<PageFate>) -> Vec<u64> {
        let disk = lock(&self.disk);
        let mut out = disk.durable.clone();
        drop(disk);
        for (page, (memory, target)) in self
            .memory
            .chunks(PAGE_WORDS)
            .zip(out.chunks_mut(PAGE_WORDS))
            .enumerate()
        {
            let words = match fate(page) {
                None => continue,
                Some(PageFate::Written) => PAGE_WORDS,
                Some(PageFate::Torn { sectors }) => {
                    sectors.min(PAGE_WORDS / SECTOR_WORDS) * SECTOR_WORDS
                }
            };
            for (slot, word) in target.iter_mut().zip(memory).take(words) {
                *slot = word.load(Ordering::Acquire);
            }
        }
        out
    }

    /// The page cache's bytes (little-endian words).
    pub(super) fn memory_bytes(&self) -> Vec<u8> {
        self.memory
            .iter()
            .flat_map(|w| w.load(Ordering::Acquire).to_le_bytes())
            .collect()
    }

    /// The bytes that would survive a power loss with no dirty page written.
    pub(super) fn durable_bytes(&self) -> Vec<u8> {
        lock(&self.disk)
            .durable
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect()
    }
}

fn differs(memory: &[SharedWord], synced: &[u64]) -> bool {
    memory
        .iter()
        .zip(synced)
        .any(|(m, s)| m.load(Ordering::Acquire) != *s)
}
