//! `cpj stats`: a journal's counters and frontiers. When a running writer publishes its
//! stats (`journal.stats`, replaced every second by default), shows those: counts since
//! the writer opened the journal, the exact durable frontier, flush latencies, the
//! durable lag in time. Otherwise (no writer, publishing off, or a stale snapshot a dead
//! writer left) reads the files (`FileStats`: segments mapped read-only, frame headers
//! walked and validated) and says why. Once, or refreshed with `--watch`.
//! Read-only: no lock, no writes; the writer can be another process.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use checkpoint_journal::stats::{read_published, WriterSnapshot, WriterState};
use checkpoint_journal::{FileStats, Stats};

use crate::output::{as_f64, si, utc, CliError, CmdResult, Out, Status};
use crate::segments;

const EXAMPLES: &str = "\
Examples:
  cpj stats ./j                        a live writer's figures, else the files'
  cpj stats ./j --json | jq .lsn
  cpj stats ./j --watch                refresh every second until interrupted
  cpj stats ./j --watch --interval 200ms --count 5 --json
  cpj stats ./j --from-files           count what the files hold, even beside a writer

A writer publishes its stats in DIR/journal.stats (Options::stats_file_interval, 1 s by
default): counts since it opened the journal, the exact durable frontier, flush
latencies, the durable lag in time. A snapshot whose writer is gone (the owner lease
says so) is reported as stale and the files are read instead: counts over every frame
they hold, and the highest durable frontier a frame claims (a lower bound).
Read-only: takes no lock; the writer can be another process.";

/// The JSON schema name of one stats object.
const SCHEMA: &str = "cpj.stats.v2";

/// Counters, frontiers and segments of a journal: a live writer's, else the files'.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct Args {
    /// The journal directory.
    dir: PathBuf,
    /// Refresh until interrupted (or `--count` refreshes): redrawn on a terminal, one
    /// block (one JSON line) per refresh otherwise.
    #[arg(long)]
    watch: bool,
    /// Time between refreshes with `--watch`: `500ms`, `2s`, `1m` (10 ms to 1 h).
    #[arg(long, value_name = "D", value_parser = parse_interval, conflicts_with = "interval_ms")]
    interval: Option<Duration>,
    /// Time between refreshes with `--watch`, in milliseconds (as `--interval`).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    interval_ms: Option<u64>,
    /// With `--watch`: stop after this many refreshes (default: never).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Read the files even when a live writer publishes its stats.
    #[arg(long)]
    from_files: bool,
}

/// One stats object on the wire: the schema name, then the library's fields.
#[derive(Debug, Serialize)]
struct StatsJson<'a> {
    schema: &'static str,
    /// Unix milliseconds of the reading.
    at_ms: u64,
    /// Since the previous reading (`--watch` only, same source): entries and bytes per second.
    rate: Option<Rate>,
    /// The writer's published snapshot: live (shown), stale or unreadable (the files are
    /// shown), or null (none).
    writer: &'a WriterSnapshot,
    #[serde(flatten)]
    stats: &'a Stats,
}

#[derive(Clone, Copy, Debug, Serialize)]
struct Rate {
    entries_per_sec: f64,
    bytes_per_sec: f64,
}

/// `500ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds; 10 ms to 1 h.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (try 500ms, 2s, 1m)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1e3,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        other => return Err(format!("unknown unit `{other}` (ms, s or m)")),
    };
    if !(0.01..=3600.0).contains(&seconds) {
        return Err(format!("`{text}` is outside 10ms..1h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// What one refresh shows.
struct Reading {
    stats: Stats,
    writer: WriterSnapshot,
}

pub(crate) fn run(args: &Args, out: &mut Out) -> CmdResult {
    segments::list_nonempty(&args.dir)?;
    let every = args
        .interval
        .or(args.interval_ms.map(Duration::from_millis))
        .unwrap_or(Duration::from_secs(1));
    let redraw = args.watch && !out.json && std::io::stdout().is_terminal();
    let mut scan: Option<FileStats> = None;
    let mut previous: Option<(Instant, Stats)> = None;
    let mut printed = 0u64;
    loop {
        let reading = read(&args.dir, args.from_files, &mut scan)?;
        let now = Instant::now();
        let rate = previous
            .as_ref()
            .filter(|(_, before)| before.source == reading.stats.source)
            .map(|(at, before)| rate(before, &reading.stats, now - *at));
        print(out, &reading, rate, redraw)?;
        out.flush()?;
        printed += 1;
        if !args.watch || args.count.is_some_and(|n| printed >= n) {
            return Ok(Status::Clean);
        }
        previous = Some((now, reading.stats));
        std::thread::sleep(every);
    }
}

/// A live writer's snapshot if there is one, else the files (scanned incrementally).
fn read(dir: &Path, from_files: bool, scan: &mut Option<FileStats>) -> Result<Reading, CliError> {
    let writer = if from_files {
        WriterSnapshot::Absent
    } else {
        read_published(dir)
    };
    if let WriterSnapshot::Found(p) = &writer {
        if p.state == WriterState::Live {
            return Ok(Reading {
                stats: p.stats.clone(),
                writer,
            });
        }
    }
    let scan = match scan {
        Some(scan) => scan,
        None => scan.insert(FileStats::open(dir).map_err(|e| CliError::lib(&e))?),
    };
    let stats = scan.refresh().map_err(|e| CliError::lib(&e))?;
    Ok(Reading { stats, writer })
}

fn rate(before: &Stats, now: &Stats, elapsed: Duration) -> Rate {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let delta = |a: u64, b: u64| as_f64(b.saturating_sub(a)) / secs;
    Rate {
        entries_per_sec: delta(before.appends.entries, now.appends.entries),
        bytes_per_sec: delta(before.appends.bytes, now.appends.bytes),
    }
}

/// Prints one block (one JSON line); `redraw` homes the cursor and clears the terminal
/// first, so it shows the latest reading only.
fn print(
    out: &mut Out,
    reading: &Reading,
    rate: Option<Rate>,
    redraw: bool,
) -> Result<(), CliError> {
    let at_ms = now_ms();
    if out.json {
        return out.json_line(&StatsJson {
            schema: SCHEMA,
            at_ms,
            rate,
            writer: &reading.writer,
            stats: &reading.stats,
        });
    }
    let clear = if redraw { "\x1b[H\x1b[2J" } else { "" };
    out.line(format!(
        "{clear}{}",
        out.bold(&format!("at {}", utc(at_ms)))
    ))?;
    out.line(format!("  {}", describe(&reading.writer)))?;
    for line in reading.stats.to_string().lines() {
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

/// One line: where the figures come from.
fn describe(writer: &WriterSnapshot) -> String {
    match writer {
        WriterSnapshot::Absent => "from the files (no writer publishes stats)".to_owned(),
        WriterSnapshot::Unreadable { reason } => {
            format!("from the files (the published stats are unreadable: {reason})")
        }
        WriterSnapshot::Found(p) if p.state == WriterState::Live => format!(
            "live from writer {}:{}, published {} ms ago (#{}, every {} ms)",
            p.writer.host, p.writer.pid, p.age_ms, p.sequence, p.interval_ms
        ),
        WriterSnapshot::Found(p) => format!(
            "from the files; STALE published stats of writer {}:{} ignored ({} ms old): {}",
            p.writer.host, p.writer.pid, p.age_ms, p.reason
        ),
        _ => "from the files".to_owned(),
    }
}

/// Unix milliseconds now.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units_and_bounds() {
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_interval("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "ms", "5ms", "2h", "x", "-1s", "2 hours"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
