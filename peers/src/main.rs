//! `cpj-peers`: the same workloads on checkpoint-journal, okaywal, raft-engine and
//! commitlog, with physical references (memcpy, msync of 4 KiB, fdatasync) measured in
//! the same run; medians and min–max over `--runs` runs, as a markdown table, a CSV
//! and a PNG plot of group commit. See docs/PERFORMANCE.md, "Side by side with peers".
//!
//! ```sh
//! cargo run --release -p cpj-peers -- --runs 5 --out docs/peers
//! ```

#![expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "counts and durations become f64 figures for reporting; the counts stay far \
              below 2^52 and the percentile rank is in range by construction"
)]

mod peer_commitlog;
mod peer_cpj;
mod peer_okaywal;
mod peer_raft;
mod physical;
mod plot;
mod raft_message;
mod record;
mod report;
mod runner;
mod stats;
mod workload;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use record::Records;
use runner::{Scratch, Sizes};
use workload::{Peer, Result};

/// Command-line arguments.
#[derive(Debug)]
struct Args {
    runs: usize,
    out: PathBuf,
    scratch: PathBuf,
    font: Option<PathBuf>,
    sizes: Sizes,
    /// Logs to run (names or prefixes); empty: all.
    peers: Vec<String>,
    /// Workload groups to run (`async`, `batch`, `sync`, `group`, `replay`); empty: all.
    only: Vec<String>,
}

const USAGE: &str = "usage: cpj-peers [--runs N] [--out DIR] [--scratch DIR] [--font TTF] \
                     [--replay-entries N] [--window-ms MS] [--quick] \
                     [--peers NAME,..] [--only async,batch,sync,group,replay]";

fn parse_args() -> Result<Args> {
    let mut args = Args {
        runs: 5,
        out: PathBuf::from("docs/peers"),
        scratch: std::env::temp_dir(),
        font: None,
        peers: Vec::new(),
        only: Vec::new(),
        sizes: Sizes {
            async_count: 1_000_000,
            async_batches: 8_000,
            sync_count: 200,
            sync_batches: 50,
            group_window: Duration::from_secs(1),
            replay_entries: 10_000_000,
        },
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--runs" => args.runs = value()?.parse()?,
            "--out" => args.out = PathBuf::from(value()?),
            "--scratch" => args.scratch = PathBuf::from(value()?),
            "--font" => args.font = Some(PathBuf::from(value()?)),
            "--peers" => args.peers = value()?.split(',').map(str::to_owned).collect(),
            "--only" => args.only = value()?.split(',').map(str::to_owned).collect(),
            "--replay-entries" => args.sizes.replay_entries = value()?.parse()?,
            "--window-ms" => args.sizes.group_window = Duration::from_millis(value()?.parse()?),
            "--quick" => {
                args.sizes.async_count = 100_000;
                args.sizes.async_batches = 200;
                args.sizes.sync_count = 20;
                args.sizes.sync_batches = 5;
                args.sizes.group_window = Duration::from_millis(200);
                args.sizes.replay_entries = 200_000;
            }
            _ => return Err(format!("unknown argument {flag}\n{USAGE}").into()),
        }
    }
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(args)
}

/// One line of a shell command's output, or "?".
fn shell(command: &str) -> String {
    std::process::Command::new("sh")
        .args(["-c", command])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".to_owned(), |s| s.trim().to_owned())
}

/// The conditions of the run, as markdown.
fn conditions(args: &Args, load_before: &str) -> String {
    format!(
        "| | |\n|---|---|\n| date | {} |\n| command | `cargo run --release -p cpj-peers -- {}` |\n\
         | CPU | {} ({} online CPUs) |\n| kernel | {} |\n| scratch filesystem | {} |\n\
         | load average (1/5/15 min) | {} before, {} after |\n| sizes | {:?} |\n",
        shell("date -u '+%Y-%m-%d %H:%M UTC'"),
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        shell("lscpu | sed -n 's/^Model name: *//p' | head -1"),
        shell("nproc"),
        shell("uname -r"),
        shell(&format!(
            "df -T {} | awk 'NR==2 {{print $2\" on \"$1}}'",
            args.scratch.display()
        )),
        load_before,
        shell("cut -d' ' -f1-3 /proc/loadavg"),
        args.sizes,
    )
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let load_before = shell("cut -d' ' -f1-3 /proc/loadavg");
    let started = Instant::now();
    let all: [&dyn Peer; 4] = [
        &peer_cpj::Cpj,
        &peer_okaywal::OkayWal,
        &peer_raft::Raft,
        &peer_commitlog::Commitlog,
    ];
    let peers: Vec<&dyn Peer> = all
        .into_iter()
        .filter(|p| {
            args.peers.is_empty() || args.peers.iter().any(|n| p.name().starts_with(n.as_str()))
        })
        .collect();
    let wants = |group: &str| args.only.is_empty() || args.only.iter().any(|g| g == group);
    let root = tempfile::Builder::new()
        .prefix("cpj-peers-")
        .tempdir_in(&args.scratch)?;
    let mut scratch = Scratch::new(root.path().to_path_buf());
    for &peer in peers.iter().filter(|_| wants("replay")) {
        let t = Instant::now();
        peer.write_dataset(&scratch.dataset(peer.name()), args.sizes.replay_entries)?;
        eprintln!(
            "data set of {}: {:.1} s",
            peer.name(),
            t.elapsed().as_secs_f64()
        );
    }
    let mut records = Records::default();
    for run in 1..=args.runs {
        run_once(run, &args.sizes, &peers, &wants, &mut scratch, &mut records)?;
        eprintln!(
            "run {run}/{} done at {:.0} s",
            args.runs,
            started.elapsed().as_secs_f64()
        );
    }
    write_outputs(&args, &peers, &records, &conditions(&args, &load_before))?;
    eprintln!("total {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn run_once(
    run: usize,
    sizes: &Sizes,
    peers: &[&dyn Peer],
    wants: &dyn Fn(&str) -> bool,
    scratch: &mut Scratch,
    records: &mut Records,
) -> Result<()> {
    // Each run starts with a different log, so that what one log leaves behind (dirty
    // pages in writeback, a busy journal thread) falls on a different successor.
    let mut rotated = peers.to_vec();
    rotated.rotate_left((run - 1) % peers.len().max(1));
    let peers = rotated.as_slice();
    if wants("async") {
        runner::async_appends(run, sizes, peers, scratch, records)?;
    }
    if wants("batch") {
        let calls = (sizes.sync_batches, workload::BATCH_LEN);
        runner::sync_appends(run, calls, peers, scratch, records)?;
    }
    if wants("sync") {
        runner::sync_appends(run, (sizes.sync_count, 1), peers, scratch, records)?;
    }
    if wants("group") {
        runner::group_commit(run, sizes, peers, scratch, records)?;
    }
    if wants("replay") {
        runner::replay(run, sizes, peers, scratch, records)?;
    }
    records.ratio_to_reference(
        run,
        ("sync_each", "p50 µs"),
        ("msync_4k", "p50 µs"),
        "p50 / msync p50",
    );
    records.ratio_to_best_peer(run, "async_append", "entries/s", true);
    records.ratio_to_best_peer(run, "sync_each", "p50 µs", false);
    records.ratio_to_best_peer(run, "sync_batch_1000", "entries/s", true);
    for threads in runner::THREADS {
        records.ratio_to_best_peer(
            run,
            &format!("group_commit_{threads}"),
            "acked appends/s",
            true,
        );
    }
    for suffix in ["warm", "cold_fadvise"] {
        records.ratio_to_best_peer(run, &format!("open_{suffix}"), "ms", false);
        records.ratio_to_best_peer(run, &format!("read_after_open_{suffix}"), "entries/s", true);
    }
    records.ratio_to_best_peer(run, "replay_warm", "entries/s", true);
    records.ratio_to_best_peer(run, "replay_cold_fadvise", "entries/s", true);
    Ok(())
}

fn write_outputs(
    args: &Args,
    peers: &[&dyn Peer],
    records: &Records,
    conditions: &str,
) -> Result<()> {
    let names: Vec<&'static str> = peers.iter().map(|p| p.name()).collect();
    std::fs::create_dir_all(&args.out)?;
    let mut md = format!(
        "{conditions}\n{}\nHow each log runs the workloads:\n\n",
        report::markdown(records, &names)
    );
    for peer in peers {
        let _ = writeln!(md, "- **{}**: {}", peer.name(), peer.fairness());
    }
    std::fs::write(args.out.join("peers.md"), &md)?;
    report::write_csv(records, &args.out.join("peers.csv"))?;
    let png = args.out.join("group_commit.png");
    match plot::load_font(args.font.as_deref())
        .and_then(|()| plot::group_commit(records, &names, &png))
    {
        Ok(()) => eprintln!("wrote {}", png.display()),
        Err(e) => eprintln!("no plot: {e}"),
    }
    println!("{md}");
    Ok(())
}
