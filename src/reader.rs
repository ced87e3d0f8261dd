//! `Reader`: frames in LSN order from a starting LSN up to the published frontier,
//! across segments, each validated (LSN-bound checksum) before it is returned.

use crate::append::Log;
use crate::checkpoint::CheckpointRecord;
use crate::entry::Entry;
use crate::error::{CorruptionKind, Error, Result};
use crate::flush::advance_published;
use crate::format::frame::{FrameKind, FRAME_HEADER_LEN};
use crate::lsn::Lsn;
use crate::meta::MetaRecord;
use crate::region;
use crate::segment::Segment;
use crate::sync::{lock, Arc};

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

/// Iterator over frames from an LSN to the published frontier at each step.
#[derive(Debug)]
pub struct Reader {
    log: Arc<Log>,
    pos: u64,
    segment: Option<Arc<Segment>>,
    first: bool,
    done: bool,
    scratch: Vec<u8>,
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
            pin: None,
        }
    }

    /// This reader, holding `pin` (moved forward as it enters later segments).
    pub(crate) fn pinned(mut self, pin: crate::compaction::Pin) -> Reader {
        self.pin = Some(pin);
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
            let mut entries = Vec::new();
            let (header, copied) = match region::read_header_and_entries(
                seg.data(),
                at,
                self.pos,
                room_bytes,
                &mut entries,
            ) {
                Ok(found) => found,
                Err(_) if self.first => return Err(self.invalid_lsn()),
                Err(fault) => return Err(seg.corrupted(self.pos, CorruptionKind::Frame(fault))),
            };
            self.first = false;
            let lsn = Lsn(self.pos);
            self.pos += header.frame_len() as u64;
            match header.kind {
                FrameKind::Padding => {}
                FrameKind::Entries => {
                    if !copied {
                        // Exactly the frame's entries: one allocation, never grown.
                        entries = Vec::with_capacity(header.len as usize / crate::entry::ENTRY_LEN);
                        region::read_entries(seg.data(), at, &header, &mut entries);
                    }
                    return Ok(Some(Frame::Entries { lsn, entries }));
                }
                FrameKind::Checkpoint => {
                    region::read_bytes(seg.data(), at, &header, &mut self.scratch);
                    return decode_checkpoint(&seg, lsn, &self.scratch).map(Some);
                }
                FrameKind::Meta => {
                    region::read_bytes(seg.data(), at, &header, &mut self.scratch);
                    return decode_meta(&seg, lsn, &self.scratch).map(Some);
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
