//! `CheckpointRecord`: a consistent cut of a stream job (source positions, sink
//! positions, watermarks, operator state), and its bounded postcard encoding.
//!
//! Decoding takes untrusted bytes: the input is bounded by `CHECKPOINT_BYTES_MAX` before
//! postcard sees it (so no collection can claim more elements than there are bytes), and
//! every count is checked against its limit afterwards.

use serde::{Deserialize, Serialize};

use crate::format::limits::{
    CHECKPOINT_BYTES_MAX, CHECKPOINT_OPERATORS_MAX, CHECKPOINT_SINKS_MAX, CHECKPOINT_SOURCES_MAX,
    OPERATOR_STATE_BYTES_MAX,
};

/// One operator's opaque state blob.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorState {
    /// The operator's id, chosen by the caller.
    pub operator_id: u32,
    /// The state, opaque to the journal.
    pub state: Vec<u8>,
}

/// A checkpoint: everything needed to resume a job from a consistent point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// Monotonic checkpoint id.
    pub id: u64,
    /// Epoch (for example the job attempt or leader term).
    pub epoch: u64,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// `(source_id, sequence)`: where each source resumes.
    pub source_sequences: Vec<(u16, u64)>,
    /// `(sink_id, position)`: what each sink has committed.
    pub sink_positions: Vec<(u16, u64)>,
    /// `(source_id, watermark)`.
    pub watermarks: Vec<(u16, i64)>,
    /// Opaque operator state.
    pub operator_states: Vec<OperatorState>,
}

/// Why a checkpoint cannot be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointError {
    /// Encoded size above `CHECKPOINT_BYTES_MAX`.
    TooLarge {
        /// Bytes.
        bytes: usize,
    },
    /// A collection holds more elements than its limit.
    TooMany {
        /// Which collection.
        field: &'static str,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a postcard-encoded record.
    Malformed(String),
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::TooLarge { bytes } => {
                write!(
                    f,
                    "checkpoint of {bytes} bytes exceeds {CHECKPOINT_BYTES_MAX}"
                )
            }
            CheckpointError::TooMany { field, count, max } => {
                write!(
                    f,
                    "checkpoint field {field} has {count} elements, at most {max} allowed"
                )
            }
            CheckpointError::Malformed(why) => write!(f, "malformed checkpoint record: {why}"),
        }
    }
}

impl std::error::Error for CheckpointError {}

impl CheckpointRecord {
    // Format: postcard { id varint | epoch varint | created_at_ms varint | sources seq
    //                    | sinks seq | watermarks seq | operator_states seq }
    /// Encodes the record after checking every limit.
    ///
    /// # Errors
    /// [`CheckpointError::TooMany`] or [`CheckpointError::TooLarge`].
    pub fn encode(&self) -> Result<Vec<u8>, CheckpointError> {
        self.check_limits()?;
        let bytes =
            postcard::to_allocvec(self).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        if bytes.len() > CHECKPOINT_BYTES_MAX {
            return Err(CheckpointError::TooLarge { bytes: bytes.len() });
        }
        Ok(bytes)
    }

    /// Decodes untrusted bytes; trailing bytes are an error.
    ///
    /// # Errors
    /// Any [`CheckpointError`].
    pub fn decode(bytes: &[u8]) -> Result<CheckpointRecord, CheckpointError> {
        if bytes.len() > CHECKPOINT_BYTES_MAX {
            return Err(CheckpointError::TooLarge { bytes: bytes.len() });
        }
        let (record, rest) = postcard::take_from_bytes::<CheckpointRecord>(bytes)
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CheckpointError::Malformed(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        record.check_limits()?;
        Ok(record)
    }

    fn check_limits(&self) -> Result<(), CheckpointError> {
        let counts = [
            (
                "source_sequences",
                self.source_sequences.len(),
                CHECKPOINT_SOURCES_MAX,
            ),
            (
                "sink_positions",
                self.sink_positions.len(),
                CHECKPOINT_SINKS_MAX,
            ),
            ("watermarks", self.watermarks.len(), CHECKPOINT_SOURCES_MAX),
            (
                "operator_states",
                self.operator_states.len(),
                CHECKPOINT_OPERATORS_MAX,
            ),
        ];
        for (field, count, max) in counts {
            if count > max {
                return Err(CheckpointError::TooMany { field, count, max });
            }
        }
        for op in &self.operator_states {
            if op.state.len() > OPERATOR_STATE_BYTES_MAX {
                return Err(CheckpointError::TooLarge {
                    bytes: op.state.len(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CheckpointRecord {
        CheckpointRecord {
            id: 7,
            epoch: 2,
            created_at_ms: 1_700_000_000_123,
            source_sequences: vec![(0, 100), (1, 250)],
            sink_positions: vec![(0, 90)],
            watermarks: vec![(0, -5), (1, 1_000)],
            operator_states: vec![OperatorState {
                operator_id: 3,
                state: vec![1, 2, 3],
            }],
        }
    }

    #[test]
    fn round_trip() {
        let bytes = sample().encode().unwrap();
        assert_eq!(CheckpointRecord::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn hostile_bytes_are_errors() {
        let bytes = sample().encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(
                CheckpointRecord::decode(&bytes[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(CheckpointRecord::decode(&trailing).is_err());
        // A sequence length claiming 2^63 elements must not allocate.
        let huge = [
            1u8, 1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
        ];
        assert!(CheckpointRecord::decode(&huge).is_err());
    }
}
