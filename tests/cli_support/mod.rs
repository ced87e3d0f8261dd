//! Shared by the `cli_*` tests: run the real `cpj` binary, make journals with the
//! library (small segments, so several exist and debug builds stay quick), damage their
//! bytes, and fingerprint a directory to prove a command changed nothing.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::SystemTime;

use checkpoint_journal::{CheckpointRecord, Entry, Journal, Lsn, Options};

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Smallest segment size: a journal of a few thousand entries spans several segments.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024;
/// Bytes before a segment's first frame.
pub(crate) const SEGMENT_HEADER_BYTES: u64 = 4096;

pub(crate) fn small() -> Options {
    Options::default().segment_size_bytes(SEGMENT_BYTES)
}

/// `cpj` with `args`, stdin closed, output captured.
pub(crate) fn cpj(args: &[&str]) -> Output {
    cpj_command(args)
        .stdin(Stdio::null())
        .output()
        .expect("the cpj binary runs")
}

pub(crate) fn cpj_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cpj"));
    cmd.args(args).env_remove("NO_COLOR");
    cmd
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit status, with the output shown when a test's expectation fails.
pub(crate) fn code(out: &Output) -> i32 {
    let code = out.status.code().unwrap_or(-1);
    eprintln!(
        "exit {code}\n--- stdout\n{}--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
    code
}

/// The one JSON object a `--json` command prints.
pub(crate) fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}):\n{}", stdout(out)))
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// What a journal written by [`write_journal`] holds.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// LSN of every frame, in order.
    pub(crate) frames: Vec<Lsn>,
    /// LSNs of the checkpoint frames.
    pub(crate) checkpoints: Vec<Lsn>,
    pub(crate) entries: u64,
    /// LSN just past the last frame.
    pub(crate) end: Lsn,
}

/// Appends `batches` batches of 8 entries over 3 sources (sequence = batch number,
/// a barrier entry every 10 batches) and a checkpoint every 25 batches.
pub(crate) fn append_workload(
    journal: &Journal,
    batches: u64,
) -> checkpoint_journal::Result<Written> {
    let mut w = Written::default();
    for b in 1..=batches {
        let source = u16::try_from(b % 3).expect("small");
        let mut batch: Vec<Entry> = (0..8)
            .map(|i| Entry::push(source, b * 8 + i, i64::try_from(b).expect("small")))
            .collect();
        if b % 10 == 0 {
            batch.push(Entry::barrier(source, b * 8 + 7, 0));
        }
        w.entries += batch.len() as u64;
        w.frames.push(journal.append_batch(&batch)?);
        if b % 25 == 0 {
            let record = CheckpointRecord {
                id: b / 25,
                epoch: 1,
                source_sequences: vec![(0, b), (1, b), (2, b)],
                ..CheckpointRecord::default()
            };
            let lsn = journal.checkpoint(&record)?;
            w.frames.push(lsn);
            w.checkpoints.push(lsn);
        }
    }
    w.end = journal.end_lsn();
    Ok(w)
}

/// A journal in `dir` with the workload, closed cleanly (so every frame is claimed
/// durable) or dropped as a crash leaves it.
pub(crate) fn write_journal(
    dir: &Path,
    batches: u64,
    clean_close: bool,
) -> checkpoint_journal::Result<Written> {
    let journal = Journal::open(dir, small())?;
    let written = append_workload(&journal, batches)?;
    if clean_close {
        journal.close()?;
    } else {
        journal.close_without_flush();
    }
    Ok(written)
}

/// The segment file holding `lsn` and the byte offset of `lsn` in it.
pub(crate) fn locate(dir: &Path, lsn: Lsn) -> (PathBuf, u64) {
    let data = SEGMENT_BYTES - SEGMENT_HEADER_BYTES;
    let base = lsn.0 / data * data;
    let path = dir.join(format!("{base:016x}.seg"));
    (path, lsn.0 - base + SEGMENT_HEADER_BYTES)
}

/// XORs the byte at `offset` of `path` with `mask`.
pub(crate) fn flip(path: &Path, offset: u64, mask: u8) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new().read(true).write(true).open(path)?;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(&mut b)?;
    b[0] ^= mask;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(&b)
}

/// Writes `bytes` at `offset` of `path`.
pub(crate) fn overwrite(path: &Path, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(bytes)
}

/// Every file's contents, length and modification time, but the advisory published
/// stats (`journal.stats` and its temporary file), which an open writer rewrites every
/// second.
pub(crate) fn fingerprint(dir: &Path) -> BTreeMap<String, (Vec<u8>, u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    for item in fs::read_dir(dir).expect("dir lists") {
        let item = item.expect("entry");
        let name = item.file_name().to_string_lossy().into_owned();
        if name == "journal.stats"
            || (name.starts_with("journal.stats.")
                && Path::new(&*name).extension().is_some_and(|e| e == "tmp"))
        {
            continue;
        }
        let meta = item.metadata().expect("metadata");
        let contents = fs::read(item.path()).expect("file reads");
        out.insert(
            item.file_name().to_string_lossy().into_owned(),
            (contents, meta.len(), meta.modified().ok()),
        );
    }
    out
}
