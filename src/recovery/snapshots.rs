//! Where replay starts: the newest snapshot that validates and whose later segments all
//! exist, else an older one (each skipped snapshot is reported with its reason), else
//! LSN 0 if the journal still holds its whole history; otherwise an error that names
//! what is missing — never a silent replay from a wrong point. Also removes the
//! temporary files of a snapshot publication that never finished.
//!
//! | snapshot (newest first)            | first segment base `B`, last segment end `E` | outcome |
//! |------------------------------------|----------------------------------------------|---------|
//! | validates, `B ≤ lsn ≤ E`           | any                                          | start at `lsn` from its state |
//! | validates, `lsn < B`               | segments after it were retired               | skip, reported |
//! | validates, `lsn > E`               | segments holding it are missing              | skip, reported |
//! | fails validation                   | any                                          | skip, reported |
//! | none left                          | `B = 0`                                      | replay from 0 |
//! | none left                          | `B > 0`                                      | `Error::SnapshotMissing` |

use std::path::PathBuf;

use serde::Serialize;

use super::{Ctx, RecoveryReport};
use crate::error::{Error, Result};
use crate::lsn::Lsn;
use crate::segment::Segment;
use crate::snapshot;
use crate::state::State;
use crate::sync::Arc;

/// The snapshot open started from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    /// The file.
    pub path: PathBuf,
    /// Every frame below this LSN came from the snapshot; replay started here.
    pub lsn: Lsn,
    /// When it was written, Unix milliseconds.
    pub created_at_ms: u64,
}

/// A snapshot open did not use, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedSnapshot {
    /// The file.
    pub path: PathBuf,
    /// The LSN its name carries.
    pub lsn: Lsn,
    /// Why it was not used (damage, another journal, segments after it missing, …).
    pub reason: String,
}

/// Where replay starts and the state up to there.
pub(super) struct Start {
    pub(super) from: u64,
    pub(super) state: State,
}

/// Chooses the starting snapshot for `segments` (not empty, contiguous), removing
/// leftover temporary files when `ctx.apply`; records both in `report`.
pub(super) fn choose(
    ctx: &Ctx<'_>,
    segments: &[Arc<Segment>],
    report: &mut RecoveryReport,
) -> Result<Start> {
    let listing = snapshot::list(ctx.storage, ctx.dir)?;
    remove_temps(ctx, &listing.temps, report)?;
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return Ok(Start {
            from: 0,
            state: State::default(),
        });
    };
    let (base, end, id) = (first.base(), last.end(), first.header.journal_id);
    for (lsn, path) in &listing.snapshots {
        let lsn = *lsn;
        let rejected = if lsn < base {
            Err(format!(
                "the segments after it were retired (the journal now starts at LSN {base})"
            ))
        } else if lsn > end {
            Err(format!(
                "the segments holding LSN {lsn} are missing (the last segment ends at {end})"
            ))
        } else {
            snapshot::read(ctx.storage, path, lsn, id)
        };
        match rejected {
            Ok((header, state)) => {
                report.snapshot = Some(SnapshotInfo {
                    path: path.clone(),
                    lsn: Lsn(lsn),
                    created_at_ms: header.created_at_ms,
                });
                return Ok(Start { from: lsn, state });
            }
            Err(reason) => skip(report, path, lsn, reason),
        }
    }
    if base == 0 {
        return Ok(Start {
            from: 0,
            state: State::default(),
        });
    }
    Err(Error::SnapshotMissing {
        dir: ctx.dir.to_owned(),
        first_lsn: Lsn(base),
        tried: report
            .snapshots_skipped
            .iter()
            .map(|s| format!("{}: {}", s.path.display(), s.reason))
            .collect(),
    })
}

/// Refuses a directory that holds snapshots but no segment: creating a new journal
/// there would silently drop the history the snapshots describe.
pub(super) fn refuse_orphans(ctx: &Ctx<'_>) -> Result<()> {
    let listing = snapshot::list(ctx.storage, ctx.dir)?;
    match listing.snapshots.first() {
        None => Ok(()),
        Some((lsn, path)) => Err(Error::SnapshotMissing {
            dir: ctx.dir.to_owned(),
            first_lsn: Lsn(*lsn),
            tried: vec![format!(
                "{}: no segment file is left for the frames after it",
                path.display()
            )],
        }),
    }
}

fn skip(report: &mut RecoveryReport, path: &std::path::Path, lsn: u64, reason: String) {
    tracing::warn!(path = %path.display(), reason, "skipping a snapshot");
    report.snapshots_skipped.push(SkippedSnapshot {
        path: path.to_owned(),
        lsn: Lsn(lsn),
        reason,
    });
}

fn remove_temps(ctx: &Ctx<'_>, temps: &[PathBuf], report: &mut RecoveryReport) -> Result<()> {
    for path in temps {
        if ctx.apply {
            tracing::info!(path = %path.display(), "removing a snapshot that was never published");
            ctx.storage
                .remove_file(path)
                .map_err(|e| Error::io(path, "remove snapshot temporary file", e))?;
        }
        report.temp_files_removed.push(path.clone());
    }
    if ctx.apply && !temps.is_empty() {
        ctx.storage
            .sync_dir(ctx.dir)
            .map_err(|e| Error::io(ctx.dir, "fsync directory", e))?;
    }
    Ok(())
}
