//! `cpj verify`: exit status 0 for a clean journal, 1 for each damage shape with the
//! damaged frame's LSN named (and the next valid frame found by resynchronisation), 2
//! when it cannot run; and the scan never changes a byte.

mod cli_support;

use checkpoint_journal::Lsn;
use cli_support::{
    code, cpj, fingerprint, flip, json, locate, overwrite, path_str, stderr, stdout, write_journal,
    TestResult,
};

#[test]
fn a_clean_journal_verifies_with_exit_0() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 400, true)?;
    let before = fingerprint(dir.path());
    let out = cpj(&["verify", path_str(dir.path())]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("clean"));
    let out = cpj(&["verify", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["schema"], "cpj.verify.v1");
    assert_eq!(v["clean"], true);
    assert!(v["segments"].as_u64().unwrap() >= 3, "{v}");
    assert_eq!(v["entries"].as_u64(), Some(written.entries));
    assert_eq!(
        v["checkpoints"].as_u64(),
        Some(written.checkpoints.len() as u64)
    );
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0));
    assert_eq!(fingerprint(dir.path()), before, "verify changed a file");
    Ok(())
}

#[test]
fn a_bit_flip_below_the_durable_frontier_is_damage_at_its_lsn() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 400, true)?;
    let victim = written.frames[100];
    let next = written.frames[101];
    let (file, offset) = locate(dir.path(), victim);
    flip(&file, offset + 40, 0x10)?;

    let out = cpj(&["verify", path_str(dir.path())]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.contains(&victim.0.to_string()),
        "names the LSN:\n{text}"
    );
    assert!(text.contains("frame_checksum_mismatch"));

    let v = json(&cpj(&["verify", path_str(dir.path()), "--json"]));
    assert_eq!(v["clean"], false);
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{v}");
    let p = &problems[0];
    assert_eq!(p["lsn"].as_u64(), Some(victim.0));
    assert_eq!(p["offset"].as_u64(), Some(offset));
    assert_eq!(p["kind"], "frame_checksum_mismatch");
    assert_eq!(p["class"], "damage");
    assert_eq!(p["next_valid_lsn"].as_u64(), Some(next.0), "resynchronised");
    assert_eq!(p["file"].as_str(), Some(path_str(&file)));
    assert_eq!(p["bytes_skipped"].as_u64(), Some(next.0 - victim.0));
    Ok(())
}

#[test]
fn every_damaged_frame_is_reported_after_resynchronising() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 400, true)?;
    let victims = [written.frames[10], written.frames[200], written.frames[300]];
    for lsn in victims {
        let (file, offset) = locate(dir.path(), lsn);
        overwrite(&file, offset, &[0xAB; 8])?;
    }
    let out = cpj(&["verify", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    let lsns: Vec<u64> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["lsn"].as_u64().unwrap())
        .collect();
    assert_eq!(lsns, victims.map(|l| l.0));
    let frames = v["frames"].as_u64().unwrap();
    assert!(frames >= written.frames.len() as u64 - 3, "{v}");
    Ok(())
}

#[test]
fn a_torn_last_frame_after_a_crash_is_a_torn_tail() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 60, false)?;
    let last = *written.frames.last().unwrap();
    let (file, offset) = locate(dir.path(), last);
    flip(&file, offset + 20, 0x01)?;
    let out = cpj(&["verify", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    let p = &v["problems"][0];
    assert_eq!(p["lsn"].as_u64(), Some(last.0));
    assert_eq!(p["class"], "torn_tail", "{v}");
    assert!(p["next_valid_lsn"].is_null());
    Ok(())
}

#[test]
fn a_damaged_segment_header_is_reported_and_its_frames_still_scanned() -> TestResult {
    let dir = tempfile::tempdir()?;
    let written = write_journal(dir.path(), 400, true)?;
    let (second, _) = locate(dir.path(), Lsn(cli_support::SEGMENT_BYTES));
    overwrite(&second, 0, b"NOTMAGIC")?;
    let out = cpj(&["verify", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 1);
    let v = json(&out);
    let p = &v["problems"][0];
    assert_eq!(p["kind"], "segment_header_bad_magic", "{v}");
    assert_eq!(p["file"].as_str(), Some(path_str(&second)));
    assert_eq!(v["entries"].as_u64(), Some(written.entries));
    Ok(())
}

#[test]
fn a_missing_directory_exits_2_with_one_line_saying_what_to_do() {
    let out = cpj(&["verify", "/nonexistent/cpj-journal"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("check the path"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn an_empty_directory_is_no_journal() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = cpj(&["verify", path_str(dir.path()), "--json"]);
    assert_eq!(code(&out), 2);
    let v = json(&out);
    assert_eq!(v["schema"], "cpj.error.v1");
    assert!(v["error"].as_str().unwrap().contains("no journal"));
    Ok(())
}
