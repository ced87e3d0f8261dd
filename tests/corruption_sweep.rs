//! Corruption sweep over a whole acknowledged, durable journal: a random bit of every
//! byte of every frame, in turn. Opening must report `Corrupted` naming the damaged
//! frame's LSN in every case (never a silent truncation, never a panic), and `Salvage`
//! must recover exactly the frames before it. A flip in the close marker (the last
//! frame, which no later frame claims durable) is a torn tail that loses no data.

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_journal::{
    CheckpointRecord, Entry, Error, Frame, Journal, Lsn, Options, RecoveryCase, RecoveryMode,
};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

const HEADER: u64 = 4096;

fn options() -> Options {
    Options::default()
        .segment_size_bytes(64 * 1024)
        .preallocate(false)
}

/// A closed journal of mixed frames; returns the frame LSNs (the close marker last).
fn build(dir: &Path) -> TestResult<Vec<Lsn>> {
    let journal = Journal::open(dir, options())?;
    let mut lsns = Vec::new();
    for i in 0..40u64 {
        let lsn = match i % 4 {
            0 => journal.append(Entry::push(1, i, 0))?,
            1 => journal.append_batch(&[Entry::push(2, i, 1), Entry::watermark(2, i, 2)])?,
            2 => journal.checkpoint(&CheckpointRecord {
                id: i,
                ..CheckpointRecord::default()
            })?,
            _ => journal.append(Entry::barrier(3, i, 3))?,
        };
        lsns.push(lsn);
    }
    let end = journal.end_lsn();
    journal.close()?;
    lsns.push(end); // the close marker starts where the data ended
    Ok(lsns)
}

fn frames(dir: &Path, mode: RecoveryMode) -> Result<Vec<Lsn>, Error> {
    let journal = Journal::open(dir, options().recovery_mode(mode))?;
    let out = journal
        .read_from(Lsn::ZERO)?
        .map(|f| f.map(|f| f.lsn()))
        .collect();
    journal.close_without_flush();
    out
}

/// A xorshift generator: the sweep is the same on every run.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_random_bit_of_every_byte_of_every_frame() -> TestResult {
    let dir = tempfile::tempdir()?;
    let lsns = build(dir.path())?;
    let segment: PathBuf = dir.path().join("0000000000000000.seg");
    let pristine = fs::read(&segment)?;
    let marker = *lsns.last().ok_or("no frames")?;
    let data_frames = &lsns[..lsns.len() - 1];
    let end = marker.0 + 16;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut corrupted = 0;
    for lsn_of_byte in 0..end {
        let frame_index = lsns
            .iter()
            .rposition(|l| l.0 <= lsn_of_byte)
            .ok_or("before the first frame")?;
        let frame = lsns[frame_index];
        let offset = usize::try_from(HEADER + lsn_of_byte)?;
        let mut bytes = pristine.clone();
        bytes[offset] ^= 1 << (next(&mut rng) % 8);
        fs::write(&segment, &bytes)?;
        if frame == marker {
            // Nothing claims the marker durable: a torn tail, every data frame kept.
            let journal = Journal::open(dir.path(), options())?;
            assert_eq!(journal.recovery_report().case, Some(RecoveryCase::TornTail));
            let kept: Vec<Lsn> = journal
                .read_from(Lsn::ZERO)?
                .map(|f| f.map(|f| f.lsn()))
                .collect::<Result<_, _>>()?;
            assert_eq!(kept, data_frames, "a flip in the marker loses no data");
            journal.close_without_flush();
        } else {
            match frames(dir.path(), RecoveryMode::TolerateTornTail) {
                Err(Error::Corrupted(c)) => assert_eq!(c.lsn, frame, "byte at LSN {lsn_of_byte}"),
                other => panic!("byte at LSN {lsn_of_byte} (frame {frame}): {other:?}"),
            }
            assert_eq!(fs::read(&segment)?, bytes, "a refused open changes nothing");
            let kept = frames(dir.path(), RecoveryMode::Salvage)?;
            assert_eq!(
                kept,
                &lsns[..frame_index],
                "Salvage keeps exactly the frames before {frame}"
            );
            corrupted += 1;
        }
    }
    fs::write(&segment, &pristine)?;
    assert!(
        corrupted > 1_000,
        "the sweep covered {corrupted} bytes of data frames"
    );
    Ok(())
}

#[test]
fn the_sweep_journal_reads_back_whole() -> TestResult {
    let dir = tempfile::tempdir()?;
    let lsns = build(dir.path())?;
    let journal = Journal::open(dir.path(), options())?;
    let mut count = 0;
    for frame in journal.read_from(Lsn::ZERO)? {
        if let Frame::Entries { .. } | Frame::Checkpoint { .. } = frame? {
            count += 1;
        }
    }
    assert_eq!(count, lsns.len() - 1);
    Ok(())
}
