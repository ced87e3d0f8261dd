//! What a reader checks (docs/DURABILITY.md "What a reader checks"): `read_from` in the
//! process that opened the journal reads the frames its recovery validated without their
//! checksum, but still checks the first frame it reads (so an LSN inside a frame is
//! refused); a follower (`JournalReader`, the cross-process reader), a new open and a
//! dry-run inspection check every frame and name a damaged one by its LSN.

mod support;

use checkpoint_journal::follower::JournalReader;
use checkpoint_journal::format::frame::FrameFault;
use checkpoint_journal::recovery::inspect;
use checkpoint_journal::{CorruptionKind, Error, Frame, FrameRef, Journal, Lsn, RecoveryMode};
use support::{entry, flip_bit, locate, options, write_entries, TestResult, FRAME_HEADER_BYTES};

const FRAMES: usize = 60;
const VICTIM: usize = 30;

fn assert_corrupted_at(result: Result<impl std::fmt::Debug, Error>, lsn: Lsn) {
    match result {
        Err(Error::Corrupted(c)) => {
            assert_eq!(c.lsn, lsn);
            assert_eq!(c.kind, CorruptionKind::Frame(FrameFault::ChecksumMismatch));
        }
        other => panic!("expected corruption at {lsn}, got {other:?}"),
    }
}

/// The frames a follower reads from the start until the first error.
fn follow(dir: &std::path::Path) -> Result<Vec<Lsn>, Error> {
    let mut follower = JournalReader::open(dir)?;
    let mut lsns = Vec::new();
    while let Some(frame) = follower.try_next()? {
        lsns.push(frame.lsn());
    }
    Ok(lsns)
}

#[test]
fn damage_after_open_is_found_by_followers_inspection_and_the_next_open() -> TestResult {
    let dir = support::tempdir()?;
    let (journal, lsns) = write_entries(dir.path(), options(), FRAMES as u64)?;
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    let victim = lsns[VICTIM];
    // The payload's sequence word of the victim's entry, flipped under the open journal.
    let (path, offset) = locate(dir.path(), victim)?;
    flip_bit(&path, offset + FRAME_HEADER_BYTES + 8, 0)?;

    // The opener's own reader trusts what its recovery validated: it sees the flipped
    // value (no checksum); this is the documented limit of the trust.
    let frames: Vec<Frame> = journal.read_from(lsns[0])?.collect::<Result<_, _>>()?;
    let Some(Frame::Entries { entries, .. }) = frames.get(VICTIM) else {
        panic!("no entry frame at the victim");
    };
    assert_eq!(entries[0].sequence, entry(VICTIM as u64).sequence ^ 1);

    // Everyone else checks every frame.
    assert_corrupted_at(follow(dir.path()), victim);
    assert_corrupted_at(inspect(dir.path(), RecoveryMode::TolerateTornTail), victim);
    journal.close_without_flush();
    assert_corrupted_at(Journal::open(dir.path(), options()), victim);
    Ok(())
}

#[test]
fn the_first_frame_read_is_always_checked() -> TestResult {
    let dir = support::tempdir()?;
    let (journal, lsns) = write_entries(dir.path(), options(), FRAMES as u64)?;
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    // Inside a frame: its "header" is entry bytes, whose checksum cannot match.
    let inside = Lsn(lsns[VICTIM].0 + FRAME_HEADER_BYTES);
    match journal.read_from(inside)?.next() {
        Some(Err(Error::InvalidLsn { lsn, .. })) => assert_eq!(lsn, inside),
        other => panic!("expected InvalidLsn, got {other:?}"),
    }
    let mut reader = journal.read_from(inside)?;
    assert!(matches!(reader.next_ref(), Err(Error::InvalidLsn { .. })));
    // From the frame boundary, both APIs read the same frames.
    let owned: Vec<Frame> = journal.read_from(lsns[VICTIM])?.collect::<Result<_, _>>()?;
    let mut borrowed = Vec::new();
    let mut reader = journal.read_from(lsns[VICTIM])?;
    while let Some(frame) = reader.next_ref()? {
        assert!(matches!(frame, FrameRef::Entries { .. }));
        borrowed.push(frame.to_frame());
    }
    assert_eq!(owned, borrowed);
    assert_eq!(owned.len(), FRAMES - VICTIM);
    journal.close_without_flush();
    Ok(())
}

#[test]
fn frames_appended_after_open_read_back_through_both_apis() -> TestResult {
    let dir = support::tempdir()?;
    let (journal, _) = write_entries(dir.path(), options(), 10)?;
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    let batch: Vec<_> = (10..1500).map(entry).collect();
    journal.append_batch(&batch)?;
    journal.append(entry(1500))?;
    let mut all = Vec::new();
    let mut reader = journal.read_from(journal.first_lsn())?;
    while let Some(frame) = reader.next_ref()? {
        if let FrameRef::Entries { entries, .. } = frame {
            all.extend_from_slice(entries);
        }
    }
    let expected: Vec<_> = (0..=1500).map(entry).collect();
    assert_eq!(all, expected);
    assert_eq!(support::entries(&journal)?, expected);
    journal.close()?;
    Ok(())
}
