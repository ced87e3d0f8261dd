//! Synchronous durability with group commit: several threads append in
//! `Durability::Sync`, each append returning only once its frame is on disk, and
//! concurrent appenders share one flush. `flush_count()` against the number of appends
//! shows the sharing.
//!
//! Run it: `cargo run --release --example sync_writer`

use std::error::Error;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use checkpoint_journal::{Durability, Entry, Journal, Options};

/// What the run did.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) appends: u64,
    pub(crate) flushes: u64,
    pub(crate) elapsed: Duration,
    /// Entries found on reopening after a crash (every acknowledged append).
    pub(crate) recovered: u64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("cpj-sync-writer-{}", std::process::id()));
    let summary = run(&dir, &Options::default(), 8, 250);
    std::fs::remove_dir_all(&dir).ok();
    let s = summary?;
    let per_flush =
        f64::from(u32::try_from(s.appends)?) / f64::from(u32::try_from(s.flushes.max(1))?);
    println!(
        "{} Sync appends from 8 threads in {:.2?}: {} flushes, {per_flush:.1} appends per flush",
        s.appends, s.elapsed, s.flushes
    );
    println!("after a crash, {} entries recovered", s.recovered);
    Ok(())
}

/// `threads` threads each append `per_thread` entries in Sync mode; then a crash and a
/// reopen that must find every one.
pub(crate) fn run(
    dir: &Path,
    options: &Options,
    threads: u16,
    per_thread: u64,
) -> Result<Summary, Box<dyn Error>> {
    let journal = Journal::open(dir, options.clone().durability(Durability::Sync))?;
    let started = Instant::now();
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|source| {
                let journal = &journal;
                scope.spawn(move || -> checkpoint_journal::Result<()> {
                    for sequence in 1..=per_thread {
                        // Returns once this entry is durable.
                        journal.append(Entry::push(source, sequence, 0))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| "a writer panicked")?
                .map_err(|e| e.to_string())
        })
    })?;
    let elapsed = started.elapsed();
    let flushes = journal.flush_count();
    // Every append was acknowledged durable, so a crash right now loses none of them.
    journal.close_without_flush();
    let journal = Journal::open(dir, options.clone())?;
    let recovered = journal.recovery_report().entries_replayed;
    journal.close()?;
    let appends = u64::from(threads) * per_thread;
    if recovered != appends {
        return Err(format!("{appends} appends acknowledged, {recovered} recovered").into());
    }
    Ok(Summary {
        appends,
        flushes,
        elapsed,
        recovered,
    })
}
