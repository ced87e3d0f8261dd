//! Archiving to object storage and restoring from it, against `object_store`'s
//! in-memory and local-filesystem stores (docs/ARCHIVING.md): a restore reproduces the
//! archived frames exactly; a zombie writer is fenced; a missing or damaged segment is
//! detected and the restore falls back to the segment before it; an outage stalls
//! archiving, never appends, and archiving catches up; a store that ignores
//! preconditions is refused in fenced mode.

mod archive_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use archive_support::{fill_segments, frames_below, options, tempdir, Wrapped, CAPACITY};
use checkpoint_journal::archive::object_store::local::LocalFileSystem;
use checkpoint_journal::archive::object_store::memory::InMemory;
use checkpoint_journal::archive::object_store::path::Path;
use checkpoint_journal::archive::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use checkpoint_journal::archive::{collect_garbage, read_manifest, ArchiveConfig, ArchiveMode};
use checkpoint_journal::{Error, Journal, Lsn, Result};

const WAIT: Duration = Duration::from_secs(20);

fn fast() -> ArchiveConfig {
    ArchiveConfig::default()
        .poll_interval(Duration::from_millis(5))
        .retries(3, Duration::from_millis(5), Duration::from_millis(40))
}

fn memory() -> Arc<dyn ObjectStore> {
    Arc::new(InMemory::new())
}

#[test]
fn a_restore_reproduces_every_archived_frame() -> Result<()> {
    let (src, dst) = (tempdir()?, tempdir()?);
    let store = memory();
    let journal = Journal::open(src.path(), options())?;
    let archiver = journal.start_archiver(Arc::clone(&store), "jobs/a", fast())?;
    let sealed = fill_segments(&journal, 4, 0)?;
    assert_eq!(archiver.wait_archived(sealed, WAIT)?, sealed);
    let stats = archiver.stop()?;
    assert_eq!(stats.segments_uploaded, sealed.0 / CAPACITY);
    assert_eq!(stats.errors, 0);

    let target = dst.path().join("restored");
    let (restored, report) = Journal::restore_from(store, "jobs/a", &target, options())?;
    assert_eq!(report.restored_end_lsn, sealed.0);
    assert!(report.skipped.is_empty());
    assert_eq!(restored.journal_id(), journal.journal_id());
    let expected = frames_below(&journal, sealed)?;
    assert!(expected.len() > 100);
    assert_eq!(frames_below(&restored, sealed)?, expected);
    // The restored journal goes on appending.
    fill_segments(&restored, 1, 7)?;
    Ok(())
}

#[test]
fn a_zombie_writer_is_fenced_and_the_manifest_never_moves_back() -> Result<()> {
    let (old_dir, new_dir) = (tempdir()?, tempdir()?);
    let store = memory();
    let old = Journal::open(old_dir.path(), options())?;
    let zombie = old.start_archiver(Arc::clone(&store), "p", fast())?;
    let sealed = fill_segments(&old, 2, 0)?;
    zombie.wait_archived(sealed, WAIT)?;

    // Failover: another machine restores and takes the archive over.
    let target = new_dir.path().join("j");
    let (new, _) = Journal::restore_from(Arc::clone(&store), "p", &target, options())?;
    let owner = new.start_archiver(Arc::clone(&store), "p", fast())?;
    assert_eq!(owner.stats().epoch, zombie.stats().epoch + 1);
    let owner_end = fill_segments(&new, 2, 100)?;
    owner.wait_archived(owner_end, WAIT)?;

    // The zombie seals more and tries to publish it.
    let zombie_end = fill_segments(&old, 1, 200)?;
    let err = zombie.wait_archived(zombie_end, WAIT).unwrap_err();
    assert!(matches!(err, Error::Fenced { .. }), "{err}");
    assert!(zombie.stats().stopped.is_some());
    let manifest = read_manifest(Arc::clone(&store), "p")?.unwrap();
    assert_eq!(manifest.epoch, owner.stats().epoch);
    assert_eq!(manifest.end_lsn(), Some(owner_end.0));
    assert!(matches!(zombie.stop(), Err(Error::Fenced { .. })));

    // GC removes the zombie's unpublished upload and nothing the manifest references.
    let gc = collect_garbage(Arc::clone(&store), "p")?;
    assert_eq!(gc.deleted.len(), 1, "{gc:?}");
    assert_eq!(gc.referenced, manifest.segments.len() as u64);
    assert!(collect_garbage(Arc::clone(&store), "p")?.deleted.is_empty());
    let again = tempdir()?;
    let (_, report) = Journal::restore_from(store, "p", again.path(), options())?;
    assert_eq!(report.restored_end_lsn, owner_end.0);
    drop(owner);
    Ok(())
}

/// Archives four segments and returns the store, the journal's dir and the keys.
fn archived_four() -> Result<(Arc<dyn ObjectStore>, tempfile::TempDir, Vec<Path>)> {
    let src = tempdir()?;
    let store = memory();
    let journal = Journal::open(src.path(), options())?;
    let archiver = journal.start_archiver(Arc::clone(&store), "x", fast())?;
    let sealed = fill_segments(&journal, 4, 0)?;
    archiver.wait_archived(sealed, WAIT)?;
    archiver.stop()?;
    let manifest = read_manifest(Arc::clone(&store), "x")?.expect("a manifest");
    let keys = manifest
        .segments
        .iter()
        .map(|s| {
            Path::from(format!(
                "x/{:032x}/segments/{:016x}-{:016x}.seg",
                manifest.journal_id, s.base_lsn, s.epoch
            ))
        })
        .collect();
    Ok((store, src, keys))
}

/// Runs the test's own store calls.
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

#[test]
fn a_corrupted_segment_is_detected_and_the_restore_stops_before_it() -> Result<()> {
    let (store, _src, keys) = archived_four()?;
    let mut bytes = block_on(async { store.get(&keys[2]).await?.bytes().await })
        .unwrap()
        .to_vec();
    bytes[5000] ^= 0x40;
    block_on(store.put(&keys[2], PutPayload::from(bytes))).unwrap();
    let dst = tempdir()?;
    let (journal, report) = Journal::restore_from(store, "x", dst.path(), options())?;
    assert_eq!(report.segments_restored, 2);
    assert_eq!(report.restored_end_lsn, 2 * CAPACITY);
    assert_eq!(report.manifest_end_lsn, 4 * CAPACITY);
    assert_eq!(report.skipped.len(), 1);
    assert!(
        report.skipped[0].reason.contains("CRC32C"),
        "{:?}",
        report.skipped
    );
    assert_eq!(journal.end_lsn(), Lsn(2 * CAPACITY));
    Ok(())
}

#[test]
fn a_deleted_segment_is_detected_and_the_restore_stops_before_it() -> Result<()> {
    let (store, _src, keys) = archived_four()?;
    block_on(store.delete(&keys[1])).unwrap();
    let dst = tempdir()?;
    let (_, report) = Journal::restore_from(Arc::clone(&store), "x", dst.path(), options())?;
    assert_eq!(report.restored_end_lsn, CAPACITY);
    assert_eq!(report.skipped[0].reason, "missing");
    // Without even the first segment there is nothing to restore: a clear error.
    block_on(store.delete(&keys[0])).unwrap();
    let err = checkpoint_journal::archive::restore(store, "x", &dst.path().join("b")).unwrap_err();
    assert!(matches!(err, Error::RemoteCorrupt { .. }), "{err}");
    Ok(())
}

#[test]
fn a_restore_refuses_a_directory_that_is_not_empty() -> Result<()> {
    let (store, src, _) = archived_four()?;
    let err = checkpoint_journal::archive::restore(store, "x", src.path()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidOptions { field: "dir", .. }),
        "{err}"
    );
    Ok(())
}

#[test]
fn an_outage_stalls_archiving_not_appends_and_archiving_catches_up() -> Result<()> {
    let dir = tempdir()?;
    let wrapped = Arc::new(Wrapped::new(memory()));
    let store: Arc<dyn ObjectStore> = Arc::clone(&wrapped) as Arc<dyn ObjectStore>;
    let journal = Journal::open(dir.path(), options())?;
    let archiver = journal.start_archiver(store, "o", fast())?;
    let before = fill_segments(&journal, 1, 0)?;
    archiver.wait_archived(before, WAIT)?;

    wrapped.down.store(true, Ordering::SeqCst);
    let during = fill_segments(&journal, 6, 10)?;
    std::thread::sleep(Duration::from_millis(200));
    let stalled = archiver.stats();
    assert_eq!(stalled.archived_lsn, before.0);
    assert!(stalled.errors > 0 && stalled.retries > 0, "{stalled:?}");
    assert!(stalled.last_error.is_some());
    assert!(stalled.stopped.is_none());
    assert!(stalled.backlog_segments > 0, "{stalled:?}");

    wrapped.down.store(false, Ordering::SeqCst);
    assert_eq!(archiver.wait_archived(during, WAIT)?, during);
    assert_eq!(archiver.stats().queue_depth, 0);
    archiver.stop()?;
    Ok(())
}

#[test]
fn a_store_that_ignores_preconditions_is_refused_in_fenced_mode() -> Result<()> {
    let dir = tempdir()?;
    let mut wrapped = Wrapped::new(memory());
    wrapped.ignore_preconditions = true;
    let store: Arc<dyn ObjectStore> = Arc::new(wrapped);
    let journal = Journal::open(dir.path(), options())?;
    let err = journal
        .start_archiver(Arc::clone(&store), "g", fast())
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionsIgnored { .. }), "{err}");
    assert!(err.to_string().contains("SingleWriter"));
    // Chosen explicitly, single-writer mode archives on it.
    let archiver = journal.start_archiver(store, "g", fast().mode(ArchiveMode::SingleWriter))?;
    let sealed = fill_segments(&journal, 1, 0)?;
    assert_eq!(archiver.wait_archived(sealed, WAIT)?, sealed);
    Ok(())
}

#[test]
fn quoted_etags_refused_by_the_store_are_recovered_by_rereading() -> Result<()> {
    let dir = tempdir()?;
    let mut wrapped = Wrapped::new(memory());
    wrapped.quote_etags = true;
    let wrapped = Arc::new(wrapped);
    let store: Arc<dyn ObjectStore> = Arc::clone(&wrapped) as Arc<dyn ObjectStore>;
    let journal = Journal::open(dir.path(), options())?;
    let archiver = journal.start_archiver(store, "q", fast())?;
    let sealed = fill_segments(&journal, 3, 0)?;
    assert_eq!(archiver.wait_archived(sealed, WAIT)?, sealed);
    let stats = archiver.stop()?;
    assert_eq!(stats.manifests_published, 4);
    // The probe makes 3 updates; the first publish 2 (the refusal of the quoted ETag,
    // then the other spelling), which is remembered: each later publish makes 1.
    assert_eq!(wrapped.updates.load(Ordering::SeqCst), 3 + 2 + 2);
    Ok(())
}

#[test]
fn the_local_filesystem_store_archives_in_single_writer_mode_only() -> Result<()> {
    let (src, remote, dst) = (tempdir()?, tempdir()?, tempdir()?);
    let fs = LocalFileSystem::new_with_prefix(remote.path()).unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(fs);
    let journal = Journal::open(src.path(), options())?;
    let err = journal
        .start_archiver(Arc::clone(&store), "l", fast())
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionsIgnored { .. }), "{err}");
    let single = fast().mode(ArchiveMode::SingleWriter);
    let archiver = journal.start_archiver(Arc::clone(&store), "l", single)?;
    let sealed = fill_segments(&journal, 3, 0)?;
    archiver.wait_archived(sealed, WAIT)?;
    archiver.stop()?;
    let (restored, _) = Journal::restore_from(store, "l", dst.path().join("r"), options())?;
    assert_eq!(
        frames_below(&restored, sealed)?,
        frames_below(&journal, sealed)?
    );
    Ok(())
}
