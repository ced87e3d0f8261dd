//! cargo-fuzz entry point; the body (and its oracle) is `checkpoint_journal_fuzz::summary_decode`,
//! which tests/fuzz_corpus_replay.rs also runs over the checked-in corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| checkpoint_journal_fuzz::summary_decode::run(data));
