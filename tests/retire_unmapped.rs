//! Compaction unmaps a retired segment before it removes the segment's file: a file
//! removed while still mapped keeps its pages in the process's resident memory with no
//! segment file left to account for them (the resident-memory bound of the 1 G-entry
//! run in docs/PERFORMANCE.md). A storage that delegates to the real filesystem checks,
//! at every removal of a segment file, whether this process still maps that file.
//!
//! And a journal closed or dropped leaves none of its segments mapped in the thread that
//! closed it (a mapping left in that thread's append cache would be unmapped inside its
//! next append, to whatever journal: a 64 MiB `munmap` in an append's latency).

mod support;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use checkpoint_journal::storage::{DirEntry, DirLock, FsStorage, MappedFile, Storage};
use checkpoint_journal::{Entry, Journal};
use support::TestResult;

/// The real filesystem, recording each segment file removed while this process maps it.
#[derive(Debug, Default)]
struct WatchedFs {
    removed: Mutex<Vec<PathBuf>>,
    removed_while_mapped: Mutex<Vec<PathBuf>>,
}

/// Whether `/proc/self/maps` lists a mapping of `path`.
fn mapped(path: &Path) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let name = path.to_string_lossy();
    maps.lines().any(|l| l.ends_with(name.as_ref()))
}

impl Storage for WatchedFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        FsStorage.create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        FsStorage.list_dir(dir)
    }
    fn create_mapped(&self, path: &Path, len: u64) -> io::Result<Arc<dyn MappedFile>> {
        FsStorage.create_mapped(path, len)
    }
    fn open_mapped(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        FsStorage.open_mapped(path)
    }
    fn open_mapped_readonly(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        FsStorage.open_mapped_readonly(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        if path.extension().is_some_and(|e| e == "seg") {
            if mapped(path) {
                self.removed_while_mapped
                    .lock()
                    .map_err(|_| io::Error::other("poisoned"))?
                    .push(path.to_path_buf());
            }
            self.removed
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .push(path.to_path_buf());
        }
        FsStorage.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        FsStorage.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        FsStorage.sync_dir(dir)
    }
    fn lock_dir(&self, dir: &Path, holder: &str) -> checkpoint_journal::Result<Box<dyn DirLock>> {
        FsStorage.lock_dir(dir, holder)
    }
    fn lock_holder(&self, dir: &Path) -> io::Result<Option<String>> {
        FsStorage.lock_holder(dir)
    }
    fn read_small_file(&self, path: &Path, max_bytes: usize) -> io::Result<Option<Vec<u8>>> {
        FsStorage.read_small_file(path, max_bytes)
    }
    fn replace_small_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        FsStorage.replace_small_file(path, bytes)
    }
    fn remove_small_file(&self, path: &Path) -> io::Result<()> {
        FsStorage.remove_small_file(path)
    }
}

#[test]
fn compaction_unmaps_each_retired_segment_before_removing_its_file() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("j");
    let storage = Arc::new(WatchedFs::default());
    let journal = Journal::open_with_storage(&dir, support::options(), storage.clone())?;
    for i in 0..12_000u64 {
        journal.append(Entry::push(1, i, i.cast_signed()))?;
    }
    journal.flush()?;
    let before = support::segment_bases(&dir)?.len();
    assert!(before >= 6, "the appends filled {before} segments");
    support::wait_for_summaries(&FsStorage, &dir, Path::exists)?;
    journal.compact()?;
    let removed = storage.removed.lock().map_err(|_| "poisoned")?.clone();
    assert!(
        removed.len() >= before - 2,
        "compaction removed {} of {before} segment files",
        removed.len()
    );
    let while_mapped = storage
        .removed_while_mapped
        .lock()
        .map_err(|_| "poisoned")?
        .clone();
    assert!(
        while_mapped.is_empty(),
        "segment files removed while still mapped: {while_mapped:?}"
    );
    journal.close()?;
    Ok(())
}

/// Whether `/proc/self/maps` maps any file under `dir`.
fn maps_under(dir: &Path) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let prefix = dir.to_string_lossy();
    maps.lines().any(|l| l.contains(prefix.as_ref()))
}

#[test]
fn a_journal_closed_or_dropped_leaves_no_segment_mapped() -> TestResult {
    let tmp = tempfile::tempdir()?;
    for close in [true, false] {
        let dir = tmp.path().join(if close { "closed" } else { "dropped" });
        let journal = Journal::open(&dir, support::options())?;
        let batch: Vec<Entry> = (0..100u64).map(|i| Entry::push(1, i, 0)).collect();
        journal.append_batch(&batch)?;
        journal.append(Entry::push(1, 100, 0))?;
        assert!(maps_under(&dir), "open: the segment is mapped");
        if close {
            journal.close()?;
        } else {
            drop(journal);
        }
        assert!(
            !maps_under(&dir),
            "close {close}: a segment of {dir:?} is still mapped"
        );
    }
    Ok(())
}
