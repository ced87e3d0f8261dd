//! The simulated storage's model: dirty pages, sync, a failed sync that marks pages
//! clean, directory durability, torn pages, locks and faults.

use std::io;
use std::path::{Path, PathBuf};

use super::*;
use crate::storage::Words;

const DIR: &str = "/sim/journal";

fn file_path(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// A storage with the journal directory and one 4-page file, listed durably.
fn setup() -> (SimStorage, Arc<dyn MappedFile>, PathBuf) {
    let sim = SimStorage::new(7);
    sim.create_dir_all(Path::new(DIR)).unwrap();
    let path = file_path("a.seg");
    let map = sim.create_mapped(&path, 4 * PAGE_BYTES as u64).unwrap();
    sim.sync_dir(Path::new(DIR)).unwrap();
    (sim, map, path)
}

fn put(map: &dyn MappedFile, byte: usize, value: u64) {
    map.words().store(byte / 8, value, Ordering::Relaxed);
}

fn word(bytes: &[u8], byte: usize) -> u64 {
    u64::from_le_bytes(bytes[byte..byte + 8].try_into().unwrap())
}

fn image_word(sim: &SimStorage, policy: CrashPolicy, path: &Path, byte: usize) -> Option<u64> {
    let image = sim.crash_image(policy);
    image.memory_bytes(path).map(|b| word(&b, byte))
}

#[test]
fn dirty_pages_are_the_pages_that_differ_from_synced() {
    let (sim, map, path) = setup();
    assert_eq!(sim.dirty_pages(&path), Some(vec![]));
    put(&*map, 8, 1);
    put(&*map, 2 * PAGE_BYTES + 16, 2);
    assert_eq!(sim.dirty_pages(&path), Some(vec![0, 2]));
    put(&*map, 8, 0);
    assert_eq!(
        sim.dirty_pages(&path),
        Some(vec![2]),
        "a page written back to its synced bytes is clean"
    );
}

#[test]
fn sync_range_writes_back_only_its_pages_and_counts() {
    let (sim, map, path) = setup();
    put(&*map, 8, 1);
    put(&*map, 2 * PAGE_BYTES + 16, 2);
    map.sync_range(100, 10).unwrap();
    assert_eq!(sim.dirty_pages(&path), Some(vec![2]));
    assert_eq!(sim.syncs(&path), Some(1));
    assert_eq!(sim.syncs_total(), 1);
    assert_eq!(word(&sim.durable_bytes(&path).unwrap(), 8), 1);
    assert_eq!(
        word(&sim.durable_bytes(&path).unwrap(), 2 * PAGE_BYTES + 16),
        0
    );
    map.sync_range(PAGE_BYTES, 0).unwrap();
    assert_eq!(sim.syncs_total(), 1, "an empty range makes no system call");
    map.sync_range(PAGE_BYTES + 8, PAGE_BYTES).unwrap();
    assert_eq!(
        sim.dirty_pages(&path),
        Some(vec![]),
        "the range is widened to pages"
    );
}

#[test]
fn crash_images_keep_durable_bytes_and_the_dirty_pages_the_policy_lets_through() {
    let (sim, map, path) = setup();
    put(&*map, 8, 1);
    map.sync_range(0, 16).unwrap();
    put(&*map, PAGE_BYTES, 2);
    assert_eq!(image_word(&sim, CrashPolicy::NONE, &path, 8), Some(1));
    assert_eq!(
        image_word(&sim, CrashPolicy::NONE, &path, PAGE_BYTES),
        Some(0)
    );
    assert_eq!(
        image_word(&sim, CrashPolicy::ALL, &path, PAGE_BYTES),
        Some(2)
    );
    let image = sim.crash_image(CrashPolicy::ALL);
    assert_eq!(
        image.dirty_pages(&path),
        Some(vec![]),
        "an image starts clean"
    );
    assert_eq!(image.syncs_total(), 0);
    let seen: Vec<_> = (0..32)
        .map(|seed| image_word(&sim, CrashPolicy::random(seed), &path, PAGE_BYTES))
        .collect();
    assert!(
        seen.contains(&Some(0)) && seen.contains(&Some(2)),
        "{seen:?}"
    );
    assert_eq!(
        image_word(&sim, CrashPolicy::random(5), &path, PAGE_BYTES),
        image_word(&sim, CrashPolicy::random(5), &path, PAGE_BYTES),
        "an image is a function of the seeds"
    );
}

#[test]
fn a_failed_sync_marks_the_pages_clean_and_loses_them() {
    let (sim, map, path) = setup();
    put(&*map, 8, 1);
    sim.fail_next_sync();
    let err = map.sync_range(0, 16).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(Errno::EIO as i32));
    assert_eq!(sim.faults_fired(), 1);
    assert_eq!(
        sim.dirty_pages(&path),
        Some(vec![]),
        "Linux marks the pages clean"
    );
    map.sync_range(0, 16).unwrap();
    assert_eq!(
        image_word(&sim, CrashPolicy::ALL, &path, 8),
        Some(0),
        "the retry wrote nothing"
    );
    assert_eq!(
        word(&sim.memory_bytes(&path).unwrap(), 8),
        1,
        "the page cache still shows it"
    );
    put(&*map, 16, 3);
    map.sync_range(0, 24).unwrap();
    assert_eq!(
        image_word(&sim, CrashPolicy::NONE, &path, 8),
        Some(1),
        "a new write re-dirties the page"
    );
}

#[test]
fn a_filtered_sync_failure_waits_for_its_file_and_range() {
    let (sim, map, path) = setup();
    let other = sim
        .create_mapped(&file_path("b.seg"), PAGE_BYTES as u64)
        .unwrap();
    sim.fail_next_sync_where(|p, offset, _| p.ends_with("a.seg") && offset >= PAGE_BYTES);
    put(&*other, 8, 1);
    other.sync_range(0, 16).unwrap();
    put(&*map, 8, 1);
    map.sync_range(0, 16).unwrap();
    put(&*map, PAGE_BYTES, 1);
    assert!(map.sync_range(PAGE_BYTES, 8).is_err());
    assert!(
        map.sync_range(PAGE_BYTES, 8).is_ok(),
        "a failure fires once"
    );
    assert_eq!(image_word(&sim, CrashPolicy::NONE, &path, 8), Some(1));
}

#[test]
fn directory_changes_are_durable_only_after_sync_dir() {
    let (sim, map, path) = setup();
    put(&*map, 8, 1);
    map.sync_range(0, 8).unwrap();
    let new = file_path("b.seg");
    let b = sim.create_mapped(&new, PAGE_BYTES as u64).unwrap();
    b.sync_range(0, 8).unwrap();
    assert!(sim
        .crash_image(CrashPolicy::ALL)
        .files()
        .iter()
        .all(|p| *p != new));
    sim.remove_file(&path).unwrap();
    assert_eq!(sim.files(), vec![new.clone()]);
    let image = sim.crash_image(CrashPolicy::NONE);
    assert_eq!(
        image.files(),
        vec![path.clone()],
        "a remove is not durable yet"
    );
    assert_eq!(word(&image.memory_bytes(&path).unwrap(), 8), 1);
    sim.sync_dir(Path::new(DIR)).unwrap();
    assert_eq!(sim.crash_image(CrashPolicy::NONE).files(), vec![new]);
    assert_eq!(sim.dir_syncs(), 2);
}

#[test]
fn a_failed_sync_dir_leaves_the_listing_as_it_was() {
    let (sim, _map, path) = setup();
    sim.remove_file(&path).unwrap();
    sim.fail_next_sync_dir();
    assert!(sim.sync_dir(Path::new(DIR)).is_err());
    assert_eq!(sim.durable_files(), vec![path]);
    sim.sync_dir(Path::new(DIR)).unwrap();
    assert!(sim.durable_files().is_empty());
}

#[test]
fn a_torn_page_keeps_a_prefix_of_its_sectors() {
    let (sim, map, path) = setup();
    let words = map.words();
    for (i, w) in words.iter().enumerate().take(PAGE_BYTES / 8) {
        w.store(i as u64 + 1, Ordering::Relaxed);
    }
    for seed in 0..16 {
        let image = sim.crash_image(CrashPolicy::NONE.with_torn_page(seed));
        let bytes = image.memory_bytes(&path).unwrap();
        let new: Vec<bool> = bytes[..PAGE_BYTES]
            .chunks(SECTOR_BYTES)
            .map(|s| s.iter().any(|b| *b != 0))
            .collect();
        let kept = new.iter().take_while(|n| **n).count();
        assert!((1..PAGE_BYTES / SECTOR_BYTES).contains(&kept), "{new:?}");
        assert!(new[kept..].iter().all(|n| !n), "a prefix: {new:?}");
    }
    let whole = sim.crash_image(CrashPolicy::ALL.with_torn_page(1));
    let bytes = whole.memory_bytes(&path).unwrap();
    assert_ne!(
        word(&bytes, 0),
        0,
        "with every page written, the torn one is among them"
    );
    assert_eq!(word(&bytes, PAGE_BYTES - 8), 0);
}

#[test]
fn write_back_makes_pages_durable_and_clean() {
    let (sim, map, path) = setup();
    put(&*map, 8, 1);
    sim.write_back(DirtyPages::All);
    assert_eq!(sim.dirty_pages(&path), Some(vec![]));
    assert_eq!(image_word(&sim, CrashPolicy::NONE, &path, 8), Some(1));
    assert_eq!(sim.operations(), 3, "writeback is not a storage operation");
}

#[test]
fn the_lock_names_its_holder_until_dropped() {
    let (sim, _map, _) = setup();
    let dir = Path::new(DIR);
    let held = sim.lock_dir(dir, "host:1").unwrap();
    assert_eq!(sim.lock_holder(dir).unwrap().as_deref(), Some("host:1"));
    match sim.lock_dir(dir, "host:2") {
        Err(Error::Locked { path, holder }) => {
            assert_eq!(path, lock_path(dir));
            assert_eq!(holder, "host:1");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(held);
    assert_eq!(sim.lock_holder(dir).unwrap(), None);
    assert!(sim
        .crash_image(CrashPolicy::NONE)
        .lock_dir(dir, "x")
        .is_ok());
}

#[test]
fn storage_full_and_missing_files_are_clean_errors() {
    let (sim, _map, path) = setup();
    sim.set_storage_full(true);
    let err = sim
        .create_mapped(&file_path("b.seg"), PAGE_BYTES as u64)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    assert_eq!(sim.files(), vec![path.clone()], "no half-made file");
    sim.set_storage_full(false);
    let err = sim.create_mapped(&path, PAGE_BYTES as u64).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let err = sim.open_mapped(&file_path("c.seg")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(sim.list_dir(Path::new("/elsewhere")).is_err());
    let names: Vec<_> = sim
        .list_dir(Path::new(DIR))
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("a.seg")]);
}

#[test]
fn every_operation_after_the_budget_fails_and_the_hook_sees_each() {
    let (sim, map, _) = setup();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    sim.set_hook(move |_, op| lock(&log).push((op.index, op.kind, op.failed)));
    sim.fail_after_ops(Some(1));
    put(&*map, 8, 1);
    map.sync_range(0, 8).unwrap();
    assert!(sim.sync_dir(Path::new(DIR)).is_err());
    put(&*map, 8, 2);
    assert!(map.sync_range(0, 8).is_err());
    let seen = lock(&seen).clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0],
        (4, SimOpKind::SyncRange { offset: 0, len: 8 }, false)
    );
    assert_eq!(seen[1], (5, SimOpKind::SyncDir, true));
    assert!(seen[2].2);
    assert!(SimOpKind::SyncDir.changes_disk() && !SimOpKind::ListDir.changes_disk());
}

#[test]
fn the_before_hook_runs_ahead_of_the_operation() {
    let (sim, _map, path) = setup();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    sim.set_before_hook(move |sim, kind, _| lock(&log).push((kind, sim.files().len())));
    sim.remove_file(&path).unwrap();
    assert_eq!(
        *lock(&seen),
        vec![(SimOpKind::RemoveFile, 1)],
        "the file was still listed"
    );
    sim.clear_hook();
    sim.sync_dir(Path::new(DIR)).unwrap();
    assert_eq!(lock(&seen).len(), 1);
}

#[test]
fn a_process_crash_image_keeps_the_page_cache_and_both_listings() {
    let (sim, map, path) = setup();
    put(&*map, 8, 1);
    let new = file_path("b.seg");
    sim.create_mapped(&new, PAGE_BYTES as u64).unwrap();
    let restarted = sim.process_crash_image();
    assert_eq!(restarted.files(), vec![path.clone(), new.clone()]);
    assert_eq!(restarted.durable_files(), vec![path.clone()]);
    assert_eq!(
        restarted.dirty_pages(&path),
        Some(vec![0]),
        "dirty pages stay dirty"
    );
    let remapped = restarted.open_mapped(&path).unwrap();
    put(&*remapped, 16, 2);
    assert_eq!(
        word(&sim.memory_bytes(&path).unwrap(), 16),
        0,
        "an independent copy"
    );
    assert_eq!(image_word(&restarted, CrashPolicy::NONE, &path, 8), Some(0));
    assert_eq!(restarted.crash_image(CrashPolicy::NONE).files(), vec![path]);
}
