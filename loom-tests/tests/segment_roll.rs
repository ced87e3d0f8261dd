//! Loom model of segment roll-over: three producers append one-entry frames into
//! segments that hold one each (plus 8 bytes, left as an implicit pad), so every
//! append after the first crosses a boundary and some producer reserves past the end
//! and must help. Exactly one producer's reservation contains the segment
//! end and pads it; the roll happens once (`Tail::roll_if_current` under a roll lock,
//! as `Log::roll` does); producers that reserved past the end retry in the next
//! generation. No entry is lost or duplicated, and LSNs stay contiguous across the
//! boundary.
//!
//! Runtime budget: a few seconds with `LOOM_MAX_PREEMPTIONS=3` in release mode.
#![cfg(loom)]

use checkpoint_journal::protocol::{
    classify, entries_frame_len, read_entries, read_header, write_entries, write_padding,
    Reservation, Tail,
};
use checkpoint_journal::Entry;
use loom::sync::atomic::AtomicU64;
use loom::sync::{Arc, Mutex};
use loom::thread;

const FRAME: u64 = entries_frame_len(1) as u64;
/// One frame and 8 spare bytes: the roller leaves an implicit 8-byte pad.
const CAPACITY: u64 = FRAME + 8;
const SEGMENTS: usize = 3;

struct Model {
    tail: Tail,
    roll_lock: Mutex<()>,
    segments: Vec<Vec<AtomicU64>>,
}

fn append(m: &Model, source: u16) -> u64 {
    loop {
        let (generation, offset) = m.tail.reserve(FRAME);
        let Some(seg) = m.segments.get(generation as usize) else {
            panic!("more rolls than appends: generation {generation}");
        };
        let base = generation * CAPACITY;
        match classify(generation, offset, FRAME, CAPACITY) {
            Reservation::Fits { offset, .. } => {
                let lsn = base + offset;
                write_entries(
                    &seg[..],
                    (offset / 8) as usize,
                    lsn,
                    0,
                    &[Entry::push(source, 1, 1)],
                );
                return lsn;
            }
            Reservation::MustRoll { offset, .. } => {
                if CAPACITY - offset >= 16 {
                    write_padding(
                        &seg[..],
                        (offset / 8) as usize,
                        base + offset,
                        0,
                        (CAPACITY - offset) as usize,
                    );
                }
            }
            Reservation::Full { .. } => {}
        }
        let _rolling = m.roll_lock.lock().unwrap();
        m.tail
            .roll_if_current(generation, || Ok::<u64, ()>(generation + 1))
            .unwrap();
        drop(_rolling);
        thread::yield_now();
    }
}

fn sources_in(seg: &[AtomicU64], base: u64) -> Vec<u16> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    while CAPACITY - pos >= 16 {
        let Ok(h) = read_header(
            seg,
            (pos / 8) as usize,
            base + pos,
            (CAPACITY - pos) as usize,
        ) else {
            break;
        };
        let mut entries = Vec::new();
        if h.len > 0 && h.frame_len() as u64 == FRAME {
            read_entries(seg, (pos / 8) as usize, &h, &mut entries);
        }
        out.extend(entries.iter().map(|e| e.source_id));
        pos += h.frame_len() as u64;
    }
    out
}

#[test]
fn one_roller_no_entry_lost_or_duplicated() {
    loom::model(|| {
        let words = (CAPACITY / 8) as usize;
        let model = Arc::new(Model {
            tail: Tail::new(0, 0),
            roll_lock: Mutex::new(()),
            segments: (0..SEGMENTS)
                .map(|_| (0..words).map(|_| AtomicU64::new(0)).collect())
                .collect(),
        });
        let handles: Vec<_> = (1..=3u16)
            .map(|s| {
                let m = Arc::clone(&model);
                thread::spawn(move || append(&m, s))
            })
            .collect();
        let mut lsns: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        lsns.sort_unstable();
        assert_eq!(
            lsns,
            vec![0, CAPACITY, 2 * CAPACITY],
            "contiguous across boundaries"
        );
        let mut all = Vec::new();
        for (g, seg) in model.segments.iter().enumerate() {
            let sources = sources_in(seg, g as u64 * CAPACITY);
            assert_eq!(sources.len(), 1, "segment {g} holds exactly one frame");
            all.extend(sources);
        }
        all.sort_unstable();
        assert_eq!(all, vec![1, 2, 3], "no entry lost or duplicated");
        assert_eq!(model.tail.load().0, 2, "one roll per boundary");
    });
}
