//! One run: the references, then every workload on every log, interleaved (each
//! workload runs on all logs before the next starts, so load drifts hit them alike).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::physical;
use crate::record::{Records, REFERENCE};
use crate::stats::percentile;
use crate::workload::{Peer, Result, SyncOp, ASYNC_BATCH_LEN, BATCH_LEN};

/// Writer-thread counts of the group-commit workload.
pub(crate) const THREADS: [usize; 5] = [1, 2, 4, 8, 16];

/// Sizes of the workloads.
#[derive(Clone, Debug)]
pub(crate) struct Sizes {
    /// Single appends in the async workload.
    pub(crate) async_count: u64,
    /// Batches of 1024 in the async batch workload.
    pub(crate) async_batches: u64,
    /// Appends in the `Sync` append-each workload (and msync/fdatasync samples).
    pub(crate) sync_count: u64,
    /// Batches of 1000 in the `Sync` batch workload.
    pub(crate) sync_batches: u64,
    /// Window of each group-commit configuration.
    pub(crate) group_window: Duration,
    /// Entries in the replay data set.
    pub(crate) replay_entries: u64,
}

/// Scratch space of one run; every workload gets a fresh directory, removed after.
#[derive(Debug)]
pub(crate) struct Scratch {
    /// Root of the scratch directories.
    pub(crate) root: PathBuf,
    next: u64,
    fresh: Vec<PathBuf>,
}

impl Scratch {
    /// Scratch directories under `root`.
    #[must_use]
    pub(crate) fn new(root: PathBuf) -> Scratch {
        Scratch {
            root,
            next: 0,
            fresh: Vec::new(),
        }
    }

    /// Runs `f` in a fresh empty directory and removes it afterwards.
    ///
    /// # Errors
    /// `f`'s error, or I/O errors creating the directory.
    pub(crate) fn with_dir<T>(&mut self, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        self.next += 1;
        let dir = self.root.join(format!("w{}", self.next));
        std::fs::create_dir_all(&dir)?;
        let result = f(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    /// A fresh empty directory, kept until [`Scratch::remove_fresh_dirs`].
    ///
    /// # Errors
    /// I/O errors creating it.
    pub(crate) fn fresh_dir(&mut self) -> Result<PathBuf> {
        self.next += 1;
        let dir = self.root.join(format!("f{}", self.next));
        std::fs::create_dir_all(&dir)?;
        self.fresh.push(dir.clone());
        Ok(dir)
    }

    /// Removes the directories of [`Scratch::fresh_dir`].
    pub(crate) fn remove_fresh_dirs(&mut self) {
        for dir in self.fresh.drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// The replay data set of `peer`.
    #[must_use]
    pub(crate) fn dataset(&self, peer: &str) -> PathBuf {
        self.root.join(format!("dataset-{peer}"))
    }
}

/// Throughput in items per second.
fn per_second(items: u64, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn micros(d: Option<Duration>) -> f64 {
    d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

/// The memcpy reference of run `run` (the sync references run inside [`sync_each`]).
pub(crate) fn references(run: usize, out: &mut Records) {
    let memcpy = physical::memcpy_bytes_per_second();
    out.push(run, REFERENCE, "memcpy_24k_blocks", "GB/s", memcpy / 1e9);
}

/// The single-thread append workloads of run `run` on every log.
///
/// # Errors
/// The first error of any log.
pub(crate) fn appends(
    run: usize,
    sizes: &Sizes,
    peers: &[&dyn Peer],
    scratch: &mut Scratch,
    out: &mut Records,
) -> Result<()> {
    for peer in peers {
        let elapsed = scratch.with_dir(|dir| peer.async_append(dir, sizes.async_count))?;
        out.push(
            run,
            peer.name(),
            "async_append",
            "entries/s",
            per_second(sizes.async_count, elapsed),
        );
    }
    for peer in peers {
        if let Some(elapsed) = scratch.with_dir(|dir| peer.async_batch(dir, sizes.async_batches))? {
            let entries = sizes.async_batches * ASYNC_BATCH_LEN as u64;
            let rate = per_second(entries, elapsed);
            out.push(run, peer.name(), "async_batch_1024", "entries/s", rate);
            out.push(
                run,
                peer.name(),
                "async_batch_1024",
                "GB/s",
                rate * 24.0 / 1e9,
            );
        }
    }
    for peer in peers {
        let mut latencies = scratch.with_dir(|dir| peer.sync_batch(dir, sizes.sync_batches))?;
        let total: Duration = latencies.iter().sum();
        let workload = sync_name("sync_batch_1000", peer.sync_is_durable());
        let rate = per_second(sizes.sync_batches * BATCH_LEN as u64, total);
        out.push(run, peer.name(), &workload, "entries/s", rate);
        out.push(
            run,
            peer.name(),
            &workload,
            "p50 µs",
            micros(percentile(&mut latencies, 0.5)),
        );
    }
    Ok(())
}

/// Single durable appends, one at a time on each log and each reference sync in turn
/// (the order rotating every round), so all see the same disk.
///
/// # Errors
/// The first error of any log or reference.
pub(crate) fn sync_each(
    run: usize,
    sizes: &Sizes,
    peers: &[&dyn Peer],
    scratch: &mut Scratch,
    out: &mut Records,
) -> Result<()> {
    let mut ops: Vec<(&'static str, String, SyncOp)> = Vec::new();
    for (workload, written) in [("msync_4k", true), ("msync_4k_unwritten_extent", false)] {
        let op = physical::msync_4k(&scratch.fresh_dir()?, written)?;
        ops.push((REFERENCE, workload.to_owned(), op));
    }
    ops.push((
        REFERENCE,
        "fdatasync_24b".to_owned(),
        physical::fdatasync(&scratch.fresh_dir()?)?,
    ));
    for peer in peers {
        let workload = sync_name("sync_each", peer.sync_is_durable());
        ops.push((
            peer.name(),
            workload,
            peer.sync_appender(&scratch.fresh_dir()?)?,
        ));
    }
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); ops.len()];
    for i in 0..sizes.sync_count {
        for k in 0..ops.len() {
            let at = (k + usize::try_from(i)?) % ops.len();
            let start = Instant::now();
            (ops[at].2)(i)?;
            latencies[at].push(start.elapsed());
        }
    }
    for ((peer, workload, op), mut samples) in ops.into_iter().zip(latencies) {
        drop(op);
        out.push(
            run,
            peer,
            &workload,
            "p50 µs",
            micros(percentile(&mut samples, 0.5)),
        );
        out.push(
            run,
            peer,
            &workload,
            "p99 µs",
            micros(percentile(&mut samples, 0.99)),
        );
    }
    scratch.remove_fresh_dirs();
    Ok(())
}

/// Workload name, marked when the log's sync is not durable.
fn sync_name(workload: &str, durable: bool) -> String {
    if durable {
        workload.to_owned()
    } else {
        format!("{workload} (not durable)")
    }
}

/// Group commit with 1–16 writer threads on every log that can be shared.
///
/// # Errors
/// The first error of any log.
pub(crate) fn group_commit(
    run: usize,
    sizes: &Sizes,
    peers: &[&dyn Peer],
    scratch: &mut Scratch,
    out: &mut Records,
) -> Result<()> {
    for threads in THREADS {
        let workload = format!("group_commit_{threads}");
        for peer in peers {
            let window = sizes.group_window;
            let Some(mut latencies) =
                scratch.with_dir(|dir| peer.group_commit(dir, threads, window))?
            else {
                continue;
            };
            let rate = per_second(latencies.len() as u64, window);
            out.push(run, peer.name(), &workload, "acked appends/s", rate);
            out.push(
                run,
                peer.name(),
                &workload,
                "p50 µs",
                micros(percentile(&mut latencies, 0.5)),
            );
            out.push(
                run,
                peer.name(),
                &workload,
                "p99 µs",
                micros(percentile(&mut latencies, 0.99)),
            );
        }
    }
    Ok(())
}

/// Replay of each log's data set (open, then read every entry), warm and then after
/// evicting its pages; the open and the read are also reported apart.
///
/// # Errors
/// The first error of any log, or a replay that did not return every entry.
pub(crate) fn replay(
    run: usize,
    sizes: &Sizes,
    peers: &[&dyn Peer],
    scratch: &Scratch,
    out: &mut Records,
) -> Result<()> {
    for (suffix, cold) in [("warm", false), ("cold_fadvise", true)] {
        for peer in peers {
            let dir = scratch.dataset(peer.name());
            if cold {
                physical::evict_page_cache(&dir)?;
            }
            let replay = peer.replay(&dir)?;
            if replay.entries != sizes.replay_entries {
                let (name, entries) = (peer.name(), replay.entries);
                let expected = sizes.replay_entries;
                return Err(format!("{name} replayed {entries} of {expected} entries").into());
            }
            let name = peer.name();
            let rate = per_second(replay.entries, replay.total);
            out.push(run, name, &format!("replay_{suffix}"), "entries/s", rate);
            out.push(
                run,
                name,
                &format!("open_{suffix}"),
                "ms",
                replay.opened.as_secs_f64() * 1e3,
            );
            if let Some(reading) = replay
                .total
                .checked_sub(replay.opened)
                .filter(|d| !d.is_zero())
            {
                let read = per_second(replay.entries, reading);
                out.push(
                    run,
                    name,
                    &format!("read_after_open_{suffix}"),
                    "entries/s",
                    read,
                );
            }
        }
    }
    Ok(())
}
