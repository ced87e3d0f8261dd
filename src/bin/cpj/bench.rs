//! `cpj bench`: quick figures for the library on the user's own disk, each printed
//! beside a baseline measured in the same run — memcpy bandwidth for the memory-speed
//! paths (async append, batch append, replay), one bare `fdatasync` for a Sync append —
//! so the ratios say how close the journal gets to what the machine can do.

use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use checkpoint_journal::format::limits::SEGMENT_SIZE_DEFAULT_BYTES;
use checkpoint_journal::{Durability, Entry, Journal, Options};

use crate::output::{bytes, duration, per_sec, si, CliError, CmdResult, Out, Status, Table};

const EXAMPLES: &str = "\
Examples:
  cpj bench                  in a temporary subdirectory of the current directory
  cpj bench --dir /mnt/ssd   on another filesystem
  cpj bench --json

Writes about 150 MB into a new subdirectory of DIR and removes it afterwards.
The figures are quick single runs; docs/PERFORMANCE.md has the careful ones.";

const MEMCPY_BYTES: usize = 64 << 20;
const BATCH_ENTRIES: usize = 1024;
const SYNC_SAMPLES: usize = 30;

/// Quick figures on this disk, each beside a baseline from the same run.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// Run in a new subdirectory of this directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Single-entry appends to time; batch append and replay use twice as many entries.
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1024..))]
    appends: u64,
    /// Size of each segment file, header included (a multiple of 4096, 64 KiB to 1 GiB).
    #[arg(long, value_name = "BYTES", default_value_t = SEGMENT_SIZE_DEFAULT_BYTES)]
    segment_size: u64,
}

/// A rate beside memcpy bandwidth.
#[derive(Debug, Serialize)]
struct Rate {
    per_sec: f64,
    bytes_per_sec: f64,
    vs_memcpy: f64,
}

#[derive(Debug, Serialize)]
struct BenchJson {
    schema: &'static str,
    dir: String,
    memcpy_bytes_per_sec: f64,
    fdatasync_seconds: f64,
    async_append: Rate,
    batch_append: Rate,
    batch_entries: usize,
    batch_bytes: u64,
    replay: Rate,
    sync_append_seconds: f64,
    sync_vs_fdatasync: f64,
}

/// The bench's working directory, removed on drop.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    let base = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let work = WorkDir(base.join(format!(".cpj-bench-{}", std::process::id())));
    std::fs::create_dir_all(&work.0).map_err(|e| {
        CliError::io(
            format!("cannot create {}", work.0.display()),
            &e,
            "pass --dir with a writable directory",
        )
    })?;
    if !out.json {
        out.line(format!("cpj bench in {} (a few seconds)", work.0.display()))?;
        out.flush()?;
    }
    let memcpy = memcpy_bytes_per_sec();
    let fsync = fdatasync_median(&work.0)
        .map_err(|e| CliError::io("fdatasync baseline failed", &e, "check the disk"))?;
    let lib = |e: checkpoint_journal::Error| CliError::lib(&e);
    let options = Options::default().segment_size_bytes(args.segment_size);
    let async_rate = async_append(&work.0.join("async"), &options, args.appends, memcpy);
    let batches = (2 * args.appends).div_ceil(BATCH_ENTRIES as u64);
    let batch = batch_and_replay(&work.0.join("batch"), &options, batches, memcpy);
    let sync = sync_append_median(&work.0.join("sync"), &options);
    let (async_rate, (batch_rate, replay_rate, batch_bytes), sync) = (
        async_rate.map_err(lib)?,
        batch.map_err(lib)?,
        sync.map_err(lib)?,
    );
    let json = BenchJson {
        schema: "cpj.bench.v1",
        dir: work.0.display().to_string(),
        memcpy_bytes_per_sec: memcpy,
        fdatasync_seconds: fsync.as_secs_f64(),
        async_append: async_rate,
        batch_append: batch_rate,
        batch_entries: BATCH_ENTRIES,
        batch_bytes,
        replay: replay_rate,
        sync_append_seconds: sync.as_secs_f64(),
        sync_vs_fdatasync: sync.as_secs_f64() / fsync.as_secs_f64().max(1e-9),
    };
    if out.json {
        out.json_line(&json)?;
    } else {
        print_human(out, &json, fsync, sync)?;
    }
    Ok(Status::Clean)
}

fn print_human(
    out: &mut Out,
    j: &BenchJson,
    fsync: Duration,
    sync: Duration,
) -> Result<(), CliError> {
    let mut t = Table::new(
        &["WHAT", "RESULT", "BYTES/S", "VS BASELINE"],
        &[false, true, true, false],
    );
    let rate = |r: &Rate, unit: &str| {
        vec![
            si(r.per_sec, unit),
            si(r.bytes_per_sec, "B/s"),
            format!("{:.3} x memcpy", r.vs_memcpy),
        ]
    };
    let mut add = |what: &str, cells: Vec<String>| {
        let mut row = vec![what.to_owned()];
        row.extend(cells);
        t.row(row);
    };
    add(
        "memcpy (baseline)",
        vec![
            String::new(),
            si(j.memcpy_bytes_per_sec, "B/s"),
            String::new(),
        ],
    );
    add(
        "fdatasync, 4 KiB (baseline)",
        vec![duration(fsync), String::new(), String::new()],
    );
    add("async append, 1 entry", rate(&j.async_append, "appends/s"));
    add(
        &format!("batch append, {BATCH_ENTRIES} entries"),
        rate(&j.batch_append, "entries/s"),
    );
    add("replay on open", rate(&j.replay, "entries/s"));
    add(
        "Sync append, 1 entry",
        vec![
            duration(sync),
            String::new(),
            format!("{:.2} x fdatasync", j.sync_vs_fdatasync),
        ],
    );
    t.print(out, 2)?;
    out.line(format!(
        "  latencies are medians of {SYNC_SAMPLES}; rates are single runs ({} of batches)",
        bytes(j.batch_bytes)
    ))
}

/// Best of three copies of a 64 MiB buffer.
fn memcpy_bytes_per_sec() -> f64 {
    let source = vec![1u8; MEMCPY_BYTES];
    let mut target = vec![0u8; MEMCPY_BYTES];
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        target.copy_from_slice(black_box(&source));
        black_box(&mut target);
        best = best.min(started.elapsed());
    }
    per_sec(MEMCPY_BYTES as u64, best)
}

/// Median of one 4 KiB write plus `fdatasync`, on a file in `dir`.
fn fdatasync_median(dir: &Path) -> std::io::Result<Duration> {
    let file = File::create(dir.join("fdatasync.probe"))?;
    let page = [7u8; 4096];
    let mut samples = Vec::with_capacity(SYNC_SAMPLES);
    for i in 0..SYNC_SAMPLES {
        file.write_all_at(&page, (i as u64 % 4) * 4096)?;
        let started = Instant::now();
        file.sync_data()?;
        samples.push(started.elapsed());
    }
    Ok(median(&mut samples))
}

fn async_append(
    dir: &Path,
    options: &Options,
    appends: u64,
    memcpy: f64,
) -> checkpoint_journal::Result<Rate> {
    let journal = Journal::open(dir, options.clone())?;
    let started = Instant::now();
    for i in 0..appends {
        journal.append(Entry::push(0, i, 0))?;
    }
    let elapsed = started.elapsed();
    let written = journal.end_lsn().0;
    journal.close()?;
    Ok(rate(appends, written, elapsed, memcpy))
}

fn batch_and_replay(
    dir: &Path,
    options: &Options,
    batches: u64,
    memcpy: f64,
) -> checkpoint_journal::Result<(Rate, Rate, u64)> {
    let journal = Journal::open(dir, options.clone())?;
    let mut batch: Vec<Entry> = (0..BATCH_ENTRIES as u64)
        .map(|i| Entry::push(1, i, 0))
        .collect();
    let started = Instant::now();
    for b in 0..batches {
        for (i, e) in (0u64..).zip(batch.iter_mut()) {
            e.sequence = b * BATCH_ENTRIES as u64 + i;
        }
        journal.append_batch(&batch)?;
    }
    let elapsed = started.elapsed();
    let written = journal.end_lsn().0;
    journal.close()?;
    let entries = batches * BATCH_ENTRIES as u64;
    let batch_rate = rate(entries, written, elapsed, memcpy);
    let started = Instant::now();
    let journal = Journal::open(dir, options.clone().preallocate(false))?;
    let replay = started.elapsed();
    let replayed = journal.recovery_report().entries_replayed;
    journal.close()?;
    Ok((batch_rate, rate(replayed, written, replay, memcpy), written))
}

/// Median latency of one `Durability::Sync` append.
fn sync_append_median(dir: &Path, options: &Options) -> checkpoint_journal::Result<Duration> {
    let journal = Journal::open(dir, options.clone().durability(Durability::Sync))?;
    let mut samples = Vec::with_capacity(SYNC_SAMPLES);
    for i in 0..SYNC_SAMPLES as u64 {
        let started = Instant::now();
        journal.append(Entry::push(2, i, 0))?;
        samples.push(started.elapsed());
    }
    journal.close()?;
    Ok(median(&mut samples))
}

fn rate(count: u64, written_bytes: u64, elapsed: Duration, memcpy: f64) -> Rate {
    let bytes_per_sec = per_sec(written_bytes, elapsed);
    Rate {
        per_sec: per_sec(count, elapsed),
        bytes_per_sec,
        vs_memcpy: bytes_per_sec / memcpy.max(1.0),
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}
