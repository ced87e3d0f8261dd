//! Replay throughput on a warm page cache, against its physical references measured in
//! the same run.
//!
//! Three journals of `ENTRIES` entries with the default 64 MiB segments are built once
//! (untimed): one written as 1024-entry batches and one as single-entry frames, both from
//! 16 sources in turn, and one as 1000-entry batches from one source (the shape of the
//! peer comparison's data set). For each:
//! - `open`: `Journal::open` (recovery replays every frame, checksums included) and
//!   `close_without_flush`, so the files stay exactly as built;
//! - `read_from`: iterating `Journal::read_from(first_lsn)` over every frame (a `Vec`
//!   per entry frame);
//! - `read_ref`: the same frames through `Reader::next_ref` (entries borrowed from the
//!   reader's reused buffer);
//! - `open_read_from`, `open_read_ref`: open and then read everything, as a process that
//!   replays its journal at start does;
//! - references over the same bytes held in a prefaulted buffer: a sequential read (sum
//!   of words), memcpy, `crc32c::crc32c` (the checksum floor of validated replay), and
//!   `ref_frame_crc`: `format::crc::frame_crc` once per frame of the layout over the same
//!   payload (one call per 40-byte frame for single entries: the floor of checking
//!   single-entry frames one by one);
//! - `open_clean`, `open_clean_read_ref`: `open` and `open_read_ref` after a clean close:
//!   the clean-shutdown claim (`journal.clean`) is put back before each open (untimed),
//!   so open skips the look-ahead over the zero tail. The other benches run without it.
//!
//! `replay_fixed/open_empty_64m` opens a journal holding only its close marker: the part
//! of `open` that does not depend on the number of entries (`_clean`: with the claim).

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use checkpoint_journal::format::crc::frame_crc;
use checkpoint_journal::{Entry, Frame, FrameRef, Journal, Options};
use common::Clock;
use criterion::{criterion_group, Bencher, Criterion, Throughput};

/// The clean-shutdown file a clean close leaves (docs/FORMAT.md "Clean-shutdown file").
const CLEAN_FILE: &str = "journal.clean";

/// Entries in each journal.
const ENTRIES: u64 = 1 << 20;
/// Entries per batch in the batched journal.
const BATCH: u64 = 1024;

/// Options for opening the built journals: no background preallocator, so opening never
/// adds a spare segment file and every iteration sees the same files.
fn reopen_options() -> Options {
    Options::default().preallocate(false)
}

/// Builds a journal of `ENTRIES` entries in frames of `per_frame` entries, from
/// `sources` sources in turn (entry `i` from source `i % sources`); returns the bytes of
/// its frames (the close marker included).
fn build(dir: &Path, per_frame: u64, sources: u64) -> u64 {
    build_n(dir, per_frame, ENTRIES, sources)
}

/// [`build`] with `total` entries.
fn build_n(dir: &Path, per_frame: u64, total: u64, sources: u64) -> u64 {
    let journal = Journal::open(dir, reopen_options()).expect("create a journal");
    let mut seq = 0u64;
    while seq < total {
        let batch: Vec<Entry> = (seq..(seq + per_frame).min(total))
            .map(|i| {
                Entry::push(
                    u16::try_from(i % sources).expect("small"),
                    i,
                    i.cast_signed(),
                )
            })
            .collect();
        if per_frame == 1 {
            journal.append(batch[0]).expect("append");
        } else {
            journal.append_batch(&batch).expect("append_batch");
        }
        seq += batch.len() as u64;
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

fn read_all_ref(journal: &Journal) -> u64 {
    let mut entries = 0u64;
    let mut reader = journal.read_from(journal.first_lsn()).expect("read_from");
    while let Some(frame) = reader.next_ref().expect("a valid frame") {
        if let FrameRef::Entries { entries: e, .. } = frame {
            entries += e.len() as u64;
        }
    }
    entries
}

fn open_and_read(dir: &Path, borrowed: bool) -> u64 {
    let journal = Journal::open(dir, reopen_options()).expect("open");
    let read = if borrowed {
        read_all_ref(&journal)
    } else {
        read_all(&journal)
    };
    journal.close_without_flush();
    read
}

/// Closes the journal in `dir` cleanly once more and takes its clean-shutdown claim out
/// of the directory, so that the plain `open` benches read the tail; `open_clean` puts
/// it back before each open.
fn take_claim(dir: &Path) -> Vec<u8> {
    Journal::open(dir, reopen_options())
        .expect("open")
        .close()
        .expect("close");
    let path = dir.join(CLEAN_FILE);
    let claim = std::fs::read(&path).expect("a clean close leaves its claim");
    std::fs::remove_file(&path).expect("remove the claim");
    claim
}

/// Opens `dir` with its clean-shutdown claim put back before each open (untimed), and
/// reads every entry through `next_ref` when `read`; as `open_and_read`, the release
/// of the journal is timed too.
fn bench_open_clean(b: &mut Bencher<'_, Clock>, dir: &Path, claim: &[u8], read: bool) {
    let clock = common::clock();
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            std::fs::write(dir.join(CLEAN_FILE), claim).expect("put the claim back");
            let start = clock.now();
            let journal = Journal::open(dir, reopen_options()).expect("open");
            assert!(
                journal.recovery_report().clean_shutdown,
                "the claim is used"
            );
            let n = if read {
                read_all_ref(&journal)
            } else {
                journal.recovery_report().entries_replayed
            };
            journal.close_without_flush();
            total += clock.since(start);
            black_box(n);
        }
        total
    });
}

fn bench_layout(c: &mut Criterion<Clock>, name: &str, per_frame: u64, sources: u64) {
    let dir = common::scratch_dir();
    let bytes = build(dir.path(), per_frame, sources);
    let claim = take_claim(dir.path());
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::ElementsAndBytes {
        elements: ENTRIES,
        bytes,
    });

    group.bench_function("open", |b| {
        b.iter(|| black_box(open_and_release(dir.path())));
    });
    group.bench_function("open_read_from", |b| {
        b.iter(|| black_box(open_and_read(dir.path(), false)));
    });
    group.bench_function("open_read_ref", |b| {
        b.iter(|| black_box(open_and_read(dir.path(), true)));
    });
    group.bench_function("open_clean", |b| {
        bench_open_clean(b, dir.path(), &claim, false);
    });
    group.bench_function("open_clean_read_ref", |b| {
        bench_open_clean(b, dir.path(), &claim, true);
    });
    let journal = Journal::open(dir.path(), reopen_options()).expect("open");
    group.bench_function("read_from", |b| {
        b.iter(|| black_box(read_all(&journal)));
    });
    group.bench_function("read_ref", |b| {
        b.iter(|| black_box(read_all_ref(&journal)));
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
    // One frame checksum per frame of the layout, over payloads of the same words.
    let frame_words = usize::try_from(per_frame * 3).expect("fits");
    group.bench_function("ref_frame_crc", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for (i, payload) in black_box(&src).chunks_exact(frame_words).enumerate() {
                acc ^= frame_crc(i as u64 * 8, 0x1_0000_0018, 0, payload);
            }
            acc
        });
    });
    group.finish();
}

fn bench_replay(c: &mut Criterion<Clock>) {
    bench_layout(c, "replay_batch_1024", BATCH, 16);
    bench_layout(c, "replay_single", 1, 16);
    // The shape of the peer comparison's data set: one source, batches of 1000.
    bench_layout(c, "replay_batch_1000_one_source", 1000, 1);

    let dir = common::scratch_dir();
    Journal::open(dir.path(), reopen_options())
        .expect("create")
        .close()
        .expect("close");
    let claim = take_claim(dir.path());
    let mut group = c.benchmark_group("replay_fixed");
    group.bench_function("open_empty_64m", |b| {
        b.iter(|| black_box(open_and_release(dir.path())));
    });
    group.bench_function("open_empty_64m_clean", |b| {
        bench_open_clean(b, dir.path(), &claim, false);
    });
    group.finish();
}

/// Replays for an instruction count, under `valgrind --tool=callgrind
/// --toggle-collect='*profile_*'`: `CPJ_PROFILE=batch`, `single` or `one_source` builds
/// a journal of 2^18 entries of the bench's layouts (untimed) and then opens it (`profile_open`) and reads it
/// (`profile_read`, then `profile_read_ref` through `Reader::next_ref`); `empty` opens a journal holding only its close marker.
fn profile(what: &str) {
    let dir = common::scratch_dir();
    let entries = 1 << 18;
    match what {
        "batch" => drop(build_n(dir.path(), BATCH, entries, 16)),
        "single" => drop(build_n(dir.path(), 1, entries, 16)),
        "one_source" => drop(build_n(dir.path(), 1000, entries, 1)),
        _ => Journal::open(dir.path(), reopen_options())
            .expect("create")
            .close()
            .expect("close"),
    }
    let replayed = profile_open(dir.path());
    let journal = Journal::open(dir.path(), reopen_options()).expect("open");
    let read = profile_read(&journal);
    let borrowed = profile_read_ref(&journal);
    journal.close_without_flush();
    println!("{what}: opened {replayed} entries, read {read}, read by reference {borrowed}");
}

#[inline(never)]
fn profile_open(dir: &Path) -> u64 {
    open_and_release(dir)
}

#[inline(never)]
fn profile_read(journal: &Journal) -> u64 {
    read_all(journal)
}

#[inline(never)]
fn profile_read_ref(journal: &Journal) -> u64 {
    read_all_ref(journal)
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
