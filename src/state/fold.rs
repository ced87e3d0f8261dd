//! The batch fold: entries are summarised per source into a [`Delta`] in one tight pass
//! over each run of entries of the same source, and the deltas are merged into
//! `State::sources` once per batch (or, in recovery, once per scan), not looked up in
//! the map per entry.
//!
//! Folding entry by entry and folding a batch's delta give the same `SourceState`: the
//! sequence and the last barrier are "the last one wins", the watermark is a maximum and
//! the count a sum, and all three compose (`Delta::then`).

use std::collections::BTreeMap;

use super::{SourceState, State};
use crate::entry::{Entry, Op};

/// Direct-mapped slots (by the low byte of `source_id`) for the sources after a batch's
/// first: batches interleaving up to this many sources (with distinct low bytes) never
/// fall back to the map.
const SLOTS: usize = 256;

const PUSH: u8 = Op::Push as u8;
const BARRIER: u8 = Op::Barrier as u8;

/// What a run of entries of one source changes in its [`SourceState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Delta {
    /// Sequence of the last push or barrier entry, if `has_sequence`.
    sequence: u64,
    has_sequence: bool,
    /// Sequence of the last barrier entry, if `has_barrier`.
    barrier: u64,
    has_barrier: bool,
    /// Highest watermark (`i64::MIN` if none).
    watermark: i64,
    /// Entries folded.
    entries: u64,
}

impl Delta {
    const EMPTY: Delta = Delta {
        sequence: 0,
        has_sequence: false,
        barrier: 0,
        has_barrier: false,
        watermark: i64::MIN,
        entries: 0,
    };

    /// Folds one entry in. Written as selects, not a match, so that loops over it stay
    /// free of branches on the op (unknown op bytes fold like watermark entries, as
    /// `Entry::op` errors do).
    #[inline(always)]
    #[expect(
        clippy::inline_always,
        reason = "the body of the per-entry loops; out of line it costs a call per entry"
    )]
    fn step(&mut self, e: &Entry) {
        let positioned = e.op == PUSH || e.op == BARRIER;
        self.sequence = if positioned {
            e.sequence
        } else {
            self.sequence
        };
        self.has_sequence |= positioned;
        let barrier = e.op == BARRIER;
        self.barrier = if barrier { e.sequence } else { self.barrier };
        self.has_barrier |= barrier;
        self.watermark = self.watermark.max(e.watermark);
        self.entries += 1;
    }

    /// Folds the leading entries of `run` whose source is `id`; returns how many. One
    /// pass for the run's length, watermark and whether it holds a barrier; the last
    /// positioned entry and the last barrier are then found from the run's end (most
    /// often its last entry).
    #[inline]
    fn fold_run(&mut self, id: u16, run: &[Entry]) -> usize {
        let mut watermark = self.watermark;
        let mut barriers = false;
        let mut n = 0usize;
        for e in run {
            if e.source_id != id {
                break;
            }
            watermark = watermark.max(e.watermark);
            barriers |= e.op == BARRIER;
            n += 1;
        }
        let folded = run.get(..n).unwrap_or_default();
        if let Some(e) = folded.iter().rfind(|e| e.op == PUSH || e.op == BARRIER) {
            self.sequence = e.sequence;
            self.has_sequence = true;
        }
        if let Some(e) = folded.iter().rfind(|e| barriers && e.op == BARRIER) {
            self.barrier = e.sequence;
            self.has_barrier = true;
        }
        self.watermark = watermark;
        self.entries += n as u64;
        n
    }

    /// This delta followed by `later`.
    fn then(self, later: Delta) -> Delta {
        Delta {
            sequence: if later.has_sequence {
                later.sequence
            } else {
                self.sequence
            },
            has_sequence: self.has_sequence | later.has_sequence,
            barrier: if later.has_barrier {
                later.barrier
            } else {
                self.barrier
            },
            has_barrier: self.has_barrier | later.has_barrier,
            watermark: self.watermark.max(later.watermark),
            entries: self.entries + later.entries,
        }
    }

    fn apply_to(self, s: &mut SourceState) {
        if self.has_sequence {
            s.sequence = self.sequence;
        }
        if self.has_barrier {
            s.last_barrier = Some(self.barrier);
        }
        s.watermark = s.watermark.max(self.watermark);
        s.entries += self.entries;
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    id: u16,
    live: bool,
    delta: Delta,
}

const FREE: Slot = Slot {
    id: 0,
    live: false,
    delta: Delta::EMPTY,
};

/// Entries folded per source but not yet merged into a [`State`]: [`Fold::add`] any
/// number of batches, then [`Fold::commit`] (or [`Fold::clear`] to drop them). Reusable:
/// the slot table is allocated when a second source first appears and kept.
#[derive(Debug, Default)]
pub(crate) struct Fold {
    /// The first source folded (most batches, and most journals, have one).
    first: Option<(u16, Delta)>,
    /// Further sources, direct-mapped by the low byte of their id.
    slots: Vec<Slot>,
    /// Indices of the live slots.
    used: Vec<u8>,
    /// Sources whose slot another source holds.
    spill: BTreeMap<u16, Delta>,
    /// Entries folded since the last commit.
    entries: u64,
}

impl Fold {
    /// Folds `entries` in, in order: the leading run of the first source in a tight
    /// loop, and from the first entry of another source on, entry by entry through the
    /// slots.
    pub(crate) fn add(&mut self, entries: &[Entry]) {
        let Some(head) = entries.first() else {
            return;
        };
        let (id, first) = self.first.get_or_insert((head.source_id, Delta::EMPTY));
        let id = *id;
        let n = first.fold_run(id, entries);
        if let Some(rest) = entries.get(n..).filter(|r| !r.is_empty()) {
            self.add_interleaved(id, rest);
        }
        self.entries += entries.len() as u64;
    }

    /// Folds `entries` entry by entry: the first source's (`first_id`) in place, the
    /// others through their slots.
    fn add_interleaved(&mut self, first_id: u16, entries: &[Entry]) {
        if self.slots.is_empty() {
            self.slots = vec![FREE; SLOTS];
        }
        for e in entries {
            if e.source_id == first_id {
                if let Some((_, d)) = self.first.as_mut() {
                    d.step(e);
                }
                continue;
            }
            match self
                .slots
                .get_mut(usize::from(e.source_id.to_le_bytes()[0]))
            {
                Some(slot) if slot.live && slot.id == e.source_id => slot.delta.step(e),
                _ => self.delta_mut(e.source_id).step(e),
            }
        }
    }

    /// The delta of source `id`, created empty if it has none yet.
    fn delta_mut(&mut self, id: u16) -> &mut Delta {
        let first = match self.first {
            None => {
                self.first = Some((id, Delta::EMPTY));
                true
            }
            Some((held, _)) => held == id,
        };
        if first {
            if let Some((_, d)) = self.first.as_mut() {
                return d;
            }
        }
        if self.slots.is_empty() {
            self.slots = vec![FREE; SLOTS];
        }
        let index = usize::from(id.to_le_bytes()[0]);
        let Some(slot) = self.slots.get_mut(index) else {
            return self.spill.entry(id).or_insert(Delta::EMPTY);
        };
        if !slot.live {
            *slot = Slot {
                id,
                live: true,
                delta: Delta::EMPTY,
            };
            self.used.push(id.to_le_bytes()[0]);
        } else if slot.id != id {
            return self.spill.entry(id).or_insert(Delta::EMPTY);
        }
        &mut slot.delta
    }

    /// Folds in everything `later` holds (folded after what this holds), and clears it.
    pub(crate) fn absorb(&mut self, later: &mut Fold) {
        let mut merge = |id: u16, d: Delta| {
            let mine = self.delta_mut(id);
            *mine = mine.then(d);
        };
        later.drain(&mut merge);
        self.entries += std::mem::take(&mut later.entries);
    }

    /// Merges everything folded into `state` (its sources and entry count), and clears.
    pub(crate) fn commit(&mut self, state: &mut State) {
        let sources = &mut state.sources;
        self.drain(&mut |id, d| d.apply_to(source_mut(sources, id)));
        state.entries += std::mem::take(&mut self.entries);
    }

    /// Drops everything folded since the last commit.
    pub(crate) fn clear(&mut self) {
        self.drain(&mut |_, _| {});
        self.entries = 0;
    }

    /// Hands every source's delta to `f` and leaves this fold empty.
    fn drain(&mut self, f: &mut dyn FnMut(u16, Delta)) {
        if let Some((id, d)) = self.first.take() {
            f(id, d);
        }
        for index in self.used.drain(..) {
            if let Some(slot) = self.slots.get_mut(usize::from(index)) {
                slot.live = false;
                f(slot.id, slot.delta);
            }
        }
        for (id, d) in std::mem::take(&mut self.spill) {
            f(id, d);
        }
    }
}

/// The state of source `id` in `sources`, created if it has none.
pub(super) fn source_mut(sources: &mut BTreeMap<u16, SourceState>, id: u16) -> &mut SourceState {
    sources.entry(id).or_insert(SourceState {
        watermark: i64::MIN,
        ..SourceState::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_by_one(entries: &[Entry]) -> State {
        let mut state = State::default();
        for e in entries {
            let s = source_mut(&mut state.sources, e.source_id);
            match e.op() {
                Ok(Op::Push) => s.sequence = e.sequence,
                Ok(Op::Barrier) => {
                    s.sequence = e.sequence;
                    s.last_barrier = Some(e.sequence);
                }
                Ok(Op::Watermark) | Err(_) => {}
            }
            s.watermark = s.watermark.max(e.watermark);
            s.entries += 1;
            state.entries += 1;
        }
        state
    }

    fn mixed(n: u64, sources: u64) -> Vec<Entry> {
        (0..n)
            .map(|i| {
                let id = u16::try_from((i * 7) % sources)
                    .unwrap_or(0)
                    .wrapping_mul(257);
                let w = (i.cast_signed() * 37) % 101 - 50;
                let mut e = match i % 5 {
                    0 => Entry::barrier(id, i, w),
                    3 => Entry::watermark(id, i, w),
                    _ => Entry::push(id, i, w),
                };
                if i % 11 == 0 {
                    e.op = 9;
                }
                e
            })
            .collect()
    }

    #[test]
    fn fold_equals_the_entry_by_entry_fold() {
        for sources in [1, 2, 16, 300] {
            let entries = mixed(2000, sources);
            let mut state = State::default();
            let mut fold = Fold::default();
            for chunk in entries.chunks(37) {
                fold.add(chunk);
            }
            fold.commit(&mut state);
            assert_eq!(state, one_by_one(&entries), "{sources} sources");
        }
    }

    #[test]
    fn absorb_composes_and_clear_drops() {
        let entries = mixed(999, 16);
        let (a, b) = entries.split_at(400);
        let mut acc = Fold::default();
        acc.add(a);
        let mut pending = Fold::default();
        pending.add(b);
        acc.absorb(&mut pending);
        let mut dropped = Fold::default();
        dropped.add(&mixed(50, 3));
        dropped.clear();
        acc.absorb(&mut dropped);
        let mut state = State::default();
        acc.commit(&mut state);
        assert_eq!(state, one_by_one(&entries));
    }
}
