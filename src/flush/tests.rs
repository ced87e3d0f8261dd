//! Group commit on a model target: appends are a counter, a sync sleeps.

use std::time::Duration;

use super::{FlushTarget, Frontier, GroupCommit};
use crate::error::Result;
use crate::sync::{AtomicU64, Ordering};

/// Bytes of one appended frame.
const FRAME: u64 = 40;

/// Every reservation is published at once; a sync takes `sync_time` and is counted.
struct Model {
    end: AtomicU64,
    syncs: AtomicU64,
    sync_time: Duration,
}

impl Model {
    fn new(sync_time: Duration) -> Model {
        Model {
            end: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            sync_time,
        }
    }

    /// Appends one frame; returns the LSN just past it.
    fn append(&self) -> u64 {
        self.end.fetch_add(FRAME, Ordering::SeqCst) + FRAME
    }
}

impl FlushTarget for Model {
    fn walk_published(&self, _start: u64) -> u64 {
        self.end.load(Ordering::SeqCst)
    }

    fn reserved_end(&self) -> u64 {
        self.end.load(Ordering::SeqCst)
    }

    fn sync(&self, _from: u64, _to: u64) -> Result<()> {
        std::thread::sleep(self.sync_time);
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// `threads` writers each append and wait for their own frame `rounds` times; returns
/// the appends per sync.
fn appends_per_sync(threads: u64, rounds: u64, sync_time: Duration) -> f64 {
    let model = Model::new(sync_time);
    let frontier = Frontier::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..rounds {
                    let lsn = model.append();
                    let durable = frontier.flush_to(lsn, GroupCommit::default(), &model);
                    assert!(durable.is_ok_and(|d| d >= lsn), "returned before {lsn}");
                }
            });
        }
    });
    let syncs = model.syncs.load(Ordering::SeqCst);
    assert_eq!(frontier.flush_count(), syncs);
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let ratio = (threads * rounds) as f64 / syncs as f64;
    ratio
}

#[test]
fn a_lone_writer_syncs_every_append() {
    assert!((appends_per_sync(1, 20, Duration::from_millis(1)) - 1.0).abs() < f64::EPSILON);
}

/// Without the adaptive gather, 8 writers split into two cohorts: one synced while the
/// other gathers, about 4 appends per sync (measured 4.3 in the journal). With it, the
/// leader waits for the other cohort, up to 8 per sync; the bound leaves room for the
/// rounds in which a writer does not come back within the wait on a loaded machine.
#[test]
fn writers_that_alternate_share_one_sync() {
    let per_sync = appends_per_sync(8, 60, Duration::from_millis(3));
    assert!(per_sync > 5.5, "{per_sync:.2} appends per sync");
}
