//! Disk and memory over a long run, and Sync appends into recycled segments. Not a
//! criterion bench: it prints one summary per run.
//!
//! - `long` (default): `CPJ_LONG_ENTRIES` entries (default 100 M; the 1 G run sets it) in batches of 1 000,
//!   with background compaction every 256 MiB and default options otherwise (64 MiB
//!   segments, preallocation on); at most `CPJ_LONG_RATE` entries/s if set (else
//!   unpaced). `CPJ_LONG_RECYCLE=1` recycles retired segments; `CPJ_LONG_MAX_SEGMENT_BYTES`
//!   bounds the segment files. Every 64 batches it samples the directory's size and
//!   `VmRSS`, `RssFile`, `RssAnon` from `/proc/self/status`, and prints the peaks
//!   against "live segment bytes + 64 MiB" (every live segment is mapped; the target
//!   for resident memory is the mapped segments plus 64 MiB).
//! - `sync` (`CPJ_LONG_MODE=sync`): `Durability::Sync` appends, p50 and p99, into fresh
//!   (fallocated) segments and into recycled ones, one append to each in turn, over
//!   `ROUNDS` rounds: single entries (about 100 share a page) and 170-entry batches (one
//!   4 KiB frame each, so every append's sync is the first of its page).
//!
//! Run: `cargo bench --bench disk_long_run` (the journal lives in the temp directory,
//! which is removed at the end).

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "printed sizes, rates and percentile positions"
)]

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use checkpoint_journal::{Compaction, Durability, Entry, Journal, Options};

const BATCH: u64 = 1_000;
const MIB: f64 = 1024.0 * 1024.0;
/// Sync appends timed per round and kind.
const SYNC_APPENDS: usize = 800;
/// Entries per append in the page-sized runs: a 4 096-byte frame.
const PAGE_BATCH: u64 = 170;
/// Rounds of the Sync comparison, alternating fresh and recycled.
const ROUNDS: usize = 5;
/// Segment size of the Sync comparison.
const SYNC_SEGMENT: u64 = 4 << 20;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn batch(from: u64) -> Vec<Entry> {
    (from..from + BATCH)
        .map(|i| Entry::push((i % 64) as u16, i, i.cast_signed()))
        .collect()
}

/// `(segment files, all files)` bytes of `dir`.
fn dir_bytes(dir: &Path) -> (u64, u64) {
    let mut out = (0, 0);
    for item in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let len = item.metadata().map_or(0, |m| m.len());
        let name = item.file_name();
        let name = name.to_string_lossy();
        if Path::new(name.as_ref())
            .extension()
            .is_some_and(|e| e == "seg")
        {
            out.0 += len;
        }
        out.1 += len;
    }
    out
}

/// `VmRSS`, `RssFile`, `RssAnon` of this process, bytes.
fn rss() -> [u64; 3] {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    [field("VmRSS:"), field("RssFile:"), field("RssAnon:")]
}

/// Resident bytes of this process from one walk of `/proc/self/smaps`, split by mapping.
#[derive(Default, Clone)]
struct Mapped {
    /// All mappings.
    total: u64,
    /// Mappings of segment files (`*.seg`) that still exist in the journal directory:
    /// the mapped segments (sealed, active and the spare made ahead of need).
    segments: u64,
    /// Mappings of segment files already removed (`(deleted)`): retired, still mapped.
    deleted_segments: u64,
    /// The largest other mappings at this instant, for the report: `(rss, name)`.
    largest_other: Vec<(u64, String)>,
}

impl Mapped {
    fn sample() -> Mapped {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
        let mut out = Mapped::default();
        let mut name = String::new();
        for line in smaps.lines() {
            if let Some(kib) = line.strip_prefix("Rss:") {
                let bytes = kib
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .map_or(0, |k| k * 1024);
                out.total += bytes;
                if name.ends_with(".seg (deleted)") {
                    out.deleted_segments += bytes;
                } else if Path::new(&name).extension().is_some_and(|e| e == "seg") {
                    out.segments += bytes;
                } else if bytes > 0 {
                    out.largest_other.push((bytes, name.clone()));
                }
            } else if line
                .split_whitespace()
                .next()
                .is_some_and(|a| a.contains('-'))
            {
                // A mapping's first line: range, perms, offset, dev, inode, [path].
                name = line
                    .split_whitespace()
                    .skip(5)
                    .collect::<Vec<_>>()
                    .join(" ");
                if name.is_empty() {
                    name = "[anonymous]".into();
                }
            }
        }
        out.largest_other
            .sort_unstable_by_key(|(bytes, _)| std::cmp::Reverse(*bytes));
        out.largest_other.truncate(4);
        out
    }

    /// Resident bytes that are not a mapped live segment.
    fn over_segments(&self) -> u64 {
        self.total - self.segments
    }
}

#[derive(Default)]
struct Peaks {
    disk: u64,
    live_segments: u64,
    rss: [u64; 3],
    /// Largest `VmRSS - live segment bytes` seen (segment files on disk, listed just
    /// before `VmRSS` is read: not one instant, see `mapped`).
    rss_over_segments: i64,
    /// The sample with the largest resident memory outside mapped live segments (one
    /// walk of smaps, so one instant per mapping).
    mapped: Mapped,
    /// Largest resident bytes of removed but still mapped segment files.
    deleted_segments: u64,
}

impl Peaks {
    fn sample(&mut self, dir: &Path) {
        let (segments, all) = dir_bytes(dir);
        let now = rss();
        self.disk = self.disk.max(all);
        self.live_segments = self.live_segments.max(segments);
        for (peak, v) in self.rss.iter_mut().zip(now) {
            *peak = (*peak).max(v);
        }
        self.rss_over_segments = self
            .rss_over_segments
            .max(now[0].cast_signed() - segments.cast_signed());
        let mapped = Mapped::sample();
        self.deleted_segments = self.deleted_segments.max(mapped.deleted_segments);
        if mapped.over_segments() > self.mapped.over_segments() {
            self.mapped = mapped;
        }
    }
}

fn long_run() {
    let entries = env_u64("CPJ_LONG_ENTRIES").unwrap_or(100_000_000);
    let rate = env_u64("CPJ_LONG_RATE");
    let mut options = Options::default()
        .compaction(Compaction::default().every_bytes(256 << 20))
        .recycle_segments(env_u64("CPJ_LONG_RECYCLE") == Some(1));
    if let Some(max) = env_u64("CPJ_LONG_MAX_SEGMENT_BYTES") {
        options = options.max_segment_bytes(max);
    }
    let tmp = common::scratch_dir();
    let dir = tmp.path().join("j");
    let journal = Journal::open(&dir, options.clone()).expect("create");
    let started = Instant::now();
    let mut peaks = Peaks::default();
    let mut at = 0;
    while at < entries {
        journal.append_batch(&batch(at)).expect("append_batch");
        at += BATCH;
        if (at / BATCH).is_multiple_of(64) {
            peaks.sample(&dir);
            if let Some(rate) = rate {
                let due = Duration::from_secs_f64(at as f64 / rate as f64);
                std::thread::sleep(due.saturating_sub(started.elapsed()));
            }
        }
    }
    let elapsed = started.elapsed();
    let runs = journal.stats().compaction.map_or(0, |c| c.runs);
    journal.close().expect("close");
    println!(
        "long run: {entries} entries in {elapsed:.1?} ({:.2} M entries/s, rate limit {rate:?}), \
         recycle {}, max_segment_bytes {:?}, {runs} compactions\n  \
         peak directory {:.0} MiB (segments {:.0} MiB; without compaction {:.0} MiB)\n  \
         peak VmRSS {:.0} MiB, RssFile {:.0} MiB, RssAnon {:.1} MiB; \
         peak VmRSS - live segment bytes: {:.1} MiB (target: <= 64 MiB)\n  \
         smaps: peak resident outside mapped live segments {:.1} MiB (of which removed \
         segments still mapped {:.1} MiB; largest removed-but-mapped at any sample \
         {:.1} MiB); largest other mappings then: {}",
        entries as f64 / elapsed.as_secs_f64() / 1e6,
        options.recycle_segments,
        options.max_segment_bytes,
        peaks.disk as f64 / MIB,
        peaks.live_segments as f64 / MIB,
        (entries * 24) as f64 / MIB,
        peaks.rss[0] as f64 / MIB,
        peaks.rss[1] as f64 / MIB,
        peaks.rss[2] as f64 / MIB,
        peaks.rss_over_segments as f64 / MIB,
        peaks.mapped.over_segments() as f64 / MIB,
        peaks.mapped.deleted_segments as f64 / MIB,
        peaks.deleted_segments as f64 / MIB,
        peaks
            .mapped
            .largest_other
            .iter()
            .map(|(b, n)| format!("{n} {:.1} MiB", *b as f64 / MIB))
            .collect::<Vec<_>>()
            .join(", "),
    );
}

/// Times `SYNC_APPENDS` Sync appends of `per` entries to each journal, alternating
/// one append to each (so that the shared disk's drift hits both alike); returns the
/// latencies of each, sorted.
fn time_sync_appends(journals: [&Journal; 2], per: u64) -> [Vec<Duration>; 2] {
    let mut out = [
        Vec::with_capacity(SYNC_APPENDS),
        Vec::with_capacity(SYNC_APPENDS),
    ];
    for i in 0..SYNC_APPENDS as u64 {
        let entries: Vec<Entry> = (0..per).map(|k| Entry::push(1, i * per + k, 0)).collect();
        for (journal, times) in journals.iter().zip(out.iter_mut()) {
            let t = Instant::now();
            journal.append_batch(&entries).expect("append");
            times.push(t.elapsed());
        }
    }
    for times in &mut out {
        times.sort_unstable();
    }
    out
}

/// A Sync journal whose active segment is fresh (`recycle` false) or recycled.
fn sync_journal(dir: &Path, recycle: bool) -> Journal {
    let options = Options::default()
        .segment_size_bytes(SYNC_SEGMENT)
        .durability(Durability::Sync)
        .recycle_segments(recycle);
    let journal = Journal::open(dir, options).expect("open");
    // Three segments' worth written and compacted away (kept for recycling or removed),
    // then appends up to the start of a new segment.
    let per_segment = (SYNC_SEGMENT - 4096) / (16 + 24 * BATCH);
    for i in 0..=3 * per_segment {
        journal.append_batch(&batch(i * BATCH)).expect("fill");
    }
    journal.compact().expect("compact");
    let mut i = 3 * per_segment + 1;
    let start = journal.end_lsn().0 / (SYNC_SEGMENT - 4096);
    while journal.end_lsn().0 / (SYNC_SEGMENT - 4096) == start {
        journal.append_batch(&batch(i * BATCH)).expect("fill");
        i += 1;
    }
    journal
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn sync_run() {
    for per in [1, PAGE_BATCH] {
        sync_compare(per);
    }
}

fn sync_compare(per: u64) {
    let mut p50 = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        let (a, b) = (common::scratch_dir(), common::scratch_dir());
        let fresh = sync_journal(&a.path().join("j"), false);
        let recycled = sync_journal(&b.path().join("j"), true);
        let times = time_sync_appends([&fresh, &recycled], per);
        for (k, name) in ["fresh", "recycled"].into_iter().enumerate() {
            println!(
                "{per} entries/append, round {round} {name}: p50 {:.1?} p99 {:.1?}",
                percentile(&times[k], 0.5),
                percentile(&times[k], 0.99)
            );
            p50[k].push(percentile(&times[k], 0.5));
        }
        fresh.close().expect("close");
        recycled.close().expect("close");
    }
    for v in &mut p50 {
        v.sort_unstable();
    }
    let (fresh, recycled) = (p50[0][ROUNDS / 2], p50[1][ROUNDS / 2]);
    println!(
        "sync append of {per} entries, p50, median of {ROUNDS} rounds of {SYNC_APPENDS} \
         alternating appends: fresh {fresh:.1?}, recycled {recycled:.1?}, recycled / fresh = {:.2}",
        recycled.as_secs_f64() / fresh.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    match std::env::var("CPJ_LONG_MODE").as_deref() {
        Ok("sync") => sync_run(),
        _ => long_run(),
    }
}
