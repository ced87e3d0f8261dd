//! The byte-level scan behind `cpj verify`: every segment read with plain `pread`s
//! (never mapped, never opened for writing), every header and frame validated with the
//! format module's own checks, and after an invalid frame a resynchronisation that tries
//! every 8-byte position for the next frame that validates. Checksums are bound to the
//! frame's LSN, so a frame that validates at a position was written there.
//!
//! Invalid stretches are classified afterwards as recovery's decision table would (see
//! src/recovery.rs): below a durable claim is damage to acknowledged data; otherwise an
//! unsynced gap (valid frames follow) or a torn tail (nothing valid follows). Never-
//! written zeros from the last frame to the end of the last segment are a clean end.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use indicatif::ProgressBar;
use serde::Serialize;

use checkpoint_journal::format::frame::{
    check_fields, le_word, validate_bytes, FrameFault, FrameKind, FRAME_HEADER_LEN,
};
use checkpoint_journal::format::segment_header::SEGMENT_HEADER_LEN;
use checkpoint_journal::{CheckpointRecord, MetaRecord};

use crate::segments::SegmentFile;

/// Bytes read per `pread` when the window moves.
const WINDOW_BYTES: usize = 4 << 20;
/// Bytes looked at per step while searching for the next frame.
const RESYNC_CHUNK_BYTES: usize = 1 << 20;
const ENTRY_LEN: u64 = checkpoint_journal::entry::ENTRY_LEN as u64;

/// What recovery would make of a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Class {
    /// Acknowledged data is damaged (below a durable claim), or the files themselves
    /// are inconsistent: opening fails unless in salvage mode.
    Damage,
    /// Not claimed durable, but valid frames follow: opening truncates them too.
    UnsyncedGap,
    /// Not claimed durable, nothing valid follows: a write that never completed.
    TornTail,
    /// The last segment's creation never completed: opening removes the file.
    UnfinishedSegment,
}

/// One thing wrong, where it is, and what recovery would make of it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Problem {
    pub(crate) file: PathBuf,
    /// Byte offset in the file.
    pub(crate) offset: u64,
    /// LSN of the invalid frame (the segment's base LSN for file-level problems).
    pub(crate) lsn: u64,
    /// What is wrong, e.g. `frame_checksum_mismatch`, `segment_header_bad_magic`.
    pub(crate) kind: String,
    pub(crate) class: Class,
    pub(crate) detail: String,
    /// The next LSN where a valid frame was found in the same segment, if any.
    pub(crate) next_valid_lsn: Option<u64>,
    /// Bytes from the problem to that frame (or to the segment's end).
    pub(crate) bytes_skipped: u64,
    /// Whether the skipped bytes hold anything but zeros.
    #[serde(skip)]
    nonzero: bool,
}

/// Totals of a scan.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Scan {
    pub(crate) segments: usize,
    pub(crate) bytes_read: u64,
    pub(crate) frames: u64,
    pub(crate) entries: u64,
    pub(crate) checkpoints: u64,
    pub(crate) padding_frames: u64,
    /// Meta frames (checkpoint coordination records, format version 2).
    pub(crate) meta_records: u64,
    /// Highest durable frontier a valid frame claims.
    pub(crate) durable_claim: u64,
    /// LSN just past the last valid frame.
    pub(crate) end_lsn: u64,
    pub(crate) problems: Vec<Problem>,
    #[serde(skip)]
    last_valid_lsn: Option<u64>,
}

/// Scans `segments` (in LSN order), updating `bar` with bytes read.
///
/// # Errors
/// A segment file that cannot be opened or read.
pub(crate) fn scan(segments: &[SegmentFile], bar: &ProgressBar) -> io::Result<Scan> {
    let mut scan = Scan {
        segments: segments.len(),
        end_lsn: segments.first().map_or(0, |s| s.base_lsn),
        ..Scan::default()
    };
    let mut done_bytes = 0u64;
    for (i, seg) in segments.iter().enumerate() {
        crate::verify::check_file(&mut scan, segments, i);
        let mut reader = SegmentReader::open(seg, &mut scan, bar, done_bytes)?;
        reader.frames()?;
        done_bytes += seg.len;
        bar.set_position(done_bytes);
    }
    scan.bytes_read = done_bytes;
    classify(&mut scan);
    Ok(scan)
}

impl Scan {
    pub(crate) fn file_problem(
        &mut self,
        seg: &SegmentFile,
        kind: &str,
        class: Class,
        detail: String,
    ) {
        self.problems.push(Problem {
            file: seg.path.clone(),
            offset: 0,
            lsn: seg.base_lsn,
            kind: kind.to_owned(),
            class,
            detail,
            next_valid_lsn: None,
            bytes_skipped: 0,
            nonzero: false,
        });
    }
}

/// Sets each frame problem's class from the evidence gathered over the whole scan.
fn classify(scan: &mut Scan) {
    let claim = scan.durable_claim;
    let last_valid = scan.last_valid_lsn;
    let mut later_nonzero = false;
    let mut keep = Vec::with_capacity(scan.problems.len());
    for mut p in std::mem::take(&mut scan.problems).into_iter().rev() {
        if p.kind.starts_with("frame_") {
            let valid_after = last_valid.is_some_and(|v| v > p.lsn);
            if !p.nonzero && !valid_after && !later_nonzero && p.lsn >= claim {
                continue; // never-written space to the end: a clean end, not a problem
            }
            p.class = if p.lsn < claim {
                Class::Damage
            } else if valid_after {
                Class::UnsyncedGap
            } else {
                Class::TornTail
            };
        }
        later_nonzero |= p.nonzero;
        keep.push(p);
    }
    keep.reverse();
    scan.problems = keep;
}

/// Reads one segment's data area through a window of `pread`s.
struct SegmentReader<'a> {
    seg: &'a SegmentFile,
    scan: &'a mut Scan,
    bar: &'a ProgressBar,
    bar_base: u64,
    file: File,
    /// LSN just past the data area (bounded by the file's real length).
    end: u64,
    window_start: u64,
    window: Vec<u8>,
}

impl<'a> SegmentReader<'a> {
    fn open(
        seg: &'a SegmentFile,
        scan: &'a mut Scan,
        bar: &'a ProgressBar,
        bar_base: u64,
    ) -> io::Result<SegmentReader<'a>> {
        let file = File::open(&seg.path)?;
        let data_len = seg.len.saturating_sub(SEGMENT_HEADER_LEN as u64);
        let end = seg.end_lsn().min(seg.base_lsn.saturating_add(data_len));
        Ok(SegmentReader {
            seg,
            scan,
            bar,
            bar_base,
            file,
            end,
            window_start: 0,
            window: Vec::new(),
        })
    }

    /// Walks the frames from the base LSN to the end of the data area.
    fn frames(&mut self) -> io::Result<()> {
        let mut pos = self.seg.base_lsn;
        let mut reported = pos;
        while self.end.saturating_sub(pos) >= FRAME_HEADER_LEN as u64 {
            if pos - reported >= 1 << 20 {
                self.bar.set_position(self.bar_base + self.offset(pos));
                reported = pos;
            }
            match self.frame_at(pos)? {
                Ok(len) => pos += len,
                Err(fault) => match self.invalid(pos, &fault)? {
                    Some(next) => pos = next,
                    None => break,
                },
            }
        }
        Ok(())
    }

    /// Validates the frame at `pos` and counts it; its length, or why it is invalid.
    fn frame_at(&mut self, pos: u64) -> io::Result<Result<u64, Fault>> {
        let bytes = match self.frame_bytes(pos)? {
            Ok(bytes) => bytes,
            Err(fault) => return Ok(Err(Fault::Frame(fault))),
        };
        let header = match validate_bytes(pos, bytes) {
            Ok(h) => h,
            Err(fault) => return Ok(Err(Fault::Frame(fault))),
        };
        if header.kind == FrameKind::Checkpoint {
            let start = FRAME_HEADER_LEN;
            let record = bytes
                .get(start..start + header.len as usize)
                .unwrap_or_default();
            if let Err(e) = CheckpointRecord::decode(record) {
                return Ok(Err(Fault::Checkpoint(e.to_string())));
            }
        }
        if header.kind == FrameKind::Meta {
            let start = FRAME_HEADER_LEN;
            let record = bytes
                .get(start..start + header.len as usize)
                .unwrap_or_default();
            if let Err(e) = MetaRecord::decode(record) {
                return Ok(Err(Fault::Meta(e.to_string())));
            }
        }
        let s = &mut *self.scan;
        s.frames += 1;
        s.durable_claim = s.durable_claim.max(header.durable_claim(pos));
        match header.kind {
            FrameKind::Entries => s.entries += u64::from(header.len) / ENTRY_LEN,
            FrameKind::Checkpoint => s.checkpoints += 1,
            FrameKind::Padding => s.padding_frames += 1,
            FrameKind::Meta => s.meta_records += 1,
        }
        let len = header.frame_len() as u64;
        s.last_valid_lsn = Some(pos);
        s.end_lsn = s.end_lsn.max(pos + len);
        Ok(Ok(len))
    }

    /// Records the problem at `pos` and finds the next valid frame in this segment.
    fn invalid(&mut self, pos: u64, fault: &Fault) -> io::Result<Option<u64>> {
        let (next, nonzero) = self.resync(pos)?;
        let first_word = le_word(self.bytes(pos, 8)?, 0).unwrap_or(0);
        let stop = next.unwrap_or(self.end);
        self.scan.problems.push(Problem {
            file: self.seg.path.clone(),
            offset: self.offset(pos),
            lsn: pos,
            kind: fault.kind(),
            class: Class::TornTail,
            detail: fault.detail(),
            next_valid_lsn: next,
            bytes_skipped: stop - pos,
            nonzero: nonzero || first_word != 0,
        });
        Ok(next)
    }

    /// The first LSN after `pos` where a frame validates, and whether any non-zero
    /// word lies between.
    fn resync(&mut self, pos: u64) -> io::Result<(Option<u64>, bool)> {
        let mut q = pos + 8;
        let mut nonzero = false;
        while self.end.saturating_sub(q) >= 8 {
            let want = usize::try_from((self.end - q).min(RESYNC_CHUNK_BYTES as u64)).unwrap_or(8);
            let chunk = self.bytes(q, want)?;
            let Some(i) = first_nonzero_word(chunk) else {
                q += chunk.len().max(8) as u64;
                self.bar.set_position(self.bar_base + self.offset(q));
                continue;
            };
            q += i as u64 * 8;
            nonzero = true;
            if self.end - q >= FRAME_HEADER_LEN as u64 && self.frame_probe(q)? {
                return Ok((Some(q), nonzero));
            }
            q += 8;
        }
        Ok((None, nonzero))
    }

    /// Whether a frame validates at `q` (without counting it).
    fn frame_probe(&mut self, q: u64) -> io::Result<bool> {
        Ok(match self.frame_bytes(q)? {
            Ok(bytes) => validate_bytes(q, bytes).is_ok(),
            Err(_) => false,
        })
    }

    /// The bytes of the frame at `pos` if its header fields are plausible (checked
    /// before reading the payload, so hostile lengths cost nothing).
    fn frame_bytes(&mut self, pos: u64) -> io::Result<Result<&[u8], FrameFault>> {
        let room = usize::try_from(self.end - pos).unwrap_or(usize::MAX);
        let head = self.bytes(pos, FRAME_HEADER_LEN)?;
        let (w0, w1) = (le_word(head, 0).unwrap_or(0), le_word(head, 1).unwrap_or(0));
        let header = match check_fields(w0, w1, room) {
            Ok(h) => h,
            Err(fault) => return Ok(Err(fault)),
        };
        Ok(Ok(self.bytes(pos, header.frame_len())?))
    }

    fn offset(&self, lsn: u64) -> u64 {
        lsn - self.seg.base_lsn + SEGMENT_HEADER_LEN as u64
    }

    /// Up to `len` bytes of the data area from `lsn` (fewer only at the end of the file).
    fn bytes(&mut self, lsn: u64, len: usize) -> io::Result<&[u8]> {
        let offset = self.offset(lsn);
        let have_end = self.window_start + self.window.len() as u64;
        if offset < self.window_start || offset + len as u64 > have_end {
            let want = len.max(WINDOW_BYTES) as u64;
            let avail = self.seg.len.saturating_sub(offset).min(want);
            self.window.resize(usize::try_from(avail).unwrap_or(0), 0);
            self.file.read_exact_at(&mut self.window, offset)?;
            self.window_start = offset;
        }
        let from = usize::try_from(offset - self.window_start).unwrap_or(0);
        let to = (from + len).min(self.window.len());
        Ok(self.window.get(from..to).unwrap_or_default())
    }
}

/// Why a position holds no valid frame.
enum Fault {
    Frame(FrameFault),
    Checkpoint(String),
    Meta(String),
}

impl Fault {
    fn kind(&self) -> String {
        match self {
            Fault::Frame(FrameFault::Unwritten) => "frame_unwritten".into(),
            Fault::Frame(FrameFault::BadLength) => "frame_bad_length".into(),
            Fault::Frame(FrameFault::UnknownKind) => "frame_unknown_kind".into(),
            Fault::Frame(FrameFault::UnknownFlags) => "frame_unknown_flags".into(),
            Fault::Frame(FrameFault::ChecksumMismatch) => "frame_checksum_mismatch".into(),
            Fault::Checkpoint(_) => "frame_checkpoint_undecodable".into(),
            Fault::Meta(_) => "frame_meta_undecodable".into(),
        }
    }

    fn detail(&self) -> String {
        match self {
            Fault::Frame(FrameFault::Unwritten) => {
                "a zero header where a frame should be, with data after it".into()
            }
            Fault::Frame(FrameFault::BadLength) => {
                "the length is impossible for the kind or runs past the segment".into()
            }
            Fault::Frame(FrameFault::UnknownKind) => "the kind byte names no frame kind".into(),
            Fault::Frame(FrameFault::UnknownFlags) => "undefined flag or reserved bits".into(),
            Fault::Frame(FrameFault::ChecksumMismatch) => {
                "the CRC32C (bound to this LSN) does not match".into()
            }
            Fault::Checkpoint(why) | Fault::Meta(why) => format!("valid checksum, but {why}"),
        }
    }
}

/// Index of the first non-zero 8-byte word of `bytes`.
fn first_nonzero_word(bytes: &[u8]) -> Option<usize> {
    bytes
        .chunks_exact(8)
        .position(|w| w.iter().any(|b| *b != 0))
}
