//! The `tokio` feature: `wait_durable_async` completes exactly when its LSN becomes
//! durable (a flush that does not cover it leaves it waiting) and fails when the
//! journal is poisoned; `tail_async` delivers every frame in order under a
//! multi-threaded runtime, woken by publication after it went to sleep.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use checkpoint_journal::storage::sim::SimStorage;
use checkpoint_journal::{Entry, Error, Frame, Journal, Lsn, Options};
use futures_core::Stream;

/// Long enough for a woken task to have run on an idle runtime; a task still pending
/// after it was not woken.
const SETTLE: Duration = Duration::from_millis(100);
/// Bound on any wait that should complete: a hang fails instead of blocking CI.
const DEADLINE: Duration = Duration::from_secs(60);

fn options() -> Options {
    Options::default().segment_size_bytes(64 * 1024)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

/// The next item of a stream.
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

/// Spawns `f` and checks it is still pending after [`SETTLE`].
fn spawn_pending<F>(rt: &tokio::runtime::Runtime, f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = rt.spawn(f);
    std::thread::sleep(SETTLE);
    assert!(
        !handle.is_finished(),
        "completed before its LSN was durable"
    );
    handle
}

#[test]
fn wait_durable_async_completes_exactly_when_the_lsn_becomes_durable() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Arc::new(Journal::open(dir.path(), options()).expect("open"));
    journal.append(Entry::push(1, 1, 0)).expect("append");
    // The next frame's LSN: not appended yet, so the flush below cannot cover it.
    let target = journal.end_lsn();
    let waiter = {
        let journal = Arc::clone(&journal);
        spawn_pending(&rt, async move {
            let durable = journal.wait_durable_async(target).await;
            (durable, journal.durable_lsn())
        })
    };
    journal.flush().expect("flush");
    assert!(journal.durable_lsn() <= target);
    std::thread::sleep(SETTLE);
    assert!(
        !waiter.is_finished(),
        "a flush short of the LSN woke it for good"
    );

    assert_eq!(
        journal.append(Entry::push(1, 2, 0)).expect("append"),
        target
    );
    std::thread::sleep(SETTLE);
    assert!(!waiter.is_finished(), "published is not durable");
    let flushed = journal.flush().expect("flush");
    let (durable, seen) = rt
        .block_on(async { tokio::time::timeout(DEADLINE, waiter).await })
        .expect("woken by the flush")
        .expect("task");
    let durable = durable.expect("durable");
    assert!(durable > target);
    assert_eq!(durable, flushed);
    assert!(seen > target, "durable when it returned");
}

#[test]
fn wait_durable_async_fails_when_a_flush_poisons_the_journal() {
    let rt = runtime();
    let sim = SimStorage::new(9);
    let journal = Journal::open_with_storage("/j", options(), Arc::new(sim.clone()));
    let journal = Arc::new(journal.expect("open"));
    let lsn = journal.append(Entry::push(1, 1, 0)).expect("append");
    let waiter = {
        let journal = Arc::clone(&journal);
        spawn_pending(&rt, async move { journal.wait_durable_async(lsn).await })
    };
    sim.fail_next_sync();
    assert!(journal.flush().is_err());
    let outcome = rt
        .block_on(async { tokio::time::timeout(DEADLINE, waiter).await })
        .expect("woken by the failed flush")
        .expect("task");
    assert!(
        matches!(outcome, Err(Error::Poisoned { .. })),
        "{outcome:?}"
    );
}

#[test]
fn an_already_durable_lsn_returns_at_once() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path(), options()).expect("open");
    let lsn = journal.append(Entry::push(1, 1, 0)).expect("append");
    let flushed = journal.flush().expect("flush");
    let durable = rt
        .block_on(journal.wait_durable_async(lsn))
        .expect("durable");
    assert_eq!(durable, flushed);
}

#[test]
fn tail_async_delivers_every_frame_in_order_under_a_multi_threaded_runtime() {
    const PRODUCERS: u16 = 4;
    const PER_PRODUCER: u64 = 3_000;
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Arc::new(Journal::open(dir.path(), options()).expect("open"));
    let mut tail = journal.tail_async(Lsn(0)).expect("tail");
    let consumer = rt.spawn(async move {
        let mut last_lsn = None;
        let mut next_sequence: BTreeMap<u16, u64> = BTreeMap::new();
        let mut seen = 0;
        while seen < u64::from(PRODUCERS) * PER_PRODUCER {
            let frame = tokio::time::timeout(DEADLINE, next(&mut tail))
                .await
                .expect("a frame arrives")
                .expect("the tail never ends")
                .expect("valid frame");
            assert!(last_lsn < Some(frame.lsn()), "LSNs increase");
            last_lsn = Some(frame.lsn());
            let Frame::Entries { entries, .. } = frame else {
                panic!("only entries were appended");
            };
            for e in entries {
                let expected = next_sequence.entry(e.source_id).or_insert(0);
                assert_eq!(e.sequence, *expected, "source {} in order", e.source_id);
                *expected += 1;
                seen += 1;
            }
        }
        (seen, tail.position())
    });
    // Let the consumer catch up and sleep before anything is appended.
    std::thread::sleep(SETTLE);
    std::thread::scope(|s| {
        for source in 0..PRODUCERS {
            let journal = &journal;
            s.spawn(move || {
                for sequence in 0..PER_PRODUCER {
                    journal
                        .append(Entry::push(source, sequence, 0))
                        .expect("append");
                    if sequence % 500 == 0 {
                        // Pauses let the tail drain and go back to sleep.
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            });
        }
    });
    let (seen, position) = rt.block_on(consumer).expect("consumer");
    assert_eq!(seen, u64::from(PRODUCERS) * PER_PRODUCER);
    assert_eq!(position, journal.end_lsn());
}
