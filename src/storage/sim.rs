//! The simulated backend: files in memory with a model of the Linux page cache and a
//! disk, fault injection, and crash images (what a power loss would leave).
//!
//! Each file has three images ([`file`]): the page cache the mapping shows, what the
//! kernel believes is clean, and what is durable. `sync_range` writes back the range's
//! dirty pages; a directory's creates and removes become durable at `sync_dir`. A
//! [`SimStorage::crash_image`] is a fresh storage holding the durable directory listing,
//! each file's durable bytes, and the dirty pages a [`CrashPolicy`] lets through.
//!
//! Invariant: the state lock is held across every change of `synced`/`durable` and of
//! the listings, and across a whole crash image, so an image never observes half a sync.
//!
//! Not modelled: directories are durable as soon as they exist; a file's length and
//! blocks are durable at creation (fallocate); the lock is not a file in the listing; a
//! page reaches a crash image either as the page cache shows it now or as it was last
//! written back, never as an older unsynced version (a test can write back pages at
//! chosen moments with [`SimStorage::write_back`]); a store that leaves a page's bytes
//! unchanged does not dirty it; a torn page keeps a prefix of its sectors, never
//! another subset.

mod control;
mod fault;
mod file;
mod image;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

pub use fault::{SimOp, SimOpKind, SyncFilter};
pub use file::{PAGE_BYTES, SECTOR_BYTES};
pub use image::{CrashPolicy, DirtyPages, SimRng};

use crate::error::{Error, Result};
use crate::storage::{lock_path, DirEntry, DirLock, MappedFile, SharedWord, Storage};
use crate::sync::{lock, Arc, AtomicU64, Mutex, Ordering};
use fault::Faults;
use file::SimFile;

/// Called after every storage operation, on the thread that made it, with no lock held.
pub type OpHook = Arc<dyn Fn(&SimStorage, &SimOp) + Send + Sync>;
/// Called before every storage operation, on the thread about to make it, with no lock held.
pub type BeforeHook = Arc<dyn Fn(&SimStorage, SimOpKind, &Path) + Send + Sync>;

/// A simulated filesystem. Clones share the same files (one "machine").
#[derive(Clone, Default)]
pub struct SimStorage {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    seed: u64,
    state: Mutex<State>,
    hook: Mutex<Option<OpHook>>,
    before: Mutex<Option<BeforeHook>>,
    /// Operations completed (the index of the last [`SimOp`]).
    ops: AtomicU64,
    /// `sync_range` calls that reached the kernel, failed ones included.
    syncs: AtomicU64,
    /// `sync_dir` calls that succeeded.
    dir_syncs: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    dirs: BTreeSet<PathBuf>,
    /// The listing as the running system sees it.
    files: BTreeMap<PathBuf, Arc<SimFile>>,
    /// The listing a power loss keeps (changed by `sync_dir`).
    durable_files: BTreeMap<PathBuf, Arc<SimFile>>,
    /// Directory → holder of its writer lock.
    locks: BTreeMap<PathBuf, String>,
    /// Owner lease files: like the lock, outside the listing and not kept by a crash image.
    small_files: BTreeMap<PathBuf, Vec<u8>>,
    faults: Faults,
}

/// A mapping of a simulated file: its page cache, synced through the storage.
#[derive(Debug)]
struct SimMapping {
    path: PathBuf,
    file: Arc<SimFile>,
    storage: SimStorage,
}

/// The in-memory writer lock of a directory; released on drop.
#[derive(Debug)]
struct SimLock {
    dir: PathBuf,
    storage: SimStorage,
}

impl fmt::Debug for SimStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner.state);
        f.debug_struct("SimStorage")
            .field("seed", &self.inner.seed)
            .field("ops", &self.operations())
            .field("files", &state.files.keys().collect::<Vec<_>>())
            .field(
                "durable_files",
                &state.durable_files.keys().collect::<Vec<_>>(),
            )
            .field("faults", &state.faults)
            .finish_non_exhaustive()
    }
}

impl SimStorage {
    /// An empty storage whose random choices (crash images, writeback) derive from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> SimStorage {
        SimStorage {
            inner: Arc::new(Inner {
                seed,
                ..Inner::default()
            }),
        }
    }

    /// The seed this storage was made with.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// What a power loss now would leave: a fresh storage (same seed, no faults, no
    /// hook, no locks) holding the durable listing, durable bytes, and the dirty pages
    /// `policy` lets through.
    #[must_use]
    pub fn crash_image(&self, policy: CrashPolicy) -> SimStorage {
        self.crash_images(&[policy])
            .pop()
            .map_or_else(|| SimStorage::new(self.inner.seed), |(_, image)| image)
    }

    /// [`SimStorage::crash_image`] for each of `policies` at one instant, one image per
    /// distinct outcome: a policy that chooses the same pages as an earlier one is left
    /// out (with no dirty page, every policy leaves the same image).
    #[must_use]
    pub fn crash_images(&self, policies: &[CrashPolicy]) -> Vec<(CrashPolicy, SimStorage)> {
        let state = lock(&self.inner.state);
        let dirty: Vec<Vec<usize>> = state
            .durable_files
            .values()
            .map(|f| f.dirty_pages())
            .collect();
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for policy in policies {
            let plans = image::plan(&dirty, *policy, self.inner.seed);
            if seen.contains(&plans) {
                continue;
            }
            out.push((*policy, self.image_of(&state, &plans)));
            seen.push(plans);
        }
        out
    }

    fn image_of(&self, state: &State, plans: &[image::Plan]) -> SimStorage {
        let mut files = BTreeMap::new();
        for ((path, file), fates) in state.durable_files.iter().zip(plans) {
            let words = image::build(file, fates);
            files.insert(path.clone(), Arc::new(SimFile::from_words(words)));
        }
        let out = SimStorage::new(self.inner.seed);
        let mut fresh = lock(&out.inner.state);
        fresh.dirs.clone_from(&state.dirs);
        fresh.durable_files.clone_from(&files);
        fresh.files = files;
        drop(fresh);
        out
    }

    /// What a process crash now leaves to the next process on the same machine: a fresh
    /// storage (no faults, no hooks, no locks) with a copy of every file's page cache,
    /// dirty pages and durable bytes, and of both directory listings. Crash images of it
    /// then model a power loss after the restart.
    #[must_use]
    pub fn process_crash_image(&self) -> SimStorage {
        let state = lock(&self.inner.state);
        let mut copies: Vec<(Arc<SimFile>, Arc<SimFile>)> = Vec::new();
        let mut copy_of = |file: &Arc<SimFile>| -> Arc<SimFile> {
            if let Some((_, copy)) = copies.iter().find(|(from, _)| Arc::ptr_eq(from, file)) {
                return Arc::clone(copy);
            }
            let copy = Arc::new(file.copy());
            copies.push((Arc::clone(file), Arc::clone(&copy)));
            copy
        };
        let files: BTreeMap<_, _> = state
            .files
            .iter()
            .map(|(p, f)| (p.clone(), copy_of(f)))
            .collect();
        let durable_files = state
            .durable_files
            .iter()
            .map(|(p, f)| (p.clone(), copy_of(f)))
            .collect();
        let out = SimStorage::new(self.inner.seed);
        let mut fresh = lock(&out.inner.state);
        fresh.dirs.clone_from(&state.dirs);
        fresh.files = files;
        fresh.durable_files = durable_files;
        drop(fresh);
        out
    }

    /// Background writeback by the kernel: the dirty pages `which` chooses reach the
    /// disk and become clean. Not a storage operation (no hook, no count).
    pub fn write_back(&self, which: DirtyPages) {
        let state = lock(&self.inner.state);
        let policy = CrashPolicy {
            dirty: which,
            torn: None,
        };
        let inodes = every_inode(&state);
        let dirty: Vec<Vec<usize>> = inodes.iter().map(|f| f.dirty_pages()).collect();
        let plans = image::plan(&dirty, policy, self.inner.seed);
        for (file, fates) in inodes.iter().zip(&plans) {
            file.write_back_where(0..file.len_pages(), &|page| fates.contains_key(&page), true);
        }
    }

    /// Runs one operation under the state lock, between the two hooks.
    fn run<T>(
        &self,
        kind: SimOpKind,
        path: &Path,
        body: impl FnOnce(&mut State) -> io::Result<T>,
    ) -> io::Result<T> {
        let before = lock(&self.inner.before).clone();
        if let Some(before) = before {
            before(self, kind, path);
        }
        let result = {
            let mut state = lock(&self.inner.state);
            state.faults.take_op().and_then(|()| body(&mut state))
        };
        self.after(kind, path, result.is_err());
        result
    }

    fn after(&self, kind: SimOpKind, path: &Path, failed: bool) {
        let index = self.inner.ops.fetch_add(1, Ordering::AcqRel) + 1;
        let hook = lock(&self.inner.hook).clone();
        if let Some(hook) = hook {
            let op = SimOp {
                index,
                kind,
                path: path.to_owned(),
                failed,
            };
            hook(self, &op);
        }
    }

    /// `msync`: writes back the dirty pages of `[offset, offset + len)` (widened to pages).
    fn sync_file(&self, path: &Path, file: &SimFile, offset: usize, len: usize) -> io::Result<()> {
        let first = offset / PAGE_BYTES;
        let end_bytes = offset.saturating_add(len).min(file.words().len() * 8);
        if end_bytes <= first * PAGE_BYTES {
            return Ok(());
        }
        let end = end_bytes.div_ceil(PAGE_BYTES);
        let kind = SimOpKind::SyncRange { offset, len };
        self.run(kind, path, |state| {
            self.inner.syncs.fetch_add(1, Ordering::Relaxed);
            file.count_sync();
            let fails = state.faults.take_sync_failure(path, offset, len);
            file.write_back(first..end, !fails);
            if fails {
                return Err(io::Error::from(Errno::EIO));
            }
            Ok(())
        })
    }
}

impl MappedFile for SimMapping {
    fn words(&self) -> &[SharedWord] {
        self.file.words()
    }

    fn sync_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.storage.sync_file(&self.path, &self.file, offset, len)
    }
}

impl DirLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        lock(&self.storage.inner.state).locks.remove(&self.dir);
    }
}

impl Storage for SimStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.run(SimOpKind::CreateDir, dir, |state| {
            if state.files.contains_key(dir) {
                return Err(io::Error::from(Errno::EEXIST));
            }
            state.dirs.extend(dir.ancestors().map(Path::to_path_buf));
            Ok(())
        })
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        self.run(SimOpKind::ListDir, dir, |state| {
            need_dir(state, dir)?;
            let files = state.files.iter().filter(|(p, _)| p.parent() == Some(dir));
            let dirs = state.dirs.iter().filter(|p| p.parent() == Some(dir));
            let mut out: Vec<DirEntry> = files
                .filter_map(|(p, f)| entry(p, true, f.len_bytes()))
                .collect();
            out.extend(dirs.filter_map(|p| entry(p, false, 0)));
            Ok(out)
        })
    }

    fn create_mapped(&self, path: &Path, len: u64) -> io::Result<Arc<dyn MappedFile>> {
        let file = self.run(SimOpKind::CreateMapped, path, |state| {
            need_dir(state, path.parent().unwrap_or(Path::new("")))?;
            if state.files.contains_key(path) || state.dirs.contains(path) {
                return Err(io::Error::from(Errno::EEXIST));
            }
            state.faults.check_space()?;
            let words = words_of(len)?;
            let file = Arc::new(SimFile::zeroed(words));
            state.files.insert(path.to_owned(), Arc::clone(&file));
            Ok(file)
        })?;
        Ok(self.mapping(path, file))
    }

    fn open_mapped(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        let file = self.run(SimOpKind::OpenMapped, path, |state| {
            state
                .files
                .get(path)
                .cloned()
                .ok_or_else(|| io::Error::from(Errno::ENOENT))
        })?;
        Ok(self.mapping(path, file))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.run(SimOpKind::RemoveFile, path, |state| {
            state
                .files
                .remove(path)
                .map(drop)
                .ok_or_else(|| io::Error::from(Errno::ENOENT))
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        // The listing changes now; what a crash keeps changes at the next `sync_dir`,
        // which takes the whole listing at once, so a crash image holds either name.
        self.run(SimOpKind::Rename, from, |state| {
            if from.parent() != to.parent() || state.dirs.contains(to) {
                return Err(io::Error::from(Errno::EINVAL));
            }
            let file = state
                .files
                .remove(from)
                .ok_or_else(|| io::Error::from(Errno::ENOENT))?;
            state.files.insert(to.to_owned(), file);
            Ok(())
        })
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.run(SimOpKind::SyncDir, dir, |state| {
            need_dir(state, dir)?;
            state.faults.take_sync_dir_failure()?;
            state.durable_files.retain(|p, _| p.parent() != Some(dir));
            let listed = state.files.iter().filter(|(p, _)| p.parent() == Some(dir));
            let listed: Vec<_> = listed.map(|(p, f)| (p.clone(), Arc::clone(f))).collect();
            state.durable_files.extend(listed);
            self.inner.dir_syncs.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    }

    fn lock_dir(&self, dir: &Path, holder: &str) -> Result<Box<dyn DirLock>> {
        let taken = self.run(SimOpKind::LockDir, dir, |state| {
            need_dir(state, dir)?;
            if let Some(current) = state.locks.get(dir) {
                return Ok(Err(current.clone()));
            }
            state.locks.insert(dir.to_owned(), holder.to_owned());
            Ok(Ok(()))
        });
        match taken {
            Ok(Ok(())) => Ok(Box::new(SimLock {
                dir: dir.to_owned(),
                storage: self.clone(),
            })),
            Ok(Err(holder)) => Err(Error::Locked {
                path: lock_path(dir),
                holder,
            }),
            Err(e) => Err(Error::io(lock_path(dir), "open lock file", e)),
        }
    }

    fn lock_holder(&self, dir: &Path) -> io::Result<Option<String>> {
        self.run(SimOpKind::LockHolder, dir, |state| {
            Ok(state.locks.get(dir).cloned())
        })
    }

    // Owner lease: outside the operation count, the hooks and the fault plan, so that
    // crash and fault schedules written against the journal's own operations stay put.
    fn read_small_file(&self, path: &Path, max_bytes: usize) -> io::Result<Option<Vec<u8>>> {
        let state = lock(&self.inner.state);
        let file = state.small_files.get(path);
        Ok(file.map(|b| {
            b.iter()
                .take(max_bytes.saturating_add(1))
                .copied()
                .collect()
        }))
    }

    fn replace_small_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.inner.state);
        need_dir(&state, path.parent().unwrap_or(Path::new("")))?;
        state.small_files.insert(path.to_owned(), bytes.to_vec());
        Ok(())
    }

    fn remove_small_file(&self, path: &Path) -> io::Result<()> {
        lock(&self.inner.state).small_files.remove(path);
        Ok(())
    }
}

impl SimStorage {
    fn mapping(&self, path: &Path, file: Arc<SimFile>) -> Arc<dyn MappedFile> {
        Arc::new(SimMapping {
            path: path.to_owned(),
            file,
            storage: self.clone(),
        })
    }
}

/// Every file the system still holds (listed now, or kept by the durable listing), once.
fn every_inode(state: &State) -> Vec<Arc<SimFile>> {
    let mut out: Vec<Arc<SimFile>> = Vec::new();
    for file in state.files.values().chain(state.durable_files.values()) {
        if !out.iter().any(|known| Arc::ptr_eq(known, file)) {
            out.push(Arc::clone(file));
        }
    }
    out
}

fn need_dir(state: &State, dir: &Path) -> io::Result<()> {
    if state.dirs.contains(dir) {
        Ok(())
    } else if state.files.contains_key(dir) {
        Err(io::Error::from(Errno::ENOTDIR))
    } else {
        Err(io::Error::from(Errno::ENOENT))
    }
}

fn entry(path: &Path, is_file: bool, len: u64) -> Option<DirEntry> {
    Some(DirEntry {
        name: path.file_name()?.to_owned(),
        is_file,
        len,
    })
}

/// Words of a new file of `len` bytes (a positive multiple of the page, as mmap.rs wants).
fn words_of(len: u64) -> io::Result<usize> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(Errno::EFBIG))?;
    if len == 0 || !len.is_multiple_of(PAGE_BYTES) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file length {len} is not a positive multiple of {PAGE_BYTES}"),
        ));
    }
    Ok(len / 8)
}

#[cfg(test)]
mod tests;
