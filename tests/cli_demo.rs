//! `cpj demo`: the workload, crash and recovery check succeed, the kept journal then
//! inspects and verifies clean, a temporary one is removed, and a directory that
//! already holds files is refused.

mod cli_support;

use cli_support::{code, cpj, json, path_str, stderr, stdout, TestResult};

const SMALL: [&str; 6] = [
    "--entries",
    "40000",
    "--sources",
    "3",
    "--segment-size",
    "262144",
];

#[test]
fn demo_dir_then_inspect_and_verify_succeed() -> TestResult {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("demo");
    let mut args = vec!["demo", "--dir", path_str(&dir)];
    args.extend(SMALL);
    let out = cpj(&args);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.contains("entries/s"), "{text}");
    assert!(
        text.contains("every source's recovered position matches"),
        "{text}"
    );
    assert!(
        text.contains(&format!("cpj inspect {}", dir.display())),
        "{text}"
    );

    let out = cpj(&["inspect", path_str(&dir), "--json"]);
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["sources"].as_array().map(Vec::len), Some(3));
    assert!(v["segments"].as_array().map_or(0, Vec::len) >= 4, "{v}");
    assert_eq!(code(&cpj(&["inspect", path_str(&dir)])), 0);

    let out = cpj(&["verify", path_str(&dir), "--json"]);
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["clean"], true);
    assert!(v["entries"].as_u64().unwrap() >= 40_000 - 2);

    let out = cpj(&["demo", "--dir", path_str(&dir)]);
    assert_eq!(code(&out), 2, "a directory with a journal is refused");
    assert!(stderr(&out).contains("not empty"));
    Ok(())
}

#[test]
fn demo_json_reports_throughput_recovery_and_every_source() -> TestResult {
    let mut args = vec!["demo", "--json"];
    args.extend(SMALL);
    let out = cpj(&args);
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["schema"], "cpj.demo.v1");
    assert_eq!(v["ok"], true);
    assert_eq!(v["kept"], false);
    let dir = v["dir"].as_str().ok_or("dir")?;
    assert!(
        !std::path::Path::new(dir).exists(),
        "the temporary journal was removed"
    );
    let append = &v["append"];
    for f in [
        "entries",
        "pushes",
        "checkpoints",
        "seconds",
        "entries_per_sec",
        "mb_per_sec",
    ] {
        assert!(append.get(f).is_some(), "append.{f} in {v}");
    }
    assert_eq!(append["pushes"].as_u64(), Some(39_999));
    assert!(append["checkpoints"].as_u64().unwrap() >= 1);
    let entries = append["entries"].as_u64();
    assert_eq!(v["recovery"]["entries_replayed"].as_u64(), entries);
    assert_eq!(
        v["last_checkpoint"]["appended_id"],
        v["last_checkpoint"]["recovered_id"]
    );
    let sources = v["sources"].as_array().ok_or("sources")?;
    assert_eq!(sources.len(), 3);
    for s in sources {
        assert_eq!(s["ok"], true);
        assert_eq!(s["recovered_sequence"], s["appended_sequence"]);
        assert_eq!(s["restored_sequence"], s["appended_sequence"]);
    }
    Ok(())
}
