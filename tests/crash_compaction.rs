//! A crash at every step of compaction: snapshot publication (temporary file, its sync,
//! rename, directory sync), segment retirement and snapshot pruning. After every storage
//! operation of two compactions, the simulated storage yields what a power loss (no
//! dirty page, every dirty page, a random subset, a torn page) and a process crash would
//! leave; every such image must open, and its state must be exactly the acknowledged one.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use checkpoint_journal::storage::sim::{CrashPolicy, SimStorage};
use checkpoint_journal::{CheckpointRecord, Durability, Entry, Journal, Options, State};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn options() -> Options {
    Options::default()
        .segment_size_bytes(64 * 1024)
        .preallocate(false)
        .durability(Durability::Sync)
}

fn essence(state: &State) -> String {
    format!(
        "{:?}|{:?}|{}|{}",
        state.sources, state.last_checkpoint, state.entries, state.checkpoints
    )
}

/// Appends `count` entries in batches of 10, with a checkpoint per 1000, all durable.
fn append(journal: &Journal, from: u64, count: u64) -> TestResult {
    let mut i = from;
    while i < from + count {
        let batch: Vec<Entry> = (i..i + 10)
            .map(|k| {
                Entry::push(
                    u16::try_from(k % 7).unwrap_or(0),
                    k,
                    -i64::try_from(k).unwrap_or(0),
                )
            })
            .collect();
        journal.append_batch(&batch)?;
        i += 10;
        if i.is_multiple_of(1000) {
            journal.checkpoint(&CheckpointRecord {
                id: i,
                ..CheckpointRecord::default()
            })?;
        }
    }
    Ok(())
}

/// Images taken after each storage operation, labelled with the operation.
type Images = Arc<Mutex<Vec<(String, SimStorage)>>>;

fn record_images(storage: &SimStorage, images: &Images) {
    let images = Arc::clone(images);
    storage.set_hook(move |s, op| {
        if !op.kind.changes_disk() {
            return;
        }
        let label = format!("after op {} {:?} {}", op.index, op.kind, op.path.display());
        let policies = [
            CrashPolicy::NONE,
            CrashPolicy::ALL,
            CrashPolicy::random(op.index),
            CrashPolicy::random(op.index).with_torn_page(op.index),
        ];
        let mut taken: Vec<(String, SimStorage)> = s
            .crash_images(&policies)
            .into_iter()
            .map(|(p, image)| (format!("{label} power loss {p:?}"), image))
            .collect();
        taken.push((format!("{label} process crash"), s.process_crash_image()));
        if let Ok(mut all) = images.lock() {
            all.extend(taken);
        }
    });
}

fn reopen(image: SimStorage, dir: &Path) -> TestResult<State> {
    let journal = Journal::open_with_storage(dir, options(), Arc::new(image))?;
    let state = journal.state()?;
    journal.close_without_flush();
    Ok(state)
}

#[test]
fn a_crash_at_every_step_of_compaction_keeps_every_acknowledged_entry() -> TestResult {
    let dir = Path::new("/sim/journal");
    let storage = SimStorage::new(7);
    let journal = Journal::open_with_storage(dir, options(), Arc::new(storage.clone()))?;
    append(&journal, 0, 4_000)?;
    let before_first = essence(&journal.state()?);
    // One list per phase: a background thread (the summarizer) that fetched the hook just
    // before `clear_hook` still runs it afterwards, and its image, of the first phase,
    // must not land among the second phase's.
    let images: Images = Arc::default();
    record_images(&storage, &images);
    journal.compact()?;
    storage.clear_hook();
    let first_images = std::mem::take(&mut *images.lock().map_err(|_| "poisoned")?);

    append(&journal, 4_000, 4_000)?;
    let before_second = essence(&journal.state()?);
    let images: Images = Arc::default();
    record_images(&storage, &images);
    journal.compact()?;
    append(&journal, 8_000, 3_000)?;
    journal.compact()?;
    storage.clear_hook();
    let retired = journal.last_compaction().ok_or("no report")?;
    assert!(
        !retired.segments_retired.is_empty() && !retired.snapshots_pruned.is_empty(),
        "the workload must reach retirement and pruning: {retired:?}"
    );
    journal.close_without_flush();
    let later_images = std::mem::take(&mut *images.lock().map_err(|_| "poisoned")?);

    let mut checked = 0;
    for (label, image) in first_images {
        let state = reopen(image, dir).map_err(|e| format!("{label}: {e}"))?;
        assert_eq!(essence(&state), before_first, "{label}");
        checked += 1;
    }
    for (label, image) in later_images {
        let state = reopen(image, dir).map_err(|e| format!("{label}: {e}"))?;
        // Appends between the compactions are acknowledged (Sync) before the hook
        // records, so each image holds at least the state of the second compaction.
        assert!(
            state.entries >= 8_000,
            "{label}: {} entries survive",
            state.entries
        );
        if state.entries == 8_000 {
            assert_eq!(essence(&state), before_second, "{label}");
        }
        checked += 1;
    }
    println!("{checked} crash images reopened");
    assert!(checked > 50, "only {checked} images");
    Ok(())
}

#[test]
fn a_crash_before_the_directory_sync_leaves_the_previous_snapshot() -> TestResult {
    let dir = Path::new("/sim/journal");
    let storage = SimStorage::new(11);
    let journal = Journal::open_with_storage(dir, options(), Arc::new(storage.clone()))?;
    append(&journal, 0, 2_000)?;
    let first = journal.compact()?;
    append(&journal, 2_000, 2_000)?;
    // Fail the directory sync that would publish the second snapshot's name; first let
    // the summarizer finish, so that its own directory sync does not take the failure.
    // Durable summaries: the summarizer's last step, its directory sync, is then done.
    let durable = |sum: &Path| storage.durable_files().iter().any(|f| f == sum);
    support::wait_for_summaries(&storage, dir, durable)?;
    storage.fail_next_sync_dir();
    assert!(journal.compact().is_err());
    let image = storage.crash_image(CrashPolicy::NONE);
    journal.close_without_flush();
    let names: Vec<String> = image
        .durable_files()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .filter(|n| n.contains(".snap"))
        .collect();
    assert_eq!(names, vec![format!("{:016x}.snap", first.0)]);
    let reopened = Journal::open_with_storage(dir, options(), Arc::new(image))?;
    assert_eq!(
        reopened.recovery_report().snapshot.as_ref().map(|s| s.lsn),
        Some(first)
    );
    assert_eq!(reopened.state()?.entries, 4_000);
    Ok(())
}

/// Compactions while another thread keeps appending in Sync mode: every image taken
/// after a storage operation holds at least the entries acknowledged before it.
#[test]
fn a_crash_during_compaction_with_appends_running_loses_no_acknowledged_entry() -> TestResult {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    let dir = Path::new("/sim/journal");
    let storage = SimStorage::new(23);
    let journal = Journal::open_with_storage(dir, options(), Arc::new(storage.clone()))?;
    append(&journal, 0, 2_000)?;
    let acked = Arc::new(AtomicU64::new(2_000));
    let images: Arc<Mutex<Vec<(u64, SimStorage)>>> = Arc::default();
    let (hook_acked, hook_images) = (Arc::clone(&acked), Arc::clone(&images));
    storage.set_hook(move |s, op| {
        if op.kind.changes_disk() && op.index % 3 == 0 {
            let floor = hook_acked.load(SeqCst);
            if let Ok(mut all) = hook_images.lock() {
                all.push((floor, s.crash_image(CrashPolicy::random(op.index))));
            }
        }
    });
    let done = AtomicBool::new(false);
    std::thread::scope(|s| -> TestResult {
        let writer = s.spawn(|| -> Result<(), String> {
            let mut i = 2_000;
            while !done.load(SeqCst) && i < 12_000 {
                append(&journal, i, 10).map_err(|e| e.to_string())?;
                i += 10;
                acked.store(i, SeqCst);
            }
            Ok(())
        });
        for _ in 0..4 {
            journal.compact()?;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        done.store(true, SeqCst);
        writer.join().map_err(|_| "writer panicked")??;
        Ok(())
    })?;
    storage.clear_hook();
    journal.close_without_flush();
    let images = std::mem::take(&mut *images.lock().map_err(|_| "poisoned")?);
    assert!(images.len() > 20, "only {} images", images.len());
    for (at, (floor, image)) in images.into_iter().enumerate() {
        let state = reopen(image, dir).map_err(|e| format!("image {at}: {e}"))?;
        assert!(
            state.entries >= floor,
            "image {at}: {} entries, {floor} acknowledged",
            state.entries
        );
    }
    Ok(())
}
