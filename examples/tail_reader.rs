//! Following a journal while it is written: a writer thread appends entries, and a
//! `JournalReader` — read-only, no lock, usable from another process just the same —
//! follows it with `next_timeout`, seeing every frame once it is published.
//!
//! Run it: `cargo run --release --example tail_reader`

use std::error::Error;
use std::path::Path;
use std::thread;
use std::time::Duration;

use checkpoint_journal::{Entry, Frame, Journal, JournalReader, Options};

/// What the reader saw.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) frames: u64,
    pub(crate) entries: u64,
    pub(crate) last_sequence: u64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("cpj-tail-reader-{}", std::process::id()));
    let mut frames = 0u64;
    let summary = run(&dir, &Options::default(), 2_000, |lsn, entries| {
        frames += 1;
        if frames.is_multiple_of(500) {
            println!("frame {frames} at LSN {lsn}: {entries} entries");
        }
    });
    std::fs::remove_dir_all(&dir).ok();
    let s = summary?;
    println!(
        "followed {} frames, {} entries, up to sequence {}",
        s.frames, s.entries, s.last_sequence
    );
    Ok(())
}

/// A writer appends `batches` small batches (with short pauses, as a live source
/// would); the reader follows until it has seen them all, calling `seen` per frame.
pub(crate) fn run(
    dir: &Path,
    options: &Options,
    batches: u64,
    mut seen: impl FnMut(u64, usize),
) -> Result<Summary, Box<dyn Error>> {
    let journal = Journal::open(dir, options.clone())?;
    let mut reader = JournalReader::open(dir)?;
    let summary = thread::scope(|scope| {
        let writer = scope.spawn(|| -> checkpoint_journal::Result<()> {
            for b in 0..batches {
                let batch: Vec<Entry> = (1..=4).map(|i| Entry::push(1, b * 4 + i, 0)).collect();
                journal.append_batch(&batch)?;
                if b % 100 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            Ok(())
        });
        let mut s = Summary {
            frames: 0,
            entries: 0,
            last_sequence: 0,
        };
        while s.entries < batches * 4 {
            let Some(frame) = reader.next_timeout(Duration::from_secs(10))? else {
                return Err("the writer stopped publishing".into());
            };
            if let Frame::Entries { lsn, entries } = frame {
                for e in &entries {
                    if e.sequence != s.last_sequence + 1 {
                        return Err(
                            format!("sequence {} after {}", e.sequence, s.last_sequence).into()
                        );
                    }
                    s.last_sequence = e.sequence;
                }
                s.frames += 1;
                s.entries += entries.len() as u64;
                seen(lsn.0, entries.len());
            }
        }
        writer.join().map_err(|_| "the writer panicked")??;
        Ok::<_, Box<dyn Error>>(s)
    })?;
    journal.close()?;
    Ok(summary)
}
