//! `Reader`: frames in LSN order from a starting LSN up to the published frontier,
//! across segments, each validated (LSN-bound checksum) before it is returned, except
//! the frames this process has already validated or written itself (see
//! [`Reader::trusting`] and docs/DURABILITY.md "What a reader checks").

use crate::append::Log;
use crate::checkpoint::CheckpointRecord;
use crate::entry::Entry;
use crate::error::{CorruptionKind, Error, Result};
use crate::flush::advance_published;
use crate::format::frame::{self, FrameFault, FrameHeader, FrameKind, FRAME_HEADER_LEN};
use crate::lsn::Lsn;
use crate::meta::MetaRecord;
use crate::region;
use crate::segment::Segment;
use crate::storage::Words;
use crate::sync::{lock, Arc, Ordering};

/// One frame of the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A batch of entries appended together.
    Entries {
        /// The frame's LSN.
        lsn: Lsn,
        /// The entries, in append order.
        entries: Vec<Entry>,
    },
    /// A checkpoint record.
    Checkpoint {
        /// The frame's LSN.
        lsn: Lsn,
        /// The record.
        record: CheckpointRecord,
    },
    /// A checkpoint-coordination record (format version 2).
    Meta {
        /// The frame's LSN.
        lsn: Lsn,
        /// The record.
        record: MetaRecord,
    },
}

impl Frame {
    /// The frame's LSN.
    #[must_use]
    pub fn lsn(&self) -> Lsn {
        match self {
            Frame::Entries { lsn, .. }
            | Frame::Checkpoint { lsn, .. }
            | Frame::Meta { lsn, .. } => *lsn,
        }
    }
}

/// One frame borrowed from its [`Reader`] ([`Reader::next_ref`]): an entry frame's
/// entries are in the reader's buffer, reused from frame to frame, so reading allocates
/// nothing per entry frame.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameRef<'a> {
    /// A batch of entries appended together.
    Entries {
        /// The frame's LSN.
        lsn: Lsn,
        /// The entries, in append order.
        entries: &'a [Entry],
    },
    /// A checkpoint record.
    Checkpoint {
        /// The frame's LSN.
        lsn: Lsn,
        /// The record.
        record: CheckpointRecord,
    },
    /// A checkpoint-coordination record (format version 2).
    Meta {
        /// The frame's LSN.
        lsn: Lsn,
        /// The record.
        record: MetaRecord,
    },
}

impl FrameRef<'_> {
    /// The frame's LSN.
    #[must_use]
    pub fn lsn(&self) -> Lsn {
        match self {
            FrameRef::Entries { lsn, .. }
            | FrameRef::Checkpoint { lsn, .. }
            | FrameRef::Meta { lsn, .. } => *lsn,
        }
    }

    /// The owned [`Frame`].
    #[must_use]
    pub fn to_frame(&self) -> Frame {
        match self {
            FrameRef::Entries { lsn, entries } => Frame::Entries {
                lsn: *lsn,
                entries: entries.to_vec(),
            },
            FrameRef::Checkpoint { lsn, record } => Frame::Checkpoint {
                lsn: *lsn,
                record: record.clone(),
            },
            FrameRef::Meta { lsn, record } => Frame::Meta {
                lsn: *lsn,
                record: record.clone(),
            },
        }
    }
}

/// What [`Reader::advance`] found: an entry frame (its entries appended to the buffer it
/// was given), or another frame.
enum Found {
    Entries(Lsn),
    Other(Frame),
}

/// Iterator over frames from an LSN to the published frontier at each step.
#[derive(Debug)]
pub struct Reader {
    log: Arc<Log>,
    pos: u64,
    segment: Option<Arc<Segment>>,
    first: bool,
    done: bool,
    scratch: Vec<u8>,
    /// The entries of the last frame returned by [`Reader::next_ref`].
    entries: Vec<Entry>,
    /// Frames at or above this LSN were validated by this process's recovery or written
    /// by this process, and are read without their checksum (the first frame is always
    /// checked: it proves `from` is a frame boundary). `u64::MAX`: check every frame.
    trusted_from: u64,
    /// Compaction: the pin that keeps this reader's segments from being retired.
    pin: Option<crate::compaction::Pin>,
}

impl Reader {
    pub(crate) fn new(log: Arc<Log>, from: Lsn) -> Reader {
        Reader {
            log,
            pos: from.0,
            segment: None,
            first: true,
            done: false,
            scratch: Vec::new(),
            entries: Vec::new(),
            trusted_from: u64::MAX,
            pin: None,
        }
    }

    /// This reader, holding `pin` (moved forward as it enters later segments).
    pub(crate) fn pinned(mut self, pin: crate::compaction::Pin) -> Reader {
        self.pin = Some(pin);
        self
    }

    /// This reader, reading the frames at or above `lsn` without their checksum: only
    /// for a range this process validated frame by frame (recovery's scan) or wrote.
    pub(crate) fn trusting(mut self, lsn: Lsn) -> Reader {
        self.trusted_from = lsn.0;
        self
    }

    /// The LSN the next frame will be read from.
    #[must_use]
    pub fn position(&self) -> Lsn {
        Lsn(self.pos)
    }

    /// The next frame if it is already published, without waiting.
    ///
    /// # Errors
    /// [`Error::Corrupted`] for a published frame that fails validation.
    pub fn try_next(&mut self) -> Result<Option<Frame>> {
        self.step()
    }

    /// The next frame if it is already published, without waiting, borrowed from this
    /// reader: an entry frame's entries are copied into a buffer the reader keeps and
    /// reuses, where [`Reader::try_next`] allocates a `Vec` per entry frame.
    ///
    /// # Errors
    /// As [`Reader::try_next`].
    pub fn next_ref(&mut self) -> Result<Option<FrameRef<'_>>> {
        let mut entries = std::mem::take(&mut self.entries);
        entries.clear();
        let found = self.advance(&mut entries);
        self.entries = entries;
        Ok(match found? {
            None => None,
            Some(Found::Entries(lsn)) => Some(FrameRef::Entries {
                lsn,
                entries: &self.entries,
            }),
            Some(Found::Other(Frame::Checkpoint { lsn, record })) => {
                Some(FrameRef::Checkpoint { lsn, record })
            }
            Some(Found::Other(Frame::Meta { lsn, record })) => Some(FrameRef::Meta { lsn, record }),
            Some(Found::Other(Frame::Entries { lsn, entries })) => {
                self.entries = entries;
                Some(FrameRef::Entries {
                    lsn,
                    entries: &self.entries,
                })
            }
        })
    }

    /// The next frame, waiting up to `timeout` for a writer to publish it (polling with a
    /// backoff from spinning to 1 ms sleeps, which keeps the append path free of wake-ups).
    ///
    /// # Errors
    /// As [`Reader::try_next`].
    pub fn next_timeout(&mut self, timeout: std::time::Duration) -> Result<Option<Frame>> {
        poll_until(timeout, || self.step())
    }

    fn segment_for(&mut self, pos: u64) -> Option<Arc<Segment>> {
        if let Some(seg) = self.segment.as_ref().filter(|s| s.contains(pos)) {
            return Some(Arc::clone(seg));
        }
        let seg = lock(&self.log.segments).find(pos).map(Arc::clone);
        if let Some(pin) = self.pin.as_ref().filter(|_| seg.is_some()) {
            pin.advance(pos);
        }
        self.segment.clone_from(&seg);
        seg
    }

    fn step(&mut self) -> Result<Option<Frame>> {
        // Each frame's own `Vec`, allocated at its exact size.
        let mut entries = Vec::new();
        Ok(match self.advance(&mut entries)? {
            None => None,
            Some(Found::Entries(lsn)) => Some(Frame::Entries { lsn, entries }),
            Some(Found::Other(frame)) => Some(frame),
        })
    }

    /// Reads the next published frame; an entry frame's entries go to the end of `out`.
    fn advance(&mut self, out: &mut Vec<Entry>) -> Result<Option<Found>> {
        loop {
            if self.pos >= self.log.frontier.published() && self.pos >= advance_published(&self.log)
            {
                return Ok(None);
            }
            let Some(seg) = self.segment_for(self.pos) else {
                return Err(self.invalid_lsn());
            };
            let room = seg.end() - self.pos;
            if room < FRAME_HEADER_LEN as u64 {
                self.pos = seg.end();
                continue;
            }
            let at = seg.word_at(self.pos);
            let room_bytes = usize::try_from(room).unwrap_or(usize::MAX);
            let read = if !self.first && self.pos >= self.trusted_from {
                read_trusted(seg.data(), at, room_bytes, out)
            } else {
                read_checked(seg.data(), at, self.pos, room_bytes, out)
            };
            let header = match read {
                Ok(header) => header,
                Err(_) if self.first => return Err(self.invalid_lsn()),
                Err(fault) => return Err(seg.corrupted(self.pos, CorruptionKind::Frame(fault))),
            };
            self.first = false;
            let lsn = Lsn(self.pos);
            self.pos += header.frame_len() as u64;
            match header.kind {
                FrameKind::Padding => {}
                FrameKind::Entries => return Ok(Some(Found::Entries(lsn))),
                FrameKind::Checkpoint => {
                    region::read_bytes(seg.data(), at, &header, &mut self.scratch);
                    return decode_checkpoint(&seg, lsn, &self.scratch)
                        .map(|f| Some(Found::Other(f)));
                }
                FrameKind::Meta => {
                    region::read_bytes(seg.data(), at, &header, &mut self.scratch);
                    return decode_meta(&seg, lsn, &self.scratch).map(|f| Some(Found::Other(f)));
                }
            }
        }
    }

    fn invalid_lsn(&self) -> Error {
        let first = lock(&self.log.segments)
            .by_base
            .keys()
            .next()
            .copied()
            .unwrap_or(0);
        Error::InvalidLsn {
            lsn: Lsn(self.pos),
            first: Lsn(first),
            end: Lsn(self.log.frontier.published()),
        }
    }
}

/// Reads and fully validates the frame at word `at` (LSN `lsn`, `room` bytes to the end
/// of its segment); an entry frame's entries go to the end of `out` (reserved exactly).
fn read_checked<W: Words + ?Sized>(
    mem: &W,
    at: usize,
    lsn: u64,
    room: usize,
    out: &mut Vec<Entry>,
) -> std::result::Result<FrameHeader, FrameFault> {
    let (header, copied) = region::read_header_and_entries(mem, at, lsn, room, out)?;
    if header.kind == FrameKind::Entries && !copied {
        room_for(out, header.len as usize / crate::entry::ENTRY_LEN);
        region::read_entries(mem, at, &header, out);
    }
    Ok(header)
}

/// Reads the frame at word `at` checking its header's fields and extent but not its
/// checksum: for frames this process validated or wrote (`Reader::trusting`).
fn read_trusted<W: Words + ?Sized>(
    mem: &W,
    at: usize,
    room: usize,
    out: &mut Vec<Entry>,
) -> std::result::Result<FrameHeader, FrameFault> {
    // Acquire: pairs with the release store in `publish`.
    let w0 = u64::from_le(
        mem.load(at, Ordering::Acquire)
            .ok_or(FrameFault::BadLength)?,
    );
    let w1 = u64::from_le(mem.load(at + 1, Ordering::Relaxed).unwrap_or(0));
    let header = frame::check_fields(w0, w1, room)?;
    if header.kind == FrameKind::Entries {
        room_for(out, header.len as usize / crate::entry::ENTRY_LEN);
        region::read_entries(mem, at, &header, out);
    }
    Ok(header)
}

/// Makes room for `count` more entries in `out`: a `Vec` without a buffer gets one of
/// exactly `count` entries by a direct allocation (`reserve_exact` on it would take the
/// slower grow path: about 90 instructions per single-entry frame, callgrind).
fn room_for(out: &mut Vec<Entry>, count: usize) {
    if out.capacity() == 0 {
        *out = Vec::with_capacity(count);
    } else {
        out.reserve_exact(count);
    }
}

/// The checkpoint frame at `lsn` of `seg`, whose payload is `payload`; a payload that
/// does not decode is corruption at `lsn`.
pub(crate) fn decode_checkpoint(seg: &Segment, lsn: Lsn, payload: &[u8]) -> Result<Frame> {
    let record = CheckpointRecord::decode(payload)
        .map_err(|e| seg.corrupted(lsn.0, CorruptionKind::Checkpoint(e.to_string())))?;
    Ok(Frame::Checkpoint { lsn, record })
}

/// The meta frame at `lsn` of `seg`, whose payload is `payload`; a meta frame in a
/// segment of a format version before meta frames existed is corruption.
pub(crate) fn decode_meta(seg: &Segment, lsn: Lsn, payload: &[u8]) -> Result<Frame> {
    if seg.header.format_version < FrameKind::Meta.since_version() {
        return Err(seg.corrupted(
            lsn.0,
            CorruptionKind::UnknownFrame {
                kind: FrameKind::Meta.into(),
            },
        ));
    }
    let record = MetaRecord::decode(payload)
        .map_err(|e| seg.corrupted(lsn.0, CorruptionKind::Meta(e.to_string())))?;
    Ok(Frame::Meta { lsn, record })
}

/// Calls `step` until it yields a frame or `timeout` passes, sleeping between calls with
/// a backoff from 10 µs to 1 ms. A timeout too large to add to the clock waits forever.
pub(crate) fn poll_until(
    timeout: std::time::Duration,
    mut step: impl FnMut() -> Result<Option<Frame>>,
) -> Result<Option<Frame>> {
    let deadline = std::time::Instant::now().checked_add(timeout);
    let mut pause = std::time::Duration::from_micros(10);
    loop {
        if let Some(frame) = step()? {
            return Ok(Some(frame));
        }
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Ok(None);
        }
        std::thread::sleep(left.map_or(pause, |l| pause.min(l)));
        pause = (pause * 2).min(std::time::Duration::from_millis(1));
    }
}

impl Iterator for Reader {
    type Item = Result<Frame>;

    fn next(&mut self) -> Option<Result<Frame>> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
