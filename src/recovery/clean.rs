//! The clean-shutdown claim (`journal.clean`, layout in `format::clean_file` and
//! docs/FORMAT.md): a clean `close` records, once every frame is durable, where the
//! frames end. The next open, when its own scan stops exactly there, takes the end as a
//! clean one without reading the rest of the last segment, and once its recovery has
//! succeeded removes the file durably, before anything can be appended (a failed open
//! changes no file). See docs/DURABILITY.md "Clean shutdown".
//!
//! | at open | outcome |
//! |---|---|
//! | no file, or a dry run (`inspect`, `cpj verify`) | the look-ahead and decision table as always |
//! | a file that does not decode, or `Strict` / `Salvage` mode | the look-ahead as always; removed |
//! | a valid file whose journal id, end LSN or segment (base, creation time) differs from what the scan found, or whose end is not an unwritten publication word | the look-ahead as always; removed |
//! | a valid file that matches | `CleanEnd` at its end, no look-ahead, no msync of the recovered prefix; removed |

use super::{Ctx, RecoveryReport};
use crate::append::Log;
use crate::error::{Error, Result};
use crate::format::clean_file::{CleanShutdown, CLEAN_FILE_BYTES};
use crate::format::frame::FrameFault;
use crate::lsn::Lsn;
use crate::options::RecoveryMode;
use crate::segment::Segment;
use crate::sync::{lock, Arc};

/// Name of the clean-shutdown file in the journal directory.
pub(crate) const CLEAN_FILE_NAME: &str = "journal.clean";

/// The clean-shutdown file open found: the claim it may use, and whether a file is
/// there to remove once recovery has succeeded.
#[derive(Debug, Default)]
pub(super) struct Taken {
    claim: Option<CleanShutdown>,
    found: bool,
}

/// Reads the clean-shutdown file (a dry run does not). It stays until
/// [`Taken::remove`]: a failed open changes no file.
///
/// # Errors
/// The failed read, naming the file.
pub(super) fn take(ctx: &Ctx<'_>, report: &mut RecoveryReport) -> Result<Taken> {
    if !ctx.apply {
        return Ok(Taken::default());
    }
    let path = ctx.dir.join(CLEAN_FILE_NAME);
    let bytes = ctx
        .storage
        .read_small_file(&path, CLEAN_FILE_BYTES)
        .map_err(|e| Error::io(&path, "read clean-shutdown file", e))?;
    let Some(bytes) = bytes else {
        return Ok(Taken::default());
    };
    let claim = match CleanShutdown::decode(&bytes) {
        Ok(claim) => Some(claim),
        Err(fault) => {
            tracing::warn!(path = %path.display(), %fault, "ignoring a clean-shutdown file that does not decode");
            report.clean_shutdown_ignored = Some(format!("does not decode: {fault}"));
            None
        }
    };
    Ok(Taken {
        claim: claim.filter(|_| ctx.mode == RecoveryMode::TolerateTornTail),
        found: true,
    })
}

impl Taken {
    /// Removes the file durably (directory fsync included): called once recovery has
    /// succeeded and before the journal is handed out, so nothing is ever appended
    /// while it exists.
    ///
    /// # Errors
    /// The failed removal, naming the file.
    pub(super) fn remove(&self, ctx: &Ctx<'_>) -> Result<()> {
        if !self.found {
            return Ok(());
        }
        let path = ctx.dir.join(CLEAN_FILE_NAME);
        ctx.storage
            .remove_small_file(&path)
            .map_err(|e| Error::io(&path, "remove clean-shutdown file", e))
    }

    /// Whether the claim says the journal `journal_id` ended cleanly at `pos`, where the
    /// scan found its first invalid frame with `fault`. A claim that does not match is
    /// reported in `report.clean_shutdown_ignored`.
    pub(super) fn holds(
        &self,
        journal_id: u128,
        segments: &[Arc<Segment>],
        pos: u64,
        fault: FrameFault,
        report: &mut RecoveryReport,
    ) -> bool {
        let Some(claim) = self.claim else {
            return false;
        };
        let segment_matches = segments.iter().any(|s| {
            s.base() == claim.segment_base
                && s.header.created_at_ms == claim.segment_created_at_ms
                && s.base() < pos
                && pos <= s.end()
        });
        let holds = fault == FrameFault::Unwritten
            && claim.journal_id == journal_id
            && claim.end_lsn == pos
            && segment_matches;
        if !holds {
            report.clean_shutdown_ignored = Some(format!(
                "claims the end at LSN {} (segment {:#x}), the scan stopped at LSN {pos} ({fault:?})",
                claim.end_lsn, claim.segment_base
            ));
        }
        holds
    }
}

/// Records a clean shutdown at `end`: only when every reservation is published and
/// durable up to `end` and the journal is not poisoned. A failure to write the file
/// leaves it absent or whole (it is replaced atomically), so it is only logged: the
/// next open then reads the tail as after a crash.
pub(crate) fn record(log: &Log, end: Lsn) {
    let settled = log.frontier.check_poison().is_ok()
        && log.frontier.durable() == end
        && log.frontier.published() == end.0
        && log.reserved_end() == end;
    let segment = end
        .0
        .checked_sub(1)
        .and_then(|last| lock(&log.segments).find(last).map(Arc::clone));
    let Some(segment) = segment.filter(|_| settled) else {
        return;
    };
    let claim = CleanShutdown {
        journal_id: log.journal_id,
        end_lsn: end.0,
        segment_base: segment.base(),
        segment_created_at_ms: segment.header.created_at_ms,
    };
    let path = log.dir.join(CLEAN_FILE_NAME);
    if let Err(e) = log.storage.replace_small_file(&path, &claim.encode()) {
        tracing::warn!(path = %path.display(), error = %e, "could not record the clean shutdown");
    }
}
