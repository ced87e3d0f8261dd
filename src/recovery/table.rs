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
pub(crate) struct Evidence {
    pub(crate) below: bool,
    pub(crate) valid_after: bool,
    pub(crate) zero_after: bool,
}

/// The decision table's rows: `(below, valid_after, zero_after)` patterns, `None` = any.
pub(crate) type Row = (Option<bool>, Option<bool>, Option<bool>, RecoveryCase);

/// The decision table's rows, in the order of the table above.
pub(crate) const ROWS: [Row; 4] = [
    (Some(true), None, None, RecoveryCase::DurableDamage),
    (Some(false), Some(true), None, RecoveryCase::UnsyncedGap),
    (Some(false), Some(false), Some(true), RecoveryCase::CleanEnd),
    (
        Some(false),
        Some(false),
        Some(false),
        RecoveryCase::TornTail,
    ),
];

/// Classifies evidence by the first matching row of [`ROWS`].
pub(crate) fn classify(e: Evidence) -> RecoveryCase {
    let fits = |p: Option<bool>, v: bool| p.is_none_or(|p| p == v);
    ROWS.iter()
        .find(|(b, v, z, _)| fits(*b, e.below) && fits(*v, e.valid_after) && fits(*z, e.zero_after))
        .map_or(RecoveryCase::DurableDamage, |row| row.3)
}

/// The action columns of the decision table.
pub(crate) fn action(case: RecoveryCase, mode: RecoveryMode) -> Action {
    match (case, mode) {
        (RecoveryCase::CleanEnd, _) => Action::Accept,
        (_, RecoveryMode::Salvage) => Action::Truncate,
        (RecoveryCase::DurableDamage, _) | (_, RecoveryMode::Strict) => Action::Fail,
        (RecoveryCase::UnsyncedGap | RecoveryCase::TornTail, _) => Action::Truncate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_table_is_exhaustive_and_rows_do_not_overlap() {
        for bits in 0..8u8 {
            let e = Evidence {
                below: bits & 1 != 0,
                valid_after: bits & 2 != 0,
                zero_after: bits & 4 != 0,
            };
            let fits = |p: Option<bool>, v: bool| p.is_none_or(|p| p == v);
            let matching: Vec<_> = ROWS
                .iter()
                .filter(|(b, v, z, _)| {
                    fits(*b, e.below) && fits(*v, e.valid_after) && fits(*z, e.zero_after)
                })
                .collect();
            assert_eq!(
                matching.len(),
                1,
                "evidence {e:?} matches {} rows",
                matching.len()
            );
            assert_eq!(classify(e), matching[0].3);
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
