//! Durable consumer cursors: a commit survives reopen (and compaction), reading resumes
//! strictly after the committed frame, `started` tells a cursor at LSN 0 from one that
//! never committed, the data and the cursor become durable in one flush, and a cursor
//! record written for another journal is refused, never resumed from.

mod support;

use checkpoint_journal::{Entry, Error, Frame, Journal, Lsn, MetaRecord};
use support::{options, TestResult};

fn entry_lsns(reader: checkpoint_journal::Reader) -> TestResult<Vec<(Lsn, u64)>> {
    let mut out = Vec::new();
    for frame in reader {
        if let Frame::Entries { lsn, entries } = frame? {
            out.push((lsn, entries[0].sequence));
        }
    }
    Ok(out)
}

#[test]
fn commit_reopen_and_resume_strictly_after_the_committed_frame() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    for i in 0..10 {
        journal.append(Entry::push(1, i, 0))?;
    }
    let mut cursor = journal.cursor("sink-a")?;
    assert_eq!((cursor.position, cursor.started), (Lsn(0), false));
    let all = entry_lsns(cursor.reader()?)?;
    assert_eq!(all.len(), 10, "a fresh cursor reads from the oldest frame");
    // The consumer processed the first four frames.
    let (processed, _) = all[3];
    cursor.commit(processed)?;
    assert!(cursor.started);
    journal.close()?;

    let journal = Journal::open(dir.path(), options())?;
    let cursor = journal.cursor("sink-a")?;
    assert_eq!((cursor.position, cursor.started), (processed, true));
    let rest = entry_lsns(cursor.reader()?)?;
    assert_eq!(
        rest,
        all[4..].to_vec(),
        "resumes strictly after the committed frame"
    );
    // Other cursors are independent.
    assert!(!journal.cursor("sink-b")?.started);
    journal.close()?;
    Ok(())
}

#[test]
fn a_cursor_at_lsn_zero_is_started() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let first = journal.append(Entry::push(1, 1, 0))?;
    assert_eq!(first, Lsn(0));
    let mut cursor = journal.cursor("c")?;
    cursor.commit(first)?;
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    let cursor = journal.cursor("c")?;
    assert_eq!((cursor.position, cursor.started), (Lsn(0), true));
    assert!(
        entry_lsns(cursor.reader()?)?.is_empty(),
        "frame 0 was processed"
    );
    Ok(())
}

#[test]
fn output_and_cursor_become_durable_in_one_flush() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let input = journal.append(Entry::push(1, 1, 0))?;
    journal.flush()?;
    let flushes = journal.flush_count();
    // The consumer appends its output and commits its input position, then one flush.
    journal.append(Entry::push(2, 100, 0))?;
    journal.cursor("sink-a")?.commit(input)?;
    journal.flush()?;
    assert_eq!(journal.flush_count(), flushes + 1);
    // A crash right after: nothing more is made durable.
    journal.close_without_flush();
    let journal = Journal::open(dir.path(), options())?;
    assert_eq!(journal.cursor("sink-a")?.position, input);
    assert_eq!(journal.state()?.sources[&2].sequence, 100);
    Ok(())
}

#[test]
fn a_cursor_record_of_another_journal_is_refused() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    journal.append(Entry::push(1, 1, 0))?;
    let foreign = journal.journal_id() ^ 1;
    journal.append_meta(&MetaRecord::CursorCommitted {
        journal_id: foreign,
        name: "sink-a".into(),
        position: 0,
    })?;
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    match journal.cursor("sink-a") {
        Err(e @ Error::ForeignCursor { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("sink-a") && text.contains(&format!("{foreign:032x}")),
                "{text}"
            );
        }
        other => {
            return Err(format!(
                "expected ForeignCursor, got {:?}",
                other.map(|c| c.position)
            )
            .into())
        }
    }
    // Refused on every open, until the consumer deliberately starts afresh.
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    assert!(matches!(
        journal.cursor("sink-a"),
        Err(Error::ForeignCursor { .. })
    ));
    let mut fresh = journal.cursor_afresh("sink-a")?;
    assert!(!fresh.started);
    fresh.commit(Lsn(0))?;
    let cursor = journal.cursor("sink-a")?;
    assert_eq!((cursor.position, cursor.started), (Lsn(0), true));
    Ok(())
}

#[test]
fn invalid_positions_are_refused() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    journal.append(Entry::push(1, 1, 0))?;
    let mut cursor = journal.cursor("c")?;
    for bad in [Lsn(4), journal.end_lsn(), Lsn(1 << 40)] {
        assert!(
            matches!(cursor.commit(bad), Err(Error::InvalidLsn { .. })),
            "{bad}"
        );
    }
    assert!(!cursor.started);
    assert!(matches!(
        journal.cursor(""),
        Err(Error::InvalidOptions { .. })
    ));
    Ok(())
}

#[test]
fn a_cursor_survives_compaction_and_pins_its_frames() -> TestResult {
    let dir = support::tempdir()?;
    let journal = Journal::open(dir.path(), options())?;
    let batch: Vec<Entry> = (0..100).map(|i| Entry::push(1, i, 0)).collect();
    let first = journal.append_batch(&batch)?;
    journal.cursor("slow")?.commit(first)?;
    for _ in 0..60 {
        journal.append_batch(&batch)?;
    }
    journal.compact()?;
    assert_eq!(journal.first_lsn(), Lsn(0), "the cursor's segment stays");
    journal.close()?;
    let journal = Journal::open(dir.path(), options())?;
    let cursor = journal.cursor("slow")?;
    assert_eq!((cursor.position, cursor.started), (first, true));
    assert_eq!(entry_lsns(cursor.reader()?)?.len(), 60);
    Ok(())
}
