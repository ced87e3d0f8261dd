//! `cpj stats` on a journal another process writes: the writer publishes its `Stats` in
//! `journal.stats`, and `cpj stats --json` from a third process sees its exact counts
//! (entries, frames, checkpoints, flushes), the exact durable frontier and a durable lag
//! of zero after a flush; `--watch --count N` prints N blocks; once the writer is killed
//! its snapshot (left behind with its lease) is reported as stale and the files are
//! read instead.
//!
//! The writer is this test binary itself, started with `CHILD_DIR_VAR` set: the
//! `child_writer_entry_point` test then writes the workload, prints `READY`, and holds the
//! journal until its standard input closes (or it is killed).

mod cli_support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use checkpoint_journal::stats::STATS_FILE_NAME;
use checkpoint_journal::{CheckpointRecord, Entry, Journal};
use cli_support::{code, cpj, json, path_str, small, stderr, stdout, TestResult};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const CHILD_DIR_VAR: &str = "CPJ_TEST_STATS_CHILD_DIR";
const READY: &str = "cpj-stats-child-ready";
/// The workload: `BATCHES` batches of `BATCH` entries, a checkpoint and a flush after
/// every `PER_FLUSH` batches.
const BATCHES: u64 = 300;
const BATCH: u64 = 7;
const PER_FLUSH: u64 = 100;

fn writer_options() -> checkpoint_journal::Options {
    small().stats_file_interval(Duration::from_millis(20))
}

/// Run in the child process only: writes the workload, then holds the journal.
#[test]
fn child_writer_entry_point() -> TestResult {
    let Some(dir) = std::env::var_os(CHILD_DIR_VAR) else {
        return Ok(());
    };
    let journal = Journal::open(&dir, writer_options())?;
    for b in 0..BATCHES {
        let batch: Vec<Entry> = (0..BATCH)
            .map(|i| Entry::push(1, b * BATCH + i, 0))
            .collect();
        journal.append_batch(&batch)?;
        if (b + 1) % PER_FLUSH == 0 {
            journal.checkpoint(&CheckpointRecord {
                id: b,
                ..CheckpointRecord::default()
            })?;
            journal.flush()?;
        }
    }
    let mut out = std::io::stdout();
    writeln!(out, "{READY}")?;
    out.flush()?;
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    journal.close()?;
    Ok(())
}

fn spawn_writer(dir: &Path) -> Res<Child> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "child_writer_entry_point", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_DIR_VAR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    for line in BufReader::new(stdout).lines() {
        if line?.contains(READY) {
            return Ok(child);
        }
    }
    child.wait()?;
    Err("the writer exited before it was ready".into())
}

/// `cpj stats DIR --json` until `done` holds of it (the writer publishes every 20 ms;
/// the deadline only bounds a broken build).
fn stats_until(dir: &Path, done: impl Fn(&serde_json::Value) -> bool) -> Res<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = cpj(&["stats", path_str(dir), "--json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let v = json(&out);
        if done(&v) {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("never reached: {v}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn stats_from_another_process_are_the_writers_exact_figures_until_it_dies() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut child = spawn_writer(dir.path())?;
    let entries = BATCHES * BATCH;
    // The writer's last step is a flush: wait for a snapshot published after it (one
    // published between the last append and that flush has every entry but not the
    // flush).
    let v = stats_until(dir.path(), |v| {
        v["appends"]["entries"] == entries && v["flushes"]["count"] == BATCHES / PER_FLUSH
    })?;
    assert_eq!(v["schema"], "cpj.stats.v2");
    assert_eq!(v["source"], "live");
    assert_eq!(v["writer"]["state"], "live", "{v}");
    assert_eq!(v["writer"]["pid"], child.id());
    assert_eq!(v["appends"]["entry_frames"], BATCHES);
    assert_eq!(v["appends"]["checkpoints"], BATCHES / PER_FLUSH);
    assert_eq!(v["flushes"]["count"], BATCHES / PER_FLUSH);
    assert_eq!(v["lsn"]["durable"], v["lsn"]["published"], "flushed last");
    assert_eq!(v["lsn"]["durable_lag_bytes"], 0);
    assert_eq!(v["lsn"]["durable_lag_ms"], 0);
    assert!(v["writer"]["age_ms"].is_u64());

    // --watch: N blocks, each a live reading, human and JSON.
    let watch = |extra: &[&str]| {
        let mut args = vec!["stats", path_str(dir.path()), "--watch", "--count", "3"];
        args.extend_from_slice(&["--interval", "10ms"]);
        args.extend_from_slice(extra);
        cpj(&args)
    };
    let out = watch(&["--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 3, "--count 3 prints three objects");
    for v in &lines {
        assert_eq!(v["source"], "live");
        assert_eq!(v["appends"]["entries"], entries);
    }
    let human = stdout(&watch(&[]));
    assert_eq!(human.matches("\nat ").count() + 1, 3, "{human}");
    assert_eq!(human.matches("live from writer").count(), 3, "{human}");
    assert!(!human.contains('\x1b'), "no redraw when piped: {human}");

    // The files beside it: the same frames.
    let files = json(&cpj(&[
        "stats",
        path_str(dir.path()),
        "--json",
        "--from-files",
    ]));
    assert_eq!(files["source"], "files");
    assert_eq!(files["appends"]["entries"], entries);

    // Killed: the lease and the snapshot stay behind; the snapshot is stale.
    child.kill()?;
    child.wait()?;
    assert!(dir.path().join(STATS_FILE_NAME).exists(), "left behind");
    let v = stats_until(dir.path(), |_| true)?;
    assert_eq!(v["writer"]["state"], "stale", "{v}");
    let reason = v["writer"]["reason"].as_str().ok_or("reason")?;
    assert!(reason.contains(&child.id().to_string()), "{reason}");
    assert_eq!(v["source"], "files", "not shown as live");
    assert_eq!(v["appends"]["entries"], entries);
    let text = stdout(&cpj(&["stats", path_str(dir.path())]));
    assert!(text.contains("STALE"), "{text}");
    assert!(text.contains("durable claim"), "{text}");
    Ok(())
}

#[test]
fn an_unreadable_snapshot_falls_back_to_the_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(dir.path(), small().stats_file_interval(Duration::ZERO))?;
    journal.append(Entry::push(1, 1, 0))?;
    journal.close()?;
    assert!(!dir.path().join(STATS_FILE_NAME).exists(), "publishing off");
    let v = json(&cpj(&["stats", path_str(dir.path()), "--json"]));
    assert!(v["writer"].is_null(), "{v}");
    std::fs::write(dir.path().join(STATS_FILE_NAME), b"\x89CPS garbage")?;
    let v = json(&cpj(&["stats", path_str(dir.path()), "--json"]));
    assert_eq!(v["writer"]["state"], "unreadable", "{v}");
    assert_eq!(v["source"], "files");
    assert_eq!(v["appends"]["entries"], 1);
    Ok(())
}
