//! Helpers shared by the bench files: scratch directories, file mappings built the way
//! segments are built (fallocate, then a shared read-write mapping), and the default
//! criterion settings.
//!
//! Every bench group measures its physical reference (memcpy, plain stores, a sequential
//! read, the `crc32c` crate) in the same run, with the same throughput unit, so results are
//! read as ratios: the machine is shared and absolute numbers drift between runs.
//!
//! The clock is wall time by default. With `CPJ_BENCH_CLOCK=thread-cpu` every bench
//! measures the benchmarking thread's CPU time instead (`CLOCK_THREAD_CPUTIME_ID`, user
//! and system, page faults included): on a machine shared with other work it leaves out
//! the time the thread waited for a core, and also any time it slept (a roll-over
//! waiting for the preallocator, an msync).
#![expect(
    unsafe_code,
    reason = "maps a scratch file, as storage/mmap.rs does for segments, and reads the \
              thread CPU clock through libc"
)]
#![allow(dead_code, reason = "each bench file uses a subset of these helpers")]

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::Criterion;
use memmap2::{Advice, MmapMut, MmapOptions};

/// Bytes of one single-entry frame: a 16-byte header and one 24-byte entry.
pub(crate) const FRAME_ONE_BYTES: u64 = 40;
/// Words of one single-entry frame.
pub(crate) const FRAME_ONE_WORDS: usize = 5;
/// Publication word of a one-entry frame: `len` 24, kind 1 (entries).
const WORD0_ONE: u64 = 0x18 | 0x1 << 32;
/// First word of a push entry from source 7.
const ENTRY_HEAD: u64 = 0x7 | 0x1 << 16;
/// Bytes in a MiB.
pub(crate) const MIB: u64 = 1024 * 1024;

/// `CLOCK_MONOTONIC` (Linux).
const CLOCK_MONOTONIC: i32 = 1;
/// `CLOCK_THREAD_CPUTIME_ID` (Linux).
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

/// `struct timespec` on 64-bit Linux.
#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock_id: i32, tp: *mut Timespec) -> i32;
}

/// The clock every bench measures with: wall time, or the thread's CPU time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    id: i32,
}

impl Clock {
    /// The clock `CPJ_BENCH_CLOCK` names (`thread-cpu`), wall time otherwise.
    pub(crate) fn from_env() -> Clock {
        let thread_cpu = std::env::var("CPJ_BENCH_CLOCK").is_ok_and(|v| v == "thread-cpu");
        Clock {
            id: if thread_cpu {
                CLOCK_THREAD_CPUTIME_ID
            } else {
                CLOCK_MONOTONIC
            },
        }
    }

    /// The clock's reading now.
    pub(crate) fn now(self) -> Duration {
        let mut tp = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: 1. `tp` is a valid, exclusive pointer to a `struct timespec` laid out as
        // on 64-bit Linux; 2. both clock ids are defined on every Linux since 2.6.12, and
        // on an error the zeroed `tp` is read back, which is still a valid value.
        let rc = unsafe { clock_gettime(self.id, &raw mut tp) };
        debug_assert_eq!(rc, 0, "clock_gettime");
        Duration::new(
            u64::try_from(tp.tv_sec).unwrap_or(0),
            u32::try_from(tp.tv_nsec).unwrap_or(0),
        )
    }

    /// Time on this clock since `start` (a reading of the same clock).
    pub(crate) fn since(self, start: Duration) -> Duration {
        self.now().saturating_sub(start)
    }
}

/// The clock chosen for this process (read from the environment once).
pub(crate) fn clock() -> Clock {
    static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
    *CLOCK.get_or_init(Clock::from_env)
}

/// The formatter of criterion's wall-time measurement: both clocks report durations.
static WALL_TIME: WallTime = WallTime;

impl Measurement for Clock {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        self.now()
    }
    fn end(&self, start: Duration) -> Duration {
        self.since(start)
    }
    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_secs_f64() * 1e9
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}

/// Small samples and short windows: the whole `cargo bench` stays within a few minutes.
/// Command-line flags (`--sample-size`, `--measurement-time`) still override these.
#[must_use]
pub(crate) fn config() -> Criterion<Clock> {
    Criterion::default()
        .with_measurement(clock())
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// A fresh scratch directory under the system temp dir, removed on drop.
#[must_use]
pub(crate) fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cpj-bench-")
        .tempdir()
        .expect("create a scratch directory under the temp dir")
}

/// How a scratch mapping is prefaulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefault {
    /// Not at all: every first access faults.
    None,
    /// `MAP_POPULATE`, as `storage/mmap.rs` maps a new segment. On a shared file mapping
    /// this maps the pages read-only (clean); the first write to each page still faults.
    MapPopulate,
    /// `madvise(MADV_POPULATE_WRITE)`: page tables populated writable (Linux 5.14+).
    PopulateWrite,
}

/// A new scratch file `name` in `dir` of `len` bytes, mode 0600, its blocks allocated
/// with `fallocate` (as a segment's are).
///
/// # Panics
/// On any I/O error (a bench cannot continue without its scratch file).
#[must_use]
pub(crate) fn fallocated_file(dir: &Path, name: &str, len: u64) -> std::fs::File {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(name))
        .expect("create a scratch file");
    let len_i64 = i64::try_from(len).expect("scratch length fits off_t");
    nix::fcntl::fallocate(&file, nix::fcntl::FallocateFlags::empty(), 0, len_i64)
        .expect("fallocate a scratch file");
    file
}

/// Creates `dir/name` (0600), allocates `len` bytes with fallocate and maps it shared
/// and read-write, prefaulted as `prefault` says: the steps of segment creation, without
/// the header.
///
/// # Panics
/// On any I/O error (a bench cannot continue without its scratch file).
#[must_use]
pub(crate) fn segment_like(dir: &Path, name: &str, len: u64, prefault: Prefault) -> MmapMut {
    let file = fallocated_file(dir, name, len);
    let mut options = MmapOptions::new();
    options.len(usize::try_from(len).expect("scratch length fits usize"));
    if prefault == Prefault::MapPopulate {
        options.populate();
    }
    // SAFETY: 1. the file was just created by this process with `create_new` in a private
    // scratch directory, so no other process maps or truncates it; 2. it was allocated to
    // `len` bytes above and is never truncated while mapped; 3. the mapping owns its
    // pages for its own lifetime (memmap2 keeps the mapping valid after the file handle
    // is dropped).
    let map = unsafe { options.map_mut(&file) }.expect("map a scratch file");
    if prefault == Prefault::PopulateWrite {
        map.advise(Advice::PopulateWrite)
            .expect("madvise(MADV_POPULATE_WRITE)");
    }
    map
}

/// The mapping as 64-bit words (mappings are page-aligned).
#[must_use]
pub(crate) fn words_mut(map: &mut MmapMut) -> &mut [u64] {
    bytemuck::cast_slice_mut(&mut map[..])
}

/// Writes single-entry frames (two header words, three entry words) with plain stores,
/// starting at word `at` and wrapping at the end of `words`; returns the next position.
/// The physical floor of a one-entry append: the same bytes, no checksum, no atomics.
#[inline]
pub(crate) fn store_frames(words: &mut [u64], mut at: usize, count: u64, seed: u64) -> usize {
    let wrap = words.len() - words.len() % FRAME_ONE_WORDS;
    for i in 0..count {
        if at == wrap {
            at = 0;
        }
        let seq = seed.wrapping_add(i);
        if let Some(frame) = words.get_mut(at..at + FRAME_ONE_WORDS) {
            frame.copy_from_slice(&[WORD0_ONE, seq ^ 0x5bd1_e995, ENTRY_HEAD, seq, seq]);
        }
        at += FRAME_ONE_WORDS;
    }
    at
}
