//! `cpj dump` filters (LSN range, source, op, kind) and `cpj tail -f` following a
//! writer that holds the journal open in this process, through the read-only follower.

mod cli_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use checkpoint_journal::{Entry, Journal};
use cli_support::{
    append_workload, code, cpj, cpj_command, path_str, small, stdout, write_journal, TestResult,
};

fn dump(args: &[&str]) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    let mut all = vec!["dump"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = cpj(&all);
    assert_eq!(code(&out), 0);
    Ok(stdout(&out)
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

fn entries(frames: &[Value]) -> Vec<&Value> {
    frames
        .iter()
        .filter_map(|f| f["entries"].as_array())
        .flatten()
        .collect()
}

#[test]
fn dump_filters_by_source_op_kind_and_lsn_range() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 100, true)?;
    let d = path_str(dir.path());

    let by_source = dump(&[d, "--source", "1"])?;
    let e = entries(&by_source);
    assert_eq!(
        e.len(),
        34 * 8 + 4,
        "34 batches of source 1, 4 with a barrier"
    );
    assert!(e.iter().all(|e| e["source_id"] == 1));
    let checkpoints = by_source
        .iter()
        .filter(|f| f["kind"] == "checkpoint")
        .count();
    assert_eq!(checkpoints, 4, "checkpoints are still shown");

    let barriers = dump(&[d, "--op", "barrier"])?;
    assert_eq!(barriers.len(), 10);
    assert!(entries(&barriers).iter().all(|e| e["op"] == "barrier"));

    let only = dump(&[d, "--kind", "checkpoint"])?;
    let lsns: Vec<u64> = only.iter().map(|f| f["lsn"].as_u64().unwrap()).collect();
    assert_eq!(
        lsns,
        written.checkpoints.iter().map(|l| l.0).collect::<Vec<_>>()
    );

    let (from, to) = (written.frames[10].0, written.frames[20].0);
    let range = dump(&[d, "--from", &from.to_string(), "--to", &to.to_string()])?;
    let lsns: Vec<u64> = range.iter().map(|f| f["lsn"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = written.frames[10..20].iter().map(|l| l.0).collect();
    assert_eq!(lsns, expected);

    let out = cpj(&["dump", d]);
    assert_eq!(code(&out), 0);
    let human = stdout(&out);
    assert!(human.starts_with("           LSN  KIND"), "{human}");
    assert_eq!(human.lines().count() as u64, 1 + written.entries + 4);
    Ok(())
}

#[test]
fn a_closed_pipe_ends_dump_quietly() -> TestResult {
    let dir = tempfile::tempdir()?;
    write_journal(dir.path(), 400, true)?;
    let mut child = cpj_command(&["dump", path_str(dir.path())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut first = String::new();
    BufReader::new(child.stdout.take().ok_or("stdout")?).read_line(&mut first)?;
    // Dropping the read end closes the pipe, as `| head -1` does.
    let out = child.wait_with_output()?;
    assert!(first.contains("LSN"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[test]
fn tail_follows_a_writer_in_another_process() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(dir.path(), small())?;
    let before = append_workload(&journal, 5)?;
    let mut child = cpj_command(&["tail", "-f", "-n", "2", path_str(dir.path()), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen: Vec<u64> = Vec::new();
    let next = |seen: &mut Vec<u64>| -> TestResult {
        let line = rx.recv_timeout(Duration::from_secs(30))??;
        let v: Value = serde_json::from_str(&line)?;
        seen.push(v["lsn"].as_u64().ok_or("lsn")?);
        Ok(())
    };
    next(&mut seen)?;
    next(&mut seen)?;
    assert_eq!(seen, [before.frames[3].0, before.frames[4].0]);
    let mut appended = Vec::new();
    for i in 0..2_000u64 {
        appended.push(journal.append(Entry::push(7, i, 0))?.0);
    }
    assert!(appended[1_999] > cli_support::SEGMENT_BYTES, "rolled over");
    for _ in 0..2_000 {
        next(&mut seen)?;
    }
    child.kill()?;
    child.wait()?;
    assert_eq!(
        seen[2..],
        appended[..],
        "every frame, in order, across segments"
    );
    journal.close()?;
    Ok(())
}
