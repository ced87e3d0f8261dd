//! `Lsn`: a position in the journal's single logical byte stream.
//!
//! Every frame starts at an 8-byte-aligned LSN; a segment holds the contiguous range
//! `[base, base + capacity)` and a frame at `lsn` lives at file offset
//! `SEGMENT_HEADER_LEN + (lsn - base)`. LSNs only grow; they are never reused, which is
//! what lets a frame's checksum be bound to its LSN.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Log sequence number: the byte position of a frame in the journal's logical stream.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The first LSN of a new journal.
    pub const ZERO: Lsn = Lsn(0);

    /// The raw position.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `self + bytes`, or `None` on overflow.
    #[must_use]
    pub const fn checked_add(self, bytes: u64) -> Option<Lsn> {
        match self.0.checked_add(bytes) {
            Some(v) => Some(Lsn(v)),
            None => None,
        }
    }

    /// Bytes from `earlier` to `self`, or `None` if `earlier` is later.
    #[must_use]
    pub const fn checked_distance_from(self, earlier: Lsn) -> Option<u64> {
        self.0.checked_sub(earlier.0)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<Lsn> for u64 {
    fn from(lsn: Lsn) -> u64 {
        lsn.0
    }
}
