//! `cpj archive status|gc` and `cpj restore` on an archive in the local filesystem:
//! status lists what the manifest holds, restore rebuilds a journal that opens with the
//! same frames, gc keeps everything the manifest references.

mod archive_support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use archive_support::{fill_segments, frames_below, options, tempdir};
use checkpoint_journal::archive::object_store::local::LocalFileSystem;
use checkpoint_journal::archive::{ArchiveConfig, ArchiveMode};
use checkpoint_journal::{Journal, Result};

fn cpj(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_cpj"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the cpj binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(text.trim()).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), value)
}

#[test]
fn status_restore_and_gc_through_the_cli() -> Result<()> {
    let (src, archive, dst) = (tempdir()?, tempdir()?, tempdir()?);
    let store = Arc::new(LocalFileSystem::new_with_prefix(archive.path()).expect("a local store"));
    let journal = Journal::open(src.path(), options())?;
    let config = ArchiveConfig::default()
        .mode(ArchiveMode::SingleWriter)
        .poll_interval(Duration::from_millis(5));
    let archiver = journal.start_archiver(store, "", config)?;
    let sealed = fill_segments(&journal, 3, 0)?;
    archiver.wait_archived(sealed, Duration::from_secs(20))?;
    archiver.stop()?;
    let url = format!("file://{}", archive.path().display());

    let (code, status) = cpj(&["archive", "status", &url, "--json"]);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["schema"], "cpj.archive_status.v1");
    assert_eq!(
        status["journal_id"],
        format!("{:032x}", journal.journal_id())
    );
    assert_eq!(status["segments"].as_array().map(Vec::len), Some(3));
    assert_eq!(status["end_lsn"], sealed.0);

    let target = dst.path().join("j");
    let target_str = target.to_string_lossy().to_string();
    let (code, restored) = cpj(&["restore", &url, &target_str, "--json"]);
    assert_eq!(code, 0, "{restored}");
    assert_eq!(restored["restored_end_lsn"], sealed.0);
    let reopened = Journal::open(&target, options())?;
    assert_eq!(
        frames_below(&reopened, sealed)?,
        frames_below(&journal, sealed)?
    );

    let (code, gc) = cpj(&["archive", "gc", &url, "--json"]);
    assert_eq!(code, 0, "{gc}");
    assert_eq!(gc["referenced"], 3);
    assert_eq!(gc["deleted"].as_array().map(Vec::len), Some(0));

    let (code, _) = cpj(&[
        "archive",
        "status",
        &dst.path().join("none").to_string_lossy(),
        "--json",
    ]);
    assert_eq!(code, 2, "no manifest is an error");
    Ok(())
}
