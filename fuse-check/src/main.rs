//! Power loss on the real kernel's mmap path: the journal runs on an in-memory FUSE
//! filesystem (served by a thread of this process) that keeps what WRITE requests
//! delivered apart from what FSYNC/FSYNCDIR made durable. After the appends, the journal
//! is dropped without a flush, the power is cut (everything not durable is discarded),
//! the filesystem is mounted again and the journal reopened on what survived.
//!
//! Scenarios (all by default; name some to run only those):
//! - `sync`: `Durability::Sync`, 3 threads; every acknowledged append must be recovered,
//!   as a prefix with no holes. Exit code 1 if not.
//! - `async-claimed`: `Durability::Async` with every returned append counted as
//!   acknowledged (a broken promise on purpose); the check must report it as lost
//!   data. Exit code 1 if it does not.
//! - `fresh-dir`: as `sync`, but the journal directory is
//!   created by `Journal::open` instead of being created and made durable beforehand.
//!   Reports what survived; exit code 1 on lost acknowledged data.
//!
//! `--entries N` (default 12000) and `--threads T` (default 3). Needs /dev/fuse and the
//! right to mount (root); without them it prints a note and exits 0.

mod fs;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use checkpoint_journal::{Durability, Entry, Frame, Journal, Options};

use crate::fs::{CutReport, Disk, Stats};

const SEGMENT_BYTES: u64 = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Sync,
    SyncMidCut,
    AsyncClaimed,
    FreshDir,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Sync => "sync",
            Scenario::SyncMidCut => "sync-midcut",
            Scenario::AsyncClaimed => "async-claimed",
            Scenario::FreshDir => "fresh-dir",
        }
    }

    fn durability(self) -> Durability {
        match self {
            Scenario::AsyncClaimed => Durability::Async,
            Scenario::Sync | Scenario::SyncMidCut | Scenario::FreshDir => Durability::Sync,
        }
    }
}

/// What one scenario found.
#[derive(Debug, Default)]
struct Outcome {
    attempted: usize,
    acknowledged: usize,
    append_errors: Vec<String>,
    recovered: usize,
    /// Acknowledged appends (thread, sequence) missing after the power cut.
    lost: Vec<(u16, u64)>,
    /// Recovered entries that break the prefix: a thread's entry recovered while an
    /// earlier entry of the same thread is missing, a duplicate, or one never appended.
    holes: Vec<String>,
    reopen_error: Option<String>,
    recovery: String,
    cut: CutReport,
    stats_before_cut: Stats,
    stats_after: Stats,
    flushes: u64,
    files_before: Vec<String>,
    durable_names: Vec<String>,
}

impl Outcome {
    fn violations(&self) -> usize {
        self.lost.len() + self.holes.len() + usize::from(self.reopen_error.is_some())
    }
}

fn main() -> ExitCode {
    let mut entries = 12_000usize;
    let mut threads = 3usize;
    let mut scenarios = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--entries" => entries = parse(args.next(), "--entries"),
            "--threads" => threads = parse(args.next(), "--threads"),
            "sync" => scenarios.push(Scenario::Sync),
            "sync-midcut" => scenarios.push(Scenario::SyncMidCut),
            "async-claimed" => scenarios.push(Scenario::AsyncClaimed),
            "fresh-dir" => scenarios.push(Scenario::FreshDir),
            other => {
                eprintln!(
                    "usage: fuse-check [--entries N] [--threads T] [sync] [sync-midcut] [async-claimed] [fresh-dir] (got {other})"
                );
                return ExitCode::from(2);
            }
        }
    }
    if scenarios.is_empty() {
        scenarios = vec![Scenario::Sync, Scenario::SyncMidCut, Scenario::AsyncClaimed];
    }
    let threads = threads.clamp(1, 16);

    if !Path::new("/dev/fuse").exists() {
        println!("note: /dev/fuse is missing here; FUSE power-loss check skipped");
        return ExitCode::SUCCESS;
    }
    let base = std::env::temp_dir().join(format!("cpj-fuse-check-{}", std::process::id()));
    let mnt = base.join("mnt");
    if let Err(e) = std::fs::create_dir_all(&mnt) {
        eprintln!("error: cannot create {}: {e}", mnt.display());
        return ExitCode::FAILURE;
    }
    // Mounting at all: a denied mount is an environment without FUSE, not a failure.
    match fs::mount(&Arc::new(Disk::default()), &mnt) {
        Ok(session) => {
            if let Err(e) = fs::unmount(session, &mnt) {
                eprintln!("error: unmounting the probe mount: {e}");
                return ExitCode::FAILURE;
            }
        }
        Err(e) => {
            println!("note: mounting a FUSE filesystem was refused here ({e}); FUSE power-loss check skipped");
            let _ = std::fs::remove_dir_all(&base);
            return ExitCode::SUCCESS;
        }
    }

    let mut failed = false;
    for scenario in scenarios {
        let started = Instant::now();
        let outcome = match run(scenario, &mnt, entries, threads) {
            Ok(o) => o,
            Err(e) => {
                println!("fuse-check {}: could not run: {e}", scenario.name());
                failed = true;
                continue;
            }
        };
        print_outcome(scenario, &outcome, threads, started);
        match scenario {
            Scenario::SyncMidCut => {
                if outcome.violations() > 0 {
                    println!(
                        "FAIL {}: an append acknowledged before the cut was lost, or the \
                         history has holes",
                        scenario.name()
                    );
                    failed = true;
                } else if outcome.append_errors.is_empty() {
                    println!(
                        "note {}: every append finished before the cut; nothing was in flight",
                        scenario.name()
                    );
                } else {
                    println!(
                        "ok {}: the cut failed the appends in flight and every acknowledged \
                         one survived",
                        scenario.name()
                    );
                }
            }
            Scenario::Sync | Scenario::FreshDir => {
                if outcome.violations() > 0 || !outcome.append_errors.is_empty() {
                    println!(
                        "FAIL {}: acknowledged data was lost or the history has holes",
                        scenario.name()
                    );
                    failed = true;
                } else {
                    println!(
                        "ok {}: every acknowledged append survived the power cut",
                        scenario.name()
                    );
                }
            }
            Scenario::AsyncClaimed => {
                if outcome.lost.is_empty() {
                    println!(
                        "FAIL {}: Async appends counted as durable all survived; the check \
                         would not notice a broken promise",
                        scenario.name()
                    );
                    failed = true;
                } else {
                    println!(
                        "ok {}: the broken promise was caught ({} claimed appends lost)",
                        scenario.name(),
                        outcome.lost.len()
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn parse(value: Option<String>, flag: &str) -> usize {
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{flag} needs a number"))
}

fn options(durability: Durability) -> Options {
    Options::default()
        .durability(durability)
        .segment_size_bytes(SEGMENT_BYTES)
        .preallocate(false)
}

/// One mount, the appends, the cut, a second mount and the reopen.
fn run(scenario: Scenario, mnt: &Path, entries: usize, threads: usize) -> Result<Outcome, String> {
    let disk = Arc::new(Disk::default());
    let session = fs::mount(&disk, mnt).map_err(|e| format!("mount: {e}"))?;
    let dir: PathBuf = mnt.join("journal");
    if scenario != Scenario::FreshDir {
        // What an application does before trusting a new directory: create it and make
        // its name durable in the parent.
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir: {e}"))?;
        std::fs::File::open(mnt)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("fsync {}: {e}", mnt.display()))?;
    }
    let mut out = Outcome::default();
    let journal =
        Journal::open(&dir, options(scenario.durability())).map_err(|e| format!("open: {e}"))?;
    let midcut = scenario == Scenario::SyncMidCut;
    // Mid-run cut: the threads append until the journal fails them; the power goes off
    // once half of `entries` are acknowledged.
    let per_thread = if midcut {
        usize::MAX / 2
    } else {
        entries.div_ceil(threads)
    };
    let acked_total = AtomicUsize::new(0);
    let mut cut_during = None;
    // (thread, sequence) of every append made, and of every append that returned Ok.
    let results: Vec<(u64, Vec<u64>, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let journal = &journal;
                let acked_total = &acked_total;
                s.spawn(move || {
                    let mut acked = Vec::with_capacity(per_thread.min(1 << 20));
                    let mut attempted = 0u64;
                    for seq in 0..per_thread as u64 {
                        attempted += 1;
                        let source = u16::try_from(t).unwrap_or(u16::MAX);
                        match journal.append(Entry::push(source, seq, seq.cast_signed())) {
                            Ok(_lsn) => {
                                acked.push(seq);
                                acked_total.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => return (attempted, acked, Some(e.to_string())),
                        }
                    }
                    (attempted, acked, None)
                })
            })
            .collect();
        if midcut {
            let deadline = Instant::now() + std::time::Duration::from_secs(60);
            while acked_total.load(Ordering::Relaxed) < entries / 2 && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let files = list(&dir);
            let stats = disk.stats();
            cut_during = Some((files, stats, disk.power_cut()));
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or((0, Vec::new(), Some("thread panicked".into())))
            })
            .collect()
    });
    out.flushes = journal.flush_count();
    journal.close_without_flush();
    let mut acknowledged: BTreeMap<u16, Vec<u64>> = BTreeMap::new();
    let mut attempted: BTreeMap<u16, u64> = BTreeMap::new();
    for (t, (n, acked, err)) in results.into_iter().enumerate() {
        let t = u16::try_from(t).unwrap_or(u16::MAX);
        out.attempted += n as usize;
        out.acknowledged += acked.len();
        attempted.insert(t, n);
        acknowledged.insert(t, acked);
        if let Some(e) = err {
            out.append_errors.push(format!("thread {t}: {e}"));
        }
    }
    if let Some((files, stats, cut)) = cut_during {
        out.files_before = files;
        out.stats_before_cut = stats;
        out.cut = cut;
    } else {
        out.files_before = list(&dir);
        out.stats_before_cut = disk.stats();
        out.cut = disk.power_cut();
    }
    // Unmounting writes nothing more: the disk refuses every request until the next mount.
    fs::unmount(session, mnt).map_err(|e| format!("unmount after the cut: {e}"))?;
    out.durable_names = disk.root_names().1;

    let session = fs::mount(&disk, mnt).map_err(|e| format!("remount: {e}"))?;
    // On its own thread: the thread that appends the close marker keeps the last segment
    // mapped until it exits (the journal's per-thread segment cache), which would keep
    // the mount busy.
    let dir2 = dir.clone();
    let reopened = std::thread::spawn(move || reopen(&dir2))
        .join()
        .map_err(|_| "the reopen thread panicked".to_string())?;
    let (recovered, recovery, reopen_error) = reopened?;
    out.recovery = recovery;
    out.reopen_error = reopen_error;
    out.stats_after = disk.stats();
    fs::unmount(session, mnt).map_err(|e| format!("final unmount: {e}"))?;

    compare(&acknowledged, &attempted, &recovered, &mut out);
    Ok(out)
}

type Reopened = (BTreeMap<u16, Vec<u64>>, String, Option<String>);

/// Opens the journal on what survived, reads every entry, closes it.
fn reopen(dir: &Path) -> Result<Reopened, String> {
    let mut recovered: BTreeMap<u16, Vec<u64>> = BTreeMap::new();
    let mut out_recovery = String::new();
    let mut out_error = None;
    match Journal::open(dir, options(Durability::Sync).create_if_missing(false)) {
        Ok(journal) => {
            let r = journal.recovery_report();
            out_recovery = format!(
                "segments {}, frames {}, entries {}, end_lsn {}, durable_claim {}, case {:?}, \
                 torn_bytes {}, dropped {:?}, removed files {}",
                r.segments_scanned,
                r.frames_scanned,
                r.entries_replayed,
                r.end_lsn.0,
                r.durable_claim.0,
                r.case,
                r.torn_bytes,
                r.dropped,
                r.removed_files.len()
            );
            match journal.read_from(journal.first_lsn()) {
                Ok(reader) => {
                    for frame in reader {
                        match frame {
                            Ok(Frame::Entries { entries, .. }) => {
                                for e in entries {
                                    recovered.entry(e.source_id).or_default().push(e.sequence);
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                out_error = Some(format!("read: {e}"));
                                break;
                            }
                        }
                    }
                }
                Err(e) => out_error = Some(format!("read_from: {e}")),
            }
            journal
                .close()
                .map_err(|e| format!("close after reopen: {e}"))?;
            let _ = write!(
                out_recovery,
                "; segment mappings still held by this thread after close(): {}",
                mappings_under(dir)
            );
        }
        Err(checkpoint_journal::Error::NotFound { path }) => {
            out_recovery = format!("no journal at {} after the cut", path.display());
        }
        Err(e) => out_error = Some(format!("reopen: {e}")),
    }
    Ok((recovered, out_recovery, out_error))
}

/// Every acknowledged append must be recovered; each thread's recovered sequences must
/// be `0..k` (its appends were made one after another, so a later one has a higher LSN
/// and recovery keeps a prefix of the LSNs).
fn compare(
    acknowledged: &BTreeMap<u16, Vec<u64>>,
    attempted: &BTreeMap<u16, u64>,
    recovered: &BTreeMap<u16, Vec<u64>>,
    out: &mut Outcome,
) {
    out.recovered = recovered.values().map(Vec::len).sum();
    for (t, seqs) in recovered {
        let Some(&made) = attempted.get(t) else {
            out.holes
                .push(format!("entry of unknown source {t} recovered"));
            continue;
        };
        for (i, &seq) in seqs.iter().enumerate() {
            if seq != i as u64 {
                out.holes.push(format!(
                    "thread {t}: recovered entry #{i} is sequence {seq} (hole or duplicate)"
                ));
                break;
            }
            if seq >= made {
                out.holes
                    .push(format!("thread {t}: sequence {seq} was never appended"));
                break;
            }
        }
    }
    for (t, seqs) in acknowledged {
        let have: BTreeSet<u64> = recovered.get(t).into_iter().flatten().copied().collect();
        out.lost
            .extend(seqs.iter().filter(|s| !have.contains(s)).map(|s| (*t, *s)));
    }
}

/// Mappings of this process whose file lies under `dir` (from /proc/self/maps).
fn mappings_under(dir: &Path) -> usize {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/maps")
        .map(|maps| maps.lines().filter(|l| l.contains(dir.as_str())).count())
        .unwrap_or(0)
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn print_outcome(scenario: Scenario, o: &Outcome, threads: usize, started: Instant) {
    let s = &o.stats_before_cut;
    println!(
        "fuse-check {} ({:?}, {threads} threads, {} KiB segments): {} appends made, {} \
         acknowledged, {} recovered, {} acknowledged lost, {} holes; {:.1?}",
        scenario.name(),
        scenario.durability(),
        SEGMENT_BYTES / 1024,
        o.attempted,
        o.acknowledged,
        o.recovered,
        o.lost.len(),
        o.holes.len(),
        started.elapsed()
    );
    println!(
        "  before the cut: {} segment files {:?}; journal syncs {}; requests: WRITE {} ({} \
         from the page cache, {} bytes, {} of them not from the page cache), FSYNC {} ({} datasync), FSYNCDIR {}, FLUSH {}, \
         FALLOCATE {}, READ {}, size changes {}",
        o.files_before
            .iter()
            .filter(|n| n.ends_with(".seg"))
            .count(),
        o.files_before,
        o.flushes,
        s.writes,
        s.cache_writes,
        s.write_bytes,
        s.direct_write_bytes,
        s.fsyncs,
        s.fdatasyncs,
        s.fsyncdirs,
        s.flushes,
        s.fallocates,
        s.reads,
        s.truncates
    );
    println!(
        "  the cut: {} files rolled back, {} bytes lost, {} directory entries lost, {} \
         nodes dropped; {} requests refused while off; durable names in the root: {:?}",
        o.cut.files_rolled_back,
        o.cut.bytes_lost,
        o.cut.entries_lost,
        o.cut.nodes_dropped,
        o.stats_after.refused,
        o.durable_names
    );
    println!("  reopen: {}", o.recovery);
    for e in &o.append_errors {
        println!("  append error: {e}");
    }
    if let Some(e) = &o.reopen_error {
        println!("  reopen error: {e}");
    }
    for h in o.holes.iter().take(5) {
        println!("  hole: {h}");
    }
    if !o.lost.is_empty() {
        let first: Vec<_> = o.lost.iter().take(5).collect();
        println!("  first lost (thread, sequence): {first:?}");
    }
}
