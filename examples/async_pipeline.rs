//! An async pipeline stage on tokio (feature `tokio`): a producer task appends batches
//! (an `Async`-mode append never blocks: it is a copy into the mapping) and
//! acknowledges each batch upstream only once `wait_durable_async` says it is durable,
//! while the `Interval` flusher makes it so; a consumer task follows the journal with
//! `tail_async`, a `Stream` woken by publication. No task ever blocks a worker thread.
//!
//! Run it: `cargo run --release --features tokio --example async_pipeline`

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use checkpoint_journal::{Durability, Entry, Frame, Journal, Lsn, Options};
use futures_core::Stream;

/// What the pipeline did.
#[derive(Debug)]
pub(crate) struct Summary {
    /// Batches appended and acknowledged as durable.
    pub(crate) acknowledged: u64,
    /// Entries the tail delivered.
    pub(crate) tailed: u64,
    /// The journal's stats at the end, as a table.
    pub(crate) stats: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("cpj-async-pipeline-{}", std::process::id()));
    let summary = run(&dir, Options::default(), 200, 64).await;
    std::fs::remove_dir_all(&dir).ok();
    let s = summary?;
    println!(
        "{} batches acknowledged as durable, {} entries tailed",
        s.acknowledged, s.tailed
    );
    print!("{}", s.stats);
    Ok(())
}

/// Appends `batches` batches of `per_batch` entries with an `Interval` flusher, waits
/// for each to be durable, and tails them all.
pub(crate) async fn run(
    dir: &Path,
    options: Options,
    batches: u64,
    per_batch: u64,
) -> Result<Summary, Box<dyn Error>> {
    let options = options.durability(Durability::Interval(Duration::from_millis(2)));
    let journal = Arc::new(Journal::open(dir, options)?);
    let total = batches * per_batch;
    let mut tail = journal.tail_async(journal.end_lsn())?;
    let consumer = tokio::spawn(async move {
        let mut tailed = 0;
        while tailed < total {
            match next(&mut tail).await {
                Some(Ok(Frame::Entries { entries, .. })) => tailed += entries.len() as u64,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(tailed)
    });
    let mut acknowledged = 0;
    for b in 0..batches {
        let batch: Vec<Entry> = (0..per_batch)
            .map(|i| Entry::push(1, b * per_batch + i, 0))
            .collect();
        let lsn: Lsn = journal.append_batch(&batch)?;
        // Upstream may forget the batch once this returns.
        journal.wait_durable_async(lsn).await?;
        acknowledged += 1;
    }
    let tailed = consumer.await??;
    let stats = journal.stats().to_string();
    Ok(Summary {
        acknowledged,
        tailed,
        stats,
    })
}

/// The next item of a stream (what `StreamExt::next` does, without the dependency).
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}
