//! `meta_decode`: `MetaRecord::decode` (the payload of a meta frame) on arbitrary bytes.
//!
//! Oracle: the same as `checkpoint_decode`'s ([`record_round_trip`]).

use checkpoint_journal::MetaRecord;

use super::checkpoint_decode::record_round_trip;

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    record_round_trip(data, MetaRecord::decode, MetaRecord::encode);
}
