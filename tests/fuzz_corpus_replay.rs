//! Replays every checked-in fuzz corpus file through the same body its cargo-fuzz target
//! runs (`fuzz/src/`, included here), on stable Rust: a crasher once found and added to
//! `fuzz/corpus/<target>/` stays fixed. The bodies carry their own oracles (see each
//! module's `//!`), so a replay checks more than the absence of a panic.
//!
//! The seeds themselves come from `fuzz/src/seeds.rs`: `cargo test --features sim --test
//! fuzz_corpus_replay -- --ignored write_seed_corpora` writes them again.

#[expect(
    unreachable_pub,
    reason = "the bodies are a library's public API in the fuzz crate"
)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz_bodies;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

type Body = fn(&[u8]);

/// Each target's name (its corpus directory) and body.
const TARGETS: [(&str, Body); 7] = [
    ("frame_decode", fuzz_bodies::frame_decode::run),
    ("segment_scan", fuzz_bodies::segment_scan::run),
    ("checkpoint_decode", fuzz_bodies::checkpoint_decode::run),
    ("ops_with_crash", fuzz_bodies::ops_with_crash::run),
    ("meta_decode", fuzz_bodies::meta_decode::run),
    ("snapshot_decode", fuzz_bodies::snapshot_decode::run),
    ("summary_decode", fuzz_bodies::summary_decode::run),
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The files of a target's corpus, in name order.
fn corpus(target: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir(target))?
        .map(|item| item.map(|i| i.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.is_file());
    files.sort();
    Ok(files)
}

fn replay(target: &str, body: Body) -> Result<(), Box<dyn std::error::Error>> {
    let files = corpus(target)?;
    assert!(!files.is_empty(), "the {target} corpus is empty");
    let mut failures = Vec::new();
    for file in &files {
        let bytes = fs::read(file)?;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body(&bytes))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(ToString::to_string))
                .unwrap_or_default();
            failures.push(format!("{}: {why}", file.display()));
        }
    }
    println!("{target}: {} corpus files replayed", files.len());
    assert!(failures.is_empty(), "{target}: {failures:#?}");
    Ok(())
}

#[test]
fn frame_decode_corpus_replays() -> Result<(), Box<dyn std::error::Error>> {
    replay(TARGETS[0].0, TARGETS[0].1)
}

#[test]
fn segment_scan_corpus_replays() -> Result<(), Box<dyn std::error::Error>> {
    replay(TARGETS[1].0, TARGETS[1].1)
}

#[test]
fn checkpoint_decode_corpus_replays() -> Result<(), Box<dyn std::error::Error>> {
    replay(TARGETS[2].0, TARGETS[2].1)
}

#[test]
fn ops_with_crash_corpus_replays() -> Result<(), Box<dyn std::error::Error>> {
    replay(TARGETS[3].0, TARGETS[3].1)
}

#[test]
fn meta_decode_corpus_replays() -> Result<(), Box<dyn std::error::Error>> {
    replay(TARGETS[4].0, TARGETS[4].1)
}

#[test]
fn snapshot_decode_corpus_replays() -> Result<(), Box<dyn std::error::Error>> {
    replay(TARGETS[5].0, TARGETS[5].1)
}

#[test]
fn summary_decode_corpus_replays() -> Result<(), Box<dyn std::error::Error>> {
    replay(TARGETS[6].0, TARGETS[6].1)
}

/// A corpus directory without a replay test above would never be run on stable.
#[test]
fn every_corpus_directory_is_replayed() -> Result<(), Box<dyn std::error::Error>> {
    let mut dirs: Vec<String> =
        fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"))?
            .map(|item| item.map(|i| i.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
    dirs.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_string()).collect();
    names.sort();
    assert_eq!(dirs, names);
    Ok(())
}

/// Writes the seed inputs of every target (run once; fuzzing adds files beside them).
#[test]
#[ignore = "writes fuzz/corpus/*/seed_*; run by hand"]
fn write_seed_corpora() -> Result<(), Box<dyn std::error::Error>> {
    use fuzz_bodies::seeds;
    seeds::write(&corpus_dir("frame_decode"), &seeds::frame_decode())?;
    seeds::write(&corpus_dir("segment_scan"), &seeds::segment_scan())?;
    seeds::write(
        &corpus_dir("checkpoint_decode"),
        &seeds::checkpoint_decode(),
    )?;
    seeds::write(&corpus_dir("ops_with_crash"), &seeds::ops_with_crash())?;
    seeds::write(
        &corpus_dir("snapshot_decode"),
        &fuzz_bodies::snapshot_decode::seeds(),
    )?;
    seeds::write(&corpus_dir("meta_decode"), &seeds::meta_decode())?;
    seeds::write(
        &corpus_dir("summary_decode"),
        &fuzz_bodies::summary_decode::seeds(),
    )?;
    Ok(())
}
