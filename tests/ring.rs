//! The changelog ring: both overflow policies with exact drop and overwrite counts, drain
//! order, draining into a journal (read back frame by frame), and a background drainer
//! racing a producer that never waits, where every entry is accounted for exactly once.

mod support;

use std::time::Duration;

use checkpoint_journal::{
    ChangelogRing, Entry, Error, Frame, Journal, OverflowPolicy, Pushed, RingStats,
};
use support::{options, TestResult};

/// The `i`-th pushed entry: every field derives from `i`, so a torn entry is visible.
fn nth(i: u64) -> Entry {
    let source = u16::try_from(i % 65_536).unwrap_or(0);
    Entry::push(source, i, -i64::try_from(i).unwrap_or(0))
}

/// Whether `e` is some `nth(i)` whole, and which.
fn index_of(e: &Entry) -> Option<u64> {
    (*e == nth(e.sequence)).then_some(e.sequence)
}

fn stats(pushed: u64, drained: u64, dropped: u64, overwritten: u64) -> RingStats {
    RingStats {
        pushed,
        drained,
        dropped,
        overwritten,
    }
}

#[test]
fn capacity_must_be_a_power_of_two_in_range() {
    for capacity in [0, 1, 3, 100, (1 << 24) + 1, 1 << 25] {
        let err = ChangelogRing::new(capacity, OverflowPolicy::DropNew).err();
        assert!(
            matches!(
                err,
                Some(Error::InvalidOptions {
                    field: "capacity",
                    ..
                })
            ),
            "{capacity}: {err:?}"
        );
    }
    assert!(ChangelogRing::new(2, OverflowPolicy::DropNew).is_ok());
}

#[test]
fn drop_new_keeps_the_oldest_and_counts_every_refusal() -> TestResult {
    let (mut producer, mut drainer) = ChangelogRing::new(8, OverflowPolicy::DropNew)?;
    let outcomes: Vec<Pushed> = (0..20).map(|i| producer.push(nth(i))).collect();
    assert!(outcomes[..8].iter().all(|o| *o == Pushed::Stored));
    assert!(outcomes[8..].iter().all(|o| *o == Pushed::Dropped));
    assert_eq!(producer.stats(), stats(8, 0, 12, 0));
    let mut out = Vec::new();
    assert_eq!(drainer.pop_batch(&mut out, 3), 3);
    assert_eq!(drainer.pop_batch(&mut out, 100), 5);
    assert_eq!(drainer.pop_batch(&mut out, 100), 0);
    assert_eq!(out, (0..8).map(nth).collect::<Vec<_>>());
    assert_eq!(drainer.stats(), stats(8, 8, 12, 0));
    // Room again: the next push is stored, after the ones already drained.
    assert_eq!(producer.push(nth(20)), Pushed::Stored);
    assert_eq!(drainer.pop_batch(&mut out, 100), 1);
    assert_eq!(out.last(), Some(&nth(20)));
    assert_eq!(producer.stats(), stats(9, 9, 12, 0));
    Ok(())
}

#[test]
fn overwrite_oldest_keeps_the_newest_and_counts_every_eviction() -> TestResult {
    let (mut producer, mut drainer) = ChangelogRing::new(8, OverflowPolicy::OverwriteOldest)?;
    let outcomes: Vec<Pushed> = (0..20).map(|i| producer.push(nth(i))).collect();
    assert!(outcomes[..8].iter().all(|o| *o == Pushed::Stored));
    assert!(outcomes[8..].iter().all(|o| *o == Pushed::Overwrote));
    assert_eq!(producer.stats(), stats(20, 0, 0, 12));
    let mut out = Vec::new();
    assert_eq!(drainer.pop_batch(&mut out, 2), 2);
    // Two slots free: two more pushes evict nothing.
    assert_eq!(producer.push(nth(20)), Pushed::Stored);
    assert_eq!(producer.push(nth(21)), Pushed::Stored);
    assert_eq!(producer.push(nth(22)), Pushed::Overwrote);
    assert_eq!(drainer.pop_batch(&mut out, 100), 8);
    assert_eq!(out, (12..14).chain(15..23).map(nth).collect::<Vec<_>>());
    let s = drainer.stats();
    assert_eq!(s, stats(23, 10, 0, 13));
    assert_eq!(s.pushed, s.drained + s.overwritten);
    assert!(producer.monitor().is_empty());
    Ok(())
}

#[test]
fn drain_order_is_push_order_across_wraparounds() -> TestResult {
    let (mut producer, mut drainer) = ChangelogRing::new(4, OverflowPolicy::DropNew)?;
    let mut out = Vec::new();
    let mut next = 0;
    let monitor = producer.monitor();
    for round in 0..50u64 {
        let pushes = round % 4 + 1;
        while monitor.len() + pushes > 4 {
            drainer.pop_batch(&mut out, 1);
        }
        for _ in 0..pushes {
            assert_eq!(producer.push(nth(next)), Pushed::Stored);
            next += 1;
        }
        drainer.pop_batch(&mut out, usize::try_from(round % 3)?);
        let s = monitor.stats();
        assert_eq!(s.pushed, s.drained + monitor.len());
    }
    drainer.pop_batch(&mut out, 4);
    assert_eq!(out, (0..next).map(nth).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn drain_into_a_journal_appends_batches_in_order() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let (mut producer, drainer) = ChangelogRing::new(1024, OverflowPolicy::DropNew)?;
    let mut drainer = drainer.batch_max(100);
    for i in 0..1000 {
        assert_eq!(producer.push(nth(i)), Pushed::Stored);
    }
    assert_eq!(drainer.drain_into(&journal)?, 1000);
    assert_eq!(drainer.drain_into(&journal)?, 0);
    assert_eq!(drainer.pending(), 0);
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    let mut all = Vec::new();
    let mut frames = 0;
    for frame in support::frames(&journal)? {
        if let Frame::Entries { entries, .. } = frame {
            assert_eq!(entries.len(), 100, "one frame per batch");
            frames += 1;
            all.extend(entries);
        }
    }
    assert_eq!(frames, 10);
    assert_eq!(all, (0..1000).map(nth).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn one_drain_into_call_moves_at_most_one_capacity() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let (mut producer, mut drainer) = ChangelogRing::new(16, OverflowPolicy::DropNew)?;
    for i in 0..16 {
        producer.push(nth(i));
    }
    assert_eq!(drainer.drain_into(&journal)?, 16);
    assert_eq!(support::entries(&journal)?.len(), 16);
    Ok(())
}

/// Runs a producer that never waits against a background drainer; checks that the
/// journal holds exactly the drained entries, whole, in push order, and that the counts
/// add up.
fn race(policy: OverflowPolicy) -> TestResult {
    const PUSHES: u64 = 300_000;
    let dir = support::tempdir()?;
    let journal = std::sync::Arc::new(Journal::open(dir.path(), options())?);
    let (mut producer, drainer) = ChangelogRing::new(256, policy)?;
    let thread = drainer
        .batch_max(64)
        .spawn_into(std::sync::Arc::clone(&journal), Duration::from_micros(50))?;
    for i in 0..PUSHES {
        producer.push(nth(i));
    }
    let (drainer, outcome) = thread.stop();
    outcome?;
    let s = drainer.stats();
    assert_eq!(s.pushed + s.dropped, PUSHES);
    assert_eq!(s.pushed, s.drained + s.overwritten, "{s:?}");
    let entries = support::entries(&journal)?;
    assert_eq!(entries.len() as u64, s.drained);
    let mut last = None;
    for e in &entries {
        let i = index_of(e).ok_or_else(|| format!("a torn entry: {e:?}"))?;
        assert!(last.is_none_or(|l| i > l), "{i} after {last:?}");
        last = Some(i);
    }
    if policy == OverflowPolicy::DropNew {
        assert_eq!(s.overwritten, 0);
        // DropNew delivers a prefix of each run of stored pushes: the last push is either
        // delivered or dropped.
    } else {
        assert_eq!(s.dropped, 0);
        assert_eq!(last, Some(PUSHES - 1), "the newest entry survives eviction");
    }
    Ok(())
}

#[test]
fn background_drainer_racing_drop_new_accounts_for_every_push() -> TestResult {
    race(OverflowPolicy::DropNew)
}

#[test]
fn background_drainer_racing_overwrite_oldest_never_delivers_torn_or_twice() -> TestResult {
    race(OverflowPolicy::OverwriteOldest)
}
