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
    let replay = env_u64("CPJ_CRASH_SEED");
    let started = Instant::now();
    let pool = Pool::new(VERIFIERS);
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
    let last_seed = next_seed.load(Relaxed) - 1;
    let stats = pool.finish();
    let violations = stats.violations();
    println!(
        "crash_power_loss: {} images at {} points ({} crashed twice; recovered: {}) from {} \
         workloads (seeds {}..={last_seed}) in {:.1?}: {}",
        stats.images.load(Relaxed),
        stats.points.load(Relaxed),
        stats.doubles.load(Relaxed),
        stats.cases(),
        workloads.load(Relaxed),
        replay.unwrap_or(0),
        started.elapsed(),
        if violations.is_empty() {
            "no violation".to_owned()
        } else {
            format!("{} violations", violations.len())
        }
    );
    assert!(violations.is_empty(), "first violation: {}", violations[0]);
}

/// The explorer can fail: a workload that counts an `Async` append as durable the
/// moment it returns, with no flush, is caught by the first image that loses it.
#[test]
fn the_checker_catches_an_async_append_claimed_durable_without_a_flush() {
    let pool = Pool::new(1);
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
