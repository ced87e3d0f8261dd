//! `meta_decode`: `MetaRecord::decode` (the payload of a meta frame) on arbitrary bytes.
//!
//! Oracle: a record that decodes is within every limit, so it encodes again, and the
//! encoding decodes to the same record (postcard may accept more than one spelling of a
//! record, so the bytes themselves need not round-trip).

use checkpoint_journal::MetaRecord;

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    let Ok(record) = MetaRecord::decode(data) else {
        return;
    };
    let encoded = match record.encode() {
        Ok(bytes) => bytes,
        Err(e) => panic!("a decoded record does not encode again: {e}"),
    };
    assert!(
        encoded.len() <= data.len(),
        "the canonical encoding is longer than the input"
    );
    match MetaRecord::decode(&encoded) {
        Ok(again) => assert_eq!(again, record, "decode(encode(record)) differs"),
        Err(e) => panic!("a record's own encoding does not decode: {e}"),
    }
}
