//! The lock-free append protocol: reserve with one fetch-add, write, publish the header
//! word last with release ordering. Written once, generic over the memory ([`Words`]),
//! so loom-tests/ checks this code on loom's atomics.
//!
//! The tail is one `AtomicU64` packing `{ generation u28 | offset u36 }`, the scheme of
//! Aeron's term appender: a writer adds its frame length and learns, in the same atomic
//! step, which segment generation it reserved in and where. Exactly one reservation
//! contains the byte at `capacity` (reservations are disjoint and contiguous); its
//! owner pads the rest of the segment and rolls. Reservations that start past the end
//! wait for the roll and retry. Overshoot is bounded by one frame per thread per
//! generation, far below the 36-bit offset space.
//!
//! Invariants: a published frame's bytes never change while its segment is live;
//! `published <= tail` at all times (publication follows reservation).

use crate::entry::Entry;
use crate::format::crc;
use crate::format::frame::{self, FrameKind, FRAME_HEADER_LEN, FRAME_HEADER_WORDS};
use crate::storage::Words;
use crate::sync::{AtomicU64, CachePadded, Ordering};

mod read;

pub use read::*;

const OFFSET_BITS: u32 = 36;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// Generations wrap at this modulus.
pub const GENERATION_MASK: u64 = (1 << (64 - OFFSET_BITS)) - 1;

const _: () = assert!(crate::format::limits::SEGMENT_SIZE_MAX_BYTES < 1 << (OFFSET_BITS - 2));

/// Ordering of the publication store. `cfg(cpj_mutant_relaxed_publish)` weakens it, only
/// to show that loom-tests/ catch a broken publication (see loom-tests/README.md).
#[cfg(not(cpj_mutant_relaxed_publish))]
const PUBLISH_ORDER: Ordering = Ordering::Release;
#[cfg(cpj_mutant_relaxed_publish)]
const PUBLISH_ORDER: Ordering = Ordering::Relaxed;

/// Outcome of one reservation attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// `[offset, offset + len)` of generation `generation` is the caller's to write.
    Fits {
        /// Segment generation (mod 2^28).
        generation: u64,
        /// Byte offset in the segment's data area.
        offset: u64,
    },
    /// The caller's range contains the segment end: it must pad `[offset, capacity)` and
    /// roll to the next generation, then retry.
    MustRoll {
        /// Generation to roll from.
        generation: u64,
        /// Where padding starts.
        offset: u64,
    },
    /// Past the end: wait for the roll of `generation`, then retry.
    Full {
        /// Generation being rolled.
        generation: u64,
    },
}

/// The shared append position.
///
/// Written by: every appender (`fetch_add`, `AcqRel`), the roller (`store`, `Release`).
/// Read by: appenders and the flusher (`Acquire`). Invariant: the generation field
/// names the newest installed segment, and its offset is at most `capacity` plus one
/// in-flight frame per thread.
#[derive(Debug)]
pub struct Tail {
    word: CachePadded<AtomicU64>,
}

impl Tail {
    /// A tail at `offset` of `generation`.
    #[must_use]
    pub fn new(generation: u64, offset: u64) -> Tail {
        Tail {
            word: CachePadded::new(AtomicU64::new(pack(generation, offset))),
        }
    }

    /// Reserves `len` bytes: returns the generation and offset the reservation starts
    /// at; [`classify`] says what the caller may do with it.
    #[inline]
    pub fn reserve(&self, len: u64) -> (u64, u64) {
        debug_assert!(len >= FRAME_HEADER_LEN as u64 && len.is_multiple_of(8));
        // AcqRel: the acquire half pairs with the roller's release store in `roll_to`
        // (a new generation is visible only after its segment is installed); the release
        // half keeps this RMW in the release sequence of that store for later readers.
        unpack(self.word.fetch_add(len, Ordering::AcqRel))
    }

    /// `(generation, offset)` through a read-modify-write that adds nothing: every later
    /// [`Tail::reserve`] reads from it, so what the caller wrote before is visible to
    /// that reserver (the `tokio` feature's tail wake-up; never on the append path).
    pub fn sync_point(&self) -> (u64, u64) {
        unpack(self.word.fetch_add(0, Ordering::SeqCst))
    }

    /// `(generation, offset)` as of now.
    pub fn load(&self) -> (u64, u64) {
        // Acquire: pairs with the roller's release store in `roll_to`.
        unpack(self.word.load(Ordering::Acquire))
    }

    /// The roll step, called with the caller's roll lock held: if the tail is still in
    /// `generation`, `install` makes the next segment available and returns its
    /// generation, and the tail moves there. Returns whether this call rolled.
    ///
    /// # Errors
    /// `install`'s error; the tail stays where it was, so the next caller retries.
    pub fn roll_if_current<E>(
        &self,
        generation: u64,
        install: impl FnOnce() -> Result<u64, E>,
    ) -> Result<bool, E> {
        // `cfg(cpj_mutant_double_roll)` skips this check, only to show that
        // loom-tests/segment_roll.rs catches a roll that happens twice.
        if self.load().0 != generation & GENERATION_MASK && !cfg!(cpj_mutant_double_roll) {
            return Ok(false);
        }
        let next = install()?;
        self.roll_to(next, 0);
        Ok(true)
    }

    /// Starts generation `next` at offset 0. Called once per generation, by the roller,
    /// after the next segment is installed where appenders look it up.
    ///
    /// A swap, not a store: every modification of the tail is then a read-modify-write,
    /// so the roll is ordered against concurrent reservations in every model (loom
    /// 0.7 lets a plain store slip between the read and the write of another thread's
    /// `fetch_add`, tokio-rs/loom#254), and the replaced value can be checked.
    pub fn roll_to(&self, next: u64, offset: u64) {
        // AcqRel: the release half pairs with the acquire in `reserve`/`load`: whoever
        // sees `next` sees the installed segment.
        let (previous, _) = unpack(self.word.swap(pack(next, offset), Ordering::AcqRel));
        debug_assert!(
            (previous + 1) & GENERATION_MASK == next & GENERATION_MASK
                || cfg!(cpj_mutant_double_roll),
            "a roll moves exactly one generation on"
        );
    }
}

/// What a reservation of `len` bytes at `offset` in a `capacity`-byte segment allows.
#[inline]
#[must_use]
pub fn classify(generation: u64, offset: u64, len: u64, capacity: u64) -> Reservation {
    if offset + len <= capacity {
        Reservation::Fits { generation, offset }
    } else if offset <= capacity {
        Reservation::MustRoll { generation, offset }
    } else {
        Reservation::Full { generation }
    }
}

/// `(generation, offset)` as returned by [`Tail::reserve`], packed into one word as the
/// tail packs it (for passing a reservation along in a register).
#[inline]
#[must_use]
pub fn pack_reservation(generation: u64, offset: u64) -> u64 {
    pack(generation, offset)
}

/// Inverse of [`pack_reservation`].
#[inline]
#[must_use]
pub fn unpack_reservation(word: u64) -> (u64, u64) {
    unpack(word)
}

#[inline]
fn pack(generation: u64, offset: u64) -> u64 {
    debug_assert!(offset <= OFFSET_MASK);
    (generation & GENERATION_MASK) << OFFSET_BITS | offset
}

#[inline]
fn unpack(word: u64) -> (u64, u64) {
    (word >> OFFSET_BITS, word & OFFSET_MASK)
}

/// Bytes an entry-batch frame of `count` entries occupies.
#[must_use]
pub const fn entries_frame_len(count: usize) -> usize {
    frame::frame_len(count * crate::entry::ENTRY_LEN)
}

/// Writes an entry-batch frame into reserved space at `word_at` and publishes it.
///
/// `lsn` is the frame's LSN; `durable` the durable frontier as the writer knows it.
#[inline]
pub fn write_entries<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    lsn: u64,
    durable: u64,
    entries: &[Entry],
) {
    debug_assert!(!entries.is_empty());
    let len = u32::try_from(entries.len() * crate::entry::ENTRY_LEN).unwrap_or(u32::MAX);
    let w0 = frame::word0(len, FrameKind::Entries);
    let back = frame::durable_back(lsn, durable);
    if cfg!(target_endian = "little") {
        // `Entry` is `repr(C)` without padding and its on-disk form is its fields as
        // little-endian words: on a little-endian host its memory is its payload words.
        let words: &[u64] = bytemuck::cast_slice(entries);
        let crc = crc::frame_crc(lsn, w0, back, words);
        mem.store_run(word_at + FRAME_HEADER_WORDS, words, Ordering::Relaxed);
        publish(mem, word_at, w0, frame::word1(crc, back));
        return;
    }
    let payload = entries.iter().flat_map(Entry::to_words);
    let crc = crc::frame_crc_iter(lsn, w0, back, payload.clone());
    for (at, word) in (word_at + FRAME_HEADER_WORDS..).zip(payload) {
        mem.store(at, word.to_le(), Ordering::Relaxed);
    }
    publish(mem, word_at, w0, frame::word1(crc, back));
}

/// Writes a one-entry frame into reserved space at `word_at` and publishes it: the same
/// words as [`write_entries`] with one entry, straight-line (the single-append hot path).
#[inline]
pub fn write_one_entry<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    lsn: u64,
    durable: u64,
    entry: &Entry,
) {
    let crc = crc::OneEntryCrc::detect();
    write_one_entry_with(crc, mem, word_at, lsn, durable, entry);
}

/// [`write_one_entry`], checksumming with `crc` (detected once by the caller).
#[inline]
pub fn write_one_entry_with<W: Words + ?Sized>(
    crc: crc::OneEntryCrc,
    mem: &W,
    word_at: usize,
    lsn: u64,
    durable: u64,
    entry: &Entry,
) {
    const WORDS: usize = FRAME_HEADER_WORDS + crate::entry::ENTRY_WORDS;
    // One bounds check for the frame, which the per-store checks below then fold into.
    let fits = word_at
        .checked_add(WORDS)
        .is_some_and(|end| end <= mem.len_words());
    debug_assert!(fits, "a frame past the end of a region");
    if !fits {
        return;
    }
    let len = u32::try_from(crate::entry::ENTRY_LEN).unwrap_or(u32::MAX);
    let w0 = frame::word0(len, FrameKind::Entries);
    let back = frame::durable_back(lsn, durable);
    let payload = entry.to_words();
    let checksum = crc.frame_crc(lsn, w0, back, payload);
    mem.store_run(word_at + FRAME_HEADER_WORDS, &payload, Ordering::Relaxed);
    publish(mem, word_at, w0, frame::word1(checksum, back));
}

/// Writes a frame with an opaque payload (checkpoint records) and publishes it.
pub fn write_bytes<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    lsn: u64,
    durable: u64,
    kind: FrameKind,
    payload: &[u8],
) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let w0 = frame::word0(len, kind);
    let back = frame::durable_back(lsn, durable);
    let words = payload.chunks(8).map(|chunk| {
        let mut b = [0u8; 8];
        b.get_mut(..chunk.len())
            .unwrap_or_default()
            .copy_from_slice(chunk);
        u64::from_le_bytes(b)
    });
    let crc = crc::frame_crc_iter(lsn, w0, back, words.clone());
    for (at, word) in (word_at + FRAME_HEADER_WORDS..).zip(words) {
        mem.store(at, word.to_le(), Ordering::Relaxed);
    }
    publish(mem, word_at, w0, frame::word1(crc, back));
}

/// Writes a padding frame of `total_len` bytes (at least a header) and publishes it.
pub fn write_padding<W: Words + ?Sized>(
    mem: &W,
    word_at: usize,
    lsn: u64,
    durable: u64,
    total_len: usize,
) {
    debug_assert!(total_len >= FRAME_HEADER_LEN && total_len.is_multiple_of(8));
    let len = u32::try_from(total_len - FRAME_HEADER_LEN).unwrap_or(u32::MAX);
    let w0 = frame::word0(len, FrameKind::Padding);
    let back = frame::durable_back(lsn, durable);
    let crc = crc::frame_crc(lsn, w0, back, &[]);
    publish(mem, word_at, w0, frame::word1(crc, back));
}

#[inline]
fn publish<W: Words + ?Sized>(mem: &W, word_at: usize, w0: u64, w1: u64) {
    debug_assert!(w0 != 0, "a published header is never zero");
    mem.store(word_at + 1, w1.to_le(), Ordering::Relaxed);
    // Release: pairs with the acquire load in `read_header` / `published_len`: a reader
    // that sees this word sees the payload and word 1 stored above.
    mem.store(word_at, w0.to_le(), PUBLISH_ORDER);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::frame::FrameFault;
    use crate::storage::SharedWord;

    fn region(words: usize) -> Vec<SharedWord> {
        (0..words).map(|_| SharedWord::new(0)).collect()
    }

    #[test]
    fn reservation_classifies_fit_roll_and_full() {
        let tail = Tail::new(5, 0);
        let take = |t: &Tail, len| {
            let (g, o) = t.reserve(len);
            classify(g, o, len, 100)
        };
        assert_eq!(
            take(&tail, 40),
            Reservation::Fits {
                generation: 5,
                offset: 0
            }
        );
        assert_eq!(
            take(&tail, 40),
            Reservation::Fits {
                generation: 5,
                offset: 40
            }
        );
        assert_eq!(
            take(&tail, 40),
            Reservation::MustRoll {
                generation: 5,
                offset: 80
            }
        );
        assert_eq!(take(&tail, 40), Reservation::Full { generation: 5 });
        tail.roll_to(6, 0);
        assert_eq!(
            take(&tail, 40),
            Reservation::Fits {
                generation: 6,
                offset: 0
            }
        );
        let exact = Tail::new(0, 60);
        assert_eq!(
            take(&exact, 40),
            Reservation::Fits {
                generation: 0,
                offset: 60
            }
        );
        assert_eq!(
            take(&exact, 16),
            Reservation::MustRoll {
                generation: 0,
                offset: 100
            }
        );
    }

    #[test]
    fn generations_wrap() {
        let tail = Tail::new(GENERATION_MASK, 0);
        tail.roll_to(GENERATION_MASK + 1, 0);
        assert_eq!(tail.load(), (0, 0));
        let far = (GENERATION_MASK, (1 << 35) + 8);
        assert_eq!(unpack_reservation(pack_reservation(far.0, far.1)), far);
    }

    #[test]
    fn written_frames_validate_at_their_lsn_only() {
        let mem = region(64);
        let entries = [Entry::push(1, 2, 3), Entry::barrier(4, 5, -6)];
        write_entries(mem.as_slice(), 0, 4096, 4000, &entries);
        let h = read_header(mem.as_slice(), 0, 4096, 512).unwrap();
        assert_eq!(h.frame_len(), entries_frame_len(2));
        assert_eq!(h.durable_claim(4096), 4000);
        let mut out = Vec::new();
        read_entries(mem.as_slice(), 0, &h, &mut out);
        assert_eq!(out, entries);
        assert_eq!(
            read_header(mem.as_slice(), 0, 4104, 512),
            Err(FrameFault::ChecksumMismatch)
        );
        assert_eq!(published_len(mem.as_slice(), 0), Some(64));
        assert_eq!(published_len(mem.as_slice(), 8), None);
    }

    #[test]
    fn one_entry_writer_matches_the_batch_writer() {
        let entry = Entry::barrier(9, u64::MAX - 3, i64::MIN + 1);
        let far = 1u64 << 40;
        let saturated = far - u64::from(u32::MAX) * 8;
        for (lsn, durable, claim) in [(4096, 4000, 4000), (8, 8, 8), (far, 0, saturated)] {
            let (one, batch) = (region(8), region(8));
            write_one_entry(one.as_slice(), 1, lsn, durable, &entry);
            write_entries(batch.as_slice(), 1, lsn, durable, &[entry]);
            let portable = region(8);
            let crc = crc::OneEntryCrc::portable();
            write_one_entry_with(crc, portable.as_slice(), 1, lsn, durable, &entry);
            let words = |r: &[SharedWord]| -> Vec<u64> {
                (0..r.len())
                    .map(|i| r.load(i, Ordering::Relaxed).unwrap())
                    .collect()
            };
            assert_eq!(words(&one), words(&batch), "lsn {lsn}");
            assert_eq!(words(&portable), words(&batch), "lsn {lsn}, portable CRC");
            let h = read_header(one.as_slice(), 1, lsn, 56).unwrap();
            let mut out = Vec::new();
            read_entries(one.as_slice(), 1, &h, &mut out);
            assert_eq!(out, [entry]);
            assert_eq!(h.durable_claim(lsn), claim);
        }
    }

    #[test]
    fn entries_read_in_one_pass_match_the_two_pass_read() {
        let mem = region(64);
        let entries: Vec<Entry> = (0..5)
            .map(|i| Entry::push(i, u64::from(i) * 3, -1))
            .collect();
        write_entries(mem.as_slice(), 0, 4096, 4000, &entries);
        let h = read_header(mem.as_slice(), 0, 4096, 512).unwrap();
        for (n, want_copied) in [(5, cfg!(target_endian = "little")), (1, false)] {
            let mut once = vec![Entry::default()];
            let mem = region(64);
            write_entries(mem.as_slice(), 0, 4096, 4000, entries.get(..n).unwrap());
            let (got, copied) =
                read_header_and_entries(mem.as_slice(), 0, 4096, 512, &mut once).unwrap();
            assert_eq!(copied, want_copied);
            if copied {
                assert_eq!(got, h);
                assert_eq!(once.get(1..), entries.get(..n));
            }
            assert_eq!(
                read_header_and_entries(mem.as_slice(), 0, 4104, 512, &mut once),
                Err(FrameFault::ChecksumMismatch)
            );
            assert_eq!(once.len(), 1 + if copied { n } else { 0 });
        }
    }

    #[test]
    fn byte_payloads_round_trip_with_padding() {
        let mem = region(64);
        let payload: Vec<u8> = (0..=12).collect();
        write_bytes(mem.as_slice(), 2, 16, 0, FrameKind::Checkpoint, &payload);
        let h = read_header(mem.as_slice(), 2, 16, 400).unwrap();
        let mut out = Vec::new();
        read_bytes(mem.as_slice(), 2, &h, &mut out);
        assert_eq!(out, payload);
        write_padding(mem.as_slice(), 10, 80, 0, 48);
        let pad = read_header(mem.as_slice(), 10, 80, 48).unwrap();
        assert_eq!((pad.kind, pad.frame_len()), (FrameKind::Padding, 48));
    }
}
