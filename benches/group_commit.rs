//! What a `Sync` append costs, alone and under group commit, against the bare system
//! calls it is made of, measured in the same run.
//!
//! References (a fallocated scratch file in the temp dir, as segments are built):
//! - `ref_msync_4k`: write 40 bytes into a shared file mapping, then `msync(MS_SYNC)` of
//!   the one 4 KiB page holding them (the sync a lone `Sync` append needs);
//! - `ref_fdatasync_24b`: `pwrite` of 24 bytes, then `fdatasync`.
//!
//! Journal (a fresh journal per configuration, `Durability::Sync`, default segments):
//! - `sync_append_1t`: one thread, one entry per append; in the fixed-window part each
//!   append alternates with a bare msync (`ref_msync_4k_paired`) of another file, so the
//!   ratio compares the two under the same disk conditions;
//! - `group_commit_{n}t`: `n` writer threads (1, 2, 4, 8, 16), each appending one entry
//!   at a time for a fixed wall-clock window; acknowledged appends/s, the latency of
//!   each append, and appends per flush (`Journal::flush_count`);
//! - `group_commit_16t_delay_{us}`: the same at 16 threads with
//!   `Options::group_commit(delay, 0)`.
//!
//! Two parts. Criterion times the three single-thread operations (mean per operation,
//! group `sync_one`); the clock is wall time, since `CPJ_BENCH_CLOCK=thread-cpu` leaves
//! out the wait for the disk, which is the whole cost here. Then, under `cargo bench`
//! only, fixed-window timing loops record every operation's latency and print one line
//! per configuration (`gc <name> key=value ...`): p50/p99 beside the same run's
//! reference p50 and the ratio. `CPJ_GC_WINDOW_MS` sets the window (default 2000 ms).

#[path = "common/mod.rs"]
mod common;

use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use checkpoint_journal::{Durability, Entry, Journal, Options};
use criterion::{Criterion, Throughput};
use memmap2::MmapMut;

use common::{Clock, Prefault, MIB};

/// Bytes of the page a reference msync covers.
const PAGE_BYTES: usize = 4096;
/// Size of each reference file.
const REF_FILE_BYTES: u64 = 64 * MIB;
/// Bytes the msync reference writes before each sync: one single-entry frame.
const FRAME_BYTES: usize = 40;
/// Bytes the fdatasync reference writes before each sync: one entry.
const ENTRY_BYTES: usize = 24;
/// Writer threads of the group-commit runs.
const THREAD_COUNTS: [usize; 5] = [1, 2, 4, 8, 16];
/// Group-commit gather delays tried at 16 threads.
const GATHER_DELAYS_US: [u64; 3] = [100, 250, 500];
/// Threads of the gather-delay runs.
const GATHER_THREADS: usize = 16;
/// Timing window of each fixed-window configuration, unless `CPJ_GC_WINDOW_MS` says.
const WINDOW_DEFAULT_MS: u64 = 2000;
/// Timing window in test mode (`cargo test --benches`): a smoke run.
const WINDOW_SMOKE_MS: u64 = 30;

/// A reference file written through a shared mapping and synced one page at a time.
struct MsyncRef {
    map: MmapMut,
    at: usize,
    _dir: tempfile::TempDir,
}

impl MsyncRef {
    fn new() -> MsyncRef {
        let dir = common::scratch_dir();
        let map = common::segment_like(dir.path(), "msync", REF_FILE_BYTES, Prefault::MapPopulate);
        MsyncRef {
            map,
            at: 0,
            _dir: dir,
        }
    }

    /// Writes one frame's bytes at the next position and msyncs the page holding them.
    fn op(&mut self) {
        if self.at + FRAME_BYTES > self.map.len() {
            self.at = 0;
        }
        if let Some(slot) = self.map.get_mut(self.at..self.at + FRAME_BYTES) {
            slot.copy_from_slice(black_box(&[7u8; FRAME_BYTES]));
        }
        let page = self.at - self.at % PAGE_BYTES;
        self.map.flush_range(page, PAGE_BYTES).expect("msync");
        self.at += FRAME_BYTES;
    }
}

/// A reference file written with `pwrite` and synced with `fdatasync`.
struct FdatasyncRef {
    file: File,
    at: u64,
    _dir: tempfile::TempDir,
}

impl FdatasyncRef {
    fn new() -> FdatasyncRef {
        let dir = common::scratch_dir();
        let file = common::fallocated_file(dir.path(), "fdatasync", REF_FILE_BYTES);
        FdatasyncRef {
            file,
            at: 0,
            _dir: dir,
        }
    }

    /// Writes one entry's bytes at the next position and fdatasyncs the file.
    fn op(&mut self) {
        if self.at + ENTRY_BYTES as u64 > REF_FILE_BYTES {
            self.at = 0;
        }
        self.file
            .write_at(black_box(&[9u8; ENTRY_BYTES]), self.at)
            .expect("pwrite");
        self.file.sync_data().expect("fdatasync");
        self.at += ENTRY_BYTES as u64;
    }
}

/// Latencies (ns) of every timed operation of one configuration.
struct Latencies(Vec<u64>);

impl Latencies {
    /// The `q`-quantile (nearest rank), in microseconds.
    fn quantile_us(&mut self, q: f64) -> f64 {
        self.0.sort_unstable();
        let last = self.0.len().saturating_sub(1);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a rank within a vector's length"
        )]
        let rank = ((last as f64) * q).round() as usize;
        #[expect(clippy::cast_precision_loss, reason = "nanoseconds below 2^52")]
        self.0.get(rank).map_or(f64::NAN, |&ns| ns as f64 / 1e3)
    }
}

/// What a group-commit window measured.
struct WriterRun {
    latencies: Latencies,
    elapsed: Duration,
    flushes: u64,
    /// Fewest and most appends acknowledged to one thread.
    per_thread_min_max: (usize, usize),
}

fn entry(i: u64) -> Entry {
    Entry::push(black_box(7), i, i.cast_signed())
}

fn sync_options() -> Options {
    Options::default().durability(Durability::Sync)
}

fn open_journal(options: Options) -> (Journal, tempfile::TempDir) {
    let dir = common::scratch_dir();
    let journal = Journal::open(dir.path(), options).expect("open a journal");
    (journal, dir)
}

/// Times `iters` calls of `op` on criterion's clock.
fn time_iters(iters: u64, mut op: impl FnMut()) -> Duration {
    let started = common::clock().now();
    for _ in 0..iters {
        op();
    }
    common::clock().since(started)
}

fn bench_sync_one(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("sync_one");
    group.throughput(Throughput::Elements(1));
    let mut msync = MsyncRef::new();
    group.bench_function("ref_msync_4k", |b| {
        b.iter_custom(|iters| time_iters(iters, || msync.op()));
    });
    drop(msync);
    let mut fdatasync = FdatasyncRef::new();
    group.bench_function("ref_fdatasync_24b", |b| {
        b.iter_custom(|iters| time_iters(iters, || fdatasync.op()));
    });
    drop(fdatasync);
    let (journal, _dir) = open_journal(sync_options());
    let mut i = 0u64;
    group.bench_function("sync_append_1t", |b| {
        b.iter_custom(|iters| {
            time_iters(iters, || {
                i += 1;
                black_box(journal.append(entry(i)).expect("append"));
            })
        });
    });
    journal.close_without_flush();
    group.finish();
}

/// Runs `op` for `window` (at least 20 times), recording each call's wall time.
fn window_loop(window: Duration, mut op: impl FnMut(u64)) -> Latencies {
    let mut ns = Vec::new();
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < window || i < 20 {
        let t = Instant::now();
        op(i);
        ns.push(duration_ns(t.elapsed()));
        i += 1;
    }
    Latencies(ns)
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `threads` writers append one entry at a time to `journal` for `window`.
fn run_writers(journal: &Journal, threads: usize, window: Duration) -> WriterRun {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    let flushes_before = journal.flush_count();
    let (ns, elapsed) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, start) = (&stop, &start);
                s.spawn(move || {
                    let mut ns = Vec::with_capacity(1 << 16);
                    let mut i = (t as u64) << 40;
                    start.wait();
                    while !stop.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        black_box(journal.append(entry(i)).expect("append"));
                        ns.push(duration_ns(t0.elapsed()));
                        i += 1;
                    }
                    ns
                })
            })
            .collect();
        start.wait();
        let started = Instant::now();
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
        let per_thread: Vec<Vec<u64>> = handles
            .into_iter()
            .map(|h| h.join().expect("a writer thread"))
            .collect();
        (per_thread, started.elapsed())
    });
    let counts = ns.iter().map(Vec::len);
    let per_thread_min_max = (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0));
    WriterRun {
        latencies: Latencies(ns.concat()),
        elapsed,
        flushes: journal.flush_count() - flushes_before,
        per_thread_min_max,
    }
}

/// Prints one result line: latencies, beside the reference p50 and as a ratio to it.
fn report(name: &str, lat: &mut Latencies, ref_p50_us: f64, extra: &str) {
    let p50 = lat.quantile_us(0.5);
    let p99 = lat.quantile_us(0.99);
    println!(
        "gc {name} n={} p50_us={p50:.1} p99_us={p99:.1} ref_msync_p50_us={ref_p50_us:.1} \
         p50_ratio={:.3} p99_ratio={:.3}{extra}",
        lat.0.len(),
        p50 / ref_p50_us,
        p99 / ref_p50_us,
    );
}

fn report_writers(name: &str, threads: usize, mut run: WriterRun, ref_p50_us: f64) {
    let acked = run.latencies.0.len() as u64;
    #[expect(clippy::cast_precision_loss, reason = "counts below 2^52")]
    let per_s = acked as f64 / run.elapsed.as_secs_f64();
    #[expect(clippy::cast_precision_loss, reason = "counts below 2^52")]
    let per_flush = acked as f64 / run.flushes.max(1) as f64;
    // The most a reference msync allows: every writer acknowledged once per sync.
    #[expect(clippy::cast_precision_loss, reason = "a thread count")]
    let bound = threads as f64 * 1e6 / ref_p50_us;
    let extra = format!(
        " threads={threads} acked_per_s={per_s:.0} flushes={} appends_per_flush={per_flush:.2} \
         bound_threads_per_ref_msync_per_s={bound:.0} per_thread_min={} per_thread_max={}",
        run.flushes, run.per_thread_min_max.0, run.per_thread_min_max.1
    );
    report(name, &mut run.latencies, ref_p50_us, &extra);
}

/// The fixed-window part: latency distributions and group-commit throughput.
fn latency_report(window: Duration) {
    println!(
        "gc setup window_ms={} temp_dir={}",
        window.as_millis(),
        std::env::temp_dir().display()
    );
    let mut msync = MsyncRef::new();
    let mut ref_msync = window_loop(window, |_| msync.op());
    drop(msync);
    let ref_p50 = ref_msync.quantile_us(0.5);
    report("ref_msync_4k", &mut ref_msync, ref_p50, "");
    let mut fdatasync = FdatasyncRef::new();
    let mut ref_fdatasync = window_loop(window, |_| fdatasync.op());
    drop(fdatasync);
    report("ref_fdatasync_24b", &mut ref_fdatasync, ref_p50, "");

    // The lone append alternates with a bare msync, so both see the same disk.
    let (journal, _dir) = open_journal(sync_options());
    let mut msync = MsyncRef::new();
    let (mut paired_ref, mut one) = (Vec::new(), Vec::new());
    let pairs = window_loop(window, |i| {
        let t = Instant::now();
        msync.op();
        paired_ref.push(duration_ns(t.elapsed()));
        let t = Instant::now();
        black_box(journal.append(entry(i)).expect("append"));
        one.push(duration_ns(t.elapsed()));
    });
    journal.close_without_flush();
    drop(msync);
    let mut paired_ref = Latencies(paired_ref);
    let paired_p50 = paired_ref.quantile_us(0.5);
    assert_eq!(pairs.0.len(), one.len(), "one append per msync");
    report("ref_msync_4k_paired", &mut paired_ref, paired_p50, "");
    report("sync_append_1t_paired", &mut Latencies(one), paired_p50, "");

    for threads in THREAD_COUNTS {
        let (journal, _dir) = open_journal(sync_options());
        let run = run_writers(&journal, threads, window);
        journal.close_without_flush();
        report_writers(&format!("group_commit_{threads}t"), threads, run, ref_p50);
    }
    for delay_us in GATHER_DELAYS_US {
        let options = sync_options().group_commit(Duration::from_micros(delay_us), 0);
        let (journal, _dir) = open_journal(options);
        let run = run_writers(&journal, GATHER_THREADS, window);
        journal.close_without_flush();
        let name = format!("group_commit_{GATHER_THREADS}t_delay_{delay_us}us");
        report_writers(&name, GATHER_THREADS, run, ref_p50);
    }
}

fn window() -> Duration {
    let bench = std::env::args().any(|a| a == "--bench");
    let ms = if bench {
        std::env::var("CPJ_GC_WINDOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(WINDOW_DEFAULT_MS)
    } else {
        WINDOW_SMOKE_MS
    };
    Duration::from_millis(ms)
}

fn main() {
    let mut criterion = common::config().configure_from_args();
    bench_sync_one(&mut criterion);
    criterion.final_summary();
    if !std::env::args().any(|a| a == "--list") {
        latency_report(window());
    }
}
