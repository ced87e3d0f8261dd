//! Entries and checkpoints written are read back in order, across reopen and roll-overs.

use checkpoint_journal::{CheckpointRecord, Entry, Frame, Journal, Lsn, Options, Result};

fn small() -> Options {
    Options::default().segment_size_bytes(64 * 1024)
}

#[test]
fn entries_and_checkpoints_round_trip_across_three_rollovers() -> Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| checkpoint_journal::Error::io("tmp", "tempdir", e))?;
    let mut written = Vec::new();
    {
        let j = Journal::open(dir.path(), small())?;
        for i in 0..10_000u64 {
            let e = Entry::push(
                u16::try_from(i % 7).unwrap(),
                i,
                i64::try_from(i).unwrap() * 10,
            );
            j.append(e)?;
            written.push(e);
            if i % 1000 == 999 {
                j.checkpoint(&CheckpointRecord {
                    id: i,
                    ..CheckpointRecord::default()
                })?;
            }
        }
        assert!(j.end_lsn().0 > 3 * 64 * 1024, "at least three roll-overs");
    }
    let j = Journal::open(dir.path(), small())?;
    let report = j.recovery_report();
    assert_eq!(report.entries_replayed, 10_000);
    assert_eq!(report.checkpoints_replayed, 10);
    let mut read = Vec::new();
    let mut checkpoints = 0;
    for frame in j.read_from(Lsn::ZERO)? {
        match frame? {
            Frame::Entries { entries, .. } => read.extend(entries),
            Frame::Checkpoint { record, .. } => {
                assert_eq!(record.id, checkpoints * 1000 + 999);
                checkpoints += 1;
            }
            _ => unreachable!(),
        }
    }
    assert_eq!(read, written);
    assert_eq!(checkpoints, 10);
    let state = j.state()?;
    assert_eq!(state.sources[&0].sequence, 9996);
    assert_eq!(state.last_checkpoint.map(|c| c.1.id), Some(9999));
    Ok(())
}

#[test]
fn a_read_only_follower_and_an_in_process_tail_see_every_frame() -> Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| checkpoint_journal::Error::io("tmp", "tempdir", e))?;
    let j = Journal::open(dir.path(), small())?;
    let mut follower = checkpoint_journal::JournalReader::open(dir.path())?;
    let mut tail = j.tail(Lsn::ZERO)?;
    assert!(follower.try_next()?.is_none());
    assert!(tail.try_next()?.is_none());
    let mut want = Vec::new();
    for i in 0..5_000u64 {
        let e = Entry::watermark(1, i, i64::try_from(i).unwrap());
        j.append(e)?;
        want.push(e);
    }
    let collect = |frames: &mut dyn Iterator<Item = Result<Frame>>| -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for f in frames {
            if let Frame::Entries { entries, .. } = f? {
                out.extend(entries);
            }
        }
        Ok(out)
    };
    assert_eq!(collect(&mut follower)?, want);
    assert_eq!(collect(&mut tail)?, want);
    assert!(tail
        .next_timeout(std::time::Duration::from_millis(5))?
        .is_none());
    Ok(())
}
