//! A crash while segment summaries are written (temporary file, its sync, rename,
//! directory sync; retirement by compaction): after every storage operation on a summary
//! file, and after a sample of the others, the simulated storage yields what a power
//! loss (no dirty page, every dirty page, a random subset, a torn page) and a process
//! crash would leave. Every image must open with every acknowledged entry, and must open
//! to exactly what the same image opens to with every summary deleted: a summary that
//! survives a crash describes durable data, never more.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkpoint_journal::storage::sim::{CrashPolicy, SimStorage};
use checkpoint_journal::storage::Storage;
use checkpoint_journal::{Durability, Entry, Journal, Lsn, Options, State, SummaryFallbackReason};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn options() -> Options {
    Options::default()
        .segment_size_bytes(64 * 1024)
        .preallocate(false)
        .durability(Durability::Sync)
}

/// `(entries acknowledged when the image was taken, label, image)`.
type Images = Arc<Mutex<Vec<(u64, String, SimStorage)>>>;

fn record_images(storage: &SimStorage, images: &Images, acked: &Arc<AtomicU64>) {
    let (images, acked) = (Arc::clone(images), Arc::clone(acked));
    storage.set_hook(move |s, op| {
        let on_summary = op.path.to_string_lossy().contains(".sum");
        if !op.kind.changes_disk() || !(on_summary || op.index % 23 == 0) {
            return;
        }
        let floor = acked.load(SeqCst);
        let label = format!("after op {} {:?} {}", op.index, op.kind, op.path.display());
        let policies = [
            CrashPolicy::NONE,
            CrashPolicy::ALL,
            CrashPolicy::random(op.index),
            CrashPolicy::random(op.index).with_torn_page(op.index),
        ];
        let mut taken: Vec<(u64, String, SimStorage)> = s
            .crash_images(&policies)
            .into_iter()
            .map(|(p, image)| (floor, format!("{label} power loss {p:?}"), image))
            .collect();
        taken.push((
            floor,
            format!("{label} process crash"),
            s.process_crash_image(),
        ));
        if let Ok(mut all) = images.lock() {
            all.extend(taken);
        }
    });
}

/// Opens `image`: its state, end, and how many segments came from summaries.
fn reopen(image: SimStorage, dir: &Path) -> TestResult<(State, Lsn, usize)> {
    let journal = Journal::open_with_storage(dir, options(), Arc::new(image))?;
    let report = journal.recovery_report().clone();
    for fallback in &report.summary_fallbacks {
        assert_eq!(
            fallback.reason,
            SummaryFallbackReason::Missing,
            "a summary left by a crash is whole and matches: {fallback:?}"
        );
    }
    let out = (
        journal.state()?,
        journal.end_lsn(),
        report.segments_summarized,
    );
    journal.close_without_flush();
    Ok(out)
}

/// `image` without its summary files (what open reads when it scans every segment).
fn without_summaries(image: &SimStorage, dir: &Path) -> TestResult<usize> {
    let mut removed = 0;
    for item in image.list_dir(dir)? {
        if item.name.to_string_lossy().contains(".sum") {
            image.remove_file(&dir.join(&item.name))?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn batch(i: u64) -> Vec<Entry> {
    (0..50)
        .map(|k| Entry::push(u16::try_from((i / 20 + k) % 9).unwrap_or(0), i * 50 + k, -1))
        .collect()
}

#[test]
fn a_crash_while_summaries_are_written_keeps_every_acknowledged_entry() -> TestResult {
    let dir = Path::new("/sim/journal");
    let storage = SimStorage::new(31);
    let journal = Journal::open_with_storage(dir, options(), Arc::new(storage.clone()))?;
    let images: Images = Arc::default();
    let acked = Arc::new(AtomicU64::new(0));
    record_images(&storage, &images, &acked);
    for i in 0..600u64 {
        journal.append_batch(&batch(i))?;
        acked.store((i + 1) * 50, SeqCst);
        if i % 50 == 49 {
            // Let the summarizer (every 50 ms) catch up with the sealed segments.
            std::thread::sleep(Duration::from_millis(120));
        }
        if i == 400 {
            journal.compact()?;
        }
    }
    storage.clear_hook();
    journal.close_without_flush();
    let images = std::mem::take(&mut *images.lock().map_err(|_| "poisoned")?);
    let (mut checked, mut summarized_images) = (0, 0);
    for (floor, label, image) in images {
        // An exact copy: page cache, durable bytes and both listings.
        let scanned = image.process_crash_image();
        without_summaries(&scanned, dir)?;
        let (state, end, summarized) = reopen(image, dir).map_err(|e| format!("{label}: {e}"))?;
        assert!(
            state.entries >= floor,
            "{label}: {} < {floor}",
            state.entries
        );
        let (scan_state, scan_end, _) =
            reopen(scanned, dir).map_err(|e| format!("{label}: {e}"))?;
        assert_eq!(state, scan_state, "{label}");
        assert_eq!(end, scan_end, "{label}");
        summarized_images += usize::from(summarized > 0);
        checked += 1;
    }
    println!("{checked} crash images reopened, {summarized_images} folded summaries");
    assert!(checked > 100, "only {checked} images");
    assert!(
        summarized_images > checked / 4,
        "{summarized_images} of {checked}"
    );
    Ok(())
}
