//! What a user's own loom test looks like: a pipeline stage acknowledges a record
//! upstream only once the journal holds it durably. The stage's logic (append, then
//! wait for the durable frontier to pass the frame) is checked on the crate's real
//! protocol — `protocol::Tail`, the frame writers and `protocol::Frontier` — over a model
//! region, since file I/O cannot run inside `loom::model`.
//!
//! Runtime budget: well under a second with `LOOM_MAX_PREEMPTIONS=3`.
#![cfg(loom)]

use checkpoint_journal::protocol::{
    classify, entries_frame_len, published_len, write_entries, FlushTarget, Frontier, GroupCommit,
    Reservation, Tail,
};
use checkpoint_journal::{Entry, Lsn};
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;

const FRAME: u64 = entries_frame_len(1) as u64;

struct Region {
    tail: Tail,
    mem: Vec<AtomicU64>,
}

impl FlushTarget for Region {
    fn walk_published(&self, start: u64) -> u64 {
        let mut pos = start;
        while let Some(len) = published_len(&self.mem[..], (pos / 8) as usize) {
            pos += len as u64;
        }
        pos
    }
    fn reserved_end(&self) -> u64 {
        self.tail.load().1
    }
    fn sync(&self, _from: u64, _to: u64) -> checkpoint_journal::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stage_acknowledges_only_durable_records() {
    loom::model(|| {
        let region = Arc::new(Region {
            tail: Tail::new(0, 0),
            mem: (0..FRAME / 8 + 1).map(|_| AtomicU64::new(0)).collect(),
        });
        let frontier = Arc::new(Frontier::new(0));
        let acked = Arc::new(AtomicBool::new(false));
        let stage = {
            let (region, frontier, acked) = (
                Arc::clone(&region),
                Arc::clone(&frontier),
                Arc::clone(&acked),
            );
            thread::spawn(move || {
                let (g, o) = region.tail.reserve(FRAME);
                let Reservation::Fits { offset, .. } = classify(g, o, FRAME, FRAME) else {
                    unreachable!()
                };
                write_entries(&region.mem[..], 0, offset, 0, &[Entry::push(1, 1, 1)]);
                frontier
                    .flush_to(offset + FRAME, GroupCommit::default(), &*region)
                    .unwrap();
                acked.store(true, Ordering::Release);
            })
        };
        // The upstream side: once acknowledged, the record must be durable.
        if acked.load(Ordering::Acquire) {
            assert!(frontier.durable() >= Lsn(FRAME));
        }
        stage.join().unwrap();
        assert_eq!(frontier.durable(), Lsn(FRAME));
    });
}
