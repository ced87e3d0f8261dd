//! The changelog ring: push throughput on one producer thread, and draining into a
//! journal, each against a same-run reference (throughput unit: entries; one iteration
//! is one chunk of `CHUNK` entries).
//!
//! Group `ring_push`:
//! - `push_drop_new`: `RingProducer::push` into an empty ring of `CHUNK` entries, which
//!   the drainer empties (untimed) between chunks;
//! - `push_overwrite_full`: pushes into a full `OverwriteOldest` ring: every push evicts
//!   the oldest entry (one compare-and-swap each);
//! - `ref_plain_stores`: the same three words per entry stored into a plain buffer of
//!   the same size with a local counter: the ceiling of the hot path;
//! - `ref_memcpy`: one `copy_from_slice` of the chunk's bytes.
//!
//! Group `ring_drain`:
//! - `drain_into_journal`: a full ring of `CHUNK` entries drained into an `Async`
//!   journal with the default options, 1024 entries per `append_batch`;
//! - `ref_append_batch`: the same entries appended directly with `append_batch` in
//!   batches of 1024: the drain's overhead is the ratio of the two.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use checkpoint_journal::{ChangelogRing, Entry, Journal, Options, OverflowPolicy};
use criterion::{criterion_group, Criterion, Throughput};

/// Entries per timed chunk (1.5 MiB of entries: past L2, as a busy ring would be).
const CHUNK: usize = 65_536;
/// Entries per `append_batch` in the drain group.
const BATCH: usize = 1024;
/// Chunks a journal takes before it is replaced (untimed): 96 MiB of frames, so disk and
/// page-cache use stay bounded.
const CHUNKS_PER_JOURNAL: u64 = 64;

fn nth(i: u64) -> Entry {
    Entry::push(7, i, i.cast_signed())
}

fn bench_push(c: &mut Criterion<common::Clock>) {
    let clock = common::clock();
    let mut group = c.benchmark_group("ring_push");
    group.throughput(Throughput::Elements(CHUNK as u64));
    group.bench_function("push_drop_new", |b| {
        let (mut producer, mut drainer) =
            ChangelogRing::new(CHUNK, OverflowPolicy::DropNew).expect("ring");
        let mut sink = Vec::with_capacity(CHUNK);
        let mut next = 0u64;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = clock.now();
                for _ in 0..CHUNK {
                    black_box(producer.push(nth(next)));
                    next += 1;
                }
                total += clock.since(start);
                sink.clear();
                drainer.pop_batch(&mut sink, CHUNK);
            }
            total
        });
    });
    group.bench_function("push_overwrite_full", |b| {
        let (mut producer, _drainer) =
            ChangelogRing::new(CHUNK, OverflowPolicy::OverwriteOldest).expect("ring");
        let mut next = 0u64;
        for _ in 0..CHUNK {
            producer.push(nth(next));
            next += 1;
        }
        b.iter(|| {
            for _ in 0..CHUNK {
                black_box(producer.push(nth(next)));
                next += 1;
            }
        });
    });
    group.bench_function("ref_plain_stores", |b| {
        let mut buffer = vec![0u64; CHUNK * 3];
        let mut next = 0u64;
        b.iter(|| {
            let mut at = 0usize;
            for _ in 0..CHUNK {
                let words = nth(next).to_words();
                buffer[at..at + 3].copy_from_slice(&words);
                at = black_box(at + 3);
                next += 1;
            }
        });
    });
    group.bench_function("ref_memcpy", |b| {
        let source: Vec<Entry> = (0..CHUNK as u64).map(nth).collect();
        let mut target = vec![Entry::default(); CHUNK];
        b.iter(|| target.copy_from_slice(black_box(&source)));
    });
    group.finish();
}

/// An `Async` journal with the default options (64 MiB segments, background
/// preallocation: roll-overs are part of the cost), replaced untimed now and then.
struct Rig {
    current: Option<(Journal, tempfile::TempDir)>,
    left: u64,
}

impl Rig {
    fn journal(&mut self) -> &Journal {
        if self.left == 0 || self.current.is_none() {
            if let Some((journal, dir)) = self.current.take() {
                journal.close_without_flush();
                drop(dir);
            }
            let dir = common::scratch_dir();
            let journal = Journal::open(dir.path(), Options::default()).expect("open a journal");
            self.current = Some((journal, dir));
            self.left = CHUNKS_PER_JOURNAL;
        }
        self.left -= 1;
        &self.current.as_ref().expect("a journal").0
    }
}

fn bench_drain(c: &mut Criterion<common::Clock>) {
    let clock = common::clock();
    let mut group = c.benchmark_group("ring_drain");
    group.throughput(Throughput::Elements(CHUNK as u64));
    group.bench_function("drain_into_journal", |b| {
        let mut rig = Rig {
            current: None,
            left: 0,
        };
        let (mut producer, drainer) =
            ChangelogRing::new(CHUNK, OverflowPolicy::DropNew).expect("ring");
        let mut drainer = drainer.batch_max(BATCH);
        let mut next = 0u64;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..CHUNK {
                    producer.push(nth(next));
                    next += 1;
                }
                let journal = rig.journal();
                let start = clock.now();
                let moved = drainer.drain_into(journal).expect("drain");
                total += clock.since(start);
                assert_eq!(moved, CHUNK as u64);
            }
            total
        });
    });
    group.bench_function("ref_append_batch", |b| {
        let mut rig = Rig {
            current: None,
            left: 0,
        };
        let entries: Vec<Entry> = (0..CHUNK as u64).map(nth).collect();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let journal = rig.journal();
                let start = clock.now();
                for batch in entries.chunks(BATCH) {
                    black_box(journal.append_batch(batch).expect("append_batch"));
                }
                total += clock.since(start);
            }
            total
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_push, bench_drain
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
