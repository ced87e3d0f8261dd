//! Loom model of reserve → write → publish: two producers append one-entry frames into
//! one region while a reader scans it. The reader never observes a partly written frame
//! (every published header validates with its LSN-bound checksum and carries the entry
//! its producer wrote), sees frames in LSN order, and no hole below what it has seen.
//!
//! Runtime budget: with `LOOM_MAX_PREEMPTIONS=3` this model explores in a few seconds in
//! release mode (each frame is five stores; the reader's scan is bounded by the region).
#![cfg(loom)]

use checkpoint_journal::protocol::{
    classify, entries_frame_len, published_len, read_entries, read_header, write_entries,
    write_one_entry, Reservation, Tail,
};
use checkpoint_journal::Entry;
use loom::sync::atomic::AtomicU64;
use loom::sync::Arc;
use loom::thread;

const FRAME: u64 = entries_frame_len(1) as u64;
const FRAMES: usize = 2;
const CAPACITY: u64 = FRAME * FRAMES as u64;

fn region() -> Arc<Vec<AtomicU64>> {
    Arc::new((0..CAPACITY / 8).map(|_| AtomicU64::new(0)).collect())
}

fn produce(tail: &Tail, mem: &[AtomicU64], source: u16) -> u64 {
    let (generation, offset) = tail.reserve(FRAME);
    let Reservation::Fits { offset, .. } = classify(generation, offset, FRAME, CAPACITY) else {
        panic!("the region holds every frame of this model");
    };
    let entry = Entry::push(source, 7, -1);
    // Producer 1 writes through the batch writer, producer 2 through the one-entry
    // writer of the single-append fast path: both publish the same words.
    if source == 1 {
        write_entries(mem, (offset / 8) as usize, offset, 0, &[entry]);
    } else {
        write_one_entry(mem, (offset / 8) as usize, offset, 0, &entry);
    }
    offset
}

/// Scans from the start; returns the sources seen, in LSN order.
fn scan(mem: &[AtomicU64]) -> Vec<u16> {
    let mut seen = Vec::new();
    let mut pos = 0u64;
    while pos < CAPACITY {
        let at = (pos / 8) as usize;
        let Some(len) = published_len(mem, at) else {
            break;
        };
        let header = read_header(mem, at, pos, (CAPACITY - pos) as usize)
            .expect("a published frame is whole and valid");
        assert_eq!(header.frame_len(), len);
        let mut entries = Vec::new();
        read_entries(mem, at, &header, &mut entries);
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].sequence, entries[0].watermark), (7, -1));
        seen.push(entries[0].source_id);
        pos += len as u64;
    }
    seen
}

#[test]
fn readers_never_see_a_partial_frame_and_lsns_stay_contiguous() {
    loom::model(|| {
        let mem = region();
        let tail = Arc::new(Tail::new(0, 0));
        let producers: Vec<_> = (1..=2u16)
            .map(|source| {
                let (mem, tail) = (Arc::clone(&mem), Arc::clone(&tail));
                thread::spawn(move || produce(&tail, &mem, source))
            })
            .collect();
        let early = scan(&mem);
        assert!(early.len() <= FRAMES);
        let mut lsns: Vec<u64> = producers.into_iter().map(|p| p.join().unwrap()).collect();
        lsns.sort_unstable();
        assert_eq!(
            lsns,
            vec![0, FRAME],
            "reservations are disjoint and contiguous"
        );
        let mut all = scan(&mem);
        assert_eq!(
            &all[..early.len()],
            &early[..],
            "what a reader saw stays a prefix"
        );
        all.sort_unstable();
        assert_eq!(all, vec![1, 2], "every entry exactly once");
    });
}
