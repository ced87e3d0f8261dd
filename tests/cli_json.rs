//! Every command's `--json` output parses and carries the fields docs/CLI.md documents,
//! under its `cpj.<command>.v1` schema name; read-only commands change no byte.

mod cli_support;

use serde_json::Value;

use cli_support::{
    code, cpj, fingerprint, flip, json, locate, path_str, stdout, write_journal, TestResult,
};

/// Asserts `v` has every space-separated field of `fields`.
fn has(v: &Value, fields: &str) {
    for f in fields.split_whitespace() {
        assert!(v.get(f).is_some(), "missing `{f}` in {v}");
    }
}

#[test]
fn inspect_json_has_segments_sources_checkpoint_holder_and_open() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 300, true)?;
    let before = fingerprint(dir.path());
    let out = cpj(&["inspect", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["schema"], "cpj.inspect.v1");
    has(
        &v,
        "dir journal_id segments sources last_checkpoint lock_holder open",
    );
    assert_eq!(v["journal_id"].as_str().map(str::len), Some(32));
    assert!(v["lock_holder"].is_null());
    let segments = v["segments"].as_array().unwrap();
    assert!(segments.len() >= 3);
    for s in segments {
        has(
            s,
            "file base_lsn end_lsn size_bytes created_at_ms header_valid state",
        );
    }
    assert_eq!(
        segments.iter().filter(|s| s["state"] == "active").count(),
        1,
        "{v}"
    );
    // A clean close summarized every full segment; open folds those summaries.
    let full: Vec<_> = segments.iter().filter(|s| s["state"] == "full").collect();
    for s in &full {
        assert_eq!(s["summary"]["status"], "valid", "{s}");
        has(
            &s["summary"],
            "frames entries durable_claim records sources",
        );
    }
    let summarized: u64 = full
        .iter()
        .map(|s| s["summary"]["entries"].as_u64().unwrap())
        .sum();
    assert!(
        summarized > 0 && summarized < written.entries,
        "{summarized}"
    );
    assert_eq!(
        v["open"]["report"]["segments_summarized"].as_u64(),
        Some(full.len() as u64)
    );
    let sources = v["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 3);
    has(
        &sources[0],
        "source_id sequence watermark last_barrier entries",
    );
    let total: u64 = sources.iter().map(|s| s["entries"].as_u64().unwrap()).sum();
    assert_eq!(total, written.entries);
    let ckpt = &v["last_checkpoint"];
    has(
        ckpt,
        "lsn id epoch created_at_ms sources sinks operator_states",
    );
    assert_eq!(
        ckpt["lsn"].as_u64(),
        written.checkpoints.last().map(|l| l.0)
    );
    assert_eq!(ckpt["id"].as_u64(), Some(12));
    check_open(&v["open"], written.entries);
    assert_eq!(fingerprint(dir.path()), before, "inspect changed a file");
    Ok(())
}

/// The `open` object of a journal that opens cleanly.
fn check_open(open: &Value, entries: u64) {
    assert_eq!(open["would_succeed"], true);
    assert_eq!(open["mode"], "tolerate_torn_tail");
    let report = &open["report"];
    has(report, "created dry_run segments_scanned frames_scanned");
    has(
        report,
        "entries_replayed checkpoints_replayed first_lsn end_lsn",
    );
    has(
        report,
        "durable_claim case torn_bytes dropped removed_files empty_segments_removed",
    );
    has(report, "duration_ms");
    assert_eq!(report["entries_replayed"].as_u64(), Some(entries));
    assert_eq!(report["case"], "clean_end");
    assert_eq!(report["dry_run"], true);
}

#[test]
fn dump_and_tail_print_one_json_object_per_frame() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 100, true)?;
    let out = cpj(&["dump", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 0);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), written.frames.len());
    for (line, lsn) in lines.iter().zip(&written.frames) {
        assert_eq!(line["schema"], "cpj.dump.v1");
        assert_eq!(line["lsn"].as_u64(), Some(lsn.0));
    }
    let entries = lines.iter().find(|l| l["kind"] == "entries").unwrap();
    has(
        &entries["entries"][0],
        "source_id op flags sequence watermark",
    );
    let ckpt = lines.iter().find(|l| l["kind"] == "checkpoint").unwrap();
    has(
        &ckpt["checkpoint"],
        "id epoch created_at_ms source_sequences watermarks sink_positions operator_states",
    );
    let out = cpj(&["tail", "-n", "3", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 0);
    let tail: Vec<Value> = stdout(&out)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(tail.len(), 3);
    assert_eq!(tail[0]["schema"], "cpj.tail.v1");
    assert_eq!(tail[2]["lsn"].as_u64(), written.frames.last().map(|l| l.0));
    Ok(())
}

#[test]
fn checkpoints_json_lists_them_and_shows_one_in_full() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 100, true)?;
    let v = json(&cpj(&["checkpoints", path_str(dir.path()), "--json"]));
    assert_eq!(v["schema"], "cpj.checkpoints.v1");
    let list = v["checkpoints"].as_array().unwrap();
    assert_eq!(list.len(), written.checkpoints.len());
    has(
        &list[0],
        "lsn id epoch created_at_ms sources sinks operator_states",
    );
    let v = json(&cpj(&[
        "checkpoints",
        path_str(dir.path()),
        "--id",
        "2",
        "--json",
    ]));
    assert_eq!(v["schema"], "cpj.checkpoint.v1");
    assert_eq!(v["lsn"].as_u64(), Some(written.checkpoints[1].0));
    assert_eq!(
        v["checkpoint"]["source_sequences"][1]["sequence"].as_u64(),
        Some(50)
    );
    let out = cpj(&["checkpoints", path_str(dir.path()), "--id", "99"]);
    assert_eq!(code(&out), 2);
    Ok(())
}

#[test]
fn bench_json_has_every_figure_beside_its_baseline() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = cpj(&[
        "bench",
        "--dir",
        path_str(dir.path()),
        "--appends",
        "2048",
        "--segment-size",
        "1048576",
        "--json",
    ]);
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["schema"], "cpj.bench.v1");
    has(
        &v,
        "memcpy_bytes_per_sec fdatasync_seconds async_append batch_append",
    );
    has(
        &v,
        "batch_entries batch_bytes replay sync_append_seconds sync_vs_fdatasync",
    );
    for rate in ["async_append", "batch_append", "replay"] {
        has(&v[rate], "per_sec bytes_per_sec vs_memcpy");
        assert!(v[rate]["per_sec"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        std::fs::read_dir(dir.path())?.count(),
        0,
        "bench removed its files"
    );
    Ok(())
}

#[test]
fn inspect_of_a_damaged_journal_says_opening_would_fail() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 200, true)?;
    let (file, offset) = locate(dir.path(), written.frames[20]);
    flip(&file, offset + 17, 0x02)?;
    let out = cpj(&["inspect", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["open"]["would_succeed"], false);
    assert!(v["open"]["report"].is_null());
    let error = v["open"]["error"].as_str().unwrap_or_default();
    assert!(error.contains(&written.frames[20].0.to_string()), "{error}");
    assert!(
        v["segments"].as_array().map_or(0, Vec::len) >= 2,
        "segments still listed"
    );
    let out = cpj(&["inspect", path_str(dir.path())]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("fail"));
    Ok(())
}
