//! Archiving (feature `object-store`): what it costs appenders, and what a restore
//! costs against the plainest way to move the same bytes.
//!
//! - `append`: entries/s of batched `Async` appends (64 entries per batch, 4 MiB
//!   segments) without an archiver — the reference, measured in the same run — and with
//!   an archiver uploading every sealed segment to a local-filesystem store on the same
//!   disk (single-writer mode). Runs alternate; the median of `RUNS` is printed, and the
//!   ratio `with / without`.
//! - `restore`: `archive::restore` of `RESTORE_SEGMENTS` segments (fetch, CRC32C and
//!   header checks, write, fsync each file, fsync the directory) against copying the
//!   same segment files with `std::fs::copy`, `fsync` of each and of the directory (the
//!   reference). Median of `RUNS`, and the ratio.
//!
//! Run: `cargo bench --features object-store --bench archive`. `CPJ_BENCH_DIR` sets
//! where the journals and the store live (default: the system's temporary directory).

#![allow(clippy::cast_precision_loss, reason = "printed rates and ratios")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpoint_journal::archive::object_store::local::LocalFileSystem;
use checkpoint_journal::archive::object_store::ObjectStore;
use checkpoint_journal::archive::{restore, ArchiveConfig, ArchiveMode};
use checkpoint_journal::{Entry, Journal, Lsn, Options};

const RUNS: usize = 5;
const SEGMENT_BYTES: u64 = 4 << 20;
const APPEND_ENTRIES: u64 = 4_000_000;
const BATCH: u64 = 64;
const RESTORE_SEGMENTS: u64 = 16;

fn options() -> Options {
    Options::default().segment_size_bytes(SEGMENT_BYTES)
}

fn base_dir() -> tempfile::TempDir {
    let root = std::env::var_os("CPJ_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    tempfile::tempdir_in(root).expect("a temporary directory")
}

fn local_store(dir: &Path) -> Arc<dyn ObjectStore> {
    std::fs::create_dir_all(dir).expect("the store's directory");
    Arc::new(LocalFileSystem::new_with_prefix(dir).expect("a local store"))
}

fn single_writer() -> ArchiveConfig {
    ArchiveConfig::default()
        .mode(ArchiveMode::SingleWriter)
        .poll_interval(Duration::from_millis(10))
}

/// Appends `count` entries in batches; returns the time taken.
fn append(journal: &Journal, count: u64) -> Duration {
    let batch: Vec<Entry> = (0..BATCH).map(|i| Entry::push(1, i, 0)).collect();
    let started = Instant::now();
    for _ in 0..count / BATCH {
        journal.append_batch(&batch).expect("append");
    }
    started.elapsed()
}

/// One append run: entries/s, with or without an archiver.
fn append_run(archive: bool) -> f64 {
    let dir = base_dir();
    let journal = Journal::open(dir.path().join("j"), options()).expect("open");
    let archiver = archive.then(|| {
        journal
            .start_archiver(local_store(dir.path()), "a", single_writer())
            .expect("archiver")
    });
    let took = append(&journal, APPEND_ENTRIES);
    if let Some(a) = archiver {
        let stats = a.stop().expect("archiving");
        assert!(stats.segments_uploaded > 0, "{stats:?}");
    }
    APPEND_ENTRIES as f64 / took.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn append_report() {
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        without.push(append_run(false));
        with.push(append_run(true));
    }
    let (a, b) = (median(without), median(with));
    println!(
        "archive: append {:.1} M entries/s without an archiver, {:.1} M entries/s with one, \
         ratio {:.2}",
        a / 1e6,
        b / 1e6,
        b / a
    );
}

/// An archive of `RESTORE_SEGMENTS` segments under `root`; returns the journal's dir.
fn archived(root: &Path) -> PathBuf {
    let src = root.join("src");
    let journal = Journal::open(&src, options()).expect("open");
    let archiver = journal
        .start_archiver(local_store(&root.join("store")), "", single_writer())
        .expect("archiver");
    let capacity = SEGMENT_BYTES - 4096;
    let batch: Vec<Entry> = (0..BATCH).map(|i| Entry::push(1, i, 0)).collect();
    while journal.end_lsn().0 < RESTORE_SEGMENTS * capacity {
        journal.append_batch(&batch).expect("append");
    }
    let sealed = Lsn(RESTORE_SEGMENTS * capacity);
    let reached = archiver
        .wait_archived(sealed, Duration::from_secs(120))
        .expect("archive");
    assert_eq!(reached, sealed);
    archiver.stop().expect("stop");
    src
}

/// The reference: copy the segment files, fsync each and the directory.
fn plain_copy(src: &Path, dst: &Path, segments: u64) -> Duration {
    let started = Instant::now();
    std::fs::create_dir_all(dst).expect("mkdir");
    let mut names: Vec<_> = std::fs::read_dir(src)
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|n| n.to_string_lossy().ends_with(".seg"))
        .collect();
    names.sort();
    for name in names
        .iter()
        .take(usize::try_from(segments).unwrap_or(usize::MAX))
    {
        std::fs::copy(src.join(name), dst.join(name)).expect("copy");
        std::fs::File::open(dst.join(name))
            .and_then(|f| f.sync_all())
            .expect("fsync");
    }
    std::fs::File::open(dst)
        .and_then(|f| f.sync_all())
        .expect("fsync dir");
    started.elapsed()
}

fn restore_report() {
    let root = base_dir();
    let src = archived(root.path());
    let (mut restores, mut copies) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let copy_dir = root.path().join(format!("copy{run}"));
        copies.push(plain_copy(&src, &copy_dir, RESTORE_SEGMENTS).as_secs_f64());
        let dst = root.path().join(format!("restore{run}"));
        let report = restore(local_store(&root.path().join("store")), "", &dst).expect("restore");
        assert_eq!(report.segments_restored, RESTORE_SEGMENTS);
        restores.push(report.elapsed.as_secs_f64());
        let _ = std::fs::remove_dir_all(&dst);
        let _ = std::fs::remove_dir_all(&copy_dir);
    }
    let (c, r) = (median(copies), median(restores));
    let mib = (RESTORE_SEGMENTS * SEGMENT_BYTES) as f64 / f64::from(1u32 << 20);
    println!(
        "archive: restore of {RESTORE_SEGMENTS} segments ({mib:.0} MiB) from a local store \
         {:.1} ms, plain copy + fsync {:.1} ms, ratio {:.2}",
        r * 1e3,
        c * 1e3,
        r / c
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    append_report();
    restore_report();
}
