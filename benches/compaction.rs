//! Compaction: what it buys at open, what it costs, and what it does to appenders.
//!
//! - `compaction_open`: `Journal::open` + `close_without_flush` of a journal of
//!   `SMALL` (1 M) entries never compacted — the reference, measured in the same run —
//!   and of one of `BIG` (100 M; `CPJ_BENCH_BIG_ENTRIES` overrides) entries built with
//!   background compaction, compacted and then given `TAIL` more entries. The target is
//!   `big / small ≤ 2`: open follows the tail, not the history.
//! - `compaction_run`: `Journal::compact()` after `RUN_ENTRIES` new entries (untimed
//!   appends, timed compaction: fold, snapshot, retirement), against `open` replaying
//!   the same entries (the reference: both fold the same frames).
//! - Printed once, not criterion-timed: the largest directory size seen while the big
//!   journal was built (segments + snapshots), and single-entry append latency
//!   percentiles (p50, p99, p99.9) without and with background compaction running, as
//!   the ratio `with / without` (target ≤ 2).
//!
//! Run: `cargo bench --bench compaction`.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "printed sizes, ratios and percentile positions"
)]

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use checkpoint_journal::{Compaction, Entry, Journal, Options};
use common::Clock;
use criterion::{criterion_group, Criterion, Throughput};

/// Entries of the reference journal.
const SMALL: u64 = 1_000_000;
/// Entries of the compacted journal (default).
const BIG: u64 = 100_000_000;
/// Entries appended to the big journal after its last compaction.
const TAIL: u64 = 100_000;
/// Entries per batch while building.
const BATCH: u64 = 1_000;
/// Entries appended before each timed compaction.
const RUN_ENTRIES: u64 = 1_000_000;
/// Single-entry appends per latency run.
const LATENCY_APPENDS: usize = 4_000_000;
/// Latency runs of each kind, alternating.
const LATENCY_ROUNDS: usize = 5;

fn options() -> Options {
    Options::default().preallocate(false)
}

fn batch(from: u64) -> Vec<Entry> {
    (from..from + BATCH)
        .map(|i| Entry::push(u16::try_from(i % 64).expect("small"), i, i.cast_signed()))
        .collect()
}

/// Appends `count` entries from `from` in batches, at most `rate` entries per second if
/// given; returns the largest directory size seen (sampled every 64 batches).
fn fill_paced(journal: &Journal, from: u64, count: u64, rate: Option<u64>) -> u64 {
    let started = Instant::now();
    let mut largest = 0;
    let mut at = from;
    while at < from + count {
        journal.append_batch(&batch(at)).expect("append_batch");
        at += BATCH;
        if (at / BATCH).is_multiple_of(64) {
            largest = largest.max(dir_bytes(journal.dir()));
            if let Some(rate) = rate {
                let due = Duration::from_secs_f64((at - from) as f64 / rate as f64);
                std::thread::sleep(due.saturating_sub(started.elapsed()));
            }
        }
    }
    largest
}

fn fill(journal: &Journal, from: u64, count: u64) -> u64 {
    fill_paced(journal, from, count, None)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |items| {
        items
            .filter_map(|i| i.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum()
    })
}

/// The big journal: built (at `CPJ_BENCH_BIG_RATE` entries/s if set) with background
/// compaction every 256 MiB, compacted, then `TAIL` more entries. Returns the largest
/// directory size seen while building.
fn build_big(dir: &Path, entries: u64) -> u64 {
    let policy = Compaction::default().every_bytes(256 << 20);
    let journal = Journal::open(dir, options().compaction(policy)).expect("create");
    let largest = fill_paced(&journal, 0, entries, env_u64("CPJ_BENCH_BIG_RATE"));
    journal.compact().expect("compact");
    fill(&journal, entries, TAIL);
    journal.close().expect("close");
    largest
}

fn open_bench(c: &mut Criterion<Clock>) {
    let big_entries = env_u64("CPJ_BENCH_BIG_ENTRIES").unwrap_or(BIG);
    let (small, big) = (common::scratch_dir(), common::scratch_dir());
    let small_dir = small.path().join("j");
    let journal = Journal::open(&small_dir, options()).expect("create");
    fill(&journal, 0, SMALL);
    journal.close().expect("close");
    let started = Instant::now();
    let big_dir = big.path().join("j");
    let largest = build_big(&big_dir, big_entries);
    eprintln!(
        "compaction: built {big_entries} entries in {:.1?}; largest directory while \
         building: {:.1} MiB (without compaction: {:.1} MiB); after: {:.1} MiB",
        started.elapsed(),
        largest as f64 / common::MIB as f64,
        (big_entries * 24) as f64 / common::MIB as f64,
        dir_bytes(&big_dir) as f64 / common::MIB as f64,
    );
    let mut group = c.benchmark_group("compaction_open");
    for (name, dir) in [
        ("small_1m_reference", &small_dir),
        ("big_compacted", &big_dir),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let journal = Journal::open(dir, options()).expect("open");
                journal.close_without_flush();
            });
        });
    }
    group.finish();
}

fn run_bench(c: &mut Criterion<Clock>) {
    let tmp = common::scratch_dir();
    let dir = tmp.path().join("j");
    let journal = Journal::open(&dir, options()).expect("create");
    let mut next = 0;
    let mut group = c.benchmark_group("compaction_run");
    group.throughput(Throughput::Elements(RUN_ENTRIES));
    group.bench_function("compact_1m_new_entries", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fill(&journal, next, RUN_ENTRIES);
                next += RUN_ENTRIES;
                let clock = common::clock();
                let start = clock.now();
                journal.compact().expect("compact");
                total += clock.since(start);
            }
            total
        });
    });
    drop(journal);
    let reference = common::scratch_dir();
    let ref_dir = reference.path().join("j");
    let built = Journal::open(&ref_dir, options()).expect("create");
    fill(&built, 0, RUN_ENTRIES);
    built.close().expect("close");
    group.bench_function("open_replaying_1m_reference", |b| {
        b.iter(|| {
            Journal::open(&ref_dir, options())
                .expect("open")
                .close_without_flush();
        });
    });
    group.finish();
}

/// Per-append latencies (ns) of `LATENCY_APPENDS` single-entry appends.
fn latencies(policy: Option<Compaction>) -> Vec<u64> {
    let tmp = common::scratch_dir();
    let mut opts = Options::default();
    if let Some(p) = policy {
        opts = opts.compaction(p);
    }
    let journal = Journal::open(tmp.path().join("j"), opts).expect("create");
    let mut out = Vec::with_capacity(LATENCY_APPENDS);
    for i in 0..LATENCY_APPENDS as u64 {
        let start = Instant::now();
        journal
            .append(Entry::push(1, i, i.cast_signed()))
            .expect("append");
        out.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    let compacted = journal.last_compaction().is_some();
    journal.close().expect("close");
    if policy.is_some() && !compacted {
        eprintln!("compaction: note: no background compaction finished during this run");
    }
    out.sort_unstable();
    out
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or(0)
}

/// `LATENCY_ROUNDS` alternating runs without and with background compaction; prints
/// each round's percentiles and the median over rounds of the per-round ratios.
fn latency_report(_: &mut Criterion<Clock>) {
    const PERCENTILES: [(&str, f64); 3] = [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)];
    let mut ratios = vec![Vec::new(); PERCENTILES.len()];
    for round in 0..LATENCY_ROUNDS {
        let without = latencies(None);
        // 8 MiB: 200 000 one-entry frames, so about twenty compactions per run.
        let with = latencies(Some(Compaction::default().every_bytes(8 << 20)));
        for ((name, p), r) in PERCENTILES.iter().zip(&mut ratios) {
            let (a, b) = (percentile(&without, *p), percentile(&with, *p));
            r.push(b as f64 / a.max(1) as f64);
            eprintln!("compaction: round {round} append {name}: without {a} ns, with {b} ns");
        }
    }
    for ((name, _), mut r) in PERCENTILES.into_iter().zip(ratios) {
        r.sort_by(f64::total_cmp);
        eprintln!(
            "compaction: append {name} with / without background compaction: median ratio \
             {:.2} over {LATENCY_ROUNDS} rounds (min {:.2}, max {:.2})",
            r[r.len() / 2],
            r[0],
            r[r.len() - 1]
        );
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = open_bench, run_bench, latency_report
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
