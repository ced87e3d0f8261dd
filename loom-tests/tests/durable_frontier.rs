//! Loom model of the durable frontier and group commit: two producers each append a
//! frame and call `Frontier::flush_to` for it, the way a `Sync` append does. The
//! frontier never passes an unpublished frame (every synced range holds only published
//! frames), each caller returns only once its frame is durable, and the frontier ends
//! at the end of both frames.
//!
//! Runtime budget: well under a minute with `LOOM_MAX_PREEMPTIONS=3` in release mode.
#![cfg(loom)]

use checkpoint_journal::protocol::{
    classify, entries_frame_len, published_len, write_entries, FlushTarget, Frontier, GroupCommit,
    Reservation, Tail,
};
use checkpoint_journal::{Entry, Lsn};
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;

const FRAME: u64 = entries_frame_len(1) as u64;
const CAPACITY: u64 = 2 * FRAME;

struct Model {
    tail: Tail,
    mem: Vec<AtomicU64>,
    /// Highest LSN a sync has covered.
    synced: AtomicU64,
}

impl FlushTarget for Model {
    fn walk_published(&self, start: u64) -> u64 {
        let mut pos = start;
        while pos < CAPACITY {
            match published_len(&self.mem[..], (pos / 8) as usize) {
                Some(len) => pos += len as u64,
                None => break,
            }
        }
        pos
    }

    fn reserved_end(&self) -> u64 {
        self.tail.load().1.min(CAPACITY)
    }

    fn sync(&self, from: u64, to: u64) -> checkpoint_journal::Result<()> {
        let mut pos = from;
        while pos < to {
            let len = published_len(&self.mem[..], (pos / 8) as usize)
                .expect("the frontier never passes an unpublished frame");
            pos += len as u64;
        }
        assert_eq!(pos, to, "a sync ends on a frame boundary");
        self.synced.fetch_max(to, Ordering::SeqCst);
        Ok(())
    }
}

fn append_sync(model: &Model, frontier: &Frontier, source: u16) -> u64 {
    let (generation, offset) = model.tail.reserve(FRAME);
    let Reservation::Fits { offset, .. } = classify(generation, offset, FRAME, CAPACITY) else {
        panic!("the region holds both frames");
    };
    write_entries(
        &model.mem[..],
        (offset / 8) as usize,
        offset,
        frontier.durable().0,
        &[Entry::push(source, 1, 1)],
    );
    let end = offset + FRAME;
    let durable = frontier
        .flush_to(end, GroupCommit::default(), model)
        .unwrap();
    assert!(
        durable >= end,
        "flush_to returns only once the frame is durable"
    );
    assert!(
        model.synced.load(Ordering::SeqCst) >= end,
        "and a sync covered it"
    );
    end
}

#[test]
fn the_frontier_never_passes_an_unpublished_frame() {
    loom::model(|| {
        let model = Arc::new(Model {
            tail: Tail::new(0, 0),
            mem: (0..CAPACITY / 8).map(|_| AtomicU64::new(0)).collect(),
            synced: AtomicU64::new(0),
        });
        let frontier = Arc::new(Frontier::new(0));
        let handles: Vec<_> = (1..=2u16)
            .map(|s| {
                let (m, f) = (Arc::clone(&model), Arc::clone(&frontier));
                thread::spawn(move || append_sync(&m, &f, s))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(frontier.durable(), Lsn(CAPACITY));
        assert!(frontier.flush_count() >= 1 && frontier.flush_count() <= 2);
    });
}
