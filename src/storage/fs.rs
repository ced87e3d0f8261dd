//! The real backend: files with mode 0600 in a directory with mode 0700, blocks
//! allocated with fallocate before mapping, and an flock'd lock file naming its holder.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};
use crate::format::limits::LOCK_HOLDER_BYTES_MAX;
use crate::storage::mmap::Mapping;
use crate::storage::{DirEntry, DirLock, MappedFile, Storage};
use crate::sync::Arc;

/// Name of the lock file inside a journal directory.
pub const LOCK_FILE_NAME: &str = "journal.lock";

/// The operating system's filesystem.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsStorage;

#[derive(Debug)]
struct FsLock {
    _flock: Flock<File>,
}

impl DirLock for FsLock {}

impl Storage for FsStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut missing = Vec::new();
        let mut at = Some(dir);
        while let Some(path) = at.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
            missing.push(path.to_path_buf());
            at = path.parent();
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // A new directory's entry is durable only once its parent is fsynced: without
        // this, a power loss can take the whole journal directory away.
        for created in missing.iter().rev() {
            let parent = created.parent().filter(|p| !p.as_os_str().is_empty());
            File::open(parent.unwrap_or_else(|| Path::new(".")))?.sync_all()?;
        }
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for item in fs::read_dir(dir)? {
            let item = item?;
            let meta = match fs::symlink_metadata(item.path()) {
                Ok(meta) => meta,
                // Removed or renamed away since `read_dir` saw it (a temporary file of the
                // published stats or the lease): the listing of a moment later.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            out.push(DirEntry {
                name: item.file_name(),
                is_file: meta.is_file(),
                len: meta.len(),
            });
        }
        Ok(out)
    }

    fn create_mapped(&self, path: &Path, len: u64) -> io::Result<Arc<dyn MappedFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        if let Err(e) = allocate(&file, len) {
            // Leave no half-made file behind: a later open must not mistake it for a segment.
            let _ = fs::remove_file(path);
            return Err(e);
        }
        Ok(Arc::new(Mapping::new(file, len, true)?))
    }

    fn open_mapped(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Arc::new(Mapping::new(file, len, false)?))
    }

    fn open_mapped_readonly(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        let file = OpenOptions::new().read(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Arc::new(Mapping::new_readonly(file, len)?))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock_dir(&self, dir: &Path, holder: &str) -> Result<Box<dyn DirLock>> {
        let path = dir.join(LOCK_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(&path, "open lock file", e))?;
        let mut flock = match lock_exclusive(file) {
            Ok(flock) => flock,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let holder = read_holder(&mut file).unwrap_or_else(|_| "an unknown process".into());
                return Err(Error::Locked { path, holder });
            }
            Err((_, errno)) => return Err(Error::io(&path, "flock", errno.into())),
        };
        write_holder(&mut flock, holder).map_err(|e| Error::io(&path, "write lock holder", e))?;
        Ok(Box::new(FsLock { _flock: flock }))
    }

    fn lock_holder(&self, dir: &Path) -> io::Result<Option<String>> {
        let path = dir.join(LOCK_FILE_NAME);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(_) => Ok(None),
            Err((mut file, Errno::EWOULDBLOCK)) => read_holder(&mut file).map(Some),
            Err((_, errno)) => Err(errno.into()),
        }
    }

    // Owner lease.
    fn read_small_file(&self, path: &Path, max_bytes: usize) -> io::Result<Option<Vec<u8>>> {
        crate::storage::small_file::read(path, max_bytes)
    }

    fn replace_small_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        crate::storage::small_file::replace(path, bytes)
    }

    fn remove_small_file(&self, path: &Path) -> io::Result<()> {
        crate::storage::small_file::remove(path)
    }

    // Live stats for other processes.
    fn replace_advisory_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        crate::storage::small_file::replace_unsynced(path, bytes)
    }
}

/// Takes the exclusive lock, retrying briefly: `lock_holder` (read-only tools) takes a
/// shared lock for a few microseconds to probe, and a writer opening at that instant
/// must not mistake the probe for a holder.
fn lock_exclusive(mut file: File) -> Result<Flock<File>, (File, Errno)> {
    for _ in 0..20 {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Err((f, Errno::EWOULDBLOCK)) => {
                file = f;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            other => return other,
        }
    }
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
}

/// Allocates `len` bytes of real blocks: fallocate, or writing zeros where the
/// filesystem does not implement it (`posix_fallocate`'s fallback); never a sparse file.
fn allocate(file: &File, len: u64) -> io::Result<()> {
    let len_i64 =
        i64::try_from(len).map_err(|_| io::Error::other("file length overflows off_t"))?;
    match nix::fcntl::fallocate(file, nix::fcntl::FallocateFlags::empty(), 0, len_i64) {
        Ok(()) => Ok(()),
        Err(Errno::EOPNOTSUPP | Errno::ENOSYS) => {
            match nix::fcntl::posix_fallocate(file, 0, len_i64) {
                Ok(()) => Ok(()),
                Err(Errno::EINVAL | Errno::EOPNOTSUPP) => write_zeros(file, len),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn write_zeros(mut file: &File, len: u64) -> io::Result<()> {
    let chunk = vec![0u8; 1 << 20];
    let mut left = len;
    file.rewind()?;
    while left > 0 {
        let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        file.write_all(chunk.get(..n).unwrap_or_default())?;
        left -= n as u64;
    }
    file.sync_data()
}

fn read_holder(file: &mut File) -> io::Result<String> {
    let mut buf = Vec::new();
    file.rewind()?;
    file.take(LOCK_HOLDER_BYTES_MAX as u64)
        .read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).trim().to_owned();
    Ok(if text.is_empty() {
        "an unknown process".into()
    } else {
        text
    })
}

fn write_holder(file: &mut File, holder: &str) -> io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(holder.as_bytes())?;
    file.write_all(b"\n")
}

/// `host:pid` of this process, as recorded in the lock file.
#[must_use]
pub fn this_holder() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}:{}", std::process::id())
}

/// The lock file's path in `dir`.
#[must_use]
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK_FILE_NAME)
}
