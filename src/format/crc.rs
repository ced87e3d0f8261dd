//! CRC32C (Castagnoli, reflected polynomial `0x82F63B78`) over 64-bit little-endian words,
//! seeded per frame with its LSN. The only place the polynomial and the seed are named.
//!
//! A frame's checksum is `crc32c(lsn ‖ word0 ‖ durable_back ‖ payload)` with every item
//! a little-endian `u64`, computed exactly as the `crc32c` crate computes the same bytes
//! (initial value and final xor `!0`). On x86-64 with SSE4.2 (detected at run time) the
//! words go through the `crc32` instruction inline: about 2 ns for a one-entry frame,
//! against about 10 ns for one call into the `crc32c` crate, which dispatches and splits
//! per call; a one-entry frame's six `crc32` are inline assembly in the caller itself
//! ([`OneEntryCrc`]). Other hosts use the crate on 256-byte chunks.
#![expect(
    unsafe_code,
    reason = "calls the SSE4.2 crc32 instruction behind run-time detection"
)]

/// Running state of a checksum over words (already inverted, as the hardware wants it).
#[derive(Clone, Copy, Debug)]
struct State(u32);

/// Payloads of at least this many words go through the `crc32c` crate (three interleaved
/// `crc32` streams, about 3× the inline loop's throughput on 24 KiB); shorter ones through
/// the inline loop, which has no call and dispatch overhead (docs/PERFORMANCE.md).
pub const CRATE_MIN_WORDS: usize = 64;

/// Checksum of a frame: the LSN seed, the header words it covers, then `payload`.
#[must_use]
#[inline]
pub fn frame_crc(lsn: u64, word0: u64, durable_back: u32, payload: &[u64]) -> u32 {
    let head = [lsn, word0, u64::from(durable_back)];
    if payload.len() >= CRATE_MIN_WORDS {
        return crc_append_words(words_crc(&head, &[]), payload);
    }
    words_crc(&head, payload)
}

/// [`frame_crc`] of a one-entry frame, its payload passed by value: on x86-64 with
/// SSE4.2 six `crc32` instructions in one chain, inline in the caller (the single-append
/// hot path), every operand in a register.
#[must_use]
#[inline]
pub fn frame_crc_one_entry(lsn: u64, word0: u64, durable_back: u32, payload: [u64; 3]) -> u32 {
    OneEntryCrc::detect().frame_crc(lsn, word0, durable_back, payload)
}

/// How [`frame_crc_one_entry`] computes, decided once by [`OneEntryCrc::detect`]: a
/// caller that keeps it (the append path's segment cache) skips the CPU-feature check on
/// every frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OneEntryCrc {
    /// The running CPU has SSE4.2 (set only by `detect`).
    sse42: bool,
}

impl OneEntryCrc {
    /// Checks the running CPU (a cached load after the first call).
    #[must_use]
    #[inline]
    pub fn detect() -> OneEntryCrc {
        #[cfg(target_arch = "x86_64")]
        let sse42 = std::arch::is_x86_feature_detected!("sse4.2");
        #[cfg(not(target_arch = "x86_64"))]
        let sse42 = false;
        OneEntryCrc { sse42 }
    }

    /// The portable computation, whatever the CPU has (tests).
    #[must_use]
    pub fn portable() -> OneEntryCrc {
        OneEntryCrc { sse42: false }
    }

    /// [`frame_crc`] of a one-entry frame.
    #[must_use]
    #[inline]
    pub fn frame_crc(self, lsn: u64, word0: u64, durable_back: u32, payload: [u64; 3]) -> u32 {
        #[cfg(target_arch = "x86_64")]
        {
            if self.sse42 {
                let [d, e, f] = payload;
                let back = u64::from(durable_back);
                let mut state = u64::from(!0u32);
                for word in [lsn, word0, back, d, e, f] {
                    // SAFETY: 1. `sse42` is true only if `detect` found SSE4.2 on the
                    // running CPU; 2. the instruction reads and writes only registers.
                    state = unsafe { crc32_u64_asm(state, word) };
                }
                return !low32(state);
            }
        }
        frame_crc_one_entry_portable(lsn, word0, durable_back, payload)
    }
}

/// One `crc32` instruction over a 64-bit operand, as inline assembly: unlike the
/// `_mm_crc32_u64` intrinsic, which needs a `#[target_feature]` function and so a call
/// from code compiled without SSE4.2, it inlines into any caller.
///
/// # Safety
/// The running CPU must support SSE4.2.
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn crc32_u64_asm(state: u64, word: u64) -> u64 {
    let mut state = state;
    // SAFETY: the caller guarantees SSE4.2; `crc32` touches no memory, no stack and no
    // flags, only the two registers named here.
    unsafe {
        std::arch::asm!(
            "crc32 {state}, {word}",
            state = inout(reg) state,
            word = in(reg) word,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    state
}

/// [`frame_crc_one_entry`] without SSE4.2: out of line, so that the fast path keeps its
/// operands in registers.
#[cold]
#[inline(never)]
fn frame_crc_one_entry_portable(lsn: u64, word0: u64, durable_back: u32, payload: [u64; 3]) -> u32 {
    frame_crc(lsn, word0, durable_back, &payload)
}

/// The running checksum of a frame's seed and header words, to be continued over its
/// payload with [`crc_append_words`]; with an empty payload it is the frame's checksum.
#[must_use]
#[inline]
pub fn frame_crc_head(lsn: u64, word0: u64, durable_back: u32) -> u32 {
    words_crc(&[lsn, word0, u64::from(durable_back)], &[])
}

/// Continues the checksum `crc` (as returned by [`frame_crc_head`] or by this function)
/// over `words`: `crc_append_words(crc_append_words(c, a), b)` equals the checksum of
/// `a ‖ b` continued from `c`.
#[must_use]
#[inline]
pub fn crc_append_words(crc: u32, words: &[u64]) -> u32 {
    #[cfg(target_endian = "little")]
    {
        if words.len() >= CRATE_MIN_WORDS {
            // On a little-endian host the words' memory is their on-disk bytes.
            return crc32c::crc32c_append(crc, bytemuck::cast_slice(words));
        }
    }
    words_crc_from(crc, words.iter().copied())
}

/// [`frame_crc`] over payload words produced by an iterator (loads from shared memory,
/// or entries converted on the fly).
#[must_use]
#[inline]
pub fn frame_crc_iter(
    lsn: u64,
    word0: u64,
    durable_back: u32,
    payload: impl Iterator<Item = u64>,
) -> u32 {
    let head = [lsn, word0, u64::from(durable_back)];
    words_crc_from(0, head.into_iter().chain(payload))
}

/// Checksum over little-endian bytes (segment and snapshot headers).
#[must_use]
pub fn bytes_crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

#[inline]
fn words_crc(head: &[u64; 3], payload: &[u64]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: 1. `frame_crc_sse42` requires SSE4.2, and the detection above has
            // just confirmed the running CPU has it; 2. it has no other precondition.
            return unsafe { frame_crc_sse42(head, payload) };
        }
    }
    words_crc_portable(0, head.iter().chain(payload).copied())
}

/// The header words, then the payload: two plain loops over slices (no iterator chain).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
fn frame_crc_sse42(head: &[u64; 3], payload: &[u64]) -> u32 {
    use std::arch::x86_64::_mm_crc32_u64;
    if let [d, e, f] = *payload {
        // A one-entry frame, unrolled.
        let [a, b, c] = *head;
        return crc_six_words_sse42(a, b, c, d, e, f);
    }
    let [a, b, c] = *head;
    let mut state = _mm_crc32_u64(_mm_crc32_u64(_mm_crc32_u64(u64::from(!0u32), a), b), c);
    for word in payload {
        state = _mm_crc32_u64(state, *word);
    }
    !low32(state)
}

/// The checksum of the three header words and three payload words: one dependent chain
/// of six `crc32`, every operand in a register (six scalar arguments: an array would be
/// passed through memory).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
#[inline]
fn crc_six_words_sse42(lsn: u64, word0: u64, back: u64, p0: u64, p1: u64, p2: u64) -> u32 {
    use std::arch::x86_64::_mm_crc32_u64;
    let mut state = u64::from(!0u32);
    for word in [lsn, word0, back, p0, p1, p2] {
        state = _mm_crc32_u64(state, word);
    }
    !low32(state)
}

/// Continues the checksum `crc` over `words`.
#[inline]
fn words_crc_from(crc: u32, words: impl Iterator<Item = u64>) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: 1. `words_crc_sse42` requires SSE4.2, and the detection above has
            // just confirmed the running CPU has it; 2. it has no other precondition.
            return unsafe { words_crc_sse42(crc, words) };
        }
    }
    words_crc_portable(crc, words)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
#[inline]
fn words_crc_sse42(crc: u32, words: impl Iterator<Item = u64>) -> u32 {
    use std::arch::x86_64::_mm_crc32_u64;
    let mut state = State(!crc);
    for word in words {
        // The instruction consumes the operand's bytes lowest first: little-endian order.
        state = State(low32(_mm_crc32_u64(u64::from(state.0), word)));
    }
    !state.0
}

fn words_crc_portable(mut crc: u32, words: impl Iterator<Item = u64>) -> u32 {
    let mut buf = [0u8; 256];
    let mut used = 0usize;
    for word in words {
        if let Some(slot) = buf.get_mut(used..used + 8) {
            slot.copy_from_slice(&word.to_le_bytes());
            used += 8;
        }
        if used == buf.len() {
            crc = crc32c::crc32c_append(crc, &buf);
            used = 0;
        }
    }
    crc32c::crc32c_append(crc, buf.get(..used).unwrap_or_default())
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[expect(
    clippy::cast_possible_truncation,
    reason = "crc32 returns its 32-bit result zero-extended"
)]
fn low32(v: u64) -> u32 {
    v as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(lsn: u64, word0: u64, back: u32, payload: &[u64]) -> u32 {
        let mut bytes = Vec::new();
        for w in [lsn, word0, u64::from(back)].iter().chain(payload) {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        crc32c::crc32c(&bytes)
    }

    #[test]
    fn every_path_matches_the_crc32c_crate() {
        for n in [0usize, 1, 3, 31, 32, 33, 63, 64, 65, 100, 130, 1000, 3072] {
            let payload: Vec<u64> = (0..n as u64)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .collect();
            let want = reference(77, 0x0102_0304, 9, &payload);
            assert_eq!(frame_crc(77, 0x0102_0304, 9, &payload), want, "n={n}");
            if let [d, e, f] = *payload.as_slice() {
                assert_eq!(frame_crc_one_entry(77, 0x0102_0304, 9, [d, e, f]), want);
            }
            let head = [77, 0x0102_0304, 9];
            assert_eq!(
                words_crc_portable(0, head.into_iter().chain(payload.iter().copied())),
                want
            );
            assert_eq!(words_crc(&head, &payload), want);
            let split = n / 2;
            let (a, b) = payload.split_at(split);
            let running = frame_crc_head(77, 0x0102_0304, 9);
            assert_eq!(
                crc_append_words(crc_append_words(running, a), b),
                want,
                "n={n} in two pieces"
            );
            assert_eq!(
                frame_crc_iter(77, 0x0102_0304, 9, payload.iter().copied()),
                want
            );
        }
    }

    proptest::proptest! {
        /// Every short-frame path, the one-entry fast path included, equals the crate
        /// over the same bytes, for any seed, header and payload.
        #[test]
        fn short_frames_match_the_crate(
            lsn in proptest::prelude::any::<u64>(),
            word0 in proptest::prelude::any::<u64>(),
            back in proptest::prelude::any::<u32>(),
            payload in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..80),
        ) {
            let want = reference(lsn, word0, back, &payload);
            proptest::prop_assert_eq!(frame_crc(lsn, word0, back, &payload), want);
            proptest::prop_assert_eq!(
                frame_crc_iter(lsn, word0, back, payload.iter().copied()),
                want
            );
            if let [d, e, f] = *payload.as_slice() {
                proptest::prop_assert_eq!(frame_crc_one_entry(lsn, word0, back, [d, e, f]), want);
                proptest::prop_assert_eq!(
                    OneEntryCrc::portable().frame_crc(lsn, word0, back, [d, e, f]),
                    want
                );
            }
            let three: Vec<u64> = payload.iter().copied().chain([0; 3]).take(3).collect();
            if let [d, e, f] = *three.as_slice() {
                proptest::prop_assert_eq!(
                    frame_crc_one_entry(lsn, word0, back, [d, e, f]),
                    reference(lsn, word0, back, &three)
                );
            }
        }
    }

    #[test]
    fn the_lsn_seed_changes_the_checksum() {
        let payload = [1u64, 2, 3];
        assert_ne!(frame_crc(0, 5, 0, &payload), frame_crc(8, 5, 0, &payload));
    }

    #[test]
    fn known_vector() {
        // CRC32C of "123456789" is 0xE3069283 (RFC 3720 appendix B.4 check value).
        assert_eq!(bytes_crc(b"123456789"), 0xE306_9283);
    }
}
