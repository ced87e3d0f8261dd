//! Crash-image policies: which dirty pages reach the disk before the power goes, and
//! whether one page write is torn. Deterministic from the storage seed and the policy.
//!
//! A power loss keeps every durable byte, plus whatever subset of the dirty pages the
//! kernel had started writing back; a page being written when the power went may be
//! torn at a sector boundary (a prefix of its 512-byte sectors new, the rest old).

use std::collections::BTreeMap;

use super::file::{PageFate, SimFile, PAGE_WORDS, SECTOR_WORDS};

/// Which dirty pages reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirtyPages {
    /// None: only what was synced survives.
    None,
    /// All of them: as a process crash followed by a clean shutdown of the kernel.
    All,
    /// A random subset (each page with one probability drawn per image from ¼, ½, ¾).
    Random {
        /// Chooses the subset.
        seed: u64,
    },
}

/// How a crash image is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashPolicy {
    /// Which dirty pages reach the disk whole.
    pub dirty: DirtyPages,
    /// Tears one dirty page (chosen by this seed among those not written whole, else
    /// among all): a prefix of 1 to 7 of its sectors is new, the rest is durable.
    pub torn: Option<u64>,
}

impl CrashPolicy {
    /// Durable bytes only.
    pub const NONE: CrashPolicy = CrashPolicy {
        dirty: DirtyPages::None,
        torn: None,
    };
    /// Durable bytes and every dirty page.
    pub const ALL: CrashPolicy = CrashPolicy {
        dirty: DirtyPages::All,
        torn: None,
    };

    /// Durable bytes and a random subset of the dirty pages.
    #[must_use]
    pub const fn random(seed: u64) -> CrashPolicy {
        CrashPolicy {
            dirty: DirtyPages::Random { seed },
            torn: None,
        }
    }

    /// This policy with one torn page chosen by `seed`.
    #[must_use]
    pub const fn with_torn_page(self, seed: u64) -> CrashPolicy {
        CrashPolicy {
            dirty: self.dirty,
            torn: Some(seed),
        }
    }
}

/// `SplitMix64`: a small, seedable generator (Steele, Lea and Flood, 2014).
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    /// A generator whose sequence depends only on `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> SimRng {
        SimRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        self.next_u64() % n
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

/// The fate of one file's dirty pages in an image (pages not named keep durable bytes).
pub(super) type Plan = BTreeMap<usize, PageFate>;

/// The fate of each file's dirty pages (`dirty`, one list per file) under `policy`;
/// `seed` is the storage's.
pub(super) fn plan(dirty: &[Vec<usize>], policy: CrashPolicy, seed: u64) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::with_capacity(dirty.len());
    let mut left_out = Vec::new();
    let mut rng = dirty_rng(policy.dirty, seed);
    let quarters = 1 + rng.below(3);
    for (file_at, pages) in dirty.iter().enumerate() {
        let mut fates = BTreeMap::new();
        for page in pages.iter().copied() {
            let written = match policy.dirty {
                DirtyPages::None => false,
                DirtyPages::All => true,
                DirtyPages::Random { .. } => rng.chance(quarters, 4),
            };
            if written {
                fates.insert(page, PageFate::Written);
            } else {
                left_out.push((file_at, page));
            }
        }
        plans.push(fates);
    }
    if let Some(torn_seed) = policy.torn {
        tear_one(&mut plans, &left_out, torn_seed ^ seed);
    }
    plans
}

/// Rebuilds one file for an image from its plan.
pub(super) fn build(file: &SimFile, fates: &Plan) -> Vec<u64> {
    debug_assert!(fates.keys().all(|page| *page < file.len_pages()));
    file.image(&|page| fates.get(&page).copied())
}

/// Mixes a policy seed with the storage seed, so equal policies differ across storages.
pub(super) fn mix(storage_seed: u64, seed: u64) -> u64 {
    SimRng::new(storage_seed ^ seed.rotate_left(32)).next_u64()
}

fn dirty_rng(dirty: DirtyPages, seed: u64) -> SimRng {
    match dirty {
        DirtyPages::Random { seed: own } => SimRng::new(mix(seed, own)),
        DirtyPages::None | DirtyPages::All => SimRng::new(seed),
    }
}

/// Tears one page: among those left out when there are any, else among those written.
fn tear_one(plans: &mut [Plan], left_out: &[(usize, usize)], seed: u64) {
    let mut rng = SimRng::new(seed);
    let sectors =
        1 + usize::try_from(rng.below((PAGE_WORDS / SECTOR_WORDS - 1) as u64)).unwrap_or(0);
    let candidate = if left_out.is_empty() {
        let written: Vec<(usize, usize)> = plans
            .iter()
            .enumerate()
            .flat_map(|(file_at, fates)| fates.keys().map(move |page| (file_at, *page)))
            .collect();
        pick(&written, &mut rng)
    } else {
        pick(left_out, &mut rng)
    };
    if let Some((file_at, page)) = candidate {
        if let Some(fates) = plans.get_mut(file_at) {
            fates.insert(page, PageFate::Torn { sectors });
        }
    }
}

fn pick(pages: &[(usize, usize)], rng: &mut SimRng) -> Option<(usize, usize)> {
    let at = usize::try_from(rng.below(pages.len() as u64)).ok()?;
    pages.get(at).copied()
}
