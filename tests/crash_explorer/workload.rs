//! A seeded workload on the simulated storage: single and batch appends, checkpoints,
//! flushes, bursts from 2–4 threads, reopens, background writeback, and image points.
//!
//! Every append is recorded in the history before it is made and acknowledged after it
//! returns; every durable frontier the journal reports (`durable_lsn`, `flush`) becomes
//! a promise. A reopen within the workload is a process crash or a clean close: the
//! page cache survives, so every acknowledged append must be there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use checkpoint_journal::storage::sim::{DirtyPages, SimRng, SimStorage};
use checkpoint_journal::{
    CheckpointRecord, Durability, Entry, Journal, Lsn, OperatorState, Options,
};

use super::check::{check_journal, DIR, SEGMENT_BYTES};
use super::explore::{Explorer, Pool};
use super::history::{Content, History};

/// One workload, reproducible from its seed (thread interleavings and the interval
/// flusher's timing aside).
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    pub(crate) seed: u64,
    pub(crate) mode: Durability,
    pub(crate) preallocate: bool,
    pub(crate) steps: u64,
    /// Breaks the promise on purpose: an append counts as durable as soon as it returns,
    /// whatever the mode (the checker must catch this in `Async`).
    pub(crate) claim_unflushed: bool,
}

impl Workload {
    pub(crate) fn from_seed(seed: u64) -> Workload {
        let mut rng = SimRng::new(seed);
        let mode = match seed % 3 {
            0 => Durability::Async,
            1 => Durability::Interval(Duration::from_millis(1 + rng.below(4))),
            _ => Durability::Sync,
        };
        Workload {
            seed,
            mode,
            preallocate: rng.chance(1, 2),
            steps: 60 + rng.below(60),
            claim_unflushed: false,
        }
    }

    pub(crate) fn label(&self) -> String {
        format!(
            "seed {} ({:?}, preallocate {}, {} steps; replay with CPJ_CRASH_SEED={})",
            self.seed, self.mode, self.preallocate, self.steps, self.seed
        )
    }

    fn options(&self) -> Options {
        Options::default()
            .segment_size_bytes(SEGMENT_BYTES)
            .durability(self.mode)
            .preallocate(self.preallocate)
    }
}

struct Ctx {
    work: Workload,
    sim: SimStorage,
    explorer: Arc<Explorer>,
    history: Arc<History>,
    next_key: AtomicU64,
}

/// Runs `work` with an image point after every operation that changes the disk.
/// Returns a violation found in the workload itself (image violations go to the pool).
pub(crate) fn run(work: &Workload, pool: &Pool) -> Result<(), String> {
    let sim = SimStorage::new(work.seed);
    let history = Arc::new(History::default());
    let explorer = Arc::new(pool.explorer(work.label(), work.seed, Arc::clone(&history)));
    let hook = Arc::clone(&explorer);
    sim.set_hook(move |sim, op| hook.on_op(sim, op));
    let ctx = Ctx {
        work: work.clone(),
        sim: sim.clone(),
        explorer,
        history,
        next_key: AtomicU64::new(1),
    };
    let result = drive(&ctx).map_err(|why| format!("{}: {why}", work.label()));
    sim.clear_hook();
    result
}

fn drive(ctx: &Ctx) -> Result<(), String> {
    let mut rng = SimRng::new(ctx.work.seed ^ 0x5eed);
    let mut journal = open(ctx)?;
    for step in 0..ctx.work.steps {
        match rng.below(100) {
            0..40 => append(ctx, &journal, single(ctx))?,
            40..60 => append(ctx, &journal, batch(ctx, 2 + rng.below(200)))?,
            60..67 => append(ctx, &journal, checkpoint(ctx, &mut rng))?,
            67..75 => flush(ctx, &journal)?,
            75..83 => burst(ctx, &journal, &mut rng)?,
            83..87 => journal = reopen(ctx, journal, &mut rng)?,
            87..95 => ctx.explorer.point(&ctx.sim, &format!("step {step}"), false),
            _ => ctx.sim.write_back(DirtyPages::Random {
                seed: rng.next_u64(),
            }),
        }
        ctx.history.promise(journal.durable_lsn());
    }
    journal.close().map_err(|e| format!("close failed: {e}"))?;
    ctx.history.promise_all();
    ctx.explorer.point(&ctx.sim, "after close", false);
    let journal = open(ctx)?;
    check_journal(&journal, &ctx.history.snapshot(u64::MAX))
        .map_err(|why| format!("reopen after close: {why}"))?;
    journal.close_without_flush();
    Ok(())
}

fn open(ctx: &Ctx) -> Result<Journal, String> {
    Journal::open_with_storage(DIR, ctx.work.options(), Arc::new(ctx.sim.clone()))
        .map_err(|e| format!("open failed: {e}"))
}

/// Closes (cleanly or as a process crash) and reopens; every acknowledged append must
/// be there, since the page cache survives a process.
fn reopen(ctx: &Ctx, journal: Journal, rng: &mut SimRng) -> Result<Journal, String> {
    if rng.chance(1, 2) {
        journal.close().map_err(|e| format!("close failed: {e}"))?;
        ctx.history.promise_all();
    } else {
        journal.close_without_flush();
    }
    let journal = open(ctx)?;
    check_journal(&journal, &ctx.history.snapshot(u64::MAX))
        .map_err(|why| format!("reopen after a process crash: {why}"))?;
    Ok(journal)
}

fn append(ctx: &Ctx, journal: &Journal, content: Content) -> Result<(), String> {
    let key = content.key();
    let content = ctx.history.begin(content);
    let lsn = match &*content {
        Content::Entries(entries) if entries.len() == 1 => journal.append(entries[0]),
        Content::Entries(entries) => journal.append_batch(entries),
        Content::Checkpoint(record) => journal.checkpoint(record),
    }
    .map_err(|e| format!("append failed: {e}"))?;
    ctx.history.ack(key, lsn);
    ctx.history.promise(journal.durable_lsn());
    // `Sync` promises every acknowledged append (and so every frame before it); the
    // broken variant promises the same in any mode.
    if ctx.work.mode == Durability::Sync || ctx.work.claim_unflushed {
        ctx.history.promise(Lsn(lsn.0 + 1));
    }
    Ok(())
}

fn flush(ctx: &Ctx, journal: &Journal) -> Result<(), String> {
    let durable = journal.flush().map_err(|e| format!("flush failed: {e}"))?;
    ctx.history.promise(durable);
    Ok(())
}

/// 2–4 threads appending at once, with flushes and image points among them.
fn burst(ctx: &Ctx, journal: &Journal, rng: &mut SimRng) -> Result<(), String> {
    let threads = 2 + rng.below(3);
    let seeds: Vec<u64> = (0..threads).map(|_| rng.next_u64()).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = seeds
            .iter()
            .map(|seed| scope.spawn(move || burst_thread(ctx, journal, *seed)))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err("a burst thread panicked".into()))
        })
    })
}

fn burst_thread(ctx: &Ctx, journal: &Journal, seed: u64) -> Result<(), String> {
    let mut rng = SimRng::new(seed);
    for i in 0..5 + rng.below(20) {
        match rng.below(100) {
            0..50 => append(ctx, journal, single(ctx))?,
            50..80 => append(ctx, journal, batch(ctx, 2 + rng.below(50)))?,
            80..85 => append(ctx, journal, checkpoint(ctx, &mut rng))?,
            85..95 => flush(ctx, journal)?,
            _ => ctx
                .explorer
                .point(&ctx.sim, &format!("burst thread op {i}"), false),
        }
    }
    Ok(())
}

fn single(ctx: &Ctx) -> Content {
    batch(ctx, 1)
}

fn batch(ctx: &Ctx, len: u64) -> Content {
    let first = ctx.next_key.fetch_add(len, Ordering::Relaxed);
    let entries = (first..first + len)
        .map(|seq| {
            Entry::push(
                u16::try_from(seq % 5).unwrap_or(0),
                seq,
                i64::try_from(seq).unwrap_or(0),
            )
        })
        .collect();
    Content::Entries(entries)
}

fn checkpoint(ctx: &Ctx, rng: &mut SimRng) -> Content {
    let id = ctx.next_key.fetch_add(1, Ordering::Relaxed);
    let blob = usize::try_from(rng.below(64)).unwrap_or(0);
    Content::Checkpoint(CheckpointRecord {
        id,
        epoch: 1,
        source_sequences: vec![(1, id)],
        operator_states: vec![OperatorState {
            operator_id: 7,
            state: vec![0xa5; blob],
        }],
        ..CheckpointRecord::default()
    })
}
