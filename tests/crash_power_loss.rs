//! Power loss at every point: a workload in each durability mode runs on the simulated
//! storage, a crash image is taken after every storage operation and at random points
//! under several policies (no dirty page, all, random subsets, a torn page), and each
//! image must reopen with the default recovery mode to a prefix of what was appended,
//! with no holes, holding everything the journal had promised durable.
//!
//! `CPJ_CRASH_IMAGES=100000` explores longer; `CPJ_CRASH_SEED=n` replays one workload.
//! Add `-- --nocapture` to see the counts.

mod crash_explorer;

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use checkpoint_journal::Durability;
use crash_explorer::explore::Pool;
use crash_explorer::workload::{run, Workload};

/// Images checked by a default run.
const IMAGES_DEFAULT: u64 = 10_000;
/// Threads reopening images while the workloads run.
const VERIFIERS: usize = 2;
/// Workloads run at once (each on its own simulated storage).
const WORKERS: usize = 2;

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
    )
}

#[test]
fn every_crash_image_recovers_a_durable_prefix() {
    let target = env_u64("CPJ_CRASH_IMAGES").unwrap_or(IMAGES_DEFAULT);
    explore("crash_power_loss", target, false);
}

/// A process crash (the page cache survives), a restart, then a power loss: whatever
/// the restarted journal recovered, and what it acknowledged after, must survive.
#[test]
fn a_restart_after_a_process_crash_then_a_power_loss_keeps_what_was_recovered() {
    let target = env_u64("CPJ_CRASH_IMAGES").unwrap_or(IMAGES_DEFAULT / 4);
    explore("crash_power_loss (restarts)", target, true);
}

/// Runs workloads from seed 0 (or only `CPJ_CRASH_SEED`) until `target` power-loss
/// images are checked, prints the counts, and fails on the first violation.
fn explore(name: &str, target: u64, restarts: bool) {
    let replay = env_u64("CPJ_CRASH_SEED");
    let started = Instant::now();
    let pool = Pool::new(VERIFIERS, restarts);
    let next_seed = AtomicU64::new(replay.unwrap_or(0));
    let workloads = AtomicU64::new(0);
    let more = || match replay {
        Some(_) => workloads.load(Relaxed) == 0,
        None => pool.stats.images.load(Relaxed) < target,
    };
    std::thread::scope(|scope| {
        for _ in 0..if replay.is_some() { 1 } else { WORKERS } {
            scope.spawn(|| {
                while more() {
                    let work = Workload::from_seed(next_seed.fetch_add(1, Relaxed));
                    workloads.fetch_add(1, Relaxed);
                    if let Err(why) = run(&work, &pool) {
                        pool.stats.report(why);
                    }
                }
            });
        }
    });
    let seeds = replay.unwrap_or(0)..next_seed.load(Relaxed);
    let stats = pool.finish();
    let violations = stats.violations();
    println!(
        "{name}: {} images at {} points ({} crashed twice, {} restarts; recovered: {}) \
         from {} workloads (seeds {seeds:?}) in {:.1?}: {} violations",
        stats.images.load(Relaxed),
        stats.points.load(Relaxed),
        stats.doubles.load(Relaxed),
        stats.restarts.load(Relaxed),
        stats.cases(),
        workloads.load(Relaxed),
        started.elapsed(),
        violations.len(),
    );
    assert!(violations.is_empty(), "first violation: {}", violations[0]);
}

/// The explorer can fail: a workload that counts an `Async` append as durable the
/// moment it returns, with no flush, is caught by the first image that loses it.
#[test]
fn the_checker_catches_an_async_append_claimed_durable_without_a_flush() {
    let pool = Pool::new(1, false);
    let work = Workload {
        mode: Durability::Async,
        steps: 40,
        claim_unflushed: true,
        ..Workload::from_seed(3)
    };
    run(&work, &pool).unwrap();
    let violations = pool.finish().violations();
    assert!(
        violations
            .iter()
            .any(|v| v.contains("was promised durable") && v.contains("CPJ_CRASH_SEED=3")),
        "the broken promise went unnoticed: {violations:?}"
    );
}

/// The smallest case of the bug above: a process crash between the first segment's
/// header sync and the directory sync that makes its name durable. The restarted
/// journal accepts the segment from the page cache, acknowledges a flushed append in
/// it, and a power loss then takes the whole file away.
#[test]
fn a_flushed_append_after_a_restart_inside_segment_creation_survives_power_loss() {
    use checkpoint_journal::storage::sim::{CrashPolicy, SimOpKind, SimStorage};
    use checkpoint_journal::{Entry, Journal};
    use crash_explorer::check::{reopen_options, DIR};
    use std::sync::{Arc, Mutex};

    let sim = SimStorage::new(1);
    let killed: Arc<Mutex<Option<SimStorage>>> = Arc::default();
    let keep = Arc::clone(&killed);
    sim.set_hook(move |sim, op| {
        if matches!(op.kind, SimOpKind::SyncRange { offset: 0, .. }) {
            keep.lock()
                .unwrap()
                .get_or_insert_with(|| sim.process_crash_image());
        }
    });
    let options = reopen_options().preallocate(false);
    drop(Journal::open_with_storage(DIR, options.clone(), Arc::new(sim)).unwrap());
    let restarted = killed.lock().unwrap().take().unwrap();
    let journal = Journal::open_with_storage(DIR, options, Arc::new(restarted.clone())).unwrap();
    let lsn = journal.append(Entry::push(1, 1, 1)).unwrap();
    assert!(journal.flush().unwrap() > lsn, "acknowledged durable");
    journal.close_without_flush();
    let image = restarted.crash_image(CrashPolicy::NONE);
    let journal = Journal::open_with_storage(DIR, reopen_options(), Arc::new(image)).unwrap();
    assert_eq!(
        journal.recovery_report().entries_replayed,
        1,
        "the flushed entry survives"
    );
}
