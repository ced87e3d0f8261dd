//! `MetaRecord`: the payload of a meta frame (format version 2): the records that make
//! checkpoint coordination durable — the source and sink registries, the journal's
//! source family, per-source progress, retention, and consumer cursors — and their
//! bounded postcard encoding.
//!
//! Decoding takes untrusted bytes: the input is bounded by `META_RECORD_BYTES_MAX`
//! before postcard sees it (no collection can claim more elements than there are
//! bytes), and every name, offset and count is checked against its limit afterwards.
//! Once written, a variant's number and fields never change (docs/FORMAT.md); new
//! records are new variants at the end.

use serde::{Deserialize, Serialize};

use crate::format::limits::{
    META_NAME_BYTES_MAX, META_RECORD_BYTES_MAX, PROGRESS_OFFSET_BYTES_MAX, PROGRESS_SOURCES_MAX,
};

/// One source's committed progress: an opaque offset in the upstream system (a
/// Postgres log position, a `MySQL` binlog file and position, …) and how many events up to it the
/// job has committed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceProgress {
    /// The registered source's id.
    pub source_id: u16,
    /// Opaque upstream offset, at most `PROGRESS_OFFSET_BYTES_MAX` bytes.
    pub offset: Vec<u8>,
    /// Events committed up to `offset`; never moves backwards.
    pub committed_event_count: u64,
}

/// One record of a meta frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum MetaRecord {
    /// A source name got a stable id (variant 0).
    SourceRegistered {
        /// The name, at most `META_NAME_BYTES_MAX` bytes.
        name: String,
        /// Its id, used in entries and checkpoints.
        source_id: u16,
    },
    /// A sink name got a stable id (variant 1).
    SinkRegistered {
        /// The name.
        name: String,
        /// Its id, used in checkpoints.
        sink_id: u16,
    },
    /// The source family the journal holds progress for (variant 2); written once.
    Family {
        /// For example `postgres` or `mysql`.
        name: String,
    },
    /// A consumer committed its position (variant 3).
    CursorCommitted {
        /// The journal the position belongs to; any other id is refused when read.
        journal_id: u128,
        /// The consumer's name.
        name: String,
        /// LSN of the last frame the consumer has processed.
        position: u64,
    },
    /// Per-source progress, committed by the checkpoint record with id `checkpoint_id`
    /// that follows it (variant 4). A progress record with no such checkpoint after it
    /// (a crash between the two frames) commits nothing.
    Progress {
        /// The checkpoint that commits this progress.
        checkpoint_id: u64,
        /// Family of the sources.
        family: String,
        /// Progress of each source the checkpoint names.
        sources: Vec<SourceProgress>,
    },
    /// How many checkpoints are kept reachable (variant 5); older ones may be compacted.
    Retention {
        /// Most checkpoints retained; 0 means unbounded.
        max_retained: u32,
    },
}

/// Why a meta record cannot be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaError {
    /// Encoded size above `META_RECORD_BYTES_MAX`.
    TooLarge {
        /// Bytes.
        bytes: usize,
    },
    /// A field is longer, or a collection larger, than its limit.
    TooMany {
        /// Which field.
        field: &'static str,
        /// Its length or element count.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a postcard-encoded record.
    Malformed(String),
}

impl std::fmt::Display for MetaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaError::TooLarge { bytes } => {
                write!(
                    f,
                    "meta record of {bytes} bytes exceeds {META_RECORD_BYTES_MAX}"
                )
            }
            MetaError::TooMany { field, count, max } => {
                write!(
                    f,
                    "meta record field {field} has {count}, at most {max} allowed"
                )
            }
            MetaError::Malformed(why) => write!(f, "malformed meta record: {why}"),
        }
    }
}

impl std::error::Error for MetaError {}

impl MetaRecord {
    // Format: postcard { variant varint | fields in declaration order }
    /// Encodes the record after checking every limit.
    ///
    /// # Errors
    /// [`MetaError::TooMany`] or [`MetaError::TooLarge`].
    pub fn encode(&self) -> Result<Vec<u8>, MetaError> {
        self.check_limits()?;
        let bytes = postcard::to_allocvec(self).map_err(|e| MetaError::Malformed(e.to_string()))?;
        if bytes.len() > META_RECORD_BYTES_MAX {
            return Err(MetaError::TooLarge { bytes: bytes.len() });
        }
        Ok(bytes)
    }

    /// Decodes untrusted bytes; trailing bytes are an error.
    ///
    /// # Errors
    /// Any [`MetaError`].
    pub fn decode(bytes: &[u8]) -> Result<MetaRecord, MetaError> {
        if bytes.len() > META_RECORD_BYTES_MAX {
            return Err(MetaError::TooLarge { bytes: bytes.len() });
        }
        let (record, rest) = postcard::take_from_bytes::<MetaRecord>(bytes)
            .map_err(|e| MetaError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(MetaError::Malformed(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        record.check_limits()?;
        Ok(record)
    }

    fn check_limits(&self) -> Result<(), MetaError> {
        let name = match self {
            MetaRecord::SourceRegistered { name, .. }
            | MetaRecord::SinkRegistered { name, .. }
            | MetaRecord::Family { name }
            | MetaRecord::CursorCommitted { name, .. }
            | MetaRecord::Progress { family: name, .. } => name.len(),
            MetaRecord::Retention { .. } => 0,
        };
        limit("name", name, META_NAME_BYTES_MAX)?;
        if let MetaRecord::Progress { sources, .. } = self {
            limit("sources", sources.len(), PROGRESS_SOURCES_MAX)?;
            for s in sources {
                limit("offset", s.offset.len(), PROGRESS_OFFSET_BYTES_MAX)?;
            }
        }
        Ok(())
    }
}

fn limit(field: &'static str, count: usize, max: usize) -> Result<(), MetaError> {
    if count > max {
        return Err(MetaError::TooMany { field, count, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<MetaRecord> {
        vec![
            MetaRecord::SourceRegistered {
                name: "orders".into(),
                source_id: 7,
            },
            MetaRecord::SinkRegistered {
                name: "kafka".into(),
                sink_id: 1,
            },
            MetaRecord::Family {
                name: "postgres".into(),
            },
            MetaRecord::CursorCommitted {
                journal_id: u128::MAX - 5,
                name: "sink-a".into(),
                position: 4096,
            },
            MetaRecord::Progress {
                checkpoint_id: 3,
                family: "postgres".into(),
                sources: vec![SourceProgress {
                    source_id: 7,
                    offset: b"0/16B3748".to_vec(),
                    committed_event_count: 99,
                }],
            },
            MetaRecord::Retention { max_retained: 16 },
        ]
    }

    #[test]
    fn every_variant_round_trips_and_keeps_its_number() {
        for (i, record) in samples().into_iter().enumerate() {
            let bytes = record.encode().unwrap();
            assert_eq!(usize::from(bytes[0]), i, "{record:?}");
            assert_eq!(MetaRecord::decode(&bytes).unwrap(), record);
        }
    }

    #[test]
    fn hostile_bytes_are_errors() {
        for record in samples() {
            let bytes = record.encode().unwrap();
            for cut in 0..bytes.len() {
                assert!(
                    MetaRecord::decode(&bytes[..cut]).is_err(),
                    "{record:?} cut {cut}"
                );
            }
            let mut trailing = bytes.clone();
            trailing.push(0);
            assert!(MetaRecord::decode(&trailing).is_err());
        }
        assert!(MetaRecord::decode(&[9]).is_err());
        // A sequence length claiming 2^63 elements must not allocate.
        let huge = [
            4u8, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
        ];
        assert!(MetaRecord::decode(&huge).is_err());
    }

    #[test]
    fn limits_are_checked_both_ways() {
        let long = MetaRecord::Family {
            name: "x".repeat(META_NAME_BYTES_MAX + 1),
        };
        assert!(matches!(
            long.encode(),
            Err(MetaError::TooMany { field: "name", .. })
        ));
        let bytes = postcard::to_allocvec(&long).unwrap();
        assert!(matches!(
            MetaRecord::decode(&bytes),
            Err(MetaError::TooMany { field: "name", .. })
        ));
    }
}
