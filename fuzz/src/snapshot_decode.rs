//! `snapshot_decode`: `snapshot_file::decode` and `decode_body` on arbitrary bytes (what
//! open reads from a `.snap` file).
//!
//! Oracle: a file that decodes is canonical — encoding its header and body again gives
//! back the same bytes (up to the padding) — and a body that decodes encodes again to a
//! body that decodes to the same state.

use checkpoint_journal::format::snapshot_file::{decode, decode_body, encode, encode_body};
use checkpoint_journal::{CheckpointRecord, Entry, Lsn, State};

use super::seeds::Seed;

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    let Ok((header, body)) = decode(data) else {
        return;
    };
    assert_eq!(header.body_len, body.len() as u64, "body length disagrees");
    let again = encode(&header, body);
    assert_eq!(
        data.get(..again.len()),
        Some(again.as_slice()),
        "a decoded snapshot does not encode to the same bytes"
    );
    let Ok(state) = decode_body(body) else {
        return;
    };
    let body_again = match encode_body(&state) {
        Ok(bytes) => bytes,
        Err(e) => panic!("a decoded state does not encode again: {e}"),
    };
    match decode_body(&body_again) {
        Ok(same) => assert_eq!(same, state, "decode(encode(state)) differs"),
        Err(e) => panic!("a state's own encoding does not decode: {e}"),
    }
}

/// Seeds: a valid snapshot (padded to a page, as on disk), and damaged copies of it.
#[must_use]
pub fn seeds() -> Vec<Seed> {
    let mut state = State::default();
    state.apply_entries(&[Entry::push(1, 5, -3), Entry::push(2, 9, 40)]);
    state.apply_checkpoint(
        Lsn(64),
        CheckpointRecord {
            id: 3,
            source_sequences: vec![(1, 5)],
            ..CheckpointRecord::default()
        },
    );
    state.end = Lsn(4096);
    let body = encode_body(&state).unwrap_or_default();
    let header = checkpoint_journal::format::snapshot_file::SnapshotHeader {
        journal_id: 0x1234_5678_9abc_def0,
        snapshot_lsn: 4096,
        created_at_ms: 1_700_000_000_000,
        body_len: body.len() as u64,
    };
    let valid = encode(&header, &body);
    let mut padded = valid.clone();
    padded.resize(4096, 0);
    let mut bad_crc = valid.clone();
    if let Some(b) = bad_crc.last_mut() {
        *b ^= 1;
    }
    let mut huge = valid.clone();
    if let Some(len) = huge.get_mut(48..56) {
        len.copy_from_slice(&u64::MAX.to_le_bytes());
    }
    vec![
        ("valid".into(), valid.clone()),
        ("valid_padded".into(), padded),
        (
            "cut".into(),
            valid.get(..valid.len() / 2).unwrap_or_default().to_vec(),
        ),
        ("bad_crc".into(), bad_crc),
        ("huge_body_len".into(), huge),
    ]
}
