//! Segment summaries: what they save at open.
//!
//! - `summary_open`: the recovery step of open (`checkpoint_journal::inspect`, which
//!   changes nothing) of a journal of `ENTRIES` entries in 8 MiB segments (about 60
//!   sealed segments, no snapshot), with its segment summaries against a byte-for-byte
//!   copy of its segments without them (the reference, measured in the same run: every
//!   segment scanned).
//! - Printed once: how long `close()` took to flush and summarize every segment of the
//!   never-flushed (Async) journal.
//!
//! Run: `cargo bench --bench summary`.

#![allow(clippy::cast_precision_loss, reason = "printed rates")]

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use checkpoint_journal::{Entry, Journal, Options};
use common::Clock;
use criterion::{criterion_group, Criterion};

/// Entries of the journal whose open is measured with and without segment summaries.
const ENTRIES: u64 = 20_000_000;
/// Its segment size: many sealed segments.
const SEGMENT_BYTES: u64 = 8 << 20;
/// Entries per batch while building (over 64 sources).
const BATCH: u64 = 1_000;

fn batch(from: u64) -> Vec<Entry> {
    (from..from + BATCH)
        .map(|i| Entry::push(u16::try_from(i % 64).expect("small"), i, i.cast_signed()))
        .collect()
}

/// Open's recovery with segment summaries against the same journal without them.
fn summary_open_bench(c: &mut Criterion<Clock>) {
    let scratch = common::scratch_dir();
    let (with, without) = (scratch.path().join("with"), scratch.path().join("without"));
    let opts = Options::default()
        .preallocate(false)
        .segment_size_bytes(SEGMENT_BYTES);
    let journal = Journal::open(&with, opts).expect("create");
    let mut at = 0;
    while at < ENTRIES {
        journal.append_batch(&batch(at)).expect("append_batch");
        at += BATCH;
    }
    let started = Instant::now();
    // Async and never flushed: no segment is durable before close flushes, so close
    // (after stopping the summarizer thread) summarizes them all.
    journal.close().expect("close");
    let close = started.elapsed();
    std::fs::create_dir_all(&without).expect("mkdir");
    let mut summaries = 0u32;
    for item in std::fs::read_dir(&with).expect("list") {
        let path = item.expect("entry").path();
        match path.extension().and_then(|x| x.to_str()) {
            Some("seg") => {
                let name = path.file_name().expect("name");
                std::fs::copy(&path, without.join(name)).expect("copy");
            }
            Some("sum") => summaries += 1,
            _ => {}
        }
    }
    eprintln!(
        "summary_open: close flushed and wrote {summaries} summaries in {close:.1?} \
         ({:.1?} each, {:.0} M entries/s)",
        close / summaries.max(1),
        ENTRIES as f64 / close.as_secs_f64() / 1e6
    );
    let mode = checkpoint_journal::RecoveryMode::default();
    for (name, dir) in [("with", &with), ("without", &without)] {
        let report = checkpoint_journal::inspect(dir, mode)
            .expect("inspect")
            .expect("journal")
            .report;
        eprintln!(
            "summary_open {name}: {} segments, {} summarized, {} entries folded",
            report.segments_scanned, report.segments_summarized, report.entries_replayed
        );
    }
    let mut group = c.benchmark_group("summary_open");
    for (name, dir) in [("scan_reference", &without), ("summaries", &with)] {
        group.bench_function(name, |b| {
            b.iter(|| checkpoint_journal::inspect(dir, mode).expect("inspect"));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = summary_open_bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
