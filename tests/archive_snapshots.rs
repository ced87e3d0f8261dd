//! Archiving snapshots (docs/ARCHIVING.md): compaction's snapshot files are uploaded
//! and published with the manifest trimmed to the kept snapshots; a restore installs
//! the newest snapshot that checks (falling back to an older one, reported) and the
//! segments after it; an archiver started after compaction retired segments it never
//! archived restarts the archive from the newest snapshot; the archiver's pin keeps
//! compaction from retiring what it has not archived.

mod archive_support;

use std::sync::Arc;
use std::time::Duration;

use archive_support::{fill_segments, options, tempdir};
use checkpoint_journal::archive::object_store::memory::InMemory;
use checkpoint_journal::archive::object_store::path::Path;
use checkpoint_journal::archive::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use checkpoint_journal::archive::{collect_garbage, read_manifest, ArchiveConfig};
use checkpoint_journal::{Journal, Lsn, Result};

const WAIT: Duration = Duration::from_secs(20);

fn fast() -> ArchiveConfig {
    ArchiveConfig::default()
        .poll_interval(Duration::from_millis(5))
        .retries(3, Duration::from_millis(5), Duration::from_millis(40))
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// Waits until the archiver's stats show a snapshot at `lsn`.
fn wait_snapshot(archiver: &checkpoint_journal::archive::Archiver, lsn: Lsn) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if archiver.stats().snapshot_lsn == Some(lsn.0) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn snapshots_are_archived_trimmed_and_restored_with_fallback() -> Result<()> {
    let src = tempdir()?;
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let journal = Journal::open(src.path(), options())?;
    let archiver = journal.start_archiver(Arc::clone(&store), "s", fast())?;
    let mut snapshots = Vec::new();
    for round in 0..3u64 {
        fill_segments(&journal, 2, round * 1000)?;
        snapshots.push(journal.compact()?);
        let sealed = fill_segments(&journal, 1, round * 1000 + 500)?;
        archiver.wait_archived(sealed, WAIT)?;
        assert!(wait_snapshot(&archiver, snapshots[snapshots.len() - 1]));
    }
    let end = Lsn(archiver.stats().archived_lsn);
    let manifest = read_manifest(Arc::clone(&store), "s")?.expect("a manifest");
    let kept: Vec<u64> = manifest.snapshots.iter().map(|s| s.lsn).collect();
    assert_eq!(kept, vec![snapshots[1].0, snapshots[2].0]);
    let first = manifest.segments.first().expect("segments").base_lsn;
    assert!(first > 0 && first <= snapshots[1].0);

    let dst = tempdir()?;
    let (restored, report) =
        Journal::restore_from(Arc::clone(&store), "s", dst.path().join("a"), options())?;
    assert_eq!(report.snapshot_lsn, Some(snapshots[2].0));
    assert!(report.skipped.is_empty());
    let from = restored.first_lsn();
    assert!(from.0 <= snapshots[2].0);
    let original: Vec<_> = frames_from(&journal, from, end)?;
    assert!(!original.is_empty());
    assert_eq!(frames_from(&restored, from, end)?, original);

    // The newest snapshot object damaged: the older one is installed, and reported.
    let key = Path::from(format!(
        "s/{:032x}/snapshots/{:016x}-{:016x}.snap",
        manifest.journal_id, snapshots[2].0, manifest.epoch
    ));
    block_on(store.put(&key, PutPayload::from(vec![0u8; 4096]))).unwrap();
    let (older, report) =
        Journal::restore_from(Arc::clone(&store), "s", dst.path().join("b"), options())?;
    assert_eq!(report.snapshot_lsn, Some(snapshots[1].0));
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].key, key.to_string());
    assert_eq!(
        frames_from(&older, older.first_lsn(), end)?,
        frames_from(&journal, older.first_lsn(), end)?
    );

    // Garbage collection removes the trimmed snapshot and segments, keeps the rest.
    let gc = collect_garbage(Arc::clone(&store), "s")?;
    assert!(
        gc.deleted.iter().any(|k| k.contains("/snapshots/")),
        "{gc:?}"
    );
    assert!(
        gc.deleted.iter().any(|k| k.contains("/segments/")),
        "{gc:?}"
    );
    assert_eq!(
        gc.referenced,
        (manifest.segments.len() + manifest.snapshots.len()) as u64
    );
    archiver.stop()?;
    Ok(())
}

#[test]
fn an_archiver_started_after_compaction_retired_unarchived_segments_restarts_from_a_snapshot(
) -> Result<()> {
    let src = tempdir()?;
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let journal = Journal::open(src.path(), options())?;
    let archiver = journal.start_archiver(Arc::clone(&store), "r", fast())?;
    let sealed = fill_segments(&journal, 2, 0)?;
    archiver.wait_archived(sealed, WAIT)?;
    archiver.stop()?;
    // Without an archiver, compaction retires segments that were never archived.
    for round in 1..4u64 {
        fill_segments(&journal, 2, round * 1000)?;
        journal.compact()?;
    }
    let archiver = journal.start_archiver(Arc::clone(&store), "r", fast())?;
    let stats = archiver.stats();
    assert_eq!(stats.snapshots_uploaded, 1);
    // It archives from the journal's first segment (a round may already have run).
    assert!(stats.archived_lsn >= journal.first_lsn().0);
    let sealed = fill_segments(&journal, 1, 9000)?;
    archiver.wait_archived(sealed, WAIT)?;
    let dst = tempdir()?;
    let (restored, report) = Journal::restore_from(Arc::clone(&store), "r", dst.path(), options())?;
    assert_eq!(report.snapshot_lsn, stats.snapshot_lsn);
    let from = restored.first_lsn();
    assert_eq!(
        frames_from(&restored, from, sealed)?,
        frames_from(&journal, from, sealed)?
    );
    Ok(())
}

#[test]
fn compaction_keeps_the_segments_the_archiver_has_not_archived() -> Result<()> {
    let src = tempdir()?;
    let wrapped = Arc::new(archive_support::Wrapped::new(Arc::new(InMemory::new())));
    let store: Arc<dyn ObjectStore> = Arc::clone(&wrapped) as Arc<dyn ObjectStore>;
    let journal = Journal::open(src.path(), options())?;
    let archiver = journal.start_archiver(store, "k", fast())?;
    let first_sealed = fill_segments(&journal, 1, 0)?;
    archiver.wait_archived(first_sealed, WAIT)?;
    wrapped
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    fill_segments(&journal, 3, 100)?;
    journal.compact()?;
    journal.compact()?;
    assert_eq!(
        journal.first_lsn(),
        first_sealed,
        "the pin holds the first unarchived segment"
    );
    wrapped
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let sealed = fill_segments(&journal, 1, 900)?;
    assert_eq!(archiver.wait_archived(sealed, WAIT)?, sealed);
    Ok(())
}

/// Frames in `[from, end)`.
fn frames_from(journal: &Journal, from: Lsn, end: Lsn) -> Result<Vec<checkpoint_journal::Frame>> {
    let all = frames_below_from(journal, from)?;
    Ok(all.into_iter().filter(|f| lsn_of(f) < end).collect())
}

fn frames_below_from(journal: &Journal, from: Lsn) -> Result<Vec<checkpoint_journal::Frame>> {
    let mut out = Vec::new();
    for frame in journal.read_from(from)? {
        out.push(frame?);
    }
    Ok(out)
}

fn lsn_of(frame: &checkpoint_journal::Frame) -> Lsn {
    match frame {
        checkpoint_journal::Frame::Entries { lsn, .. }
        | checkpoint_journal::Frame::Checkpoint { lsn, .. } => *lsn,
        _ => Lsn(u64::MAX),
    }
}
