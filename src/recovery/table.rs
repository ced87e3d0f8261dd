//! Recovery's decision table (STYLE R20, docs/FORMAT.md "Recovery"): what the first
//! invalid frame means, from the evidence gathered after it, and what each recovery
//! mode does about it. A test checks the rows are exhaustive and disjoint.

use serde::Serialize;

use crate::options::RecoveryMode;

/// Which row of the decision table ended the scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RecoveryCase {
    /// R1: an invalid frame below a durable claim: acknowledged data is damaged.
    DurableDamage,
    /// R2: invalid bytes after every durable claim with valid frames after them: a write
    /// that never completed while later ones reached the disk.
    UnsyncedGap,
    /// R3: the scan ended at never-written space.
    CleanEnd,
    /// R4: invalid, non-zero bytes after every durable claim and nothing valid after:
    /// a torn write.
    TornTail,
    /// R5: as R4, but the bytes at the first invalid frame are a frame that validates at
    /// the LSN the recycled segment's file had before (its `previous_base_lsn`): provably
    /// a frame of the file's previous life, never written at this LSN. A recycled
    /// file's data is zeroed before reuse, so this is only seen if the zeroes were lost.
    StaleEnd,
}

/// What recovery does about a case in a mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Accept,
    Truncate,
    Fail,
}

/// Evidence about the first invalid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "the decision table's columns: independent observations"
)]
pub(crate) struct Evidence {
    pub(crate) below: bool,
    pub(crate) valid_after: bool,
    pub(crate) zero_after: bool,
    /// The bytes there validate as a frame at the recycled file's previous LSN.
    pub(crate) stale: bool,
}

/// The decision table's rows: `(below, valid_after, zero_after, stale)` patterns,
/// `None` = any.
pub(crate) type Row = (
    Option<bool>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
    RecoveryCase,
);

/// The decision table's rows, in the order of the table above.
pub(crate) const ROWS: [Row; 5] = [
    (Some(true), None, None, None, RecoveryCase::DurableDamage),
    (
        Some(false),
        Some(true),
        None,
        None,
        RecoveryCase::UnsyncedGap,
    ),
    (
        Some(false),
        Some(false),
        Some(true),
        None,
        RecoveryCase::CleanEnd,
    ),
    (
        Some(false),
        Some(false),
        Some(false),
        Some(false),
        RecoveryCase::TornTail,
    ),
    (
        Some(false),
        Some(false),
        Some(false),
        Some(true),
        RecoveryCase::StaleEnd,
    ),
];

/// Whether `e` matches `row`.
fn fits(row: Row, e: Evidence) -> bool {
    let one = |p: Option<bool>, v: bool| p.is_none_or(|p| p == v);
    one(row.0, e.below)
        && one(row.1, e.valid_after)
        && one(row.2, e.zero_after)
        && one(row.3, e.stale)
}

/// Classifies evidence by the first matching row of [`ROWS`].
pub(crate) fn classify(e: Evidence) -> RecoveryCase {
    ROWS.iter()
        .find(|row| fits(**row, e))
        .map_or(RecoveryCase::DurableDamage, |row| row.4)
}

/// The action columns of the decision table.
pub(crate) fn action(case: RecoveryCase, mode: RecoveryMode) -> Action {
    match (case, mode) {
        (RecoveryCase::CleanEnd, _) => Action::Accept,
        // The stale bytes are zeroed (appends rely on zero words after the end), in
        // every mode: nothing written at these LSNs is dropped.
        (RecoveryCase::StaleEnd, _) | (_, RecoveryMode::Salvage) => Action::Truncate,
        (RecoveryCase::DurableDamage, _) | (_, RecoveryMode::Strict) => Action::Fail,
        (RecoveryCase::UnsyncedGap | RecoveryCase::TornTail, _) => Action::Truncate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_table_is_exhaustive_and_rows_do_not_overlap() {
        for bits in 0..16u8 {
            let e = Evidence {
                below: bits & 1 != 0,
                valid_after: bits & 2 != 0,
                zero_after: bits & 4 != 0,
                stale: bits & 8 != 0,
            };
            let matching: Vec<_> = ROWS.iter().filter(|row| fits(**row, e)).collect();
            assert_eq!(
                matching.len(),
                1,
                "evidence {e:?} matches {} rows",
                matching.len()
            );
            assert_eq!(classify(e), matching[0].4);
        }
    }

    #[test]
    fn stale_bytes_are_a_stale_end_only_above_every_claim_with_nothing_valid_after() {
        let e = |below, valid_after| Evidence {
            below,
            valid_after,
            zero_after: false,
            stale: true,
        };
        assert_eq!(classify(e(false, false)), RecoveryCase::StaleEnd);
        assert_eq!(classify(e(true, false)), RecoveryCase::DurableDamage);
        assert_eq!(classify(e(false, true)), RecoveryCase::UnsyncedGap);
        for mode in [
            RecoveryMode::Strict,
            RecoveryMode::TolerateTornTail,
            RecoveryMode::Salvage,
        ] {
            assert_eq!(action(RecoveryCase::StaleEnd, mode), Action::Truncate);
        }
    }

    #[test]
    fn durable_damage_is_never_truncated_silently() {
        assert_eq!(
            action(RecoveryCase::DurableDamage, RecoveryMode::TolerateTornTail),
            Action::Fail
        );
        assert_eq!(
            action(RecoveryCase::DurableDamage, RecoveryMode::Strict),
            Action::Fail
        );
        assert_eq!(
            action(RecoveryCase::DurableDamage, RecoveryMode::Salvage),
            Action::Truncate
        );
        assert_eq!(
            action(RecoveryCase::TornTail, RecoveryMode::Strict),
            Action::Fail
        );
        assert_eq!(
            action(RecoveryCase::TornTail, RecoveryMode::TolerateTornTail),
            Action::Truncate
        );
        assert_eq!(
            action(RecoveryCase::CleanEnd, RecoveryMode::Strict),
            Action::Accept
        );
    }
}
