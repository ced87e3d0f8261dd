//! Takes crash images of a running workload and checks them on a pool of threads.
//!
//! An image point reads the promised frontier first, then takes one image per policy,
//! then snapshots the history: a promise read before the image was already kept when
//! the image was taken, and every frame the image holds was begun before the snapshot.
//! With restarts on, a point may also take a process-crash image (the page cache
//! survives), restart on it, and lose power after the restart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use checkpoint_journal::storage::sim::{CrashPolicy, SimOp, SimOpKind, SimRng, SimStorage};

use super::check::{check_image, check_restart, in_journal_dir, Case, Checked};
use super::history::{History, Snapshot};

/// Checks in flight at once, bounding the memory images take.
const QUEUE_LEN: usize = 16;
/// One image in this many is also crashed a second time after recovery.
const DOUBLE_EVERY: u64 = 8;
/// With restarts on, one point in this many restarts (besides every point inside a
/// segment creation).
const RESTART_EVERY: u64 = 8;

struct Job {
    image: SimStorage,
    snap: Arc<Snapshot>,
    label: String,
    check: Check,
}

#[derive(Clone, Copy, Debug)]
enum Check {
    /// A power-loss image, crashed a second time after recovery if `double`.
    PowerLoss { double: bool },
    /// A process-crash image: restart, then lose power.
    Restart,
}

/// Counters and failures, shared by every workload of a run.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) points: AtomicU64,
    pub(crate) images: AtomicU64,
    pub(crate) doubles: AtomicU64,
    pub(crate) restarts: AtomicU64,
    /// Images by [`Case`], in the order of [`Case::ALL`].
    cases: [AtomicU64; 4],
    violations: Mutex<Vec<String>>,
}

impl Stats {
    pub(crate) fn violations(&self) -> Vec<String> {
        self.violations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self, checked: Checked) {
        if checked.twice {
            self.doubles.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(at) = Case::ALL.iter().position(|c| *c == checked.case) {
            self.cases[at].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Images checked per recovery outcome.
    pub(crate) fn cases(&self) -> String {
        let counts = Case::ALL.iter().zip(&self.cases);
        let parts: Vec<String> = counts
            .map(|(case, n)| format!("{case:?} {}", n.load(Ordering::Relaxed)))
            .collect();
        parts.join(", ")
    }

    pub(crate) fn report(&self, violation: String) {
        eprintln!("VIOLATION: {violation}");
        self.violations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(violation);
    }
}

/// The verifier pool.
pub(crate) struct Pool {
    jobs: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
    restarts: bool,
    pub(crate) stats: Arc<Stats>,
}

impl Pool {
    /// `threads` verifiers; with `restarts`, points also check a restart after a process
    /// crash followed by a power loss.
    pub(crate) fn new(threads: usize, restarts: bool) -> Pool {
        let (tx, rx) = sync_channel::<Job>(QUEUE_LEN);
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(Stats::default());
        let threads = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&rx);
                let stats = Arc::clone(&stats);
                std::thread::spawn(move || verify_loop(&rx, &stats))
            })
            .collect();
        Pool {
            jobs: Some(tx),
            threads,
            restarts,
            stats,
        }
    }

    /// An explorer for one workload.
    pub(crate) fn explorer(&self, label: String, seed: u64, history: Arc<History>) -> Explorer {
        Explorer {
            jobs: self.jobs.clone().expect("pool is open"),
            stats: Arc::clone(&self.stats),
            label,
            seeds: AtomicU64::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            history,
            restarts: self.restarts,
        }
    }

    /// Waits for every queued check.
    pub(crate) fn finish(mut self) -> Arc<Stats> {
        self.jobs.take();
        for thread in self.threads.drain(..) {
            thread.join().expect("a verifier panicked");
        }
        Arc::clone(&self.stats)
    }
}

fn verify_loop(rx: &Mutex<Receiver<Job>>, stats: &Stats) {
    loop {
        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else { return };
        let outcome = match job.check {
            Check::PowerLoss { double } => {
                check_image(&job.image, &job.snap, double).map(|c| stats.count(c))
            }
            Check::Restart => check_restart(&job.image, &job.snap).map(|()| {
                stats.restarts.fetch_add(1, Ordering::Relaxed);
            }),
        };
        if let Err(why) = outcome {
            stats.report(format!("{}: {why}", job.label));
        }
    }
}

/// Takes image points for one workload.
pub(crate) struct Explorer {
    jobs: SyncSender<Job>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) label: String,
    seeds: AtomicU64,
    pub(crate) history: Arc<History>,
    restarts: bool,
}

impl Explorer {
    /// Crash images of `sim` now, one per policy, queued for checking; `creating`: the
    /// point falls inside a segment creation.
    pub(crate) fn point(&self, sim: &SimStorage, at: &str, creating: bool) {
        let promised = self.history.promised();
        let mut rng = SimRng::new(self.seeds.fetch_add(1, Ordering::Relaxed));
        let policies = [
            CrashPolicy::NONE,
            CrashPolicy::ALL,
            CrashPolicy::random(rng.next_u64()),
            CrashPolicy::random(rng.next_u64()).with_torn_page(rng.next_u64()),
            CrashPolicy::NONE.with_torn_page(rng.next_u64()),
        ];
        // One image per distinct outcome: with no dirty page, all five are one image.
        let images = sim.crash_images(&policies);
        let restart = (self.restarts && (creating || rng.chance(1, RESTART_EVERY)))
            .then(|| sim.process_crash_image());
        let snap = Arc::new(self.history.snapshot(promised));
        let point = self.stats.points.fetch_add(1, Ordering::Relaxed);
        let label = |what: String| format!("{} at {at} (point {point}), {what}", self.label);
        for (policy, image) in images {
            let n = self.stats.images.fetch_add(1, Ordering::Relaxed);
            let check = Check::PowerLoss {
                double: n.is_multiple_of(DOUBLE_EVERY),
            };
            self.send(image, &snap, label(format!("policy {policy:?}")), check);
        }
        if let Some(image) = restart {
            let what = "process crash, restart, power loss".to_owned();
            self.send(image, &snap, label(what), Check::Restart);
        }
    }

    fn send(&self, image: SimStorage, snap: &Arc<Snapshot>, label: String, check: Check) {
        let job = Job {
            image,
            snap: Arc::clone(snap),
            label,
            check,
        };
        self.jobs.send(job).expect("verifiers are running");
    }

    /// The after-operation hook: a point after every operation that changes the disk.
    pub(crate) fn on_op(&self, sim: &SimStorage, op: &SimOp) {
        if op.kind.changes_disk() && in_journal_dir(&op.path) {
            let creating = match op.kind {
                SimOpKind::CreateMapped => true,
                SimOpKind::SyncRange { offset, .. } => offset == 0,
                _ => false,
            };
            self.point(sim, &format!("op {} {:?}", op.index, op.kind), creating);
        }
    }
}
