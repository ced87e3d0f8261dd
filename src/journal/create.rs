//! Creating a new journal: its random identity and its first segment.

use std::path::Path;

use crate::error::Result;
use crate::options::Options;
use crate::recovery::RecoveryReport;
use crate::segment::Segment;
use crate::state::State;
use crate::storage::Storage;
use crate::sync::Arc;

/// Creates the first segment of a new journal.
pub(super) fn create(
    storage: &dyn Storage,
    dir: &Path,
    options: &Options,
) -> Result<(u128, Vec<Arc<Segment>>, State, RecoveryReport)> {
    let journal_id = random_id();
    let seg = Segment::create(storage, dir, journal_id, 0, options.segment_size_bytes)?;
    tracing::info!(dir = %dir.display(), journal_id = %format_args!("{journal_id:032x}"), "created a new journal");
    let report = RecoveryReport {
        created: true,
        ..RecoveryReport::default()
    };
    Ok((journal_id, vec![Arc::new(seg)], State::default(), report))
}

/// 128 random bits from the OS-seeded hasher, the clock and the process id, never 0
/// (journal ids, and the archiver's writer ids).
pub(crate) fn random_id() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut out = 0u128;
    for round in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(round);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        out = out << 64 | u128::from(h.finish());
    }
    out.max(1)
}
