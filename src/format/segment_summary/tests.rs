//! Round trips and every refusal of the summary decoder.

use super::*;

fn sample() -> SegmentSummary {
    SegmentSummary {
        journal_id: 0x1234,
        base_lsn: 4096,
        end_lsn: 4096 + 61_440,
        segment_size_bytes: 65_536,
        segment_created_at_ms: 17,
        frames: 5,
        entries: 7,
        durable_claim: 4096 + 64,
        sources: vec![
            SourceSummary {
                source_id: 1,
                entries: 4,
                sequences: Some((3, 9)),
                last_barrier: Some(8),
                min_watermark: -5,
                max_watermark: 40,
                last_watermark: 30,
            },
            SourceSummary {
                source_id: 9,
                entries: 3,
                sequences: None,
                last_barrier: None,
                min_watermark: i64::MIN,
                max_watermark: i64::MAX,
                last_watermark: 0,
            },
        ],
        records: vec![
            RecordLocation {
                lsn: 4096 + 40,
                len: 12,
                kind: FrameKind::Checkpoint,
            },
            RecordLocation {
                lsn: 4096 + 72,
                len: 30,
                kind: FrameKind::Meta,
            },
        ],
    }
}

#[test]
fn round_trips_with_page_padding() {
    let s = sample();
    let mut bytes = encode(&s).unwrap();
    assert_eq!(
        bytes.len(),
        SUMMARY_HEADER_LEN + 2 * SOURCE_ROW_LEN + 2 * RECORD_ROW_LEN + 4
    );
    bytes.resize(4096, 0);
    assert_eq!(decode(&bytes).unwrap(), s);
}

#[test]
fn every_truncation_and_every_bit_flip_is_refused() {
    let bytes = encode(&sample()).unwrap();
    for len in 0..bytes.len() {
        assert!(decode(&bytes[..len]).is_err(), "truncated to {len}");
    }
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(decode(&b).is_err(), "bit {bit}");
    }
}

#[test]
fn impossible_rows_are_refused_even_with_a_valid_checksum() {
    let mut s = sample();
    s.entries += 1;
    assert_eq!(
        decode(&encode(&s).unwrap()),
        Err(SummaryFault::BadField { field: "entries" })
    );
    let mut s = sample();
    s.records[1].lsn = s.records[0].lsn;
    assert!(decode(&encode(&s).unwrap()).is_err());
    let mut s = sample();
    s.sources.swap(0, 1);
    assert!(decode(&encode(&s).unwrap()).is_err());
}

#[test]
fn rows_over_the_limits_are_not_encoded() {
    let mut s = sample();
    s.records = vec![s.records[0]; SUMMARY_RECORDS_MAX + 1];
    assert!(matches!(encode(&s), Err(SummaryFault::TooLarge { .. })));
}
