//! Loom model of a coordinator source handle's cell: the source's thread advances it
//! twice (sequence, then watermark with Release), while a trigger captures it
//! (watermark with Acquire, then sequence). A capture never sees a watermark newer than
//! the sequence stored with it: the watermark it reads is a lower bound for the
//! sequence it reads.
//!
//! Runtime budget: a few seconds with `LOOM_MAX_PREEMPTIONS=3` in release mode.
#![cfg(loom)]

use checkpoint_journal::protocol::SourceCell;
use loom::sync::Arc;
use loom::thread;

#[test]
fn a_capture_never_sees_a_watermark_newer_than_its_sequence() {
    loom::model(|| {
        let cell = Arc::new(SourceCell::new(0, i64::MIN));
        let source = {
            let cell = Arc::clone(&cell);
            thread::spawn(move || {
                cell.advance(1, 10);
                cell.advance(2, 20);
            })
        };
        let (sequence, watermark) = cell.capture();
        match watermark {
            20 => assert_eq!(
                sequence, 2,
                "watermark 20 captured with sequence {sequence}"
            ),
            10 => assert!(
                sequence >= 1,
                "watermark 10 captured with sequence {sequence}"
            ),
            i64::MIN => {}
            other => panic!("a watermark never stored: {other}"),
        }
        source.join().expect("the source thread");
        assert_eq!(cell.capture(), (2, 20));
    });
}
