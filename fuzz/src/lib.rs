//! The fuzz targets' bodies, one module per target, each with its oracle: what must hold
//! for every input besides "no panic". The cargo-fuzz binaries in `fuzz_targets/` call
//! them, and `tests/fuzz_corpus_replay.rs` (stable Rust, ordinary `cargo test`) includes
//! this file with `#[path]` and runs every checked-in corpus file through the same code.
//!
//! Inputs are raw bytes decoded by [`input::Input`], never by a derive, so the replay test
//! needs nothing beyond the main crate's own dependencies.

pub mod checkpoint_decode;
pub mod frame_decode;
pub mod input;
pub mod meta_decode;
pub mod ops_with_crash;
pub mod seeds;
pub mod segment_scan;
// Compaction.
pub mod snapshot_decode;
// Segment summaries.
pub mod summary_decode;
