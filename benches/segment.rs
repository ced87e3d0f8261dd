//! What a segment costs before the first append: creating, allocating and mapping it, at
//! the sizes the default could take, and the first write to each of its pages.
//!
//! Groups:
//! - `segment_create`: create + fallocate + mmap a 4/16/64/256 MiB file, prefaulted with
//!   `MAP_POPULATE` (as `storage/mmap.rs` does) or with `MADV_POPULATE_WRITE`; and
//!   `Journal::open` of an empty directory, which adds the header write, its msync and
//!   the directory fsync. Only the creation is timed; unmapping and removal are not.
//! - `first_touch_64m`: one pass of 40-byte frame stores over a 64 MiB mapping that is
//!   fresh and not prefaulted, fresh and `MAP_POPULATE`d, fresh and
//!   `MADV_POPULATE_WRITE`d, or already written once (the reference: every page dirty and
//!   writable). Creating the fresh mappings is not timed.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use checkpoint_journal::{Journal, Options};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

use common::{Clock, Prefault, MIB};

/// Size of the mapping the first-touch passes write.
const TOUCH_BYTES: u64 = 64 * MIB;

fn bench_create(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("segment_create");
    group.sampling_mode(SamplingMode::Flat);
    let dir = common::scratch_dir();
    let mut n = 0u64;
    for size_mib in [4u64, 16, 64, 256] {
        let size = size_mib * MIB;
        group.throughput(Throughput::Bytes(size));
        for (name, prefault) in [
            ("map_populate", Prefault::MapPopulate),
            ("populate_write", Prefault::PopulateWrite),
        ] {
            group.bench_function(BenchmarkId::new(name, format!("{size_mib}MiB")), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        n += 1;
                        let file = format!("seg-{n}");
                        let started = common::clock().now();
                        let map = common::segment_like(dir.path(), &file, size, prefault);
                        total += common::clock().since(started);
                        drop(map);
                        std::fs::remove_file(dir.path().join(file)).expect("remove");
                    }
                    total
                });
            });
        }
        group.bench_function(
            BenchmarkId::new("journal_open_empty", format!("{size_mib}MiB")),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let journal_dir = common::scratch_dir();
                        let options = Options::default()
                            .segment_size_bytes(size)
                            .preallocate(false);
                        let started = common::clock().now();
                        let journal = Journal::open(journal_dir.path(), options).expect("open");
                        total += common::clock().since(started);
                        journal.close_without_flush();
                    }
                    total
                });
            },
        );
    }
    group.finish();
}

fn touch_pass(words: &mut [u64]) -> Duration {
    let frames = words.len() as u64 / common::FRAME_ONE_WORDS as u64;
    let started = common::clock().now();
    common::store_frames(words, 0, frames, 1);
    black_box(&words);
    common::clock().since(started)
}

fn bench_first_touch(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("first_touch_64m");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(TOUCH_BYTES));
    let dir = common::scratch_dir();
    let mut n = 0u64;
    for (name, prefault) in [
        ("fresh_no_populate", Prefault::None),
        ("fresh_map_populate", Prefault::MapPopulate),
        ("fresh_populate_write", Prefault::PopulateWrite),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let file = format!("touch-{n}");
                    let mut map = common::segment_like(dir.path(), &file, TOUCH_BYTES, prefault);
                    total += touch_pass(common::words_mut(&mut map));
                    drop(map);
                    std::fs::remove_file(dir.path().join(file)).expect("remove");
                }
                total
            });
        });
    }
    let mut map = common::segment_like(dir.path(), "touched", TOUCH_BYTES, Prefault::MapPopulate);
    let words = common::words_mut(&mut map);
    touch_pass(words);
    group.bench_function("ref_prefaulted_dirty", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| touch_pass(words)).sum());
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_create, bench_first_touch
}
criterion_main!(benches);
