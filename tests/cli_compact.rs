//! `cpj compact`: snapshots a closed journal and retires its old segments; `inspect`
//! then shows the snapshot open starts from; a journal another handle holds is refused
//! with the holder named.

mod cli_support;

use checkpoint_journal::Journal;
use cli_support::{code, cpj, json, path_str, small, stderr, stdout, write_journal, TestResult};

#[test]
fn compact_retires_segments_and_inspect_shows_the_snapshot() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 3_000, true)?;
    let out = cpj(&["compact", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["schema"], "cpj.compact.v1");
    assert_eq!(v["ok"], true);
    assert_eq!(v["report"]["snapshot_written"], true);
    let retired = v["report"]["segments_retired"]
        .as_array()
        .ok_or("no list")?;
    assert!(!retired.is_empty(), "{v}");
    assert!(v["report"]["snapshot_lsn"].as_u64().ok_or("no lsn")? >= written.end.0);

    let out = cpj(&["inspect", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let text = v.to_string();
    assert!(
        text.contains(".snap"),
        "inspect does not name the snapshot: {text}"
    );

    let out = cpj(&["compact", path_str(dir.path())]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("snapshot"), "{}", stdout(&out));
    Ok(())
}

#[test]
fn compact_refuses_a_journal_another_handle_holds() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(dir.path(), small())?;
    let out = cpj(&["compact", path_str(dir.path())]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    drop(journal);
    Ok(())
}
