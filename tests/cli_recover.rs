//! `cpj recover`: a dry run (the default) changes no byte on disk and says what opening
//! would truncate; `--apply` opens for real, refuses a directory another handle holds
//! (naming the holder), and leaves a journal that verifies clean.

mod cli_support;

use checkpoint_journal::Journal;
use cli_support::{
    code, cpj, fingerprint, flip, json, locate, path_str, small, stderr, stdout, write_journal,
    TestResult,
};

/// A crashed journal whose last frame is torn.
fn torn(dir: &std::path::Path) -> Result<u64, Box<dyn std::error::Error>> {
    let written = write_journal(dir, 120, false)?;
    let last = *written.frames.last().ok_or("no frame")?;
    let (file, offset) = locate(dir, last);
    flip(&file, offset + 24, 0x40)?;
    Ok(last.0)
}

#[test]
fn a_dry_run_changes_no_byte_in_any_mode() -> TestResult {
    let dir = tempfile::tempdir()?;
    let torn_at = torn(dir.path())?;
    let before = fingerprint(dir.path());
    for mode in ["tolerate", "strict", "salvage"] {
        let out = cpj(&["recover", path_str(dir.path()), "--mode", mode]);
        let expected = i32::from(mode == "strict");
        assert_eq!(code(&out), expected, "mode {mode}");
        let out = cpj(&["recover", path_str(dir.path()), "--mode", mode, "--json"]);
        let v = json(&out);
        assert_eq!(v["schema"], "cpj.recover.v1");
        assert_eq!(v["applied"], false);
        assert_eq!(v["mode"], mode);
        if mode == "strict" {
            assert_eq!(v["ok"], false);
            assert!(v["error"].as_str().unwrap().contains("torn tail"), "{v}");
        } else {
            assert_eq!(v["ok"], true);
            let report = &v["report"];
            assert_eq!(report["dry_run"], true);
            assert_eq!(report["case"], "torn_tail", "{v}");
            assert_eq!(report["end_lsn"].as_u64(), Some(torn_at));
            assert!(report["torn_bytes"].as_u64().unwrap() > 0);
        }
    }
    let out = cpj(&["recover", path_str(dir.path())]);
    assert!(stdout(&out).contains("would zero"), "{}", stdout(&out));
    assert_eq!(
        fingerprint(dir.path()),
        before,
        "a dry run changed the directory"
    );
    Ok(())
}

#[test]
fn apply_truncates_the_torn_tail_and_the_journal_then_verifies_clean() -> TestResult {
    let dir = tempfile::tempdir()?;
    let torn_at = torn(dir.path())?;
    assert_eq!(code(&cpj(&["verify", path_str(dir.path())])), 1);
    let out = cpj(&["recover", path_str(dir.path()), "--apply", "--json"]);
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["applied"], true);
    assert_eq!(v["report"]["dry_run"], false);
    assert_eq!(v["report"]["end_lsn"].as_u64(), Some(torn_at));
    assert_eq!(code(&cpj(&["verify", path_str(dir.path())])), 0);
    let journal = Journal::open(dir.path(), small())?;
    assert_eq!(journal.recovery_report().torn_bytes, 0);
    assert_eq!(journal.end_lsn().0, torn_at);
    Ok(())
}

#[test]
fn apply_on_a_locked_directory_fails_naming_the_holder() -> TestResult {
    let dir = tempfile::tempdir()?;
    write_journal(dir.path(), 50, true)?;
    let holder = checkpoint_journal::storage::this_holder();
    // No background preallocation, so the files stay still while they are compared.
    let journal = Journal::open(dir.path(), small().preallocate(false))?;
    let before = fingerprint(dir.path());
    let out = cpj(&["recover", path_str(dir.path()), "--apply"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains(&holder), "names {holder}: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Read-only commands still run beside the writer, and see it.
    let out = cpj(&["inspect", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 0);
    assert_eq!(json(&out)["lock_holder"].as_str(), Some(holder.as_str()));
    assert_eq!(code(&cpj(&["recover", path_str(dir.path())])), 0);
    assert_eq!(fingerprint(dir.path()), before);
    journal.append(checkpoint_journal::Entry::push(9, 1, 1))?;
    journal.close()?;
    Ok(())
}

#[test]
fn damage_below_the_durable_frontier_fails_unless_salvaged() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 200, true)?;
    let victim = written.frames[50];
    let (file, offset) = locate(dir.path(), victim);
    flip(&file, offset + 30, 0x08)?;
    let out = cpj(&["recover", path_str(dir.path())]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("--mode salvage"), "{}", stdout(&out));
    let v = json(&cpj(&[
        "recover",
        path_str(dir.path()),
        "--mode",
        "salvage",
        "--json",
    ]));
    assert_eq!(v["report"]["case"], "durable_damage");
    assert_eq!(v["report"]["dropped"]["from_lsn"].as_u64(), Some(victim.0));
    let out = cpj(&[
        "recover",
        path_str(dir.path()),
        "--mode",
        "salvage",
        "--apply",
    ]);
    assert_eq!(code(&out), 0);
    assert_eq!(code(&cpj(&["verify", path_str(dir.path())])), 0);
    let journal = Journal::open(dir.path(), small())?;
    assert_eq!(journal.end_lsn(), victim);
    Ok(())
}
