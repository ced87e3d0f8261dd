//! `cpj stats`: a journal's counters and frontiers from its files (`FileStats`:
//! segments mapped read-only, frame headers walked and validated), once or refreshed
//! with `--watch`, where each refresh reads only the frames published since the last.
//! Read-only: no lock, no writes; the writer can be another process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use checkpoint_journal::{FileStats, Stats};

use crate::output::{as_f64, si, utc, CliError, CmdResult, Out, Status};
use crate::segments;

const EXAMPLES: &str = "\
Examples:
  cpj stats ./j                        counts, frontiers, segments (from the files)
  cpj stats ./j --json | jq .lsn
  cpj stats ./j --watch                refresh every second until interrupted
  cpj stats ./j --watch --interval-ms 200 --count 5 --json

Counts cover every frame the files hold. The durable frontier shown is the highest one
a frame claims (a lower bound: the writer's own `Journal::stats()` knows the exact one,
and its flush latencies). Read-only: takes no lock; the writer can be another process.";

/// The JSON schema name of one stats object.
const SCHEMA: &str = "cpj.stats.v1";

/// Counters, frontiers and segments of a journal, from its files (read-only).
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
    /// Refresh until interrupted (or `--count` refreshes), reading only new frames.
    #[arg(long)]
    watch: bool,
    /// Time between refreshes with `--watch`, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    interval_ms: u64,
    /// With `--watch`: stop after this many refreshes (default: never).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

/// One stats object on the wire: the schema name, then the library's fields.
#[derive(Debug, Serialize)]
struct StatsJson<'a> {
    schema: &'static str,
    /// Unix milliseconds of the reading.
    at_ms: u64,
    /// Since the previous reading (`--watch` only): entries and bytes per second.
    rate: Option<Rate>,
    #[serde(flatten)]
    stats: &'a Stats,
}

#[derive(Clone, Copy, Debug, Serialize)]
struct Rate {
    entries_per_sec: f64,
    bytes_per_sec: f64,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    segments::list_nonempty(&args.dir)?;
    let mut scan = FileStats::open(&args.dir).map_err(|e| CliError::lib(&e))?;
    let mut previous: Option<(Instant, Stats)> = None;
    let mut printed = 0u64;
    loop {
        let stats = scan.refresh().map_err(|e| CliError::lib(&e))?;
        let now = Instant::now();
        let rate = previous
            .as_ref()
            .map(|(at, before)| rate(before, &stats, now - *at));
        print(out, &stats, rate)?;
        out.flush()?;
        printed += 1;
        if !args.watch || args.count.is_some_and(|n| printed >= n) {
            return Ok(Status::Clean);
        }
        previous = Some((now, stats));
        std::thread::sleep(Duration::from_millis(args.interval_ms));
    }
}

fn rate(before: &Stats, now: &Stats, elapsed: Duration) -> Rate {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let delta = |a: u64, b: u64| as_f64(b.saturating_sub(a)) / secs;
    Rate {
        entries_per_sec: delta(before.appends.entries, now.appends.entries),
        bytes_per_sec: delta(before.appends.bytes, now.appends.bytes),
    }
}

fn print(out: &mut Out, stats: &Stats, rate: Option<Rate>) -> Result<(), CliError> {
    let at_ms = now_ms();
    if out.json {
        return out.json_line(&StatsJson {
            schema: SCHEMA,
            at_ms,
            rate,
            stats,
        });
    }
    out.line(out.bold(&format!("at {}", utc(at_ms))))?;
    for line in stats.to_string().lines() {
        out.line(format!("  {line}"))?;
    }
    if let Some(r) = rate {
        out.line(format!(
            "  {:<10} {}  {}",
            "rate",
            si(r.entries_per_sec, "entries/s"),
            si(r.bytes_per_sec, "B/s")
        ))?;
    }
    out.line("")
}

/// Unix milliseconds now.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
