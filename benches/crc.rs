//! `format::crc::frame_crc` (inline SSE4.2 over 64-bit words, seeded with the LSN) on a
//! one-entry and a 1024-entry frame, against `crc32c::crc32c` on the same bytes,
//! measured in the same run.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;

use checkpoint_journal::format::crc::frame_crc;
use checkpoint_journal::format::frame::{word0, FrameKind};
use common::Clock;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench_crc(c: &mut Criterion<Clock>) {
    for entries in [1usize, 1024] {
        let payload: Vec<u64> = (0..3 * entries as u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let lsn = 4096u64;
        let w0 = word0(
            u32::try_from(payload.len() * 8).expect("small"),
            FrameKind::Entries,
        );
        let back = 5u32;
        // The bytes the frame checksum covers: LSN, word 0, durable_back, payload.
        let mut bytes = Vec::with_capacity(24 + payload.len() * 8);
        for w in [lsn, w0, u64::from(back)].iter().chain(&payload) {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        assert_eq!(frame_crc(lsn, w0, back, &payload), crc32c::crc32c(&bytes));

        let mut group = c.benchmark_group(format!("crc_{entries}_entries"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("frame_crc", |b| {
            b.iter(|| {
                frame_crc(
                    black_box(lsn),
                    black_box(w0),
                    black_box(back),
                    black_box(&payload),
                )
            });
        });
        group.bench_function("ref_crc32c_crate", |b| {
            b.iter(|| crc32c::crc32c(black_box(&bytes)));
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_crc
}
criterion_main!(benches);
