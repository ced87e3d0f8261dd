//! `segment_scan`: bytes as segment files in a journal directory, analysed with
//! `inspect`, then opened, read frame by frame, and opened again.
//!
//! Input: `{ flags u8 | files.. }`. Without [`MULTI`] the rest is one file; with it, the
//! rest is up to [`FILES_MAX`] records `{ len u16 | bytes[len] }`. Each file is named by
//! the base LSN in its header bytes (`{base:016x}.seg`). Fix-ups, so that the fuzzer
//! reaches past checksums it cannot invert: [`PAD`] zero-extends a file to the segment
//! size its header declares (at most [`PAD_MAX_BYTES`]), [`FIX_HEADER`] rewrites the
//! header checksum, [`FIX_FRAMES`] rewrites the checksum of every frame along the chain.
//! Bits 4–5 choose the recovery mode.
//!
//! Oracle, beyond "no panic": `inspect` (a dry run) and `Journal::open` agree on success
//! and on the report; every recovered frame reads back; a second open finds exactly the
//! recovered prefix, with nothing left to truncate.

use std::fs;
use std::path::Path;

use checkpoint_journal::format::crc::{bytes_crc, frame_crc};
use checkpoint_journal::format::frame::{check_fields, le_word, FrameKind, FRAME_HEADER_LEN};
use checkpoint_journal::format::segment_header::SEGMENT_HEADER_LEN;
use checkpoint_journal::format::FORMAT_VERSION;
use checkpoint_journal::{inspect, Frame, Journal, Options, RecoveryMode, RecoveryReport};

use super::input::Input;

/// Several files, each `{ len u16 | bytes }`.
pub const MULTI: u8 = 1;
/// Zero-extend each file to the segment size its header declares.
pub const PAD: u8 = 2;
/// Rewrite each header's checksum.
pub const FIX_HEADER: u8 = 4;
/// Rewrite the checksum of each frame along the chain.
pub const FIX_FRAMES: u8 = 8;
/// Most files one input makes.
pub const FILES_MAX: usize = 4;
/// Largest size [`PAD`] extends a file to.
pub const PAD_MAX_BYTES: u64 = 256 * 1024;
/// Segment size of segments the journal creates itself (a marker after a full segment).
const SEGMENT_BYTES: u64 = 64 * 1024;

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let mode = match (flags >> 4) & 3 {
        1 => RecoveryMode::Strict,
        2 => RecoveryMode::Salvage,
        _ => RecoveryMode::TolerateTornTail,
    };
    let files = split(&mut input, flags);
    let dir = scratch_dir();
    for bytes in files {
        let file = fix_up(bytes, flags);
        let name = format!("{:016x}.seg", le_word(&file, 4).unwrap_or(0));
        if let Err(e) = fs::write(dir.path().join(name), &file) {
            panic!("writing a scratch file failed: {e}");
        }
    }
    check_dir(dir.path(), mode);
}

/// The file images an input describes.
fn split<'a>(input: &mut Input<'a>, flags: u8) -> Vec<&'a [u8]> {
    if flags & MULTI == 0 {
        return vec![input.rest()];
    }
    let mut files = Vec::new();
    while !input.is_empty() && files.len() < FILES_MAX {
        let len = usize::from(input.u16());
        files.push(input.take(len));
    }
    files
}

/// A directory on tmpfs where there is one, so that msync and fsync cost nothing.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let made = if shm.is_dir() {
        tempfile::Builder::new().prefix("cpj-fuzz").tempdir_in(shm)
    } else {
        tempfile::Builder::new().prefix("cpj-fuzz").tempdir()
    };
    match made {
        Ok(dir) => dir,
        Err(e) => panic!("cannot make a scratch directory: {e}"),
    }
}

/// Applies the fix-ups `flags` asks for.
fn fix_up(bytes: &[u8], flags: u8) -> Vec<u8> {
    let mut file = bytes.to_vec();
    if flags & PAD != 0 {
        let declared = le_word(&file, 5).unwrap_or(0);
        if declared <= PAD_MAX_BYTES && declared > file.len() as u64 {
            file.resize(usize::try_from(declared).unwrap_or(0), 0);
        }
    }
    if flags & FIX_HEADER != 0 {
        if let Some(fields) = file.get(..56) {
            let crc = bytes_crc(fields);
            if let Some(slot) = file.get_mut(56..60) {
                slot.copy_from_slice(&crc.to_le_bytes());
            }
        }
    }
    if flags & FIX_FRAMES != 0 {
        fix_frames(&mut file);
    }
    file
}

/// Rewrites the checksum of each frame from the first, as long as its fields are valid.
pub fn fix_frames(file: &mut [u8]) {
    let base = le_word(file, 4).unwrap_or(0);
    let mut at = SEGMENT_HEADER_LEN;
    while let (Some(w0), Some(w1)) = (le_word(file, at / 8), le_word(file, at / 8 + 1)) {
        let Ok(header) = check_fields(w0, w1, file.len() - at) else {
            return;
        };
        let words = if header.kind == FrameKind::Padding {
            0
        } else {
            header.frame_len() / 8 - 2
        };
        let payload: Vec<u64> = (0..words)
            .filter_map(|i| le_word(file, at / 8 + 2 + i))
            .collect();
        let lsn = base.wrapping_add((at - SEGMENT_HEADER_LEN) as u64);
        let crc = frame_crc(lsn, w0, header.durable_back, &payload);
        if let Some(slot) = file.get_mut(at + 8..at + 12) {
            slot.copy_from_slice(&crc.to_le_bytes());
        }
        at += header.frame_len();
        if at + FRAME_HEADER_LEN > file.len() {
            return;
        }
    }
}

/// The oracle over one directory.
pub fn check_dir(dir: &Path, mode: RecoveryMode) {
    let options = Options::default()
        .segment_size_bytes(SEGMENT_BYTES)
        .preallocate(false)
        .create_if_missing(false)
        .recovery_mode(mode);
    let dry = inspect(dir, mode);
    let opened = Journal::open(dir, options.clone());
    let journal = match (dry, opened) {
        (Ok(Some(dry)), Ok(journal)) => {
            same_outcome(&dry.report, journal.recovery_report());
            journal
        }
        (Ok(None), Err(checkpoint_journal::Error::NotFound { .. })) | (Err(_), Err(_)) => return,
        (dry, opened) => panic!(
            "inspect and open disagree: inspect {:?}, open {:?}",
            dry.map(|d| d.map(|d| d.report)),
            opened.map(|j| j.recovery_report().clone())
        ),
    };
    let report = journal.recovery_report().clone();
    let frames = read_every_frame(&journal);
    assert_eq!(
        entries_of(&frames),
        report.entries_replayed,
        "frames read back differ from the replay: {report:?}"
    );
    journal.close_without_flush();
    let again = match Journal::open(dir, options) {
        Ok(journal) => journal,
        Err(e) => panic!("a recovered journal does not open again: {e}; first open: {report:?}"),
    };
    let second = again.recovery_report().clone();
    assert_eq!(
        read_every_frame(&again),
        frames,
        "the second open recovers other frames"
    );
    assert_eq!(
        second.end_lsn,
        resumed_at(&report),
        "{second:?} after {report:?}"
    );
    assert_eq!(
        second.torn_bytes, 0,
        "left bytes to truncate: {second:?} after {report:?}"
    );
    assert!(
        second.dropped.is_none(),
        "dropped frames twice: {second:?} after {report:?}"
    );
    if let Err(e) = again.close() {
        assert!(e.is_storage_full(), "close after recovery failed: {e}");
    }
}

/// Where the first open left the end: the recovered end, or, when the segment holding
/// it is of an older format version, that segment's end (opening seals it).
fn resumed_at(report: &RecoveryReport) -> checkpoint_journal::Lsn {
    let end = report.end_lsn;
    let holding = report
        .segments
        .iter()
        .find(|s| s.base_lsn <= end && end < s.end_lsn);
    let Some(seg) = holding else {
        return end;
    };
    let version = fs::read(&seg.path).ok().and_then(|b| {
        b.get(8..12)
            .map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
    });
    if version.is_some_and(|v| v < FORMAT_VERSION) {
        seg.end_lsn
    } else {
        end
    }
}

/// The fields a dry run must predict.
fn same_outcome(dry: &RecoveryReport, real: &RecoveryReport) {
    let key = |r: &RecoveryReport| {
        (
            r.entries_replayed,
            r.checkpoints_replayed,
            r.frames_scanned,
            r.first_lsn,
            r.end_lsn,
            r.durable_claim,
            r.case,
            r.torn_bytes,
            r.dropped.clone(),
            r.removed_files.clone(),
            r.empty_segments_removed.clone(),
        )
    };
    assert_eq!(key(dry), key(real), "inspect {dry:?} but open {real:?}");
}

fn read_every_frame(journal: &Journal) -> Vec<Frame> {
    let reader = match journal.read_from(journal.first_lsn()) {
        Ok(reader) => reader,
        Err(e) => panic!("read_from(first_lsn) failed on a recovered journal: {e}"),
    };
    reader
        .map(|frame| match frame {
            Ok(frame) => frame,
            Err(e) => panic!("a recovered frame does not read back: {e}"),
        })
        .collect()
}

fn entries_of(frames: &[Frame]) -> u64 {
    frames
        .iter()
        .map(|f| match f {
            Frame::Entries { entries, .. } => entries.len() as u64,
            _ => 0,
        })
        .sum()
}
