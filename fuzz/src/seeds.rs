//! Seed inputs for each target, made with the library itself (valid frames, records and
//! segments, and a few damaged ones). `tests/fuzz_corpus_replay.rs` writes them to
//! `fuzz/corpus/<target>/` with an `#[ignore]`d test, run once; fuzzing adds to them.

use std::fs;
use std::path::Path;

use checkpoint_journal::format::crc::frame_crc;
use checkpoint_journal::format::frame::{word0, word1, FrameKind};
use checkpoint_journal::{
    CheckpointRecord, Entry, Journal, MetaRecord, OperatorState, Options, SourceProgress,
};

use super::segment_scan::{FIX_FRAMES, FIX_HEADER, MULTI, PAD};

/// A named seed input.
pub type Seed = (String, Vec<u8>);

/// Seeds for `frame_decode`: `{ mode | lsn | frame }`.
#[must_use]
pub fn frame_decode() -> Vec<Seed> {
    let entry = Entry::push(3, 17, -5);
    let entry_words: Vec<u64> = entry.to_words().to_vec();
    let record = sample_record(4).encode().unwrap_or_default();
    let meta = sample_meta()
        .first()
        .and_then(|m| m.encode().ok())
        .unwrap_or_default();
    let mut out = Vec::new();
    let frames = [
        (
            "entries_1",
            frame(4096, FrameKind::Entries, 24, &entry_words, 3),
        ),
        (
            "entries_3",
            frame(
                8,
                FrameKind::Entries,
                72,
                &[entry_words.clone(), entry_words.clone(), entry_words].concat(),
                0,
            ),
        ),
        (
            "checkpoint",
            record_frame(1 << 40, FrameKind::Checkpoint, &record, 1),
        ),
        ("meta", record_frame(4096 + 64, FrameKind::Meta, &meta, 2)),
        ("padding_marker", frame(64, FrameKind::Padding, 0, &[], 8)),
        (
            "padding_64",
            padded(frame(128, FrameKind::Padding, 64, &[], 0), 64),
        ),
    ];
    for (name, (lsn, bytes)) in frames {
        out.push((
            name.to_owned(),
            [vec![0], lsn.to_le_bytes().to_vec(), bytes.clone()].concat(),
        ));
        let fix = [vec![1], (lsn + 8).to_le_bytes().to_vec(), bytes].concat();
        out.push((format!("{name}_fix_crc"), fix));
    }
    let hostile = [
        (
            "len_u32_max",
            [u64::from(u32::MAX) | 1 << 32, 0]
                .map(u64::to_le_bytes)
                .concat(),
        ),
        ("kind_9", [1u64 | 9 << 32, 0].map(u64::to_le_bytes).concat()),
        (
            "flags_set",
            [8u64 | 3 << 32 | 1 << 40, 0].map(u64::to_le_bytes).concat(),
        ),
        ("short", vec![1, 2, 3]),
    ];
    for (name, bytes) in hostile {
        out.push((
            name.to_owned(),
            [vec![1], 0u64.to_le_bytes().to_vec(), bytes].concat(),
        ));
    }
    out
}

/// Seeds for `checkpoint_decode`: encoded records, cut and with hostile lengths.
#[must_use]
pub fn checkpoint_decode() -> Vec<Seed> {
    let mut out = Vec::new();
    for (name, record) in [
        ("default", CheckpointRecord::default()),
        ("small", sample_record(1)),
        ("blobs", sample_record(200)),
    ] {
        let bytes = record.encode().unwrap_or_default();
        out.push((
            format!("{name}_cut"),
            bytes.get(..bytes.len() / 2).unwrap_or_default().to_vec(),
        ));
        out.push((name.to_owned(), bytes));
    }
    out.push((
        "huge_len".into(),
        vec![
            1, 1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
        ],
    ));
    out
}

/// Seeds for `meta_decode`: one record of each variant, whole and cut in half, and a
/// sequence length claiming 2^63 elements.
#[must_use]
pub fn meta_decode() -> Vec<Seed> {
    let mut out = Vec::new();
    for (i, record) in sample_meta().into_iter().enumerate() {
        let bytes = record.encode().unwrap_or_default();
        out.push((
            format!("variant_{i}_cut"),
            bytes.get(..bytes.len() / 2).unwrap_or_default().to_vec(),
        ));
        out.push((format!("variant_{i}"), bytes));
    }
    out.push((
        "huge_len".into(),
        vec![
            4, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
        ],
    ));
    out
}

/// One meta record of each variant.
fn sample_meta() -> Vec<MetaRecord> {
    vec![
        MetaRecord::Progress {
            checkpoint_id: 9,
            family: "postgres".into(),
            sources: vec![SourceProgress {
                source_id: 2,
                offset: b"0/16B3748".to_vec(),
                committed_event_count: 1234,
            }],
        },
        MetaRecord::SourceRegistered {
            name: "orders".into(),
            source_id: 0,
        },
        MetaRecord::SinkRegistered {
            name: "kafka".into(),
            sink_id: 0,
        },
        MetaRecord::Family {
            name: "postgres".into(),
        },
        MetaRecord::CursorCommitted {
            journal_id: 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
            name: "sink-a".into(),
            position: 4096,
        },
        MetaRecord::Retention { max_retained: 8 },
    ]
}

/// Seeds for `segment_scan`: segments written by the library, trailing zeros cut (the
/// harness pads them back), whole and damaged, in each recovery mode.
#[must_use]
pub fn segment_scan() -> Vec<Seed> {
    let one = journal_segment();
    let fix = PAD | FIX_HEADER | FIX_FRAMES;
    let mut out = vec![
        (
            "valid_closed".to_owned(),
            [vec![PAD], trimmed(&one)].concat(),
        ),
        (
            "valid_strict".to_owned(),
            [vec![PAD | 0x10], trimmed(&one)].concat(),
        ),
        (
            "raw_full_segment".to_owned(),
            [vec![0], one.clone()].concat(),
        ),
    ];
    let mut torn = trimmed(&one);
    torn.extend_from_slice(&[0x5a; 40]);
    out.push(("torn_tail".into(), [vec![PAD], torn.clone()].concat()));
    out.push((
        "torn_tail_salvage".into(),
        [vec![PAD | 0x20], torn].concat(),
    ));
    let mut flipped = trimmed(&one);
    if let Some(b) = flipped.get_mut(4096 + 20) {
        *b ^= 0x10;
    }
    out.push((
        "bit_flip_first_frame".into(),
        [vec![PAD], flipped.clone()].concat(),
    ));
    out.push(("bit_flip_fixed".into(), [vec![fix], flipped].concat()));
    let mut multi = vec![MULTI | fix];
    let (first, second) = two_segments(&one);
    for t in [first, second] {
        multi.extend_from_slice(&u16::try_from(t.len()).unwrap_or(u16::MAX).to_le_bytes());
        multi.extend_from_slice(&t);
    }
    out.push(("two_segments".into(), multi));
    out.push((
        "header_only".into(),
        [vec![fix], one.get(..64).unwrap_or_default().to_vec()].concat(),
    ));
    out
}

/// Seeds for `ops_with_crash`: `{ config | op.. }` (see that module for the tags).
#[must_use]
pub fn ops_with_crash() -> Vec<Seed> {
    vec![
        (
            "async_appends_flush_crash".into(),
            vec![0, 0, 1, 2, 100, 0, 5, 0, 9, 0, 0],
        ),
        (
            "sync_batches_roll".into(),
            vec![1, 2, 0xff, 0x09, 2, 0xff, 0x09, 2, 0xff, 0x09, 0, 9, 2, 0],
        ),
        (
            "checkpoints_and_reopen".into(),
            vec![
                0, 4, 10, 0, 4, 0, 1, 6, 1, 0, 5, 4, 200, 0, 6, 0, 0, 9, 1, 1, 7,
            ],
        ),
        (
            "writeback_torn".into(),
            vec![
                0, 2, 50, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 2, 9, 9, 9, 9, 9, 9, 9, 9, 1, 1, 2,
                3, 4, 5, 6, 7, 8,
            ],
        ),
        (
            "storage_full".into(),
            vec![
                2, 8, 1, 2, 0xff, 0x09, 2, 0xff, 0x09, 2, 0xff, 0x09, 0, 8, 0, 0, 5, 9, 1, 0,
            ],
        ),
        ("too_large_checkpoint".into(), vec![1, 4, 0xff, 0xff, 0, 5]),
    ]
}

/// Writes `seeds` into `dir` (created if missing), one file per seed.
///
/// # Errors
/// The I/O error.
pub fn write(dir: &Path, seeds: &[Seed]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    for (name, bytes) in seeds {
        fs::write(dir.join(format!("seed_{name}")), bytes)?;
    }
    Ok(())
}

fn sample_record(blob: usize) -> CheckpointRecord {
    CheckpointRecord {
        id: 9,
        epoch: 2,
        created_at_ms: 1_700_000_000_000,
        source_sequences: vec![(0, 100), (1, 250)],
        sink_positions: vec![(0, 90)],
        watermarks: vec![(0, -5), (1, 1_000)],
        operator_states: vec![OperatorState {
            operator_id: 3,
            state: vec![7; blob],
        }],
    }
}

/// `(lsn, bytes)` of a frame with a valid checksum at `lsn`.
/// A frame whose payload is an encoded record.
fn record_frame(lsn: u64, kind: FrameKind, payload: &[u8], back: u32) -> (u64, Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(0);
    frame(lsn, kind, len, &bytes_to_words(payload), back)
}

fn frame(lsn: u64, kind: FrameKind, len: u32, payload: &[u64], back: u32) -> (u64, Vec<u8>) {
    let w0 = word0(len, kind);
    let crc = frame_crc(
        lsn,
        w0,
        back,
        if kind == FrameKind::Padding {
            &[]
        } else {
            payload
        },
    );
    let mut out = [w0, word1(crc, back)].map(u64::to_le_bytes).concat();
    for w in payload {
        out.extend_from_slice(&w.to_le_bytes());
    }
    (lsn, out)
}

fn padded((lsn, mut bytes): (u64, Vec<u8>), zeros: usize) -> (u64, Vec<u8>) {
    bytes.resize(bytes.len() + zeros, 0);
    (lsn, bytes)
}

fn bytes_to_words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.get_mut(..c.len()).unwrap_or_default().copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

/// A small journal's only segment: entries, batches, a checkpoint, the close marker.
fn journal_segment() -> Vec<u8> {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("tempdir: {e}"),
    };
    let options = Options::default()
        .segment_size_bytes(64 * 1024)
        .preallocate(false);
    let written = (|| -> checkpoint_journal::Result<()> {
        let journal = Journal::open(dir.path(), options)?;
        for i in 0..20u16 {
            journal.append(Entry::push(i % 3, u64::from(i), i64::from(i)))?;
        }
        journal.checkpoint(&sample_record(16))?;
        let batch: Vec<Entry> = (0..100u16)
            .map(|i| Entry::watermark(1, u64::from(i), -i64::from(i)))
            .collect();
        journal.append_batch(&batch)?;
        journal.flush()?;
        journal.append_batch(batch.get(..10).unwrap_or_default())?;
        journal.close()
    })();
    if let Err(e) = written {
        panic!("writing the seed journal failed: {e}");
    }
    fs::read(dir.path().join("0000000000000000.seg")).unwrap_or_default()
}

/// A made-up pair of segments from `one` (a whole segment): its frames and a padding
/// frame to the end, then the next segment holding the same frames (the harness's
/// fix-ups make their checksums valid at their new LSNs).
fn two_segments(one: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut first = trimmed(one);
    let used = first.len();
    let room = one.len() - used;
    let pad = word0(u32::try_from(room - 16).unwrap_or(0), FrameKind::Padding);
    first.extend_from_slice(&pad.to_le_bytes());
    first.extend_from_slice(&[0; 8]);
    let mut second = trimmed(one);
    let base = (one.len() - 4096) as u64;
    if let Some(slot) = second.get_mut(32..40) {
        slot.copy_from_slice(&base.to_le_bytes());
    }
    (first, second)
}

/// The file without its trailing zero words (the harness's `PAD` restores them).
fn trimmed(file: &[u8]) -> Vec<u8> {
    let end = file
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |i| (i + 8) & !7);
    file.get(..end.min(file.len())).unwrap_or_default().to_vec()
}
