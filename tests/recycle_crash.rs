//! A crash at every step of segment recycling, through the simulated storage: the
//! retirement that renames segments to `*.seg.free` (and its directory sync), and each
//! roll-over that recycles one (map, zero, header, sync, rename to the segment name,
//! directory sync). After every storage operation the storage yields what a power loss
//! (no dirty page, every dirty page, a random subset, a torn page) and a process crash
//! would leave; every image must open with every acknowledged (`Sync`) entry, in order,
//! and nothing else.

use std::path::Path;
use std::sync::{Arc, Mutex};

use checkpoint_journal::storage::sim::{CrashPolicy, SimOpKind, SimStorage};
use checkpoint_journal::{Durability, Entry, Frame, Journal, Options};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Crash images with their label and the entries acknowledged when each was taken.
type Images = Vec<(String, u64, SimStorage)>;

fn options() -> Options {
    Options::default()
        .segment_size_bytes(64 * 1024)
        .preallocate(false)
        .durability(Durability::Sync)
        .recycle_segments(true)
}

fn entry(i: u64) -> Entry {
    Entry::push(
        u16::try_from(i % 7).unwrap_or(0),
        i,
        -i64::try_from(i).unwrap_or(0),
    )
}

/// Appends entries `from..to` in batches of 100, bumping `acked` after each.
fn append(journal: &Journal, from: u64, to: u64, acked: &Mutex<u64>) -> TestResult {
    let mut i = from;
    while i < to {
        let batch: Vec<Entry> = (i..i + 100).map(entry).collect();
        journal.append_batch(&batch)?;
        i += 100;
        *acked.lock().map_err(|_| "poisoned")? = i;
    }
    Ok(())
}

/// Opens `image`; returns the number of entries and checks that those it holds from its
/// first LSN are consecutive and end at that count.
fn reopen(image: SimStorage, dir: &Path) -> TestResult<u64> {
    let journal = Journal::open_with_storage(dir, options(), Arc::new(image))?;
    let total = journal.state()?.entries;
    let mut expected = None;
    for frame in journal.read_from(journal.first_lsn())? {
        if let Frame::Entries { entries, .. } = frame? {
            for e in entries {
                let at = *expected.get_or_insert(e.sequence);
                if e != entry(at) {
                    return Err(format!("entry {at} is {e:?}").into());
                }
                expected = Some(at + 1);
            }
        }
    }
    if expected.is_some_and(|next| next != total) {
        return Err(format!("entries end at {expected:?}, state counts {total}").into());
    }
    journal.close_without_flush();
    Ok(total)
}

#[test]
fn a_crash_at_every_step_of_recycling_keeps_every_acknowledged_entry() -> TestResult {
    let dir = Path::new("/sim/journal");
    let storage = SimStorage::new(31);
    let journal = Journal::open_with_storage(dir, options(), Arc::new(storage.clone()))?;
    let acked = Arc::new(Mutex::new(0));
    append(&journal, 0, 20_000, &acked)?;
    let images: Arc<Mutex<Images>> = Arc::default();
    let steps: Arc<Mutex<Vec<String>>> = Arc::default();
    let (hook_acked, hook_images, hook_steps) =
        (Arc::clone(&acked), Arc::clone(&images), Arc::clone(&steps));
    storage.set_hook(move |s, op| {
        let free = op.path.to_string_lossy().ends_with(".seg.free");
        if free || matches!(op.kind, SimOpKind::SyncDir) {
            if let Ok(mut all) = hook_steps.lock() {
                all.push(format!("{:?} {}", op.kind, op.path.display()));
            }
        }
        if !op.kind.changes_disk() {
            return;
        }
        let floor = hook_acked.lock().map_or(0, |a| *a);
        let label = format!("after op {} {:?} {}", op.index, op.kind, op.path.display());
        let policies = [
            CrashPolicy::NONE,
            CrashPolicy::ALL,
            CrashPolicy::random(op.index),
            CrashPolicy::random(op.index).with_torn_page(op.index),
        ];
        let mut taken: Images = s
            .crash_images(&policies)
            .into_iter()
            .map(|(p, image)| (format!("{label} power loss {p:?}"), floor, image))
            .collect();
        taken.push((
            format!("{label} process crash"),
            floor,
            s.process_crash_image(),
        ));
        if let Ok(mut all) = hook_images.lock() {
            all.extend(taken);
        }
    });
    journal.compact()?;
    append(&journal, 20_000, 27_000, &acked)?;
    storage.clear_hook();
    let report = journal.last_compaction().ok_or("no compaction")?;
    assert_eq!(report.segments_recycled, 4, "{report:?}");
    journal.close_without_flush();

    let steps = std::mem::take(&mut *steps.lock().map_err(|_| "poisoned")?);
    for kind in ["Rename", "OpenMapped", "SyncRange"] {
        assert!(
            steps.iter().any(|s| s.starts_with(kind)),
            "no {kind} of a free file among {steps:?}"
        );
    }
    let images = std::mem::take(&mut *images.lock().map_err(|_| "poisoned")?);
    let mut checked = 0;
    for (label, floor, image) in images {
        let total = reopen(image, dir).map_err(|e| format!("{label}: {e}"))?;
        assert!(
            total >= floor,
            "{label}: {total} entries survive of {floor} acknowledged"
        );
        assert!(total <= 27_000, "{label}: {total}");
        checked += 1;
    }
    println!("{checked} crash images reopened");
    assert!(checked > 100, "only {checked} images");
    Ok(())
}
