//! One run: the references, then every workload on every log, interleaved (each
//! workload runs on all logs before the next starts, so load drifts hit them alike).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::physical;
use crate::record::{Records, REFERENCE};
use crate::stats::percentile;
use crate::workload::{concurrent_latencies, AppendOp, Peer, Result, SharedLog, ASYNC_BATCH_LEN};

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

/// Scratch space of one run; every log of every workload gets a fresh directory,
/// removed after the workload.
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

/// Rounds of the async workloads: each round runs a slice of every log's appends (and
/// of the memcpy reference) in turn, so load that drifts during the run hits them alike.
const ASYNC_ROUNDS: u64 = 20;

/// Times `per_round` calls of each operation per round, over `ASYNC_ROUNDS` rounds after
/// one untimed round, the order rotating every round; returns, for each operation, the
/// time of each of its rounds.
fn interleaved(ops: &mut [AppendOp], per_round: u64) -> Result<Vec<Vec<Duration>>> {
    // One untimed round first: the first writes into a new log's files cost a page
    // fault per page (see docs/PERFORMANCE.md), which is not append throughput.
    for op in ops.iter_mut() {
        for j in 0..per_round {
            op(j)?;
        }
    }
    let mut rounds = vec![Vec::new(); ops.len()];
    for round in 1..=ASYNC_ROUNDS {
        for k in 0..ops.len() {
            let at = (k + usize::try_from(round)?) % ops.len();
            let op = &mut ops[at];
            let start = Instant::now();
            for j in 0..per_round {
                op(round * per_round + j)?;
            }
            rounds[at].push(start.elapsed());
        }
    }
    Ok(rounds)
}

/// The median round time times `ASYNC_ROUNDS`: a round in which the thread lost its core
/// to another process counts no more than any other.
fn median_total(rounds: &[Duration]) -> Result<Duration> {
    let mut sorted = rounds.to_vec();
    Ok(percentile(&mut sorted, 0.5).unwrap_or_default() * u32::try_from(ASYNC_ROUNDS)?)
}

/// The median over rounds of `reference / log` round times for the same bytes: the
/// fraction of the reference's speed, each round's pair measured within one round.
fn median_round_ratio(reference: &[Duration], log: &[Duration]) -> f64 {
    let mut ratios: Vec<f64> = reference
        .iter()
        .zip(log)
        .map(|(r, l)| r.as_secs_f64() / l.as_secs_f64().max(1e-12))
        .collect();
    ratios.sort_unstable_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The async workloads of run `run`: single appends on every log, interleaved; then
/// batches of 1 024 on every log that has them, interleaved with memcpy of the same
/// bytes.
///
/// # Errors
/// The first error of any log.
pub(crate) fn async_appends(
    run: usize,
    sizes: &Sizes,
    peers: &[&dyn Peer],
    scratch: &mut Scratch,
    out: &mut Records,
) -> Result<()> {
    for batch_len in [1, ASYNC_BATCH_LEN] {
        let (workload, calls) = if batch_len == 1 {
            ("async_append", sizes.async_count)
        } else {
            ("async_batch_1024", sizes.async_batches)
        };
        let mut names: Vec<&'static str> = Vec::new();
        let mut ops: Vec<AppendOp> = Vec::new();
        if batch_len > 1 {
            names.push(REFERENCE);
            ops.push(physical::memcpy_block());
        }
        for peer in peers {
            if let Some(op) = peer.async_appender(&scratch.fresh_dir()?, batch_len)? {
                names.push(peer.name());
                ops.push(op);
            }
        }
        let per_round = (calls / ASYNC_ROUNDS).max(1);
        let rounds = interleaved(&mut ops, per_round)?;
        drop(ops);
        scratch.remove_fresh_dirs();
        let entries = per_round * ASYNC_ROUNDS * batch_len as u64;
        for (name, log_rounds) in names.iter().zip(&rounds) {
            let rate = per_second(entries, median_total(log_rounds)?);
            if *name == REFERENCE {
                out.push(run, name, "memcpy_24k_blocks", "GB/s", rate * 24.0 / 1e9);
                continue;
            }
            out.push(run, name, workload, "entries/s", rate);
            if batch_len > 1 {
                out.push(run, name, workload, "GB/s", rate * 24.0 / 1e9);
                // The memcpy reference is the first operation.
                let ratio = median_round_ratio(&rounds[0], log_rounds);
                out.push(run, name, workload, "fraction of memcpy", ratio);
            }
        }
    }
    Ok(())
}

/// Durable appends of `batch_len` entries, one at a time on each log (and, for single
/// entries, each reference sync) in turn, the order rotating every round, so all see
/// the same disk.
///
/// # Errors
/// The first error of any log or reference.
pub(crate) fn sync_appends(
    run: usize,
    (calls, batch_len): (u64, usize),
    peers: &[&dyn Peer],
    scratch: &mut Scratch,
    out: &mut Records,
) -> Result<()> {
    let mut ops: Vec<(&'static str, String, AppendOp)> = Vec::new();
    let references = if batch_len == 1 {
        [("msync_4k", true), ("msync_4k_unwritten_extent", false)].as_slice()
    } else {
        [].as_slice()
    };
    for &(workload, written) in references {
        let op = physical::msync_4k(&scratch.fresh_dir()?, written)?;
        ops.push((REFERENCE, workload.to_owned(), op));
    }
    if batch_len == 1 {
        let op = physical::fdatasync(&scratch.fresh_dir()?)?;
        ops.push((REFERENCE, "fdatasync_24b".to_owned(), op));
    }
    let name = if batch_len == 1 {
        "sync_each"
    } else {
        "sync_batch_1000"
    };
    for peer in peers {
        let workload = sync_name(name, peer.sync_is_durable());
        let op = peer.sync_appender(&scratch.fresh_dir()?, batch_len)?;
        ops.push((peer.name(), workload, op));
    }
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); ops.len()];
    for i in 0..calls {
        for k in 0..ops.len() {
            let at = (k + usize::try_from(i)?) % ops.len();
            let start = Instant::now();
            (ops[at].2)(i)?;
            latencies[at].push(start.elapsed());
        }
    }
    for ((peer, workload, op), mut samples) in ops.into_iter().zip(latencies) {
        drop(op);
        if batch_len > 1 {
            let total: Duration = samples.iter().sum();
            let rate = per_second(calls * batch_len as u64, total);
            out.push(run, peer, &workload, "entries/s", rate);
        }
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

/// Slices of each group-commit window: every log runs one slice in turn, the order
/// rotating, so load that drifts during the window hits them alike.
const GROUP_SLICES: u32 = 4;

/// One log's group-commit figures, summed over slices.
struct GroupTally {
    name: &'static str,
    log: SharedLog,
    next: Vec<u64>,
    latencies: Vec<Duration>,
    syncs: u64,
}

/// Group commit with 1–16 writer threads on every log that can be shared, each log's
/// window split into slices interleaved with the other logs' slices.
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
    let slice = sizes.group_window / GROUP_SLICES;
    for threads in THREADS {
        let mut tallies = Vec::new();
        for peer in peers {
            if let Some(log) = peer.group_appender(&scratch.fresh_dir()?)? {
                let (name, next) = (peer.name(), vec![0; threads]);
                let (latencies, syncs) = (Vec::new(), 0);
                tallies.push(GroupTally {
                    name,
                    log,
                    next,
                    latencies,
                    syncs,
                });
            }
        }
        for round in 0..GROUP_SLICES as usize {
            let count = tallies.len();
            for k in 0..count {
                let tally = &mut tallies[(k + round) % count];
                let before = tally.log.syncs.as_ref().map_or(0, |s| s());
                let append = &tally.log.append;
                let (latencies, counts) = concurrent_latencies(slice, &tally.next, append)?;
                tally.syncs += tally.log.syncs.as_ref().map_or(0, |s| s()) - before;
                tally.latencies.extend(latencies);
                tally.next.iter_mut().zip(counts).for_each(|(n, c)| *n += c);
            }
        }
        let workload = format!("group_commit_{threads}");
        for tally in tallies {
            record_group(run, &workload, sizes.group_window, tally, out);
        }
        scratch.remove_fresh_dirs();
    }
    Ok(())
}

fn record_group(
    run: usize,
    workload: &str,
    window: Duration,
    tally: GroupTally,
    out: &mut Records,
) {
    let GroupTally {
        name,
        log,
        mut latencies,
        syncs,
        ..
    } = tally;
    drop(log);
    if syncs > 0 {
        out.push(
            run,
            name,
            workload,
            "appends per sync",
            latencies.len() as f64 / syncs as f64,
        );
    }
    out.push(
        run,
        name,
        workload,
        "acked appends/s",
        per_second(latencies.len() as u64, window),
    );
    out.push(
        run,
        name,
        workload,
        "p50 µs",
        micros(percentile(&mut latencies, 0.5)),
    );
    out.push(
        run,
        name,
        workload,
        "p99 µs",
        micros(percentile(&mut latencies, 0.99)),
    );
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
