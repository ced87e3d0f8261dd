//! `cpj stats`: counts that match what was written, beside a writer that holds the
//! journal open (no lock taken, no file changed), from the writer's published stats or
//! from the files, `--watch` JSON lines that follow it, and a clear error for a
//! directory without a journal. (A writer in another process: `cli_stats_live.rs`.)

mod cli_support;

use checkpoint_journal::{Entry, Journal};
use cli_support::{
    append_workload, code, cpj, fingerprint, json, path_str, small, stderr, stdout, write_journal,
    TestResult,
};

#[test]
fn stats_counts_what_was_written_and_changes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 100, true)?;
    let before = fingerprint(dir.path());
    let out = cpj(&["stats", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["schema"], "cpj.stats.v2");
    assert_eq!(v["source"], "files");
    assert!(v["writer"].is_null(), "a closed journal publishes nothing");
    assert_eq!(v["appends"]["entries"], written.entries);
    assert_eq!(
        v["appends"]["checkpoints"],
        written.checkpoints.len() as u64
    );
    assert_eq!(
        v["appends"]["entry_frames"],
        (written.frames.len() - written.checkpoints.len()) as u64
    );
    // The clean close appends a marker frame (padding, not counted) after `end`.
    let published = v["lsn"]["published"].as_u64().ok_or("published")?;
    assert_eq!(published, written.end.0 + 16);
    assert_eq!(
        v["lsn"]["durable"], written.end.0,
        "the marker claims the rest"
    );
    assert!(v["rate"].is_null());
    assert_eq!(fingerprint(dir.path()), before, "stats changed a file");

    let human = cpj(&["stats", path_str(dir.path())]);
    assert_eq!(code(&human), 0);
    let text = stdout(&human);
    assert!(
        text.contains(&format!("entries {}", written.entries)),
        "{text}"
    );
    assert!(text.contains("durable claim"), "{text}");
    assert!(text.contains("no writer publishes"), "{text}");
    Ok(())
}

#[test]
fn stats_reads_beside_a_live_writer_and_watch_follows_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let options = small().stats_file_interval(std::time::Duration::from_millis(10));
    let journal = Journal::open(dir.path(), options)?;
    let written = append_workload(&journal, 10)?;
    for i in 0..3_000 {
        journal.append(Entry::push(5, i, 0))?;
    }
    let entries = written.entries + 3_000;
    // The publisher runs every 10 ms: wait for a snapshot taken after the appends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let live = loop {
        let v = json(&cpj(&["stats", path_str(dir.path()), "--json"]));
        if v["appends"]["entries"] == entries || std::time::Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(live["source"], "live", "{live}");
    assert_eq!(live["writer"]["state"], "live");
    assert_eq!(live["writer"]["pid"], std::process::id());
    assert_eq!(live["appends"]["entries"], entries);
    assert_eq!(live["lsn"]["published"], journal.end_lsn().0);
    let out = cpj(&[
        "stats",
        path_str(dir.path()),
        "--json",
        "--from-files",
        "--watch",
        "--count",
        "2",
        "--interval-ms",
        "10",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 2, "--count 2 prints two objects");
    for v in &lines {
        assert_eq!(v["source"], "files");
        assert_eq!(v["appends"]["entries"], entries);
        assert_eq!(v["lsn"]["published"], journal.end_lsn().0);
        assert!(v["segments"]["live"].as_u64().ok_or("live")? >= 2);
    }
    assert_eq!(
        lines[1]["rate"]["entries_per_sec"], 0.0,
        "nothing new between"
    );
    journal.close()?;
    Ok(())
}

#[test]
fn stats_without_a_journal_says_what_to_do() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = cpj(&["stats", path_str(dir.path())]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("no journal"), "{err}");
    assert!(err.contains("cpj demo"), "{err}");
    let bad = cpj(&["stats", path_str(dir.path()), "--interval-ms", "0"]);
    assert_eq!(code(&bad), 2, "an interval under 10 ms is refused");
    let bad = cpj(&["stats", path_str(dir.path()), "--interval", "5ms"]);
    assert_eq!(code(&bad), 2, "an interval under 10 ms is refused");
    Ok(())
}
