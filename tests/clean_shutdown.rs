//! The clean-shutdown claim (`journal.clean`, docs/DURABILITY.md "Clean shutdown"): a
//! clean close records where the frames end; the next open removes it and, when its scan
//! stops exactly there, takes that end without reading the rest of the last segment.
//! Anything that does not match — a damaged file, another end, frames written after it,
//! `Strict` or `Salvage` — opens exactly as without it. A crash at every storage
//! operation of a close and of the next open keeps every acknowledged entry and opens to
//! what the same image opens to without the file.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use checkpoint_journal::storage::sim::{CrashPolicy, SimStorage};
use checkpoint_journal::storage::Storage;
use checkpoint_journal::{
    Durability, Entry, Journal, Lsn, Options, RecoveryCase, RecoveryMode, State,
};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

const CLEAN: &str = "journal.clean";

fn options() -> Options {
    Options::default()
        .segment_size_bytes(64 * 1024)
        .preallocate(false)
        .durability(Durability::Sync)
}

fn batch(i: u64) -> Vec<Entry> {
    (0..40)
        .map(|k| Entry::push(u16::try_from((i + k) % 7).unwrap_or(0), i * 40 + k, -1))
        .collect()
}

/// A journal of `batches` batches in `dir` of `storage`, closed cleanly.
fn write_closed(storage: &SimStorage, dir: &Path, batches: u64) -> TestResult {
    let journal = Journal::open_with_storage(dir, options(), Arc::new(storage.clone()))?;
    for i in 0..batches {
        journal.append_batch(&batch(i))?;
    }
    journal.close()?;
    Ok(())
}

fn has_claim(storage: &SimStorage, dir: &Path) -> TestResult<bool> {
    Ok(storage.read_small_file(&dir.join(CLEAN), 4096)?.is_some())
}

/// What an open of `image` finds: state, end, whether it used a claim, the case.
fn reopen(
    image: SimStorage,
    dir: &Path,
    mode: RecoveryMode,
) -> TestResult<(State, Lsn, bool, Option<RecoveryCase>)> {
    let journal = Journal::open_with_storage(dir, options().recovery_mode(mode), Arc::new(image))?;
    let report = journal.recovery_report().clone();
    let out = (
        journal.state()?,
        journal.end_lsn(),
        report.clean_shutdown,
        report.case,
    );
    journal.close_without_flush();
    Ok(out)
}

/// `image` (a crash image of `from`, which carries no small file) with the clean-shutdown
/// file of `from` if it has one: the simulated storage replaces small files atomically
/// and durably, so a crash keeps the file exactly as it was.
fn with_claim_of(from: &SimStorage, image: SimStorage, dir: &Path) -> TestResult<SimStorage> {
    if let Some(bytes) = from.read_small_file(&dir.join(CLEAN), 4096)? {
        image.replace_small_file(&dir.join(CLEAN), &bytes)?;
    }
    Ok(image)
}

/// An exact copy of `image` without the clean-shutdown file.
fn without_claim(image: &SimStorage, dir: &Path) -> TestResult<SimStorage> {
    let copy = image.process_crash_image();
    if has_claim(&copy, dir)? {
        copy.remove_small_file(&dir.join(CLEAN))?;
    }
    Ok(copy)
}

#[test]
fn a_clean_close_lets_the_next_open_skip_the_tail_and_open_removes_the_claim() -> TestResult {
    let dir = Path::new("/sim/clean");
    let storage = SimStorage::new(7);
    write_closed(&storage, dir, 30)?;
    assert!(has_claim(&storage, dir)?, "close leaves the claim");
    let scanned = without_claim(&storage, dir)?;
    let (state, end, clean, case) = reopen(storage.clone(), dir, RecoveryMode::default())?;
    assert!(clean, "the claim is used");
    assert_eq!(case, Some(RecoveryCase::CleanEnd));
    assert!(!has_claim(&storage, dir)?, "open removes the claim");
    let (scan_state, scan_end, scan_clean, scan_case) =
        reopen(scanned, dir, RecoveryMode::default())?;
    assert!(!scan_clean);
    assert_eq!((state, end, case), (scan_state, scan_end, scan_case));
    // Closed without flushing: no claim, the tail is read.
    let (_, _, again, _) = reopen(storage, dir, RecoveryMode::default())?;
    assert!(!again, "no claim after a close without flush");
    Ok(())
}

#[test]
fn strict_salvage_and_inspect_do_not_use_the_claim() -> TestResult {
    let dir = Path::new("/sim/modes");
    let storage = SimStorage::new(8);
    write_closed(&storage, dir, 12)?;
    let inspected =
        checkpoint_journal::recovery::inspect_with_storage(&storage, dir, RecoveryMode::default())?
            .ok_or("a journal")?;
    assert!(!inspected.report.clean_shutdown);
    assert!(has_claim(&storage, dir)?, "a dry run leaves the claim");
    for mode in [RecoveryMode::Strict, RecoveryMode::Salvage] {
        let image = with_claim_of(&storage, storage.process_crash_image(), dir)?;
        assert!(has_claim(&image, dir)?);
        let (_, end, clean, _) = reopen(image.clone(), dir, mode)?;
        assert!(!clean, "{mode:?} reads the tail");
        assert!(!has_claim(&image, dir)?, "{mode:?} still removes the claim");
        assert_eq!(end, inspected.report.end_lsn);
    }
    Ok(())
}

#[test]
fn a_claim_that_does_not_match_is_ignored() -> TestResult {
    let dir = Path::new("/sim/mismatch");
    let storage = SimStorage::new(9);
    write_closed(&storage, dir, 20)?;
    let claim = storage
        .read_small_file(&dir.join(CLEAN), 4096)?
        .ok_or("a claim")?;
    // Every flipped bit: the file does not decode, or names another journal, end or
    // segment; open then reads the tail and finds the same journal.
    let (expected_state, expected_end, _, _) =
        reopen(without_claim(&storage, dir)?, dir, RecoveryMode::default())?;
    for bit in (0..claim.len() * 8).step_by(5) {
        let image = without_claim(&storage, dir)?;
        let mut bad = claim.clone();
        if let Some(b) = bad.get_mut(bit / 8) {
            *b ^= 1 << (bit % 8);
        }
        image.replace_small_file(&dir.join(CLEAN), &bad)?;
        let (state, end, clean, _) = reopen(image, dir, RecoveryMode::default())?;
        assert!(!clean, "bit {bit}");
        assert_eq!((&state, end), (&expected_state, expected_end), "bit {bit}");
    }
    // A stale claim: frames appended after it (by a process that did not remove it) and
    // left torn. The scan passes its end, so the torn tail is found and truncated.
    let journal = Journal::open_with_storage(dir, options(), Arc::new(storage.clone()))?;
    journal.append_batch(&batch(99))?;
    journal.append_batch(&batch(100))?;
    journal.close_without_flush();
    let torn_image = storage.crash_image(CrashPolicy::random(3).with_torn_page(5));
    torn_image.replace_small_file(&dir.join(CLEAN), &claim)?;
    let reference = without_claim(&torn_image, dir)?;
    let (state, end, clean, case) = reopen(torn_image, dir, RecoveryMode::default())?;
    assert!(!clean, "a claim the scan passed is not used");
    let (ref_state, ref_end, _, ref_case) = reopen(reference, dir, RecoveryMode::default())?;
    assert_eq!((state, end, case), (ref_state, ref_end, ref_case));
    assert!(end > expected_end, "the appended frames are kept");
    Ok(())
}

/// `(entries acknowledged, label, image)`.
type Images = Arc<Mutex<Vec<(u64, String, SimStorage)>>>;

fn record_every_op(storage: &SimStorage, images: &Images, acked: u64, dir: &Path) {
    let images = Arc::clone(images);
    let claim_path = dir.join(CLEAN);
    storage.set_hook(move |s, op| {
        if !op.kind.changes_disk() {
            return;
        }
        let label = format!("after op {} {:?} {}", op.index, op.kind, op.path.display());
        let policies = [
            CrashPolicy::NONE,
            CrashPolicy::ALL,
            CrashPolicy::random(op.index).with_torn_page(op.index),
        ];
        let mut taken: Vec<(u64, String, SimStorage)> = s
            .crash_images(&policies)
            .into_iter()
            .map(|(p, image)| (acked, format!("{label} power loss {p:?}"), image))
            .collect();
        taken.push((
            acked,
            format!("{label} process crash"),
            s.process_crash_image(),
        ));
        for (_, _, image) in &mut taken {
            if let Ok(Some(bytes)) = s.read_small_file(&claim_path, 4096) {
                let _ = image.replace_small_file(&claim_path, &bytes);
            }
        }
        if let Ok(mut all) = images.lock() {
            all.extend(taken);
        }
    });
}

#[test]
fn a_crash_during_close_or_the_next_open_keeps_every_entry_and_invents_none() -> TestResult {
    let dir = Path::new("/sim/crash");
    let storage = SimStorage::new(41);
    // Async appends: the close itself flushes them, so its crash images differ.
    let journal = Journal::open_with_storage(
        dir,
        options().durability(Durability::Async),
        Arc::new(storage.clone()),
    )?;
    let acked = AtomicU64::new(0);
    for i in 0..25u64 {
        journal.append_batch(&batch(i))?;
        acked.store((i + 1) * 40, SeqCst);
    }
    let images: Images = Arc::default();
    // Nothing is durable until the close's flush: no floor for a crash during it.
    record_every_op(&storage, &images, 0, dir);
    journal.close()?;
    storage.clear_hook();
    // Once the claim exists, every frame is durable: a power loss right after the close
    // loses nothing, whatever the page cache held.
    let policies = [
        CrashPolicy::NONE,
        CrashPolicy::random(5),
        CrashPolicy::random(6).with_torn_page(6),
    ];
    let after_close = storage.crash_images(&policies);
    let after_close_count = after_close.len();
    for (policy, image) in after_close {
        let image = with_claim_of(&storage, image, dir)?;
        assert!(has_claim(&image, dir)?, "{policy:?}: the claim survives");
        images.lock().map_err(|_| "poisoned")?.push((
            acked.load(SeqCst),
            format!("after close, power loss {policy:?}"),
            image,
        ));
    }
    // The next open, then an append and a crash: the claim is gone before the append
    // (images taken during the open's recovery still hold it).
    record_every_op(&storage, &images, acked.load(SeqCst), dir);
    let next = Journal::open_with_storage(dir, options(), Arc::new(storage.clone()))?;
    assert!(!has_claim(&storage, dir)?, "open removes the claim");
    next.append_batch(&batch(25))?;
    storage.clear_hook();
    next.close_without_flush();
    let images = std::mem::take(&mut *images.lock().map_err(|_| "poisoned")?);
    let (mut checked, mut used) = (0, 0);
    for (floor, label, image) in images {
        let reference = without_claim(&image, dir)?;
        let (state, end, clean, _) =
            reopen(image, dir, RecoveryMode::default()).map_err(|e| format!("{label}: {e}"))?;
        assert!(
            state.entries >= floor,
            "{label}: {} < {floor}",
            state.entries
        );
        let (ref_state, ref_end, _, _) =
            reopen(reference, dir, RecoveryMode::default()).map_err(|e| format!("{label}: {e}"))?;
        assert_eq!((&state, end), (&ref_state, ref_end), "{label}");
        used += usize::from(clean);
        checked += 1;
    }
    println!("{checked} crash images reopened, {used} used the claim");
    assert!(checked > 5, "only {checked} images");
    // The images after the close, and those of the next open before its recovery
    // removed the claim, use it.
    assert!(
        used >= after_close_count,
        "{used} of {after_close_count} images after the close used the claim"
    );
    Ok(())
}
