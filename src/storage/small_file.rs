//! Small files on the real filesystem (the owner lease): read whole with a bound, and
//! replaced atomically — temporary file, fsync, rename, directory fsync — so a crash
//! leaves either the old or the new contents, never a mix. Advisory files (the published
//! stats) are replaced the same way without the syncs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Reads `path` whole (at most `max_bytes + 1` bytes); `None` if it does not exist.
pub(super) fn read(path: &Path, max_bytes: usize) -> io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    file.take(limit).read_to_end(&mut out)?;
    Ok(Some(out))
}

/// Replaces `path` with `bytes`: `path.tmp` written and synced, renamed, directory synced.
pub(super) fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    let outcome = write_synced(&temp, bytes).and_then(|()| fs::rename(&temp, path));
    if outcome.is_err() {
        let _ = fs::remove_file(&temp);
    }
    outcome?;
    sync_parent(path)
}

/// Replaces `path` with `bytes` for readers, not durably: `path.PID.tmp` created anew
/// (never through a symlink or a file left there), renamed over `path`.
pub(super) fn replace_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    let _ = fs::remove_file(&temp);
    let outcome = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temp, path));
    if outcome.is_err() {
        let _ = fs::remove_file(&temp);
    }
    outcome
}

/// Removes `path`; missing is fine. The removal is made durable.
pub(super) fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

fn write_synced(temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    File::open(parent.unwrap_or_else(|| Path::new(".")))?.sync_all()
}
