//! Helpers shared by the behaviour tests: small journals, the on-disk layout (segment
//! names, frame offsets), byte surgery on files, and fingerprints of a directory that
//! show whether a failed open changed anything.
#![allow(dead_code, reason = "each test file uses a subset of these helpers")]

use std::collections::BTreeMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use checkpoint_journal::{CheckpointRecord, Entry, Frame, Journal, Lsn, Options};

/// Result of a test or helper: any error fails the test with its message.
pub(crate) type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Segment size used by the tests: the smallest allowed, so roll-overs come quickly.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024;
/// Bytes of the segment header page; frames start at this file offset.
pub(crate) const HEADER_BYTES: u64 = 4096;
/// Data bytes per segment: the LSN distance between consecutive segment bases.
pub(crate) const CAPACITY_BYTES: u64 = SEGMENT_BYTES - HEADER_BYTES;
/// Bytes of a frame header.
pub(crate) const FRAME_HEADER_BYTES: u64 = 16;
/// Bytes of a one-entry frame.
pub(crate) const ONE_ENTRY_FRAME_BYTES: u64 = 40;

/// Small segments and no background preallocation, so the set of files on disk is
/// exactly what the appends made.
pub(crate) fn options() -> Options {
    Options::default()
        .segment_size_bytes(SEGMENT_BYTES)
        .preallocate(false)
}

/// Bytes an entry-batch frame of `count` entries occupies.
pub(crate) fn batch_frame_bytes(count: u64) -> u64 {
    FRAME_HEADER_BYTES + 24 * count
}

/// The `i`-th test entry. Its watermark is negative, so the last byte of its frame is
/// non-zero: damage to any byte of the frame changes the frame.
pub(crate) fn entry(i: u64) -> Entry {
    let source = u16::try_from(i % 5).unwrap_or(0) + 1;
    Entry::push(source, i + 1, !i64::try_from(i).unwrap_or(0))
}

/// A small checkpoint record.
pub(crate) fn record(id: u64) -> CheckpointRecord {
    CheckpointRecord {
        id,
        epoch: 1,
        created_at_ms: 1_700_000_000_000 + id,
        source_sequences: vec![(1, id * 10), (2, id * 20)],
        watermarks: vec![(1, -7)],
        ..CheckpointRecord::default()
    }
}

/// A fresh temporary directory; the journal goes in its `journal` subdirectory.
pub(crate) fn tempdir() -> io::Result<tempfile::TempDir> {
    tempfile::tempdir()
}

/// `{base:016x}.seg` in `dir`.
pub(crate) fn segment_path(dir: &Path, base_lsn: u64) -> PathBuf {
    dir.join(format!("{base_lsn:016x}.seg"))
}

/// Base LSNs of the segment files in `dir`, parsed from their names, in order.
pub(crate) fn segment_bases(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for item in fs::read_dir(dir)? {
        let name = item?.file_name();
        let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else {
            continue;
        };
        if let Ok(base) = u64::from_str_radix(hex, 16) {
            out.push(base);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The segment file holding `lsn` and the file offset of that LSN.
pub(crate) fn locate(dir: &Path, lsn: Lsn) -> io::Result<(PathBuf, u64)> {
    let base = segment_bases(dir)?
        .into_iter()
        .rfind(|b| *b <= lsn.0)
        .ok_or_else(|| io::Error::other(format!("no segment holds LSN {lsn}")))?;
    Ok((segment_path(dir, base), HEADER_BYTES + (lsn.0 - base)))
}

/// `len` bytes of `path` at `offset`.
pub(crate) fn read_at(path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    fs::File::open(path)?.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Overwrites `bytes` of `path` at `offset`.
pub(crate) fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all_at(bytes, offset)
}

/// Flips bit `bit` (0 = least significant bit of byte `offset`) of `path`.
pub(crate) fn flip_bit(path: &Path, offset: u64, bit: u32) -> io::Result<()> {
    let mut byte = read_at(path, offset, 1)?;
    if let Some(b) = byte.first_mut() {
        *b ^= 1 << bit;
    }
    write_at(path, offset, &byte)
}

/// Copies the regular files of `from` into `to` (created if missing).
pub(crate) fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for item in fs::read_dir(from)? {
        let item = item?;
        if item.file_type()?.is_file() {
            fs::copy(item.path(), to.join(item.file_name()))?;
        }
    }
    Ok(())
}

/// Every name in `dir` with its kind, length and a hash of its contents (or a symlink's
/// target): equal fingerprints mean nothing in the directory changed. The advisory
/// published stats (`journal.stats`, and its temporary file), which an open writer
/// rewrites every second, are left out.
pub(crate) fn fingerprint(dir: &Path) -> io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        if is_published_stats(&item.file_name()) {
            continue;
        }
        let path = item.path();
        let meta = fs::symlink_metadata(&path)?;
        let what = if meta.file_type().is_symlink() {
            format!("symlink to {}", fs::read_link(&path)?.display())
        } else if meta.is_dir() {
            "directory".to_owned()
        } else {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            fs::read(&path)?.hash(&mut h);
            format!("file of {} bytes, hash {:016x}", meta.len(), h.finish())
        };
        out.insert(item.file_name().to_string_lossy().into_owned(), what);
    }
    Ok(out)
}

/// Non-zero 8-byte words of the data areas of every segment in `dir`, from `lsn` to the
/// end of the last segment, times 8: what truncating at `lsn` has to zero.
pub(crate) fn nonzero_bytes_from(dir: &Path, lsn: Lsn) -> io::Result<u64> {
    let mut total = 0;
    for base in segment_bases(dir)? {
        let bytes = fs::read(segment_path(dir, base))?;
        let start = HEADER_BYTES + lsn.0.saturating_sub(base);
        let data = bytes
            .get(usize::try_from(start).unwrap_or(usize::MAX)..)
            .unwrap_or_default();
        total += 8 * data.chunks(8).filter(|w| w.iter().any(|b| *b != 0)).count() as u64;
    }
    Ok(total)
}

/// Every frame of the journal, from its start.
pub(crate) fn frames(journal: &Journal) -> TestResult<Vec<Frame>> {
    let mut out = Vec::new();
    for frame in journal.read_from(journal.first_lsn())? {
        out.push(frame?);
    }
    Ok(out)
}

/// Every entry of the journal, in order (checkpoints skipped).
pub(crate) fn entries(journal: &Journal) -> TestResult<Vec<Entry>> {
    let mut out = Vec::new();
    for frame in journal.read_from(Lsn::ZERO)? {
        if let Frame::Entries { entries, .. } = frame? {
            out.extend(entries);
        }
    }
    Ok(out)
}

/// Writes `count` one-entry frames (`entry(0..count)`) to a new journal in `dir` with
/// `options`; returns the journal, still open, and the LSNs.
pub(crate) fn write_entries(
    dir: &Path,
    options: Options,
    count: u64,
) -> TestResult<(Journal, Vec<Lsn>)> {
    let journal = Journal::open(dir, options)?;
    let mut lsns = Vec::new();
    for i in 0..count {
        lsns.push(journal.append(entry(i))?);
    }
    Ok((journal, lsns))
}

/// `journal.stats` or its temporary file `journal.stats.PID.tmp`.
pub(crate) fn is_published_stats(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name == "journal.stats"
        || (name.starts_with("journal.stats.")
            && Path::new(&*name).extension().is_some_and(|e| e == "tmp"))
}

/// Waits (up to 20 s) until every sealed segment in `dir` (every segment file `storage`
/// lists but the newest) has a summary that `summarized` accepts (given the summary's
/// path), so that the background summarizer holds no segment and makes no storage
/// operation of its own during what the test does next.
pub(crate) fn wait_for_summaries(
    storage: &dyn checkpoint_journal::storage::Storage,
    dir: &Path,
    summarized: impl Fn(&Path) -> bool,
) -> TestResult {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut segments: Vec<PathBuf> = storage
            .list_dir(dir)?
            .into_iter()
            .map(|e| dir.join(e.name))
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        segments.sort();
        segments.pop();
        let missing = segments
            .iter()
            .filter(|s| !summarized(&s.with_extension("sum")))
            .count();
        if missing == 0 {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("{missing} sealed segments still without a summary").into());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
