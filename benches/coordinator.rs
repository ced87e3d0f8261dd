//! The checkpoint coordinator's costs, against references measured in the same run.
//!
//! Groups:
//! - `advance`: `SourceHandle::advance` (the hot path: two stores into the source's
//!   shared cell). Reference: two plain atomic stores (Relaxed, then Release) into a
//!   cache-padded pair, which is what `advance` is meant to cost (target ≤ 5 ns).
//! - `trigger`: `CheckpointCoordinator::trigger` in `Async` mode with 10, 1 000 and
//!   10 000 registered sources (capture every source, encode, append). Reference:
//!   `Journal::checkpoint` of a record of the same size, built beforehand.
//!
//! Journals live in scratch directories and are replaced (untimed) for every batch of
//! iterations criterion asks for, so disk use stays bounded.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use checkpoint_journal::{
    CheckpointCoordinator, CheckpointRecord, CoordinatorConfig, Journal, Options,
};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use crossbeam_utils::CachePadded;

use common::Clock;

/// Source counts of the trigger group.
const SOURCE_COUNTS: [usize; 3] = [10, 1_000, 10_000];

/// A two-word cell written the way `advance` writes its cell.
struct Pair {
    sequence: AtomicU64,
    watermark: AtomicU64,
}

fn options() -> Options {
    Options::default().segment_size_bytes(256 * 1024 * 1024)
}

/// A coordinator with `sources` registered sources, each advanced once.
fn coordinator(dir: &std::path::Path, sources: usize) -> CheckpointCoordinator {
    let journal = Arc::new(Journal::open(dir, options()).expect("open a journal"));
    let c = CheckpointCoordinator::open(journal, CoordinatorConfig::default())
        .expect("open a coordinator");
    for i in 0..n_u16(sources) {
        let handle = c.register_source(&format!("source-{i}")).expect("register");
        handle.advance(1_000_000 + u64::from(i), -i64::from(i));
    }
    c
}

fn bench_advance(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("advance");
    group.throughput(Throughput::Elements(1));
    let dir = common::scratch_dir();
    let coordinator = coordinator(dir.path(), 1);
    let handle = coordinator.register_source("source-0").expect("handle");
    group.bench_function("handle_advance", |b| {
        b.iter_custom(|iters| {
            let started = common::clock().now();
            for i in 0..iters {
                black_box(&handle).advance(black_box(i), black_box(i.cast_signed()));
            }
            common::clock().since(started)
        });
    });
    let pair = CachePadded::new(Pair {
        sequence: AtomicU64::new(0),
        watermark: AtomicU64::new(0),
    });
    group.bench_function("ref_two_stores", |b| {
        b.iter_custom(|iters| {
            let started = common::clock().now();
            for i in 0..iters {
                let p = black_box(&pair);
                p.sequence.store(black_box(i), Ordering::Relaxed);
                p.watermark.store(black_box(i), Ordering::Release);
            }
            common::clock().since(started)
        });
    });
    group.finish();
    drop(coordinator);
}

fn bench_trigger(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("trigger");
    group.throughput(Throughput::Elements(1));
    for sources in SOURCE_COUNTS {
        group.bench_with_input(
            BenchmarkId::new("coordinator_trigger", sources),
            &sources,
            |b, &n| {
                b.iter_custom(|iters| {
                    let dir = common::scratch_dir();
                    let c = coordinator(dir.path(), n);
                    let started = common::clock().now();
                    for _ in 0..iters {
                        black_box(c.trigger().expect("trigger"));
                    }
                    let took = common::clock().since(started);
                    close(c);
                    took
                });
            },
        );
        let record = CheckpointRecord {
            id: 1,
            epoch: 1,
            created_at_ms: 1_800_000_000_000,
            source_sequences: (0..n_u16(sources))
                .map(|i| (i, 1_000_000 + u64::from(i)))
                .collect(),
            watermarks: (0..n_u16(sources)).map(|i| (i, -i64::from(i))).collect(),
            ..CheckpointRecord::default()
        };
        group.bench_with_input(
            BenchmarkId::new("ref_journal_checkpoint", sources),
            &record,
            |b, r| {
                b.iter_custom(|iters| {
                    let dir = common::scratch_dir();
                    let journal = Journal::open(dir.path(), options()).expect("open");
                    let started = common::clock().now();
                    for _ in 0..iters {
                        black_box(journal.checkpoint(black_box(r)).expect("checkpoint"));
                    }
                    let took = common::clock().since(started);
                    journal.close_without_flush();
                    took
                });
            },
        );
    }
    group.finish();
}

fn n_u16(n: usize) -> u16 {
    u16::try_from(n).expect("at most 65 535 sources here")
}

/// Drops the coordinator and releases its journal without flushing (untimed).
fn close(c: CheckpointCoordinator) {
    let journal = Arc::clone(c.journal());
    drop(c);
    if let Some(journal) = Arc::into_inner(journal) {
        journal.close_without_flush();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_advance, bench_trigger
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
