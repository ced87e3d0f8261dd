//! `Async` appends from one thread against two threads sharing one journal: the same
//! total work (criterion's iteration count is the total number of appends, split evenly
//! between the threads), so the throughput figures compare directly.
//!
//! Group `multi_producer_async` (throughput: appends, all threads together):
//! - `journal_1g/{1,2}`: single-entry `append`s into one journal with one 1 GiB segment,
//!   replaced (untimed) before it fills, so no timed stretch rolls over;
//! - `ref_private_stores/{1,2}`: each thread writes 40-byte frames with plain stores into
//!   its own prefaulted buffer: nothing shared, the scaling the two cores allow now;
//! - `ref_shared_tail/{1,2}`: each frame's place comes from a `fetch_add` on one shared
//!   cache-padded counter and is written with five atomic stores into one shared buffer:
//!   the journal's reservation and its interleaved frames, without the rest of an append.
//!
//! The threads are spawned and joined inside every timed stretch, in both
//! configurations. `2 threads / 1 thread` of each pair is the scaling figure; the
//! private-stores pair is its same-run ceiling, which on a machine shared with other
//! work shows how much of the second core the run actually got.
//!
//! With `CPJ_BENCH_CLOCK=thread-cpu` a stretch counts the sum of the worker threads' CPU
//! time, so a bench reports CPU time per append over all threads: `1 thread / 2 threads`
//! of that is the throughput ratio two otherwise idle cores would give, and it falls
//! below 1 by what the shared tail line and the interleaved frames cost.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::Duration;

use checkpoint_journal::{Entry, Journal, Options};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_utils::CachePadded;

use common::{Clock, FRAME_ONE_BYTES, FRAME_ONE_WORDS, MIB};

/// One segment large enough that a timed stretch never rolls over.
const SEGMENT_BYTES: u64 = 1024 * MIB;
/// Segment header bytes (not part of the data area).
const SEGMENT_HEADER_BYTES: u64 = 4096;
/// Frames one journal takes before it is replaced (one in-flight frame per thread of
/// slack, so the last reservation of a stretch still fits).
const JOURNAL_FRAMES: u64 = (SEGMENT_BYTES - SEGMENT_HEADER_BYTES) / FRAME_ONE_BYTES - 4;
/// Words of each reference buffer.
const BUFFER_WORDS: usize = 8 * 1024 * 1024;
/// Thread counts compared.
const THREADS: [usize; 2] = [1, 2];

/// A journal that is replaced, untimed, before it outgrows its segment.
struct Rig {
    current: Option<(Journal, tempfile::TempDir)>,
    left: u64,
}

impl Rig {
    fn new() -> Rig {
        let mut rig = Rig {
            current: None,
            left: 0,
        };
        rig.replace();
        rig
    }

    fn replace(&mut self) {
        if let Some((journal, dir)) = self.current.take() {
            // Nothing is made durable: the files are deleted right after.
            journal.close_without_flush();
            drop(dir);
        }
        let dir = common::scratch_dir();
        let options = Options::default()
            .segment_size_bytes(SEGMENT_BYTES)
            .preallocate(false);
        let journal = Journal::open(dir.path(), options).expect("open a journal");
        self.current = Some((journal, dir));
        self.left = JOURNAL_FRAMES;
    }

    /// Times `iters` appends split over `threads`, in stretches that fit the journal.
    fn run(&mut self, iters: u64, threads: usize) -> Duration {
        let mut total = Duration::ZERO;
        let mut done = 0;
        while done < iters {
            if self.left == 0 {
                self.replace();
            }
            let count = (iters - done).min(self.left);
            let (journal, _) = self.current.as_ref().expect("a journal is open");
            total += split(count, threads, |_, first, n| append_loop(journal, first, n));
            self.left -= count;
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

/// A shared frame buffer and the counter that hands out its places.
struct SharedTail {
    tail: CachePadded<AtomicU64>,
    words: Vec<AtomicU64>,
}

fn entry(i: u64) -> Entry {
    Entry::push(black_box(7), i, i.cast_signed())
}

fn append_loop(journal: &Journal, first: u64, count: u64) {
    for i in first..first + count {
        black_box(journal.append(entry(i)).expect("append"));
    }
}

/// Runs `body(thread, first, count)` on `threads` scoped threads, `iters` split evenly,
/// all released together. Returns the wall time from the release to the last join; with
/// `CPJ_BENCH_CLOCK=thread-cpu`, the sum of the threads' own CPU time instead.
fn split(iters: u64, threads: usize, body: impl Fn(usize, u64, u64) + Sync) -> Duration {
    let start = Barrier::new(threads + 1);
    let threads_u64 = threads as u64;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let t_u64 = t as u64;
                let count = iters / threads_u64 + u64::from(t_u64 < iters % threads_u64);
                let first = t_u64 * (iters / threads_u64 + 1);
                let (start, body) = (&start, &body);
                s.spawn(move || {
                    start.wait();
                    let started = common::clock().now();
                    body(t, first, count);
                    common::clock().since(started)
                })
            })
            .collect();
        start.wait();
        let started = common::clock().now();
        let own: Duration = handles
            .into_iter()
            .map(|h| h.join().expect("a worker thread"))
            .sum();
        if thread_cpu_clock() {
            own
        } else {
            common::clock().since(started)
        }
    })
}

/// Whether the bench clock is the thread CPU clock (`CPJ_BENCH_CLOCK=thread-cpu`).
fn thread_cpu_clock() -> bool {
    std::env::var("CPJ_BENCH_CLOCK").is_ok_and(|v| v == "thread-cpu")
}

/// Writes `count` single-entry frames at places taken from the shared counter.
fn shared_tail_loop(shared: &SharedTail, first: u64, count: u64) {
    let wrap = (shared.words.len() - shared.words.len() % FRAME_ONE_WORDS) as u64;
    for i in first..first + count {
        let place = shared
            .tail
            .fetch_add(FRAME_ONE_WORDS as u64, Ordering::Relaxed)
            % wrap;
        let at = usize::try_from(place).expect("a word index");
        if let Some(frame) = shared.words.get(at..at + FRAME_ONE_WORDS) {
            for (word, value) in frame.iter().zip([0x18, i ^ 0x5bd1_e995, 0x7, i, i]) {
                word.store(value, Ordering::Relaxed);
            }
        }
    }
}

fn bench_multi_producer(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("multi_producer_async");
    group.throughput(Throughput::Elements(1));

    let mut rig = Rig::new();
    for threads in THREADS {
        group.bench_with_input(
            BenchmarkId::new("journal_1g", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| rig.run(iters, t));
            },
        );
    }
    drop(rig);

    // One private buffer per thread, written once so every page is dirty and mapped.
    let mut buffers: Vec<std::sync::Mutex<Vec<u64>>> = (0..THREADS.len())
        .map(|_| std::sync::Mutex::new(vec![1u64; BUFFER_WORDS / 2]))
        .collect();
    for threads in THREADS {
        let buffers = &mut buffers;
        group.bench_with_input(
            BenchmarkId::new("ref_private_stores", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    split(iters, t, |thread, first, n| {
                        let Some(buffer) = buffers.get(thread) else {
                            return;
                        };
                        let mut words = buffer.lock().expect("a buffer of this thread alone");
                        black_box(common::store_frames(&mut words, 0, n, first));
                    })
                });
            },
        );
    }
    drop(buffers);

    let shared = SharedTail {
        tail: CachePadded::new(AtomicU64::new(0)),
        words: (0..BUFFER_WORDS).map(|_| AtomicU64::new(1)).collect(),
    };
    for threads in THREADS {
        group.bench_with_input(
            BenchmarkId::new("ref_shared_tail", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    split(iters, t, |_, first, n| shared_tail_loop(&shared, first, n))
                });
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_multi_producer
}
criterion_main!(benches);
