//! Replay throughput on a warm page cache, against its physical references measured in
//! the same run.
//!
//! Two journals of `ENTRIES` entries with the default 64 MiB segments are built once
//! (untimed): one written as 1024-entry batches, one as single-entry frames. For each:
//! - `open`: `Journal::open` (recovery replays every frame, checksums included) and
//!   `close_without_flush`, so the files stay exactly as built;
//! - `read_from`: iterating `Journal::read_from(first_lsn)` over every frame;
//! - references over the same bytes held in a prefaulted buffer: a sequential read (sum
//!   of words), memcpy, and `crc32c::crc32c` (the checksum floor of validated replay).
//!
//! `replay_fixed/open_empty_64m` opens a journal holding only its close marker: the part
//! of `open` that does not depend on the number of entries.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::Path;

use checkpoint_journal::{Entry, Frame, Journal, Options};
use common::Clock;
use criterion::{criterion_group, Criterion, Throughput};

/// Entries in each journal.
const ENTRIES: u64 = 1 << 20;
/// Entries per batch in the batched journal.
const BATCH: u64 = 1024;

/// Options for opening the built journals: no background preallocator, so opening never
/// adds a spare segment file and every iteration sees the same files.
fn reopen_options() -> Options {
    Options::default().preallocate(false)
}

/// Builds a journal of `ENTRIES` entries in frames of `per_frame` entries; returns the
/// bytes of its frames (the close marker included).
fn build(dir: &Path, per_frame: u64) -> u64 {
    build_n(dir, per_frame, ENTRIES)
}

/// [`build`] with `total` entries.
fn build_n(dir: &Path, per_frame: u64, total: u64) -> u64 {
    let journal = Journal::open(dir, reopen_options()).expect("create a journal");
    let mut seq = 0u64;
    while seq < total {
        let batch: Vec<Entry> = (seq..seq + per_frame)
            .map(|i| Entry::push(u16::try_from(i % 16).expect("small"), i, i.cast_signed()))
            .collect();
        if per_frame == 1 {
            journal.append(batch[0]).expect("append");
        } else {
            journal.append_batch(&batch).expect("append_batch");
        }
        seq += per_frame;
    }
    journal.close().expect("close");
    let journal = Journal::open(dir, reopen_options()).expect("reopen");
    let bytes = journal.end_lsn().0 - journal.first_lsn().0;
    assert_eq!(journal.recovery_report().entries_replayed, total);
    journal.close_without_flush();
    bytes
}

fn open_and_release(dir: &Path) -> u64 {
    let journal = Journal::open(dir, reopen_options()).expect("open");
    let replayed = journal.recovery_report().entries_replayed;
    journal.close_without_flush();
    replayed
}

fn read_all(journal: &Journal) -> u64 {
    let mut entries = 0u64;
    for frame in journal.read_from(journal.first_lsn()).expect("read_from") {
        if let Frame::Entries { entries: e, .. } = frame.expect("a valid frame") {
            entries += e.len() as u64;
        }
    }
    entries
}

fn bench_layout(c: &mut Criterion<Clock>, name: &str, per_frame: u64) {
    let dir = common::scratch_dir();
    let bytes = build(dir.path(), per_frame);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::ElementsAndBytes {
        elements: ENTRIES,
        bytes,
    });

    group.bench_function("open", |b| {
        b.iter(|| black_box(open_and_release(dir.path())));
    });
    let journal = Journal::open(dir.path(), reopen_options()).expect("open");
    group.bench_function("read_from", |b| {
        b.iter(|| black_box(read_all(&journal)));
    });
    journal.close_without_flush();

    let words = usize::try_from(bytes / 8).expect("fits");
    let src: Vec<u64> = (0..words as u64).collect();
    group.bench_function("ref_read_words", |b| {
        b.iter(|| {
            black_box(&src)
                .iter()
                .fold(0u64, |acc, w| acc.wrapping_add(*w))
        });
    });
    let mut dst = vec![1u64; words];
    group.bench_function("ref_memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        });
    });
    let src_bytes: &[u8] = bytemuck::cast_slice(&src);
    group.bench_function("ref_crc32c", |b| {
        b.iter(|| crc32c::crc32c(black_box(src_bytes)));
    });
    group.finish();
}

fn bench_replay(c: &mut Criterion<Clock>) {
    bench_layout(c, "replay_batch_1024", BATCH);
    bench_layout(c, "replay_single", 1);

    let dir = common::scratch_dir();
    Journal::open(dir.path(), reopen_options())
        .expect("create")
        .close()
        .expect("close");
    let mut group = c.benchmark_group("replay_fixed");
    group.bench_function("open_empty_64m", |b| {
        b.iter(|| black_box(open_and_release(dir.path())));
    });
    group.finish();
}

/// Replays for an instruction count, under `valgrind --tool=callgrind
/// --toggle-collect='*profile_*'`: `CPJ_PROFILE=batch` or `single` builds a journal of
/// 2^18 entries (untimed) and then opens it (`profile_open`) and reads it
/// (`profile_read`); `empty` opens a journal holding only its close marker.
fn profile(what: &str) {
    let dir = common::scratch_dir();
    let entries = 1 << 18;
    match what {
        "batch" => drop(build_n(dir.path(), BATCH, entries)),
        "single" => drop(build_n(dir.path(), 1, entries)),
        _ => Journal::open(dir.path(), reopen_options())
            .expect("create")
            .close()
            .expect("close"),
    }
    let replayed = profile_open(dir.path());
    let journal = Journal::open(dir.path(), reopen_options()).expect("open");
    let read = profile_read(&journal);
    journal.close_without_flush();
    println!("{what}: opened {replayed} entries, read {read}");
}

#[inline(never)]
fn profile_open(dir: &Path) -> u64 {
    open_and_release(dir)
}

#[inline(never)]
fn profile_read(journal: &Journal) -> u64 {
    read_all(journal)
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_replay
}

fn main() {
    if let Ok(what) = std::env::var("CPJ_PROFILE") {
        profile(&what);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
