//! Runs the logic of every program in `examples/` (each exposes `run`; its `main` only
//! prints), small enough for the test suite, so an example that stops working fails
//! the build instead of a user's first try.

#[path = "../examples/checkpointing.rs"]
#[expect(
    dead_code,
    reason = "the example's main and printed fields run only as a program"
)]
mod checkpointing;

#[path = "../examples/stream_engine.rs"]
#[expect(
    dead_code,
    reason = "the example's main and printed fields run only as a program"
)]
mod stream_engine;

#[path = "../examples/sync_writer.rs"]
#[expect(
    dead_code,
    reason = "the example's main and printed fields run only as a program"
)]
mod sync_writer;

#[path = "../examples/tail_reader.rs"]
#[expect(
    dead_code,
    reason = "the example's main and printed fields run only as a program"
)]
mod tail_reader;

// --- stats (observability and async): the `tokio` feature ---
#[cfg(feature = "tokio")]
#[path = "../examples/async_pipeline.rs"]
#[expect(
    dead_code,
    reason = "the example's main and printed fields run only as a program"
)]
mod async_pipeline;

use checkpoint_journal::Options;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Small segments: opening scans never-written space, which is slow in debug builds.
fn small() -> Options {
    Options::default().segment_size_bytes(1 << 20)
}

#[test]
fn stream_engine_restores_every_source_from_its_last_checkpoint() -> TestResult {
    let dir = tempfile::tempdir()?;
    let summary = stream_engine::run(dir.path(), &small(), 3, 20_000)?;
    assert!(summary.checkpoints >= 1);
    assert_eq!(summary.restored, summary.appended);
    assert!(summary.appended.values().all(|s| *s == 20_000));
    Ok(())
}

#[test]
fn sync_writer_recovers_every_acknowledged_append() -> TestResult {
    let dir = tempfile::tempdir()?;
    let summary = sync_writer::run(dir.path(), &small(), 4, 25)?;
    assert_eq!(summary.appends, 100);
    assert_eq!(summary.recovered, 100);
    assert!(
        summary.flushes >= 1 && summary.flushes <= 100,
        "{summary:?}"
    );
    Ok(())
}

#[test]
fn tail_reader_follows_every_frame_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut calls = 0;
    let summary = tail_reader::run(dir.path(), &small(), 300, |_, _| calls += 1)?;
    assert_eq!(summary.entries, 1_200);
    assert_eq!(summary.last_sequence, 1_200);
    assert_eq!(calls, summary.frames);
    Ok(())
}

#[cfg(feature = "tokio")]
#[test]
fn async_pipeline_acknowledges_and_tails_every_batch() -> TestResult {
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Runtime::new()?;
    let summary = rt.block_on(async_pipeline::run(dir.path(), small(), 50, 16))?;
    assert_eq!(summary.acknowledged, 50);
    assert_eq!(summary.tailed, 50 * 16);
    assert!(summary.stats.contains("entries 800"), "{}", summary.stats);
    Ok(())
}

#[test]
fn checkpointing_restores_rewind_points_offsets_and_the_sink_cursor() -> TestResult {
    let dir = tempfile::tempdir()?;
    let summary = checkpointing::run(dir.path(), &small(), 10_500)?;
    assert_eq!(summary.checkpoints, 10);
    assert!(summary.restored_checkpoint >= 10);
    // Checkpoint 10 was taken after change 10 000: 6 667 orders, 3 333 payments.
    assert_eq!(summary.rewind["slot-orders"], 6_667);
    assert_eq!(summary.rewind["slot-payments"], 3_333);
    assert_eq!(
        summary.offsets["slot-payments"],
        format!("0/{:X}", 0x16B_0000 + 3_333)
    );
    assert_eq!(summary.sink_processed, 10_000);
    // The 500 changes after the last checkpoint were published (a process crash keeps
    // them); the sink reads exactly those after its cursor.
    assert_eq!(summary.sink_resumed, 500);
    assert!(
        summary.replay_refused.contains("backwards"),
        "{}",
        summary.replay_refused
    );
    Ok(())
}
