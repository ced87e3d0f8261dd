//! Loom model of the changelog ring's producer/drainer protocol: one producer pushes
//! more entries than a 2-slot ring holds while one drainer takes batches concurrently;
//! afterwards the rest is drained. Under both overflow policies:
//! - every delivered entry is whole (never words of two different pushes);
//! - entries are delivered in push order, none twice;
//! - the counts are exact: `pushed == drained + overwritten`, each push the producer was
//!   told was dropped or overwrote is counted once;
//! - `DropNew` delivers exactly the stored pushes; `OverwriteOldest` delivers exactly the
//!   pushes not evicted, and the newest push always survives.
//!
//! The mutant `cpj_mutant_ring_store_claim` (the drainer claims with a plain store) fails
//! the `OverwriteOldest` model: an evicted entry is delivered as well.
//!
//! Runtime budget: a few seconds with `LOOM_MAX_PREEMPTIONS=3` in release mode.
#![cfg(loom)]

use checkpoint_journal::{ChangelogRing, Entry, OverflowPolicy, Pushed};
use loom::thread;

const CAPACITY: usize = 2;
const PUSHES: u64 = 4;

/// Push `i`: every word derives from `i`, so a torn entry fails `index_of`.
fn nth(i: u64) -> Entry {
    Entry::push(i as u16 + 1, i, !(i as i64))
}

fn index_of(e: &Entry) -> u64 {
    assert_eq!(*e, nth(e.sequence), "a delivered entry is whole");
    e.sequence
}

fn model(policy: OverflowPolicy) {
    loom::model(move || {
        let (mut producer, mut drainer) = ChangelogRing::new(CAPACITY, policy).unwrap();
        let monitor = producer.monitor();
        let consumer = thread::spawn(move || {
            let mut out = Vec::new();
            for _ in 0..2 {
                drainer.pop_batch(&mut out, CAPACITY);
            }
            (drainer, out)
        });
        let outcomes: Vec<Pushed> = (0..PUSHES).map(|i| producer.push(nth(i))).collect();
        let (mut drainer, mut out) = consumer.join().unwrap();
        drainer.pop_batch(&mut out, CAPACITY);
        assert!(monitor.is_empty(), "everything drained");

        let delivered: Vec<u64> = out.iter().map(index_of).collect();
        assert!(
            delivered.windows(2).all(|w| w[0] < w[1]),
            "push order, none twice: {delivered:?}"
        );
        let stats = monitor.stats();
        let count = |o: Pushed| outcomes.iter().filter(|x| **x == o).count() as u64;
        assert_eq!(stats.dropped, count(Pushed::Dropped), "{stats:?}");
        assert_eq!(stats.overwritten, count(Pushed::Overwrote), "{stats:?}");
        assert_eq!(stats.pushed + stats.dropped, PUSHES, "{stats:?}");
        assert_eq!(stats.drained, delivered.len() as u64, "{stats:?}");
        assert_eq!(
            stats.pushed,
            stats.drained + stats.overwritten,
            "every stored entry drained or evicted once: {stats:?} {delivered:?}"
        );
        match policy {
            OverflowPolicy::DropNew => {
                let stored: Vec<u64> = (0..PUSHES)
                    .filter(|i| outcomes[*i as usize] == Pushed::Stored)
                    .collect();
                assert_eq!(delivered, stored, "DropNew delivers every stored push");
            }
            _ => {
                assert_eq!(stats.dropped, 0);
                assert_eq!(delivered.last(), Some(&(PUSHES - 1)), "the newest survives");
            }
        }
    });
}

#[test]
fn drop_new_delivers_each_stored_push_once_in_order() {
    model(OverflowPolicy::DropNew);
}

#[test]
fn overwrite_oldest_never_delivers_an_evicted_or_torn_entry() {
    model(OverflowPolicy::OverwriteOldest);
}
