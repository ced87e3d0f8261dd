//! Append throughput from one thread, in `Async` mode, against its physical references
//! measured in the same run.
//!
//! Groups:
//! - `append_one`: `Journal::append` of one entry (a 40-byte frame) with 1 GiB segments
//!   (no roll-over inside a timed stretch), the same through a per-thread handle
//!   (`Appender::append`, `appender_1g_segment_no_roll`), and with the default 64 MiB segments, with and
//!   without the background preallocator (roll-over is part of the cost there). References:
//!   the same 40-byte frames written with plain stores into a prefaulted file mapping;
//!   the same with what the protocol cannot drop: one `fetch_add` reservation per frame
//!   (`ref_reserve_frame_stores_40b`) and, besides, the frame checksum over the reserved
//!   LSN (`ref_reserve_crc_frame_stores_40b`, the floor of a one-entry append with a
//!   per-frame CRC); and memcpy of 40 bytes into a prefaulted buffer.
//! - `append_batch_1024`: `Journal::append_batch` of 1024 entries (one 24,592-byte
//!   frame). Reference: memcpy of the same bytes into a prefaulted buffer, streaming
//!   through 64 MiB (as the journal streams through a segment) and into one hot buffer.
//!
//! Journals live in scratch directories under the temp dir and are replaced (untimed)
//! before they grow past `JOURNAL_BYTES_BUDGET`, so page cache and disk use stay bounded.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use checkpoint_journal::format::crc::frame_crc_one_entry;
use checkpoint_journal::{Appender, Entry, Journal, Options};
use criterion::{criterion_group, Criterion, Throughput};

use common::{Clock, Prefault, FRAME_ONE_BYTES, MIB};

/// A journal is replaced once this many bytes have been appended to it.
const JOURNAL_BYTES_BUDGET: u64 = 1024 * MIB;
/// Segment size for the runs without roll-over: the largest the journal allows.
const SEGMENT_LARGE_BYTES: u64 = 1024 * MIB;
/// Segment header bytes (not part of the data area).
const SEGMENT_HEADER_BYTES: u64 = 4096;
/// Entries per batch.
const BATCH: usize = 1024;
/// Bytes of one 1024-entry frame.
const BATCH_FRAME_BYTES: u64 = 16 + 24 * BATCH as u64;
/// Streaming destination of the memcpy references: one default segment.
const STREAM_BYTES: usize = 64 * 1024 * 1024;

/// A journal that is replaced, untimed, before it outgrows its budget.
struct Rig {
    options: Options,
    /// Bytes one journal may take before it is replaced.
    budget: u64,
    current: Option<(Journal, tempfile::TempDir)>,
    left: u64,
}

impl Rig {
    fn new(options: Options, budget: u64) -> Rig {
        Rig {
            options,
            budget,
            current: None,
            left: 0,
        }
    }

    /// Replaces the journal with a fresh one (untimed). Called once before each bench so
    /// that criterion's warm-up, which counts wall time, does not see the first creation.
    fn replace(&mut self) {
        if let Some((journal, dir)) = self.current.take() {
            // Nothing is made durable: the files are deleted right after.
            journal.close_without_flush();
            drop(dir);
        }
        let dir = common::scratch_dir();
        let journal = Journal::open(dir.path(), self.options.clone()).expect("open a journal");
        self.current = Some((journal, dir));
        self.left = self.budget;
    }

    /// Times `body(journal, first_index, count)` over `iters` iterations of
    /// `bytes_per_iter` each, replacing the journal between stretches as needed.
    fn run(
        &mut self,
        iters: u64,
        bytes_per_iter: u64,
        mut body: impl FnMut(&Journal, u64, u64),
    ) -> Duration {
        let mut total = Duration::ZERO;
        let mut done = 0;
        while done < iters {
            if self.left < bytes_per_iter || self.current.is_none() {
                self.replace();
            }
            let count = (iters - done).min(self.left / bytes_per_iter);
            let (journal, _) = self.current.as_ref().expect("a journal is open");
            let started = common::clock().now();
            body(journal, done, count);
            total += common::clock().since(started);
            self.left -= count * bytes_per_iter;
            done += count;
        }
        total
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some((journal, _dir)) = self.current.take() {
            journal.close_without_flush();
        }
    }
}

fn entry(i: u64) -> Entry {
    Entry::push(black_box(7), i, i.cast_signed())
}

fn append_loop(journal: &Journal, first: u64, count: u64) {
    for i in first..first + count {
        black_box(journal.append(entry(i)).expect("append"));
    }
}

/// As [`append_loop`], through one [`checkpoint_journal::Appender`] per stretch.
fn appender_loop(journal: &Journal, first: u64, count: u64) {
    appender_run(&mut journal.appender(), first, count);
}

fn appender_run(appender: &mut Appender<&Journal>, first: u64, count: u64) {
    for i in first..first + count {
        black_box(appender.append(entry(i)).expect("append"));
    }
}

/// Writes one-entry frames as an append must at the least: reserve 40 bytes with one
/// `fetch_add` on `tail` (the LSN), then store the entry words, the second header word
/// (with `crc`, the frame checksum over the reserved LSN, header and entry, else a
/// value of the sequence) and the first header word last. Wraps at the end of `words`.
fn reserve_frames(words: &mut [u64], tail: &AtomicU64, count: u64, seed: u64, crc: bool) {
    /// Publication word of a one-entry frame: `len` 24, kind 1 (entries).
    const WORD0: u64 = 0x18 | 0x1 << 32;
    let wrap = (words.len() - words.len() % 5) as u64 * 8;
    for i in 0..count {
        let mut lsn = tail.fetch_add(FRAME_ONE_BYTES, Ordering::AcqRel);
        if lsn + FRAME_ONE_BYTES > wrap {
            tail.store(FRAME_ONE_BYTES, Ordering::Relaxed);
            lsn = 0;
        }
        let seq = seed.wrapping_add(i);
        let payload = [0x7 | 0x1 << 16, seq, seq];
        let checksum_word = if crc {
            u64::from(frame_crc_one_entry(lsn, WORD0, 0, payload))
        } else {
            seq ^ 0x5bd1_e995
        };
        let at = usize::try_from(lsn / 8).expect("a mapping fits usize");
        if let Some(frame) = words.get_mut(at..at + 5) {
            frame[2..].copy_from_slice(&payload);
            frame[1] = checksum_word;
            frame[0] = WORD0;
        }
    }
}

/// Copies `chunk` to successive positions of `dst`, wrapping at its end.
fn memcpy_stream(dst: &mut [u8], mut at: usize, chunk: &[u8], count: u64) -> usize {
    for _ in 0..count {
        if at + chunk.len() > dst.len() {
            at = 0;
        }
        if let Some(slot) = dst.get_mut(at..at + chunk.len()) {
            slot.copy_from_slice(black_box(chunk));
        }
        at += chunk.len();
    }
    black_box(&dst);
    at
}

/// A heap buffer with every page touched, so copies into it never fault.
fn prefaulted_buffer(len: usize) -> Vec<u8> {
    vec![1u8; len]
}

/// `append_one` through `Journal::append` and through an `Appender`, into one 1 GiB
/// segment (no roll-over inside a timed stretch).
fn bench_one_1g_segment(group: &mut criterion::BenchmarkGroup<'_, Clock>) {
    let large = Options::default()
        .segment_size_bytes(SEGMENT_LARGE_BYTES)
        .preallocate(false);
    // Stop one frame short of the segment end: no roll-over inside a timed stretch.
    let mut rig = Rig::new(
        large,
        SEGMENT_LARGE_BYTES - SEGMENT_HEADER_BYTES - FRAME_ONE_BYTES,
    );
    rig.replace();
    group.bench_function("journal_1g_segment_no_roll", |b| {
        b.iter_custom(|iters| rig.run(iters, FRAME_ONE_BYTES, append_loop));
    });
    group.bench_function("appender_1g_segment_no_roll", |b| {
        b.iter_custom(|iters| rig.run(iters, FRAME_ONE_BYTES, appender_loop));
    });
    drop(rig);
}

fn bench_append_one(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("append_one");
    group.throughput(Throughput::Elements(1));

    bench_one_1g_segment(&mut group);

    for (name, preallocate) in [
        ("journal_64m_prealloc_on", true),
        ("journal_64m_prealloc_off", false),
    ] {
        let mut rig = Rig::new(
            Options::default().preallocate(preallocate),
            JOURNAL_BYTES_BUDGET,
        );
        rig.replace();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| rig.run(iters, FRAME_ONE_BYTES, append_loop));
        });
    }

    let dir = common::scratch_dir();
    let mut map = common::segment_like(
        dir.path(),
        "frames",
        STREAM_BYTES as u64,
        Prefault::MapPopulate,
    );
    let words = common::words_mut(&mut map);
    // One untimed pass leaves every page dirty and writable: the steady state.
    let mut at = common::store_frames(words, 0, words.len() as u64 / 5, 0);
    group.bench_function("ref_frame_stores_40b", |b| {
        b.iter_custom(|iters| {
            let started = common::clock().now();
            at = common::store_frames(words, at, iters, iters);
            black_box(&words);
            common::clock().since(started)
        });
    });

    let tail = AtomicU64::new(0);
    for (name, crc) in [
        ("ref_reserve_frame_stores_40b", false),
        ("ref_reserve_crc_frame_stores_40b", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let started = common::clock().now();
                reserve_frames(words, &tail, iters, iters, crc);
                black_box(&words);
                common::clock().since(started)
            });
        });
    }

    let mut dst = prefaulted_buffer(STREAM_BYTES);
    let frame = [3u8; 40];
    let mut at = 0;
    group.throughput(Throughput::Bytes(FRAME_ONE_BYTES));
    group.bench_function("ref_memcpy_40b_stream", |b| {
        b.iter_custom(|iters| {
            let started = common::clock().now();
            at = memcpy_stream(&mut dst, at, &frame, iters);
            common::clock().since(started)
        });
    });
    group.finish();
}

fn bench_append_batch(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("append_batch_1024");
    group.throughput(Throughput::ElementsAndBytes {
        elements: BATCH as u64,
        bytes: BATCH_FRAME_BYTES,
    });
    let batch: Vec<Entry> = (0..BATCH as u64).map(entry).collect();
    let batch_loop = |journal: &Journal, _first: u64, count: u64| {
        for _ in 0..count {
            black_box(
                journal
                    .append_batch(black_box(&batch))
                    .expect("append_batch"),
            );
        }
    };

    let large = Options::default()
        .segment_size_bytes(SEGMENT_LARGE_BYTES)
        .preallocate(false);
    let mut rig = Rig::new(
        large,
        SEGMENT_LARGE_BYTES - SEGMENT_HEADER_BYTES - BATCH_FRAME_BYTES,
    );
    rig.replace();
    group.bench_function("journal_1g_segment_no_roll", |b| {
        b.iter_custom(|iters| rig.run(iters, BATCH_FRAME_BYTES, batch_loop));
    });
    drop(rig);

    let mut rig = Rig::new(Options::default(), JOURNAL_BYTES_BUDGET);
    rig.replace();
    group.bench_function("journal_64m_prealloc_on", |b| {
        b.iter_custom(|iters| rig.run(iters, BATCH_FRAME_BYTES, batch_loop));
    });
    drop(rig);

    let src = vec![5u8; usize::try_from(BATCH_FRAME_BYTES).expect("small")];
    let mut dst = prefaulted_buffer(STREAM_BYTES);
    let mut at = 0;
    group.bench_function("ref_memcpy_stream", |b| {
        b.iter_custom(|iters| {
            let started = common::clock().now();
            at = memcpy_stream(&mut dst, at, &src, iters);
            common::clock().since(started)
        });
    });
    let mut hot = prefaulted_buffer(src.len());
    group.bench_function("ref_memcpy_hot", |b| {
        b.iter(|| {
            hot.copy_from_slice(black_box(&src));
            black_box(&hot);
        });
    });
    group.finish();
}

/// Appends for an instruction count: `CPJ_PROFILE=append_one` (200,000 single appends),
/// `CPJ_PROFILE=appender_one` (the same through one `Appender`) or
/// `CPJ_PROFILE=append_batch` (2,000 batches of 1024) into one 256 MiB segment, under
/// `valgrind --tool=callgrind --toggle-collect='*profile_loop*'`; divide the collected
/// instructions by the count.
fn profile(what: &str) {
    const SEGMENT: u64 = 256 * MIB;
    let options = Options::default()
        .segment_size_bytes(SEGMENT)
        .preallocate(false);
    let mut rig = Rig::new(options, SEGMENT - SEGMENT_HEADER_BYTES);
    rig.replace();
    let (journal, _) = rig.current.as_ref().expect("a journal is open");
    let batch: Vec<Entry> = (0..BATCH as u64).map(entry).collect();
    let count = if what == "append_batch" {
        2_000
    } else {
        200_000
    };
    // Untimed warm-up: the first append of a thread (or a handle) fills its segment cache.
    append_loop(journal, 0, 1);
    let mut appender = journal.appender();
    appender_run(&mut appender, 1, 1);
    profile_loop(journal, &mut appender, &batch, what, count);
    println!("{what}: {count} calls");
}

#[inline(never)]
fn profile_loop(
    journal: &Journal,
    appender: &mut Appender<&Journal>,
    batch: &[Entry],
    what: &str,
    count: u64,
) {
    if what == "append_one" {
        append_loop(journal, 2, count);
    } else if what == "appender_one" {
        appender_run(appender, 2, count);
    } else {
        for _ in 0..count {
            black_box(
                journal
                    .append_batch(black_box(batch))
                    .expect("append_batch"),
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_append_one, bench_append_batch
}

fn main() {
    if let Ok(what) = std::env::var("CPJ_PROFILE") {
        profile(&what);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
