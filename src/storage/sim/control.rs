//! The test's side of a simulated storage: hooks around every operation, counters,
//! inspection of the three images of a file, and arming faults.

use std::path::{Path, PathBuf};

use super::{BeforeHook, SimOp, SimOpKind, SimStorage};
use crate::sync::{lock, Arc, Ordering};

impl SimStorage {
    /// Runs `hook` before every later storage operation, on the thread making it, with
    /// no lock held: a test can hold a thread there to force an interleaving.
    pub fn set_before_hook(
        &self,
        hook: impl Fn(&SimStorage, SimOpKind, &Path) + Send + Sync + 'static,
    ) {
        let hook: BeforeHook = Arc::new(hook);
        *lock(&self.inner.before) = Some(hook);
    }

    /// Runs `hook` after every later storage operation.
    pub fn set_hook(&self, hook: impl Fn(&SimStorage, &SimOp) + Send + Sync + 'static) {
        *lock(&self.inner.hook) = Some(Arc::new(hook));
    }

    /// Removes both hooks.
    pub fn clear_hook(&self) {
        lock(&self.inner.hook).take();
        lock(&self.inner.before).take();
    }

    /// Storage operations completed so far.
    #[must_use]
    pub fn operations(&self) -> u64 {
        self.inner.ops.load(Ordering::Acquire)
    }

    /// `sync_range` calls that reached the kernel (failed ones included).
    #[must_use]
    pub fn syncs_total(&self) -> u64 {
        self.inner.syncs.load(Ordering::Relaxed)
    }

    /// Successful `sync_dir` calls.
    #[must_use]
    pub fn dir_syncs(&self) -> u64 {
        self.inner.dir_syncs.load(Ordering::Relaxed)
    }

    /// `sync_range` calls on the file now named `path` (`None`: no such file).
    #[must_use]
    pub fn syncs(&self, path: &Path) -> Option<u64> {
        lock(&self.inner.state).files.get(path).map(|f| f.syncs())
    }

    /// Pages of `path` whose memory differs from what the kernel believes is clean.
    #[must_use]
    pub fn dirty_pages(&self, path: &Path) -> Option<Vec<usize>> {
        lock(&self.inner.state)
            .files
            .get(path)
            .map(|f| f.dirty_pages())
    }

    /// The page cache of `path`, as bytes.
    #[must_use]
    pub fn memory_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        lock(&self.inner.state)
            .files
            .get(path)
            .map(|f| f.memory_bytes())
    }

    /// The durable bytes of `path` (as listed now, durable listing or not).
    #[must_use]
    pub fn durable_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        lock(&self.inner.state)
            .files
            .get(path)
            .map(|f| f.durable_bytes())
    }

    /// Files as the running system lists them.
    #[must_use]
    pub fn files(&self) -> Vec<PathBuf> {
        lock(&self.inner.state).files.keys().cloned().collect()
    }

    /// Files a power loss now would keep.
    #[must_use]
    pub fn durable_files(&self) -> Vec<PathBuf> {
        lock(&self.inner.state)
            .durable_files
            .keys()
            .cloned()
            .collect()
    }

    /// The next `sync_range` fails with EIO and, like Linux, marks its dirty pages clean
    /// without writing them: a retry succeeds and the data is gone.
    pub fn fail_next_sync(&self) {
        self.fail_next_sync_where(|_, _, _| true);
    }

    /// The next `sync_range(offset, len)` of a file `path` for which `filter` holds
    /// fails as [`SimStorage::fail_next_sync`] describes.
    pub fn fail_next_sync_where(
        &self,
        filter: impl Fn(&Path, usize, usize) -> bool + Send + Sync + 'static,
    ) {
        lock(&self.inner.state)
            .faults
            .arm_sync_failure(Box::new(filter));
    }

    /// While `full`, `create_mapped` fails with ENOSPC (`ErrorKind::StorageFull`).
    pub fn set_storage_full(&self, full: bool) {
        lock(&self.inner.state).faults.storage_full = full;
    }

    /// The next `sync_dir` fails with EIO; the listing it would have made durable is not.
    pub fn fail_next_sync_dir(&self) {
        lock(&self.inner.state).faults.arm_sync_dir_failure();
    }

    /// The next `ops` operations succeed as usual; every one after them fails with EIO
    /// (`None` lifts the limit).
    pub fn fail_after_ops(&self, ops: Option<u64>) {
        lock(&self.inner.state).faults.set_ops_budget(ops);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.state).faults.clear();
    }

    /// Injected faults that fired.
    #[must_use]
    pub fn faults_fired(&self) -> u64 {
        lock(&self.inner.state).faults.fired
    }
}
