//! `cpj cursors DIR [--json]` lists every durable consumer cursor with its committed
//! position, flags one written for another journal (exit 1), and changes no byte.

mod cli_support;

use checkpoint_journal::{Entry, Journal, MetaRecord};
use cli_support::{code, cpj, fingerprint, json, path_str, small, stdout, TestResult};

#[test]
fn cursors_lists_positions_and_flags_a_foreign_cursor() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(dir.path(), small())?;
    let lsn = journal.append(Entry::push(1, 1, 0))?;
    journal.append(Entry::push(1, 2, 0))?;
    journal.cursor("sink-a")?.commit(lsn)?;
    let id = journal.journal_id();
    journal.close()?;
    let before = fingerprint(dir.path());

    let out = cpj(&["cursors", path_str(dir.path())]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("sink-a"), "{}", stdout(&out));
    let v = json(&cpj(&["cursors", path_str(dir.path()), "--json"]));
    assert_eq!(v["schema"], "cpj.cursors.v1");
    assert_eq!(v["journal_id"], format!("{id:032x}"));
    assert_eq!(v["cursors"][0]["name"], "sink-a");
    assert_eq!(v["cursors"][0]["position"], lsn.0);
    assert_eq!(v["cursors"][0]["foreign"], false);
    assert_eq!(fingerprint(dir.path()), before, "cpj cursors changed files");

    let journal = Journal::open(dir.path(), small())?;
    journal.append_meta(&MetaRecord::CursorCommitted {
        journal_id: id ^ 1,
        name: "copied".into(),
        position: 0,
    })?;
    journal.close()?;
    let out = cpj(&["cursors", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    let copied = v["cursors"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "copied"))
        .ok_or("copied cursor missing")?;
    assert_eq!(copied["foreign"], true);
    Ok(())
}
