//! `frame_decode`: `frame::validate_bytes` at an arbitrary LSN.
//!
//! Input: `{ mode u8 | lsn u64 | frame bytes.. }`. With bit 0 of `mode` set, the harness
//! first writes the checksum a reference computation (the `crc32c` crate over the plain
//! little-endian bytes) expects, so the fuzzer reaches valid frames with arbitrary fields.
//!
//! Oracle: the decoder agrees with the reference (valid exactly when `check_fields`
//! accepts the header and the reference checksum matches); a valid frame fits in the bytes
//! given, its length suits its kind, and its durable claim is not above its LSN.

use checkpoint_journal::format::crc::bytes_crc;
use checkpoint_journal::format::frame::{
    check_fields, le_word, stored_crc, validate_bytes, FrameFault, FrameKind, FRAME_HEADER_LEN,
};

use super::input::Input;

/// Fix the checksum before decoding.
const FIX_CRC: u8 = 1;

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let lsn = input.u64();
    let mut bytes = input.rest().to_vec();
    if mode & FIX_CRC != 0 {
        if let Some(crc) = reference_crc(lsn, &bytes) {
            if let Some(slot) = bytes.get_mut(8..12) {
                slot.copy_from_slice(&crc.to_le_bytes());
            }
        }
    }
    let decoded = validate_bytes(lsn, &bytes);
    let expected = reference(lsn, &bytes);
    assert_eq!(
        decoded, expected,
        "validate_bytes disagrees with the reference at LSN {lsn}"
    );
    if let Ok(header) = decoded {
        assert!(
            header.frame_len() <= bytes.len(),
            "a valid frame overruns its bytes"
        );
        assert!(
            header.durable_claim(lsn) <= lsn,
            "a durable claim above its own frame"
        );
        let len = header.len as usize;
        match header.kind {
            FrameKind::Entries => assert!(len > 0 && len.is_multiple_of(24)),
            FrameKind::Checkpoint | FrameKind::Meta => assert!(len > 0),
            FrameKind::Padding => assert!(len.is_multiple_of(8)),
        }
    }
}

/// The checksum of the frame at the start of `bytes`, computed from the plain bytes.
fn reference_crc(lsn: u64, bytes: &[u8]) -> Option<u32> {
    let w0 = le_word(bytes, 0)?;
    let w1 = le_word(bytes, 1).unwrap_or(0);
    let header = check_fields(w0, w1, bytes.len()).ok()?;
    let mut plain = Vec::with_capacity(24 + header.frame_len());
    plain.extend_from_slice(&lsn.to_le_bytes());
    plain.extend_from_slice(&w0.to_le_bytes());
    plain.extend_from_slice(&u64::from(header.durable_back).to_le_bytes());
    if header.kind != FrameKind::Padding {
        plain.extend_from_slice(bytes.get(FRAME_HEADER_LEN..header.frame_len())?);
    }
    Some(bytes_crc(&plain))
}

/// What a correct decoder returns for `bytes` at `lsn`.
fn reference(
    lsn: u64,
    bytes: &[u8],
) -> Result<checkpoint_journal::format::frame::FrameHeader, FrameFault> {
    let w0 = le_word(bytes, 0).ok_or(FrameFault::BadLength)?;
    let w1 = le_word(bytes, 1).unwrap_or(0);
    let header = check_fields(w0, w1, bytes.len())?;
    if reference_crc(lsn, bytes) != Some(stored_crc(w1)) {
        return Err(FrameFault::ChecksumMismatch);
    }
    Ok(header)
}
