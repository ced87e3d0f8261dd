//! Frame validation from plain bytes (`format::frame::validate_bytes`) and the checkpoint
//! record codec (`CheckpointRecord::encode` / `decode`), each against a reference on the
//! same bytes measured in the same run: `crc32c::crc32c` for validation (the checksum
//! floor), an allocation plus memcpy (`to_vec`) for the codec.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;

use checkpoint_journal::format::crc::frame_crc;
use checkpoint_journal::format::frame::{validate_bytes, word0, word1, FrameKind};
use checkpoint_journal::{CheckpointRecord, OperatorState};
use common::Clock;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A valid entries frame of `entries` entries at `lsn`, as bytes.
fn frame_bytes(lsn: u64, entries: usize) -> Vec<u8> {
    let payload: Vec<u64> = (0..3 * entries as u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .collect();
    let w0 = word0(
        u32::try_from(payload.len() * 8).expect("small"),
        FrameKind::Entries,
    );
    let back = 2u32;
    let w1 = word1(frame_crc(lsn, w0, back, &payload), back);
    let mut out = Vec::with_capacity(16 + payload.len() * 8);
    for w in [w0, w1].iter().chain(&payload) {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

fn bench_validate(c: &mut Criterion<Clock>) {
    let lsn = 8192u64;
    for entries in [1usize, 1024] {
        let bytes = frame_bytes(lsn, entries);
        assert!(validate_bytes(lsn, &bytes).is_ok());
        let mut group = c.benchmark_group(format!("validate_bytes_{entries}_entries"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("validate_bytes", |b| {
            b.iter(|| validate_bytes(black_box(lsn), black_box(&bytes)));
        });
        group.bench_function("ref_crc32c_crate", |b| {
            b.iter(|| crc32c::crc32c(black_box(&bytes)));
        });
        group.finish();
    }
}

/// A checkpoint of a mid-sized job: 64 sources, 8 sinks, 4 operators of 256 bytes.
fn record() -> CheckpointRecord {
    CheckpointRecord {
        id: 1_234,
        epoch: 7,
        created_at_ms: 1_700_000_000_000,
        source_sequences: (0..64u16).map(|s| (s, u64::from(s) << 20)).collect(),
        sink_positions: (0..8u16).map(|s| (s, u64::from(s) * 1_000_003)).collect(),
        watermarks: (0..64u16)
            .map(|s| (s, 1_700_000_000_000 + i64::from(s)))
            .collect(),
        operator_states: (0..4u32)
            .map(|id| OperatorState {
                operator_id: id,
                state: vec![u8::try_from(id).expect("small"); 256],
            })
            .collect(),
    }
}

fn bench_checkpoint(c: &mut Criterion<Clock>) {
    let record = record();
    let encoded = record.encode().expect("encode");
    assert_eq!(CheckpointRecord::decode(&encoded).expect("decode"), record);
    let mut group = c.benchmark_group("checkpoint_codec");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("encode", |b| {
        b.iter(|| black_box(&record).encode());
    });
    group.bench_function("decode", |b| {
        b.iter(|| CheckpointRecord::decode(black_box(&encoded)));
    });
    group.bench_function("ref_to_vec", |b| {
        b.iter(|| black_box(encoded.as_slice()).to_vec());
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_validate, bench_checkpoint
}
criterion_main!(benches);
