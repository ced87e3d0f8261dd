//! `checkpoint_decode`: `CheckpointRecord::decode` on arbitrary bytes.
//!
//! Oracle ([`record_round_trip`], shared with `meta_decode`): a record that decodes is
//! within every limit, so it encodes again, and the encoding decodes to the same record
//! (postcard may accept more than one spelling of a record, so the bytes themselves need
//! not round-trip).

use std::fmt::{Debug, Display};

use checkpoint_journal::CheckpointRecord;

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    record_round_trip(data, CheckpointRecord::decode, CheckpointRecord::encode);
}

/// The oracle of a postcard-encoded record type: `decode`, then `encode` and `decode`
/// again to the same record, the canonical encoding never longer than the input.
pub fn record_round_trip<R, E: Display>(
    data: &[u8],
    decode: fn(&[u8]) -> Result<R, E>,
    encode: fn(&R) -> Result<Vec<u8>, E>,
) where
    R: PartialEq + Debug,
{
    let Ok(record) = decode(data) else {
        return;
    };
    let encoded = match encode(&record) {
        Ok(bytes) => bytes,
        Err(e) => panic!("a decoded record does not encode again: {e}"),
    };
    assert!(
        encoded.len() <= data.len(),
        "the canonical encoding is longer than the input"
    );
    match decode(&encoded) {
        Ok(again) => assert_eq!(again, record, "decode(encode(record)) differs"),
        Err(e) => panic!("a record's own encoding does not decode: {e}"),
    }
}
