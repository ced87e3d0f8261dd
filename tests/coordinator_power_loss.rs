//! Power loss under the coordinator, on the simulated storage: after `trigger_durable`
//! (and after every `trigger` in `Sync` mode) a crash image — durable bytes only, every
//! dirty page, random subsets, a torn page — must restore that checkpoint or a later one
//! that reached the disk, with the positions and progress it captured; a checkpoint is
//! never restored without its progress.

use std::sync::Arc;
use std::time::Duration;

use checkpoint_journal::storage::sim::{CrashPolicy, SimStorage};
use checkpoint_journal::{
    CheckpointCoordinator, CoordinatorConfig, Durability, Journal, Options, Progress,
};

const DIR: &str = "/journal";

fn options(durability: Durability) -> Options {
    Options::default()
        .segment_size_bytes(64 * 1024)
        .durability(durability)
        .preallocate(false)
}

fn policies() -> Vec<CrashPolicy> {
    let mut out = vec![CrashPolicy::NONE, CrashPolicy::ALL];
    for seed in 1..=6 {
        out.push(CrashPolicy::random(seed));
        out.push(CrashPolicy::random(seed).with_torn_page(seed));
    }
    out
}

/// Runs the workload; returns the id every image must restore at least, the id of the
/// last trigger, and the storage.
fn workload(durability: Durability) -> (u64, u64, SimStorage) {
    let sim = SimStorage::new(7);
    let journal = Journal::open_with_storage(DIR, options(durability), Arc::new(sim.clone()))
        .unwrap_or_else(|e| panic!("open: {e}"));
    let config = CoordinatorConfig::default().family("postgres");
    let c = CheckpointCoordinator::open(Arc::new(journal), config)
        .unwrap_or_else(|e| panic!("coordinator: {e}"));
    let slot = c.register_source("slot").unwrap_or_else(|e| panic!("{e}"));
    let mut promised = 0;
    let mut last = 0;
    for round in 1..=22u64 {
        slot.advance(round * 10, i64::try_from(round).unwrap_or(0));
        let progress = Progress::new("postgres").source("slot", format!("0/{round}"), round);
        let durable = round % 5 == 0;
        let t = c
            .trigger_with_progress(&progress, durable)
            .unwrap_or_else(|e| panic!("trigger: {e}"));
        last = t.id;
        if durable || durability == Durability::Sync {
            promised = t.id;
        }
    }
    // The power goes out here: the journal is never closed.
    let journal = Arc::clone(c.journal());
    drop(c);
    if let Some(journal) = Arc::into_inner(journal) {
        journal.close_without_flush();
    }
    (promised, last, sim)
}

#[test]
fn every_crash_image_restores_a_durable_checkpoint_with_its_progress() {
    for durability in [
        Durability::Async,
        Durability::Interval(Duration::from_secs(3600)),
        Durability::Sync,
    ] {
        let (promised, last, sim) = workload(durability);
        assert!(promised > 0);
        let mut restored_ids = std::collections::BTreeSet::new();
        for policy in policies() {
            let image = sim.crash_image(policy);
            let journal = Journal::open_with_storage(DIR, options(durability), Arc::new(image))
                .unwrap_or_else(|e| panic!("{durability:?} {policy:?}: reopen: {e}"));
            let c = CheckpointCoordinator::open(Arc::new(journal), CoordinatorConfig::default())
                .unwrap_or_else(|e| panic!("{durability:?} {policy:?}: {e}"));
            let restored = c
                .restore()
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("{durability:?} {policy:?}: nothing restored"));
            let id = restored.record.id;
            restored_ids.insert(id);
            assert!(
                (promised..=last).contains(&id),
                "{durability:?} {policy:?}: restored {id}, promised {promised}, last {last}"
            );
            // Checkpoint `id` was the `id`-th round: sequence 10·id, progress count id.
            assert_eq!(
                restored.rewind["slot"],
                id * 10,
                "{durability:?} {policy:?}"
            );
            let progress = &restored.progress["slot"];
            assert_eq!(progress.committed_event_count, id);
            assert_eq!(progress.offset, format!("0/{id}").into_bytes());
            if durability == Durability::Sync || policy == CrashPolicy::NONE {
                let expected = if durability == Durability::Sync {
                    last
                } else {
                    promised
                };
                assert_eq!(id, expected, "{durability:?} {policy:?}");
            }
        }
        if durability != Durability::Sync {
            // The last two triggers were only published: durable bytes alone lose them,
            // every dirty page keeps them.
            assert!(restored_ids.contains(&promised) && restored_ids.contains(&last));
            assert!(last > promised);
        }
    }
}
